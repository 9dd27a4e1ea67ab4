"""URL templates with ``{name}`` placeholders — the vendor's checkout URL, the
external media server's URLs — accept only bare names from an allowed set.

They are filled with ``str.format``, which obeys format specs and conversions:
``{lines:>1000000000}`` pads to a gigabyte on every render, and ``{x.attr}`` or
``{x[0]}`` reach into the values. None of that is accepted, whoever writes the
template (an operator's setting or a vendor's API call).
"""

from __future__ import annotations

import string
from collections.abc import Collection
from urllib.parse import urlsplit

# The vendor's checkout URL (pasar.commerce.checkout fills it in).
CHECKOUT_PLACEHOLDERS = frozenset(
    {"lines", "reservation_ids", "variant_ids", "show_id", "cart_token"}
)


def placeholders(template: str, allowed: Collection[str]) -> set[str]:
    """The names ``template`` uses, or ValueError naming the placeholder at fault."""
    try:
        parts = [p for p in string.Formatter().parse(template) if p[1] is not None]
    except ValueError as exc:
        raise ValueError(f"the template does not parse: {exc}") from None
    names: set[str] = set()
    for _, name, spec, conversion in parts:
        field = str(name)
        if spec or conversion:
            written = "{" + field + (f"!{conversion}" if conversion else "")
            written += (f":{spec}" if spec else "") + "}"
            raise ValueError(
                f"placeholder {written} has a format spec or conversion, which templates "
                f"do not take: write {{{field}}}"
            )
        if field not in allowed:
            raise ValueError(f"unknown placeholder {{{field}}}; use one of {sorted(allowed)}")
        names.add(field)
    return names


def check_checkout_template(template: str) -> str:
    """The vendor's checkout URL template, or ValueError saying what is wrong with it."""
    try:
        names = placeholders(template, CHECKOUT_PLACEHOLDERS)
    except ValueError as exc:
        raise ValueError(f"the checkout URL template: {exc}") from None
    if not names & {"lines", "reservation_ids", "variant_ids", "cart_token"}:
        raise ValueError(
            "the template needs {lines}, {variant_ids}, {reservation_ids} or {cart_token}"
        )
    parts = urlsplit(template.replace("{", "").replace("}", ""))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("the checkout URL template must be an http(s) URL")
    return template
