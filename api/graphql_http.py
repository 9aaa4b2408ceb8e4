"""Ariadne's HTTP handler with the GraphQL-over-HTTP status convention, and a quiet logger.

A request that was executed (``data`` present, even null) answers 200 with its ``errors``;
one that could not be executed (malformed body, syntax, validation) answers 400.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from ariadne.asgi.handlers import GraphQLHTTPHandler
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from domain.errors import DomainError


class HTTPHandler(GraphQLHTTPHandler):
    async def create_json_response(self, request: Request, result: dict, success: bool) -> Response:
        status = HTTPStatus.OK if success or "data" in result else HTTPStatus.BAD_REQUEST
        return JSONResponse(result, status_code=status)


class _OnlyUnexpected(logging.Filter):
    """Drops expected errors (auth, bad input, not found): only bugs and outages are logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, GraphQLError):
            return True
        original = error.original_error
        while isinstance(original, GraphQLError):
            original = original.original_error
        return original is not None and not isinstance(original, DomainError)


def graphql_logger() -> logging.Logger:
    logger = logging.getLogger("api.graphql")
    if not any(isinstance(f, _OnlyUnexpected) for f in logger.filters):
        logger.addFilter(_OnlyUnexpected())
    return logger
