"""Catalog import from Pasar CSV, Shopify CSV exports and Shopify products.json.

The fixtures in ``tests/fixtures`` mix good products with broken ones; each
broken one must be reported with its line and reason while the rest imports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from pasar.catalog.importers import parse_csv, parse_shopify
from pasar.catalog.importers.csv import MAX_BYTES, CsvFormatError
from pasar.catalog.importers.shopify import ShopifyFormatError
from pasar.catalog.importers.text import html_to_text
from tests.conftest import VendorCtx

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PASAR_CSV = FIXTURES / "pasar_products.csv"
SHOPIFY_CSV = FIXTURES / "shopify_products.csv"
SHOPIFY_JSON = FIXTURES / "shopify_products.json"

# line -> (handle, a piece of the reason). Lines are where each bad row starts in
# the file (several rows start after a quoted cell that spans lines).
PASAR_CSV_ERRORS = {
    11: ("sepatu-lari", "price is missing"),
    12: ("madu-hutan", "'seratus ribu' is not a number"),
    13: ("teh-melati", "more decimals than IDR allows"),
    14: ("tas-rotan", "'XYZ' is not an ISO 4217 currency"),
    16: ("gamis-katun", "option 'Ukuran' has no value"),
    17: ("hijab-voal", "SKU 'HV-01' is used twice"),
    19: ("kemeja-batik-kw", "SKU exists"),
    21: ("tanpa-judul", "title is empty"),
    22: ("hanya-judul", "no variants"),
}
PASAR_CSV_GOOD = {"kemeja-batik-tulis", "serum-vitamin-c", "kopi-gayo", "matcha-uji"}

SHOPIFY_CSV_ERRORS = {
    13: ("sandal-jepit", "price is missing"),
    14: ("dompet-kulit", "'dua ratus ribu' is not a number"),
    15: ("sabun-sereh", "more decimals than IDR allows"),
    17: ("kaos-polos", "option 'Color' has no value"),
    18: ("celana-chino", "SKU 'CCS-30' is used twice"),
    20: ("topi-bucket", "title is empty"),
    21: ("kartu-ucapan", "no variants"),
}
SHOPIFY_CSV_GOOD = {"kemeja-batik-parang", "lip-cream-matte"}

# For products.json the "line" is the product's position in the export.
SHOPIFY_JSON_ERRORS = {
    3: ("tumbler-stainless", "variant 2: price is missing"),
    4: ("payung-lipat", "'seratus ribu' is not a number"),
    5: ("masker-kain", "more decimals than IDR allows"),
    6: ("jam-tangan-kayu", "'XYZ' is not an ISO 4217 currency"),
    7: ("kaos-kaki-batik", "option 'Warna' has no value"),
    8: ("sarung-tenun", "SKU 'ST-01' is used twice"),
    9: ("tanpa-nama", "title is empty"),
    10: ("voucher-belanja", "no variants"),
}
SHOPIFY_JSON_GOOD = {"batik-tulis-lasem", "kopi-toraja-sapan"}

CASES = {
    "pasar-csv": ("csv", PASAR_CSV, PASAR_CSV_ERRORS, PASAR_CSV_GOOD),
    "shopify-csv": ("csv", SHOPIFY_CSV, SHOPIFY_CSV_ERRORS, SHOPIFY_CSV_GOOD),
    "shopify-json": ("shopify", SHOPIFY_JSON, SHOPIFY_JSON_ERRORS, SHOPIFY_JSON_GOOD),
}


def _errors_of(candidates: list[Any]) -> dict[int, tuple[str | None, str]]:
    return {c.line: (c.handle, c.error) for c in candidates if c.error}


def _assert_reported(errors: dict[int, tuple[str | None, str]], expected: dict[Any, Any]) -> None:
    assert sorted(errors) == sorted(expected), errors
    for line, (handle, piece) in expected.items():
        got_handle, reason = errors[line]
        assert got_handle == handle, (line, errors[line])
        assert piece.lower() in reason.lower(), (line, reason)


# --- parse_csv / parse_shopify, no database ----------------------------------------------


def test_parse_pasar_csv() -> None:
    candidates = parse_csv(PASAR_CSV.read_bytes(), "IDR")
    by_handle = {c.handle: c for c in candidates}
    # Errors found while parsing (the rest surface when the product is validated/saved).
    parse_errors = {line: e for line, e in PASAR_CSV_ERRORS.items() if line not in (17, 19)}
    _assert_reported(_errors_of(candidates), parse_errors)

    batik = by_handle["kemeja-batik-tulis"]
    assert batik.error is None and batik.data is not None
    assert batik.line == 2  # where the row starts, not where its two-line description ends
    assert batik.variant_lines == [2, 4, 5]
    assert batik.data["title"] == "Kemeja Batik Tulis Pekalongan"
    assert batik.data["options"] == ["Ukuran", "Warna"]
    assert batik.data["description"] == (
        "Hand-drawn batik tulis on primisima cotton.\nEach piece is slightly different."
    )
    assert [v["options"] for v in batik.data["variants"]] == [
        {"Ukuran": "M", "Warna": "Biru"},
        {"Ukuran": "L", "Warna": "Biru"},
        {"Ukuran": "M", "Warna": "Merah"},
    ]
    first, _, last = batik.data["variants"]
    assert first == {
        "options": {"Ukuran": "M", "Warna": "Biru"},
        "price": 38_900_000,
        "compare_at_price": 45_900_000,
        "stock": 12,
        "sku": "KBT-M-BIRU",
    }
    assert "compare_at_price" not in last and last["price"] == 39_900_000
    assert batik.images == [
        ("https://cdn.toko.example/kbt-1.jpg", ""),
        ("https://cdn.toko.example/kbt-2.jpg", ""),
    ]

    serum = by_handle["serum-vitamin-c"]
    assert serum.data is not None
    assert serum.data["description"] == "Brightening serum.\nBPOM registered."
    assert serum.data["options"] == [] and serum.data["variants"][0]["options"] == {}

    matcha = by_handle["matcha-uji"]
    assert matcha.data is not None
    assert matcha.data["currency"] == "JPY"
    assert matcha.data["variants"][0]["price"] == 1500  # JPY has no minor unit
    assert by_handle["kopi-gayo"].data["status"] == "draft"  # type: ignore[index]


def test_parse_shopify_csv_export() -> None:
    candidates = parse_csv(SHOPIFY_CSV.read_bytes(), "IDR")
    parse_errors = {line: e for line, e in SHOPIFY_CSV_ERRORS.items() if line != 18}
    _assert_reported(_errors_of(candidates), parse_errors)
    by_handle = {c.handle: c for c in candidates}

    shirt = by_handle["kemeja-batik-parang"]
    assert shirt.data is not None and shirt.line == 2
    assert shirt.variant_lines == [2, 7, 8, 9]
    assert shirt.data["options"] == ["Size", "Color"]
    assert shirt.data["description"] == "Batik cap motif parang.\nKatun primisima\nLengan pendek"
    stocks = [v["stock"] for v in shirt.data["variants"]]
    assert stocks == [10, 0, 4, 0]  # Shopify's oversold -2 is no stock, not negative stock
    assert [v["price"] for v in shirt.data["variants"]] == [14_900_000] * 2 + [15_900_000] * 2
    assert [src for src, _ in shirt.images] == [
        "https://cdn.shopify.com/s/files/1/kbp-1.jpg",
        "https://cdn.shopify.com/s/files/1/kbp-2.jpg",
        "https://cdn.shopify.com/s/files/1/kbp-3.jpg",
    ]
    assert shirt.images[0][1] == "Kemeja batik parang navy"

    lip = by_handle["lip-cream-matte"]
    assert lip.data is not None
    # "Title" / "Default Title" is Shopify's way of saying "no options".
    assert lip.data["options"] == [] and lip.data["variants"][0]["options"] == {}
    assert lip.data["description"] == "Tahan lama & ringan.\nHalal."


def test_parse_shopify_json() -> None:
    candidates = parse_shopify(
        SHOPIFY_JSON.read_bytes(), "IDR", store_url="https://toko-contoh.example/"
    )
    errors = _errors_of(candidates)
    _assert_reported(errors, {k: v for k, v in SHOPIFY_JSON_ERRORS.items() if k != 8})
    by_handle = {c.handle: c for c in candidates}

    batik = by_handle["batik-tulis-lasem"]
    assert batik.data is not None and batik.line == 1
    assert batik.data["external_id"] == "shopify:8072416551001"
    assert batik.data["product_url"] == "https://toko-contoh.example/products/batik-tulis-lasem"
    assert batik.data["options"] == ["Warna", "Ukuran"]
    assert batik.data["variants"][0] == {
        "options": {"Warna": "Merah", "Ukuran": "M"},
        "price": 14_900_000,
        "compare_at_price": 19_900_000,
        "stock": 5,
        "sku": "BTL-MRH-M",
    }
    assert batik.data["variants"][2]["stock"] == 0
    assert batik.data["description"] == (
        "Batik tulis Lasem, pewarna alam.\nKatun primisima\n200 x 115 cm"
    )
    assert batik.images == [
        ("https://cdn.shopify.com/s/files/1/0612/btl-1.jpg", "Batik tulis Lasem merah"),
        ("https://cdn.shopify.com/s/files/1/0612/btl-2.jpg", ""),
    ]

    kopi = by_handle["kopi-toraja-sapan"]
    assert kopi.data is not None
    assert kopi.data["options"] == []
    assert kopi.data["description"] == "Kopi Toraja\nNotes: caramel & spice."


def test_parse_csv_refuses_non_utf8() -> None:
    data = "handle,title,price\nkebaya,Kebaya Encim Bordir Tangan,350000\n".encode("cp1252")
    data += "kain,Kain Tenun Ikat Sumba – Ungu,150000\n".encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        parse_csv(data, "IDR")


def test_parse_csv_handles_bom_and_crlf() -> None:
    data = b"\xef\xbb\xbfhandle,title,price\r\nkopi,Kopi,95000\r\n\r\nteh,Teh,x\r\n"
    candidates = parse_csv(data, "IDR")
    assert [c.handle for c in candidates] == ["kopi", "teh"]
    assert candidates[0].error is None
    assert (candidates[1].line, candidates[1].error) == (4, "'x' is not a number")


def test_parse_csv_without_handle_or_title_column() -> None:
    [only] = parse_csv(b"sku,price\nA,1\n", "IDR")
    assert only.line == 1 and only.error is not None and "handle" in only.error


def test_parse_csv_refuses_unreadable_csv() -> None:
    # One cell larger than the csv module's field limit: not a row error, a bad file.
    data = b"handle,title,description,price\nx,X," + b"a" * 200_000 + b",1\n"
    with pytest.raises(CsvFormatError, match="not a readable CSV"):
        parse_csv(data, "IDR")


def test_parse_csv_plain_description_markup_is_stripped() -> None:
    data = (
        b"handle,title,description,price\n"
        b'a,A,"Ukuran < 5cm, harga & ongkir",1\n'
        b'b,B,"<b>Promo</b><script>alert(1)</script> &lt;script&gt;x&lt;/script&gt;",1\n'
    )
    a, b = parse_csv(data, "IDR")
    assert a.data is not None and a.data["description"] == "Ukuran < 5cm, harga & ongkir"
    assert b.data is not None
    assert "<script" not in b.data["description"].lower()
    assert "alert" not in b.data["description"]
    assert b.data["description"].startswith("Promo")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b'{"products": [}',
        b"not json at all",
        b"[" * 200_000 + b"]" * 200_000,  # nested beyond Python's recursion limit
    ],
)
def test_parse_shopify_refuses_malformed_json(raw: bytes) -> None:
    with pytest.raises(ShopifyFormatError):
        parse_shopify(raw, "IDR")


@pytest.mark.parametrize("doc", [{"products": {}}, {"items": []}, "products", 42])
def test_parse_shopify_refuses_other_json(doc: object) -> None:
    with pytest.raises(ShopifyFormatError, match="products"):
        parse_shopify(json.dumps(doc).encode(), "IDR")


def test_parse_shopify_odd_values_are_row_errors() -> None:
    doc = {
        "products": [
            "not an object",
            {"title": "A", "variants": ["not an object"]},
            {"title": "B", "variants": [{"price": "1.00", "inventory_quantity": "lots"}]},
            {"title": "C", "variants": [{"price": "1.00", "inventory_quantity": 1e400}]},
            {"title": "D", "variants": [{"price": "1e400"}]},
            {"title": "E", "variants": [{"price": "1.00"}]},
        ]
    }
    candidates = parse_shopify(json.dumps(doc).encode(), "IDR")
    assert [c.line for c in candidates] == [1, 2, 3, 4, 5, 6]
    assert all(c.error for c in candidates[:5]), [c.error for c in candidates]
    assert candidates[5].error is None


def test_html_to_text_never_keeps_script() -> None:
    hostile = [
        "<p>ok</p><script>alert(1)</script>",
        "<SCRIPT type='text/javascript'>alert(1)</SCRIPT>ok",
        "<script>alert(1)",  # never closed
        "&lt;script&gt;alert(1)&lt;/script&gt;",  # escaped: decodes to a tag-like text
        "<<script>script>alert(1)<</script>/script>",
        "<scr<script>ipt>alert(1)</script>",
        "<svg><script>alert(1)</script></svg><style>p{}</style>",
    ]
    for html in hostile:
        text = html_to_text(html)
        assert "<script" not in text.lower() and "</script" not in text.lower(), (html, text)
    assert html_to_text("<p>Harga &lt; Rp100.000 &amp; gratis ongkir</p>") == (
        "Harga < Rp100.000 & gratis ongkir"
    )


# --- through the API, on SQLite and PostgreSQL ----------------------------------------------


async def _post(
    client: httpx.AsyncClient,
    vendor: VendorCtx,
    kind: str,
    data: bytes,
    filename: str = "products.csv",
    **params: str,
) -> httpx.Response:
    return await client.post(
        f"/api/v1/imports/{kind}",
        files={"file": (filename, data, "application/octet-stream")},
        params=params,
        headers=vendor.headers,
    )


async def _products(client: httpx.AsyncClient, vendor: VendorCtx) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        page = await client.get("/api/v1/products", params=params, headers=vendor.headers)
        assert page.status_code == 200, page.text
        out.update({p["handle"]: p for p in page.json()["data"]})
        cursor = page.json()["next_cursor"]
        if not cursor:
            return out


def _report_errors(report: dict[str, Any]) -> dict[int, tuple[str | None, str]]:
    lines = [e["line"] for e in report["errors"]]
    assert len(lines) == len(set(lines)), report["errors"]
    return {e["line"]: (e["handle"], e["reason"]) for e in report["errors"]}


@pytest.mark.parametrize("case", list(CASES))
async def test_import_reports_bad_rows_and_imports_good_ones(
    client: httpx.AsyncClient, vendor: VendorCtx, case: str
) -> None:
    kind, path, errors, good = CASES[case]
    r = await _post(client, vendor, kind, path.read_bytes(), path.name)
    assert r.status_code == 200, r.text
    report = r.json()
    _assert_reported(_report_errors(report), errors)
    assert report["created"] == len(good)
    assert report["updated"] == 0
    assert report["failed"] == len(errors)
    assert report["atomic"] is False
    products = await _products(client, vendor)
    assert set(products) == good
    for p in products.values():
        assert "<" not in p["description"], p["description"]
        assert "alert" not in p["description"] and "document.cookie" not in p["description"]


async def test_pasar_csv_import_content(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    await _post(client, vendor, "csv", PASAR_CSV.read_bytes())
    products = await _products(client, vendor)
    batik = products["kemeja-batik-tulis"]
    assert batik["title"] == "Kemeja Batik Tulis Pekalongan"
    assert batik["product_url"] == "https://toko.example/products/kemeja-batik-tulis"
    assert [(v["sku"], v["price"], v["stock"]) for v in batik["variants"]] == [
        ("KBT-M-BIRU", 38_900_000, 12),
        ("KBT-L-BIRU", 38_900_000, 5),
        ("KBT-M-MERAH", 39_900_000, 0),
    ]
    assert [i["url"] for i in batik["images"]] == [
        "https://cdn.toko.example/kbt-1.jpg",
        "https://cdn.toko.example/kbt-2.jpg",
    ]
    assert products["serum-vitamin-c"]["description"] == "Brightening serum.\nBPOM registered."
    assert products["kopi-gayo"]["status"] == "draft"
    matcha = products["matcha-uji"]
    assert (matcha["currency"], matcha["variants"][0]["price"]) == ("JPY", 1500)


async def test_shopify_json_import_content(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    r = await _post(
        client,
        vendor,
        "shopify",
        SHOPIFY_JSON.read_bytes(),
        "products.json",
        store_url="https://toko-contoh.example",
    )
    assert r.status_code == 200, r.text
    products = await _products(client, vendor)
    batik = products["batik-tulis-lasem"]
    assert batik["external_id"] == "shopify:8072416551001"
    assert batik["product_url"] == "https://toko-contoh.example/products/batik-tulis-lasem"
    assert batik["variants"][0]["options"] == {"Warna": "Merah", "Ukuran": "M"}
    assert batik["variants"][0]["price_display"] == "Rp149.000"
    assert [i["alt"] for i in batik["images"]] == ["Batik tulis Lasem merah", ""]
    assert products["kopi-toraja-sapan"]["description"] == "Kopi Toraja\nNotes: caramel & spice."


@pytest.mark.parametrize("case", list(CASES))
async def test_reimport_updates_and_keeps_variant_ids(
    client: httpx.AsyncClient, vendor: VendorCtx, case: str
) -> None:
    kind, path, errors, good = CASES[case]
    first = await _post(client, vendor, kind, path.read_bytes(), path.name)
    assert first.json()["created"] == len(good)
    before = await _products(client, vendor)

    again = await _post(client, vendor, kind, path.read_bytes(), path.name)
    assert again.status_code == 200, again.text
    report = again.json()
    assert (report["created"], report["updated"]) == (0, len(good))
    assert sorted(_report_errors(report)) == sorted(errors)
    after = await _products(client, vendor)
    assert set(after) == good
    for handle in good:
        assert after[handle]["id"] == before[handle]["id"]
        assert [v["id"] for v in after[handle]["variants"]] == [
            v["id"] for v in before[handle]["variants"]
        ]
        # Image links are not added a second time.
        assert [i["url"] for i in after[handle]["images"]] == [
            i["url"] for i in before[handle]["images"]
        ]


async def test_reimport_applies_changes(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    header = b"handle,title,option1_name,option1_value,sku,price,stock\n"
    v1 = header + b"kopi,Kopi Gayo,Giling,Biji,KG-B,95000,10\nkopi,,,Halus,KG-H,95000,5\n"
    v2 = header + b"kopi,Kopi Gayo Wine,Giling,Halus,KG-H,99000,7\nkopi,,,Kasar,KG-K,90000,1\n"
    assert (await _post(client, vendor, "csv", v1)).json()["created"] == 1
    before = (await _products(client, vendor))["kopi"]
    report = (await _post(client, vendor, "csv", v2)).json()
    assert (report["created"], report["updated"], report["failed"]) == (0, 1, 0)
    after = (await _products(client, vendor))["kopi"]
    assert after["title"] == "Kopi Gayo Wine"
    halus_before = next(v for v in before["variants"] if v["sku"] == "KG-H")
    assert [(v["sku"], v["price"], v["stock"]) for v in after["variants"]] == [
        ("KG-H", 9_900_000, 7),
        ("KG-K", 9_000_000, 1),
    ]
    assert after["variants"][0]["id"] == halus_before["id"]


@pytest.mark.parametrize("case", list(CASES))
async def test_atomic_import_with_a_bad_row_imports_nothing(
    client: httpx.AsyncClient, vendor: VendorCtx, case: str
) -> None:
    kind, path, errors, _ = CASES[case]
    r = await _post(client, vendor, kind, path.read_bytes(), path.name, atomic="true")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["atomic"] is True
    assert (report["created"], report["updated"], report["failed"]) == (0, 0, len(errors))
    _assert_reported(_report_errors(report), errors)  # every bad row, not just the first
    assert await _products(client, vendor) == {}


async def test_atomic_import_without_errors_imports_all(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    data = b"handle,title,sku,price\nkopi,Kopi,K-1,95000\nteh,Teh,T-1,28000\n"
    report = (await _post(client, vendor, "csv", data, atomic="true")).json()
    assert (report["created"], report["failed"], report["atomic"]) == (2, 0, True)
    assert set(await _products(client, vendor)) == {"kopi", "teh"}


async def test_atomic_reimport_with_errors_changes_nothing(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    good = b"handle,title,sku,price\nkopi,Kopi,K-1,95000\n"
    await _post(client, vendor, "csv", good)
    changed = b"handle,title,sku,price\nkopi,Kopi Baru,K-1,99000\nteh,Teh,T-1,\n"
    report = (await _post(client, vendor, "csv", changed, atomic="true")).json()
    assert (report["updated"], report["failed"]) == (0, 1)
    kopi = (await _products(client, vendor))["kopi"]
    assert (kopi["title"], kopi["variants"][0]["price"]) == ("Kopi", 9_500_000)


async def test_import_only_links_web_images(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    long_src = "https://cdn.example/" + "a" * 2100 + ".jpg"
    data = (
        "handle,title,sku,price,image_src\n"
        "kopi,Kopi,K-1,95000,javascript:alert(1)\n"
        "kopi,,,,data:image/png;base64,AAAA\n"
        f"kopi,,,,{long_src}\n"
        "kopi,,,,https://cdn.example/kopi.jpg\n"
    ).encode()
    report = (await _post(client, vendor, "csv", data)).json()
    assert (report["created"], report["failed"]) == (1, 0), report
    kopi = (await _products(client, vendor))["kopi"]
    assert [i["url"] for i in kopi["images"]] == ["https://cdn.example/kopi.jpg"]


async def test_import_drops_nul_from_image_links(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    # PostgreSQL cannot store NUL: a link with one is skipped, an alt text loses it.
    doc = {
        "products": [
            {
                "id": 1,
                "title": "Kopi",
                "handle": "kopi",
                "variants": [{"id": 2, "price": "95000.00", "sku": "K-1"}],
                "images": [
                    {"src": "https://cdn.example/a\u0000.jpg", "alt": "a"},
                    {"src": "https://cdn.example/b.jpg", "alt": "Kopi\u0000 Gayo"},
                ],
            }
        ]
    }
    r = await _post(client, vendor, "shopify", json.dumps(doc).encode(), "products.json")
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["failed"]) == (1, 0), r.json()
    kopi = (await _products(client, vendor))["kopi"]
    assert [(i["url"], i["alt"]) for i in kopi["images"]] == [
        ("https://cdn.example/b.jpg", "Kopi Gayo")
    ]


async def test_import_is_per_vendor(
    client: httpx.AsyncClient, make_vendor: Any, vendor: VendorCtx
) -> None:
    other = await make_vendor()
    data = b"handle,title,sku,price\nkopi,Kopi,K-1,95000\n"
    assert (await _post(client, vendor, "csv", data)).json()["created"] == 1
    # The same handle and SKU are free for another vendor: created, not updated.
    assert (await _post(client, other, "csv", data)).json()["created"] == 1
    assert set(await _products(client, other)) == {"kopi"}


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("csv", "handle,title,price\nkain,Kain Tenun – Ungu,1\n".encode("cp1252"), "UTF-8"),
        ("csv", "handle,title,price\nkain,Kain,1\n".encode("utf-16"), "UTF-8"),
        ("csv", b"handle,title,price\nx,X," + b"a" * 200_000 + b"\n", "CSV"),
        ("csv", b"handle,title,price\nkopi,Kopi\x00Gayo,1\n", "NUL"),
        ("shopify", b'{"products": [{"title": "Kopi",', "JSON"),
        ("shopify", b"[" * 200_000 + b"]" * 200_000, "JSON"),
        ("shopify", '{"products": [{"title": "Kain – Ungu"}]}'.encode("cp1252"), "JSON"),
        ("shopify", b'{"orders": []}', "products"),
    ],
    ids=[
        "csv-cp1252",
        "csv-utf16",
        "csv-huge-cell",
        "csv-nul",
        "json-truncated",
        "json-deep",
        "json-cp1252",
        "json-wrong-shape",
    ],
)
async def test_unreadable_file_is_400_with_a_message(
    client: httpx.AsyncClient, vendor: VendorCtx, kind: str, data: bytes, message: str
) -> None:
    r = await _post(client, vendor, kind, data)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_file"
    assert message in error["message"]
    assert await _products(client, vendor) == {}


@pytest.mark.parametrize("kind", ["csv", "shopify"])
async def test_oversize_file_is_413(
    client: httpx.AsyncClient, vendor: VendorCtx, kind: str
) -> None:
    # Valid content up to the limit, then one byte too many.
    head = b"handle,title,sku,price\nkopi,Kopi,K-1,95000\n"
    data = head + b" " * (MAX_BYTES + 1 - len(head))
    r = await _post(client, vendor, kind, data)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "file_too_large"
    assert await _products(client, vendor) == {}


async def test_file_at_the_limit_is_accepted(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    head = b"handle,title,sku,price\nkopi,Kopi,K-1,95000\n"
    data = head + b"\n" * (MAX_BYTES - len(head))
    r = await _post(client, vendor, "csv", data)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1


async def test_import_needs_catalog_write(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/imports/csv", files={"file": ("p.csv", b"handle,title,price\n", "text/csv")}
    )
    assert r.status_code == 401
