"""Every error leaves as ``{"error": {"code", "message", "details"}}``, mapped here only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from pasar.errors import DomainError, ErrorKind

log = structlog.get_logger()

STATUS: dict[ErrorKind, int] = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "rate_limited": 429,
    "unavailable": 503,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        out.append(
            {
                "field": ".".join(str(p) for p in err.get("loc", ())),
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "invalid"),
            }
        )
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.kind == "unauthorized" else None
        if exc.kind == "rate_limited" and isinstance(exc.details, dict):
            # A rate-limited error says when to come back, in its details and here.
            headers = {"Retry-After": str(exc.details.get("retry_after", 1))}
        return error_response(STATUS[exc.kind], exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(
            422, "validation_failed", "the request is not valid", _field_errors(exc)
        )

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(exc.status_code, code, message, headers=exc.headers)

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        if not _backing_service_down(exc):
            raise exc  # a real bug: on to _unexpected, a 500 with its traceback logged
        # The database or Redis is unreachable (restarting, failing over): say so
        # with a 503 the client may retry, and log one line, not a traceback.
        log.warning("backing service unavailable", path=request.url.path, error=repr(exc))
        return error_response(
            503,
            "service_unavailable",
            "a backing service is unavailable; retry shortly",
            headers={"Retry-After": "1"},
        )

    for kind in (OSError, DBAPIError, RedisError):
        app.add_exception_handler(kind, _unavailable)

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        # A backstop: bodies are bounded (pasar.validation.MAX_JSON_DEPTH) before
        # anything walks them, so this means input nested in a way no bound caught.
        log.warning("request too deeply nested", path=request.url.path, exc_info=exc)
        return error_response(400, "bad_request", "the request is nested too deeply")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        # Its own nosniff: this answer comes from outside Edge (Starlette's
        # ServerErrorMiddleware calls it), which adds one to every other answer.
        return error_response(
            500,
            "internal_error",
            "something went wrong on our side",
            headers={"X-Content-Type-Options": "nosniff"},
        )


def _backing_service_down(exc: BaseException) -> bool:
    """A lost or refused connection to the database or Redis, however wrapped."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, ConnectionError | TimeoutError | RedisConnectionError):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if _sqlstate_says_unavailable(seen):
            return True
        if isinstance(seen, OperationalError | InterfaceError) and (
            "connect" in str(seen).lower() or "closed" in str(seen).lower()
        ):
            return True
        # SQLAlchemy keeps the driver's error in .orig, not always as the cause
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False


# PostgreSQL's "connection exception" class, and the server shutting down or still
# starting up (57P01-57P03): all mean "try again shortly", none is a bug of ours.
_UNAVAILABLE_SQLSTATES = ("57P01", "57P02", "57P03")


def _sqlstate_says_unavailable(error: object) -> bool:
    state = getattr(error, "sqlstate", None)
    return isinstance(state, str) and (state.startswith("08") or state in _UNAVAILABLE_SQLSTATES)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    return {
        s: {"model": ErrorResponse, "description": _HTTP_CODES.get(s, "error")} for s in statuses
    }
