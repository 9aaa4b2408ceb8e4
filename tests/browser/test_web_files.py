"""How api/web.py serves the page (no browser needed): the document on every page path with
its CSP, the modules with their types, nothing outside api/web/."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from api.app import create_app
from config.settings import Settings


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(environment="development", _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings, configure_logs=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://page") as c:
        yield c


@pytest.mark.parametrize("path", ["/", "/events/abc", "/tickets", "/signin", "/checkin"])
async def test_every_page_path_answers_the_document(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/web/app.js">' in response.text
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp


async def test_modules_and_styles_are_served_with_their_types(client: httpx.AsyncClient) -> None:
    js = await client.get("/web/views/seatmap.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "export class SeatMap" in js.text
    css = await client.get("/web/style.css")
    assert css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "path", ["/web/../web.py", "/web/%2e%2e/web.py", "/web/index.html", "/web/nothing.js"]
)
async def test_nothing_else_is_served(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 404
