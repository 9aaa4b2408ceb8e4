"""The seat map in a real browser: drawn from seatMap, kept live by seatMapChanges."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from adapters.seatmap_cache import seatmap_channel
from tests.browser.conftest import signed_in_page
from tests.browser.data import arena, mapped_event

# The seat map's staleness bound is 1 s (seatmap_max_staleness_ms); the wait allows for a
# loaded CI machine. A wait, not a measured time: the bench measures it (bench/page.py).
LIVE = 10_000


async def test_another_buyers_hold_greys_the_seat_in_my_map(
    browser: Any, site: Any, engine: Any, new_buyer: Any, shots: Any
) -> None:
    event = mapped_event(engine, arena())
    alice = await signed_in_page(browser, site.url, new_buyer())
    bob = await signed_in_page(browser, site.url, new_buyer())
    script_errors: list[str] = []
    for page in (alice, bob):
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        await page.goto(f"/events/{event.id}")
        await expect(page.locator("svg.seatmap")).to_have_attribute("data-ready", "5100")
    await shots(alice, "map-drawn", "alice")

    name = "FLOOR row A seat 15, VIP, $120.00"
    await expect(alice.get_by_role("button", name=f"{name}, available")).to_have_count(1)
    await expect(bob.get_by_role("button", name=f"{name}, available")).to_have_count(1)

    await alice.get_by_role("button", name=f"{name}, available").click()
    await alice.get_by_role("button", name="Hold seats").click()
    await expect(alice.get_by_role("timer")).to_contain_text("Time left to pay")
    await shots(alice, "held", "alice")

    # Bob never reloads: the seat turns grey (held) from the live subscription.
    seat = bob.locator(f'[data-id="{event.seats["FLOOR row A seat 15"]}"]')
    await expect(seat).to_have_attribute("aria-label", f"{name}, held", timeout=LIVE)
    await expect(seat).to_have_class("seat st-HELD ty-VIP")
    await shots(bob, "sees-alices-hold", "bob")

    # Bob clicks it anyway: it is not his to choose, and the page says why.
    await seat.click()
    await expect(bob.get_by_role("alert")).to_contain_text("FLOOR row A seat 15 is held")

    # Bob chooses seat 16; Alice adds it to her hold first: Bob's page tells him so.
    sixteen = "FLOOR row A seat 16, VIP, $120.00"
    await bob.get_by_role("button", name=f"{sixteen}, available").click()
    await expect(bob.locator("svg.seatmap .seat.selected")).to_have_count(1)
    await alice.get_by_role("button", name=f"{sixteen}, available").click()
    await alice.get_by_role("button", name="Hold seats").click()
    await expect(alice.locator(".hold li")).to_have_count(2)
    await expect(bob.get_by_role("alert")).to_contain_text(
        re.compile("FLOOR row A seat 16: someone else got that seat first", re.I), timeout=LIVE
    )
    await expect(bob.locator("svg.seatmap .seat.selected")).to_have_count(0)
    await shots(bob, "lost-seat-16", "bob")

    # Alice cancels: the seats come back in Bob's map, again without a reload.
    await alice.get_by_role("button", name="Cancel").click()
    await expect(seat).to_have_attribute("aria-label", f"{name}, available", timeout=LIVE)
    assert script_errors == []
    for page in (alice, bob):
        await page.context.close()


async def test_the_map_is_one_tab_stop_and_zooms(
    browser: Any, site: Any, engine: Any, new_buyer: Any, shots: Any
) -> None:
    event = mapped_event(engine, arena())
    page = await signed_in_page(browser, site.url, new_buyer())
    await page.goto(f"/events/{event.id}")
    svg = page.locator("svg.seatmap")
    await expect(svg).to_have_attribute("data-ready", "5100")
    # 5,100 seats, one of them in the Tab order.
    assert await page.locator("svg.seatmap [tabindex='0']").count() == 1
    assert await page.locator("svg.seatmap [role='button']").count() == 5100

    whole = await svg.get_attribute("viewBox")
    await page.get_by_role("button", name="Zoom in").click()
    await expect(svg).not_to_have_attribute("viewBox", whole or "")
    await shots(page, "zoomed-in")
    await page.get_by_role("button", name="Whole venue").click()
    await expect(svg).to_have_attribute("viewBox", whole or "")
    await page.context.close()


async def test_a_map_whose_live_feed_breaks_follows_it_again(
    browser: Any, site: Any, engine: Any, new_buyer: Any, browser_services: Any, shots: Any
) -> None:
    event = mapped_event(engine, arena())
    page = await signed_in_page(browser, site.url, new_buyer())
    await page.goto(f"/events/{event.id}")
    await expect(page.locator("svg.seatmap")).to_have_attribute("data-ready", "5100")

    # The server's feed of the event meets a message it cannot read and ends every page's
    # stream (api/seat_map_feeds.py): the page must follow the map again by itself.
    channel = seatmap_channel(browser_services.settings.redis_prefix, event.id)
    await browser_services.aredis.publish(channel, "not json")

    name = "FLOOR row A seat 15, VIP, $120.00"
    seat = page.locator(f'[data-id="{event.seats["FLOOR row A seat 15"]}"]')
    for _ in range(40):  # until the page follows again and hears a change
        browser_services.seatmap_events.changed(
            event.id, [event.seats["FLOOR row A seat 15"]], "held"
        )
        if await seat.get_attribute("aria-label") == f"{name}, held":
            break
        await page.wait_for_timeout(250)
    await expect(seat).to_have_attribute("aria-label", f"{name}, held", timeout=LIVE)
    await shots(page, "followed-again", "buyer")
    await page.context.close()
