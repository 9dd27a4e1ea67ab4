"""Toko Demo's storefront in Chromium, on its own origin beside a real Pasar: its
mini cart answers the player's cart events (docs/embed-events.md) and syncs back.

The player element is not needed: the events are dispatched on the
<pasar-live> element as the player will fire them (bubbling, composed, each
detail with a ``respond`` function), and ``syncCart`` is watched on the element.
Browser tests of the real player in this shop come with the element."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pasar.demo.storefront import ShopConfig, create_storefront
from tests.demo.test_storefront import EVIL_TITLE, evil_catalogue
from tests.e2e.conftest import ARTIFACTS, LiveServer
from tests.servers import free_port, serving

pytestmark = pytest.mark.timeout(120)

# As the player fires them: on the element, bubbling out of its shadow root, with
# respond(answer) in the detail. Resolves with the page's answer.
FIRE = """([type, detail]) => new Promise((resolve) => {
  const player = document.querySelector("pasar-live");
  player.dispatchEvent(new CustomEvent(type, {
    bubbles: true, composed: true, detail: {...detail, respond: resolve},
  }));
})"""
# Record every syncCart(state) the page makes (the element is not defined here).
WATCH_SYNC = """() => {
  window.synced = [];
  document.querySelector("pasar-live").syncCart =
    (state) => window.synced.push(JSON.parse(JSON.stringify(state)));
}"""


@pytest.fixture(scope="module")
def shop(live_server: LiveServer) -> Iterator[str]:
    port = free_port()
    config = ShopConfig(
        pasar_url=live_server.url, api_key=live_server.demo.api_key, catalogue=evil_catalogue()
    )
    with serving(create_storefront(config), port):  # type: ignore[arg-type]
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def page(shop: str, browser: Any) -> Iterator[Any]:
    # Pasar first: its fixture runs asyncio, which Playwright's loop would block.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.dialogs = []
    tab.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))
    tab.goto(f"{shop}/")
    tab.wait_for_selector("html[data-shop-ready]")
    tab.evaluate(WATCH_SYNC)
    yield tab
    context.close()


def add(page: Any, **detail: Any) -> dict[str, Any]:
    event = {"show_id": "show_1", "product_id": "prod_1", "variant_id": "var_1", "price": 1}
    event |= {"currency": "IDR", "type": "add-to-cart", **detail}
    answer: dict[str, Any] = page.evaluate(FIRE, ["add-to-cart", event])
    return answer


def saved(page: Any) -> dict[str, Any]:
    data: dict[str, Any] = page.evaluate(
        "() => JSON.parse(localStorage.getItem('toko-demo.cart.v1'))"
    )
    return data


def last_sync(page: Any) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate("() => window.synced.at(-1)")
    return state


def test_the_mini_cart_answers_the_players_events_and_syncs_back(page: Any, shop: str) -> None:
    assert add(page, sku="TMT-01", quantity=2, click_token="pc1.tea", pin_id="pin_1") == {
        "ok": True
    }
    (line,) = saved(page)["lines"]
    assert (line["sku"], line["quantity"], line["click_token"]) == ("TMT-01", 2, "pc1.tea")
    assert (line["unit_price"], line["product_id"], line["variant_id"]) == (
        2_800_000,
        "prod_1",
        "var_1",
    )
    assert page.locator("[data-cart-count]").text_content() == "2"
    state = last_sync(page)
    assert (state["item_count"], state["subtotal"], state["currency"]) == (2, 5_600_000, "IDR")
    assert state["checkout_url"] == f"{shop}/checkout"
    assert state["lines"][0] | {"image_url": None} == {
        "variant_id": "var_1",
        "sku": "TMT-01",
        "product_id": "prod_1",
        "title": "Teh Melati Tubruk 100g",
        "quantity": 2,
        "unit_price": 2_800_000,
        "line_total": 5_600_000,
        "image_url": None,
        "reservation_id": None,
    }
    assert state["lines"][0]["image_url"] == f"{shop}/images/teh-melati-tubruk-100g.jpg"

    # Refusals name a reason and a message the player shows as is.
    unknown = add(page, sku="NOT-OURS", quantity=1)
    assert unknown["ok"] is False and unknown["reason"] == "unavailable" and unknown["message"]
    assert add(page, sku=None, quantity=1)["reason"] == "unavailable"
    assert add(page, sku="KBT-01", quantity=11)["reason"] == "limit"
    scarce = evil_catalogue()[-1].variants[0].sku  # 3 in stock
    short = add(page, sku=scarce, quantity=4)
    assert short["reason"] == "out_of_stock" and "3" in short["message"]

    # The shopper changes the cart on the page: the player is told.
    page.locator('[data-add-sku="MHS-01"]').click()
    assert last_sync(page)["item_count"] == 3
    page.locator("[data-cart-open]").click()
    page.get_by_role("button", name="Tambah Teh Melati Tubruk 100g").click()
    assert [(x["sku"], x["quantity"]) for x in last_sync(page)["lines"]] == [
        ("TMT-01", 3),
        ("MHS-01", 1),
    ]
    page.keyboard.press("Escape")

    # A flash-deal claim is its own line at the deal's price; its quantity is the hold's.
    claim = {"reservation_id": "rsv_1", "deal_id": "deal_1", "price": 9_450_000}
    assert add(page, sku="MHS-01", quantity=1, **claim) == {"ok": True}
    assert add(page, sku="MHS-01", quantity=1, **claim) == {"ok": True}  # the same claim again
    deal = [x for x in last_sync(page)["lines"] if x["reservation_id"] == "rsv_1"]
    assert [(x["quantity"], x["unit_price"]) for x in deal] == [(1, 9_450_000)]
    more = {"show_id": "show_1", "variant_id": "var_2", "sku": "MHS-01", "reservation_id": "rsv_1"}
    refused = page.evaluate(FIRE, ["update-cart", {**more, "quantity": 2}])
    assert refused["ok"] is False and refused["reason"] == "limit"

    # update-cart from the player: 0 removes the line.
    gone = {"show_id": "show_1", "variant_id": "var_1", "sku": "TMT-01", "quantity": 0}
    assert page.evaluate(FIRE, ["update-cart", gone]) == {"ok": True}
    assert [x["sku"] for x in last_sync(page)["lines"]] == ["MHS-01", "MHS-01"]

    # The cart outlives the page (localStorage).
    page.reload()
    page.wait_for_selector("html[data-shop-ready]")
    assert page.locator("[data-cart-count]").text_content() == "2"

    # checkout: answered, then the page (not the player) goes to its checkout.
    page.evaluate(WATCH_SYNC)
    answer = page.evaluate(
        FIRE,
        ["checkout", {"show_id": "show_1", "reservation_ids": ["rsv_1"], "click_token": "pc1.x"}],
    )
    assert answer == {"ok": True}
    page.wait_for_url(f"{shop}/checkout")
    assert saved(page)["checkout_click"] == "pc1.x"
    assert page.locator("[data-summary-lines] li").count() == 2


def test_an_empty_cart_refuses_checkout(page: Any) -> None:
    page.evaluate("() => localStorage.clear()")
    page.reload()
    page.wait_for_selector("html[data-shop-ready]")
    answer = page.evaluate(FIRE, ["checkout", {"show_id": "show_1", "reservation_ids": []}])
    assert answer["ok"] is False and answer["reason"] == "cart_empty"


def test_product_names_stay_text_in_the_cart(page: Any) -> None:
    page.evaluate("() => localStorage.clear()")
    page.reload()
    page.wait_for_selector("html[data-shop-ready]")
    evil = evil_catalogue()[-1]
    page.locator(f'[data-add-sku="{evil.variants[0].sku}"]').click()
    page.locator("[data-cart-open]").click()
    title = page.locator("#cart .line-title")
    assert title.text_content() == EVIL_TITLE
    assert page.locator("#cart script, #cart b").count() == 0
    assert page.locator(".card-title", has_text="Megamendung").text_content() == EVIL_TITLE
    assert page.dialogs == []


def test_an_order_from_the_show_is_attributed_in_pasar(
    page: Any, shop: str, live_server: LiveServer
) -> None:
    """A real click token and a real flash-deal claim from Pasar go through the
    shop's cart and checkout, and come back from Pasar attributed to the show."""
    show_id = live_server.demo.live_show_id
    key = {"Authorization": f"Bearer {live_server.demo.api_key}"}
    with httpx.Client(base_url=live_server.url, timeout=30) as pasar:
        doc = pasar.get(f"/api/v1/storefront/shows/{show_id}").json()
        tea = next(p for p in doc["lineup"] if p["title"] == "Teh Melati Tubruk 100g")
        click = pasar.post(
            f"/api/v1/storefront/shows/{show_id}/clicks", json={"product_id": tea["id"]}
        ).json()
        guest = pasar.post("/api/v1/storefront/guests").json()["guest_token"]
        deal = doc["deals"][0]
        held = pasar.post(
            f"/api/v1/storefront/deals/{deal['deal_id']}/claims",
            json={},
            headers={"X-Pasar-Guest": guest, "Idempotency-Key": "e2e-shop-claim"},
        ).json()

    page.evaluate("() => localStorage.clear()")
    page.reload()
    page.wait_for_selector("html[data-shop-ready]")
    page.evaluate(WATCH_SYNC)
    tea_line = {"show_id": show_id, "product_id": tea["id"], "variant_id": tea["variants"][0]["id"]}
    assert add(page, sku="TMT-01", quantity=1, click_token=click["click_token"], **tea_line)["ok"]
    claim = {
        "show_id": show_id,
        "product_id": held["product_id"],
        "variant_id": held["variant_id"],
        "price": held["unit_price"],
        "reservation_id": held["id"],
        "deal_id": held["deal_id"],
        "reservation_expires_at": held["expires_at"],
    }
    assert add(page, sku="MHS-01", quantity=held["quantity"], **claim)["ok"]
    checkout = {"show_id": show_id, "reservation_ids": [held["id"]], "click_token": None}
    assert page.evaluate(FIRE, ["checkout", checkout]) == {"ok": True}
    page.wait_for_url("**/checkout")
    page.get_by_role("button", name="Buat pesanan").click()
    done = page.locator("[data-confirmation]")
    done.wait_for(state="visible")
    order_ref = page.locator("[data-order-ref]").text_content()
    assert order_ref and order_ref.startswith("TD-")
    assert "2 dari 2 baris" in (page.locator("[data-attribution-summary]").text_content() or "")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "storefront-order.png"), full_page=True)
    assert saved(page)["lines"] == []

    with httpx.Client(base_url=live_server.url, timeout=30) as pasar:
        orders = pasar.get("/api/v1/orders", params={"show_id": show_id}, headers=key).json()
        reservation = pasar.get(f"/api/v1/reservations/{held['id']}", headers=key).json()
    (order,) = [o for o in orders["data"] if o["order_ref"] == order_ref]
    by = {line["reservation_id"] or line["sku"]: line["attributed_by"] for line in order["lines"]}
    assert by == {"TMT-01": "click", held["id"]: "reservation"}
    assert reservation["status"] == "confirmed"


@pytest.mark.parametrize(
    ("name", "viewport"),
    [("desktop", {"width": 1280, "height": 860}), ("phone", {"width": 375, "height": 812})],
)
def test_pages_fit_the_screen(shop: str, browser: Any, name: str, viewport: dict[str, int]) -> None:
    """No sideways scrolling on a phone or a desktop; screenshots for people to look at."""
    context = browser.new_context(
        viewport=viewport, device_scale_factor=2 if name == "phone" else 1
    )
    tab = context.new_page()
    ARTIFACTS.mkdir(exist_ok=True)
    for path, shot in (("/", "home"), ("/products/kemeja-batik-tulis-pekalongan", "product")):
        tab.goto(f"{shop}{path}")
        tab.wait_for_selector("html[data-shop-ready]")
        width = tab.evaluate("() => document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{path} is {width}px wide"
        tab.screenshot(path=str(ARTIFACTS / f"storefront-{shot}-{name}.png"))
    context.close()
