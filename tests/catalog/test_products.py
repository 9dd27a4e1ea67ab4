"""Behaviour of /api/v1/products: products, variants, images, listing and validation."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import update

from pasar.catalog.models import Product
from pasar.money import MAX_MINOR
from tests.conftest import MakeVendor, VendorCtx, product_body

API = "/api/v1/products"


# --------------------------------------------------------------------------- helpers


async def create(client: httpx.AsyncClient, vendor: VendorCtx, **over: Any) -> dict[str, Any]:
    r = await client.post(API, json=product_body(**over), headers=vendor.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def fetch(client: httpx.AsyncClient, vendor: VendorCtx, pid: str) -> dict[str, Any]:
    r = await client.get(f"{API}/{pid}", headers=vendor.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def all_products(client: httpx.AsyncClient, vendor: VendorCtx) -> list[dict[str, Any]]:
    r = await client.get(API, params={"limit": 100}, headers=vendor.headers)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


def error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()["error"]
    assert set(body) == {"code", "message", "details"}
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body


def media_files(app: FastAPI) -> list[Path]:
    root: Path = app.state.services.settings.resolved_media_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def set_updated_at(app: FastAPI, pid: str, when: datetime) -> None:
    async with app.state.services.db.session() as db:
        await db.execute(update(Product).where(Product.id == pid).values(updated_at=when))
        await db.commit()


def jpeg(
    size: tuple[int, int] = (64, 32),
    *,
    exif: Image.Exif | None = None,
    comment: bytes | None = None,
    noise: bool = False,
) -> bytes:
    if noise:
        import random

        rnd = random.Random(1234)
        img = Image.frombytes(
            "RGB", size, bytes(rnd.getrandbits(8) for _ in range(size[0] * size[1] * 3))
        )
    else:
        img = Image.new("RGB", size, (180, 40, 40))
    out = io.BytesIO()
    params: dict[str, Any] = {"quality": 95}
    if exif is not None:
        params["exif"] = exif.tobytes()
    if comment is not None:
        params["comment"] = comment
    img.save(out, "JPEG", **params)
    return out.getvalue()


def image_bytes(fmt: str, size: tuple[int, int] = (20, 10)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, fmt)
    return out.getvalue()


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc"  # Make
    exif[0x0131] = "secret-editor"  # Software
    exif[0x8825] = {1: "S", 2: (6.0, 12.0, 30.0), 3: "E", 4: (106.0, 49.0, 10.0)}  # GPS
    return exif


async def upload(
    client: httpx.AsyncClient,
    vendor: VendorCtx,
    pid: str,
    data: bytes,
    name: str = "photo.jpg",
    content_type: str = "image/jpeg",
    alt: str | None = None,
) -> httpx.Response:
    form = {"alt": alt} if alt is not None else None
    return await client.post(
        f"{API}/{pid}/images",
        files={"file": (name, data, content_type)},
        data=form,
        headers=vendor.headers,
    )


# --------------------------------------------------------------------------- CRUD


async def test_create_returns_the_full_product(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    r = await client.post(
        API,
        json=product_body(
            title="Kemeja Batik Tulis",
            description="Dari Pekalongan",
            product_url="https://toko.example/p/kemeja",
            external_id="shopify-1",
        ),
        headers=vendor.headers,
    )
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["id"].startswith("prod_")
    assert p["handle"] == "kemeja-batik-tulis"
    assert p["title"] == "Kemeja Batik Tulis"
    assert p["description"] == "Dari Pekalongan"
    assert p["status"] == "active"
    assert p["currency"] == "IDR"  # the vendor's default
    assert p["product_url"] == "https://toko.example/p/kemeja"
    assert p["external_id"] == "shopify-1"
    assert p["options"] == ["Size"]
    assert p["images"] == []
    assert [v["sku"] for v in p["variants"]] == ["KB-M", "KB-L"]
    m, large = p["variants"]
    assert m["id"].startswith("var_") and m["id"] != large["id"]
    assert m["title"] == "M"
    assert m["options"] == {"Size": "M"}
    assert m["price"] == 38_900_000
    assert m["compare_at_price"] is None
    assert m["stock"] == 5
    assert m["available"] is True
    assert m["price_display"] == "Rp389.000"
    assert p["created_at"].endswith("Z") and p["updated_at"].endswith("Z")
    assert await fetch(client, vendor, p["id"]) == p


async def test_currency_is_normalised_and_used_for_display(
    client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    vendor = await make_vendor(currency="USD", locale="en_US")
    p = await create(
        client,
        vendor,
        currency="sgd",
        options=[],
        variants=[{"price": 1999, "stock": 0}],
    )
    assert p["currency"] == "SGD"
    (v,) = p["variants"]
    assert v["title"] == "Default"
    assert v["options"] == {}
    assert v["available"] is False
    assert v["price_display"] == "SGD19.99"  # en_US, the vendor's locale
    default = await create(client, vendor, title="Other", options=[], variants=[{"price": 5}])
    assert default["currency"] == "USD"
    assert default["variants"][0]["price_display"] == "$0.05"


async def test_patch_changes_only_given_fields(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    p = await create(client, vendor, description="old")
    r = await client.patch(
        f"{API}/{p['id']}",
        json={"title": "Batik Baru", "status": "draft", "product_url": "https://t.example/x"},
        headers=vendor.headers,
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["title"] == "Batik Baru"
    assert got["status"] == "draft"
    assert got["product_url"] == "https://t.example/x"
    assert got["description"] == "old"
    assert got["handle"] == p["handle"]  # a handle never follows the title by itself
    assert got["variants"] == p["variants"]
    assert await fetch(client, vendor, p["id"]) == got

    r = await client.patch(f"{API}/{p['id']}", json={"product_url": None}, headers=vendor.headers)
    assert r.json()["product_url"] is None


async def test_patch_rejects_bad_values_and_changes_nothing(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    p = await create(client, vendor)
    before = await fetch(client, vendor, p["id"])
    for body in (
        {"status": "deleted"},
        {"title": ""},
        {"handle": "Not A Handle"},
        {"product_url": "javascript:alert(1)"},
        {"price": 5},  # not a product field
    ):
        r = await client.patch(f"{API}/{p['id']}", json=body, headers=vendor.headers)
        error(r, 422, "validation_failed")
    assert await fetch(client, vendor, p["id"]) == before


async def test_handle_and_external_id_are_unique_per_vendor(
    client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    a = await make_vendor()
    b = await make_vendor()
    first = await create(client, a, handle="kemeja", external_id="ext-1")
    r = await client.post(
        API,
        json=product_body(handle="kemeja", variants=[{"options": {"Size": "S"}, "price": 1}]),
        headers=a.headers,
    )
    error(r, 409, "handle_taken")
    r = await client.post(
        API,
        json=product_body(
            handle="other", external_id="ext-1", variants=[{"options": {"Size": "S"}, "price": 1}]
        ),
        headers=a.headers,
    )
    error(r, 409, "external_id_taken")
    assert [p["id"] for p in await all_products(client, a)] == [first["id"]]
    # Another vendor has its own namespace for handles, external ids and SKUs.
    other = await create(client, b, handle="kemeja", external_id="ext-1")
    assert other["handle"] == "kemeja"


async def test_patch_handle_conflict_is_reported_as_handle(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    """The conflict is named by the constraint, not by words that happen to be in the data."""
    await create(client, vendor, handle="sku-holder")
    p = await create(
        client, vendor, handle="second", variants=[{"options": {"Size": "S"}, "price": 1}]
    )
    r = await client.patch(
        f"{API}/{p['id']}", json={"handle": "sku-holder"}, headers=vendor.headers
    )
    error(r, 409, "handle_taken")
    assert (await fetch(client, vendor, p["id"]))["handle"] == "second"


async def test_delete_product(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    p = await create(client, vendor)
    r = await client.delete(f"{API}/{p['id']}", headers=vendor.headers)
    assert r.status_code == 204
    assert r.content == b""
    error(await client.get(f"{API}/{p['id']}", headers=vendor.headers), 404, "not_found")
    error(await client.delete(f"{API}/{p['id']}", headers=vendor.headers), 404, "not_found")
    assert await all_products(client, vendor) == []
    # The SKUs and handle are free again.
    again = await create(client, vendor)
    assert again["handle"] == p["handle"]


async def test_unknown_product_is_404(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    body = error(await client.get(f"{API}/prod_nope", headers=vendor.headers), 404, "not_found")
    assert "product" in body["message"]


async def test_other_vendors_products_are_invisible(
    client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    a = await make_vendor()
    b = await make_vendor()
    p = await create(client, a)
    before = await fetch(client, a, p["id"])
    url = f"{API}/{p['id']}"
    vid = p["variants"][0]["id"]
    error(await client.get(url, headers=b.headers), 404)
    error(await client.patch(url, json={"title": "stolen"}, headers=b.headers), 404)
    error(await client.put(url, json=product_body(title="stolen"), headers=b.headers), 404)
    error(await client.delete(url, headers=b.headers), 404)
    error(await client.post(f"{url}/variants", json={"price": 1}, headers=b.headers), 404)
    error(await client.patch(f"{url}/variants/{vid}", json={"stock": 0}, headers=b.headers), 404)
    error(await client.delete(f"{url}/variants/{vid}", headers=b.headers), 404)
    error(await upload(client, b, p["id"], jpeg()), 404)
    assert await all_products(client, b) == []
    assert await fetch(client, a, p["id"]) == before


async def test_untrusted_text_is_stored_verbatim_as_json_text(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    title = "<script>alert('x')</script>"
    description = '"><img src=x onerror=alert(1)> & </textarea> 🛍️ Kemeja\u200b'
    r = await client.post(
        API,
        json=product_body(
            title=title,
            description=description,
            options=["<b>Size</b>"],
            variants=[{"sku": "<i>sku</i>", "options": {"<b>Size</b>": "<u>M</u>"}, "price": 1}],
        ),
        headers=vendor.headers,
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["x-content-type-options"] == "nosniff"
    got = await fetch(client, vendor, r.json()["id"])
    assert got["title"] == title
    assert got["description"] == description
    assert got["handle"] == "script-alert-x-script"
    assert got["options"] == ["<b>Size</b>"]
    assert got["variants"][0]["options"] == {"<b>Size</b>": "<u>M</u>"}
    assert got["variants"][0]["sku"] == "<i>sku</i>"
    assert got["variants"][0]["title"] == "<u>M</u>"
    listed = await client.get(API, params={"q": "<script>"}, headers=vendor.headers)
    assert [p["title"] for p in listed.json()["data"]] == [title]


# --------------------------------------------------------------------------- variants


async def test_any_number_of_option_axes(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    axes = {"Size": ["S", "M"], "Colour": ["Blue", "Red"], "Material": ["Cotton", "Silk"]}
    variants = [
        {
            "sku": "-".join(combo),
            "options": dict(zip(axes, combo, strict=True)),
            "price": 100 + i,
            "stock": i,
        }
        for i, combo in enumerate(itertools.product(*axes.values()))
    ]
    p = await create(client, vendor, options=list(axes), variants=variants)
    assert p["options"] == ["Size", "Colour", "Material"]
    assert len(p["variants"]) == 8
    for sent, got in zip(variants, p["variants"], strict=True):
        assert got["sku"] == sent["sku"]
        assert got["options"] == sent["options"]
        assert got["title"] == " / ".join(sent["options"].values())
        assert got["price"] == sent["price"]
        assert got["stock"] == sent["stock"]
        assert got["available"] is (sent["stock"] > 0)
    # Options given in another key order are matched by name, not position.
    r = await client.post(
        API,
        json=product_body(
            title="Reordered",
            options=["Size", "Colour"],
            variants=[{"options": {"Colour": "Red", "Size": "XL"}, "price": 1}],
        ),
        headers=vendor.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["variants"][0]["title"] == "XL / Red"


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ({"Size": "M"}, "missing"),
        ({"Size": "M", "Colour": "Blue", "Fit": "Slim"}, "extra"),
        ({"size": "M", "Colour": "Blue"}, "wrong name"),
        ({}, "none"),
    ],
)
async def test_variant_options_must_match_the_axes(
    client: httpx.AsyncClient, vendor: VendorCtx, given: dict[str, str], why: str
) -> None:
    r = await client.post(
        API,
        json=product_body(
            options=["Size", "Colour"],
            variants=[
                {"options": {"Size": "S", "Colour": "Red"}, "price": 1},
                {"options": given, "price": 1},
            ],
        ),
        headers=vendor.headers,
    )
    body = error(r, 400, "invalid_variant_options")
    assert "variant 2" in body["message"], why
    assert "Size" in body["message"] and "Colour" in body["message"]
    assert body["details"] == {"expected": ["Size", "Colour"], "given": sorted(given)}
    assert await all_products(client, vendor) == []


async def test_options_on_a_product_without_axes_are_rejected(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    r = await client.post(
        API,
        json=product_body(options=[], variants=[{"options": {"Size": "M"}, "price": 1}]),
        headers=vendor.headers,
    )
    body = error(r, 400, "invalid_variant_options")
    assert "(none)" in body["message"]
    r = await client.post(
        API,
        json=product_body(options=[], variants=[{"price": 1}, {"price": 2}]),
        headers=vendor.headers,
    )
    error(r, 400, "duplicate_variant")
    assert await all_products(client, vendor) == []


async def test_duplicate_option_names_are_rejected(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    r = await client.post(API, json=product_body(options=["Size", "size"]), headers=vendor.headers)
    body = error(r, 422, "validation_failed")
    assert "option names must be unique" in str(body["details"])


async def test_duplicate_combinations_and_skus_are_rejected(
    client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    vendor = await make_vendor()
    r = await client.post(
        API,
        json=product_body(
            variants=[
                {"sku": "A", "options": {"Size": "M"}, "price": 1},
                {"sku": "B", "options": {"Size": "M"}, "price": 2},
            ]
        ),
        headers=vendor.headers,
    )
    body = error(r, 400, "duplicate_variant")
    assert "M" in body["message"]
    r = await client.post(
        API,
        json=product_body(
            variants=[
                {"sku": "SAME", "options": {"Size": "M"}, "price": 1},
                {"sku": "SAME", "options": {"Size": "L"}, "price": 2},
            ]
        ),
        headers=vendor.headers,
    )
    body = error(r, 400, "duplicate_sku")
    assert "SAME" in body["message"]
    assert await all_products(client, vendor) == []

    # A SKU used by another product of the same vendor is a conflict ...
    first = await create(client, vendor)
    r = await client.post(
        API,
        json=product_body(
            title="Other", variants=[{"sku": "KB-M", "options": {"Size": "S"}, "price": 1}]
        ),
        headers=vendor.headers,
    )
    error(r, 409, "sku_taken")
    assert [p["id"] for p in await all_products(client, vendor)] == [first["id"]]
    # ... but not for another vendor.
    other = await make_vendor()
    assert (await create(client, other))["variants"][0]["sku"] == "KB-M"
    # Variants without SKU do not collide with each other.
    nosku = await create(
        client,
        vendor,
        title="No SKU",
        variants=[{"options": {"Size": "S"}, "price": 1}, {"options": {"Size": "L"}, "price": 1}],
    )
    assert [v["sku"] for v in nosku["variants"]] == [None, None]


async def test_add_update_delete_variant(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    p = await create(client, vendor)
    url = f"{API}/{p['id']}/variants"
    r = await client.post(
        url,
        json={"sku": "KB-XL", "options": {"Size": "XL"}, "price": 41_000_000, "stock": 3},
        headers=vendor.headers,
    )
    assert r.status_code == 201, r.text
    xl = r.json()
    assert xl["options"] == {"Size": "XL"}
    assert xl["price"] == 41_000_000
    got = await fetch(client, vendor, p["id"])
    assert [v["sku"] for v in got["variants"]] == ["KB-M", "KB-L", "KB-XL"]

    # Bad additions change nothing.
    for body, status, code in (
        ({"options": {"Size": "M"}, "price": 1}, 400, "duplicate_variant"),
        ({"sku": "KB-L", "options": {"Size": "S"}, "price": 1}, 400, "duplicate_sku"),
        ({"options": {"Colour": "Red"}, "price": 1}, 400, "invalid_variant_options"),
        ({"options": {"Size": "S"}, "price": -1}, 422, "validation_failed"),
    ):
        error(await client.post(url, json=body, headers=vendor.headers), status, code)
    assert await fetch(client, vendor, p["id"]) == got

    r = await client.patch(
        f"{url}/{xl['id']}",
        json={"price": 39_000_000, "compare_at_price": 45_000_000, "stock": 0},
        headers=vendor.headers,
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["id"] == xl["id"]
    assert (patched["price"], patched["compare_at_price"], patched["stock"]) == (
        39_000_000,
        45_000_000,
        0,
    )
    assert patched["available"] is False
    assert patched["sku"] == "KB-XL"
    r = await client.patch(
        f"{url}/{xl['id']}", json={"compare_at_price": None}, headers=vendor.headers
    )
    assert r.json()["compare_at_price"] is None
    r = await client.patch(
        f"{url}/{xl['id']}", json={"options": {"Size": "XXL"}}, headers=vendor.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "XXL"

    # Patches that would break the product change nothing.
    before = await fetch(client, vendor, p["id"])
    for body, status, code in (
        ({"options": {"Size": "M"}}, 400, "duplicate_variant"),
        ({"sku": "KB-M"}, 400, "duplicate_sku"),
        ({"options": {"Fit": "Slim"}}, 400, "invalid_variant_options"),
        ({"stock": -1}, 422, "validation_failed"),
        ({"price": MAX_MINOR + 1}, 422, "validation_failed"),
    ):
        r = await client.patch(f"{url}/{xl['id']}", json=body, headers=vendor.headers)
        error(r, status, code)
    assert await fetch(client, vendor, p["id"]) == before

    error(await client.patch(f"{url}/var_nope", json={"stock": 1}, headers=vendor.headers), 404)

    for v in before["variants"][:-1]:
        r = await client.delete(f"{url}/{v['id']}", headers=vendor.headers)
        assert r.status_code == 204, r.text
    last = before["variants"][-1]
    error(await client.delete(f"{url}/{last['id']}", headers=vendor.headers), 409, "last_variant")
    assert [v["id"] for v in (await fetch(client, vendor, p["id"]))["variants"]] == [last["id"]]


async def test_variant_sku_conflict_with_other_product(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    await create(client, vendor)
    other = await create(
        client,
        vendor,
        title="Other",
        variants=[{"sku": "O-1", "options": {"Size": "S"}, "price": 1}],
    )
    url = f"{API}/{other['id']}/variants"
    error(
        await client.post(
            url, json={"sku": "KB-M", "options": {"Size": "L"}, "price": 1}, headers=vendor.headers
        ),
        409,
        "sku_taken",
    )
    vid = other["variants"][0]["id"]
    error(
        await client.patch(f"{url}/{vid}", json={"sku": "KB-L"}, headers=vendor.headers),
        409,
        "sku_taken",
    )
    assert await fetch(client, vendor, other["id"]) == other


async def test_variant_changes_bump_product_updated_at(
    client: httpx.AsyncClient, app: FastAPI, vendor: VendorCtx
) -> None:
    """A sync client that asks for updated_after must see stock and price changes."""
    p = await create(client, vendor)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    since = "2021-01-01T00:00:00Z"
    vid = p["variants"][0]["id"]
    changes = [
        ("PATCH", f"{API}/{p['id']}/variants/{vid}", {"stock": 0}),
        ("POST", f"{API}/{p['id']}/variants", {"options": {"Size": "S"}, "price": 1}),
        ("DELETE", f"{API}/{p['id']}/variants/{vid}", None),
        ("PUT", f"{API}/{p['id']}", product_body(title=p["title"])),
    ]
    for method, url, body in changes:
        await set_updated_at(app, p["id"], long_ago)
        r = await client.get(API, params={"updated_after": since}, headers=vendor.headers)
        assert r.json()["data"] == []
        r = await client.request(method, url, json=body, headers=vendor.headers)
        assert r.status_code < 300, r.text
        r = await client.get(API, params={"updated_after": since}, headers=vendor.headers)
        assert [x["id"] for x in r.json()["data"]] == [p["id"]], (method, url)


# --------------------------------------------------------------------------- PUT


async def test_put_keeps_ids_of_variants_whose_options_match(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    p = await create(client, vendor)
    m, large = p["variants"]
    r = await client.put(
        f"{API}/{p['id']}",
        json=product_body(
            title="Kemeja Batik v2",
            description="new",
            status="draft",
            variants=[
                {"sku": "KB-S", "options": {"Size": "S"}, "price": 1, "stock": 1},
                {"sku": "KB-L2", "options": {"Size": "L"}, "price": 2, "stock": 9},
            ],
        ),
        headers=vendor.headers,
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["title"], got["description"], got["status"]) == ("Kemeja Batik v2", "new", "draft")
    assert got["handle"] == p["handle"]
    s, l2 = got["variants"]
    assert l2["id"] == large["id"]  # kept: same options
    assert (l2["sku"], l2["price"], l2["stock"]) == ("KB-L2", 2, 9)
    assert s["id"] not in {m["id"], large["id"]}  # new
    assert s["options"] == {"Size": "S"}
    assert await fetch(client, vendor, p["id"]) == got
    # The removed variant is gone for good.
    r = await client.patch(
        f"{API}/{p['id']}/variants/{m['id']}", json={"stock": 1}, headers=vendor.headers
    )
    error(r, 404)


async def test_put_can_move_and_swap_skus(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    p = await create(client, vendor)
    m, large = p["variants"]
    # Swap the SKUs of two kept variants.
    r = await client.put(
        f"{API}/{p['id']}",
        json=product_body(
            variants=[
                {"sku": "KB-L", "options": {"Size": "M"}, "price": 1},
                {"sku": "KB-M", "options": {"Size": "L"}, "price": 1},
            ]
        ),
        headers=vendor.headers,
    )
    assert r.status_code == 200, r.text
    assert [(v["id"], v["sku"]) for v in r.json()["variants"]] == [
        (m["id"], "KB-L"),
        (large["id"], "KB-M"),
    ]
    # Move a SKU from a removed variant to a new one.
    r = await client.put(
        f"{API}/{p['id']}",
        json=product_body(variants=[{"sku": "KB-L", "options": {"Size": "XL"}, "price": 1}]),
        headers=vendor.headers,
    )
    assert r.status_code == 200, r.text
    (xl,) = r.json()["variants"]
    assert xl["sku"] == "KB-L" and xl["id"] not in {m["id"], large["id"]}
    assert (await fetch(client, vendor, p["id"]))["variants"] == [xl]


async def test_put_with_new_axes_replaces_variants_and_may_reuse_skus(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    p = await create(client, vendor)
    r = await client.put(
        f"{API}/{p['id']}",
        json=product_body(
            options=["Size", "Colour"],
            variants=[
                {"sku": "KB-M", "options": {"Size": "M", "Colour": "Blue"}, "price": 1},
                {"sku": "KB-L", "options": {"Size": "L", "Colour": "Blue"}, "price": 1},
            ],
        ),
        headers=vendor.headers,
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["options"] == ["Size", "Colour"]
    assert [v["title"] for v in got["variants"]] == ["M / Blue", "L / Blue"]
    assert {v["id"] for v in got["variants"]}.isdisjoint({v["id"] for v in p["variants"]})


async def test_put_applies_a_given_handle(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    p = await create(client, vendor)
    r = await client.put(
        f"{API}/{p['id']}", json=product_body(handle="kemeja-baru"), headers=vendor.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["handle"] == "kemeja-baru"
    assert (await fetch(client, vendor, p["id"]))["handle"] == "kemeja-baru"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"currency": "ZZZ"}, 400, "invalid_currency"),
        ({"currency": "RP"}, 422, "validation_failed"),
        (
            {"variants": [{"options": {"Size": "M"}, "price": MAX_MINOR + 1}]},
            422,
            "validation_failed",
        ),
        ({"variants": [{"options": {"Size": "M"}, "price": 1, "stock": -1}]}, 422, None),
        ({"variants": [{"options": {"Colour": "Red"}, "price": 1}]}, 400, None),
        (
            {
                "variants": [
                    {"options": {"Size": "M"}, "price": 1},
                    {"options": {"Size": "M"}, "price": 2},
                ]
            },
            400,
            "duplicate_variant",
        ),
    ],
)
async def test_bad_put_changes_nothing(
    client: httpx.AsyncClient,
    vendor: VendorCtx,
    change: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    p = await create(client, vendor)
    body = product_body(title="Changed", description="changed", **change)
    error(await client.put(f"{API}/{p['id']}", json=body, headers=vendor.headers), status, code)
    assert await fetch(client, vendor, p["id"]) == p


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"price": MAX_MINOR + 1}, 422, "body.variants.0.price"),
        ({"price": 10**30}, 422, "body.variants.0.price"),
        ({"price": -1}, 422, "body.variants.0.price"),
        ({"price": 1.5}, 422, "body.variants.0.price"),
        ({"compare_at_price": MAX_MINOR + 1}, 422, "body.variants.0.compare_at_price"),
        ({"stock": -1}, 422, "body.variants.0.stock"),
        ({"stock": 2**31}, 422, "body.variants.0.stock"),
    ],
)
async def test_out_of_range_numbers_are_rejected(
    client: httpx.AsyncClient,
    vendor: VendorCtx,
    change: dict[str, Any],
    status: int,
    field: str,
) -> None:
    variant = {"options": {"Size": "M"}, "price": 1, **change}
    r = await client.post(API, json=product_body(variants=[variant]), headers=vendor.headers)
    body = error(r, status, "validation_failed")
    assert field in [d["field"] for d in body["details"]]
    assert await all_products(client, vendor) == []


async def test_largest_price_is_accepted(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    p = await create(
        client, vendor, variants=[{"options": {"Size": "M"}, "price": MAX_MINOR, "stock": 10**9}]
    )
    got = await fetch(client, vendor, p["id"])
    assert got["variants"][0]["price"] == MAX_MINOR
    assert got["variants"][0]["stock"] == 10**9


@pytest.mark.parametrize("currency", ["ZZZ", "XYZ", "12$"])
async def test_bad_currency_is_rejected(
    client: httpx.AsyncClient, vendor: VendorCtx, currency: str
) -> None:
    r = await client.post(API, json=product_body(currency=currency), headers=vendor.headers)
    body = error(r, 400, "invalid_currency")
    assert currency in body["message"]
    assert await all_products(client, vendor) == []


# --------------------------------------------------------------------------- list


async def test_cursor_pagination_walks_every_product_once(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    ids = []
    for i in range(11):
        p = await create(
            client,
            vendor,
            title=f"Produk {i}",
            variants=[{"sku": f"P{i}", "options": {"Size": "M"}, "price": i + 1}],
        )
        ids.append(p["id"])
    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        r = await client.get(API, params=params, headers=vendor.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        pages += 1
        assert 1 <= len(page["data"]) <= 3
        seen.extend(p["id"] for p in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10, "pagination does not end"
    assert pages == 4
    assert len(seen) == len(set(seen)) == 11
    assert seen == sorted(ids)
    # An exact multiple of the page size ends without an empty page.
    r = await client.get(API, params={"limit": 11}, headers=vendor.headers)
    assert len(r.json()["data"]) == 11
    assert r.json()["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["!!!!", "abc", "zzzz", "%%%%", "AAAA", "\u00e9t\u00e9"])
async def test_invalid_cursor_is_400(
    client: httpx.AsyncClient, vendor: VendorCtx, cursor: str
) -> None:
    r = await client.get(API, params={"cursor": cursor}, headers=vendor.headers)
    body = error(r, 400, "invalid_cursor")
    assert "cursor" in body["message"]


@pytest.mark.parametrize("limit", [0, -1, 101, "ten"])
async def test_bad_limit_is_422(client: httpx.AsyncClient, vendor: VendorCtx, limit: Any) -> None:
    r = await client.get(API, params={"limit": limit}, headers=vendor.headers)
    body = error(r, 422, "validation_failed")
    assert [d["field"] for d in body["details"]] == ["query.limit"]


async def test_list_filters(client: httpx.AsyncClient, app: FastAPI, vendor: VendorCtx) -> None:
    def one(title: str, sku: str, **over: Any) -> dict[str, Any]:
        return product_body(
            title=title, variants=[{"sku": sku, "options": {"Size": "M"}, "price": 1}], **over
        )

    shirt = await create_raw(client, vendor, one("Kemeja Batik", "S-1", status="active"))
    dress = await create_raw(
        client,
        vendor,
        one("Dress Kebaya", "D-1", status="draft", description="batik motif, diskon 50%"),
    )
    old = await create_raw(client, vendor, one("Sarung Lama", "O-1", status="archived"))
    fifty = await create_raw(client, vendor, one("Promo 500 item", "F-1", handle="promo-500"))

    async def ids(**params: Any) -> list[str]:
        r = await client.get(API, params=params, headers=vendor.headers)
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()["data"]]

    assert await ids(status="draft") == [dress]
    assert await ids(status="archived") == [old]
    assert await ids(status="active") == [shirt, fifty]
    error(await client.get(API, params={"status": "gone"}, headers=vendor.headers), 422)
    assert await ids(q="BATIK") == [shirt, dress]  # title or description, any case
    assert await ids(q="batik", status="draft") == [dress]
    assert await ids(q="50%") == [dress]  # % is a literal, not a wildcard
    assert await ids(q="50_") == []  # and so is _
    assert await ids(q="tidak ada") == []
    assert await ids(sku="D-1") == [dress]
    assert await ids(sku="D-") == []  # exact match only
    assert await ids(handle="promo-500") == [fifty]
    assert await ids(handle="promo") == []

    await set_updated_at(app, shirt, datetime(2024, 1, 1, 12, 0, tzinfo=UTC))
    await set_updated_at(app, dress, datetime(2024, 3, 1, 12, 0, tzinfo=UTC))
    await set_updated_at(app, old, datetime(2024, 6, 1, 12, 0, tzinfo=UTC))
    await set_updated_at(app, fifty, datetime(2024, 9, 1, 12, 0, tzinfo=UTC))
    assert await ids(updated_after="2024-02-01T00:00:00Z") == [dress, old, fifty]
    # Strictly after; an offset is honoured (19:00+07:00 is 12:00Z).
    assert await ids(updated_after="2024-06-01T19:00:00+07:00") == [fifty]
    assert await ids(updated_after="2024-06-01T18:59:59+07:00") == [old, fifty]
    assert await ids(updated_after="2024-09-01T12:00:00Z", status="active") == []
    r = await client.get(
        API, params={"updated_after": "2024-02-01T00:00:00"}, headers=vendor.headers
    )
    error(r, 422, "validation_failed")
    r = await client.get(API, params={"updated_after": "yesterday"}, headers=vendor.headers)
    error(r, 422, "validation_failed")

    # Filters and cursors combine: walk the active products one at a time.
    seen = []
    cursor = None
    while True:
        params: dict[str, Any] = {"status": "active", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(API, params=params, headers=vendor.headers)).json()
        seen += [p["id"] for p in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [shirt, fifty]


async def create_raw(client: httpx.AsyncClient, vendor: VendorCtx, body: dict[str, Any]) -> str:
    r = await client.post(API, json=body, headers=vendor.headers)
    assert r.status_code == 201, r.text
    pid: str = r.json()["id"]
    return pid


async def test_list_is_scoped_to_the_vendor(
    client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    a = await make_vendor()
    b = await make_vendor()
    pa = await create(client, a)
    pb = await create(client, b)
    assert [p["id"] for p in await all_products(client, a)] == [pa["id"]]
    assert [p["id"] for p in await all_products(client, b)] == [pb["id"]]
    r = await client.get(API, params={"sku": "KB-M"}, headers=a.headers)
    assert [p["id"] for p in r.json()["data"]] == [pa["id"]]


# --------------------------------------------------------------------------- images


async def test_jpeg_upload_strips_exif_and_is_served(
    client: httpx.AsyncClient, app: FastAPI, vendor: VendorCtx
) -> None:
    p = await create(client, vendor)
    raw = jpeg((64, 32), exif=gps_exif(), comment=b"home: -6.2, 106.8")
    assert Image.open(io.BytesIO(raw)).getexif()  # the upload does carry EXIF
    r = await upload(client, vendor, p["id"], raw, alt="<b>Front</b>")
    assert r.status_code == 201, r.text
    (img,) = r.json()["images"]
    assert img["id"].startswith("img_")
    assert img["alt"] == "<b>Front</b>"
    assert (img["width"], img["height"]) == (64, 32)
    assert img["url"].startswith("http://testserver/media/")
    assert img["url"].endswith(".jpg")
    assert (await fetch(client, vendor, p["id"]))["images"] == [img]

    served = await client.get(img["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    out = Image.open(io.BytesIO(served.content))
    assert out.format == "JPEG"
    assert out.size == (64, 32)
    assert dict(out.getexif()) == {}
    assert "exif" not in out.info
    assert "comment" not in out.info
    assert b"SpyCam" not in served.content
    assert b"106.8" not in served.content
    (stored,) = media_files(app)
    assert stored.read_bytes() == served.content


async def test_exif_orientation_is_applied(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    p = await create(client, vendor)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    r = await upload(client, vendor, p["id"], jpeg((60, 20), exif=exif))
    assert r.status_code == 201, r.text
    (img,) = r.json()["images"]
    assert (img["width"], img["height"]) == (20, 60)
    out = Image.open(io.BytesIO((await client.get(img["url"])).content))
    assert out.size == (20, 60)
    assert 0x0112 not in out.getexif()


@pytest.mark.parametrize(
    ("fmt", "ext", "ctype"), [("PNG", "png", "image/png"), ("WEBP", "webp", "image/webp")]
)
async def test_png_and_webp_uploads(
    client: httpx.AsyncClient, vendor: VendorCtx, fmt: str, ext: str, ctype: str
) -> None:
    p = await create(client, vendor)
    img = Image.new("RGB", (30, 40), (1, 2, 3))
    raw = io.BytesIO()
    img.save(raw, fmt, exif=gps_exif().tobytes())
    r = await upload(client, vendor, p["id"], raw.getvalue(), name=f"x.{ext}", content_type=ctype)
    assert r.status_code == 201, r.text
    (out,) = r.json()["images"]
    assert out["url"].endswith(f".{ext}")
    assert (out["width"], out["height"]) == (30, 40)
    served = await client.get(out["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == ctype
    decoded = Image.open(io.BytesIO(served.content))
    assert decoded.format == fmt
    assert dict(decoded.getexif()) == {}
    assert b"SpyCam" not in served.content


async def test_second_image_goes_after_the_first_and_delete_removes_the_file(
    client: httpx.AsyncClient, app: FastAPI, vendor: VendorCtx
) -> None:
    p = await create(client, vendor)
    first = (await upload(client, vendor, p["id"], jpeg(), alt="one")).json()["images"][0]
    r = await upload(client, vendor, p["id"], image_bytes("PNG"), "b.png", "image/png", alt="two")
    assert [i["alt"] for i in r.json()["images"]] == ["one", "two"]
    assert len(media_files(app)) == 2

    r = await client.delete(f"{API}/{p['id']}/images/{first['id']}", headers=vendor.headers)
    assert r.status_code == 204
    assert [i["alt"] for i in (await fetch(client, vendor, p["id"]))["images"]] == ["two"]
    assert (await client.get(first["url"])).status_code == 404
    assert len(media_files(app)) == 1
    r = await client.delete(f"{API}/{p['id']}/images/{first['id']}", headers=vendor.headers)
    error(r, 404, "not_found")


async def test_deleting_a_product_deletes_its_stored_images(
    client: httpx.AsyncClient, app: FastAPI, vendor: VendorCtx
) -> None:
    p = await create(client, vendor)
    img = (await upload(client, vendor, p["id"], jpeg())).json()["images"][0]
    assert (await client.get(img["url"])).status_code == 200
    assert (await client.delete(f"{API}/{p['id']}", headers=vendor.headers)).status_code == 204
    assert (await client.get(img["url"])).status_code == 404
    assert media_files(app) == []


@pytest.mark.parametrize(
    ("data", "name", "ctype", "status", "needle"),
    [
        (b"this is not an image at all", "x.jpg", "image/jpeg", 400, "JPEG, PNG or WebP"),
        (b"", "x.jpg", "image/jpeg", 400, "empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "x.png", "image/png", 400, "JPEG, PNG or WebP"),
        ("GIF", "x.gif", "image/gif", 400, "GIF"),
        ("BMP", "x.bmp", "image/bmp", 400, "BMP"),
        ("TIFF", "x.jpg", "image/jpeg", 400, "TIFF"),
        ("TRUNCATED", "x.jpg", "image/jpeg", 400, "image"),
    ],
)
async def test_bad_uploads_are_rejected_and_nothing_is_stored(
    client: httpx.AsyncClient,
    app: FastAPI,
    vendor: VendorCtx,
    data: bytes | str,
    name: str,
    ctype: str,
    status: int,
    needle: str,
) -> None:
    if data == "TRUNCATED":
        raw = jpeg((200, 200), noise=True)
        data = raw[: len(raw) // 2]
    elif isinstance(data, str):
        data = image_bytes(data)
    p = await create(client, vendor)
    body = error(await upload(client, vendor, p["id"], data, name, ctype), status, "invalid_image")
    assert needle in body["message"]
    assert (await fetch(client, vendor, p["id"]))["images"] == []
    assert media_files(app) == []


async def test_oversized_upload_is_413_and_nothing_is_stored(
    client: httpx.AsyncClient, app: FastAPI, vendor: VendorCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.services.settings, "max_image_bytes", 4096)
    p = await create(client, vendor)
    big = jpeg((128, 128), noise=True)
    assert len(big) > 4096
    body = error(await upload(client, vendor, p["id"], big), 413, "image_too_large")
    assert "4096" in body["message"]
    small = jpeg((8, 8))
    assert len(small) <= 4096
    assert (await fetch(client, vendor, p["id"]))["images"] == []
    assert media_files(app) == []
    assert (await upload(client, vendor, p["id"], small)).status_code == 201
    assert len(media_files(app)) == 1


async def test_too_many_pixels_is_413(
    client: httpx.AsyncClient, app: FastAPI, vendor: VendorCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.services.settings, "max_image_pixels", 100)
    p = await create(client, vendor)
    body = error(await upload(client, vendor, p["id"], jpeg((11, 10))), 413, "image_too_large")
    assert "11×10" in body["message"]
    assert media_files(app) == []
    assert (await upload(client, vendor, p["id"], jpeg((10, 10)))).status_code == 201


async def test_upload_needs_a_file(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    p = await create(client, vendor)
    r = await client.post(f"{API}/{p['id']}/images", data={"alt": "x"}, headers=vendor.headers)
    body = error(r, 422, "validation_failed")
    assert "body.file" in [d["field"] for d in body["details"]]


async def test_same_title_twice_gets_distinct_handles(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    body = {"title": "Kopi Gayo", "variants": [{"price": 100}]}
    first = await client.post("/api/v1/products", json=body, headers=vendor.headers)
    second = await client.post("/api/v1/products", json=body, headers=vendor.headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert [first.json()["handle"], second.json()["handle"]] == ["kopi-gayo", "kopi-gayo-2"]
    # An explicitly chosen handle is still unique.
    taken = await client.post(
        "/api/v1/products", json={**body, "handle": "kopi-gayo"}, headers=vendor.headers
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "handle_taken"


async def test_search_folds_case_beyond_ascii(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    body = {"title": "Émile Batik", "variants": [{"price": 100}]}
    assert (
        await client.post("/api/v1/products", json=body, headers=vendor.headers)
    ).status_code == 201
    found = await client.get("/api/v1/products", params={"q": "émile"}, headers=vendor.headers)
    assert [p["title"] for p in found.json()["data"]] == ["Émile Batik"]
