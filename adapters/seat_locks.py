"""Seat locks in DynamoDB: one item per (event, seat), guarded by conditional writes.

Correctness rests only on the ``expires_at`` conditions, never on TTL deletion (which is lazy).
Throttling and transport errors are retried by botocore (see ``adapters/dynamo.py``); only the
conditional-check refusals are business outcomes here.

A checkout's seats are taken and released in one ``TransactWriteItems`` call each (one
conditional write per seat inside it), so a hold is all-or-nothing by DynamoDB's own guarantee.
On real DynamoDB a transactional write costs twice the write units of a plain one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from adapters.dynamo import EVENT_INDEX
from domain.errors import DomainError, ErrorCode
from domain.model import AcquireResult, SeatLock

_REFUSED = "ConditionalCheckFailedException"
_CANCELLED = "TransactionCanceledException"
# CancellationReasons codes, one per transaction item ("None": that item was not the problem).
_CHECK_FAILED = "ConditionalCheckFailed"
_CONFLICT = "TransactionConflict"
_NO_PROBLEM = {None, "", "None"}
_BATCH_GET_MAX = 100  # DynamoDB's BatchGetItem key limit
MAX_SEATS_PER_CALL = 100  # DynamoDB's TransactWriteItems item limit

Item = dict[str, dict[str, str]]


def lock_key(event_id: str, seat_id: str) -> str:
    # Unambiguous because event ids may not contain "#": the first "#" ends the event id.
    return f"{event_id}#{seat_id}"


def check_seat_input(
    event_id: str, seat_ids: Sequence[str], lock_id: str | None = None, allow_empty: bool = False
) -> tuple[str, ...]:
    """Validates ids before anything is written; returns the seat ids sorted.

    Sorting is what makes concurrent multi-seat holds take seats in one global order.
    """
    if not isinstance(event_id, str) or not event_id or "#" in event_id:
        raise DomainError(ErrorCode.INVALID_INPUT, "event_id must be a non-empty id without '#'")
    if lock_id is not None and (not isinstance(lock_id, str) or not lock_id):
        raise DomainError(ErrorCode.INVALID_INPUT, "lock_id must be a non-empty string")
    if isinstance(seat_ids, str):
        raise DomainError(ErrorCode.INVALID_INPUT, "seat_ids must be a list of ids, not a string")
    seats = list(seat_ids)
    if not seats and not allow_empty:
        raise DomainError(ErrorCode.INVALID_INPUT, "at least one seat is required")
    if any(not isinstance(s, str) or not s for s in seats):
        raise DomainError(ErrorCode.INVALID_INPUT, "seat ids must be non-empty strings")
    duplicates = sorted({s for s in seats if seats.count(s) > 1})
    if duplicates:
        raise DomainError(ErrorCode.DUPLICATE_SEATS, "seat listed twice", seat_ids=duplicates)
    return tuple(sorted(seats))


def check_seat_count(seats: Sequence[str]) -> None:
    """One transaction per call: DynamoDB takes at most 100 items in one (the saga's own
    ``max_seats_per_checkout`` is far below)."""
    if len(seats) > MAX_SEATS_PER_CALL:
        raise DomainError(
            ErrorCode.TOO_MANY_SEATS,
            f"at most {MAX_SEATS_PER_CALL} seats per lock call",
            max_seats=MAX_SEATS_PER_CALL,
            count=len(seats),
        )


def check_ttl(ttl_seconds: int) -> None:
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds <= 0:
        raise DomainError(ErrorCode.INVALID_INPUT, "ttl_seconds must be a positive integer")


def lock_problems(
    seat_ids: Sequence[str], found: dict[str, SeatLock], lock_id: str, now: int
) -> tuple[list[str], list[str]]:
    """(invalid, expired): seats missing or someone else's, and seats ours but expired."""
    invalid = [s for s in seat_ids if s not in found or found[s].lock_id != lock_id]
    expired = [s for s in seat_ids if s in found and s not in invalid and found[s].expires_at < now]
    return invalid, expired


def raise_lock_problems(invalid: list[str], expired: list[str]) -> None:
    """LOCK_INVALID wins over LOCK_EXPIRED: an expired lock can be renewed, a lost one cannot."""
    if invalid:
        raise DomainError(
            ErrorCode.LOCK_INVALID,
            "seats not held by this lock",
            seat_ids=sorted(invalid + expired),
            invalid_seat_ids=sorted(invalid),
            expired_seat_ids=sorted(expired),
        )
    if expired:
        raise DomainError(
            ErrorCode.LOCK_EXPIRED,
            "lock expired",
            seat_ids=sorted(expired),
            invalid_seat_ids=[],
            expired_seat_ids=sorted(expired),
        )


def held_by_other(lock: SeatLock, lock_id: str, now: int) -> bool:
    """What "taken" means everywhere: a live lock of another holder."""
    return lock.lock_id != lock_id and lock.expires_at >= now


def _refused(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == _REFUSED)


@dataclass(frozen=True)
class _Cancelled:
    """A transaction DynamoDB cancelled for refusals only: ``reasons`` line up with its items,
    each (code or None when that item was fine, the item it found if it was asked for)."""

    error: ClientError
    reasons: list[tuple[str | None, Item | None]]

    def codes(self) -> set[str]:
        return {code for code, _ in self.reasons if code is not None}


def _cancellation(exc: ClientError, items: int) -> _Cancelled | None:
    """``exc`` as a refusal (conditions failed or conflicts), or None for any other error:
    throttling, validation, or reasons that cannot be lined up with the items."""
    if exc.response.get("Error", {}).get("Code") != _CANCELLED:
        return None
    raw = exc.response.get("CancellationReasons")
    if not isinstance(raw, list) or len(raw) != items:
        return None
    reasons: list[tuple[str | None, Item | None]] = []
    for reason in raw:
        code = reason.get("Code") if isinstance(reason, dict) else None
        found = reason.get("Item") if isinstance(reason, dict) else None
        reasons.append((None if code in _NO_PROBLEM else code, found or None))
    cancelled = _Cancelled(exc, reasons)
    codes = cancelled.codes()
    return cancelled if codes and codes <= {_CHECK_FAILED, _CONFLICT} else None


def _to_lock(item: Item) -> SeatLock:
    return SeatLock(
        event_id=item["event_id"]["S"],
        seat_id=item["seat_id"]["S"],
        user_id=item["user_id"]["S"],
        lock_id=item["lock_id"]["S"],
        expires_at=int(item["expires_at"]["N"]),
        created_at=int(item["created_at"]["N"]),
    )


def lock_item(lock: SeatLock) -> Item:
    return {
        "pk": {"S": lock_key(lock.event_id, lock.seat_id)},
        "event_id": {"S": lock.event_id},
        "seat_id": {"S": lock.seat_id},
        "user_id": {"S": lock.user_id},
        "lock_id": {"S": lock.lock_id},
        "expires_at": {"N": str(lock.expires_at)},
        "created_at": {"N": str(lock.created_at)},
    }


class DynamoSeatLocks:
    """The ``SeatLocks`` port on DynamoDB (a boto3 *client*, shared safely across threads)."""

    def __init__(self, client: Any, table: str, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def _now(self, now: int | None) -> int:
        return int(self._clock()) if now is None else int(now)

    # --- acquire -------------------------------------------------------------------------

    def acquire(
        self,
        event_id: str,
        seat_ids: Sequence[str],
        lock_id: str,
        user_id: str,
        ttl_seconds: int,
        now: int | None = None,
    ) -> AcquireResult:
        """All-or-nothing hold; re-entrant for ``lock_id`` (re-acquiring refreshes the expiry).

        One transaction of conditional puts, so a refused hold leaves the table as it found it.
        """
        seats = check_seat_input(event_id, seat_ids, lock_id)
        check_seat_count(seats)
        check_ttl(ttl_seconds)
        if not isinstance(user_id, str) or not user_id:
            raise DomainError(ErrorCode.INVALID_INPUT, "user_id must be a non-empty string")
        at = self._now(now)
        expires_at = at + ttl_seconds
        items = [
            {"Put": self._lock_put(SeatLock(event_id, seat, user_id, lock_id, expires_at, at), at)}
            for seat in seats
        ]
        cancelled = self._transact(items)
        refusals = {_CHECK_FAILED}
        if cancelled is not None and _CHECK_FAILED not in cancelled.codes():
            # Only conflicts: another transaction was writing one of these seats at that
            # moment. That says nothing about who ends up with it (the other one may be
            # cancelled too, refused on another seat), and refusing now could turn a buyer
            # away from a free seat. So retry once: transactions last milliseconds, and by then
            # the other has settled. A second conflict counts as a refusal of that seat, which
            # keeps the call bounded; the buyer can try again. With a failed condition in the
            # answer the hold is refused anyway, so there is nothing to retry for.
            cancelled = self._transact(items)
            refusals = {_CHECK_FAILED, _CONFLICT}
        if cancelled is None:
            return AcquireResult(acquired=True, taken=(), expires_at=expires_at)
        refused = {
            seat
            for seat, (code, _) in zip(seats, cancelled.reasons, strict=True)
            if code in refusals
        }
        # A refused seat was live and someone else's (or, after a second conflict, being
        # written by someone else) at the moment of refusal, so it is reported even if its
        # holder lets go before the read below; the read adds the request's other seats that
        # another holder has.
        found = self._read(event_id, seats)
        taken = {s for s, lk in found.items() if held_by_other(lk, lock_id, at)} | refused
        return AcquireResult(acquired=False, taken=tuple(sorted(taken)))

    def _lock_put(self, lock: SeatLock, now: int) -> dict[str, Any]:
        """The transaction item that takes one seat: free, expired or already ours."""
        return {
            "TableName": self._table,
            "Item": lock_item(lock),
            "ConditionExpression": (
                "attribute_not_exists(pk) OR expires_at < :now OR lock_id = :lock"
            ),
            "ExpressionAttributeValues": {
                ":now": {"N": str(now)},
                ":lock": {"S": lock.lock_id},
            },
        }

    def _transact(self, items: list[dict[str, Any]]) -> _Cancelled | None:
        """One ``TransactWriteItems``: None when it was applied, the refusal when conditions
        failed or conflicts cancelled it. Anything else (throttling, validation...) is raised.

        botocore fills in ``ClientRequestToken`` once per call, so its own retries of a call
        whose answer was lost are replayed by DynamoDB, not refused by our own writes.
        """
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            cancelled = _cancellation(exc, len(items))
            if cancelled is None:
                raise
            return cancelled
        return None

    def _delete_if_ours(self, event_id: str, seat_id: str, lock_id: str) -> bool:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"pk": {"S": lock_key(event_id, seat_id)}},
                ConditionExpression="lock_id = :lock",
                ExpressionAttributeValues={":lock": {"S": lock_id}},
            )
        except ClientError as exc:
            if _refused(exc):
                return False
            raise
        return True

    # --- extend / release / validate --------------------------------------------------------

    def extend(
        self,
        event_id: str,
        seat_ids: Sequence[str],
        lock_id: str,
        ttl_seconds: int,
        now: int | None = None,
    ) -> int:
        seats = check_seat_input(event_id, seat_ids, lock_id)
        check_seat_count(seats)
        check_ttl(ttl_seconds)
        at = self._now(now)
        expires_at = at + ttl_seconds
        items = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": lock_key(event_id, seat)}},
                    "UpdateExpression": "SET expires_at = :exp",
                    "ConditionExpression": "lock_id = :lock AND expires_at >= :now",
                    "ExpressionAttributeValues": {
                        ":exp": {"N": str(expires_at)},
                        ":lock": {"S": lock_id},
                        ":now": {"N": str(at)},
                    },
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            for seat in seats
        ]
        cancelled = self._transact(items)
        if cancelled is not None and _CHECK_FAILED not in cancelled.codes():
            # Only conflicts, which say nothing about our seats: retry once (see acquire).
            cancelled = self._transact(items)
            if cancelled is not None and _CHECK_FAILED not in cancelled.codes():
                # Still contended: raised as the per-seat TransactionConflictException it
                # replaces would have been, for the caller's retry with backoff.
                raise cancelled.error
        if cancelled is None:
            return expires_at
        # Classify every requested seat so the caller learns the whole damage at once.
        found = self._read(event_id, seats)
        raise_lock_problems(*lock_problems(seats, found, lock_id, at))
        # The read disagrees with the refusals only if the seats changed in between; the
        # refusals themselves are the authority for their seats.
        invalid: list[str] = []
        expired: list[str] = []
        for seat, (code, old) in zip(seats, cancelled.reasons, strict=True):
            if code == _CHECK_FAILED:
                ours = old is not None and old.get("lock_id", {}).get("S") == lock_id
                (expired if ours else invalid).append(seat)
        raise_lock_problems(invalid, expired)
        raise cancelled.error  # not reached: a failed condition always classifies its seat

    def release(self, event_id: str, seat_ids: Sequence[str], lock_id: str) -> int:
        seats = check_seat_input(event_id, seat_ids, lock_id, allow_empty=True)
        check_seat_count(seats)
        if not seats:
            return 0
        items = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": lock_key(event_id, seat)}},
                    "ConditionExpression": "lock_id = :lock",
                    "ExpressionAttributeValues": {":lock": {"S": lock_id}},
                }
            }
            for seat in seats
        ]
        cancelled = self._transact(items)
        if cancelled is None:
            return len(seats)
        # Some seat is not ours any more (taken over after its expiry, or already released), or
        # another transaction was writing one: release the others one by one. A seat refused
        # by its condition was not ours when the transaction looked, so only the rest are
        # tried again (a repeated release costs its one call and nothing more).
        return sum(
            self._delete_if_ours(event_id, seat, lock_id)
            for seat, (code, _) in zip(seats, cancelled.reasons, strict=True)
            if code != _CHECK_FAILED
        )

    def validate(
        self, event_id: str, seat_ids: Sequence[str], lock_id: str, now: int | None = None
    ) -> None:
        seats = check_seat_input(event_id, seat_ids, lock_id)
        at = self._now(now)
        raise_lock_problems(*lock_problems(seats, self._read(event_id, seats), lock_id, at))

    # --- reads ----------------------------------------------------------------------------

    def _read(self, event_id: str, seats: Sequence[str]) -> dict[str, SeatLock]:
        """Strongly consistent BatchGetItem of the given seats' locks (expired ones included)."""
        found: dict[str, SeatLock] = {}
        for start in range(0, len(seats), _BATCH_GET_MAX):
            keys = [
                {"pk": {"S": lock_key(event_id, s)}} for s in seats[start : start + _BATCH_GET_MAX]
            ]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    lock = _to_lock(item)
                    found[lock.seat_id] = lock
                # Unprocessed keys are a throttling answer; botocore has already backed off.
                request = response.get("UnprocessedKeys") or {}
        return found

    def live_locks(self, event_id: str, now: int | None = None) -> list[SeatLock]:
        check_seat_input(event_id, [], allow_empty=True)
        at = self._now(now)
        locks = [_to_lock(item) for item in self._query_event(event_id, at)]
        return sorted(locks, key=lambda lk: lk.seat_id)

    def held_seat_ids(self, event_id: str, now: int | None = None) -> set[str]:
        check_seat_input(event_id, [], allow_empty=True)
        # The seat id alone: in an on-sale the map is rebuilt several times a second, and
        # every attribute of every item would be serialized by DynamoDB and parsed here.
        items = self._query_event(event_id, self._now(now), projection="seat_id")
        return {item["seat_id"]["S"] for item in items}

    def _query_event(
        self, event_id: str, now: int, projection: str | None = None
    ) -> Iterator[Item]:
        # GSI reads are eventually consistent; good enough for the seat map, which is
        # not a guard (acquire's conditional write is).
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": EVENT_INDEX,
            "KeyConditionExpression": "event_id = :e",
            "FilterExpression": "expires_at >= :now",
            "ExpressionAttributeValues": {":e": {"S": event_id}, ":now": {"N": str(now)}},
        }
        if projection:
            kwargs["ProjectionExpression"] = projection
        while True:
            page = self._client.query(**kwargs)
            yield from page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last
