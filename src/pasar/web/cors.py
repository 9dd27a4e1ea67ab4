"""CORS for the Storefront API: any origin, no credentials.

Shoppers identify with explicit headers (``X-Pasar-Guest``/``X-Pasar-Shopper``),
never cookies, so a page on any origin gains nothing it could not do with its
own token; the vendor's allowed origins guard the embed and the socket instead.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/api/v1/storefront/"
ALLOW_HEADERS = b"Content-Type, Idempotency-Key, If-None-Match, X-Pasar-Guest, X-Pasar-Shopper"
PREFLIGHT = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, POST, PUT, DELETE, OPTIONS"),
    (b"access-control-allow-headers", ALLOW_HEADERS),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]
EXPOSE = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"ETag, Idempotent-Replayed, Retry-After"),
]


class StorefrontCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": PREFLIGHT})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *EXPOSE]
            await send(message)

        await self.app(scope, receive, send_with_cors)
