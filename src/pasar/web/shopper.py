"""Who a Storefront API request acts for: a guest or a shopper the vendor vouches for.

A guest is named by the signed guest token the show socket hands out (or
``POST /storefront/guests``), sent as ``X-Pasar-Guest``; a vouched shopper by a
short-lived JWT signed with the vendor's shopper secret, sent as
``X-Pasar-Shopper``. Which vendor's secret applies (and which embed origins may
act) is known only once the route has looked up the deal, reservation or shop,
so the dependency gathers the headers and ``ShopperCredentials.for_vendor``
checks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header

from pasar.commerce.claims import Shopper
from pasar.commerce.errors import CommerceError
from pasar.engagement import identity
from pasar.services import Services
from pasar.web.deps import get_services

GuestHeader = Annotated[
    str | None,
    Header(
        alias="X-Pasar-Guest",
        max_length=200,
        description="A guest token (from the show socket's snapshot or POST /storefront/guests).",
    ),
]
ShopperHeader = Annotated[
    str | None,
    Header(
        alias="X-Pasar-Shopper",
        max_length=4000,
        description="A shopper token your site signs (HS256 JWT with `sub`, `exp`).",
    ),
]
# The page a browser sends the request from: shopper actions only from Pasar's own
# pages and the vendor's allowed embed origins (no Origin: not a browser, allowed).
OriginHeader = Annotated[str | None, Header(alias="Origin", include_in_schema=False)]


def guest_identity(services: Services, token: str) -> identity.Identity:
    """The guest an ``X-Pasar-Guest`` token names (with a renewed token), or 401."""
    try:
        return identity.guest_from_token(
            services.server_secret, token, services.settings.guest_token_lifetime_s
        )
    except identity.GuestTokenExpired as exc:
        raise CommerceError("unauthorized", "guest_token_expired", str(exc)) from exc
    except identity.IdentityError as exc:
        raise CommerceError("unauthorized", "bad_shopper_token", str(exc)) from exc


@dataclass(frozen=True, slots=True)
class ShopperCredentials:
    """The shopper headers of one request, checked against a vendor on demand."""

    services: Services
    guest: str | None
    token: str | None
    origin: str | None

    @property
    def given(self) -> bool:
        return bool(self.guest or self.token)

    async def for_vendor(self, vendor_id: str) -> Shopper:
        """The shopper acting at this vendor, from a page the vendor allows; 401/403 else."""
        commerce = self.services.commerce
        await commerce.check_origin(vendor_id, self.origin)
        try:
            if self.token:
                who = identity.shopper_from_jwt(
                    await commerce.shopper_secret(vendor_id), self.token
                )
                return Shopper(who.id, signed_in=True)
        except identity.IdentityError as exc:
            raise CommerceError("unauthorized", "bad_shopper_token", str(exc)) from exc
        if self.guest:
            return Shopper(guest_identity(self.services, self.guest).id, False)
        raise CommerceError(
            "unauthorized",
            "shopper_required",
            "send X-Pasar-Guest (a guest token) or X-Pasar-Shopper (a token your site signs)",
        )


async def shopper_credentials(
    services: Annotated[Services, Depends(get_services)],
    guest: GuestHeader = None,
    shopper_token: ShopperHeader = None,
    origin: OriginHeader = None,
) -> ShopperCredentials:
    return ShopperCredentials(services, guest, shopper_token, origin)


ShopperDep = Annotated[ShopperCredentials, Depends(shopper_credentials)]
