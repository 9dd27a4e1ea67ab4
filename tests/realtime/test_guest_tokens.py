"""Guest tokens (``X-Pasar-Guest``, the show socket's ``guest``): signed, refused
cleanly when forged or malformed."""

from __future__ import annotations

import httpx
import pytest

from pasar.realtime.identity import IdentityError, guest_from_token, new_guest
from tests.conftest import VendorCtx

SECRET = "a-server-secret-of-some-length-0000"

NON_ASCII = [
    "g1.abcdefghij.é" + "A" * 23,
    "g1.abcdéfghij.AAAAAAAAAAAAAAAAAAAAAAAA",
    "g1.☃☃☃☃☃☃☃☃.☃",
]


@pytest.mark.parametrize("token", NON_ASCII)
def test_non_ascii_guest_tokens_are_refused_not_crashed(token: str) -> None:
    with pytest.raises(IdentityError):
        guest_from_token(SECRET, token)


def test_a_minted_token_names_the_same_guest() -> None:
    who = new_guest(SECRET)
    assert who.guest_token is not None
    assert guest_from_token(SECRET, who.guest_token).id == who.id


@pytest.mark.parametrize("token", NON_ASCII)
async def test_a_non_ascii_guest_header_is_a_401(
    client: httpx.AsyncClient, vendor: VendorCtx, token: str
) -> None:
    r = await client.get(
        f"/api/v1/storefront/vendors/{vendor.slug}/cart",
        headers={"X-Pasar-Guest": token.encode()},  # type: ignore[dict-item]
    )
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "bad_shopper_token"
