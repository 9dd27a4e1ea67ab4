"""CSV import. One row per variant; rows with the same handle form one product.

Pasar's own headers (``handle, title, description, status, product_url,
currency, option1_name, option1_value, …, sku, price, compare_at_price, stock,
image_src``) and the headers of a Shopify product CSV export (``Handle``,
``Option1 Name``, ``Variant Price`` …) are both understood. Prices are decimal
amounts in the currency's major unit (``149000.00``), as people write them.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from pasar.catalog.importers.base import Candidate
from pasar.catalog.importers.text import html_to_text
from pasar.catalog.service import slugify
from pasar.money import MoneyError, to_minor, validate_currency

ALIASES = {
    "body (html)": "description_html",
    "body_html": "description_html",
    "variant sku": "sku",
    "variant price": "price",
    "variant compare at price": "compare_at_price",
    "variant inventory qty": "stock",
    "image src": "image_src",
    "image alt text": "image_alt",
    "product url": "product_url",
}
OPTION_RE = re.compile(r"^option\s*(\d+)[ _](name|value)$")
MAX_BYTES = 20 * 1024 * 1024
# Text that a browser would read as the start of a tag: the plain `description`
# column is treated as HTML when it has any, so no markup survives an import.
_MARKUP_RE = re.compile(r"<[A-Za-z/!?]")


class CsvFormatError(ValueError):
    """The file is not CSV at all (not one bad row): the whole import is refused."""


def _key(header: str) -> str:
    h = header.strip().lower()
    if h in ALIASES:
        return ALIASES[h]
    m = OPTION_RE.match(h)
    if m:
        return f"option{m.group(1)}_{m.group(2)}"
    return h.replace(" ", "_")


def _stock(raw: str) -> int:
    raw = raw.strip()
    if not raw:
        return 0
    if not re.fullmatch(r"-?\d{1,10}", raw):
        raise ValueError(f"stock '{raw}' is not a whole number")
    return max(int(raw), 0)  # Shopify exports oversold items as negative stock


def parse_csv(data: bytes, default_currency: str) -> list[Candidate]:
    text = data.decode("utf-8-sig", errors="strict")
    if "\x00" in text:  # no text needs one, and PostgreSQL cannot store it
        raise CsvFormatError("the file has NUL characters: is it a spreadsheet, not CSV?")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _parse_rows(reader, default_currency)
    except csv.Error as exc:
        raise CsvFormatError(f"not a readable CSV file (line {reader.line_num}): {exc}") from exc


def _parse_rows(reader: Any, default_currency: str) -> list[Candidate]:
    try:
        header = next(reader)
    except StopIteration:
        return []
    keys = [_key(h) for h in header]
    if "handle" not in keys and "title" not in keys:
        return [
            Candidate(line=1, handle=None, error="the header needs a 'handle' or 'title' column")
        ]
    option_numbers = sorted({int(m.group(1)) for k in keys if (m := OPTION_RE.match(k))})
    by_handle: dict[str, Candidate] = {}
    order: list[Candidate] = []
    has_title = "title" in keys
    end = reader.line_num
    for row in reader:
        # A quoted cell may span lines (Shopify's Body (HTML) often does); a row's
        # line is where it starts, as an editor shows it, not where it ends.
        line, end = end + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(keys, (c.strip() for c in row), strict=False))
        handle = cells.get("handle") or (slugify(cells["title"]) if cells.get("title") else "")
        if not handle:
            order.append(
                Candidate(line=line, handle=None, error="row has neither handle nor title")
            )
            continue
        c = by_handle.get(handle)
        if c is None:
            c = Candidate(line=line, handle=handle)
            by_handle[handle] = c
            order.append(c)
            try:
                c.data = _product(cells, handle, option_numbers, default_currency, has_title)
            except (ValueError, MoneyError) as exc:
                c.error = getattr(exc, "message", str(exc))
                continue
        if c.error or c.data is None:
            continue
        try:
            if (
                cells.get("sku")
                or cells.get("price")
                or any(cells.get(f"option{n}_value") for n in option_numbers)
            ):
                c.data["variants"].append(_variant(cells, c.data, option_numbers))
                c.variant_lines.append(line)
        except (ValueError, MoneyError) as exc:
            c.error = getattr(exc, "message", str(exc))
            c.line = line
            continue
        if cells.get("image_src"):
            c.images.append((cells["image_src"], cells.get("image_alt", "")))
    for c in order:
        if c.error is None and c.data is not None and not c.data["variants"]:
            c.error = "product has no variants (no row with a price, SKU or option value)"
    return order


def _product(
    cells: dict[str, str],
    handle: str,
    options: list[int],
    default_currency: str,
    has_title: bool,
) -> dict[str, Any]:
    if has_title and not cells.get("title"):
        raise ValueError("title is empty")
    description = cells.get("description") or html_to_text(cells.get("description_html", ""))
    if _MARKUP_RE.search(description):
        description = html_to_text(description)
    status = (cells.get("status") or "active").lower()
    names = [cells[f"option{n}_name"] for n in options if cells.get(f"option{n}_name")]
    if names == ["Title"]:  # Shopify's name for "this product has no options"
        names = []
    data: dict[str, Any] = {
        "handle": handle,
        "title": cells.get("title") or handle,
        "description": description,
        "status": status,
        "currency": validate_currency(cells.get("currency") or default_currency),
        "options": names,
        "variants": [],
    }
    if cells.get("product_url"):
        data["product_url"] = cells["product_url"]
    return data


def _variant(cells: dict[str, str], product: dict[str, Any], options: list[int]) -> dict[str, Any]:
    currency = product["currency"]
    names: list[str] = product["options"]
    values = [cells.get(f"option{n}_value", "") for n in options][: len(names)]
    for name, value in zip(names, values, strict=False):
        if not value:
            raise ValueError(f"option '{name}' has no value")
    price = cells.get("price", "")
    if not price:
        raise ValueError("price is missing")
    variant: dict[str, Any] = {
        "options": dict(zip(names, values, strict=False)),
        "price": to_minor(price, currency),
        "stock": _stock(cells.get("stock", "")),
    }
    if cells.get("sku"):
        variant["sku"] = cells["sku"]
    if cells.get("compare_at_price"):
        variant["compare_at_price"] = to_minor(cells["compare_at_price"], currency)
    return variant
