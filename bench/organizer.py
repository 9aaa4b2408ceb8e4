"""The organizer's figures (issue 23): a 5,000-seat event's ``seatMap`` and ``salesReport`` read
while a flash sale runs on another event, and the cancellation of an event with 1,000 bookings
(seconds until every booking is refunded).

Everything goes through the API as an organizer would: the venue is laid out by ``createVenue``
(rows by count), the event created and published; only the organizer's account itself is made in
PostgreSQL (roles are granted by an ADMIN, and the bench has none yet).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, insert

from adapters.orm import User
from bench.stats import summary_ms
from domain.model import Role

SECTIONS, ROWS, SEATS_PER_ROW = 5, 20, 50  # 5,000 seats
# Readers poll each query at this pace during the sale: an organizer's dashboard refreshing a
# few times a second, not a load test of its own.
POLL_INTERVAL_S = 0.25

CREATE_VENUE = """mutation($input: VenueInput!) { createVenue(input: $input) {
  success failureReason message venue { id totalCapacity } } }"""
CREATE_EVENT = """mutation($input: EventInput!) { createEvent(input: $input) {
  success failureReason message event { id status } } }"""
PUBLISH = """mutation($id: ID!) { publishEvent(eventId: $id) {
  success failureReason message event { id status } } }"""
CANCEL = """mutation($id: ID!, $reason: String!) { cancelEvent(eventId: $id, reason: $reason) {
  success failureReason message event { id status } } }"""
PROGRESS = """query($id: ID!) { eventCancellation(eventId: $id) {
  toRefund refunded checkoutsCancelled done } }"""
START = """mutation($e: ID!, $s: [ID!]!) { startCheckout(eventId: $e, seatIds: $s) {
  success failureReason checkout { id } } }"""
PAY = """mutation($c: ID!) { submitPayment(checkoutId: $c) {
  success failureReason checkout { status } } }"""
SEAT_MAP = """query($id: ID!) { seatMap(eventId: $id) {
  width height seats { id x y status price } } }"""
SALES_REPORT = """query($id: ID!) { salesReport(eventId: $id) {
  capacity sold held blocked available grossRevenue refunded bookings
  sections { section sold revenue } } }"""


def create_staff(engine: Engine, minted: Any) -> dict[str, str]:
    """An ORGANIZER and an ADMIN, with tokens: role name -> bearer header value."""
    headers = {}
    with engine.begin() as conn:
        for role in (Role.ORGANIZER, Role.ADMIN):
            user_id = uuid.uuid4()
            email = f"{role.value.lower()}-{user_id.hex[:8]}@bench.test"
            conn.execute(
                insert(User).values(
                    id=user_id,
                    email=email,
                    first_name="Bench",
                    last_name=role.value.title(),
                    password_hash="-",
                    roles=[Role.BUYER.value, role.value],
                )
            )
            token = minted.issue(str(user_id), email, (Role.BUYER.value, role.value))
            headers[role.value] = f"Bearer {token}"
    return headers


async def _call(
    http: httpx.AsyncClient, url: str, auth: str | None, query: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    response = await http.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": auth} if auth else {},
    )
    ms = (time.perf_counter() - started) * 1000
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"], ms


async def big_event(url: str, organizer: str) -> dict[str, Any]:
    """A 5,000-seat venue laid out by rows, and its event, published (ON_SALE)."""
    rows = [{"label": f"R{n:02d}", "seats": SEATS_PER_ROW} for n in range(ROWS)]
    sections = [
        {"name": f"S{n}", "rows": rows, "curve": 0.15 if n % 2 else 0.0} for n in range(SECTIONS)
    ]
    venue_input = {
        "name": f"Bench Arena {uuid.uuid4().hex[:6]}",
        "address": "1 Bench Road",
        "sections": sections,
    }
    async with httpx.AsyncClient(timeout=60) as http:
        data, venue_ms = await _call(http, url, organizer, CREATE_VENUE, {"input": venue_input})
        venue = data["createVenue"]
        if not venue["success"]:
            raise RuntimeError(f"createVenue refused: {venue}")
        event_input = {
            "venueId": venue["venue"]["id"],
            "name": "Bench Arena night",
            "eventDate": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
            "basePrice": "60.00",
            "currency": "USD",
        }
        data, event_ms = await _call(http, url, organizer, CREATE_EVENT, {"input": event_input})
        event = data["createEvent"]
        if not event["success"]:
            raise RuntimeError(f"createEvent refused: {event}")
        event_id = event["event"]["id"]
        data, publish_ms = await _call(http, url, organizer, PUBLISH, {"id": event_id})
        if data["publishEvent"]["event"]["status"] != "ON_SALE":
            raise RuntimeError(f"publishEvent: {data['publishEvent']}")
    return {
        "event_id": event_id,
        "seats": venue["venue"]["totalCapacity"],
        "create_venue_ms": round(venue_ms, 1),
        "create_event_ms": round(event_ms, 1),
        "publish_ms": round(publish_ms, 1),
    }


class Readers:
    """Polls ``seatMap`` and ``salesReport`` of one event until stopped; keeps their latencies."""

    def __init__(self, url: str, organizer: str, event_id: str) -> None:
        self._url, self._auth, self._event = url, organizer, event_id
        self.latencies: dict[str, list[float]] = {"seat_map": [], "sales_report": []}
        self.errors = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def _poll(self, name: str, query: str, auth: str | None) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            while not self._stop.is_set():
                try:
                    _, ms = await _call(http, self._url, auth, query, {"id": self._event})
                    self.latencies[name].append(ms)
                except (httpx.HTTPError, RuntimeError):
                    self.errors += 1
                try:
                    await asyncio.wait_for(self._stop.wait(), POLL_INTERVAL_S)
                except TimeoutError:
                    pass

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._poll("seat_map", SEAT_MAP, None)),
            asyncio.create_task(self._poll("sales_report", SALES_REPORT, self._auth)),
        ]

    async def stop(self) -> dict[str, Any]:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return {
            "seat_map": summary_ms(self.latencies["seat_map"]),
            "sales_report": summary_ms(self.latencies["sales_report"]),
            "errors": self.errors,
        }


async def sell_one_seat_each(
    url: str, event_id: str, seat_ids: list[str], tokens: list[str], concurrency: int = 40
) -> int:
    """One single-seat checkout per buyer through the saga, paid with the approving card: as
    many bookings as seats. Returns the bookings confirmed."""
    lanes = asyncio.Semaphore(concurrency)
    confirmed = 0

    async def buy(http: httpx.AsyncClient, seat_id: str, token: str) -> None:
        nonlocal confirmed
        auth = f"Bearer {token}"
        async with lanes:
            data, _ = await _call(http, url, auth, START, {"e": event_id, "s": [seat_id]})
            started = data["startCheckout"]
            if not started["success"]:
                return
            data, _ = await _call(http, url, auth, PAY, {"c": started["checkout"]["id"]})
            if data["submitPayment"]["checkout"]["status"] == "CONFIRMED":
                confirmed += 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        await asyncio.gather(
            *(buy(http, s, t) for s, t in zip(seat_ids, tokens, strict=True)),
            return_exceptions=True,
        )
    return confirmed


async def cancel_and_refund(
    url: str, admin: str, event_id: str, timeout_s: float = 600
) -> dict[str, Any]:
    """Cancels the event and waits until the cancellation reports every booking refunded."""
    async with httpx.AsyncClient(timeout=60) as http:
        started = time.perf_counter()
        data, _ = await _call(http, url, admin, CANCEL, {"id": event_id, "reason": "bench"})
        if not data["cancelEvent"]["success"]:
            raise RuntimeError(f"cancelEvent refused: {data['cancelEvent']}")
        progress: dict[str, Any] | None = None
        while time.perf_counter() - started < timeout_s:
            data, _ = await _call(http, url, admin, PROGRESS, {"id": event_id})
            progress = data["eventCancellation"]
            if progress and progress["done"]:
                break
            await asyncio.sleep(0.2)
        seconds = time.perf_counter() - started
    done = bool(progress and progress["done"])
    return {
        "to_refund": progress["toRefund"] if progress else None,
        "refunded": progress["refunded"] if progress else None,
        "checkouts_cancelled": progress["checkoutsCancelled"] if progress else None,
        "done": done,
        "seconds_to_all_refunded": round(seconds, 1) if done else None,
    }
