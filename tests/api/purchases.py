"""Buying seats through the real saga in API tests: one checkout, paid with the sandbox's
approving card, ending CONFIRMED."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import data_of

START = """mutation($e: ID!, $s: [ID!]!) {
  startCheckout(eventId: $e, seatIds: $s) { success failureReason message checkout { id } } }"""
PAY = """mutation($c: ID!) {
  submitPayment(checkoutId: $c) { checkout { status bookingReference } } }"""
CANCEL_BOOKING = """mutation($r: String!) {
  cancelBooking(reference: $r) { success booking { status } } }"""


async def buy(gql: Any, buyer: Any, event_id: str, seats: list[str]) -> str:
    """The booking reference of a confirmed purchase of ``seats``."""
    started = data_of(await gql(START, {"e": event_id, "s": seats}, buyer))["startCheckout"]
    assert started["success"], started
    paid = data_of(await gql(PAY, {"c": started["checkout"]["id"]}, buyer))["submitPayment"]
    assert paid["checkout"]["status"] == "CONFIRMED"
    return paid["checkout"]["bookingReference"]  # type: ignore[no-any-return]
