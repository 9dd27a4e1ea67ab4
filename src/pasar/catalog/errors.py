"""CatalogError: its ``kind`` (mapped to HTTP in one place) and its wire ``code``.

The codes are part of the API (clients branch on them): a ``Literal`` so that a
misspelt or new code is a type error until it is added here on purpose.
"""

from __future__ import annotations

from typing import Any, Literal

from pasar.errors import DomainError, ErrorKind

CatalogCode = Literal[
    "duplicate_sku",
    "duplicate_variant",
    "external_id_taken",
    "file_too_large",
    "handle_taken",
    "image_too_large",
    "invalid_file",
    "invalid_image",
    "invalid_variant_options",
    "last_variant",
    "not_found",
    "sku_taken",
]


class CatalogError(DomainError):
    """Anything wrong with products, variants, images or imports."""

    code: CatalogCode

    def __init__(
        self,
        kind: ErrorKind,
        code: CatalogCode,
        message: str,
        details: dict[str, Any] | list[Any] | None = None,
    ) -> None:
        super().__init__(kind, code, message, details)
