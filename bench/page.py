"""The buyer's page's own speed, in headless Chromium (Debian's /usr/bin/chromium):

- ``map_drawn``: from navigation to the whole seat map drawn (the page's ``seatmap-drawn``
  performance mark, set once every seat's <rect> is in the document), on a fresh page each time;
- ``hold_greyed``: from another buyer's hold sent (startCheckout over HTTP) to the seat turning
  grey on an open page, through seatMapChanges; the hold is cancelled after each sample.

Run against a running stack (``make dev``, the demo's 5,100-seat flash-sale event and its
buyer bob)::

    python -m bench.page [--url http://127.0.0.1:8000] [--runs 20]

Both clocks are the same machine's: the hold's send time is the bench's wall clock, the seat's
change the page's ``Date.now()``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.stats import summary_ms

CHROMIUM = Path("/usr/bin/chromium")
DEMO_PASSWORD = "demo-password-1"

LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }"
MAP = "query($e: ID!) { seatMap(eventId: $e) { seats { id status } } }"
START = """mutation($e: ID!, $s: [ID!]!) {
  startCheckout(eventId: $e, seatIds: $s) { success message checkout { id } } }"""
CANCEL = "mutation($c: ID!) { cancelCheckout(checkoutId: $c) { success } }"

# Resolves with Date.now() when the seat's class shows it held (the page's live update).
WAIT_HELD = """(id) => new Promise((resolve) => {
  const seat = document.querySelector(`[data-id="${id}"]`);
  const held = () => seat.classList.contains('st-HELD');
  if (held()) { resolve(Date.now()); return; }
  new MutationObserver((_, observer) => {
    if (held()) { observer.disconnect(); resolve(Date.now()); }
  }).observe(seat, { attributes: true, attributeFilter: ['class'] });
})"""
DRAWN = "() => performance.getEntriesByName('seatmap-drawn')[0].startTime"


async def _gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str = ""
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"query": query, "variables": variables}
    response = await client.post("/graphql", json=body, headers=headers)
    answer = response.json()
    if answer.get("errors"):
        raise RuntimeError(answer["errors"])
    return answer["data"]  # type: ignore[no-any-return]


READY = "() => performance.getEntriesByName('seatmap-drawn').length > 0"


async def _open(context: Any, url: str) -> Any:
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_function(READY, timeout=120_000)
    return page


async def measure(url: str, event_id: str, token: str, runs: int, browser: Any) -> dict[str, Any]:
    """Both figures for one event; ``token`` is the other buyer's, who holds the seats."""
    page_url = f"{url}/events/{event_id}"
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        drawn: list[float] = []
        for _ in range(runs):
            page = await _open(context, page_url)  # a new page: nothing cached in memory
            drawn.append(await page.evaluate(DRAWN))
            await page.close()

        page = await _open(context, page_url)
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            seats = (await _gql(client, MAP, {"e": event_id}))["seatMap"]["seats"]
            free = [s["id"] for s in seats if s["status"] == "AVAILABLE"][-runs:]
            greyed: list[float] = []
            for seat_id in free:
                waiting = asyncio.ensure_future(page.evaluate(WAIT_HELD, seat_id))
                await asyncio.sleep(0.05)  # the observer is in place before the hold is sent
                sent = time.time() * 1000
                start = await _gql(client, START, {"e": event_id, "s": [seat_id]}, token)
                started = start["startCheckout"]
                if not started["success"]:  # someone else's seat by now: no sample
                    waiting.cancel()
                    continue
                greyed.append(await asyncio.wait_for(waiting, 60) - sent)
                await _gql(client, CANCEL, {"c": started["checkout"]["id"]}, token)
    finally:
        await context.close()
    return {"map_drawn": summary_ms(drawn), "hold_greyed": summary_ms(greyed), "seats": len(seats)}


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    from devstack.seed import FLASH_SALE_EVENT, demo_id

    async with httpx.AsyncClient(base_url=args.url, timeout=30) as client:
        login = await _gql(client, LOGIN, {"e": args.buyer, "p": DEMO_PASSWORD})
    event_id = args.event or str(demo_id("event", FLASH_SALE_EVENT))
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            return await measure(args.url, event_id, login["login"]["token"], args.runs, browser)
        finally:
            await browser.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.page", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--runs", type=int, default=20, help="samples of each figure")
    parser.add_argument("--event", help="event id (default: the demo's flash-sale event)")
    parser.add_argument("--buyer", default="bob@example.com", help="the buyer who holds seats")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"bench.page: no {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    print(json.dumps(asyncio.run(_main(args)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
