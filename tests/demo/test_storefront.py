"""Toko Demo's storefront (the vendor's own site `pasar demo` serves on a second
origin): its pages, their CSP, text rendered as text, and its checkout, which
prices from the shop's catalogue and reports the order to Pasar for attribution."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette

from pasar.demo import catalogue
from pasar.demo.seed import seed_demo, storefront_origins
from pasar.demo.storefront import ShopConfig, create_storefront, storefront_csp

PASAR = "http://pasar.test:8000"
EVIL_TITLE = "<script>alert('pwned')</script> Batik <b>Megamendung</b>"
EVIL_DESCRIPTION = '<img src=x onerror="alert(1)"> & "kain" </p>'


def evil_catalogue() -> list[catalogue.ShopProduct]:
    evil = catalogue.product_from(
        {
            "title": EVIL_TITLE,
            "description": EVIL_DESCRIPTION,
            "options": [],
            "values": [[]],
            "price": "150000",
            "compare_at": None,
            "stock": 3,
            "colour": [10, 20, 30],
        }
    )
    return [*catalogue.load(), evil]


class Page(HTMLParser):
    """What a CSP cares about in a page: its scripts and inline handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_code: list[str] = []
        self.handlers: list[str] = []
        self.players: list[dict[str, str | None]] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.handlers += [name for name in found if name.startswith("on")]
        if tag == "script":
            self.scripts.append(found)
            self._in_script = True
        if tag == "pasar-live":
            self.players.append(found)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_code.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


@pytest.fixture
async def shop() -> AsyncIterator[httpx.AsyncClient]:
    app = create_storefront(ShopConfig(pasar_url=PASAR, catalogue=evil_catalogue()))
    async with _client(app) as c:
        yield c


@contextlib.asynccontextmanager
async def _client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as c:
            yield c


def test_the_policy_allows_pasar_and_nothing_inline() -> None:
    csp = dict(
        part.strip().split(" ", 1)
        for part in storefront_csp("https://live.example.com/").split(";")
    )
    assert csp["script-src"] == "'self' https://live.example.com"
    assert "wss://live.example.com" in csp["connect-src"]
    assert "https://live.example.com" in csp["connect-src"]
    assert "blob:" in csp["media-src"] and "blob:" in csp["worker-src"]
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'"
    assert csp["frame-ancestors"] == "'none'" and csp["form-action"] == "'self'"
    plain = dict(part.strip().split(" ", 1) for part in storefront_csp(PASAR).split(";"))
    assert "ws://pasar.test:8000" in plain["connect-src"]


@pytest.mark.parametrize(
    ("path", "layout"),
    [("/", "inline"), ("/products/kemeja-batik-tulis-pekalongan", "floating")],
)
async def test_pages_embed_the_player_with_the_policy(
    shop: httpx.AsyncClient, path: str, layout: str
) -> None:
    r = await shop.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == storefront_csp(PASAR)
    assert r.headers["x-content-type-options"] == "nosniff"
    page = parse(r.text)
    # No inline script and no inline handler: every script is a file, from here or Pasar.
    assert page.inline_code == [] and page.handlers == []
    assert {s["src"] for s in page.scripts} == {f"{PASAR}/embed.js", "/static/shop.js"}
    assert all(s["type"] == "module" for s in page.scripts)
    assert page.players == [
        {"vendor": "toko-demo", "cart": "page", "locale": "id", "layout": layout}
    ]


async def test_every_product_is_on_the_home_page_with_its_price(shop: httpx.AsyncClient) -> None:
    text = (await shop.get("/")).text
    for product in catalogue.load():
        assert f'href="/products/{product.handle}"' in text
    # IDR in minor units, shown the Indonesian way (shop.js re-formats it with Intl).
    assert 'data-money="38900000" data-currency="IDR">Rp389.000<' in text


async def test_titles_and_descriptions_are_text_not_html(shop: httpx.AsyncClient) -> None:
    evil = evil_catalogue()[-1]
    for path in ("/", f"/products/{evil.handle}"):
        r = await shop.get(path)
        assert r.status_code == 200
        assert "<script>alert" not in r.text and "<b>Megamendung" not in r.text
        assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt; Batik" in r.text
        page = parse(r.text)
        assert page.inline_code == [] and page.handlers == []
    product = (await shop.get(f"/products/{evil.handle}")).text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &quot;kain&quot;" in product
    assert "<img src=x" not in product


async def test_unknown_pages_are_404_with_the_policy(shop: httpx.AsyncClient) -> None:
    for path in ("/products/no-such-thing", "/nope", "/images/nope.jpg"):
        r = await shop.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-security-policy"] == storefront_csp(PASAR)


async def test_static_files_images_and_catalogue(shop: httpx.AsyncClient) -> None:
    for name in ("shop.js", "cart.js", "checkout.js", "money.js", "shop.css", "logo.svg"):
        r = await shop.get(f"/static/{name}")
        assert r.status_code == 200, name
        assert r.headers["x-content-type-options"] == "nosniff"
    picture = await shop.get("/images/kopi-gayo-arabika-250g.jpg")
    assert picture.status_code == 200 and picture.content[:3] == b"\xff\xd8\xff"
    data = (await shop.get("/catalogue.json")).json()
    assert data["currency"] == "IDR"
    kopi = next(p for p in data["products"] if p["handle"] == "kopi-gayo-arabika-250g")
    assert [v["sku"] for v in kopi["variants"]] == ["KGA-01", "KGA-02", "KGA-03"]
    assert kopi["variants"][0]["price"] == 9_500_000


# -- checkout ----------------------------------------------------------------------------


async def test_checkout_refuses_bad_orders_clearly(shop: httpx.AsyncClient) -> None:
    form = await shop.post("/api/orders", data={"lines": "x"})
    assert form.status_code == 415  # JSON only: no cross-site form posts
    bad = await shop.post("/api/orders", content=b"{", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    empty = await shop.post("/api/orders", json={"lines": []})
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "invalid"
    unknown = await shop.post("/api/orders", json={"lines": [{"sku": "NOPE", "quantity": 1}]})
    assert unknown.status_code == 400 and unknown.json()["error"]["details"] == {"sku": "NOPE"}
    # Kemeja batik has 12 of each size: two lines of the same SKU count together.
    lines = [{"sku": "KBT-02", "quantity": 7}, {"sku": "KBT-02", "quantity": 6}]
    many = await shop.post("/api/orders", json={"lines": lines})
    assert many.status_code == 409 and many.json()["error"]["code"] == "out_of_stock"
    # A deal line needs Pasar to vouch for its price: without the shop's key, refused.
    deal = await shop.post(
        "/api/orders", json={"lines": [{"sku": "MHS-01", "quantity": 1, "reservation_id": "rsv_1"}]}
    )
    assert deal.status_code == 409 and deal.json()["error"]["code"] == "unavailable"


async def test_checkout_prices_from_the_shop_not_the_browser(shop: httpx.AsyncClient) -> None:
    lines = [
        {"sku": "TMT-01", "quantity": 2, "unit_price": 1, "click_token": None},
        {"sku": "KGA-02", "quantity": 1, "price": 0},
    ]
    r = await shop.post("/api/orders", json={"lines": lines})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["order_ref"].startswith("TD-")
    assert [(x["sku"], x["unit_price"], x["line_total"]) for x in order["lines"]] == [
        ("TMT-01", 2_800_000, 5_600_000),
        ("KGA-02", 9_500_000, 9_500_000),
    ]
    assert order["amount"] == 15_100_000 and order["currency"] == "IDR"
    assert order["lines"][1]["title"] == "Kopi Gayo Arabika 250g (Halus)"
    assert order["pasar"] == {"reported": False, "message": "no API key", "lines": []}


async def test_an_order_from_the_show_is_attributed_in_pasar(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The end of the embed's story: a click and a deal claim in the player become
    cart lines; the shop's checkout confirms the reservation and reports the order
    with the click token, and Pasar attributes both lines to the show."""
    settings = app.state.services.settings
    demo = await seed_demo(settings, "http://127.0.0.1:9001")
    key = {"Authorization": f"Bearer {demo.api_key}"}
    doc = (await client.get(f"/api/v1/storefront/shows/{demo.live_show_id}")).json()
    by_title = {p["title"]: p for p in doc["lineup"]}
    teh = by_title["Teh Melati Tubruk 100g"]
    click = await client.post(
        f"/api/v1/storefront/shows/{demo.live_show_id}/clicks", json={"product_id": teh["id"]}
    )
    assert click.status_code == 201, click.text
    guest = (await client.post("/api/v1/storefront/guests")).json()["guest_token"]
    deal = doc["deals"][0]
    claim = await client.post(
        f"/api/v1/storefront/deals/{deal['deal_id']}/claims",
        json={},
        headers={"X-Pasar-Guest": guest, "Idempotency-Key": "storefront-test-claim"},
    )
    assert claim.status_code == 201, claim.text
    reservation = claim.json()

    config = ShopConfig(
        pasar_url="http://testserver",
        api_key=demo.api_key,
        pasar_transport=httpx.ASGITransport(app=app),
    )
    async with _client(create_storefront(config)) as shop:
        lines = [
            {"sku": "TMT-01", "quantity": 2, "click_token": click.json()["click_token"]},
            {"sku": "MHS-01", "quantity": 1, "reservation_id": reservation["id"]},
            {"sku": "KGA-01", "quantity": 1},  # added on the page: no click
        ]
        r = await shop.post("/api/orders", json={"lines": lines})
    assert r.status_code == 201, r.text
    order = r.json()
    deal_line = order["lines"][1]
    assert (deal_line["unit_price"], deal_line["quantity"]) == (
        reservation["unit_price"],
        reservation["quantity"],
    )
    assert order["pasar"]["reported"] is True
    reported = (
        await client.get(f"/api/v1/orders/{order['pasar']['order_id']}", headers=key)
    ).json()
    assert reported["order_ref"] == order["order_ref"] and reported["reported"] is True
    assert reported["amount"] == order["amount"]
    got = {
        line["reservation_id"] or line["sku"]: (line["attributed_by"], line["show_id"])
        for line in reported["lines"]
    }
    assert got["TMT-01"] == ("click", demo.live_show_id)
    assert got[reservation["id"]] == ("reservation", demo.live_show_id)
    assert got["KGA-01"][0] is None
    # The shopper's confirmation page names every line, deal lines included.
    assert [(x["title"], x["attributed_by"]) for x in order["pasar"]["lines"]] == [
        ("Madu Hutan Sumbawa 500ml", "reservation"),
        ("Teh Melati Tubruk 100g", "click"),
        ("Kopi Gayo Arabika 250g (Biji)", None),
    ]
    held = await client.get(f"/api/v1/reservations/{reservation['id']}", headers=key)
    assert held.json()["status"] == "confirmed"
    assert held.json()["order_ref"] == order["order_ref"]


async def test_a_forged_click_does_not_lose_the_order(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    demo = await seed_demo(app.state.services.settings)
    config = ShopConfig(
        pasar_url="http://testserver",
        api_key=demo.api_key,
        pasar_transport=httpx.ASGITransport(app=app),
    )
    async with _client(create_storefront(config)) as shop:
        lines = [{"sku": "TMT-01", "quantity": 1, "click_token": "pc1.forged"}]
        r = await shop.post("/api/orders", json={"lines": lines, "click_token": "pc1.nope"})
    assert r.status_code == 201, r.text
    note = r.json()["pasar"]
    assert note["reported"] is True
    assert [line["attributed_by"] for line in note["lines"]] == [None]


async def test_a_deal_taken_out_of_the_cart_goes_back_to_the_deal(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    demo = await seed_demo(app.state.services.settings)
    key = {"Authorization": f"Bearer {demo.api_key}"}
    doc = (await client.get(f"/api/v1/storefront/shows/{demo.live_show_id}")).json()
    guest = (await client.post("/api/v1/storefront/guests")).json()["guest_token"]
    claim = await client.post(
        f"/api/v1/storefront/deals/{doc['deals'][0]['deal_id']}/claims",
        json={},
        headers={"X-Pasar-Guest": guest, "Idempotency-Key": "storefront-release"},
    )
    reservation = claim.json()["id"]
    config = ShopConfig(
        pasar_url="http://testserver",
        api_key=demo.api_key,
        pasar_transport=httpx.ASGITransport(app=app),
    )
    async with _client(create_storefront(config)) as shop:
        release = f"/api/reservations/{reservation}/release"
        assert (await shop.post(release)).status_code == 415  # JSON only, as checkout
        assert (await shop.post(release, json={})).status_code == 204
        assert (await shop.post("/api/reservations/no%20such/release", json={})).status_code == 404
        # The hold is gone: checking out the line now is refused, and says which line.
        lines = [{"sku": "MHS-01", "quantity": 1, "reservation_id": reservation}]
        late = await shop.post("/api/orders", json={"lines": lines})
    status = (await client.get(f"/api/v1/reservations/{reservation}", headers=key)).json()
    assert status["status"] == "released"
    assert late.status_code == 409
    assert late.json()["error"]["details"] == {"reservation_id": reservation}


# -- the demo seed -------------------------------------------------------------------------


def test_the_shop_origin_in_both_loopback_spellings() -> None:
    assert storefront_origins("http://127.0.0.1:8001") == [
        "http://127.0.0.1:8001",
        "http://localhost:8001",
    ]
    assert storefront_origins("http://LOCALHOST:9001/") == [
        "http://localhost:9001",
        "http://127.0.0.1:9001",
    ]
    assert storefront_origins("https://shop.example") == ["https://shop.example"]


async def test_the_seed_lets_the_shop_embed_and_links_products_to_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    settings = app.state.services.settings
    await seed_demo(settings, "http://127.0.0.1:9001")
    demo = await seed_demo(settings, "http://127.0.0.1:9002")  # another run, another port
    key = {"Authorization": f"Bearer {demo.api_key}"}
    vendor = (await client.get("/api/v1/vendor", headers=key)).json()
    assert {
        settings.resolved_public_url,
        "http://127.0.0.1:9002",
        "http://localhost:9002",
    } <= set(vendor["allowed_origins"])
    products = (await client.get("/api/v1/products?limit=100", headers=key)).json()["data"]
    assert {p["product_url"] for p in products} == {
        f"http://127.0.0.1:9002/products/{p['handle']}" for p in products
    }
    skus = {v["sku"] for p in products for v in p["variants"]}
    assert skus == {v.sku for p in catalogue.load() for v in p.variants}
