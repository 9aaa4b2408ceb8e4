"""Buying in a real browser: a whole purchase to a QR ticket and its check-in, a declined card,
a hold running out, and a purchase with the keyboard alone."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.async_api import expect

from domain.model import Role
from tests.browser.conftest import DESKTOP, PASSWORD, signed_in_page
from tests.browser.data import mapped_event, small_venue

# Waits (not measured times) for the saga and the live updates on a loaded CI machine.
SAGA = 30_000


async def test_a_full_purchase_ends_with_a_qr_ticket_admitted_at_the_door(
    browser: Any, site: Any, engine: Any, new_buyer: Any, shots: Any
) -> None:
    organizer = new_buyer(Role.ORGANIZER)
    event = mapped_event(engine, small_venue(), organizer_id=organizer.id)
    context = await browser.new_context(viewport=DESKTOP, base_url=site.url)
    page = await context.new_page()

    await page.goto("/")
    await expect(page.get_by_role("link", name=event.name)).to_be_visible()
    await shots(page, "events")
    await page.get_by_role("link", name=event.name).click()
    await expect(page.locator("svg.seatmap")).to_have_attribute("data-ready", "40")

    # Signing up from the event page comes back to it.
    await page.get_by_role("link", name="Register").click()
    await page.get_by_label("First name").fill("Ada")
    await page.get_by_label("Last name").fill("Lovelace")
    await page.get_by_label("Email").fill(f"ada-{uuid.uuid4().hex[:8]}@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await shots(page, "register")
    await page.get_by_role("button", name="Register").click()
    await expect(page.get_by_role("link", name="My tickets")).to_be_visible()

    await page.goto(f"/events/{event.id}")
    await expect(page.locator("svg.seatmap")).to_have_attribute("data-ready", "40")
    await page.get_by_label("Number of seats").select_option("2")
    await page.get_by_label("Section").select_option("FLOOR")
    await page.get_by_role("button", name="Find best seats").click()
    chosen = page.locator("svg.seatmap .seat.selected")
    await expect(chosen).to_have_count(2)
    labels = [await chosen.nth(i).get_attribute("aria-label") for i in range(2)]
    # Best is the dearest category (VIP, row A) at the centre of an 8-seat row.
    assert sorted(labels) == [
        "FLOOR row A seat 4, VIP, $96.00, available",
        "FLOOR row A seat 5, VIP, $96.00, available",
    ]
    await expect(page.locator(".total")).to_have_text("2 seat(s): $192.00")
    await shots(page, "best-available")

    await page.get_by_role("button", name="Hold seats").click()
    await expect(page.get_by_role("timer")).to_contain_text("Time left to pay: 4:")
    await expect(page.locator(".hold")).to_contain_text("Total $192.00")
    await page.get_by_role("button", name="Extend hold").click()
    await expect(page.locator(".hold")).to_contain_text("1 extension(s) left")
    await shots(page, "held")

    await expect(page.get_by_label("Test card")).to_have_value("tok_visa")
    await page.get_by_role("button", name="Pay").click()
    outcome = page.locator(".outcome")
    await expect(outcome).to_contain_text("Confirmed! Your booking reference is", timeout=SAGA)
    reference = re.search(r"reference is (\S+)\.", await outcome.inner_text())
    assert reference
    await expect(
        page.locator(f'[data-id="{event.seats["FLOOR row A seat 4"]}"]')
    ).to_have_attribute("aria-label", "FLOOR row A seat 4, VIP, $96.00, booked")
    await shots(page, "confirmed")

    await outcome.get_by_role("link", name="My tickets").click()
    await expect(page.get_by_role("heading", name="My tickets")).to_be_visible()
    qr = page.get_by_role("img", name=re.compile("QR"))
    await expect(qr).to_have_count(2)
    await expect(
        page.get_by_role("img", name="QR code: ticket for FLOOR row A seat 4")
    ).to_be_visible()
    await expect(page.locator(".booking")).to_contain_text(reference.group(1))
    await shots(page, "my-tickets")
    await page.locator("summary").first.click()
    token = (await page.locator("code.token").first.inner_text()).strip()

    # The organizer scans it at the door: admitted once, then already checked in.
    door = await signed_in_page(browser, site.url, organizer)
    await door.goto("/checkin")
    await door.get_by_label("Event").select_option(event.id)
    for verdict in ("Admitted", "Already checked in"):
        await door.get_by_label("Ticket code").fill(token)
        await door.get_by_role("button", name="Check in").click()
        await expect(door.locator(".verdict .headline")).to_have_text(verdict)
        await expect(door.locator(".verdict")).to_contain_text("FLOOR row A seat 4")
        await shots(door, verdict.lower().replace(" ", "-"), "door")

    # Cancelled for a refund, the tickets stop working.
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name=f"Cancel booking {reference.group(1)} and refund").click()
    await expect(page.locator(".booking")).to_contain_text("Refunded", timeout=SAGA)
    await expect(page.locator(".ticket .bad")).to_have_count(2)
    await shots(page, "refunded")
    await door.get_by_label("Ticket code").fill(token)
    await door.get_by_role("button", name="Check in").click()
    await expect(door.locator(".verdict .headline")).to_have_text("Not valid")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    await expect(page.get_by_role("link", name="My tickets")).to_have_count(0)
    await context.close()
    await door.context.close()


async def test_a_declined_card_is_explained_and_the_seat_comes_back(
    browser: Any, site: Any, engine: Any, new_buyer: Any, shots: Any
) -> None:
    event = mapped_event(engine, small_venue())
    page = await signed_in_page(browser, site.url, new_buyer())
    await page.goto(f"/events/{event.id}")
    seat = page.get_by_role("button", name="FLOOR row B seat 3, Premium, $72.00, available")
    await seat.click()
    await page.get_by_role("button", name="Hold seats").click()
    held = page.get_by_role("button", name="FLOOR row B seat 3, Premium, $72.00, held")
    await expect(held).to_have_count(1)
    await page.get_by_label("Test card").select_option("tok_chargeDeclinedInsufficientFunds")
    await shots(page, "declining-card-chosen")
    await page.get_by_role("button", name="Pay").click()

    await expect(page.get_by_role("alert")).to_contain_text("Your card was declined", timeout=SAGA)
    await expect(page.locator(".outcome")).to_contain_text("Your card was declined")
    await expect(page.get_by_role("button", name="Pay")).to_have_count(0)
    await expect(
        page.get_by_role("button", name="FLOOR row B seat 3, Premium, $72.00, available")
    ).to_have_count(1, timeout=SAGA)
    await shots(page, "declined")
    await page.context.close()


async def test_the_hold_countdown_reaches_zero_and_the_page_says_so(
    browser: Any, site: Any, engine: Any, new_buyer: Any, shots: Any
) -> None:
    event = mapped_event(engine, small_venue())
    page = await signed_in_page(browser, site.short_hold_url, new_buyer())
    await page.goto(f"/events/{event.id}")
    await page.get_by_role("button", name="FLOOR row C seat 1, Regular, $48.00, available").click()
    await page.get_by_role("button", name="Hold seats").click()
    await expect(page.get_by_role("timer")).to_contain_text("Time left to pay: 0:0")
    await shots(page, "counting-down")

    # At zero the page says so (its own clock, or the checkout's EXPIRED, whichever is first:
    # the two are a moment apart); then the hold panel goes and the seat is on sale again.
    await expect(page.get_by_role("alert")).to_contain_text("Your hold expired", timeout=SAGA)
    await expect(page.get_by_role("button", name="Pay")).to_have_count(0, timeout=SAGA)
    await expect(
        page.get_by_role("button", name="FLOOR row C seat 1, Regular, $48.00, available")
    ).to_have_count(1, timeout=SAGA)
    await expect(page.locator(".outcome")).to_contain_text("Your hold expired")
    await shots(page, "expired")
    await page.context.close()
