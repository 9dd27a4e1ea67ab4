"""What every HTTP request goes through: NUL refusal, metrics, ``nosniff``
(a claim gets the same from ``fast_claims``, which answers it ahead of this).

Plain ASGI on purpose: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``)
runs the rest of the app in a task group behind memory streams, which cost more
per request than a small endpoint does (see docs/benchmarks.md, flash sale).
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pasar.metrics import Metrics
from pasar.validation import NUL
from pasar.web.errors import error_response


class Edge:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what an exception escaping the app becomes

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).setdefault("X-Content-Type-Options", "nosniff")
            await send(message)

        try:
            where = nul_in(scope)
            if where is not None:
                # PostgreSQL can neither store nor compare NUL characters, and no id,
                # search or filter needs one (bodies: pasar.validation).
                message = "NUL characters are not allowed"
                detail = {"field": where, "message": message, "type": "nul"}
                refusal = error_response(
                    422, "validation_failed", "the request is not valid", [detail]
                )
                await refusal(scope, receive, send_with_headers)
                return
            await self.app(scope, receive, send_with_headers)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            count(self.metrics, route, scope["method"], status, started)


def count(metrics: Metrics, route: str, method: str, status: int, started: float) -> None:
    """One answered request in the metrics (``started``: its ``perf_counter``)."""
    metrics.http_requests.labels(route, method, str(status)).inc()
    metrics.http_latency.labels(route).observe(time.perf_counter() - started)


def nul_in(scope: Scope) -> str | None:
    """Where a NUL is in the path or query (decoded), or None."""
    if NUL in scope["path"]:
        return "path"
    raw: bytes = scope.get("query_string", b"")
    if b"\x00" not in raw and b"%00" not in raw:
        return None  # the common case, without decoding the query
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if NUL in name or NUL in value:
            return f"query.{name.replace(NUL, '?')}"
    return None
