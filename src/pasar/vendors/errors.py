"""VendorError: its ``kind`` (mapped to HTTP in one place) and its wire ``code``.

The codes are part of the API (clients branch on them): a ``Literal`` so that a
misspelt or new code is a type error until it is added here on purpose.
"""

from __future__ import annotations

from typing import Any, Literal

from pasar.errors import DomainError, ErrorKind

VendorCode = Literal[
    "busy",
    "choose_vendor",
    "csrf_failed",
    "email_taken",
    "invalid_credentials",
    "invalid_login",
    "invalid_scopes",
    "invalid_slug",
    "last_owner",
    "missing_scope",
    "not_a_session",
    "not_found",
    "own_password",
    "scope_escalation",
    "session_expired",
    "slug_taken",
    "too_many_attempts",
    "unauthenticated",
    "weak_password",
    "wrong_password",
]


class VendorError(DomainError):
    """Anything wrong with vendors, staff, sessions or API keys."""

    code: VendorCode

    def __init__(
        self,
        kind: ErrorKind,
        code: VendorCode,
        message: str,
        details: dict[str, Any] | list[Any] | None = None,
    ) -> None:
        super().__init__(kind, code, message, details)
