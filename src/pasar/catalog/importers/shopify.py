"""Import a Shopify ``products.json`` export (``{"products": [...]}``).

Variants carry ``option1..3``; prices are decimal strings; descriptions are
HTML and become plain text. Image ``src`` URLs are kept as links (nothing is
downloaded). ``product_url`` is built from ``store_url`` when one is given.
"""

from __future__ import annotations

import json
from typing import Any

from pasar.catalog.importers.base import Candidate
from pasar.catalog.importers.text import html_to_text
from pasar.money import MoneyError, to_minor, validate_currency


class ShopifyFormatError(ValueError):
    pass


def parse_shopify(
    data: bytes, default_currency: str, store_url: str | None = None
) -> list[Candidate]:
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ShopifyFormatError(f"not JSON: {exc}") from exc
    except RecursionError as exc:  # e.g. [[[[…]]]] nested deeper than Python recurses
        raise ShopifyFormatError("not a Shopify export: JSON nested too deeply") from exc
    products = doc.get("products") if isinstance(doc, dict) else doc
    if not isinstance(products, list):
        raise ShopifyFormatError('expected {"products": [...]} as exported by Shopify')
    out = []
    for index, raw in enumerate(products, start=1):
        handle = raw.get("handle") if isinstance(raw, dict) else None
        c = Candidate(line=index, handle=handle if isinstance(handle, str) else None)
        try:
            c.data, c.images = _product(raw, default_currency, store_url)
            c.variant_lines = [index] * len(c.data["variants"])
        except (ValueError, TypeError, KeyError, OverflowError, MoneyError) as exc:
            c.error = getattr(exc, "message", None) or str(exc)
        out.append(c)
    return out


def _product(
    raw: Any, default_currency: str, store_url: str | None
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    if not isinstance(raw, dict):
        raise ValueError("a product must be an object")
    if not str(raw.get("title") or "").strip():
        raise ValueError("title is empty")
    currency = validate_currency(str(raw.get("currency") or default_currency))
    names = [str(o.get("name", "")) for o in raw.get("options") or [] if isinstance(o, dict)]
    if names == ["Title"]:
        names = []
    variants_raw = raw.get("variants") or []
    if not isinstance(variants_raw, list) or not variants_raw:
        raise ValueError("product has no variants")
    variants = []
    for n, v in enumerate(variants_raw, start=1):
        if not isinstance(v, dict):
            raise ValueError("a variant must be an object")
        if v.get("price") in (None, ""):
            raise ValueError(f"variant {n}: price is missing")
        values = [v.get(f"option{i}") for i in range(1, len(names) + 1)]
        for name, val in zip(names, values, strict=True):
            if val is None or not str(val).strip():
                raise ValueError(f"variant {n}: option '{name}' has no value")
        variant: dict[str, Any] = {
            "options": {
                n: str(val) for n, val in zip(names, values, strict=False) if val is not None
            },
            "price": to_minor(str(v.get("price", "")), currency),
            "stock": max(int(v.get("inventory_quantity") or 0), 0),
        }
        if v.get("sku"):
            variant["sku"] = str(v["sku"])
        if v.get("compare_at_price"):
            variant["compare_at_price"] = to_minor(str(v["compare_at_price"]), currency)
        variants.append(variant)
    handle = raw.get("handle")
    data: dict[str, Any] = {
        "title": raw.get("title"),
        "handle": handle,
        "description": html_to_text(str(raw.get("body_html") or "")),
        "status": raw.get("status")
        if raw.get("status") in ("active", "draft", "archived")
        else "active",
        "currency": currency,
        "options": names,
        "variants": variants,
    }
    if raw.get("id") is not None:
        data["external_id"] = f"shopify:{raw['id']}"
    if store_url and handle:
        data["product_url"] = f"{store_url.rstrip('/')}/products/{handle}"
    images = [
        (str(img["src"]), str(img.get("alt") or ""))
        for img in raw.get("images") or []
        if isinstance(img, dict) and str(img.get("src", "")).startswith(("https://", "http://"))
    ]
    return data, images
