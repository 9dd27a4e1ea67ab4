"""The claim's fast handler (pasar.web.fast_claims) answers exactly as the declared
route does, and leaves to the route whatever input it cannot read as the route would."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pasar.web.routes import storefront
from tests.commerce.conftest import Shop

ROUTE = "/api/v1/storefront/deals/{deal_id}/claims"
# A JSON type the route reads as JSON and the fast handler leaves to it.
VIA_ROUTE = "application/vnd.pasar+json"


def _served(app: FastAPI, status: int) -> float:
    metrics = app.state.services.metrics
    return float(metrics.http_requests.labels(ROUTE, "POST", str(status))._value.get())


async def _post(
    shop: Shop, deal_id: str, headers: dict[str, str], body: bytes, content_type: str
) -> httpx.Response:
    return await shop.client.post(
        f"/api/v1/storefront/deals/{deal_id}/claims",
        content=body,
        headers={**headers, "Content-Type": content_type},
    )


def _same(fast: httpx.Response, routed: httpx.Response) -> None:
    assert fast.status_code == routed.status_code, (fast.text, routed.text)
    assert fast.headers.multi_items() == routed.headers.multi_items()
    assert fast.content == routed.content


@pytest.fixture
def route_refuses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The declared route's claim logic fails loudly, so a 2xx proves the fast handler."""
    calls: list[int] = []

    async def refuse(*_: Any, **__: Any) -> Any:
        calls.append(1)
        raise AssertionError("the declared route answered a claim the fast handler should")

    monkeypatch.setattr(storefront, "answer_claim", refuse)
    return calls


async def test_a_claim_is_answered_by_the_fast_handler_under_the_route_label(
    app: FastAPI, shop: Shop, route_refuses: list[int]
) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    before = _served(app, 201)
    r = await shop.claim(deal["id"], await shop.guest(), quantity=1)
    assert r.status_code == 201, r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["access-control-allow-origin"] == "*"
    assert not route_refuses
    assert _served(app, 201) == before + 1


async def test_fast_and_routed_answers_are_byte_for_byte_the_same(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]], quantity=3, per_shopper_limit=1)
    who = await shop.guest()
    key = {"Idempotency-Key": "tap-1"}
    created = await _post(shop, deal["id"], {**who, **key}, b'{"quantity":1}', "application/json")
    assert created.status_code == 201
    # replays (200, Idempotent-Replayed), refusals (409), a missing key (400)
    cases: list[tuple[dict[str, str], bytes]] = [
        ({**who, **key}, b'{"quantity":1}'),
        ({**who, "Idempotency-Key": "tap-2"}, b'{"quantity":1}'),
        ({**who, **key}, b'{"quantity":1,"variant_id":"var_nope"}'),
        (who, b"{}"),
        ({"Idempotency-Key": "tap-3"}, b"{}"),
        ({"X-Pasar-Shopper": "not-a-jwt", **key}, b"{}"),
        ({**who, **key, "Origin": "https://elsewhere.example"}, b"{}"),
    ]
    for headers, body in cases:
        fast = await _post(shop, deal["id"], headers, body, "application/json")
        routed = await _post(shop, deal["id"], headers, body, VIA_ROUTE)
        _same(fast, routed)
    missing = await _post(shop, "deal_nope", who, b"{}", "application/json")
    _same(missing, await _post(shop, "deal_nope", who, b"{}", VIA_ROUTE))
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "content_type", "headers"),
    [
        (b'{"quantity": 0}', "application/json", {}),
        (b'{"quantity": 1, "extra": 1}', "application/json", {}),
        (b'{"quantity": ', "application/json", {}),
        (b"[1]", "application/json", {}),
        (b"", "application/json", {}),
        (b'{"quantity": 1}', "text/plain", {}),
        (b'{"quantity": 1}', "application/json", {"Idempotency-Key": "k" * 256}),
        (b'{"quantity": 1}', "application/json", {"X-Pasar-Guest": "g" * 201}),
    ],
)
async def test_input_the_route_refuses_is_left_to_it(
    shop: Shop, body: bytes, content_type: str, headers: dict[str, str]
) -> None:
    """The body read by the fast handler is replayed to the route, which refuses it
    as it always has (422 in Pasar's error shape)."""
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    who = {**(await shop.guest()), "Idempotency-Key": uuid.uuid4().hex, **headers}
    r = await _post(shop, deal["id"], who, body, content_type)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_failed"


async def test_a_body_that_validates_after_replay_is_claimed_by_the_route(shop: Shop) -> None:
    """A streamed body (no Content-Length) goes to the route whole."""
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    who = {**(await shop.guest()), "Idempotency-Key": uuid.uuid4().hex}

    async def chunks() -> Any:
        yield b'{"quan'
        yield b'tity": 2}'

    r = await shop.client.post(
        f"/api/v1/storefront/deals/{deal['id']}/claims",
        content=chunks(),
        headers={**who, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["quantity"] == 2


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (RuntimeError("secret internal detail: password=hunter2"), 500, "internal_error"),
        (ConnectionRefusedError(111, "Connection refused"), 503, "service_unavailable"),
    ],
)
async def test_errors_are_answered_as_the_stack_would(
    app: FastAPI,
    shop: Shop,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    status: int,
    code: str,
) -> None:
    """Ahead of the app's stack, the fast handler still answers a bug with the app's
    500 (no internals, Edge's and CORS's headers, counted under the route) and a
    backing service that is down with the 503 to retry; byte for byte as routed."""
    from pasar.web import fast_claims

    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    who = {**(await shop.guest()), "Idempotency-Key": "tap-9"}

    async def fail(*_: Any, **__: Any) -> Any:
        raise error

    monkeypatch.setattr(fast_claims, "answer_claim", fail)
    monkeypatch.setattr(storefront, "answer_claim", fail)
    before = _served(app, status)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        path = f"/api/v1/storefront/deals/{deal['id']}/claims"
        fast = await c.post(
            path, content=b"{}", headers={**who, "Content-Type": "application/json"}
        )
        routed = await c.post(path, content=b"{}", headers={**who, "Content-Type": VIA_ROUTE})
    assert fast.status_code == status, fast.text
    assert fast.json()["error"]["code"] == code
    assert "hunter2" not in fast.text
    assert fast.headers["x-content-type-options"] == "nosniff"
    _same(fast, routed)
    assert _served(app, status) == before + 2


async def test_a_nul_in_the_query_is_left_to_the_stack(
    shop: Shop, route_refuses: list[int]
) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    who = {**(await shop.guest()), "Idempotency-Key": uuid.uuid4().hex}
    r = await shop.client.post(
        f"/api/v1/storefront/deals/{deal['id']}/claims?x=%00",
        content=b"{}",
        headers={**who, "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"]["details"][0]["type"] == "nul"
    assert not route_refuses


async def test_with_opentelemetry_on_claims_go_through_the_stack(
    database_url: str, tmp_path: Any
) -> None:
    from pasar.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(database_url, tmp_path / "data", opentelemetry=True))
    assert app.fast_claims is False  # type: ignore[attr-defined]
    assert create_app(make_settings(database_url, tmp_path / "d2")).fast_claims  # type: ignore[attr-defined]
