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
