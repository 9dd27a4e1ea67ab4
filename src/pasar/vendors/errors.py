"""Anything wrong with vendors, staff, sessions or API keys."""

from typing import Literal

from pasar.errors import DomainError

# fmt: off
VendorCode = Literal[
    "not_found", "busy",
    "unauthenticated", "invalid_credentials", "invalid_login", "session_expired", "not_a_session",
    "csrf_failed", "too_many_attempts", "choose_vendor",
    "missing_scope", "invalid_scopes", "scope_escalation", "last_owner",
    "email_taken", "weak_password", "wrong_password", "own_password",
    "invalid_slug", "slug_taken",
]
# fmt: on


class VendorError(DomainError[VendorCode]):
    """Anything wrong with vendors, staff, sessions or API keys."""
