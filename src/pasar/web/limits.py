"""Request body caps, enforced before a body is read into memory.

Everything but uploads is JSON well under a megabyte; uploads get a hard cap
here and their precise, configurable limits (``PASAR_MAX_IMAGE_BYTES``, the
import limit) are checked by the route.
"""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_BODY_BYTES = 1024 * 1024
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


class JsonTooLarge:
    """Starlette's body limiter answers 413 in plain text, outside every exception
    handler; this outermost layer restates it in Pasar's error shape."""

    BODY = json.dumps(
        {
            "error": {
                "code": "too_large",
                "message": "the request body is too large",
                "details": None,
            }
        }
    ).encode()

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replacing = False

        async def send_shaped(message: Message) -> None:
            nonlocal replacing
            if message["type"] == "http.response.start" and message["status"] == 413:
                headers = dict(message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/plain"):
                    replacing = True
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 413,
                            "headers": [
                                (b"content-type", b"application/json"),
                                (b"content-length", str(len(self.BODY)).encode()),
                            ],
                        }
                    )
                    return
            if replacing and message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": self.BODY})
                return
            await send(message)

        await self.app(scope, receive, send_shaped)
