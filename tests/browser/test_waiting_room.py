"""The waiting room on the event page, in a real browser against the real room: joining,
waiting behind other buyers, the turn, a hold with the admission, paying, and the buyers the
room keeps out (no admission, a page opened before the room was on, seats that may come back,
sold out).

The other buyers in the queue act over HTTP, as another browser would. The venue has three
seats, so the room admits one buyer at a time (2.5 seats a buyer, api settings): each
admission in the test follows from another buyer's hold, never from time passing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy import Engine, text

from bootstrap import build_services
from domain.venue_layout import RowSpec, SectionSpec, VenueSpec
from tests.browser.conftest import Buyer, _serve, signed_in_page
from tests.browser.data import mapped_event

# Waits (not measured times) for the room's ticks, the saga and the live updates.
SAGA = 30_000
ROOM = 15_000
TURN_SECONDS = 3

JOIN = "mutation($e: ID!) { joinQueue(eventId: $e) { success status { state admission } } }"
STATUS = "query($e: ID!) { queueStatus(eventId: $e) { state admission etaSeconds } }"
START = """mutation($e: ID!, $s: [ID!]!, $a: String) {
  startCheckout(eventId: $e, seatIds: $s, admission: $a) {
    success failureReason checkout { id } } }"""
PAY = """mutation($c: ID!) { submitPayment(checkoutId: $c, paymentToken: "tok_visa") {
  success } }"""
CHECKOUT = "query($c: ID!) { checkout(id: $c) { status } }"


def three_seats() -> VenueSpec:
    return VenueSpec("Tiny Room", "1 Queue Street", (SectionSpec("FLOOR", (RowSpec("A", 3),)),))


def room_on(engine: Engine, event_id: str, services: Any) -> None:
    """What setWaitingRoom writes (its API is tested in tests/api); the server's one-second
    copy of the event is dropped so the page and the hold check see it at once."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET waiting_room = true WHERE id = :e"), {"e": event_id})
    services.waiting_room.forget(event_id)


async def following(services: Any, event_id: str, pages: int) -> None:
    """Waits until ``pages`` pages of the site follow the event's seat map."""
    for _ in range(100):
        if services.seat_map_feeds.following().get(event_id, 0) == pages:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{services.seat_map_feeds.following()} pages follow, not {pages}")


class OtherBuyer:
    """A buyer in the same queue, over HTTP."""

    def __init__(self, url: str, buyer: Buyer, event_id: str) -> None:
        self.url, self.buyer, self.event_id = url, buyer, event_id
        self.checkout_id: str | None = None

    async def ask(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            response = await client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers=self.buyer.headers,
            )
        body = response.json()
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    async def join(self) -> str:
        joined = (await self.ask(JOIN, {"e": self.event_id}))["joinQueue"]
        assert joined["success"] is True, joined
        return joined["status"]["state"]  # type: ignore[no-any-return]

    async def status(self) -> dict[str, Any]:
        return (await self.ask(STATUS, {"e": self.event_id}))["queueStatus"]  # type: ignore[no-any-return]

    async def admission(self) -> str:
        """Asks until the room gives this buyer its turn (each ask may tick the room)."""
        for _ in range(100):
            status = await self.status()
            if status["state"] == "ADMITTED":
                return status["admission"]  # type: ignore[no-any-return]
            await asyncio.sleep(0.1)
        raise AssertionError(f"never admitted: {status}")

    async def hold(self, seat_id: str) -> None:
        token = await self.admission()
        held = (await self.ask(START, {"e": self.event_id, "s": [seat_id], "a": token}))[
            "startCheckout"
        ]
        assert held["success"] is True, held
        self.checkout_id = held["checkout"]["id"]

    async def pay(self) -> None:
        assert (await self.ask(PAY, {"c": self.checkout_id}))["submitPayment"]["success"]

    async def confirmed(self) -> None:
        for _ in range(300):
            state = (await self.ask(CHECKOUT, {"c": self.checkout_id}))["checkout"]
            if state["status"] == "CONFIRMED":
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"not confirmed: {state}")


async def test_a_buyer_queues_gets_a_turn_holds_with_it_and_ends_with_a_ticket(
    browser: Any, site: Any, engine: Engine, browser_services: Any, new_buyer: Any, shots: Any
) -> None:
    event = mapped_event(engine, three_seats())
    room_on(engine, event.id, browser_services)
    first, second = (OtherBuyer(site.url, new_buyer(), event.id) for _ in range(2))
    await first.join()
    await first.admission()  # the only turn three seats allow at once
    assert await second.join() == "WAITING"

    buyer = new_buyer()
    page = await signed_in_page(browser, site.url, buyer)
    await page.goto(f"/events/{event.id}")
    await expect(page.locator("svg.seatmap")).to_have_attribute("data-ready", "3")
    queue = page.get_by_role("region", name="Waiting room")
    await expect(queue).to_contain_text("This sale has a waiting room")
    # Before a turn, a seat is not chosen and the page says why.
    await page.get_by_role("button", name="FLOOR row A seat 3, Regular, $48.00, available").click()
    await expect(page.get_by_role("alert")).to_contain_text("join the queue")
    await expect(page.locator("svg.seatmap .seat.selected")).to_have_count(0)
    await expect(page.get_by_role("button", name="Hold seats")).to_be_disabled()
    await shots(page, "before-joining")

    # The keyboard alone joins: the button is reached with Tab and pressed with Enter.
    join = page.get_by_role("button", name="Join the queue")
    await join.focus()
    await page.keyboard.press("Enter")
    live = queue.get_by_role("status")
    await expect(live).to_have_attribute("aria-live", "polite")
    await expect(live).to_contain_text("You are number 3 in the queue")
    await expect(live).to_contain_text("1 person ahead of you is still waiting")
    # The ETA in words, or that none is known (no seat in sight serves the turn yet): as the
    # room answers this buyer (nothing changes between the two reads but the clock).
    eta = (await OtherBuyer(site.url, buyer, event.id).status())["etaSeconds"]
    await expect(live).to_contain_text(
        "When your turn comes is not known yet" if eta is None else "Your turn in"
    )
    await expect(page.locator("#queue-title")).to_be_focused()
    await shots(page, "waiting")
    # Waiting, the page does not follow the map: the sale's changes are not sent to it.
    await following(browser_services, event.id, 0)

    await first.hold(event.seats["FLOOR row A seat 1"])  # the second buyer's turn comes
    await expect(live).to_contain_text("Nobody ahead of you is still waiting", timeout=ROOM)
    await shots(page, "next")

    await second.hold(event.seats["FLOOR row A seat 2"])  # and then ours
    await expect(live).to_contain_text("It's your turn", timeout=ROOM)
    await expect(queue.get_by_role("timer")).to_contain_text("Time left in your turn:")
    await expect(page).to_have_title(f"It's your turn · {event.name} · Tickets")
    # In its turn the page follows the map again, read anew: the seats held while it waited
    # show held.
    await following(browser_services, event.id, 1)
    for seat in (1, 2):
        await expect(
            page.get_by_role("button", name=f"FLOOR row A seat {seat}, Regular, $48.00, held")
        ).to_be_visible(timeout=ROOM)
    await shots(page, "your-turn")

    await page.get_by_role("button", name="FLOOR row A seat 3, Regular, $48.00, available").click()
    await page.get_by_role("button", name="Hold seats").click()
    await expect(page.locator(".hold").get_by_role("timer")).to_contain_text("Time left to pay")
    await expect(page.locator(".hold")).to_contain_text("FLOOR row A seat 3")
    await expect(live).to_contain_text("Your seats are held")
    await shots(page, "held-in-turn")
    await page.get_by_role("button", name="Pay").click()
    outcome = page.locator(".outcome")
    await expect(outcome).to_contain_text("Confirmed! Your booking reference is", timeout=SAGA)
    await shots(page, "confirmed")
    await outcome.get_by_role("link", name="My tickets").click()
    await expect(
        page.get_by_role("img", name="QR code: ticket for FLOOR row A seat 3")
    ).to_be_visible()
    await shots(page, "ticket")

    # Every seat is now held or booked: a later buyer is told held seats may come back...
    late = await signed_in_page(browser, site.url, new_buyer())
    await late.goto(f"/events/{event.id}")
    await late.get_by_role("button", name="Join the queue").click()
    late_live = late.get_by_role("region", name="Waiting room").get_by_role("status")
    await expect(late_live).to_contain_text("held seats may come back", timeout=ROOM)
    await shots(late, "seats-may-come-back", "late")
    # ... and sold out once the others pay.
    await first.pay()
    await second.pay()
    await first.confirmed()
    await second.confirmed()
    await expect(late_live).to_contain_text("Sold out", timeout=ROOM)
    # the map, read while two seats were held, is read again: every seat shows booked
    for seat in (1, 2, 3):
        await expect(
            late.get_by_role("button", name=f"FLOOR row A seat {seat}, Regular, $48.00, booked")
        ).to_be_visible(timeout=ROOM)
    await shots(late, "sold-out", "late")
    await page.context.close()
    await late.context.close()


async def test_a_buyer_without_an_admission_cannot_hold_and_the_page_explains(
    browser: Any, site: Any, engine: Engine, browser_services: Any, new_buyer: Any, shots: Any
) -> None:
    # The page was opened before the organizer turned the room on: the API's refusal is what
    # tells it, and nothing is held.
    event = mapped_event(engine, three_seats())
    page = await signed_in_page(browser, site.url, new_buyer())
    await page.goto(f"/events/{event.id}")
    seat = page.get_by_role("button", name="FLOOR row A seat 2, Regular, $48.00, available")
    await seat.click()
    await expect(page.get_by_role("region", name="Waiting room")).to_have_count(0)
    room_on(engine, event.id, browser_services)
    await page.get_by_role("button", name="Hold seats").click()

    await expect(page.get_by_role("alert")).to_contain_text("This sale has a waiting room")
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was held")
    queue = page.get_by_role("region", name="Waiting room")
    await expect(queue.get_by_role("button", name="Join the queue")).to_be_visible()
    await expect(page.get_by_role("button", name="Hold seats")).to_be_disabled()
    await expect(page.get_by_role("button", name="Pay")).to_have_count(0)
    await expect(seat).to_have_count(1)  # still available to the whole venue
    await shots(page, "refused-not-admitted")

    # A visitor who is not signed in is told to sign in to queue (Event.waitingRoom needs
    # no account).
    visitor = await browser.new_context(base_url=site.url)
    anonymous = await visitor.new_page()
    await anonymous.goto(f"/events/{event.id}")
    region = anonymous.get_by_role("region", name="Waiting room")
    await expect(region).to_contain_text("Sign in to join the queue")
    await expect(region.get_by_role("link", name="Sign in")).to_be_visible()
    await shots(anonymous, "signed-out", "visitor")
    await page.context.close()
    await visitor.close()


@pytest.fixture
async def short_turns(browser_settings: Any, temporal_client: Any) -> AsyncIterator[str]:
    """A server whose turns last TURN_SECONDS (the room's deadline is the ticking server's
    setting: only this server is asked about the test's event)."""
    settings = browser_settings.model_copy(update={"waiting_room_turn_seconds": TURN_SECONDS})
    services = build_services(settings, temporal_client)
    url, server, task = await _serve(settings, services)
    yield url
    server.should_exit = True
    await task
    await services.close()


async def test_a_turn_that_runs_out_without_a_hold_is_lost_and_the_page_says_so(
    browser: Any, short_turns: str, engine: Engine, new_buyer: Any, shots: Any
) -> None:
    event = mapped_event(engine, three_seats())
    with engine.begin() as conn:  # read fresh by the new server: no copy to drop
        conn.execute(text("UPDATE events SET waiting_room = true WHERE id = :e"), {"e": event.id})
    page = await signed_in_page(browser, short_turns, new_buyer())
    await page.goto(f"/events/{event.id}")
    await page.get_by_role("button", name="Join the queue").click()
    live = page.get_by_role("region", name="Waiting room").get_by_role("status")
    await expect(live).to_contain_text("It's your turn", timeout=ROOM)
    await expect(live).to_contain_text("Your turn has ended", timeout=ROOM)
    await expect(live).to_contain_text("ran out before you held any seats")
    await page.get_by_role("button", name="FLOOR row A seat 1, Regular, $48.00, available").click()
    await expect(page.get_by_role("alert")).to_contain_text("your turn in the queue is over")
    await expect(page.get_by_role("button", name="Hold seats")).to_be_disabled()
    await shots(page, "turn-lost")
    await page.context.close()


async def test_before_the_opening_the_page_says_positions_are_drawn_at_the_opening(
    browser: Any, site: Any, engine: Engine, browser_services: Any, new_buyer: Any, shots: Any
) -> None:
    event = mapped_event(engine, three_seats())
    with engine.begin() as conn:  # a scheduled sale: its onSaleAt turns the room on
        conn.execute(
            text("UPDATE events SET status = 'SCHEDULED', on_sale_at = :t WHERE id = :e"),
            {"t": datetime.now(UTC) + timedelta(hours=2), "e": event.id},
        )
    browser_services.waiting_room.forget(event.id)
    page = await signed_in_page(browser, site.url, new_buyer())
    await page.goto(f"/events/{event.id}")
    queue = page.get_by_role("region", name="Waiting room")
    await expect(queue).to_contain_text("Positions are drawn at random at the opening")
    await page.get_by_role("button", name="Join the queue").click()
    await expect(queue.get_by_role("status")).to_contain_text("You are in the queue")
    await expect(queue.get_by_role("status")).to_contain_text(
        "Positions are drawn at random when the sale opens"
    )
    await shots(page, "pre-queue")
    await page.context.close()
