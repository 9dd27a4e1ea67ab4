"""Anything wrong with products, variants, images or imports."""

from typing import Literal

from pasar.errors import DomainError

# fmt: off
CatalogCode = Literal[
    "not_found",
    "duplicate_sku", "sku_taken", "handle_taken", "external_id_taken",
    "duplicate_variant", "invalid_variant_options", "last_variant",
    "invalid_image", "image_too_large", "invalid_file", "file_too_large",
]
# fmt: on


class CatalogError(DomainError[CatalogCode]):
    """Anything wrong with products, variants, images or imports."""
