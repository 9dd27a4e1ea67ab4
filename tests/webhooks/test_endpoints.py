"""The endpoints API: create, read, change, delete, secrets; bad input is a 4xx;
other vendors' ids are 404 (on SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.conftest import MakeVendor, VendorCtx
from tests.webhooks.conftest import API, create_endpoint


async def test_create_list_get_patch_delete(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    r = await client.post(
        f"{API}/endpoints",
        json={
            "url": "http://127.0.0.1:9/hook",
            "description": "Order sync",
            "event_types": ["show.live", "show.live", "deal.started"],
        },
        headers=vendor.headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["event_types"] == ["show.live", "deal.started"]  # duplicates dropped
    assert created["enabled"] is True and created["disabled_reason"] is None
    assert created["previous_secret_expires_at"] is None
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    eid = created["id"]

    shown = (await client.get(f"{API}/endpoints/{eid}/secret", headers=vendor.headers)).json()
    assert shown["secret"] == secret
    got = (await client.get(f"{API}/endpoints/{eid}", headers=vendor.headers)).json()
    assert "secret" not in got and got["url"] == "http://127.0.0.1:9/hook"

    r = await client.patch(
        f"{API}/endpoints/{eid}",
        json={"description": "Renamed", "event_types": ["cart.checkout"], "enabled": False},
        headers=vendor.headers,
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["description"] == "Renamed" and patched["event_types"] == ["cart.checkout"]
    assert patched["enabled"] is False and patched["disabled_reason"] is None

    second = await create_endpoint(client, vendor, "http://127.0.0.1:9/two")
    page = (
        await client.get(f"{API}/endpoints", params={"limit": 1}, headers=vendor.headers)
    ).json()
    assert [e["id"] for e in page["data"]] == [eid] and page["next_cursor"]
    rest = (
        await client.get(
            f"{API}/endpoints", params={"cursor": page["next_cursor"]}, headers=vendor.headers
        )
    ).json()
    assert [e["id"] for e in rest["data"]] == [second["id"]] and rest["next_cursor"] is None

    assert (
        await client.delete(f"{API}/endpoints/{eid}", headers=vendor.headers)
    ).status_code == 204
    assert (await client.get(f"{API}/endpoints/{eid}", headers=vendor.headers)).status_code == 404


async def test_idempotent_create_does_not_repeat_the_secret(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["show.live"]}
    headers = {**vendor.headers, "Idempotency-Key": "ep-1"}
    first = await client.post(f"{API}/endpoints", json=body, headers=headers)
    second = await client.post(f"{API}/endpoints", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["secret"] != first.json()["secret"]  # not stored in the clear
    listed = (await client.get(f"{API}/endpoints", headers=vendor.headers)).json()["data"]
    assert len(listed) == 1


BAD_BODIES: list[dict[str, Any]] = [
    {"url": "ftp://toko.example/hook", "event_types": ["show.live"]},
    {"url": "not a url", "event_types": ["show.live"]},
    {"url": "https://", "event_types": ["show.live"]},
    {"url": "https://user:pw@toko.example/hook", "event_types": ["show.live"]},
    {"url": "https://toko.example:99999/hook", "event_types": ["show.live"]},
    {"url": "https://toko.example:0/hook", "event_types": ["show.live"]},
    {"url": "https://toko .example/hook", "event_types": ["show.live"]},
    {"url": "https://[::1/hook", "event_types": ["show.live"]},
    {"url": "javascript:alert(1)", "event_types": ["show.live"]},
    {"url": "https://toko.example/" + "a" * 2100, "event_types": ["show.live"]},
    {"url": "", "event_types": ["show.live"]},
    {"url": "https://toko.example/hook\x00", "event_types": ["show.live"]},
    {"url": "https://toko.example/hook", "event_types": []},
    {"url": "https://toko.example/hook", "event_types": ["show.exploded"]},
    {"url": "https://toko.example/hook", "event_types": "show.live"},
    {"url": "https://toko.example/hook"},
    {"url": "https://toko.example/hook", "event_types": ["show.live"], "secret": "whsec_x"},
    {"url": 5, "event_types": ["show.live"]},
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=lambda b: repr(b)[:50])
async def test_bad_input_is_a_4xx(
    client: httpx.AsyncClient, vendor: VendorCtx, body: dict[str, Any]
) -> None:
    r = await client.post(f"{API}/endpoints", json=body, headers=vendor.headers)
    assert r.status_code in (400, 422), r.text
    assert r.json()["error"]["message"]
    listed = (await client.get(f"{API}/endpoints", headers=vendor.headers)).json()["data"]
    assert listed == []


async def test_bad_patches_are_refused_and_change_nothing(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    endpoint = await create_endpoint(client, vendor, "http://127.0.0.1:9/hook")
    url = f"{API}/endpoints/{endpoint['id']}"
    for body in (
        {"url": "gopher://x"},
        {"event_types": []},
        {"event_types": ["nope"]},
        {"enabled": "maybe"},
        {"colour": "red"},
    ):
        r = await client.patch(url, json=body, headers=vendor.headers)
        assert r.status_code in (400, 422), (body, r.text)
    after = (await client.get(url, headers=vendor.headers)).json()
    assert after == {k: v for k, v in endpoint.items() if k != "secret"}


async def test_another_vendors_ids_are_not_found(
    client: httpx.AsyncClient, vendor: VendorCtx, make_vendor: MakeVendor
) -> None:
    other = await make_vendor()
    theirs = await create_endpoint(client, other, "http://127.0.0.1:9/hook")
    test = await client.post(f"{API}/endpoints/{theirs['id']}/test", headers=other.headers)
    delivery = test.json()["id"]
    calls = [
        ("GET", f"{API}/endpoints/{theirs['id']}", None),
        ("PATCH", f"{API}/endpoints/{theirs['id']}", {"description": "mine now"}),
        ("DELETE", f"{API}/endpoints/{theirs['id']}", None),
        ("GET", f"{API}/endpoints/{theirs['id']}/secret", None),
        ("POST", f"{API}/endpoints/{theirs['id']}/rotate-secret", None),
        ("POST", f"{API}/endpoints/{theirs['id']}/test", None),
        ("GET", f"{API}/endpoints/{theirs['id']}/deliveries", None),
        ("GET", f"{API}/deliveries/{delivery}", None),
        ("POST", f"{API}/deliveries/{delivery}/redeliver", None),
    ]
    for method, url, body in calls:
        r = await client.request(method, url, json=body, headers=vendor.headers)
        assert r.status_code == 404, (method, url, r.text)
        assert theirs["id"] not in r.text and delivery not in r.text
    assert (await client.get(f"{API}/endpoints", headers=vendor.headers)).json()["data"] == []
    still = await client.get(f"{API}/endpoints/{theirs['id']}/secret", headers=other.headers)
    assert still.json()["secret"] == theirs["secret"]


async def test_only_settings_write_may_manage_webhooks(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    r = await client.post(
        "/api/v1/api-keys",
        json={"name": "catalog only", "scopes": ["catalog:write", "shows:write"]},
        headers=vendor.headers,
    )
    narrow = {"Authorization": f"Bearer {r.json()['key']}"}
    assert (await client.get(f"{API}/endpoints", headers=narrow)).status_code == 403
    r = await client.post(
        f"{API}/endpoints",
        json={"url": "http://127.0.0.1:9/x", "event_types": ["show.live"]},
        headers=narrow,
    )
    assert r.status_code == 403
    assert (await client.get(f"{API}/endpoints")).status_code == 401


async def test_delivery_log_pages_and_filters(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    endpoint = await create_endpoint(client, vendor, "http://127.0.0.1:9/hook")
    ids = []
    for _ in range(3):
        r = await client.post(f"{API}/endpoints/{endpoint['id']}/test", headers=vendor.headers)
        ids.append(r.json()["id"])
    url = f"{API}/endpoints/{endpoint['id']}/deliveries"
    first = (await client.get(url, params={"limit": 2}, headers=vendor.headers)).json()
    assert [d["id"] for d in first["data"]] == ids[:2]
    rest = (
        await client.get(url, params={"cursor": first["next_cursor"]}, headers=vendor.headers)
    ).json()
    assert [d["id"] for d in rest["data"]] == ids[2:] and rest["next_cursor"] is None
    assert (
        await client.get(url, params={"status": "bogus"}, headers=vendor.headers)
    ).status_code == 422
    assert (
        await client.get(url, params={"cursor": "!!"}, headers=vendor.headers)
    ).status_code == 400
