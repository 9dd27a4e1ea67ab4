"""The base of every domain's error type.

Each domain raises its own subclass (``CatalogError``, ``ShowError`` …) with a
``kind`` saying what went wrong in terms the web layer can map to HTTP in one
place (``pasar.web.errors``). Domains never know about status codes.
"""

from __future__ import annotations

from typing import Any, Literal

ErrorKind = Literal[
    "invalid",
    "not_found",
    "conflict",
    "unauthorized",
    "forbidden",
    "too_large",
    "rate_limited",
    "unavailable",
]


class DomainError(Exception):
    def __init__(
        self,
        kind: ErrorKind,
        code: str,
        message: str,
        details: dict[str, Any] | list[Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.details = details

    @classmethod
    def not_found(cls, what: str) -> DomainError:
        return cls("not_found", "not_found", f"{what} not found")
