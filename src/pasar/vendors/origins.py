"""Which web pages may act for a vendor's shoppers: Pasar's own and the vendor's
allowed embed origins. One rule for the show socket and the Storefront API."""

from __future__ import annotations

from collections.abc import Iterable


def normalised(origin: str) -> str:
    """An origin as compared: no trailing slash, lower case (the scheme and host
    are case-insensitive; an origin has no path)."""
    return origin.rstrip("/").lower()


def allowed_set(allowed_origins: Iterable[str]) -> frozenset[str]:
    return frozenset(normalised(o) for o in allowed_origins)


def page_allowed(origin: str, public_url: str, allowed: frozenset[str]) -> bool:
    """A page on ``origin`` may act for shoppers: Pasar's own pages, or one of the
    vendor's allowed origins (``allowed`` as ``allowed_set`` makes it)."""
    page = normalised(origin)
    return page == normalised(public_url) or page in allowed
