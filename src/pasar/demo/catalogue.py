"""Toko Demo's own catalogue (``products.json``), as the shop keeps it.

Two readers: the seed imports it into Pasar (as a vendor imports their export),
and the demo storefront sells from it. Both derive handles and SKUs here, so the
SKU in the player's ``add-to-cart`` event is one the shop knows: that SKU is the
only link between the two catalogues, as on a real vendor's site.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pasar.catalog.service import slugify
from pasar.money import to_minor

CURRENCY = "IDR"


@dataclass(frozen=True, slots=True)
class ShopVariant:
    sku: str
    options: dict[str, str]
    price: int  # minor units of CURRENCY
    compare_at: int | None
    stock: int

    @property
    def title(self) -> str:
        """ "M / Navy"; empty for a product without options."""
        return " / ".join(self.options.values())


@dataclass(frozen=True, slots=True)
class ShopProduct:
    handle: str
    title: str
    description: str
    options: list[str]
    variants: list[ShopVariant]
    colour: tuple[int, int, int]

    @property
    def price(self) -> int:
        """The lowest price ("from Rp…")."""
        return min(v.price for v in self.variants)

    @property
    def compare_at(self) -> int | None:
        """The undiscounted price of the cheapest variant, when it has one."""
        cheapest = min(self.variants, key=lambda v: v.price)
        return cheapest.compare_at

    @property
    def in_stock(self) -> bool:
        return any(v.stock > 0 for v in self.variants)


def sku_base(title: str) -> str:
    """The shop's SKU prefix: initials of the first three words ("KBT" for batik)."""
    return "".join(w[0] for w in title.split()[:3]).upper()


def product_from(item: dict[str, Any]) -> ShopProduct:
    title = str(item["title"])
    options = [str(o) for o in item["options"]]
    base = sku_base(title)
    variants = [
        ShopVariant(
            sku=f"{base}-{i + 1:02d}",
            options=dict(zip(options, (str(v) for v in values), strict=True)),
            price=to_minor(str(item["price"]), CURRENCY),
            compare_at=to_minor(str(item["compare_at"]), CURRENCY) if item["compare_at"] else None,
            stock=int(item["stock"]),
        )
        for i, values in enumerate(item["values"])
    ]
    r, g, b = (int(c) for c in item["colour"])
    return ShopProduct(
        handle=slugify(title),
        title=title,
        description=str(item["description"]),
        options=options,
        variants=variants,
        colour=(r, g, b),
    )


def load() -> list[ShopProduct]:
    raw = json.loads(resources.files("pasar.demo").joinpath("products.json").read_text())
    return [product_from(item) for item in raw]


__all__ = ["CURRENCY", "ShopProduct", "ShopVariant", "load", "product_from", "sku_base"]
