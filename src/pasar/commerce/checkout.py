"""Hand-off to the vendor's checkout: a URL template per vendor.

The template is the vendor's own cart or checkout URL with placeholders that
Pasar fills in, URL-encoded, e.g.
``https://toko.example/cart/add?items={lines}&ref={reservation_ids}``:

- ``{lines}``            ``SKU:quantity`` pairs, comma separated (the variant id
                          when a variant has no SKU)
- ``{reservation_ids}``  the reservations the checkout must confirm, comma separated
- ``{variant_ids}``      Pasar variant ids, comma separated
- ``{show_id}``          the show the shopper bought from (attribution)
- ``{cart_token}``       a short-lived signed token naming a hosted-cart checkout; the
                          vendor's server reads the lines with ``GET /api/v1/carts/{token}``
                          (a template with only this gives a deal claim no URL: the
                          reservation goes through the hosted cart)

Which templates are accepted is ``pasar.url_templates.check_checkout_template`` (the
vendor settings validate with it too).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from pasar.url_templates import check_checkout_template


@dataclass(frozen=True, slots=True)
class Line:
    variant_id: str
    sku: str | None
    quantity: int
    reservation_id: str | None = None


def names_items(template: str) -> bool:
    """Whether the template can carry lines without a hosted cart: a template with
    only ``{cart_token}`` cannot, so a deal claim offers no URL of its own (the
    embed puts the reservation in the hosted cart and checks that out)."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return bool(names & {"lines", "reservation_ids", "variant_ids"})


def is_safe(template: str) -> bool:
    """Whether a stored template may be rendered: one saved before placeholders
    had to be bare (``{lines:>1000000000}``) is treated as no template at all."""
    try:
        check_checkout_template(template)
    except ValueError:
        return False
    return True


def render(template: str, lines: Sequence[Line], show_id: str | None, cart_token: str = "") -> str:
    def joined(values: Sequence[str]) -> str:
        return quote(",".join(values), safe=",:")

    return template.format(
        lines=joined([f"{line.sku or line.variant_id}:{line.quantity}" for line in lines]),
        reservation_ids=joined([line.reservation_id for line in lines if line.reservation_id]),
        variant_ids=joined([line.variant_id for line in lines]),
        show_id=quote(show_id or "", safe=""),
        cart_token=quote(cart_token, safe=""),
    )
