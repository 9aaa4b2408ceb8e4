"""Top-level GraphQL errors: every one carries ``extensions.code``, none leaks internals.

Expected business failures are payload data (``success: false`` + ``failureReason``); the
errors here are for bad requests, authentication, authorization, limits and bugs.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from api.outage import is_outage
from domain.errors import DomainError, ErrorCode

BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
RATE_LIMITED = "RATE_LIMITED"
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"

_INPUT_CODES = {ErrorCode.INVALID_INPUT, ErrorCode.TOO_MANY_SEATS, ErrorCode.DUPLICATE_SEATS}


class ApiError(GraphQLError):
    """A GraphQL error whose message is safe to show and whose code clients match on."""

    def __init__(self, code: str, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code, **extensions})


def bad_input(message: str, **extensions: Any) -> ApiError:
    return ApiError(BAD_USER_INPUT, message, **extensions)


def not_found(what: str) -> ApiError:
    return ApiError(NOT_FOUND, f"{what} not found")


def unauthenticated() -> ApiError:
    return ApiError(UNAUTHENTICATED, "sign in first: send Authorization: Bearer <token>")


def forbidden(message: str = "not allowed for this user") -> ApiError:
    return ApiError(FORBIDDEN, message)


def unavailable() -> ApiError:
    """The answer to a request a backend did not answer in time: send it again later."""
    return ApiError(
        SERVICE_UNAVAILABLE,
        "a service did not answer in time; try again in a few seconds",
        retryable=True,
    )


def from_domain(error: DomainError) -> ApiError:
    """A DomainError that must become a top-level error (not a payload)."""
    details = {k: v for k, v in error.details.items() if isinstance(v, str | int | list)}
    if error.code in _INPUT_CODES:
        return ApiError(BAD_USER_INPUT, error.message, reason=error.code.value, **details)
    if error.code == ErrorCode.NOT_FOUND:
        return ApiError(NOT_FOUND, error.message)
    return ApiError(error.code.value, error.message, **details)


def _classify(error: GraphQLError) -> str:
    message = error.message
    if message.startswith("Syntax Error"):
        return GRAPHQL_PARSE_FAILED
    # Coercion failures of arguments and variables: the client sent a malformed value.
    markers = (
        "Variable '",
        "got invalid value",
        "Expected value of type",
        "argument '",
        "Argument '",
        "was not provided",
        "cannot represent",
    )
    if any(marker in message for marker in markers):
        return BAD_USER_INPUT
    return GRAPHQL_VALIDATION_FAILED


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    """Ariadne error formatter: known errors as they are, unexpected ones as a generic 500."""
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    formatted: dict[str, Any] = error.formatted
    extensions = dict(formatted.get("extensions") or {})
    if isinstance(original, DomainError):
        mapped = from_domain(original)
        formatted["message"] = mapped.message
        extensions = dict(mapped.extensions or {})
    elif original is not None and is_outage(original):
        # A backend did not answer: retryable, and said so (api/outage.py).
        mapped = unavailable()
        formatted["message"] = mapped.message
        extensions = dict(mapped.extensions or {})
    elif original is not None and not isinstance(original, GraphQLError):
        # A bug (logged with its stack by the server's logger): tell the client nothing
        # about internals.
        formatted["message"] = "Internal server error"
        extensions = {"code": INTERNAL_SERVER_ERROR}
    elif "code" not in extensions:
        extensions["code"] = _classify(error)
    formatted["extensions"] = extensions
    return formatted
