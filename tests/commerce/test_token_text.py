"""Signed tokens carrying non-ASCII text are refused like any bad token (issue 10,
item 7): ``hmac.compare_digest`` raises TypeError on non-ASCII ``str``, which was a 500
for a ``pasar_click`` (orders, cart lines) and a cart token (``GET /carts/{token}``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI

from pasar.commerce import carts, clicks
from pasar.commerce.errors import CommerceError
from tests.commerce.conftest import Shop
from tests.commerce.selling import API, click, running_app, services_of

# A signature, a body and a prefix each with text hmac cannot compare as str.
NON_ASCII = ["é", "ü" * 22, "日本", "\u200b", "\U0001f600"]


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    async with running_app(database_url, tmp_path) as application:
        yield application


def _click_variants(token: str) -> list[str]:
    head, body, mac = token.split(".")
    out = []
    for text in NON_ASCII:
        out += [f"{head}.{body}.{text}", f"{head}.{body}{text}.{mac}", f"{head}.{text}.{mac}"]
    return out


def _cart_variants(token: str) -> list[str]:
    head, checkout_id, expires, mac = token.split(".")
    out = []
    for text in NON_ASCII:
        out += [
            f"{head}.{checkout_id}.{expires}.{text}",
            f"{head}.{checkout_id}{text}.{expires}.{mac}",
            f"{head}.{checkout_id}.{expires}{text}.{mac}",
        ]
    return out


def test_verify_and_read_token_refuse_non_ascii_with_their_usual_error() -> None:
    secret = "s" * 43
    at = datetime.now(UTC)
    token = clicks.sign(secret, clicks.Click("ven_1", "show_1", "prod_1", None, None, None, at))
    for bad in [*_click_variants(token), token + "\ud800"]:  # a lone surrogate cannot encode
        with pytest.raises(CommerceError) as caught:
            clicks.verify(secret, bad, "ven_1")
        assert caught.value.code == "invalid_click", bad
    cart = carts.sign_token(secret, "chk_1", datetime(2100, 1, 1, tzinfo=UTC))
    for bad in [*_cart_variants(cart), cart + "\ud800"]:
        with pytest.raises(CommerceError) as caught:
            carts.read_token(secret, bad, at)
        assert caught.value.code == "not_found", bad


async def test_non_ascii_click_tokens_are_400_invalid_click(app: FastAPI, shop: Shop) -> None:
    token = (await click(shop))["click_token"]
    who = await shop.guest()
    for bad in _click_variants(token):
        order = {
            "order_ref": "INV-1",
            "amount": 38_900_000,
            "currency": "IDR",
            "pasar_click": bad,
            "lines": [{"variant_id": shop.variant_ids[0], "quantity": 1, "unit_price": 38_900_000}],
        }
        # (a lone surrogate, JSON "\\ud800", is already a 422 from pydantic)
        headers = {**shop.vendor.headers, "content-type": "application/json"}
        r = await shop.client.post(f"{API}/orders", content=json.dumps(order), headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_click"), bad
        line = {"variant_id": shop.variant_ids[0], "quantity": 1, "pasar_click": bad}
        r = await shop.client.put(
            f"{API}/storefront/vendors/{shop.vendor.slug}/cart",
            content=json.dumps({"lines": [line]}),
            headers={**who, "content-type": "application/json"},
        )
        assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_click"), bad
    orders = await shop.api("GET", f"{API}/orders")
    assert orders["data"] == []


async def test_non_ascii_cart_tokens_are_404(app: FastAPI, shop: Shop) -> None:
    secret = services_of(app).server_secret
    token = carts.sign_token(secret, "chk_nothing", datetime(2100, 1, 1, tzinfo=UTC))
    await shop.api("GET", f"{API}/carts/{token}", status=404)  # well signed, no such checkout
    for bad in _cart_variants(token):
        r = await shop.api("GET", f"{API}/carts/{bad}", status=404)
        assert r["error"]["code"] == "not_found", bad
