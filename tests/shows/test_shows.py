"""Behaviour of /api/v1/shows: CRUD, line-up, the state machine and stream keys."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from pasar.shows.service import show_for_stream_key
from pasar.shows.states import ALLOWED, ShowState
from tests.conftest import MakeVendor, VendorCtx, product_body, record_video

API = "/api/v1/shows"

# Every state, and the path of legal moves that reaches it from "scheduled".
PATH_TO: dict[ShowState, list[ShowState]] = {
    ShowState.SCHEDULED: [],
    ShowState.LIVE: [ShowState.LIVE],
    ShowState.ENDED: [ShowState.LIVE, ShowState.ENDED],
    ShowState.REPLAY: [ShowState.LIVE, ShowState.ENDED, ShowState.REPLAY],
}
LEGAL = [(a, b) for a in ShowState for b in sorted(ALLOWED[a])]
ILLEGAL = [(a, b) for a in ShowState for b in ShowState if b not in ALLOWED[a]]


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()["error"]
    assert set(body) == {"code", "message", "details"}
    if code is not None:
        assert body["code"] == code, body
    return body


async def make_product(
    client: httpx.AsyncClient, vendor: VendorCtx, n: int, title: str | None = None
) -> str:
    r = await client.post(
        "/api/v1/products",
        json=product_body(
            title=title or f"Produk {n}",
            variants=[{"sku": f"{vendor.slug}-{n}", "options": {"Size": "M"}, "price": 1}],
        ),
        headers=vendor.headers,
    )
    assert r.status_code == 201, r.text
    pid: str = r.json()["id"]
    return pid


async def make_show(client: httpx.AsyncClient, vendor: VendorCtx, **body: Any) -> dict[str, Any]:
    r = await client.post(API, json={"title": "Harbolnas Live", **body}, headers=vendor.headers)
    assert r.status_code == 201, r.text
    show: dict[str, Any] = r.json()
    return show


async def fetch(client: httpx.AsyncClient, vendor: VendorCtx, sid: str) -> dict[str, Any]:
    r = await client.get(f"{API}/{sid}", headers=vendor.headers)
    assert r.status_code == 200, r.text
    show: dict[str, Any] = r.json()
    return show


async def move(
    client: httpx.AsyncClient, vendor: VendorCtx, sid: str, to: ShowState | str
) -> httpx.Response:
    if to == ShowState.REPLAY:
        await record_video(client, sid)  # no replay of a show that never sent video
    return await client.post(
        f"{API}/{sid}/transitions", json={"to": str(to)}, headers=vendor.headers
    )


async def show_in(client: httpx.AsyncClient, vendor: VendorCtx, state: ShowState) -> str:
    sid: str = (await make_show(client, vendor))["id"]
    for step in PATH_TO[state]:
        r = await move(client, vendor, sid, step)
        assert r.status_code == 200, r.text
    assert (await fetch(client, vendor, sid))["state"] == state
    return sid


async def staff_login(
    client: httpx.AsyncClient, owner: VendorCtx, role: str, email: str
) -> dict[str, str]:
    """Create a staff user with ``role`` and sign in; returns headers for unsafe requests."""
    password = "a long enough password"
    r = await client.post(
        "/api/v1/staff",
        json={"email": email, "display_name": role, "password": password, "role": role},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


# --------------------------------------------------------------------------- CRUD


async def test_create_and_get_show(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    r = await client.post(
        API,
        json={
            "title": "  Batik 12.12  ",
            "description": "Flash deals tiap 15 menit",
            "scheduled_at": "2026-12-12T19:00:00+07:00",
            "host_user_id": vendor.owner_id,
        },
        headers=vendor.headers,
    )
    assert r.status_code == 201, r.text
    show = r.json()
    assert show["id"].startswith("show_")
    assert show["title"] == "Batik 12.12"
    assert show["description"] == "Flash deals tiap 15 menit"
    assert show["state"] == "scheduled"
    assert show["scheduled_at"] == "2026-12-12T12:00:00Z"  # the offset, converted to UTC
    assert show["started_at"] is None and show["ended_at"] is None
    assert show["host_user_id"] == vendor.owner_id
    assert show["cover_url"] is None
    assert show["lineup"] == []
    assert show["playback_url"] == f"http://testserver/hls/{show['id']}/index.m3u8"
    assert await fetch(client, vendor, show["id"]) == show


@pytest.mark.parametrize(
    ("given", "utc"),
    [
        ("2026-06-18T00:30:00-05:30", "2026-06-18T06:00:00Z"),
        ("2026-06-18T06:00:00Z", "2026-06-18T06:00:00Z"),
        ("2026-01-01T06:59:59.250000+07:00", "2025-12-31T23:59:59.250000Z"),
    ],
)
async def test_scheduled_at_is_stored_and_returned_in_utc(
    client: httpx.AsyncClient, vendor: VendorCtx, given: str, utc: str
) -> None:
    show = await make_show(client, vendor, scheduled_at=given)
    assert show["scheduled_at"] == utc
    assert (await fetch(client, vendor, show["id"]))["scheduled_at"] == utc
    r = await client.patch(
        f"{API}/{show['id']}", json={"scheduled_at": given}, headers=vendor.headers
    )
    assert r.json()["scheduled_at"] == utc


async def test_naive_scheduled_at_is_rejected(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    r = await client.post(
        API, json={"title": "x", "scheduled_at": "2026-12-12T12:00:00"}, headers=vendor.headers
    )
    body = error(r, 422, "validation_failed")
    assert [d["field"] for d in body["details"]] == ["body.scheduled_at"]
    assert (await client.get(API, headers=vendor.headers)).json()["data"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.title"),
        ({"title": ""}, "body.title"),
        ({"title": "x" * 201}, "body.title"),
        ({"title": "x", "state": "live"}, "body.state"),
        ({"title": "x", "product_ids": "prod_1"}, "body.product_ids"),
    ],
)
async def test_invalid_show_bodies_are_422(
    client: httpx.AsyncClient, vendor: VendorCtx, body: dict[str, Any], field: str
) -> None:
    r = await client.post(API, json=body, headers=vendor.headers)
    details = error(r, 422, "validation_failed")["details"]
    assert field in [d["field"] for d in details]
    assert (await client.get(API, headers=vendor.headers)).json()["data"] == []


async def test_patch_show(client: httpx.AsyncClient, make_vendor: MakeVendor) -> None:
    vendor = await make_vendor()
    other = await make_vendor()
    show = await make_show(
        client, vendor, scheduled_at="2026-01-01T00:00:00Z", host_user_id=vendor.owner_id
    )
    url = f"{API}/{show['id']}"
    r = await client.patch(url, json={"title": "Baru", "description": "d"}, headers=vendor.headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["title"], got["description"]) == ("Baru", "d")
    assert got["scheduled_at"] == "2026-01-01T00:00:00Z"
    assert got["host_user_id"] == vendor.owner_id
    # A host must be staff of this vendor; the show stays as it was.
    body = error(
        await client.patch(url, json={"host_user_id": other.owner_id}, headers=vendor.headers),
        400,
        "unknown_host",
    )
    assert "host_user_id" in body["message"]
    assert await fetch(client, vendor, show["id"]) == got
    r = await client.patch(
        url, json={"scheduled_at": None, "host_user_id": None}, headers=vendor.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["scheduled_at"] is None and r.json()["host_user_id"] is None
    error(await client.patch(url, json={"title": ""}, headers=vendor.headers), 422)
    error(await client.patch(url, json={"state": "live"}, headers=vendor.headers), 422)
    assert (await fetch(client, vendor, show["id"]))["title"] == "Baru"


async def test_create_with_foreign_host_is_400(
    client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    vendor = await make_vendor()
    other = await make_vendor()
    r = await client.post(
        API, json={"title": "x", "host_user_id": other.owner_id}, headers=vendor.headers
    )
    error(r, 400, "unknown_host")
    r = await client.post(
        API, json={"title": "x", "host_user_id": "usr_nope"}, headers=vendor.headers
    )
    error(r, 400, "unknown_host")
    assert (await client.get(API, headers=vendor.headers)).json()["data"] == []


async def test_delete_show(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    sid = await show_in(client, vendor, ShowState.SCHEDULED)
    assert (await client.delete(f"{API}/{sid}", headers=vendor.headers)).status_code == 204
    error(await client.get(f"{API}/{sid}", headers=vendor.headers), 404, "not_found")
    error(await client.delete(f"{API}/{sid}", headers=vendor.headers), 404, "not_found")


async def test_a_live_show_cannot_be_deleted(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    sid = await show_in(client, vendor, ShowState.LIVE)
    error(await client.delete(f"{API}/{sid}", headers=vendor.headers), 409, "show_live")
    assert (await fetch(client, vendor, sid))["state"] == "live"
    sid = await show_in(client, vendor, ShowState.ENDED)
    assert (await client.delete(f"{API}/{sid}", headers=vendor.headers)).status_code == 204


async def test_shows_of_other_vendors_are_invisible(
    client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    a = await make_vendor()
    b = await make_vendor()
    show = await make_show(client, a)
    url = f"{API}/{show['id']}"
    error(await client.get(url, headers=b.headers), 404)
    error(await client.patch(url, json={"title": "x"}, headers=b.headers), 404)
    error(await client.delete(url, headers=b.headers), 404)
    error(await client.put(f"{url}/lineup", json={"product_ids": []}, headers=b.headers), 404)
    error(await client.post(f"{url}/transitions", json={"to": "live"}, headers=b.headers), 404)
    error(await client.get(f"{url}/ingest", headers=b.headers), 404)
    error(await client.post(f"{url}/ingest/rotate", headers=b.headers), 404)
    assert (await client.get(API, headers=b.headers)).json()["data"] == []
    assert await fetch(client, a, show["id"]) == show


async def test_list_shows_with_filters_and_cursor(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    early = await make_show(client, vendor, scheduled_at="2026-06-18T10:00:00Z")
    late = await make_show(client, vendor, scheduled_at="2026-12-12T10:00:00Z")
    unscheduled = await make_show(client, vendor)
    live = await show_in(client, vendor, ShowState.LIVE)

    async def ids(**params: Any) -> list[str]:
        r = await client.get(API, params=params, headers=vendor.headers)
        assert r.status_code == 200, r.text
        return [s["id"] for s in r.json()["data"]]

    assert await ids() == [early["id"], late["id"], unscheduled["id"], live]
    assert await ids(state="live") == [live]
    assert await ids(state="scheduled") == [early["id"], late["id"], unscheduled["id"]]
    assert await ids(scheduled_after="2026-07-01T00:00:00Z") == [late["id"]]
    assert await ids(scheduled_before="2026-12-12T17:00:00+07:00") == [early["id"]]
    assert await ids(scheduled_before="2026-12-12T17:00:01+07:00") == [early["id"], late["id"]]
    error(await client.get(API, params={"state": "paused"}, headers=vendor.headers), 422)
    error(await client.get(API, params={"cursor": "!!!"}, headers=vendor.headers), 400)

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(API, params=params, headers=vendor.headers)).json()
        seen += [s["id"] for s in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [early["id"], late["id"], unscheduled["id"], live]


# --------------------------------------------------------------------------- line-up


async def test_lineup_keeps_the_given_order(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    p1, p2, p3 = [await make_product(client, vendor, n) for n in range(3)]
    show = await make_show(client, vendor, product_ids=[p3, p1, p2])
    assert show["lineup"] == [
        {"product_id": p3, "position": 0},
        {"product_id": p1, "position": 1},
        {"product_id": p2, "position": 2},
    ]
    url = f"{API}/{show['id']}/lineup"
    r = await client.put(url, json={"product_ids": [p2, p3]}, headers=vendor.headers)
    assert r.status_code == 200, r.text
    assert r.json()["lineup"] == [
        {"product_id": p2, "position": 0},
        {"product_id": p3, "position": 1},
    ]
    assert (await fetch(client, vendor, show["id"]))["lineup"] == r.json()["lineup"]
    # Reordering the same products works (the unique pairs are replaced, not clashed).
    r = await client.put(url, json={"product_ids": [p3, p2, p1]}, headers=vendor.headers)
    assert [i["product_id"] for i in r.json()["lineup"]] == [p3, p2, p1]
    r = await client.put(url, json={"product_ids": []}, headers=vendor.headers)
    assert r.json()["lineup"] == []
    assert (await fetch(client, vendor, show["id"]))["lineup"] == []


async def test_deleted_product_leaves_the_lineup(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    p1, p2 = [await make_product(client, vendor, n) for n in range(2)]
    show = await make_show(client, vendor, product_ids=[p1, p2])
    assert (
        await client.delete(f"/api/v1/products/{p1}", headers=vendor.headers)
    ).status_code == 204
    lineup = (await fetch(client, vendor, show["id"]))["lineup"]
    assert [i["product_id"] for i in lineup] == [p2]


async def test_unknown_and_foreign_products_in_lineup_are_400(
    client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    vendor = await make_vendor()
    other = await make_vendor()
    mine = await make_product(client, vendor, 1)
    theirs = await make_product(client, other, 2)

    r = await client.post(
        API, json={"title": "x", "product_ids": [mine, theirs]}, headers=vendor.headers
    )
    body = error(r, 400, "unknown_products")
    assert body["details"] == {"product_ids": [theirs]}
    r = await client.post(
        API, json={"title": "x", "product_ids": ["prod_nope", mine]}, headers=vendor.headers
    )
    assert error(r, 400, "unknown_products")["details"] == {"product_ids": ["prod_nope"]}
    r = await client.post(
        API, json={"title": "x", "product_ids": [mine, mine]}, headers=vendor.headers
    )
    error(r, 400, "duplicate_product")
    assert (await client.get(API, headers=vendor.headers)).json()["data"] == []

    show = await make_show(client, vendor, product_ids=[mine])
    url = f"{API}/{show['id']}/lineup"
    for ids, code in (([theirs], "unknown_products"), ([mine, mine], "duplicate_product")):
        error(await client.put(url, json={"product_ids": ids}, headers=vendor.headers), 400, code)
    assert (await fetch(client, vendor, show["id"]))["lineup"] == show["lineup"]
    error(await client.put(url, json={}, headers=vendor.headers), 422, "validation_failed")


# --------------------------------------------------------------------------- state machine


@pytest.mark.parametrize(("current", "target"), LEGAL, ids=[f"{a}->{b}" for a, b in LEGAL])
async def test_every_legal_transition_works(
    client: httpx.AsyncClient, vendor: VendorCtx, current: ShowState, target: ShowState
) -> None:
    sid = await show_in(client, vendor, current)
    before = await fetch(client, vendor, sid)
    r = await move(client, vendor, sid, target)
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["state"] == target
    assert await fetch(client, vendor, sid) == after
    if target is ShowState.LIVE:
        assert before["started_at"] is None
        assert after["started_at"] is not None and after["started_at"].endswith("Z")
    else:
        assert after["started_at"] == before["started_at"]
    if target is ShowState.ENDED:
        assert before["ended_at"] is None
        assert after["ended_at"] is not None
        assert when(after["ended_at"]) >= when(after["started_at"])
    else:
        assert after["ended_at"] == before["ended_at"]


def test_the_state_machine_is_the_documented_one() -> None:
    assert {(str(a), str(b)) for a, b in LEGAL} == {
        ("scheduled", "live"),
        ("live", "ended"),
        ("ended", "replay"),
    }
    assert len(ILLEGAL) == 16 - 3


@pytest.mark.parametrize(("current", "target"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
async def test_every_illegal_transition_is_409_and_changes_nothing(
    client: httpx.AsyncClient, vendor: VendorCtx, current: ShowState, target: ShowState
) -> None:
    sid = await show_in(client, vendor, current)
    before = await fetch(client, vendor, sid)
    body = error(await move(client, vendor, sid, target), 409, "illegal_transition")
    assert body["details"] == {"from": current.value, "to": target.value}
    assert current.value in body["message"] and target.value in body["message"]
    assert await fetch(client, vendor, sid) == before


async def test_unknown_target_state_is_422(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    sid = await show_in(client, vendor, ShowState.SCHEDULED)
    for body in ({"to": "paused"}, {"to": "LIVE"}, {}, {"to": "live", "force": True}):
        r = await client.post(f"{API}/{sid}/transitions", json=body, headers=vendor.headers)
        error(r, 422, "validation_failed")
    assert (await fetch(client, vendor, sid))["state"] == "scheduled"


# --------------------------------------------------------------------------- stream keys


async def test_reveal_and_rotate_stream_key(
    client: httpx.AsyncClient, app: FastAPI, vendor: VendorCtx
) -> None:
    show = await make_show(client, vendor)
    url = f"{API}/{show['id']}/ingest"
    r = await client.get(url, headers=vendor.headers)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["whip_url"] == "http://testserver/whip"
    assert first["stream_key"].startswith("live_")
    assert len(first["stream_key"]) > 30
    assert first["rtmp_url"] is None
    assert first["rotated_at"].endswith("Z")
    # Revealing again shows the same key.
    assert (await client.get(url, headers=vendor.headers)).json() == first

    db = app.state.services.db
    async with db.session() as s:
        found = await show_for_stream_key(s, first["stream_key"])
        assert found is not None and found.id == show["id"]

    r = await client.post(f"{url}/rotate", headers=vendor.headers)
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["stream_key"].startswith("live_")
    assert second["stream_key"] != first["stream_key"]
    assert when(second["rotated_at"]) >= when(first["rotated_at"])
    assert (await client.get(url, headers=vendor.headers)).json()["stream_key"] == second[
        "stream_key"
    ]
    async with db.session() as s:
        assert await show_for_stream_key(s, first["stream_key"]) is None
        found = await show_for_stream_key(s, second["stream_key"])
        assert found is not None and found.id == show["id"]
        assert await show_for_stream_key(s, "live_not-a-key") is None
        assert await show_for_stream_key(s, vendor.key) is None


async def test_every_show_has_its_own_stream_key(
    client: httpx.AsyncClient, app: FastAPI, vendor: VendorCtx
) -> None:
    a = await make_show(client, vendor)
    b = await make_show(client, vendor)
    ka = (await client.get(f"{API}/{a['id']}/ingest", headers=vendor.headers)).json()
    kb = (await client.get(f"{API}/{b['id']}/ingest", headers=vendor.headers)).json()
    assert ka["stream_key"] != kb["stream_key"]
    async with app.state.services.db.session() as s:
        found = await show_for_stream_key(s, kb["stream_key"])
        assert found is not None and found.id == b["id"]


async def test_stream_key_appears_in_no_other_response(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    pid = await make_product(client, vendor, 1)
    create = await client.post(
        API, json={"title": "x", "product_ids": [pid]}, headers=vendor.headers
    )
    sid = create.json()["id"]
    key = (await client.get(f"{API}/{sid}/ingest", headers=vendor.headers)).json()["stream_key"]
    secret_part = key.removeprefix("live_")
    responses = [
        create,
        await client.get(f"{API}/{sid}", headers=vendor.headers),
        await client.get(API, headers=vendor.headers),
        await client.patch(f"{API}/{sid}", json={"title": "y"}, headers=vendor.headers),
        await client.put(f"{API}/{sid}/lineup", json={"product_ids": []}, headers=vendor.headers),
        await move(client, vendor, sid, ShowState.LIVE),
        await client.get("/openapi.json"),
    ]
    for r in responses:
        assert r.status_code in (200, 201), r.text
        assert secret_part not in r.text
        assert "stream_key" not in r.text or r.request.url.path == "/openapi.json"


async def test_moderator_cannot_see_the_stream_key_host_can(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    show = await make_show(client, vendor)
    url = f"{API}/{show['id']}/ingest"
    csrf = await staff_login(client, vendor, "moderator", "mod@toko.example")
    assert (await client.get(f"{API}/{show['id']}")).status_code == 200  # may read the show
    error(await client.get(url), 403)
    error(await client.post(f"{url}/rotate", headers=csrf), 403)

    csrf = await staff_login(client, vendor, "host", "host@toko.example")
    r = await client.get(url)
    assert r.status_code == 200, r.text
    key = r.json()["stream_key"]
    assert key.startswith("live_")
    r = await client.post(f"{url}/rotate", headers=csrf)
    assert r.status_code == 200, r.text
    assert r.json()["stream_key"] != key


async def test_api_key_without_shows_write_cannot_reveal(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    show = await make_show(client, vendor)
    r = await client.post(
        "/api/v1/api-keys",
        json={"name": "reader", "scopes": ["shows:read"]},
        headers=vendor.headers,
    )
    reader = {"Authorization": f"Bearer {r.json()['key']}"}
    assert (await client.get(f"{API}/{show['id']}", headers=reader)).status_code == 200
    body = error(await client.get(f"{API}/{show['id']}/ingest", headers=reader), 403)
    assert body["code"] == "missing_scope"
    assert "live_" not in body["message"]
    error(await client.post(f"{API}/{show['id']}/ingest/rotate", headers=reader), 403)


# --------------------------------------------------------------------------- cover


def png(size: tuple[int, int] = (32, 18)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 90, 0)).save(out, "PNG")
    return out.getvalue()


async def test_cover_upload_replaces_the_old_file(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    show = await make_show(client, vendor)
    url = f"{API}/{show['id']}/cover"
    r = await client.post(
        url, files={"file": ("c.png", png(), "image/png")}, headers=vendor.headers
    )
    assert r.status_code == 200, r.text
    first = r.json()["cover_url"]
    assert first.startswith("http://testserver/media/") and first.endswith(".png")
    assert (await client.get(first)).status_code == 200
    r = await client.post(
        url, files={"file": ("c.png", png((10, 10)), "image/png")}, headers=vendor.headers
    )
    second = r.json()["cover_url"]
    assert second != first
    assert (await client.get(first)).status_code == 404
    assert (await client.get(second)).status_code == 200
    r = await client.post(
        url, files={"file": ("c.txt", b"not an image", "text/plain")}, headers=vendor.headers
    )
    error(r, 400, "invalid_image")
    assert (await fetch(client, vendor, show["id"]))["cover_url"] == second
    assert (await client.delete(f"{API}/{show['id']}", headers=vendor.headers)).status_code == 204
    assert (await client.get(second)).status_code == 404


async def test_publishing_the_replay_of_a_show_without_video_is_409(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    sid = await show_in(client, vendor, ShowState.ENDED)
    r = await client.post(f"{API}/{sid}/transitions", json={"to": "replay"}, headers=vendor.headers)
    body = error(r, 409, "no_recording")
    assert "no recorded video" in body["message"]
    assert (await fetch(client, vendor, sid))["state"] == "ended"
    await record_video(client, sid)
    assert (await move(client, vendor, sid, ShowState.REPLAY)).status_code == 200
