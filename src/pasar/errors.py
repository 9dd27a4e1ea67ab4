"""The base of every domain's error type.

Each domain raises its own subclass (``CatalogError``, ``ShowError`` …) with a
``kind`` saying what went wrong in terms the web layer can map to HTTP in one
place (``pasar.web.errors``). Domains never know about status codes.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, cast

from typing_extensions import TypeVar

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


Details = dict[str, Any] | list[Any] | None
# A domain's codes: a ``Literal`` (``CommerceCode`` …). The codes are part of the API
# (clients branch on them), so a misspelt or new one is a type error until it is
# listed on purpose. Every domain's codes include "not_found".
Code = TypeVar("Code", bound=str, default=str, covariant=True)


class DomainError(Exception, Generic[Code]):
    def __init__(self, kind: ErrorKind, code: Code, message: str, details: Details = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code: Code = code
        self.message = message
        self.details = details

    @classmethod
    def not_found(cls, what: str) -> DomainError:
        return cls("not_found", cast(Code, "not_found"), f"{what} not found")
