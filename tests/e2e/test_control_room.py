"""The studio's control room in Chromium: pin line-up products (at most 3 on
screen), run a flash deal and watch its numbers move as a shopper claims over the
Storefront API, while a guest's socket sees what the studio does."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.e2e.conftest import ARTIFACTS, LiveServer

pytestmark = pytest.mark.timeout(180)


def next_event(
    ws: ClientConnection, type_: str, match: Callable[[dict[str, Any]], bool], seconds: float = 10
) -> dict[str, Any]:
    """The data of the next event of ``type_`` that ``match``es (others are skipped)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = ws.recv(timeout=left)
        except TimeoutError:
            break
        for event in json.loads(frame):
            if event["type"] == type_ and match(event["data"]):
                return dict(event["data"])
    raise AssertionError(f"the guest's socket got no matching {type_} in {seconds} s")


def test_pin_products_and_run_a_flash_deal(live_server: LiveServer, browser: Any) -> None:
    base = live_server.url
    show_id = live_server.demo.show_id
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    page.goto(f"{base}/studio/")
    page.fill("input[name=email]", live_server.demo.email)
    page.fill("input[name=password]", live_server.demo.password)
    page.click("button[type=submit]")
    page.get_by_text("Toko Demo").first.wait_for()

    def get(path: str) -> Any:
        r = page.request.get(f"{base}{path}")
        assert r.ok, r.text()
        return r.json()

    show = get(f"/api/v1/shows/{show_id}")
    products = {p["id"]: p for p in get("/api/v1/products?limit=100")["data"]}
    lineup = [products[item["product_id"]] for item in show["lineup"]]
    assert len(lineup) >= 4 and show["state"] == "scheduled"
    titles = [p["title"] for p in lineup]

    page.locator("studio-shows .show", has_text=live_server.demo.show_title).click()
    page.get_by_role("heading", name=live_server.demo.show_title).wait_for()
    room = page.locator("studio-control-room")
    # The studio's own socket is up: numbers will arrive as they change.
    room.locator(".feed[data-linked=true]").wait_for(timeout=15_000)
    assert room.locator("ol.lineup li").count() == len(lineup)
    on_screen = room.get_by_text(re.compile(r"On screen: \d of 3"))

    # A guest watching the show.
    ws_url = base.replace("http", "ws", 1) + f"/ws/shows/{show_id}"
    with connect(ws_url, open_timeout=10) as guest:
        guest.send(json.dumps({"type": "auth"}))
        snapshot = next_event(guest, "snapshot", lambda d: True)
        assert snapshot["pinned_products"] == [] and snapshot["me"]["role"] == "guest"

        # Pin three products: each is on the guest's screen at once.
        for title, product in zip(titles[:3], lineup[:3], strict=True):
            room.get_by_role("button", name=f"Pin {title}", exact=True).click()
            room.get_by_role("button", name=f"Unpin {title}", exact=True).wait_for()
            pinned = next_event(guest, "product.pinned", lambda d: True)
            assert pinned["product_id"] == product["id"]
            assert pinned["product"]["title"] == title
        assert on_screen.inner_text() == "On screen: 3 of 3"
        active = get(f"/api/v1/shows/{show_id}/pins?active=true")
        assert [p["product_id"] for p in active] == [p["id"] for p in lineup[:3]]

        # A fourth is refused with the API's message, and nothing changes.
        room.get_by_role("button", name=f"Pin {titles[3]}", exact=True).click()
        alert = room.get_by_role("alert").filter(has_text="at most 3 products can be pinned")
        alert.wait_for()
        assert "unpin one first" in alert.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        room.locator(".section").first.screenshot(path=str(ARTIFACTS / "control-room-refused.png"))
        assert len(get(f"/api/v1/shows/{show_id}/pins?active=true")) == 3
        assert room.locator("li.pinned").count() == 3

        # Unpin the third: it leaves the guest's screen, and the fourth fits.
        room.get_by_role("button", name=f"Unpin {titles[2]}", exact=True).click()
        gone = next_event(guest, "product.unpinned", lambda d: True)
        assert gone["product_id"] == lineup[2]["id"]
        room.get_by_role("button", name=f"Pin {titles[2]}", exact=True).wait_for()
        assert on_screen.inner_text() == "On screen: 2 of 3"
        room.get_by_role("button", name=f"Pin {titles[3]}", exact=True).click()
        room.get_by_role("button", name=f"Unpin {titles[3]}", exact=True).wait_for()
        assert next_event(guest, "product.pinned", lambda d: True)["product_id"] == lineup[3]["id"]
        assert room.get_by_role("alert").count() == 0  # the refusal is gone

        # A flash deal on the first product, priced in rupiah (major units): three of
        # its variants, 20 units, 2 per shopper, starting now.
        product = lineup[0]
        assert len(product["variants"]) >= 2 and product["currency"] == "IDR"
        form = room.get_by_role("form", name="New flash deal")
        form.get_by_label("Product").select_option(product["id"])
        skipped = product["variants"][-1]
        form.get_by_label(skipped["title"], exact=True).uncheck()
        form.get_by_label("Title (optional)").fill("Kilat: batik tulis 30 % off")
        form.get_by_label(re.compile(r"Deal price \(IDR\)")).fill("272300.5")
        # the preview, in the studio's language (English here), keeps the half rupiah
        form.get_by_text(re.compile(r"^Rp\s?272,300\.50\b")).wait_for()
        form.get_by_label("Quantity").fill("20")
        form.get_by_label("Limit per shopper").fill("2")
        form.get_by_label("Duration (minutes)").fill("15")
        form.get_by_role("button", name="Start deal").click()
        form.get_by_role("status").filter(has_text="The deal is live").wait_for()

        deals = get(f"/api/v1/shows/{show_id}/deals")
        assert len(deals) == 1
        deal = deals[0]
        assert deal["price"] == 27_230_050  # IDR has 2 minor digits: 272 300.50 → 27 230 050
        assert deal["currency"] == "IDR" and deal["title"] == "Kilat: batik tulis 30 % off"
        assert deal["variant_ids"] == [v["id"] for v in product["variants"] if v != skipped]
        assert (deal["quantity"], deal["per_shopper_limit"], deal["status"]) == (20, 2, "live")
        started = next_event(guest, "deal.started", lambda d: True)
        assert started["deal_id"] == deal["id"] and started["units_left"] == 20

        row = room.locator(f"tr[data-deal='{deal['id']}']")
        row.wait_for()
        units_left = row.locator("td.left")
        assert units_left.get_attribute("data-units-left") == "20"

        # Shoppers claim through the Storefront API: the page's number drops.
        def claim(quantity: int) -> dict[str, Any]:
            token = httpx.post(f"{base}/api/v1/storefront/guests").json()["guest_token"]
            r = httpx.post(
                f"{base}/api/v1/storefront/deals/{deal['id']}/claims",
                headers={"X-Pasar-Guest": token, "Idempotency-Key": str(uuid.uuid4())},
                json={"variant_id": deal["variant_ids"][0], "quantity": quantity},
            )
            assert r.status_code == 201, r.text
            return dict(r.json())

        assert claim(2)["status"] == "held"
        room.locator(f"tr[data-deal='{deal['id']}'] td.left[data-units-left='18']").wait_for(
            timeout=10_000
        )
        assert next_event(guest, "deal.updated", lambda d: d["units_left"] == 18)
        claim(1)
        room.locator(f"tr[data-deal='{deal['id']}'] td.left[data-units-left='17']").wait_for(
            timeout=10_000
        )
        # held (not in deal.updated) follows from the API a moment later
        row.locator("td[data-held='3']").wait_for(timeout=10_000)

        # A second deal after a countdown, for the screenshot: upcoming.
        form.get_by_label("Product").select_option(lineup[1]["id"])
        form.get_by_label("After a countdown of").check()
        form.get_by_label("Countdown in seconds").fill("90")
        # The price typed for the batik is more than this product costs: refused, saying why.
        form.get_by_role("button", name="Start countdown").click()
        form.get_by_role("alert").filter(has_text="must sell below").wait_for()
        form.get_by_label(re.compile(r"Deal price \(IDR\)")).fill("99000")
        form.get_by_role("button", name="Start countdown").click()
        form.get_by_role("status").filter(has_text="Countdown started").wait_for()
        upcoming = room.locator("tr.upcoming")
        upcoming.wait_for()
        assert re.search(r"starts in 1:[23]\d", upcoming.inner_text())

        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.evaluate("window.scrollTo(0, 0)")
        card = page.locator("studio-shows .card").nth(1)
        top = card.bounding_box()
        bottom = room.bounding_box()
        assert top and bottom
        page.screenshot(
            path=str(ARTIFACTS / "control-room.png"),
            full_page=True,
            clip={
                "x": top["x"] - 12,
                "y": top["y"] - 12,
                "width": top["width"] + 24,
                "height": bottom["y"] + bottom["height"] - top["y"] + 24,
            },
        )

        page.screenshot(path=str(ARTIFACTS / "control-room-page.png"), full_page=True)

        # End the live deal: claims stop, the guest is told, the row says so.
        row.get_by_role("button", name=f"End {deal['title']}", exact=True).click()
        row.locator(".pill.ended").wait_for()
        ended = next_event(guest, "deal.ended", lambda d: d["deal_id"] == deal["id"])
        assert ended["reason"] == "ended"
        assert get(f"/api/v1/deals/{deal['id']}")["status"] == "ended"
        assert row.get_by_role("button").count() == 0
        # Cancel the countdown deal (confirmed in a dialog).
        upcoming.get_by_role("button", name=re.compile("^Cancel ")).click()
        room.locator("tr.upcoming").wait_for(state="detached")

        # Text that looks like markup is shown as text.
        markup = '<img src=x onerror="window.pwned=1"> <b>kilat</b> & co'
        form.get_by_label("Now").check()
        form.get_by_label("Title (optional)").fill(markup)
        form.get_by_role("button", name="Start deal").click()
        last = room.locator("tr.live")
        last.wait_for()
        assert last.locator("strong").inner_text() == markup
        assert last.locator("b, img").count() == 0
        assert page.evaluate("window.pwned") is None
        last.get_by_role("button", name=re.compile("^Cancel ")).click()
        last.wait_for(state="detached")
        assert all(d["status"] == "ended" for d in get(f"/api/v1/shows/{show_id}/deals"))
    assert errors == []
