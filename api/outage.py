"""What counts as a backend outage, in one place: the API answers it SERVICE_UNAVAILABLE.

A request that failed because PostgreSQL, Redis, DynamoDB or Temporal did not answer (refused,
timed out, dropped the connection) changed nothing the buyer must know about and may simply be
sent again; it is not a bug, so it is not an INTERNAL_SERVER_ERROR either.
"""

from __future__ import annotations

import botocore.exceptions
import redis.exceptions
import sqlalchemy.exc
from temporalio.service import RPCError, RPCStatusCode

_OUTAGES: tuple[type[BaseException], ...] = (
    TimeoutError,  # a deadline of ours (api_answer_seconds) or a socket's
    ConnectionError,
    sqlalchemy.exc.OperationalError,  # refused, dropped, statement timeout
    sqlalchemy.exc.TimeoutError,  # no pooled connection in time
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    botocore.exceptions.ConnectionError,  # connect timeouts, unreachable endpoints
    botocore.exceptions.ReadTimeoutError,
)
_UNANSWERED_RPC = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}
)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a backend that did not answer."""
    cause: BaseException | None = exc
    seen: set[int] = set()
    # An exception chain can loop (an exception raised while handling one that it later
    # becomes the context of): each link is looked at once.
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, _OUTAGES):
            return True
        if isinstance(cause, RPCError) and cause.status in _UNANSWERED_RPC:
            return True
        cause = cause.__cause__ or cause.__context__
    return False
