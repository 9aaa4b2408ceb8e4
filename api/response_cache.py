"""Whole-response cache for the seat-map query, the hottest read of an on-sale.

Caching the seat map's rows (``adapters/seatmap_cache.py``) saves the database, but each
request would still render the map and serialize it again. This caches the *serialized
response* of a query whose only root field is ``availableSeats`` (or ``seatMap``, the whole
plan, ``adapters/seat_plan.py``), keyed by the exact query
text, operation name and variables, next to the seat map's version. What it saves: in the
flash sale without it, the seat map's p50 was 658-706 ms against 132 ms with it, and the sale
sold at about half the rate (ABAB, ``docs/measurements.md``, 2026-12-06).

A miss is built once per process (single flight): while one request renders the map, the
others for the same event and query wait for its bytes instead of each rendering it.

Same staleness bound as the seat map (``seatmap_max_staleness_ms``): an entry expires that
long after the version it was built from was read, whatever happens. Once a change to the
event's seats is announced (the version moves on), the next read renders the map again; reads
that arrive while that render runs are answered with the previous entry (stale while
revalidate) instead of queueing behind it: in an on-sale the version moves several times a
second, so otherwise concurrent readers would queue behind each render. Every read that starts
after a change was announced and finds no render running sees the change. Only public,
identity-free data is cached, and only successful responses.

Each process also keeps the entries it rendered or fetched (a near cache, ``_NearCache``), and
a read asks Redis only for the event's small version key: while that matches, the body is the
process's own copy, so the whole map does not leave the one Redis shard that holds the event's
key on every read. The copy expires when the Redis entry does, so the bound holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis.asyncio as aredis
from graphql import FieldNode, OperationDefinitionNode, OperationType, VariableNode
from redis.exceptions import RedisError
from starlette.responses import Response

from adapters.seatmap_cache import seatmap_key
from api.metrics import SEATMAP_READS, SEATMAP_RENDER_STEP, labelled
from api.proven_queries import lone_root_field

# Public, identity-free reads of one event's seats, invalidated by its seat-map version:
# ``availableSeats`` and the whole plan, ``seatMap`` (each entry is keyed by its query text).
CACHEABLE_FIELDS = ("availableSeats", "seatMap")
JSON = "application/json"


@lru_cache(maxsize=256)
def seat_map_query(query: str) -> tuple[OperationDefinitionNode, FieldNode] | None:
    """The operation and its only root field when the document is a single ``availableSeats``
    or ``seatMap`` query without fragments or directives; otherwise None."""
    for name in CACHEABLE_FIELDS:
        found = lone_root_field(query, OperationType.QUERY, name)
        if found is not None:
            return found if _plain_fields(found[1]) else None
    return None


@lru_cache(maxsize=256)
def _event_argument(query: str, operation_name: str | None) -> tuple[str, str] | None:
    """("var"|"literal", name-or-value) of the eventId argument of a ``seat_map_query``."""
    found = seat_map_query(query)
    if found is None:
        return None
    operation, field = found
    if operation_name and (operation.name is None or operation.name.value != operation_name):
        return None
    for argument in field.arguments:
        if argument.name.value == "eventId":
            value = argument.value
            if isinstance(value, VariableNode):
                return "var", value.name.value
            literal = getattr(value, "value", None)
            return ("literal", literal) if isinstance(literal, str) else None
    return None


def _plain_fields(field: FieldNode) -> bool:
    """Only fields (no fragments, no directives) below the root field."""
    if field.selection_set is None:
        return True
    for selection in field.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            return False
        if not _plain_fields(selection):
            return False
    return True


def _request_digest(data: dict[str, Any]) -> str:
    """The entry's name for this request: a digest of its query text, variables and operation
    name. Every seat-map read asks it, most of them with the same few texts and flat string
    variables, so those are digested once (``_flat_request_digest``)."""
    query, variables, operation_name = (
        data["query"],
        data.get("variables"),
        data.get("operationName"),
    )
    if variables is None or (
        isinstance(variables, dict) and all(type(v) is str for v in variables.values())
    ):
        if operation_name is None or type(operation_name) is str:
            flat = None if variables is None else tuple(variables.items())
            return _flat_request_digest(query, flat, operation_name)
    return _digest(query, variables, operation_name)


@lru_cache(maxsize=1024)
def _flat_request_digest(
    query: str, variables: tuple[tuple[str, str], ...] | None, operation_name: str | None
) -> str:
    return _digest(query, None if variables is None else dict(variables), operation_name)


def _digest(query: str, variables: Any, operation_name: Any) -> str:
    request = json.dumps([query, variables, operation_name], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(request.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Cached:
    body: bytes | None  # None: no entry, or it expired (past the staleness bound)
    version: bytes  # the event's seat-map version read with it
    current: bool  # built from that version: no change announced since


@dataclass(frozen=True)
class _Entry:
    version: bytes
    body: bytes
    expires: float  # time.monotonic() at which the Redis entry expires too


class _NearCache:
    """This process's copies of response entries, least recently used first out once they
    hold more than ``max_bytes`` of bodies."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def get(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: _Entry) -> None:
        self._drop(key)
        if len(entry.body) > self._max_bytes:
            return
        self._entries[key] = entry
        self._bytes += len(entry.body)
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.body)


class SeatMapResponseCache:
    def __init__(
        self,
        client: aredis.Redis,
        prefix: str,
        max_staleness_ms: int,
        near_cache_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._max_staleness_ms = max_staleness_ms
        self._in_flight: dict[str, asyncio.Future[Response]] = {}
        self._near = _NearCache(near_cache_bytes)

    def event_of(self, data: Any) -> str | None:
        """The event id when this request is cacheable, else None."""
        if not isinstance(data, dict) or not isinstance(data.get("query"), str):
            return None
        operation_name = data.get("operationName")
        if operation_name is not None and not isinstance(operation_name, str):
            return None
        found = _event_argument(data["query"], operation_name)
        if found is None:
            return None
        kind, value = found
        if kind == "literal":
            return value
        variables = data.get("variables") or {}
        event_id = variables.get(value) if isinstance(variables, dict) else None
        return event_id if isinstance(event_id, str) else None

    def _keys(self, event_id: str, data: dict[str, Any]) -> tuple[str, str]:
        base = seatmap_key(self._prefix, event_id)
        return f"{base}:version", f"{base}:response:{_request_digest(data)}"

    async def lookup(self, event_id: str, data: dict[str, Any]) -> Cached:
        """The entry (current, stale or none) and the version it was checked against (pass it
        to ``single_flight``)."""
        version_key, response_key = self._keys(event_id, data)
        near = self._near.get(response_key)
        if near is not None and response_key in self._in_flight:
            # A render running here will replace the copy, and until it does a read gets the
            # copy (stale while revalidate): nothing Redis says would change the answer.
            return Cached(near.body, near.version, current=False)
        if near is not None:
            version = await self._redis.get(version_key) or b""
            if near.version == version:
                return Cached(near.body, version, current=True)
        # Nothing here, or an older version: another process may have rendered the current one.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.mget(version_key, response_key).pttl(response_key)
            (version, cached), ttl_ms = await pipe.execute()
        version = version or b""
        if cached is None:
            return Cached(near.body if near else None, version, current=False)
        stored_version, _, body = cached.partition(b"\n")
        if ttl_ms > 0:
            expires = time.monotonic() + ttl_ms / 1000
            self._near.put(response_key, _Entry(stored_version, body, expires))
        return Cached(body, version, current=stored_version == version)

    async def single_flight(
        self,
        event_id: str,
        data: dict[str, Any],
        version: bytes,
        render: Callable[[], Awaitable[Response]],
        stale: bytes | None = None,
    ) -> Response:
        """Renders once for all concurrent misses of the same request; caches a success.

        A follower with a ``stale`` entry (still inside the bound: it has not expired) gets
        it at once. One without waits for the leader's response, which reflects every change
        announced before the leader started: at most one render's duration older than the
        follower's read.
        """
        _, response_key = self._keys(event_id, data)
        leader = self._in_flight.get(response_key)
        if leader is not None and stale is not None:
            labelled(SEATMAP_READS, "response_cache_stale").inc()
            return Response(stale, media_type=JSON)
        if leader is not None:
            labelled(SEATMAP_READS, "response_cache_follower").inc()
            shared = await asyncio.shield(leader)
            return Response(shared.body, status_code=shared.status_code, media_type=JSON)
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._in_flight[response_key] = future
        started = time.monotonic()
        try:
            response = await render()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so a leader without followers logs nothing
            raise
        finally:
            # From here a read finds this process's new copy (or renders again): the
            # followers and the next render do not wait for Redis's copy to be written.
            del self._in_flight[response_key]
        body = bytes(response.body)
        # Only successes are cached. Looked for, not parsed, so a render does not decode the
        # map it has just encoded; a body that merely mentions "errors" is not cached.
        cacheable = response.status_code == 200 and b'"errors"' not in body
        if cacheable:
            self._remember(response_key, version, body, started)
        future.set_result(response)
        if cacheable:
            with contextlib.suppress(RedisError), SEATMAP_RENDER_STEP.labels("store").time():
                await self._share(response_key, version, body, started)
        return response

    def _remember(self, response_key: str, version: bytes, body: bytes, started: float) -> None:
        expires = started + self._max_staleness_ms / 1000
        if expires > time.monotonic():
            self._near.put(response_key, _Entry(version, body, expires))

    async def _share(self, response_key: str, version: bytes, body: bytes, started: float) -> None:
        ttl_ms = self._max_staleness_ms - int((time.monotonic() - started) * 1000)
        if ttl_ms > 0:
            await self._redis.set(response_key, version + b"\n" + body, px=ttl_ms)
