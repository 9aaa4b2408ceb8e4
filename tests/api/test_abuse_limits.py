"""Abuse limits against the real services, over HTTP and over a real websocket (graphql-transport-ws
on a real uvicorn): the same rate limits and request limits on both transports, the websocket's
caps (connections per address, operations per connection, frame size), the per-buyer rules on
every hold entry point over the websocket, and the sign-in and registration throttles. Every
refusal has its code and changes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from sqlalchemy import Engine, text
from temporalio.client import Client

from api.services import Services
from bootstrap import build_services
from config.settings import Settings
from tests.api.conftest import PASSWORD, Buyer, free_port, make_app, make_user

ME = "{ me { id } }"
EVENTS = "{ events { id } }"
SEAT_MAP = "subscription($e: ID!) { seatMapChanges(eventId: $e) { eventId kind } }"
PAYLOAD = "success failureReason message checkout { id }"
START = f"""mutation($e: ID!, $s: [ID!]!) {{
  startCheckout(eventId: $e, seatIds: $s) {{ {PAYLOAD} }} }}"""
HOLD = f"""mutation($c: ID!, $s: [ID!]!) {{
  holdSeats(checkoutId: $c, seatIds: $s) {{ {PAYLOAD} }} }}"""
LOCK = """mutation($s: ID!, $e: ID!, $u: ID!) {
  lockSeat(seatId: $s, eventId: $e, userId: $u) { success failureReason message lockId } }"""
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }"
REGISTER = "mutation($i: RegisterInput!) { register(input: $i) { token user { id } } }"


# --- serving an app with the limits under test ---


@pytest.fixture
def limited(api_settings: Settings) -> Any:
    """Settings with rate limits on, generous unless overridden, counted under their own Redis
    prefix (every client of these tests is 127.0.0.1: the address's windows are shared)."""

    def make(**overrides: Any) -> Settings:
        values = {
            "rate_limit_enabled": True,
            "rate_limit_per_user": "1000/minute",
            "rate_limit_per_ip": "1000/minute",
            "redis_prefix": f"{api_settings.redis_prefix}abuse-{uuid.uuid4().hex[:8]}:",
            **overrides,
        }
        return api_settings.model_copy(update=values)

    return make


@asynccontextmanager
async def serve(settings: Settings, temporal_client: Client) -> AsyncIterator[tuple[str, Services]]:
    """The app on its own services, on a real uvicorn: its ``host:port`` and the services."""
    services = build_services(settings, temporal_client)
    port = free_port()
    config = uvicorn.Config(
        make_app(settings, services),
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        yield f"127.0.0.1:{port}", services
    finally:
        server.should_exit = True
        await task
        await services.close()


async def post(address: str, query: str, variables: Any = None, buyer: Any = None) -> Any:
    headers = buyer.headers if buyer else {}
    async with httpx.AsyncClient(base_url=f"http://{address}", timeout=60) as client:
        body = {"query": query, "variables": variables or {}}
        return await client.post("/graphql", json=body, headers=headers)


class Socket:
    """A graphql-transport-ws client on a real websocket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.pending: dict[str, list[dict[str, Any]]] = {}

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def subscribe(self, op_id: str, query: str, variables: Any = None) -> dict[str, Any]:
        """Sends an operation; its first message (``next`` or ``error``)."""
        payload = {"query": query, "variables": variables or {}}
        await self.send({"id": op_id, "type": "subscribe", "payload": payload})
        return await self.next(op_id)

    async def next(self, op_id: str) -> dict[str, Any]:
        if self.pending.get(op_id):
            return self.pending[op_id].pop(0)
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if message.get("id") == op_id:
                return message
            self.pending.setdefault(message.get("id", ""), []).append(message)


@asynccontextmanager
async def socket(address: str, buyer: Buyer | None = None) -> AsyncIterator[Socket]:
    """A connection, initialised (with the buyer's token) and acknowledged."""
    async with websockets.connect(
        f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"], max_size=None
    ) as ws:
        client = Socket(ws)
        payload = {"Authorization": f"Bearer {buyer.token}"} if buyer else {}
        await client.send({"type": "connection_init", "payload": payload})
        assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "connection_ack"
        yield client


async def closed_with(ws: Any) -> tuple[int, str]:
    """The close code and reason the server sent."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 30)
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def error_of(message: dict[str, Any]) -> dict[str, Any]:
    """The one GraphQL error an ``error`` message, or a ``next`` with errors, carries."""
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert len(errors) == 1, errors
    return errors[0]  # type: ignore[no-any-return]


def held_seats(services: Services, event_id: str, user_id: str) -> list[str]:
    """The buyer's seats under a live DynamoDB lock: the authority on what is held."""
    return sorted(
        lock.seat_id for lock in services.seat_locks.live_locks(event_id) if lock.user_id == user_id
    )


def set_ticket_limit(engine: Engine, event_id: str, limit: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE events SET max_tickets_per_buyer = :n WHERE id = :e"),
            {"n": limit, "e": event_id},
        )


# --- the same rate limits and request limits on both transports ---


@pytest.mark.usefixtures("api_worker")
async def test_http_and_the_websocket_count_against_the_same_user_window(
    limited: Any, temporal_client: Client, event_factory: Any, services: Services
) -> None:
    # An hour's window: the sliding window's previous fixed window weighs in rounded down, so
    # a minute's window ending mid-test would let one more request through.
    settings = limited(rate_limit_per_user="3/hour")
    event = event_factory(seats=2)
    async with serve(settings, temporal_client) as (address, own):
        buyer = make_user(own)
        assert (await post(address, ME, buyer=buyer)).status_code == 200
        async with socket(address, buyer) as ws:
            first = await ws.subscribe("1", ME)
            assert first["type"] == "next" and first["payload"]["data"]["me"]["id"] == buyer.id
            assert (await post(address, ME, buyer=buyer)).status_code == 200
            # The fourth request of the window, over the websocket: a hold, refused unrun.
            refused = await ws.subscribe("2", START, {"e": event.id, "s": event.seat_ids[:1]})
            assert refused["type"] == "error", refused
            error = error_of(refused)
            assert error["extensions"]["code"] == "RATE_LIMITED"
            assert error["extensions"]["retryAfter"] >= 1
            assert "per user" in error["message"]
            # The connection stays usable, and HTTP is refused too: one window.
            again = await post(address, ME, buyer=buyer)
            assert again.status_code == 429 and int(again.headers["retry-after"]) >= 1
            assert again.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            # Another user on the same address is within its own window.
            other = make_user(own)
            async with socket(address, other) as ws2:
                assert (await ws2.subscribe("1", ME))["type"] == "next"
        assert held_seats(services, event.id, buyer.id) == []
        assert own.open_checkouts.current(buyer.id, event.id) is None


async def test_a_handshake_is_a_request_to_the_address_window(
    limited: Any, temporal_client: Client
) -> None:
    async with serve(limited(rate_limit_per_ip="3/hour"), temporal_client) as (address, _):
        async with socket(address) as ws:  # 1: the handshake
            assert (await ws.subscribe("1", EVENTS))["type"] == "next"  # 2
            assert (await post(address, EVENTS)).status_code == 200  # 3
            refused = await ws.subscribe("2", EVENTS)
            assert error_of(refused)["extensions"]["code"] == "RATE_LIMITED"
            assert "per ip" in error_of(refused)["message"]
        async with websockets.connect(
            f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]
        ) as ws:
            code, reason = await closed_with(ws)
        assert code == 4429 and reason.startswith("RATE_LIMITED"), reason
        assert "retry after" in reason


QUERY_LIMITS = {"graphql_max_depth": 2, "graphql_max_root_fields": 2}
OVER_THE_LIMITS = [
    pytest.param({"query": "{ events { venue { name } } }"}, id="depth"),
    pytest.param({"query": "{ a: events { id } b: events { id } c: events { id } }"}, id="roots"),
    pytest.param({"query": "# " + "x" * 20_001 + "\n{ events { id } }"}, id="query-bytes"),
    pytest.param(
        {"query": "query($e: ID!) { event(id: $e) { id } }", "variables": {"e": "a\0"}},
        id="nul",
    ),
]


@pytest.mark.parametrize("payload", OVER_THE_LIMITS)
async def test_query_limits_refuse_alike_over_http_and_the_websocket(
    payload: dict[str, Any], limited: Any, temporal_client: Client
) -> None:
    settings = limited(**QUERY_LIMITS)
    assert settings.graphql_max_query_bytes == 20_000
    async with serve(settings, temporal_client) as (address, _):
        async with httpx.AsyncClient(base_url=f"http://{address}") as client:
            over_http = await client.post("/graphql", json=payload)
        assert over_http.status_code == 400
        assert over_http.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        async with socket(address) as ws:
            await ws.send({"id": "1", "type": "subscribe", "payload": payload})
            refused = await ws.next("1")
            assert refused["type"] == "error", refused
            assert error_of(refused)["extensions"]["code"] == "BAD_USER_INPUT"
            # Within the limits, the same connection answers.
            assert (await ws.subscribe("2", "{ events { id } }"))["type"] == "next"


async def test_a_frame_over_the_request_size_closes_with_4413(
    limited: Any, temporal_client: Client
) -> None:
    settings = limited()
    cap = settings.graphql_max_query_bytes * 5  # the HTTP body's cap too
    async with serve(settings, temporal_client) as (address, _):
        async with socket(address) as ws:
            at_cap = {"id": "1", "type": "subscribe", "payload": {"query": EVENTS}}
            padding = cap - len(json.dumps({**at_cap, "pad": ""}))
            await ws.send({**at_cap, "pad": "x" * padding})  # exactly the cap: answered
            assert (await ws.next("1"))["type"] == "next"
            await ws.send({**at_cap, "id": "2", "pad": "x" * (padding + 1)})
            code, reason = await closed_with(ws.ws)
        assert code == 4413 and reason.startswith("BAD_USER_INPUT"), reason
        # Counted in bytes, not characters: "é" is two bytes in UTF-8.
        async with socket(address) as ws:
            await ws.ws.send(json.dumps({**at_cap, "pad": "é" * (cap // 2)}, ensure_ascii=False))
            code, _ = await closed_with(ws.ws)
        assert code == 4413
        async with httpx.AsyncClient(base_url=f"http://{address}") as client:
            body = json.dumps({"query": EVENTS, "pad": "x" * cap}).encode()
            over_http = await client.post(
                "/graphql", content=body, headers={"content-type": "application/json"}
            )
        assert over_http.status_code == 413


async def test_a_subscribe_payload_that_is_not_a_request_is_answered_not_dropped(
    limited: Any, temporal_client: Client
) -> None:
    async with serve(limited(), temporal_client) as (address, _):
        async with socket(address) as ws:
            for op_id, payload in (("1", "not an object"), ("2", {"query": 42}), ("3", None)):
                await ws.send({"id": op_id, "type": "subscribe", "payload": payload})
                refused = await ws.next(op_id)
                assert refused["type"] == "error", refused
                assert error_of(refused)["extensions"]["code"] == "BAD_USER_INPUT"
            assert (await ws.subscribe("4", EVENTS))["type"] == "next"


# --- the websocket's own caps ---


async def test_connections_per_address_are_capped_and_freed_on_close(
    limited: Any, temporal_client: Client
) -> None:
    async with serve(limited(ws_max_connections_per_ip=2), temporal_client) as (address, _):
        async with socket(address) as first, socket(address):
            async with websockets.connect(
                f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]
            ) as third:
                code, reason = await closed_with(third)
            assert code == 4429 and reason.startswith("TOO_MANY_CONNECTIONS"), reason
            assert (await first.subscribe("1", EVENTS))["type"] == "next"  # still served
        # Both closed: the server frees their places once it has seen them go.
        for _ in range(100):
            try:
                async with socket(address) as again:
                    assert (await again.subscribe("1", EVENTS))["type"] == "next"
                break
            except (websockets.ConnectionClosed, AssertionError):
                await asyncio.sleep(0.05)
        else:
            pytest.fail("a closed connection's place was never freed")


async def test_operations_per_connection_are_capped(
    limited: Any, temporal_client: Client, event_factory: Any
) -> None:
    event = event_factory(seats=1)
    settings = limited(ws_max_subscriptions_per_connection=2)
    async with serve(settings, temporal_client) as (address, services):
        buyer = make_user(services)
        async with socket(address, buyer) as ws:
            for op_id in ("a", "b"):
                payload = {"query": SEAT_MAP, "variables": {"e": event.id}}
                await ws.send({"id": op_id, "type": "subscribe", "payload": payload})
            refused = await ws.subscribe("c", SEAT_MAP, {"e": event.id})
            assert refused["type"] == "error", refused
            assert error_of(refused)["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
            # A query is an operation too, while it runs.
            assert error_of(await ws.subscribe("d", ME))["extensions"]["code"] == (
                "TOO_MANY_SUBSCRIPTIONS"
            )
            # Messages are handled in order: once "a" is completed, there is room again.
            await ws.send({"id": "a", "type": "complete"})
            answered = await ws.subscribe("e", ME)
            assert answered["type"] == "next" and answered["payload"]["data"]["me"]["id"]
            # The refused subscription "c" runs nothing: an announcement reaches "b" only.
            for _ in range(100):
                services.seatmap_events.changed(event.id, event.seat_ids, "released")
                try:
                    heard = await asyncio.wait_for(ws.next("b"), 0.2)
                    break
                except TimeoutError:
                    continue
            else:
                pytest.fail("subscription b never heard an announcement")
            assert heard["type"] == "next"
            assert not ws.pending.get("c")


# --- the per-buyer rules on every hold entry point, over the websocket ---


@pytest.mark.usefixtures("api_worker")
async def test_the_ticket_limit_and_one_open_checkout_apply_over_the_websocket(
    live_server: str, make_buyer: Any, event_factory: Any, engine: Engine, services: Services
) -> None:
    event = event_factory(seats=5)
    set_ticket_limit(engine, event.id, 2)
    buyer = make_buyer()
    seats = event.seat_ids
    async with socket(live_server, buyer) as ws:
        over = await ws.subscribe("1", START, {"e": event.id, "s": seats[:3]})
        assert over["payload"]["data"]["startCheckout"]["failureReason"] == "TICKET_LIMIT_REACHED"
        assert held_seats(services, event.id, buyer.id) == []

        started = (await ws.subscribe("2", START, {"e": event.id, "s": seats[:1]}))["payload"]
        assert started["data"]["startCheckout"]["success"] is True, started
        checkout_id = started["data"]["startCheckout"]["checkout"]["id"]

        second = await ws.subscribe("3", START, {"e": event.id, "s": seats[1:2]})
        reply = second["payload"]["data"]["startCheckout"]
        assert reply["failureReason"] == "CHECKOUT_ALREADY_OPEN" and checkout_id in reply["message"]

        locked = await ws.subscribe("4", LOCK, {"s": seats[1], "e": event.id, "u": buyer.id})
        assert locked["payload"]["data"]["lockSeat"]["lockId"] == checkout_id  # the open one
        assert held_seats(services, event.id, buyer.id) == sorted(seats[:2])

        more = await ws.subscribe("5", HOLD, {"c": checkout_id, "s": seats[2:3]})
        assert more["payload"]["data"]["holdSeats"]["failureReason"] == "TICKET_LIMIT_REACHED"
        past = await ws.subscribe("6", LOCK, {"s": seats[3], "e": event.id, "u": buyer.id})
        assert past["payload"]["data"]["lockSeat"]["failureReason"] == "TICKET_LIMIT_REACHED"
    assert held_seats(services, event.id, buyer.id) == sorted(seats[:2])


# --- sign-in and registration ---


async def login_over_http(address: str, email: str, password: str) -> dict[str, Any]:
    reply = await post(address, LOGIN, {"e": email, "p": password})
    assert reply.status_code == 200
    return reply.json()  # type: ignore[no-any-return]


def code_of(result: dict[str, Any]) -> str | None:
    errors = result.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


async def test_sign_in_is_throttled_per_account_and_a_success_clears_it(
    limited: Any, temporal_client: Client
) -> None:
    settings = limited(rate_limit_login_failures_per_account="3/minute")
    async with serve(settings, temporal_client) as (address, services):
        buyer = make_user(services)
        assert code_of(await login_over_http(address, buyer.email, "wrong one")) == (
            "UNAUTHENTICATED"
        )
        ok = await login_over_http(address, buyer.email, PASSWORD)
        assert ok["data"]["login"]["token"]  # a success clears the account's failures
        for _ in range(3):
            wrong = await login_over_http(address, buyer.email.upper(), "wrong one")
            assert code_of(wrong) == "UNAUTHENTICATED"
        # The fourth failure in a minute: refused, even with the right password, no token.
        refused = await login_over_http(address, buyer.email, PASSWORD)
        assert refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert refused["errors"][0]["extensions"]["retryAfter"] >= 1
        # Over the websocket, the same count.
        async with socket(address) as ws:
            answer = await ws.subscribe("1", LOGIN, {"e": buyer.email, "p": PASSWORD})
            assert error_of(answer)["extensions"]["code"] == "RATE_LIMITED"
        # Another account, the same address: its own count.
        other = make_user(services)
        assert (await login_over_http(address, other.email, PASSWORD))["data"]["login"]["token"]
        # An unknown email is counted like a known one: the answer tells nothing.
        nobody = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        codes = [code_of(await login_over_http(address, nobody, "x" * 8)) for _ in range(4)]
        assert codes == ["UNAUTHENTICATED"] * 3 + ["RATE_LIMITED"]


async def test_sign_in_is_throttled_per_address(limited: Any, temporal_client: Client) -> None:
    settings = limited(rate_limit_login_per_ip="3/minute")
    async with serve(settings, temporal_client) as (address, services):
        buyers = [make_user(services) for _ in range(4)]
        for buyer in buyers[:2]:
            assert (await login_over_http(address, buyer.email, PASSWORD))["data"]["login"]
        assert code_of(await login_over_http(address, buyers[2].email, "wrong one")) == (
            "UNAUTHENTICATED"
        )
        async with socket(address) as ws:
            answer = await ws.subscribe("1", LOGIN, {"e": buyers[3].email, "p": PASSWORD})
        assert error_of(answer)["extensions"]["code"] == "RATE_LIMITED"
        assert "sign-in attempts" in error_of(answer)["message"]
        refused = await login_over_http(address, buyers[3].email, PASSWORD)
        assert refused["data"] is None and code_of(refused) == "RATE_LIMITED"


async def test_registration_is_rate_limited_per_address_and_a_refusal_creates_nobody(
    limited: Any, temporal_client: Client
) -> None:
    settings = limited(rate_limit_registrations_per_ip="2/hour")

    def account() -> dict[str, str]:
        email = f"new-{uuid.uuid4().hex[:10]}@example.com"
        return {"email": email, "password": PASSWORD, "firstName": "N", "lastName": "U"}

    async with serve(settings, temporal_client) as (address, services):
        created = []
        for _ in range(2):
            fields = account()
            reply = (await post(address, REGISTER, {"i": fields})).json()
            assert reply["data"]["register"]["token"], reply
            created.append(fields["email"])
        refused_http = account()
        reply = (await post(address, REGISTER, {"i": refused_http})).json()
        assert reply["data"] is None and code_of(reply) == "RATE_LIMITED"
        assert reply["errors"][0]["extensions"]["retryAfter"] >= 1
        refused_ws = account()
        async with socket(address) as ws:
            answer = await ws.subscribe("1", REGISTER, {"i": refused_ws})
        assert error_of(answer)["extensions"]["code"] == "RATE_LIMITED"
        assert all(services.users.get_by_email(email) for email in created)
        assert services.users.get_by_email(refused_http["email"]) is None
        assert services.users.get_by_email(refused_ws["email"]) is None


async def test_the_throttles_are_off_with_the_rate_limits(
    limited: Any, temporal_client: Client
) -> None:
    settings = limited(rate_limit_enabled=False, rate_limit_registrations_per_ip="1/hour")
    async with serve(settings, temporal_client) as (address, _):
        for _ in range(2):
            email = f"new-{uuid.uuid4().hex[:10]}@example.com"
            fields = {"email": email, "password": PASSWORD, "firstName": "N", "lastName": "U"}
            assert (await post(address, REGISTER, {"i": fields})).json()["data"]["register"]
