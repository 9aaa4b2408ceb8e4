"""Seat locks in DynamoDB: one item per (event, seat), guarded by conditional writes.

Correctness rests only on the ``expires_at`` conditions, never on TTL deletion (which is lazy).
Throttling and transport errors are retried by botocore (see ``adapters/dynamo.py``); only the
conditional-check refusals are business outcomes here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from botocore.exceptions import ClientError

from adapters.dynamo import EVENT_INDEX
from domain.errors import DomainError, ErrorCode
from domain.model import AcquireResult, SeatLock

_REFUSED = "ConditionalCheckFailedException"
_BATCH_GET_MAX = 100  # DynamoDB's BatchGetItem key limit

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

        A refused hold leaves the table as it found it: seats this call took are deleted, and
        seats that ``lock_id`` already held get their previous item back.
        """
        seats = check_seat_input(event_id, seat_ids, lock_id)
        check_ttl(ttl_seconds)
        if not isinstance(user_id, str) or not user_id:
            raise DomainError(ErrorCode.INVALID_INPUT, "user_id must be a non-empty string")
        at = self._now(now)
        expires_at = at + ttl_seconds
        # Undo log: (seat, the item it replaced if that was our own live hold, else None).
        undo: list[tuple[str, Item | None]] = []
        refused_seat: str | None = None
        try:
            for seat in seats:
                lock = SeatLock(event_id, seat, user_id, lock_id, expires_at, at)
                accepted, old = self._put_lock(lock, at)
                if not accepted:
                    refused_seat = seat
                    break
                ours_before = (
                    old is not None
                    and old["lock_id"]["S"] == lock_id
                    and int(old["expires_at"]["N"]) >= at
                )
                undo.append((seat, old if ours_before else None))
        except BaseException:
            # A transport failure mid-hold must not leave a partial hold behind either.
            self._undo(event_id, lock_id, undo)
            raise
        if refused_seat is None:
            fresh = tuple(seat for seat, previous in undo if previous is None)
            return AcquireResult(acquired=True, taken=(), expires_at=expires_at, fresh=fresh)
        self._undo(event_id, lock_id, undo)
        # The refused seat was live and someone else's at the moment of refusal, so it is always
        # reported even if its holder lets go before the read below.
        found = self._read(event_id, seats)
        taken = {s for s, lk in found.items() if held_by_other(lk, lock_id, at)} | {refused_seat}
        return AcquireResult(acquired=False, taken=tuple(sorted(taken)))

    def _put_lock(self, lock: SeatLock, now: int) -> tuple[bool, Item | None]:
        """Conditional put: (accepted, the item it replaced or None)."""
        try:
            response = self._client.put_item(
                TableName=self._table,
                Item=lock_item(lock),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR expires_at < :now OR lock_id = :lock"
                ),
                ExpressionAttributeValues={
                    ":now": {"N": str(now)},
                    ":lock": {"S": lock.lock_id},
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if _refused(exc):
                return False, None
            raise
        return True, response.get("Attributes") or None

    def _undo(self, event_id: str, lock_id: str, undo: list[tuple[str, Item | None]]) -> None:
        for seat, previous in reversed(undo):
            if previous is None:
                self._delete_if_ours(event_id, seat, lock_id)
            else:
                self._restore_if_ours(previous, lock_id)

    def _restore_if_ours(self, previous: Item, lock_id: str) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=previous,
                ConditionExpression="lock_id = :lock",
                ExpressionAttributeValues={":lock": {"S": lock_id}},
            )
        except ClientError as exc:
            if not _refused(exc):
                raise

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
        check_ttl(ttl_seconds)
        at = self._now(now)
        expires_at = at + ttl_seconds
        for seat in seats:
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": lock_key(event_id, seat)}},
                    UpdateExpression="SET expires_at = :exp",
                    ConditionExpression="lock_id = :lock AND expires_at >= :now",
                    ExpressionAttributeValues={
                        ":exp": {"N": str(expires_at)},
                        ":lock": {"S": lock_id},
                        ":now": {"N": str(at)},
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if not _refused(exc):
                    raise
                # Classify every requested seat so the caller learns the whole damage at once.
                found = self._read(event_id, seats)
                raise_lock_problems(*lock_problems(seats, found, lock_id, at))
                # The read disagrees with the refusal only if the seat changed in between;
                # the refusal itself is the authority for this seat.
                old = exc.response.get("Item")
                if old and old.get("lock_id", {}).get("S") == lock_id:
                    raise_lock_problems([], [seat])
                raise_lock_problems([seat], [])
        return expires_at

    def release(self, event_id: str, seat_ids: Sequence[str], lock_id: str) -> int:
        seats = check_seat_input(event_id, seat_ids, lock_id, allow_empty=True)
        return sum(self._delete_if_ours(event_id, seat, lock_id) for seat in seats)

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
