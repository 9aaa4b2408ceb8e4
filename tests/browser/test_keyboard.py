"""A purchase with the keyboard alone: sign in, move around the seat map with the arrow keys,
choose, hold, pick a test card and pay, without a single click."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import DESKTOP, PASSWORD
from tests.browser.data import mapped_event, small_venue

SAGA = 30_000
# What the focused element is called: its aria-label, its label's text, or its own text.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return '';
  const labelled = el.labels && el.labels[0];
  const label = el.getAttribute('aria-label') || (labelled && labelled.textContent);
  return (label || el.textContent || '').trim();
}"""

# The buyer's open checkout extended by a request of its own, as another tab would.
EXTEND_ELSEWHERE = """async () => {
  const token = JSON.parse(localStorage.getItem('tb.session')).token;
  const key = Object.keys(sessionStorage).find((k) => k.startsWith('tb.checkout.'));
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: 'mutation ($c: ID!) { extendHold(checkoutId: $c) { success } }',
      variables: { c: sessionStorage.getItem(key) },
    }),
  });
  return (await response.json()).data.extendHold.success;
}"""


async def tab_to(page: Any, name: str, limit: int = 40) -> int:
    """Presses Tab until the focused element is called ``name``; answers how many presses."""
    for presses in range(1, limit + 1):
        await page.keyboard.press("Tab")
        if await page.evaluate(FOCUSED) == name:
            return presses
    raise AssertionError(f"{name!r} not reached in {limit} Tab presses")


async def test_a_purchase_with_the_keyboard_alone(
    browser: Any, site: Any, engine: Any, new_buyer: Any, shots: Any
) -> None:
    event = mapped_event(engine, small_venue())
    buyer = new_buyer()
    context = await browser.new_context(viewport=DESKTOP, base_url=site.url)
    page = await context.new_page()
    await page.goto(f"/signin?next=/events/{event.id}")

    await tab_to(page, "Email")
    await page.keyboard.type(buyer.email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.locator("svg.seatmap")).to_have_attribute("data-ready", "40")

    # The map is reached by Tab on its first available seat, and left by one more Tab.
    await tab_to(page, "FLOOR row A seat 1, VIP, $96.00, available")
    for key in ("ArrowRight", "ArrowRight", "ArrowDown"):
        await page.keyboard.press(key)
    assert await page.evaluate(FOCUSED) == "FLOOR row B seat 3, Premium, $72.00, available"
    await page.keyboard.press("End")
    assert await page.evaluate(FOCUSED) == "FLOOR row B seat 8, Premium, $72.00, available"
    await page.keyboard.press("Enter")
    await page.keyboard.press("ArrowLeft")
    await page.keyboard.press(" ")
    chosen = page.locator("svg.seatmap .seat.selected")
    await expect(chosen).to_have_count(2)
    await shots(page, "chosen-by-keyboard")
    # Space on a chosen seat un-chooses it.
    await page.keyboard.press(" ")
    await expect(chosen).to_have_count(1)
    await page.keyboard.press("Tab")
    assert not (await page.evaluate(FOCUSED)).startswith("FLOOR row")

    await tab_to(page, "Hold seats")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("timer")).to_contain_text("Time left to pay")
    await tab_to(page, "Test card")
    await page.keyboard.press("ArrowDown")  # a select: the next card, then back
    # The hold changes elsewhere (extended from another tab): the page rebuilds its hold panel
    # while the buyer is on the card, and the keyboard stays there with the card they chose.
    assert await page.evaluate(EXTEND_ELSEWHERE) is True
    await expect(page.get_by_text("1 extension(s) left")).to_be_visible()
    assert await page.evaluate(FOCUSED) == "Test card"
    await expect(page.get_by_label("Test card")).to_have_value(
        "tok_chargeDeclinedInsufficientFunds"
    )
    await page.keyboard.press("ArrowUp")
    await expect(page.get_by_label("Test card")).to_have_value("tok_visa")
    await tab_to(page, "Pay")
    await shots(page, "pay-focused")
    await page.keyboard.press("Enter")

    outcome = page.locator(".outcome")
    await expect(outcome).to_contain_text("Confirmed! Your booking reference is", timeout=SAGA)
    await expect(
        page.get_by_role("button", name="FLOOR row B seat 8, Premium, $72.00, booked")
    ).to_have_count(1)
    await shots(page, "confirmed")
    await tab_to(page, "My tickets")
    await page.keyboard.press("Enter")
    await expect(
        page.get_by_role("img", name="QR code: ticket for FLOOR row B seat 8")
    ).to_be_visible()
    await context.close()
