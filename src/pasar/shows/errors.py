"""Anything wrong with shows, line-ups, state changes or stream keys."""

from typing import Literal

from pasar.errors import DomainError

# fmt: off
ShowCode = Literal[
    "not_found", "no_show", "forbidden",
    "illegal_transition", "show_live", "show_not_over",
    "duplicate_product", "unknown_products", "unknown_host",
]
# fmt: on


class ShowError(DomainError[ShowCode]):
    """Anything wrong with shows, line-ups, state changes or stream keys."""
