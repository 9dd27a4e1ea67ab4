"""``POST /api/v1/storefront/deals/{deal_id}/claims`` ahead of the app's stack.

During a flash sale nearly every request is a claim. FastAPI's machinery
(routing through included routers, three body-limit layers, dependency
solving, ``Request`` objects, exception wrappers) cost more CPU per claim than
the claim itself, and after that was bypassed the eleven ASGI layers still
around it (each wrapping ``send``) were a quarter of a recorded claim's server
CPU (docs/benchmarks.md, flash sale). So this plain ASGI layer sits outermost
(only the trusted-proxy layer, which sets the client's address, is outside it)
and does for a claim what those layers would: the Storefront's CORS headers,
``nosniff``, the request counted under the route's own label, the app's
exception handlers, and for an error none handles the app's 500 (then raised
on, as Starlette's ``ServerErrorMiddleware`` does).

It answers a claim whose input it can read exactly as FastAPI would: a
``Content-Length`` body of JSON sent as ``application/json`` that ``ClaimIn``
accepts, headers within the route's bounds, no NUL in the path or query.
Everything else (bad JSON, a body that does not validate, an odd content type,
a streamed body, another method) goes on to the app's stack untouched, with
the body read so far replayed, and is answered there; nothing is counted or
looked up before that decision, so a request is answered by exactly one of the
two. Both call ``pasar.web.claiming.answer_claim``.

With FastAPI's OpenTelemetry on (``PASAR_OPENTELEMETRY``) the app does not
install this layer: every claim then goes through the stack and is traced.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette._utils import get_route_path
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pasar.commerce.schemas import ClaimIn
from pasar.netaddr import client_key
from pasar.services import Services
from pasar.web.claiming import Answer, answer_claim
from pasar.web.cors import EXPOSE
from pasar.web.edge import count, nul_in
from pasar.web.shopper import ShopperCredentials

# Bigger bodies go the declared route's way (a claim's body is a few dozen bytes):
# the body read here is replayed to it, and the app's byte counter must never see
# a replayed body come near its limit.
FAST_BODY_BYTES = 4096
# The declared route's header bounds (longer: its 422).
HEADER_BOUNDS = {
    b"idempotency-key": 255,
    b"x-pasar-guest": 200,
    b"x-pasar-shopper": 4000,
}
_WANTED = frozenset((b"content-length", b"content-type", b"origin", *HEADER_BOUNDS))
_JSON = b"application/json"
# What Edge and StorefrontCors add to every claim's answer, in their order.
_EDGE_HEADERS = [(b"x-content-type-options", b"nosniff"), *EXPOSE]


def claim_route(app: FastAPI) -> APIRoute:
    """The declared claim route (its path is the metrics' label, its regex the match)."""
    from pasar.web.routes import storefront

    for route in storefront.router.routes:
        if isinstance(route, APIRoute) and route.endpoint is storefront.claim:
            return route
    raise LookupError("the claim route is not declared")


class FastClaims:
    def __init__(self, app: ASGIApp, fastapi: FastAPI) -> None:
        self.app = app
        self.fastapi = fastapi
        self.route = claim_route(fastapi)
        self._handlers: dict[Any, Callable[..., Any]] | None = None

    @property
    def services(self) -> Services:
        services: Services = self.fastapi.state.services
        return services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].endswith("/claims")
        ):
            await self.app(scope, receive, send)
            return
        found = self.route.path_regex.match(get_route_path(scope))
        headers = _headers(scope) if found else None
        if found is None or headers is None or nul_in(scope) is not None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        messages, body = await _read_body(receive)
        parsed = _parse(body) if body is not None else None
        if parsed is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        deal_id = found.group("deal_id")
        # What the router would have set, for the exception handlers' Request.
        scope["route"] = self.route
        scope["endpoint"] = self.route.endpoint
        scope["path_params"] = {"deal_id": deal_id}
        client = scope.get("client")
        shopper = ShopperCredentials(
            self.services,
            headers.get(b"x-pasar-guest"),
            headers.get(b"x-pasar-shopper"),
            headers.get(b"origin"),
        )
        status = 500  # what an exception escaping the handlers becomes
        try:
            answer = await answer_claim(
                self.services,
                client_key(client[0] if client else None),
                deal_id,
                parsed,
                shopper,
                headers.get(b"idempotency-key"),
            )
        except Exception as exc:
            status = await self._handle(exc, scope, receive, send)
        else:
            status = answer.status
            await _send_json(send, answer)
        finally:
            count(self.services.metrics, self.route.path, "POST", status, started)

    async def _handle(self, exc: Exception, scope: Scope, receive: Receive, send: Send) -> int:
        """As the app's stack would: the app's handler for the error's class
        answers; none (or a handler raising) gets the app's 500, then the error
        goes on up (the server logs it, as after ``ServerErrorMiddleware``).
        Returns the status sent."""
        if self._handlers is None:
            self._handlers = {
                k: v
                for k, v in self.fastapi.exception_handlers.items()
                if k not in (500, Exception)
            }
        handler = next(
            (self._handlers[cls] for cls in type(exc).__mro__ if cls in self._handlers), None
        )
        sent = [500]

        async def send_as_edge(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent[0] = message["status"]
                MutableHeaders(scope=message).setdefault("X-Content-Type-Options", "nosniff")
                message["headers"] = [*message["headers"], *EXPOSE]
            await send(message)

        request = Request(scope, receive)
        try:
            if handler is None:
                raise exc
            response = await handler(request, exc)
        except Exception as unhandled:
            unexpected: Callable[..., Any] | None = self.fastapi.exception_handlers.get(Exception)
            if unexpected is not None:
                response = await unexpected(request, unhandled)
                await response(scope, receive, send_as_edge)
            raise
        await response(scope, receive, send_as_edge)
        exc.__traceback__ = None  # as Starlette: a reused exception would accumulate them
        return sent[0]


def _headers(scope: Scope) -> dict[bytes, str] | None:
    """The headers a claim reads (the first of each, as FastAPI takes), or None when
    the request is not one this layer answers exactly as the route would."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _WANTED and name not in found:
            found[name] = value.decode("latin-1")
    length = found.pop(b"content-length", "")
    if not (length.isascii() and length.isdigit()) or int(length) > FAST_BODY_BYTES:
        return None
    kind = found.pop(b"content-type", "").encode("latin-1")
    if kind.split(b";", 1)[0].strip().lower() != _JSON:
        return None
    for name, bound in HEADER_BOUNDS.items():
        if len(found.get(name, "")) > bound:
            return None
    return found


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages received and the whole body (None: the client went away, or
    the body is bigger than announced)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if size > FAST_BODY_BYTES:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def _parse(body: bytes) -> ClaimIn | None:
    """The body as the route would read it (``json.loads``, then ``ClaimIn``), or
    None for whatever the route would refuse (it says how)."""
    if not body:
        return None
    try:
        return ClaimIn.model_validate(json.loads(body))
    except (ValueError, ValidationError, RecursionError, TypeError):
        return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` for the route: what was read here first, then the client's."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _send_json(send: Send, answer: Answer) -> None:
    """The bytes and headers ``JSONResponse`` sends, without building one."""
    body = json.dumps(
        answer.body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")
    raw = [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in (answer.headers or {}).items()
    ]
    raw.append((b"content-length", str(len(body)).encode("latin-1")))
    raw.append((b"content-type", b"application/json"))
    raw.extend(_EDGE_HEADERS)
    await send({"type": "http.response.start", "status": answer.status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
