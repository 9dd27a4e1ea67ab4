"""What every HTTP request goes through (pasar.web.edge): metrics by route
template, ``nosniff`` on every answer, NUL refused before any route runs."""

from __future__ import annotations

import re

import httpx

from tests.conftest import VendorCtx, product_body


def _count(metrics: str, route: str, method: str, status: str) -> float:
    """pasar_http_requests_total for these labels, in whatever order they print."""
    for labels, value in re.findall(r"^pasar_http_requests_total\{(.*)\} (\S+)$", metrics, re.M):
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels))
        if found == {"route": route, "method": method, "status": status}:
            return float(value)
    return 0.0


async def test_requests_are_counted_by_route_template_method_and_status(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    created = await client.post("/api/v1/products", json=product_body(), headers=vendor.headers)
    product_id = created.json()["id"]
    for _ in range(3):
        r = await client.get(f"/api/v1/products/{product_id}", headers=vendor.headers)
        assert r.status_code == 200
    missing = await client.get("/api/v1/products/prod_missing", headers=vendor.headers)
    assert missing.status_code == 404
    assert (await client.get("/no/such/page")).status_code == 404

    metrics = (await client.get("/metrics")).text
    template = "/api/v1/products/{product_id}"
    assert _count(metrics, template, "GET", "200") == 3
    assert _count(metrics, template, "GET", "404") == 1
    assert _count(metrics, "/api/v1/products", "POST", "201") == 1
    assert _count(metrics, "unmatched", "GET", "404") == 1  # not one series per bad URL
    assert f'pasar_http_request_seconds_count{{route="{template}"}} 4.0' in metrics


async def test_every_answer_says_nosniff(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    for r in (
        await client.get("/healthz"),
        await client.get("/api/v1/products/prod_missing", headers=vendor.headers),
        await client.get("/api/v1/products"),  # 401
        await client.get("/no/such/page"),
    ):
        assert r.headers["x-content-type-options"] == "nosniff", r.url


async def test_nul_in_the_path_or_query_is_refused_and_counted(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    for url, field in [
        ("/api/v1/products/prod_%00", "path"),
        ("/api/v1/products?q=batik%00", "query.q"),
        ("/api/v1/products?s%00rt=1", "query.s?rt"),
    ]:
        r = await client.get(url, headers=vendor.headers)
        assert r.status_code == 422, r.text
        assert r.headers["x-content-type-options"] == "nosniff"
        error = r.json()["error"]
        assert error["code"] == "validation_failed"
        assert error["details"] == [
            {"field": field, "message": "NUL characters are not allowed", "type": "nul"}
        ]
    metrics = (await client.get("/metrics")).text
    assert _count(metrics, "unmatched", "GET", "422") == 3
    listed = await client.get("/api/v1/products", headers=vendor.headers)
    assert listed.json()["data"] == []  # nothing was created or changed
