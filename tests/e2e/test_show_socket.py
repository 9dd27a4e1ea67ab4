"""The shared show-socket client (frontend/shared/socket.ts) in Chromium, driven
through the watch page, and the watch page in the shopper's language.

The socket's other end is played by the test (Playwright's WebSocket routing) so
that every close code and resume can be produced on cue; the page, its HLS and
its scripts come from a real server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.timeout(120)


@dataclass
class Conn:
    route: Any
    url: str
    frames: list[dict[str, Any]] = field(default_factory=list)

    def send(self, *events: dict[str, Any]) -> None:
        self.route.send(json.dumps(list(events)))


def fake_server(page: Any) -> list[Conn]:
    conns: list[Conn] = []

    def accept(route: Any) -> None:
        conn = Conn(route, route.url)
        route.on_message(lambda m: conn.frames.append(json.loads(m)))
        conns.append(conn)

    page.route_web_socket("**/ws/shows/**", accept)
    return conns


def pump(page: Any, cond: Callable[[], bool], seconds: float, what: str) -> None:
    """Let the page and the routed socket run until ``cond`` holds."""
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        page.wait_for_timeout(50)


def snapshot(offset: int, token: str, state: str = "live") -> dict[str, Any]:
    me = {"id": "guest:1", "name": "Guest", "role": "guest", "guest_token": token}
    data: dict[str, Any] = {
        "show_id": "x",
        "state": state,
        "me": me,
        "chat": [],
        "pinned_message": None,
        "pinned_products": [],
        "deals": [],
        "poll": None,
        "viewers": 1,
        "likes": 0,
        "slow_mode_seconds": 0,
    }
    return {"type": "snapshot", "epoch": "e1", "offset": offset, "data": data}


def show_state(offset: int, state: str) -> dict[str, Any]:
    return {"type": "show.state", "epoch": "e1", "offset": offset, "data": {"state": state}}


def status(page: Any) -> str:
    """What the player says now, as a catalogue key (the same in every language)."""
    return str(
        page.evaluate(
            "() => document.querySelector('pasar-live')?.shadowRoot"
            "?.querySelector('.player')?.dataset.status ?? ''"
        )
    )


def test_resume_tokens_and_close_codes(live_server: LiveServer, browser: Any) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    conns = fake_server(page)
    # A show that is not on air: the status comes from the socket alone.
    page.goto(f"{live_server.url}/watch/{live_server.demo.show_id}?locale=en")
    pump(page, lambda: len(conns) == 1 and conns[0].frames != [], 10, "the first auth")

    first = conns[0]
    assert "since=" not in first.url
    assert first.frames[0] == {"type": "auth"}  # a new guest; nothing in the URL
    first.send(snapshot(5, "g-1", "live"), show_state(6, "ended"))
    pump(page, lambda: status(page) == "state.ended_replay_soon", 5, "show.state ended")

    # A drop (the node restarted): it resumes after the last event, as the same guest.
    first.route.close(code=1012, reason="restart")
    pump(page, lambda: len(conns) == 2 and conns[1].frames != [], 10, "the reconnect")
    second = conns[1]
    assert second.url.endswith("?since=e1:6"), second.url
    assert second.frames[0] == {"type": "auth", "guest": "g-1"}
    # An event it had already applied (a reconnect may overlap) is skipped…
    second.send(show_state(6, "live"))
    page.wait_for_timeout(300)
    assert status(page) == "state.ended_replay_soon"
    # …a new one is applied.
    second.send(show_state(7, "scheduled"))
    pump(page, lambda: status(page) == "state.scheduled", 5, "show.state scheduled")

    # An expired guest token: at once a new guest, from a fresh snapshot (a resume
    # has none, and the new guest must learn its token).
    second.route.close(code=4003, reason="the guest token has expired")
    pump(page, lambda: len(conns) == 3 and conns[2].frames != [], 10, "a new guest")
    third = conns[2]
    assert "since=" not in third.url
    assert third.frames[0] == {"type": "auth"}

    # reset: the position is forgotten and the snapshot that follows is the state.
    third.send({"type": "reset", "data": {"reason": "too_old"}}, snapshot(2, "g-2", "ended"))
    pump(page, lambda: status(page) == "state.ended_replay_soon", 5, "the snapshot after reset")

    # Too busy (4029): it backs off harder each time; coming back online skips the wait.
    third.route.close(code=4029, reason="too many sockets")
    pump(page, lambda: len(conns) == 4, 10, "the retry after 4029")
    conns[3].route.close(code=4029, reason="too many sockets")
    page.wait_for_timeout(500)
    assert len(conns) == 4  # the next attempt is at least 8 s away…
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    pump(page, lambda: len(conns) == 5 and conns[4].frames != [], 4, "a reconnect when online")
    assert conns[4].url.endswith("?since=e1:2"), conns[4].url
    assert conns[4].frames[0] == {"type": "auth", "guest": "g-2"}

    # No such show: it stops for good.
    conns[4].route.close(code=4004, reason="no such show")
    pump(page, lambda: status(page) == "state.not_found", 5, "the show to be gone")
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    page.wait_for_timeout(1500)
    assert len(conns) == 5
    assert errors == []


LOCALES = [  # ?locale= → the language the player speaks
    ("id-ID", "id"),
    ("in", "id"),
    ("zh-CN", "zh-Hans"),
    ("zh-Hans-SG", "zh-Hans"),
    ("tl", "fil"),
    ("ms-MY", "ms"),
    ("th", "th"),
    ("en", "en"),
    ("vi", "vi"),
    ("xx", "id"),  # not one of ours: the vendor's default (Toko Demo's is Indonesian)
]
CATALOGUES = Path(__file__).resolve().parents[2] / "frontend" / "shared" / "i18n"


def test_the_watch_page_speaks_the_shoppers_language(live_server: LiveServer, browser: Any) -> None:
    """?locale= wins, else the vendor's default language, before the browser's."""
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    for locale, lang in [(None, "id"), *LOCALES]:
        query = f"?locale={locale}" if locale else ""
        page.goto(f"{live_server.url}/watch/{live_server.demo.show_id}{query}")
        coming_up = json.loads((CATALOGUES / f"{lang}.json").read_text())["state.scheduled"]
        page.locator("pasar-live .poster .badge", has_text=coming_up).wait_for()
        assert page.evaluate("() => document.querySelector('pasar-live').lang") == lang, locale
    context.close()
    assert errors == []


def stream_status(offset: int, status: str) -> dict[str, Any]:
    return {"type": "stream.status", "epoch": "e1", "offset": offset, "data": {"status": status}}


def test_the_player_says_when_the_host_is_reconnecting(
    live_server: LiveServer, browser: Any
) -> None:
    """stream.status reconnecting: a spinner over the picture while chat goes on."""
    page = browser.new_page(viewport={"width": 375, "height": 812})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    conns = fake_server(page)
    page.goto(f"{live_server.url}/watch/{live_server.demo.show_id}?locale=en")
    pump(page, lambda: len(conns) == 1 and conns[0].frames != [], 10, "the socket")
    conns[0].send(snapshot(1, "g-1", "live"), stream_status(2, "reconnecting"))
    pump(page, lambda: status(page) == "state.reconnecting", 5, "reconnecting")
    page.locator("pasar-live .status .spinner").wait_for()
    assert "Reconnecting…" in page.locator("pasar-live .status").inner_text()
    # Chat still arrives meanwhile.
    message = {
        "id": "msg_1",
        "author": {"id": "guest:2", "name": "Ayu", "role": "guest"},
        "text": "masih di sini",
        "links": False,
        "ts": "2026-12-06T00:00:00Z",
    }
    conns[0].send({"type": "chat.message", "epoch": "e1", "offset": 3, "data": message})
    page.locator("pasar-live .overlay-chat .msg", has_text="masih di sini").wait_for()
    conns[0].send(stream_status(4, "live"))
    pump(page, lambda: status(page) != "state.reconnecting", 5, "back on air")
    assert errors == []
    page.close()
