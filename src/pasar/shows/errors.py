"""ShowError: its ``kind`` (mapped to HTTP in one place) and its wire ``code``.

The codes are part of the API (clients branch on them): a ``Literal`` so that a
misspelt or new code is a type error until it is added here on purpose.
"""

from __future__ import annotations

from typing import Any, Literal

from pasar.errors import DomainError, ErrorKind

ShowCode = Literal[
    "duplicate_product",
    "forbidden",
    "illegal_transition",
    "no_show",
    "not_found",
    "show_live",
    "show_not_over",
    "unknown_host",
    "unknown_products",
]


class ShowError(DomainError):
    """Anything wrong with shows, line-ups, state changes or stream keys."""

    code: ShowCode

    def __init__(
        self,
        kind: ErrorKind,
        code: ShowCode,
        message: str,
        details: dict[str, Any] | list[Any] | None = None,
    ) -> None:
        super().__init__(kind, code, message, details)
