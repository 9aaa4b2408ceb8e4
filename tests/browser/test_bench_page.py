"""bench/page.py measures what it says on a 5,000-seat map: every run gives a sample, the
seats it held were greyed and given back. Its figures are the bench's to report, not checked."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bench.page import measure
from tests.browser.data import arena, mapped_event


async def test_the_page_bench_measures_a_5000_seat_map(
    browser: Any, site: Any, engine: Any, new_buyer: Any
) -> None:
    event = mapped_event(engine, arena())
    result = await measure(site.url, event.id, new_buyer().token, runs=2, browser=browser)
    assert result["seats"] == 5100
    assert result["map_drawn"]["n"] == 2 and result["map_drawn"]["p50_ms"] > 0
    assert result["hold_greyed"]["n"] == 2 and result["hold_greyed"]["p99_ms"] > 0
    # The bench cancelled its holds: every seat comes back on sale.
    query = {
        "query": "query($e: ID!) { event(id: $e) { availableSeats } }",
        "variables": {"e": event.id},
    }
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        for _ in range(150):
            answer = (await client.post("/graphql", json=query)).json()
            if answer["data"]["event"]["availableSeats"] == 5100:
                break
            await asyncio.sleep(0.2)
    assert answer["data"]["event"]["availableSeats"] == 5100
