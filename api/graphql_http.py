"""Ariadne's HTTP handler with the GraphQL-over-HTTP status convention, and a quiet logger.

A request that was executed (``data`` present, even null) answers 200 with its ``errors``;
one that could not be executed (malformed body, syntax, validation) answers 400, always as
JSON with a ``BAD_USER_INPUT`` code. Bodies are JSON only: the schema has no file uploads.
"""

from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus
from typing import Any

from ariadne.asgi.handlers import GraphQLHTTPHandler
from ariadne.exceptions import HttpBadRequestError, HttpError
from graphql import GraphQLError
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.backend_watch import SEAT_MAP
from api.errors import BAD_USER_INPUT, unavailable
from api.hold_refusals import HoldRefusals
from api.metrics import SEATMAP_READS, labelled
from api.request_limits import data_refusal
from domain.errors import DomainError


class HTTPHandler(GraphQLHTTPHandler):
    _hold_refusals: HoldRefusals | None = None

    async def extract_data_from_request(self, request: Request) -> Any:
        """JSON only (multipart is for file uploads, which this schema has none of), and no
        NUL character in any text: PostgreSQL cannot store one, so it is bad input here."""
        if request.method == "GET":
            return await super().extract_data_from_request(request)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise HttpBadRequestError(
                "the request body must be JSON (content-type: application/json)"
            )
        data = await self.extract_data_from_json_request(request)
        refusal = data_refusal(data)  # the websocket's subscribe messages meet it too
        if refusal is not None:
            raise HttpBadRequestError(refusal.message)
        return data

    async def create_json_response(self, request: Request, result: dict, success: bool) -> Response:
        status = HTTPStatus.OK if success or "data" in result else HTTPStatus.BAD_REQUEST
        return JSONResponse(result, status_code=status)

    async def graphql_http_server(self, request: Request) -> Response:
        """Answers within ``api_answer_seconds``, or SERVICE_UNAVAILABLE (503, retryable).

        A backstop only, above the longest a queued hold legitimately waits (the settings
        refuse less): an outage is answered within seconds by the backend watch
        (``api/backend_watch.py``), and every call has its own timeout. The cap catches what
        both miss, e.g. a backend that answers its probe but not the call."""
        services = getattr(request.app.state, "services", None)
        if services is None:
            return await self._serve(request)
        try:
            async with asyncio.timeout(services.settings.api_answer_seconds):
                return await self._serve(request)
        except TimeoutError:
            return _unavailable()

    async def _serve(self, request: Request) -> Response:
        """Serves a seat-map query from the response cache when it can (see
        ``api/response_cache.py``) and answers a hold refused by its seats' claims without
        graphql-core (``api/hold_refusals.py``); everything else goes through ariadne."""
        try:
            data = await self.extract_data_from_request(request)
        except HttpError as error:
            return _bad_request(error.message or str(error.status))
        services = getattr(request.app.state, "services", None)
        if request.method != "POST" or services is None:
            return await super().graphql_http_server(request)
        cache = services.responses
        event_id = cache.event_of(data)
        if event_id is None:
            return await self._maybe_refused_hold(request, data)
        try:
            cached = await cache.lookup(event_id, data)
        except RedisError:
            return await super().graphql_http_server(request)
        if cached.body is not None and cached.current:
            labelled(SEATMAP_READS, "response_cache").inc()
            return Response(cached.body, media_type="application/json")
        if services.backends.down(SEAT_MAP):
            return _unavailable()  # at once, not after the stores' timeouts
        return await cache.single_flight(
            event_id,
            data,
            cached.version,
            lambda: super(HTTPHandler, self).graphql_http_server(request),
            stale=cached.body,
        )

    async def _maybe_refused_hold(self, request: Request, data: dict) -> Response:
        if self._hold_refusals is None:
            self._hold_refusals = HoldRefusals()
        refusals = self._hold_refusals
        plan = refusals.proven(data)
        if plan is not None:
            context = await self.get_context_for_request(request, data)
            body = await refusals.answer(plan, context, data)
            if body is not None:
                return Response(body, media_type="application/json")
        response = await super().graphql_http_server(request)
        query = refusals.unproven(data)
        if query is not None and _answered_cleanly(response):
            refusals.executed(query)
        return response


def _answered_cleanly(response: Response) -> bool:
    """graphql-core ran the query text without errors: the fast path may take it from now."""
    return response.status_code == HTTPStatus.OK and not json.loads(response.body).get("errors")


def _unavailable() -> Response:
    body = {"data": None, "errors": [unavailable().formatted]}
    return JSONResponse(
        body, status_code=HTTPStatus.SERVICE_UNAVAILABLE, headers={"Retry-After": "1"}
    )


def _bad_request(message: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": BAD_USER_INPUT}}]}
    return JSONResponse(body, status_code=HTTPStatus.BAD_REQUEST)


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
