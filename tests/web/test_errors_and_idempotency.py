"""The error envelope every failure shares, and Idempotency-Key on creating POSTs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from pasar.db.idempotency import IdempotencyRecord
from tests.conftest import MakeVendor, VendorCtx, product_body

PRODUCTS = "/api/v1/products"
SHOWS = "/api/v1/shows"


def envelope(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert the one error shape: {"error": {"code", "message", "details"}} and nothing else."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    payload = r.json()
    assert set(payload) == {"error"}
    body: dict[str, Any] = payload["error"]
    assert set(body) == {"code", "message", "details"}
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body


async def count_products(client: httpx.AsyncClient, vendor: VendorCtx) -> int:
    r = await client.get(PRODUCTS, params={"limit": 100}, headers=vendor.headers)
    return len(r.json()["data"])


async def count_shows(client: httpx.AsyncClient, vendor: VendorCtx) -> int:
    r = await client.get(SHOWS, params={"limit": 100}, headers=vendor.headers)
    return len(r.json()["data"])


# --------------------------------------------------------------------------- error shape


async def test_every_kind_of_error_has_the_same_shape(
    client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    vendor = await make_vendor()
    r = await client.post(
        "/api/v1/api-keys", json={"name": "r", "scopes": ["catalog:read"]}, headers=vendor.headers
    )
    reader = {"Authorization": f"Bearer {r.json()['key']}"}
    created = await client.post(PRODUCTS, json=product_body(), headers=vendor.headers)
    pid = created.json()["id"]

    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("GET", PRODUCTS, {}, 401, "unauthenticated"),
        (
            "GET",
            PRODUCTS,
            {"headers": {"Authorization": "Bearer pk_x"}},
            401,
            "invalid_credentials",
        ),
        ("POST", PRODUCTS, {"headers": reader, "json": product_body()}, 403, "missing_scope"),
        ("GET", f"{PRODUCTS}/prod_missing", {"headers": vendor.headers}, 404, "not_found"),
        ("GET", "/api/v1/no-such-thing", {"headers": vendor.headers}, 404, "not_found"),
        ("GET", "/no-such-page", {}, 404, "not_found"),
        ("DELETE", PRODUCTS, {"headers": vendor.headers}, 405, "method_not_allowed"),
        (
            "POST",
            PRODUCTS,
            {"headers": vendor.headers, "json": product_body(handle="other")},
            409,
            "sku_taken",
        ),
        ("POST", PRODUCTS, {"headers": vendor.headers, "json": {}}, 422, "validation_failed"),
        ("GET", PRODUCTS, {"headers": vendor.headers, "params": {"cursor": "!"}}, 400, None),
        (
            "POST",
            f"{PRODUCTS}/{pid}/images",
            {"headers": vendor.headers, "files": {"file": ("a.txt", b"hello", "text/plain")}},
            400,
            "invalid_image",
        ),
        (
            "POST",
            f"{SHOWS}",
            {"headers": vendor.headers, "json": {"title": "x", "product_ids": ["prod_x"]}},
            400,
            "unknown_products",
        ),
        (
            "POST",
            "/api/v1/auth/login",
            {"json": {"email": "a@b.example", "password": "x"}},
            401,
            "invalid_login",
        ),
    ]
    for method, url, kwargs, status, code in cases:
        r = await client.request(method, url, **kwargs)
        envelope(r, status, code)


async def test_unknown_route_is_404_in_the_error_shape(client: httpx.AsyncClient) -> None:
    body = envelope(await client.get("/api/v1/nothing/here"), 404, "not_found")
    assert body["details"] is None
    envelope(await client.post("/api/v1/nothing", json={}), 404, "not_found")


async def test_422_lists_every_field_path(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    r = await client.post(
        PRODUCTS,
        json={
            "title": "",
            "status": "gone",
            "surprise": 1,
            "variants": [
                {"options": {"Size": "M"}, "price": 1},
                {"options": {"Size": "x" * 121}, "price": -5, "stock": "many"},
            ],
        },
        headers=vendor.headers,
    )
    body = envelope(r, 422, "validation_failed")
    assert body["message"] == "the request is not valid"
    fields = {d["field"] for d in body["details"]}
    assert {
        "body.title",
        "body.status",
        "body.surprise",
        "body.variants.1.options.Size",
        "body.variants.1.price",
        "body.variants.1.stock",
    } <= fields
    for d in body["details"]:
        assert set(d) == {"field", "message", "type"}
        assert d["message"] and d["type"]
    assert await count_products(client, vendor) == 0

    r = await client.get(PRODUCTS, params={"limit": 0, "status": "x"}, headers=vendor.headers)
    fields = {d["field"] for d in envelope(r, 422)["details"]}
    assert fields == {"query.limit", "query.status"}


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"title": "x", ', "application/json"),
        (b"{'title': 'x'}", "application/json"),
        (b"", "application/json"),
        (b"null", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b'{"title": "x", "variants": [{"price": NaN}]}', "application/json"),
        (b'{"title": "x", "variants": [{"price": 1e400}]}', "application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        (b"title=x", "application/x-www-form-urlencoded"),
        (b"<product/>", "application/xml"),
    ],
)
async def test_malformed_bodies_are_4xx_not_500(
    client: httpx.AsyncClient, vendor: VendorCtx, content: bytes, content_type: str
) -> None:
    r = await client.post(
        PRODUCTS, content=content, headers={**vendor.headers, "Content-Type": content_type}
    )
    assert 400 <= r.status_code < 500, r.text
    envelope(r, r.status_code)
    assert await count_products(client, vendor) == 0


async def test_unexpected_errors_are_500_without_internals(
    app: FastAPI, vendor: VendorCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pasar.web.routes import catalog as routes

    async def boom(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret internal detail: password=hunter2")

    monkeypatch.setattr(routes.catalog, "get_product", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.get(f"{PRODUCTS}/prod_x", headers=vendor.headers)
    body = envelope(r, 500, "internal_error")
    assert r.headers["x-content-type-options"] == "nosniff"  # it comes from outside Edge
    assert "hunter2" not in r.text and "RuntimeError" not in r.text
    assert body["details"] is None


# --------------------------------------------------------------------------- idempotency


async def test_same_key_same_body_replays_the_first_answer(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    headers = {**vendor.headers, "Idempotency-Key": "create-batik-1"}
    first = await client.post(PRODUCTS, json=product_body(), headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    for _ in range(2):
        again = await client.post(PRODUCTS, json=product_body(), headers=headers)
        assert again.status_code == 201, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
    assert await count_products(client, vendor) == 1


async def test_same_key_different_body_is_409(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    headers = {**vendor.headers, "Idempotency-Key": "k-1"}
    first = await client.post(PRODUCTS, json=product_body(), headers=headers)
    assert first.status_code == 201
    r = await client.post(PRODUCTS, json=product_body(title="Another"), headers=headers)
    body = envelope(r, 409, "idempotency_key_reused")
    assert "Idempotency-Key" in body["message"]
    # The same key on another endpoint is a different request too.
    r = await client.post(SHOWS, json={"title": "x"}, headers=headers)
    envelope(r, 409, "idempotency_key_reused")
    assert await count_products(client, vendor) == 1
    assert await count_shows(client, vendor) == 0
    # The first answer is still what the key replays.
    again = await client.post(PRODUCTS, json=product_body(), headers=headers)
    assert again.json() == first.json()


async def test_keys_are_per_vendor(client: httpx.AsyncClient, make_vendor: MakeVendor) -> None:
    a = await make_vendor()
    b = await make_vendor()
    ra = await client.post(
        PRODUCTS, json=product_body(), headers={**a.headers, "Idempotency-Key": "shared"}
    )
    rb = await client.post(
        PRODUCTS, json=product_body(), headers={**b.headers, "Idempotency-Key": "shared"}
    )
    assert ra.status_code == rb.status_code == 201, rb.text
    assert "idempotent-replayed" not in rb.headers
    assert rb.json()["id"] != ra.json()["id"]
    assert await count_products(client, a) == 1
    assert await count_products(client, b) == 1
    rb_show = await client.post(
        SHOWS, json={"title": "x"}, headers={**b.headers, "Idempotency-Key": "shared"}
    )
    envelope(rb_show, 409, "idempotency_key_reused")  # B's own earlier use counts, A's does not


async def test_without_a_key_every_post_creates(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    for _ in range(2):
        r = await client.post(SHOWS, json={"title": "same"}, headers=vendor.headers)
        assert r.status_code == 201
    assert await count_shows(client, vendor) == 2


async def test_failed_requests_are_not_remembered(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    headers = {**vendor.headers, "Idempotency-Key": "retry-after-fix"}
    bad = product_body(currency="ZZZ")
    envelope(await client.post(PRODUCTS, json=bad, headers=headers), 400, "invalid_currency")
    envelope(await client.post(PRODUCTS, json=bad, headers=headers), 400, "invalid_currency")
    r = await client.post(PRODUCTS, json=product_body(), headers=headers)
    assert r.status_code == 201, r.text
    assert "idempotent-replayed" not in r.headers
    assert await count_products(client, vendor) == 1


async def test_replays_cover_shows_and_variants(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    headers = {**vendor.headers, "Idempotency-Key": "show-1"}
    s1 = await client.post(SHOWS, json={"title": "x"}, headers=headers)
    s2 = await client.post(SHOWS, json={"title": "x"}, headers=headers)
    assert s1.status_code == s2.status_code == 201
    assert s2.json() == s1.json()
    assert await count_shows(client, vendor) == 1

    pid = (await client.post(PRODUCTS, json=product_body(), headers=vendor.headers)).json()["id"]
    headers = {**vendor.headers, "Idempotency-Key": "variant-1"}
    body = {"sku": "KB-XL", "options": {"Size": "XL"}, "price": 1}
    v1 = await client.post(f"{PRODUCTS}/{pid}/variants", json=body, headers=headers)
    v2 = await client.post(f"{PRODUCTS}/{pid}/variants", json=body, headers=headers)
    assert v1.status_code == v2.status_code == 201, v2.text
    assert v2.headers["idempotent-replayed"] == "true"
    assert v2.json() == v1.json()
    product = (await client.get(f"{PRODUCTS}/{pid}", headers=vendor.headers)).json()
    assert [v["sku"] for v in product["variants"]] == ["KB-M", "KB-L", "KB-XL"]


async def test_concurrent_retries_create_once(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    """Two copies of one request in flight at once: one creates, the other gets its answer."""
    headers = {**vendor.headers, "Idempotency-Key": "racing"}
    responses = await asyncio.gather(
        *(client.post(PRODUCTS, json=product_body(), headers=headers) for _ in range(4))
    )
    for r in responses:
        assert r.status_code == 201, r.text
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
    assert await count_products(client, vendor) == 1


async def test_expired_keys_are_forgotten(
    client: httpx.AsyncClient, app: FastAPI, vendor: VendorCtx
) -> None:
    headers = {**vendor.headers, "Idempotency-Key": "old"}
    first = await client.post(SHOWS, json={"title": "x"}, headers=headers)
    async with app.state.services.db.session() as db:
        await db.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == "old")
            .values(created_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
        await db.commit()
    again = await client.post(SHOWS, json={"title": "x"}, headers=headers)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    # ... and the new answer is remembered in its place.
    third = await client.post(SHOWS, json={"title": "x"}, headers=headers)
    assert third.headers["idempotent-replayed"] == "true"
    assert third.json()["id"] == again.json()["id"]


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_bad_idempotency_key_is_422(
    client: httpx.AsyncClient, vendor: VendorCtx, key: str
) -> None:
    r = await client.post(
        SHOWS, json={"title": "x"}, headers={**vendor.headers, "Idempotency-Key": key}
    )
    body = envelope(r, 422, "validation_failed")
    assert [d["field"] for d in body["details"]] == ["header.idempotency-key"]
    assert await count_shows(client, vendor) == 0


async def test_oversized_json_body_is_refused_before_reading(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    huge = {"title": "x", "description": "y" * (1024 * 1024 + 10), "variants": [{"price": 1}]}
    response = await client.post("/api/v1/products", json=huge, headers=vendor.headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    listed = await client.get("/api/v1/products", headers=vendor.headers)
    assert listed.json()["data"] == []


# --------------------------------------------------------------------------- backing services


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (asyncpg.exceptions.CannotConnectNowError("not yet accepting connections"), 503),
        (asyncpg.exceptions.AdminShutdownError("the database system is shutting down"), 503),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), 503),
        (ConnectionRefusedError(111, "Connection refused"), 503),
        (asyncpg.exceptions.UndefinedTableError('relation "x" does not exist'), 500),
    ],
)
async def test_a_database_that_is_down_answers_503_and_a_bug_500(
    app: FastAPI, error: Exception, status: int
) -> None:
    """A restarting database is the client's cue to retry; a broken query is ours to fix."""

    async def failing() -> None:
        raise DBAPIError("SELECT 1", None, error)

    app.add_api_route("/__test/failing", failing)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.get("/__test/failing")
    body = envelope(r, status)
    if status == 503:
        assert body["code"] == "service_unavailable"
        assert r.headers["retry-after"] == "1"
    else:
        assert body["code"] == "internal_error"
