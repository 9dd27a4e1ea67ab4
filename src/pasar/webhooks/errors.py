"""WebhookError: its ``kind`` (mapped to HTTP in one place) and its wire ``code``.

The codes are part of the API (clients branch on them): a ``Literal`` so that a
misspelt or new code is a type error until it is added here on purpose.
"""

from __future__ import annotations

from typing import Any, Literal

from pasar.errors import DomainError, ErrorKind

WebhookCode = Literal[
    "attempt_in_flight",
    "endpoint_disabled",
    "invalid_url",
    "not_found",
    "url_not_allowed",
]


class WebhookError(DomainError):
    """Anything wrong with webhook endpoints, secrets or deliveries."""

    code: WebhookCode

    def __init__(
        self,
        kind: ErrorKind,
        code: WebhookCode,
        message: str,
        details: dict[str, Any] | list[Any] | None = None,
    ) -> None:
        super().__init__(kind, code, message, details)
