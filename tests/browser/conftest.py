"""The browser tests' harness: the real app on real uvicorn servers, one worker, and one
headless Chromium (Debian's /usr/bin/chromium, never a downloaded one) for the session.

Two servers share the run's services and worker: one with the ordinary hold, and one whose
holds last SHORT_HOLD_SECONDS, for watching a countdown run out. The hold's length is the
API's setting (it goes into each checkout's workflow input), so the worker serves both.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from temporalio.client import Client

from api.services import Services
from bootstrap import build_services, build_worker
from config.settings import Settings
from tests.api.conftest import PASSWORD, Buyer, free_port, make_app, make_user

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).parent / "screenshots"
SHORT_HOLD_SECONDS = 6
DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}

__all__ = ["PASSWORD", "Buyer"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Without a browser each browser test is skipped under its own name, so `make test`
    (pytest -rs) lists every one of them in its summary: never a silent pass."""
    if CHROMIUM.exists():
        return
    here = Path(__file__).parent
    for item in items:
        uses_browser = "browser" in getattr(item, "fixturenames", ())
        if uses_browser and here in Path(str(item.path)).parents:
            reason = (
                f"{item.nodeid}: browser test skipped, no {CHROMIUM} (apt-get install chromium)"
            )
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser_settings(settings: Settings, dynamodb: Any) -> Settings:
    # Own task queue: other suites' workers run recording fakes on theirs.
    return settings.model_copy(
        update={"task_queue": f"{settings.task_queue}-browser", "rate_limit_enabled": False}
    )


@pytest.fixture(scope="session")
async def browser_services(
    browser_settings: Settings, temporal_client: Client
) -> AsyncIterator[Services]:
    built = build_services(browser_settings, temporal_client)
    yield built
    await built.close()


@pytest.fixture(scope="session")
async def browser_worker(
    browser_settings: Settings, temporal_client: Client
) -> AsyncIterator[None]:
    async with build_worker(browser_settings, temporal_client):
        yield


async def _serve(settings: Settings, services: Services) -> tuple[str, uvicorn.Server, Any]:
    port = free_port()
    app = make_app(settings, services)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, task


@dataclass
class Site:
    url: str  # the ordinary hold
    short_hold_url: str  # holds of SHORT_HOLD_SECONDS


@pytest.fixture(scope="session")
async def site(
    browser_settings: Settings,
    browser_services: Services,
    browser_worker: None,
    temporal_client: Client,
) -> AsyncIterator[Site]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser test: no {CHROMIUM}")
    short_settings = browser_settings.model_copy(update={"hold_seconds": SHORT_HOLD_SECONDS})
    short_services = build_services(short_settings, temporal_client)
    url, server, task = await _serve(browser_settings, browser_services)
    short_url, short_server, short_task = await _serve(short_settings, short_services)
    yield Site(url, short_url)
    for s in (server, short_server):
        s.should_exit = True
    await asyncio.gather(task, short_task)
    await short_services.close()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser test: no {CHROMIUM}")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        await launched.close()


@pytest.fixture
def new_buyer(browser_services: Services) -> Any:
    return lambda *roles: make_user(browser_services, *roles)


class Shots:
    """Screenshots of each step at a desktop's and a phone's size, numbered in order, under
    tests/browser/screenshots/<test>/ (git-ignored): for looking at, not for asserting."""

    def __init__(self, test_name: str) -> None:
        self.folder = SCREENSHOTS / re.sub(r"[^\w-]", "_", test_name)
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0

    async def __call__(self, page: Any, step: str, who: str = "") -> None:
        self.count += 1
        name = f"{self.count:02d}-{who + '-' if who else ''}{step}"
        size = page.viewport_size
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            await page.set_viewport_size(viewport)
            # The phone's whole page: what is below the fold there is still laid out.
            await page.screenshot(
                path=str(self.folder / f"{name}-{label}.png"), full_page=label == "phone"
            )
        await page.set_viewport_size(size)


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Iterator[Shots]:
    yield Shots(request.node.name)


async def signed_in_page(browser: Any, url: str, buyer: Buyer) -> Any:
    """A new browser context already signed in as ``buyer`` (the session the sign-in form
    would have stored), and its page."""
    context = await browser.new_context(viewport=DESKTOP, base_url=url)
    user = {
        "id": buyer.id,
        "email": buyer.email,
        "firstName": "Test",
        "lastName": "User",
        "roles": list(buyer.roles),
    }
    state = json.dumps({"token": buyer.token, "user": user})
    await context.add_init_script(f"localStorage.setItem('tb.session', {json.dumps(state)});")
    return await context.new_page()
