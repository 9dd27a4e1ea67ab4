"""Deeply nested JSON bodies: a clear 4xx, never a 500 (issue 10, item 9).

The NUL scan over request bodies (pasar.validation.find_nul) used to recurse, so
a body nested ~940 deep, which json.loads still accepts, overflowed Python's stack
inside it: a 500 on the unauthenticated claim endpoint."""

from __future__ import annotations

from typing import Any

import httpx

from pasar.validation import MAX_JSON_DEPTH, find_nul
from tests.conftest import VendorCtx

CLAIM = "/api/v1/storefront/deals/deal_missing/claims"


def _nested(depth: int) -> str:
    """{"quantity": [[…]]} with `depth` containers in all."""
    inner = depth - 1
    return '{"quantity":' + "[" * inner + "]" * inner + "}"


async def _post(client: httpx.AsyncClient, url: str, body: str, **headers: str) -> httpx.Response:
    headers = {"content-type": "application/json", "Idempotency-Key": "k1", **headers}
    return await client.post(url, content=body, headers=headers)


# Depths around where Python's recursion limit used to be reached inside the scan
# (the exact depth depends on how deep the stack already is), and far past it.
_DEPTHS = [MAX_JSON_DEPTH + 1, 100, 500, *range(850, 1001, 3), 5000, 50_000]


async def _assert_refused(client: httpx.AsyncClient, url: str, **headers: str) -> None:
    answers = {d: await _post(client, url, _nested(d), **headers) for d in _DEPTHS}
    assert {d: r.status_code for d, r in answers.items() if r.status_code >= 500} == {}
    for depth, r in answers.items():
        assert r.status_code in (400, 422), (depth, r.status_code, r.text[:300])
        error = r.json()["error"]
        if r.status_code == 422:
            assert error["code"] == "validation_failed"
            (detail,) = error["details"]
            assert detail["type"] == "nested_too_deeply", (depth, detail)
            assert detail["message"].endswith(f"nested more than {MAX_JSON_DEPTH} levels deep")
        else:  # past what json.loads itself parses: refused before any of our code
            assert error["code"] == "bad_request"


async def test_deep_json_on_the_claim_endpoint_is_a_4xx(client: httpx.AsyncClient) -> None:
    await _assert_refused(client, CLAIM)
    # Just inside the bound, the body reaches the ordinary checks.
    r = await _post(client, CLAIM, _nested(MAX_JSON_DEPTH))
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["type"] != "nested_too_deeply"


async def test_deep_json_on_an_authenticated_endpoint_is_a_4xx(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    await _assert_refused(client, "/api/v1/products", **vendor.headers)
    listed = await client.get("/api/v1/products", headers=vendor.headers)
    assert listed.json()["data"] == []  # nothing was created


def test_the_scan_is_iterative_and_still_finds_nul_in_order() -> None:
    value: Any = "x\x00"
    for _ in range(MAX_JSON_DEPTH - 1):
        value = [value]
    assert find_nul({"a": "fine", "b": value, "c": "also\x00"}) == "b" + "[0]" * (
        MAX_JSON_DEPTH - 1
    )
    assert find_nul({"k\x00": 1}) == "k\\u0000"
    assert find_nul(["ok", {"n": ["\x00"]}]) == "[1].n[0]"
    assert find_nul({"a": [1, 2.5, None, True]}) is None


async def test_a_recursion_error_that_escapes_is_a_400_not_a_500() -> None:
    """The backstop in pasar.web.errors, for nesting some other walk did not bound."""
    from fastapi import FastAPI

    from pasar.web import errors

    app = FastAPI()
    errors.install(app)

    @app.post("/deep")
    async def deep() -> None:
        raise RecursionError("maximum recursion depth exceeded")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.post("/deep")
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "bad_request",
        "message": "the request is nested too deeply",
        "details": None,
    }
