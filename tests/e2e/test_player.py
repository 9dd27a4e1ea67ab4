"""The shopper's player, `<pasar-live>`, on a vendor's page served from another
origin (another port), in Debian's Chromium: live video, chat and likes between
two shoppers, the page's own cart through the embed events, flash-deal claims
seen by another shopper, the waitlist and its grant, every language, text that
stays text, and a page whose origin the vendor did not allow.

The demo seed is the vendor: its live show has a pinned product and a running
30 %-off deal; `pasar broadcast` (the synthetic test pattern) is its video.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from tests.e2e.conftest import ARTIFACTS, LiveServer
from tests.servers import free_port, serving

LANGUAGES = {
    # language: its word for the LIVE badge and for "Buy" on the product card
    "en": ("LIVE", "Buy"),
    "id": ("LIVE", "Beli"),
    "th": ("ไลฟ์", "ซื้อ"),
    "vi": ("LIVE", "Mua"),
    "fil": ("LIVE", "Bilhin"),
    "ms": ("LIVE", "Beli"),
    "zh-Hans": ("直播", "购买"),
}
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}
VIDEO = "document.querySelector('pasar-live').shadowRoot.querySelector('video')"
PLAYING = """([t]) => {
  const v = document.querySelector('pasar-live')?.shadowRoot?.querySelector('video');
  return !!v && v.currentTime > t && v.readyState >= 2 && v.videoWidth > 0;
}"""

# The vendor's page: the embed script from Pasar's origin, the element, and a
# small "shop" that answers the player's cart events the way docs/embed-events.md
# says, and records every event it gets (window.events).
HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Toko Demo — test shop</title>
<script type="module" src="{pasar}/embed.js"></script>
</head><body style="margin:0;padding:16px;font-family:sans-serif">
<h1>Toko Demo</h1>
<pasar-live show="{show}" {attrs}></pasar-live>
<script>
window.events = [];
window.answer = {{ok: true}};
const lines = [];
const player = document.querySelector("pasar-live");
function state() {{
  const subtotal = lines.reduce((n, l) => n + l.line_total, 0);
  return {{lines, subtotal, currency: lines.length ? "IDR" : null,
           item_count: lines.reduce((n, l) => n + l.quantity, 0)}};
}}
const TYPES = ["pasar:ready", "pasar:product-click", "add-to-cart", "update-cart", "checkout"];
for (const type of TYPES) {{
  player.addEventListener(type, (event) => {{
    const detail = {{...event.detail}};
    delete detail.respond;
    window.events.push({{type, detail}});
    if (!event.detail.respond) return;
    const answer = window.answer;
    if (answer.ok && type === "add-to-cart") {{
      lines.push({{variant_id: detail.variant_id, sku: detail.sku, product_id: detail.product_id,
                  title: "Dari keranjang toko", quantity: detail.quantity,
                  unit_price: detail.price, line_total: detail.price * detail.quantity,
                  image_url: null, reservation_id: detail.reservation_id}});
    }}
    event.detail.respond(answer);
    if (answer.ok) player.syncCart(state());
  }});
}}
</script>
</body></html>"""


# The same shop framing the iframe page instead (platforms that forbid scripts in
# content; here the listener is the page's own).
FRAME_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Framed</title></head>
<body style="margin:0">
<iframe src="{pasar}/embed/shows/{show}?locale=en" width="360" height="100" style="border:0"
        allow="autoplay; fullscreen" title="Live"></iframe>
<script>
window.sizes = [];
addEventListener("message", (e) => {{
  if (e.origin !== "{pasar}" || e.data?.type !== "pasar:size") return;
  window.sizes.push(e.data);
  document.querySelector("iframe").style.height = e.data.height + "px";
}});
</script>
</body></html>"""


def host_app() -> FastAPI:
    app = FastAPI()

    @app.get("/frame")
    async def frame(pasar: str, show: str) -> HTMLResponse:
        return HTMLResponse(FRAME_PAGE.format(pasar=pasar, show=show))

    @app.get("/")
    async def page(pasar: str, show: str, attrs: str = "") -> HTMLResponse:
        return HTMLResponse(HOST_PAGE.format(pasar=pasar, show=show, attrs=attrs))

    return app


@pytest.fixture(scope="module")
def shop(live_server: LiveServer) -> Iterator[str]:
    """The vendor's site on another origin, allowed in the vendor's settings."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    api = _api(live_server)
    r = api.patch("/api/v1/vendor", json={"allowed_origins": [live_server.url, origin]})
    assert r.status_code == 200, r.text
    with serving(host_app(), port):  # type: ignore[arg-type]
        yield origin


@pytest.fixture(scope="module")
def stranger() -> Iterator[str]:
    """A site the vendor did not allow."""
    port = free_port()
    with serving(host_app(), port):  # type: ignore[arg-type]
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def on_air(live_server: LiveServer) -> Iterator[None]:
    """The demo's synthetic broadcast to its live show, over WHIP."""
    env = {**os.environ, "PASAR_STREAM_KEY": live_server.demo.live_stream_key}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pasar", "broadcast", f"{live_server.url}/whip"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # On air: the show is live (the first picture turns it so) and has a playlist.
        playlist = f"{live_server.url}/hls/{live_server.demo.live_show_id}/index.m3u8"
        deadline = time.monotonic() + 60
        while not _on_air(live_server, playlist):
            assert proc.poll() is None, "pasar broadcast stopped"
            assert time.monotonic() < deadline, "the broadcast did not go on air"
            time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _on_air(server: LiveServer, playlist: str) -> bool:
    """Live with a playlist. A request that times out is asked again: the broadcast
    starting up can keep a busy machine's server from answering within httpx's 5 s."""
    try:
        return _doc(server)["state"] == "live" and httpx.get(playlist).status_code == 200
    except httpx.TimeoutException:
        return False


def _api(server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server.demo.api_key}"},
        timeout=30,
    )


def _doc(server: LiveServer) -> dict[str, Any]:
    r = httpx.get(f"{server.url}/api/v1/storefront/shows/{server.demo.live_show_id}")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def open_player(
    browser: Any,
    server: LiveServer,
    origin: str,
    *,
    viewport: dict[str, int] = PHONE,
    show: str | None = None,
    attrs: str = 'cart="page" locale="en"',
    connected: bool = True,
) -> tuple[Any, list[str]]:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    q = httpx.QueryParams(pasar=server.url, show=show or server.demo.live_show_id, attrs=attrs)
    page.goto(f"{origin}/?{q}")
    page.wait_for_function("() => window.events.some(e => e.type === 'pasar:ready')")
    if connected:  # the show socket's snapshot arrived: chat and likes go out at once
        page.wait_for_function("() => document.querySelector('pasar-live').model.connected")
    return page, errors


def events(page: Any, type_: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(
        "(t) => window.events.filter(e => e.type === t).map(e => e.detail)", type_
    )
    return found


def test_plays_live_video_from_another_origin(
    live_server: LiveServer, shop: str, on_air: None, browser: Any
) -> None:
    # No locale attribute: the vendor's default language (Toko Demo's is Indonesian).
    page, errors = open_player(browser, live_server, shop, attrs='cart="page"')
    ready = events(page, "pasar:ready")[0]
    assert ready["show_id"] == live_server.demo.live_show_id and ready["state"] == "live"
    assert ready["locale"] == "id"
    page.wait_for_function(PLAYING, arg=[2.0], timeout=60_000)
    player = page.locator("pasar-live")
    player.locator(".top .badge", has_text="LIVE").wait_for()
    # The shell: host, the pinned product with its deal price, the deal banner.
    assert "Toko Demo" in player.locator(".vendor-name").inner_text()
    card = player.locator(".product-card").first
    assert "Madu Hutan Sumbawa" in card.inner_text()
    assert re.search(r"Rp\s?94\.500", card.inner_text()), card.inner_text()
    banner = player.locator(".deal-banner")
    assert "-30%" in banner.inner_text()
    assert re.search(r"Berakhir dalam \d+:\d\d:\d\d", banner.inner_text()), banner.inner_text()
    # Muted autoplay with one obvious way to sound.
    player.get_by_role("button", name="Ketuk untuk menyalakan suara").click()
    page.wait_for_function(
        "() => !document.querySelector('pasar-live').shadowRoot.querySelector('video').muted"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "player-phone-live.png"))
    assert errors == []
    page.context.close()


def test_two_shoppers_chat_and_like(live_server: LiveServer, shop: str, browser: Any) -> None:
    ayu, errors_a = open_player(browser, live_server, shop)
    rizky, errors_r = open_player(browser, live_server, shop, viewport=DESKTOP)
    composer = ayu.locator("pasar-live .stage input[name=chat]")
    composer.fill("ada warna biru, kak?")
    composer.press("Enter")
    # Rizky reads it in the side panel (wide screen), Ayu over the video.
    rizky.locator("pasar-live .panel .msg", has_text="ada warna biru, kak?").wait_for()
    ayu.locator("pasar-live .overlay-chat .msg", has_text="ada warna biru, kak?").wait_for()
    before = int(ayu.locator("pasar-live .like small").inner_text() or "0")
    rizky.locator("pasar-live").get_by_role("button", name="Like").click()
    ayu.wait_for_function(
        "(n) => Number(document.querySelector('pasar-live').shadowRoot"
        ".querySelector('.like small').textContent) > n",
        arg=before,
    )
    rizky.screenshot(path=str(ARTIFACTS / "player-desktop-chat.png"))
    assert errors_a == [] and errors_r == []
    ayu.context.close()
    rizky.context.close()


def test_add_to_cart_goes_to_the_page_and_its_answer_shows(
    live_server: LiveServer, shop: str, browser: Any
) -> None:
    page, errors = open_player(browser, live_server, shop)
    player = page.locator("pasar-live")
    player.locator(".product-card .buy").first.click()
    sheet = player.get_by_role("dialog", name="Product details")
    sheet.get_by_role("button", name="Add to cart").click()
    player.locator(".toast", has_text="Added to cart").wait_for()
    [added] = events(page, "add-to-cart")
    doc = _doc(live_server)
    pinned = doc["pinned_products"][0]
    assert added["show_id"] == doc["id"]
    assert added["product_id"] == pinned["product_id"]
    assert added["pin_id"] == pinned["pin_id"]
    assert added["quantity"] == 1 and added["currency"] == "IDR"
    assert added["click_token"], "the click token goes with the item (attribution)"
    assert events(page, "pasar:product-click")[0]["product_id"] == pinned["product_id"]
    # syncCart: the page's cart is what the player shows.
    player.locator(".cart-button .count", has_text="1").wait_for()
    player.get_by_role("button", name="Open cart").click()
    player.locator(".cart-line", has_text="Dari keranjang toko").wait_for()
    page.screenshot(path=str(ARTIFACTS / "player-phone-cart.png"))
    # Checkout is the page's to do: the event carries the attribution.
    player.get_by_role("button", name="Checkout").click()
    page.wait_for_function("() => window.events.some(e => e.type === 'checkout')")
    assert events(page, "checkout")[0]["click_token"] == added["click_token"]
    player.get_by_role("button", name="Close").click()

    # A refusal from the page is shown as the page worded it, as text.
    page.evaluate(
        "() => { window.answer = {ok: false, reason: 'out_of_stock', "
        "message: 'Habis! <b>maaf</b>'}; }"
    )
    player.locator(".product-card .buy").first.click()
    player.get_by_role("dialog", name="Product details").get_by_role(
        "button", name="Add to cart"
    ).click()
    player.locator(".toast", has_text="Habis! <b>maaf</b>").wait_for()
    assert player.locator(".toast b").count() == 0
    assert errors == []
    page.context.close()


def test_a_claim_moves_units_left_for_another_shopper(
    live_server: LiveServer, shop: str, browser: Any
) -> None:
    ayu, errors_a = open_player(browser, live_server, shop)
    rizky, errors_r = open_player(browser, live_server, shop)
    left = rizky.locator("pasar-live .deal-banner .left")
    before = int(left.get_attribute("data-left") or "0")
    assert before > 0
    ayu.locator("pasar-live .deal-banner").click()
    ayu.locator("pasar-live").get_by_role("button", name="Grab deal").click()
    ayu.locator(
        "pasar-live .reserved", has_text=re.compile(r"Reserved for you · \d+:\d\d")
    ).wait_for()
    rizky.wait_for_function(
        "(n) => Number(document.querySelector('pasar-live').shadowRoot"
        ".querySelector('.deal-banner .left').dataset.left) < n",
        arg=before,
    )
    # The claimed units went to the page's cart with their reservation.
    [added] = events(ayu, "add-to-cart")
    assert added["reservation_id"] and added["deal_id"]
    assert added["reservation_expires_at"]
    ayu.screenshot(path=str(ARTIFACTS / "player-phone-reserved.png"))
    assert errors_a == [] and errors_r == []
    ayu.context.close()
    rizky.context.close()


def test_sold_out_deal_waitlists_and_a_release_grants(
    live_server: LiveServer, shop: str, browser: Any
) -> None:
    api = _api(live_server)
    doc = _doc(live_server)
    product = next(p for p in doc["lineup"] if len(p["variants"]) == 1)
    # One unit; the demo's deal on the pinned product ends first so this one shows.
    show_id = live_server.demo.live_show_id
    for deal in api.get(f"/api/v1/shows/{show_id}/deals").json():
        if deal["status"] != "ended":
            r = api.post(f"/api/v1/deals/{deal['id']}/end", json={})
            assert r.status_code in (200, 204), r.text
    variant = product["variants"][0]
    r = api.post(
        f"/api/v1/shows/{show_id}/deals",
        json={
            "product_id": product["id"],
            "title": "Satu saja",
            "price": variant["price"] // 2,
            "currency": product["currency"],
            "quantity": 1,
            "duration_seconds": 600,
        },
    )
    assert r.status_code == 201, r.text

    ayu, errors_a = open_player(browser, live_server, shop)
    rizky, errors_r = open_player(browser, live_server, shop)
    ayu.locator("pasar-live .deal-banner", has_text="Satu saja").click()
    ayu.locator("pasar-live").get_by_role("button", name="Grab deal").click()
    ayu.locator("pasar-live .reserved").wait_for()

    rizky.locator("pasar-live .deal-banner", has_text="Sold out").wait_for()
    rizky.locator("pasar-live .deal-banner").click()
    rizky.locator("pasar-live").get_by_role("button", name="Join waitlist").click()
    rizky.locator("pasar-live .waiting", has_text="You're #1 in line").wait_for()
    rizky.screenshot(path=str(ARTIFACTS / "player-phone-waitlist.png"))

    # Ayu lets hers go: Rizky is next in line and gets it, live.
    [claimed] = events(ayu, "add-to-cart")
    guest = ayu.evaluate("() => localStorage.getItem('pasar:guest')")
    r = httpx.post(
        f"{live_server.url}/api/v1/storefront/reservations/{claimed['reservation_id']}/release",
        headers={"X-Pasar-Guest": guest},
    )
    assert r.status_code == 200, r.text
    rizky.locator("pasar-live .reserved").wait_for(timeout=30_000)
    [granted] = events(rizky, "add-to-cart")
    assert granted["reservation_id"] and granted["reservation_id"] != claimed["reservation_id"]
    assert errors_a == [] and errors_r == []
    ayu.context.close()
    rizky.context.close()


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_every_language_renders(
    live_server: LiveServer, shop: str, browser: Any, lang: str
) -> None:
    page, errors = open_player(browser, live_server, shop, attrs=f'locale="{lang}" cart="page"')
    player = page.locator("pasar-live")
    live_word, buy = LANGUAGES[lang]
    player.locator(".top .badge", has_text=live_word).wait_for()
    assert player.locator(".product-card .buy").inner_text().strip() == buy
    assert page.evaluate("() => document.querySelector('pasar-live').lang") == lang
    text = page.evaluate(
        "() => document.querySelector('pasar-live').shadowRoot.querySelector('.player').innerText"
    )
    en = json.loads((ARTIFACTS.parent.parent.parent / "frontend/shared/i18n/en.json").read_text())
    shown_keys = [key for key in en if key in text]
    assert shown_keys == [], f"catalogue keys on screen: {shown_keys}"
    player.locator(".product-card .buy").click()
    sheet_text = player.locator(".sheet").inner_text()
    assert not [key for key in en if key in sheet_text]
    if lang in ("th", "zh-Hans"):
        page.screenshot(path=str(ARTIFACTS / f"player-phone-{lang}.png"))
    assert errors == []
    page.context.close()


def test_shopper_and_vendor_text_is_rendered_as_text(
    live_server: LiveServer, shop: str, browser: Any
) -> None:
    api = _api(live_server)
    doc = _doc(live_server)
    pinned = doc["pinned_products"][0]["product_id"]
    evil = '<img src=x onerror="alert(1)">Madu <script>alert(2)</script>'
    r = api.patch(f"/api/v1/products/{pinned}", json={"title": evil})
    assert r.status_code == 200, r.text
    try:
        page, errors = open_player(browser, live_server, shop)
        player = page.locator("pasar-live")
        composer = player.locator(".stage input[name=chat]")
        composer.fill('<img src=x onerror="alert(3)"> halo')
        composer.press("Enter")
        player.locator(
            ".overlay-chat .msg", has_text='<img src=x onerror="alert(3)"> halo'
        ).wait_for()
        player.locator(".product-card").get_by_text(evil).wait_for()
        player.locator(".lineup-button").click()
        player.locator(".lineup").get_by_text(evil).wait_for()
        assert player.locator("img[src=x]").count() == 0
        assert player.locator("script").count() == 0
        assert errors == [], errors  # no alert() ran
        page.context.close()
    finally:
        api.patch(f"/api/v1/products/{pinned}", json={"title": "Madu Hutan Sumbawa 500ml"})


def test_a_page_the_vendor_did_not_allow_gets_no_shopper_actions(
    live_server: LiveServer, stranger: str, browser: Any
) -> None:
    page, errors = open_player(browser, live_server, stranger, connected=False)
    player = page.locator("pasar-live")
    # The show's public shell is there (anyone may watch) …
    player.locator(".vendor-name", has_text="Toko Demo").wait_for()
    # … but the socket refuses the page: no chat from it.
    player.locator(".stage .blocked", has_text="aren't available on this page").wait_for()
    assert player.locator(".stage input[name=chat]").count() == 0
    # A claim through the Storefront API from this origin is refused too.
    deal_id = page.evaluate(
        "() => document.querySelector('pasar-live').shadowRoot"
        ".querySelector('.deal-banner')?.dataset.deal ?? null"
    )
    if deal_id:
        status = page.evaluate(
            """async ([url, deal]) => {
                const g = await fetch(url + '/api/v1/storefront/guests', {method: 'POST'});
                const token = (await g.json()).guest_token;
                const r = await fetch(url + '/api/v1/storefront/deals/' + deal + '/claims', {
                  method: 'POST', headers: {'Content-Type': 'application/json',
                  'X-Pasar-Guest': token, 'Idempotency-Key': 'stranger-1'}, body: '{}'});
                return [r.status, (await r.json()).error.code];
            }""",
            [live_server.url, deal_id],
        )
        assert status == [403, "origin_not_allowed"]
    assert errors == []
    page.context.close()


def test_coupons_polls_and_moderation_reach_shoppers(
    live_server: LiveServer, shop: str, browser: Any
) -> None:
    api = _api(live_server)
    show_id = live_server.demo.live_show_id
    ayu, errors_a = open_player(browser, live_server, shop)
    ayu.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=shop)
    rizky, errors_r = open_player(browser, live_server, shop)

    # A coupon posted by the host: a chip over the video, tap to copy.
    r = api.post("/api/v1/coupons", json={"code": "LIVE10", "kind": "percent", "value": 10})
    assert r.status_code == 201, r.text
    r = api.post(f"/api/v1/shows/{show_id}/coupons/{r.json()['id']}/post")
    assert r.status_code in (200, 201, 204), r.text
    chip = ayu.locator("pasar-live .coupon-chip", has_text="LIVE10")
    chip.wait_for()
    assert "10% off" in chip.inner_text()
    chip.click()
    ayu.locator("pasar-live .coupon .code").click()
    ayu.locator("pasar-live .coupon .code", has_text="Copied").wait_for()
    assert ayu.evaluate("() => navigator.clipboard.readText()") == "LIVE10"
    ayu.locator("pasar-live").get_by_role("button", name="Close").click()

    # A poll: vote, and see the results move.
    body = {"question": "Warna apa?", "options": ["Biru", "Merah"], "duration_seconds": 120}
    r = api.post(f"/api/v1/shows/{show_id}/polls", json=body)
    assert r.status_code == 201, r.text
    rizky.locator("pasar-live .poll", has_text="Warna apa?").wait_for()
    rizky.locator("pasar-live .poll .option", has_text="Biru").click()
    rizky.locator("pasar-live .poll .option.chosen", has_text="100%").wait_for()
    rizky.locator("pasar-live .poll", has_text="Thanks for voting!").wait_for()
    ayu.locator("pasar-live .poll .option", has_text="Merah").click()
    rizky.locator("pasar-live .poll .option", has_text="50%").first.wait_for()

    # Moderation: a deleted message vanishes for everyone; a muted shopper is told.
    composer = ayu.locator("pasar-live .stage input[name=chat]")
    composer.fill("pesan yang akan dihapus")
    composer.press("Enter")
    message = rizky.locator("pasar-live .overlay-chat .msg", has_text="pesan yang akan dihapus")
    message.wait_for()
    message_id = message.get_attribute("data-id")
    r = api.delete(f"/api/v1/shows/{show_id}/chat/{message_id}")
    assert r.status_code == 204, r.text
    message.wait_for(state="detached")
    ayu_id = ayu.evaluate("() => document.querySelector('pasar-live').model.me.id")
    r = api.post(f"/api/v1/shows/{show_id}/sanctions", json={"user_id": ayu_id, "minutes": 10})
    assert r.status_code == 201, r.text
    ayu.locator("pasar-live .stage .muted-note", has_text="You have been muted until").wait_for()
    assert ayu.locator("pasar-live .stage input[name=chat]").count() == 0
    ayu.screenshot(path=str(ARTIFACTS / "player-phone-poll-muted.png"))
    assert errors_a == [] and errors_r == []
    ayu.context.close()
    rizky.context.close()


def test_a_scheduled_show_counts_down_and_offers_a_reminder(
    live_server: LiveServer, shop: str, browser: Any
) -> None:
    page, errors = open_player(browser, live_server, shop, show=live_server.demo.show_id)
    poster = page.locator("pasar-live .poster")
    poster.locator("h2", has_text=live_server.demo.show_title).wait_for()
    assert re.search(r"Starts in (\d+:)?\d+:\d\d", poster.inner_text()), poster.inner_text()
    remind = poster.get_by_role("link", name="Remind me")
    href = remind.get_attribute("href") or ""
    assert href.startswith("data:text/calendar")
    ics = httpx.URL("http://x/?" + "q=" + href.split(",", 1)[1]).params["q"]
    assert "BEGIN:VEVENT" in ics and "DTSTART:" in ics and "BEGIN:VALARM" in ics
    assert remind.get_attribute("download") == f"{live_server.demo.show_id}.ics"
    google = poster.get_by_role("link", name="Add to calendar").get_attribute("href") or ""
    assert google.startswith("https://calendar.google.com/calendar/render?action=TEMPLATE")
    # Nothing to play before the show: no video requested.
    assert page.evaluate(f"() => {VIDEO}.currentTime") == 0
    page.screenshot(path=str(ARTIFACTS / "player-phone-scheduled.png"))
    assert errors == []
    page.context.close()


def test_variant_chips_the_vendors_prices_and_a_signed_in_shopper(
    live_server: LiveServer, shop: str, browser: Any
) -> None:
    api = _api(live_server)
    show_id = live_server.demo.live_show_id

    def variant(sku: str, size: str, colour: str, price: int, stock: int) -> dict[str, Any]:
        options = {"Size": size, "Colour": colour}
        return {"sku": sku, "options": options, "price": price, "stock": stock}

    variants = [
        # Minor units: IDR has two decimals in ISO 4217 (Rp 250.000 is 25_000_000).
        variant("KB-M-BLUE", "M", "Blue", 25_000_000, 0),
        variant("KB-M-RED", "M", "Red", 25_000_000, 4),
        variant("KB-L-BLUE", "L", "Blue", 26_000_000, 9),
        variant("KB-XL-RED", "XL", "Red", 27_000_000, 0),
    ]
    body = {
        "title": "Kebaya Modern",
        "status": "active",
        "currency": "IDR",
        "options": ["Size", "Colour"],
        "variants": variants,
    }
    r = api.post("/api/v1/products", json=body)
    assert r.status_code == 201, r.text
    product = r.json()
    lineup = [p["id"] for p in _doc(live_server)["lineup"]] + [product["id"]]
    r = api.put(f"/api/v1/shows/{show_id}/lineup", json={"product_ids": lineup})
    assert r.status_code == 200, r.text

    page, errors = open_player(browser, live_server, shop)
    player = page.locator("pasar-live")
    player.locator(".lineup-button").click()
    player.locator(f".lineup-item[data-product='{product['id']}'] .row").click()
    sheet = player.locator(".product-sheet")
    # Size M, Colour Red was picked (the first in stock). Blue is sold out in M but
    # not in L: struck, and a tap moves the size to L. XL exists only sold out: off.
    sheet.locator(".chip.on", has_text="Red").wait_for()
    blue = sheet.locator(".chip", has_text="Blue")
    assert "struck" in (blue.get_attribute("class") or "")
    assert sheet.locator(".chip", has_text="XL").is_disabled()
    blue.click()
    sheet.get_by_role("button", name="L", exact=True).and_(sheet.locator(".chip.on")).wait_for()
    sheet.locator(".chip.on", has_text="Blue").wait_for()
    sheet.get_by_role("button", name="Add to cart").wait_for()
    assert "260,000" in sheet.locator(".price").inner_text()  # English grouping
    assert "Rp" in sheet.locator(".price").inner_text()

    # The vendor's live price wins (updateProduct).
    page.evaluate(
        "([pid, vid]) => document.querySelector('pasar-live').updateProduct("
        "{product_id: pid, variants: [{id: vid, price: 19900000}]})",
        [product["id"], product["variants"][2]["id"]],
    )
    sheet.locator(".price", has_text="199,000").wait_for()

    # A shopper the vendor's site signed in chats under their own name.
    import jwt

    secret = api.get("/api/v1/vendor/shopper-secret").json()["secret"]
    claims = {"sub": "cust-42", "name": "Siti Rahma", "exp": int(time.time()) + 600}
    token = jwt.encode(claims, secret, "HS256")
    page.evaluate("(t) => document.querySelector('pasar-live').setShopper(t)", token)
    page.wait_for_function(
        "() => document.querySelector('pasar-live').model.me?.role === 'shopper'"
    )
    player.get_by_role("button", name="Close").click()
    composer = player.locator(".stage input[name=chat]")
    composer.fill("Saya sudah login")
    composer.press("Enter")
    mine = player.locator(".overlay-chat .msg", has_text="Saya sudah login")
    mine.locator(".author", has_text="Siti Rahma").wait_for()
    assert errors == []
    page.context.close()


def test_the_iframe_page_tells_the_framing_page_its_size(
    live_server: LiveServer, shop: str, browser: Any
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    q = httpx.QueryParams(pasar=live_server.url, show=live_server.demo.live_show_id)
    page.goto(f"{shop}/frame?{q}")
    page.wait_for_function("() => window.sizes.length > 0")
    size = page.evaluate("() => window.sizes.at(-1)")
    assert size["show_id"] == live_server.demo.live_show_id
    assert size["width"] == 360 and size["height"] == 640  # 9:16
    frame = page.frame_locator("iframe")
    frame.locator("pasar-live .top .badge", has_text="LIVE").wait_for()
    assert page.evaluate("() => document.querySelector('iframe').style.height") == "640px"
    context.close()


def test_the_hosted_cart_takes_the_shopper_to_the_vendors_checkout(
    live_server: LiveServer, shop: str, browser: Any
) -> None:
    """Without a cart of its own on the page, the player keeps Pasar's hosted cart:
    quantities change in the sheet, and checkout goes to the shop's checkout URL."""
    page, errors = open_player(browser, live_server, shop, attrs='locale="en"')
    checkout: list[str] = []

    def shop_checkout(route: Any) -> None:
        checkout.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Checkout</h1>")

    page.route("https://toko-demo.example/**", shop_checkout)
    player = page.locator("pasar-live")
    player.locator(".product-card .buy").first.click()
    player.locator(".sheet .add").click()
    player.locator(".cart-button .count", has_text="1").wait_for()
    assert events(page, "add-to-cart") == []  # the page's cart is not involved
    player.get_by_role("button", name="Open cart").click()
    line = player.locator(".cart-line").first
    line.get_by_role("button", name="Add one").click()
    line.locator("output", has_text="2").wait_for()
    player.locator(".cart-button .count", has_text="2").wait_for()
    page.screenshot(path=str(ARTIFACTS / "player-phone-hosted-cart.png"))
    player.get_by_role("button", name="Checkout").click()
    page.wait_for_url("https://toko-demo.example/**")
    assert "items=" in checkout[0] and "pasar=" in checkout[0]
    assert errors == []
    page.context.close()


@pytest.fixture(scope="module")
def storefront(live_server: LiveServer) -> Iterator[str]:
    """`pasar demo`'s shop (its own catalogue, same SKUs), allowed by the vendor."""
    from pasar.demo.storefront import ShopConfig, create_storefront

    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    api = _api(live_server)
    origins = api.get("/api/v1/vendor").json()["allowed_origins"]
    r = api.patch("/api/v1/vendor", json={"allowed_origins": [*origins, origin]})
    assert r.status_code == 200, r.text
    config = ShopConfig(pasar_url=live_server.url, api_key=live_server.demo.api_key)
    with serving(create_storefront(config), port):  # type: ignore[arg-type]
        yield origin


def test_the_demo_storefront_and_the_player_share_one_cart(
    live_server: LiveServer, storefront: str, on_air: None, browser: Any
) -> None:
    """The player on `pasar demo`'s shop, another origin, plays the live video; and
    two-way: the player's add lands in the shop's mini cart, the shop's own add shows
    on the player's cart badge."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{storefront}/")
    page.wait_for_selector("html[data-shop-ready]")
    page.wait_for_function("() => document.querySelector('pasar-live')?.model?.connected")
    page.wait_for_function(PLAYING, arg=[1.0], timeout=60_000)
    player = page.locator("pasar-live")
    player.locator(".product-card .buy").first.click()
    player.locator(".sheet .add").click()
    page.locator("[data-cart-count]", has_text="1").wait_for()
    player.locator(".cart-button .count", has_text="1").wait_for()
    page.locator("[data-add-sku]").first.click()
    player.locator(".cart-button .count", has_text="2").wait_for()
    page.screenshot(path=str(ARTIFACTS / "storefront-phone-shared-cart.png"))
    assert errors == []
    context.close()


# Runs last: it ends the demo's live show.
def test_the_replay_jumps_to_a_chapter_with_the_chat_of_that_moment(
    live_server: LiveServer, shop: str, on_air: None, browser: Any
) -> None:
    api = _api(live_server)
    show_id = live_server.demo.live_show_id
    doc = _doc(live_server)
    # Something recorded first: the broadcast has been on air since the first test.
    watching, _ = open_player(browser, live_server, shop)
    watching.wait_for_function(PLAYING, arg=[2.0], timeout=60_000)
    watching.context.close()
    product = next(p for p in doc["lineup"] if p["id"] != doc["pinned_products"][0]["product_id"])
    r = api.post(f"/api/v1/shows/{show_id}/pins", json={"product_id": product["id"]})
    assert r.status_code == 201, r.text
    r = api.post(f"/api/v1/shows/{show_id}/chat", json={"text": "Ini dia batiknya"})
    assert r.status_code == 201, r.text
    time.sleep(8)  # media time passes between the two messages (a replay's content, not speed)
    r = api.post(f"/api/v1/shows/{show_id}/chat", json={"text": "Pesan sesudahnya"})
    assert r.status_code == 201, r.text
    time.sleep(2)
    r = api.post(f"/api/v1/shows/{show_id}/transitions", json={"to": "ended"})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 60
    while _doc(live_server)["state"] != "replay":
        assert time.monotonic() < deadline, "the show did not become a replay"
        time.sleep(0.5)
    chapters = [c for c in _doc(live_server)["playback"]["chapters"] if c["media_time"]]
    chapter = next(c for c in chapters if c["product_id"] == product["id"])

    page, errors = open_player(browser, live_server, shop)
    player = page.locator("pasar-live")
    player.locator(".badge.replay").wait_for(timeout=30_000)
    page.wait_for_function(PLAYING, arg=[0.5], timeout=60_000)
    player.locator(".lineup-button").click()
    item = player.locator(f".lineup-item[data-product='{product['id']}']")
    item.locator(".chapter").click()
    video = "document.querySelector('pasar-live').shadowRoot.querySelector('video')"
    at = page.evaluate(f"() => {video}.currentTime")
    assert abs(at - chapter["media_time"]) < 2.5, (at, chapter)
    # The chat of that moment: said just after the pin, it shows as the video reaches it …
    player.locator(".overlay-chat .msg", has_text="Ini dia batiknya").wait_for()
    page.evaluate("() => document.querySelector('pasar-live').pause()")
    at = page.evaluate(f"() => {video}.currentTime")
    # … and what was said later does not, until the video gets there.
    r = httpx.get(f"{live_server.url}/api/v1/storefront/shows/{show_id}/replay/chat")
    later = next(m for m in r.json()["data"] if m["text"] == "Pesan sesudahnya")
    assert later["media_time"] > at
    assert player.locator(".overlay-chat .msg", has_text="Pesan sesudahnya").count() == 0
    # The seek bar has a mark at every chapter.
    assert player.locator(".seek .mark").count() == len(chapters)
    page.screenshot(path=str(ARTIFACTS / "player-phone-replay.png"))
    assert errors == []
    page.context.close()
