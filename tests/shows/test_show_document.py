"""The public show document and the vendor's "Live now" slot (issue 11).

Both run on SQLite and PostgreSQL (the ``client`` fixture)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import VendorCtx, product_body, record_video

DOC = "/api/v1/storefront/shows"


async def _api(
    client: httpx.AsyncClient, vendor: VendorCtx, method: str, path: str, **kw: Any
) -> Any:
    r = await client.request(method, f"/api/v1{path}", headers=vendor.headers, **kw)
    assert r.status_code in (200, 201), f"{method} {path}: {r.status_code} {r.text}"
    return r.json()


async def _product(
    client: httpx.AsyncClient, vendor: VendorCtx, title: str, status: str, stocks: list[int]
) -> dict[str, Any]:
    variants = [
        {"sku": f"{title}-{i}", "options": {"Size": f"S{i}"}, "price": 10_000 + i, "stock": n}
        for i, n in enumerate(stocks)
    ]
    body = product_body(title=title, status=status, variants=variants)
    body["variants"][0]["compare_at_price"] = 20_000
    return await _api(client, vendor, "POST", "/products", json=body)  # type: ignore[no-any-return]


async def _show(client: httpx.AsyncClient, vendor: VendorCtx, **body: Any) -> str:
    body.setdefault("title", "Harbolnas Live")
    return str((await _api(client, vendor, "POST", "/shows", json=body))["id"])


async def _move(client: httpx.AsyncClient, vendor: VendorCtx, show_id: str, *to: str) -> None:
    for state in to:
        if state == "replay":
            await record_video(client, show_id)
        await _api(client, vendor, "POST", f"/shows/{show_id}/transitions", json={"to": state})


async def test_the_document_has_what_shoppers_see_and_nothing_private(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    await _api(
        client,
        vendor,
        "PATCH",
        "/vendor",
        json={"brand_color": "#C0FFEE", "logo_url": "https://toko.example/logo.png"},
    )
    shirt = await _product(client, vendor, "Kemeja Batik", "active", [50, 3, 0])
    scarf = await _product(client, vendor, "Selendang", "active", [1])
    # made a draft once on screen and on sale (neither can start as a draft)
    draft = await _product(client, vendor, "Secret Draft", "active", [9])
    archived = await _product(client, vendor, "Old Archived", "archived", [9])
    lineup = [draft["id"], shirt["id"], archived["id"], scarf["id"]]
    sid = await _show(
        client,
        vendor,
        description="Batik tulis",
        host_user_id=vendor.owner_id,
        product_ids=lineup,
        scheduled_at="2030-01-01T12:00:00Z",
    )
    for product in (shirt, draft):
        await _api(client, vendor, "POST", f"/shows/{sid}/pins", json={"product_id": product["id"]})
    for product in (shirt, draft):
        deal = {
            "product_id": product["id"],
            "price": 5_000,
            "currency": "IDR",
            "quantity": 4,
            "per_shopper_limit": 1,
        }
        await _api(client, vendor, "POST", f"/shows/{sid}/deals", json=deal)
    await _api(client, vendor, "PATCH", f"/products/{draft['id']}", json={"status": "draft"})
    key = (await _api(client, vendor, "GET", f"/shows/{sid}/ingest"))["stream_key"]

    r = await client.get(f"{DOC}/{sid}")  # no credentials at all
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "public, max-age=5"
    assert r.headers["access-control-allow-origin"] == "*"
    assert "ETag" in r.headers["access-control-expose-headers"]
    doc = r.json()
    assert doc["title"] == "Harbolnas Live" and doc["description"] == "Batik tulis"
    assert doc["state"] == "scheduled"
    assert doc["scheduled_at"].startswith("2030-01-01T12:00:00")
    assert doc["host"] == {"display_name": "Owner"}
    assert doc["vendor"] == {
        "name": doc["vendor"]["name"],
        "slug": vendor.slug,
        "locale": "id_ID",
        "currency": "IDR",
        "brand_color": "#c0ffee",
        "logo_url": "https://toko.example/logo.png",
    }
    assert doc["playback"]["hls_url"] == f"http://testserver/hls/{sid}/index.m3u8"
    assert doc["playback"]["chapters"] == []
    assert doc["watch_url"] == f"http://testserver/watch/{sid}"
    assert doc["embed_url"] == f"http://testserver/embed/shows/{sid}"
    assert doc["socket_url"] == f"ws://testserver/ws/shows/{sid}"

    # Only active products, in line-up order, with hints instead of counts.
    assert [p["id"] for p in doc["lineup"]] == [shirt["id"], scarf["id"]]
    first = doc["lineup"][0]
    assert first["options"] == ["Size"]
    hints = [(v["in_stock"], v["low_stock"]) for v in first["variants"]]
    assert hints == [(True, False), (True, True), (False, False)]
    assert first["variants"][0]["compare_at_price"] == 20_000
    assert first["variants"][1]["options"] == {"Size": "S1"}
    # The SKU is how the vendor's own cart knows an item (add-to-cart carries it).
    assert [v["sku"] for v in first["variants"]] == [f"Kemeja Batik-{i}" for i in range(3)]
    assert set(first["variants"][0]) == {
        "id",
        "sku",
        "title",
        "options",
        "price",
        "compare_at_price",
        "in_stock",
        "low_stock",
    }
    # The pins and deals of the socket snapshot, without the draft's.
    assert [p["product_id"] for p in doc["pinned_products"]] == [shirt["id"]]
    assert [d["product_id"] for d in doc["deals"]] == [shirt["id"]]

    text = r.text
    for private in (
        key,
        "stream_key",
        vendor.email,
        vendor.owner_id,
        "Secret Draft",
        "Old Archived",
        '"stock"',
    ):
        assert private not in text, private


async def test_etag_answers_304_until_the_show_changes(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    sid = await _show(client, vendor)
    first = await client.get(f"{DOC}/{sid}")
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r = await client.get(f"{DOC}/{sid}", headers={"If-None-Match": sent})
        assert r.status_code == 304, sent
        assert r.content == b""
        assert r.headers["etag"] == etag
        assert r.headers["cache-control"] == "public, max-age=5"
    await _api(client, vendor, "PATCH", f"/shows/{sid}", json={"title": "Renamed"})
    r = await client.get(f"{DOC}/{sid}", headers={"If-None-Match": etag})
    assert r.status_code == 200
    assert r.json()["title"] == "Renamed"
    assert r.headers["etag"] != etag


async def test_the_etag_changes_when_a_product_sells_out(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    shirt = await _product(client, vendor, "Kemeja", "active", [6])
    sid = await _show(client, vendor, product_ids=[shirt["id"]])
    before = await client.get(f"{DOC}/{sid}")
    variant = shirt["variants"][0]["id"]
    await _api(
        client, vendor, "PATCH", f"/products/{shirt['id']}/variants/{variant}", json={"stock": 5}
    )
    after = await client.get(f"{DOC}/{sid}", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.json()["lineup"][0]["variants"][0]["low_stock"] is True


@pytest.mark.parametrize("show_id", ["show_nope", "x" * 300, "..", "a.b", "%2e%2e%2fetc"])
async def test_unknown_or_malformed_ids_are_404(client: httpx.AsyncClient, show_id: str) -> None:
    r = await client.get(f"{DOC}/{show_id}")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_a_replay_has_a_chapter_at_every_pin(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    shirt = await _product(client, vendor, "Kemeja", "active", [6])
    draft = await _product(client, vendor, "Draft", "active", [6])  # a draft once pinned
    sid = await _show(client, vendor, product_ids=[shirt["id"], draft["id"]])
    await _move(client, vendor, sid, "live")
    pins = []
    for product in (shirt, draft):
        body = {"product_id": product["id"]}
        pins.append((await _api(client, vendor, "POST", f"/shows/{sid}/pins", json=body))["id"])
    await _api(client, vendor, "PATCH", f"/products/{draft['id']}", json={"status": "draft"})
    await _move(client, vendor, sid, "ended", "replay")
    doc = (await client.get(f"{DOC}/{sid}")).json()
    assert doc["state"] == "replay"
    assert doc["pinned_products"] == [] and doc["deals"] == []
    (chapter,) = doc["playback"]["chapters"]
    assert chapter["pin_id"] == pins[0]
    assert chapter["product_id"] == shirt["id"]
    assert set(chapter) == {"pin_id", "product_id", "pinned_at", "media_time"}


# -- the "Live now" slot -------------------------------------------------------------


async def test_current_show_is_live_else_next_else_latest_replay(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    url = f"/api/v1/storefront/vendors/{vendor.slug}/shows/current"
    r = await client.get(url)
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_show"

    now = datetime.now(UTC)

    def at(hours: float) -> str:
        return (now + timedelta(hours=hours)).isoformat()

    old_replay = await _show(client, vendor, title="old replay")
    await _move(client, vendor, old_replay, "live", "ended", "replay")
    new_replay = await _show(client, vendor, title="new replay")
    await _move(client, vendor, new_replay, "live", "ended", "replay")
    ended_only = await _show(client, vendor, title="ended, no replay yet")
    await _move(client, vendor, ended_only, "live", "ended")
    await _show(client, vendor, title="not dated")
    await _show(client, vendor, title="forgotten", scheduled_at=at(-3))
    assert (await client.get(url)).json()["id"] == new_replay

    later = await _show(client, vendor, title="later", scheduled_at=at(48))
    assert (await client.get(url)).json()["id"] == later
    sooner = await _show(client, vendor, title="sooner", scheduled_at=at(24))
    assert (await client.get(url)).json()["id"] == sooner
    late = await _show(client, vendor, title="host is late", scheduled_at=at(-1))
    assert (await client.get(url)).json()["id"] == late

    live = await _show(client, vendor, title="live", scheduled_at=at(72))
    await _move(client, vendor, live, "live")
    r = await client.get(url)
    assert r.json()["id"] == live and r.json()["state"] == "live"
    assert r.headers["cache-control"] == "public, max-age=5"
    again = await client.get(url, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


async def test_current_show_is_per_vendor_and_unknown_slugs_are_404(
    client: httpx.AsyncClient, vendor: VendorCtx, make_vendor: Any
) -> None:
    other = await make_vendor()
    await _show(client, other, title="the other shop's", scheduled_at="2030-01-01T00:00:00Z")
    r = await client.get(f"/api/v1/storefront/vendors/{vendor.slug}/shows/current")
    assert r.status_code == 404
    for slug in ("no-such-shop", "UPPER", "a_b", "x" * 65):
        r = await client.get(f"/api/v1/storefront/vendors/{slug}/shows/current")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", slug
    r = await client.get(f"/api/v1/storefront/vendors/{other.slug}/shows/current")
    assert r.json()["title"] == "the other shop's"


# -- branding settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"brand_color": "red"},
        {"brand_color": "#12345G"},
        {"brand_color": "#1234"},
        {"brand_color": "#123456;x"},
        {"logo_url": "javascript:alert(1)"},
        {"logo_url": 'https://x.example/a"onerror=1'},
        {"logo_url": "https://" + "a" * 2000},
    ],
)
async def test_bad_branding_is_refused(
    client: httpx.AsyncClient, vendor: VendorCtx, body: dict[str, str]
) -> None:
    r = await client.patch("/api/v1/vendor", json=body, headers=vendor.headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_failed"
    v = await _api(client, vendor, "GET", "/vendor")
    assert v["brand_color"] is None and v["logo_url"] is None


async def test_branding_is_set_and_removed(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    body = {"brand_color": "#A1B2C3", "logo_url": "https://toko.example/l.png"}
    v = await _api(client, vendor, "PATCH", "/vendor", json=body)
    assert (v["brand_color"], v["logo_url"]) == ("#a1b2c3", "https://toko.example/l.png")
    v = await _api(client, vendor, "PATCH", "/vendor", json={"brand_color": "", "logo_url": ""})
    assert (v["brand_color"], v["logo_url"]) == (None, None)


# -- the replay's chat -------------------------------------------------------------------


async def test_the_replay_replays_the_visible_chat_at_its_media_time(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    sid = await _show(client, vendor)
    await _move(client, vendor, sid, "live")
    said = []
    for text in ("Selamat datang!", "<b>dihapus</b>", "Batik tulis asli <script>"):
        said.append(await _api(client, vendor, "POST", f"/shows/{sid}/chat", json={"text": text}))
    r = await client.delete(f"/api/v1/shows/{sid}/chat/{said[1]['id']}", headers=vendor.headers)
    assert r.status_code == 204, r.text
    # Live, the socket carries the chat: the replay's is not there yet.
    r = await client.get(f"{DOC}/{sid}/replay/chat")
    assert r.status_code == 409 and r.json()["error"]["code"] == "show_not_over"

    # A recording whose timeline starts 10 s before the first message.
    first = datetime.fromisoformat(said[0]["ts"].replace("Z", "+00:00"))
    start = first - timedelta(seconds=10)
    row = {
        "uri": "seg-0.m4s",
        "media_time": 0.0,
        "duration": 3600.0,
        "wall_clock": start.isoformat(),
    }
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    storage = transport.app.state.services.storage  # type: ignore[attr-defined]
    await storage.put(f"hls/{sid}/recording.json", json.dumps({"segments": [row]}).encode())
    await _api(client, vendor, "POST", f"/shows/{sid}/transitions", json={"to": "ended"})
    await _api(client, vendor, "POST", f"/shows/{sid}/transitions", json={"to": "replay"})

    r = await client.get(f"{DOC}/{sid}/replay/chat")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "public, max-age=60"
    page = r.json()
    assert [m["text"] for m in page["data"]] == ["Selamat datang!", "Batik tulis asli <script>"]
    assert page["next_cursor"] is None
    for message, sent in zip(page["data"], (said[0], said[2]), strict=True):
        at = datetime.fromisoformat(sent["ts"].replace("Z", "+00:00"))
        assert message["media_time"] == pytest.approx((at - start).total_seconds(), abs=0.01)
        assert message["author"]["role"] == "staff"
    # Paged with a cursor.
    one = (await client.get(f"{DOC}/{sid}/replay/chat", params={"limit": 1})).json()
    assert [m["text"] for m in one["data"]] == ["Selamat datang!"]
    rest = (
        await client.get(f"{DOC}/{sid}/replay/chat", params={"after": one["next_cursor"]})
    ).json()
    assert [m["text"] for m in rest["data"]] == ["Batik tulis asli <script>"]
    # Unknown shows and bad limits are clear refusals.
    assert (await client.get(f"{DOC}/show_unknown/replay/chat")).status_code == 404
    assert (await client.get(f"{DOC}/{sid}/replay/chat", params={"limit": 0})).status_code == 422
