"""Limits and hostile input: rate limits, malformed frames, the connection cap,
unknown shows, origins, slow consumers, and text that looks like HTML."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.realtime.client import TIMEOUT, Clients, RawClient, Viewer, next_ip
from tests.realtime.conftest import LiveServer, ServerFactory, ShowCtx, seed_show, viewer


@pytest.fixture
async def lhttp(sqlite_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=60) as c:
        yield c


@pytest.fixture
async def lshow(sqlite_server: LiveServer, lhttp: httpx.AsyncClient) -> ShowCtx:
    return await seed_show(sqlite_server, lhttp, live_state=True)


async def answers(v: Viewer, refs: list[str]) -> list[dict[str, Any]]:
    """The ack or error for each ref, in the order of ``refs``."""

    def check() -> list[dict[str, Any]] | None:
        found = {
            e["data"]["ref"]: e
            for e in v.events
            if e["type"] in ("ack", "error") and e["data"]["ref"] in refs
        }
        return [found[r] for r in refs] if len(found) == len(refs) else None

    result: list[dict[str, Any]] = await v.until(check, f"answers to {len(refs)} commands")
    return result


# -- rate limits -------------------------------------------------------------------


async def test_chat_over_the_limit_is_refused_then_disconnected(
    lshow: ShowCtx, clients: Clients
) -> None:
    watcher = await viewer(clients, lshow)
    spammer = await viewer(clients, lshow)
    refs = [f"c{i}" for i in range(15)]
    await spammer.send(
        [{"type": "chat.send", "text": f"spam {i}", "ref": r} for i, r in enumerate(refs)]
    )
    got = await answers(spammer, refs)
    accepted = [i for i, a in enumerate(got) if a["type"] == "ack"]
    limited = [a for a in got if a["type"] == "error"]
    assert accepted[:5] == [0, 1, 2, 3, 4], "the burst of five goes through"
    assert limited, "fifteen messages at once exceed the chat burst"
    for a in limited:
        assert a["data"]["code"] == "rate_limited" and a["data"]["retry_after"] > 0
    assert spammer.is_open, "one burst is refused, not punished"

    # Keep hammering and the socket is closed with 4029.
    await spammer.send([{"type": "chat.send", "text": "more spam"}] * 60)
    assert await spammer.closed() == 4029
    talker = await viewer(clients, lshow)
    await talker.say("still here")
    await watcher.chat_message("still here")
    assert [t for t in watcher.texts() if t.startswith("spam")] == [
        f"spam {i}" for i in accepted
    ], "a refused message reaches nobody"
    assert watcher.is_open


async def test_likes_over_the_limit_are_refused_then_disconnected(
    lshow: ShowCtx, clients: Clients
) -> None:
    watcher = await viewer(clients, lshow)
    clicker = await viewer(clients, lshow)
    await clicker.send([{"type": "like", "count": 50, "ref": f"l{i}"} for i in range(60)])
    assert await clicker.closed() == 4029
    errors = clicker.seen("error")
    assert errors and all(e["data"]["code"] == "rate_limited" for e in errors)
    assert all(e["data"]["retry_after"] > 0 for e in errors)
    assert errors[0]["data"]["ref"] != "l0", "the first like was within the burst"
    counted = await watcher.wait_for("like.count", lambda e: e["data"]["count"] >= 50)
    assert counted["data"]["count"] % 50 == 0
    assert watcher.is_open


async def test_limits_per_address(lshow: ShowCtx, clients: Clients) -> None:
    """Many connections from one address share that address's budget."""
    ip = next_ip()
    crowd = [await viewer(clients, lshow, ip=ip) for _ in range(8)]
    refs = [[f"ip{n}-{i}" for i in range(5)] for n in range(8)]
    await asyncio.gather(
        *(
            c.send([{"type": "chat.send", "text": f"{r}", "ref": r} for r in rs])
            for c, rs in zip(crowd, refs, strict=True)
        )
    )
    got = [a for c, rs in zip(crowd, refs, strict=True) for a in await answers(c, rs)]
    limited = [a for a in got if a["type"] == "error"]
    assert limited and all(a["data"]["code"] == "rate_limited" for a in limited)
    # Each connection alone stayed within its own burst of five.
    alone = await viewer(clients, lshow)
    assert (await alone.chat("from another address"))["type"] == "ack"


# -- malformed input --------------------------------------------------------------------

BIG = 5000  # over PASAR_WS_MAX_MESSAGE_BYTES (4096)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        pytest.param(b"\x00\x01binary", 1003, id="binary"),
        pytest.param("hello", 1007, id="not-json"),
        pytest.param('{"type": "chat.send", "text": "unfinished', 1007, id="broken-json"),
        pytest.param('{"type": "nope"}', 1008, id="unknown-type"),
        pytest.param('{"type": "chat.send"}', 1008, id="missing-field"),
        pytest.param('{"type": "chat.send", "text": "hi", "admin": true}', 1008, id="extra"),
        pytest.param('{"type": "like", "count": 1000}', 1008, id="out-of-range"),
        pytest.param('[{"type": "ping"}, {"type": "bogus"}]', 1008, id="bad-in-array"),
        pytest.param('"just a string"', 1008, id="string"),
        pytest.param("[" * 2000, 1007, id="deep-unclosed"),
        pytest.param("[" * 2000 + "]" * 2000, 1007, id="deep-array"),
        pytest.param('{"a":' * 600 + "1" + "}" * 600, 1007, id="deep-object"),
        pytest.param(
            '{"type": "ping", "x": ' + "[" * 40 + "]" * 40 + "}", 1007, id="deep-in-command"
        ),
        pytest.param("null", 1008, id="null"),
        pytest.param("x" * BIG, 1009, id="oversized-text"),
        pytest.param(json.dumps({"type": "chat.send", "text": "y" * BIG}), 1009, id="oversized"),
        pytest.param(b"z" * BIG, 1009, id="oversized-binary"),
    ],
)
async def test_malformed_input_closes_only_that_socket(
    lshow: ShowCtx, clients: Clients, payload: str | bytes, code: int
) -> None:
    watchers = [await viewer(clients, lshow) for _ in range(2)]
    talker = await viewer(clients, lshow)
    await talker.say("before")
    bad = await viewer(clients, lshow)
    await bad.send(payload)
    assert await bad.closed() == code
    if code != 1009:  # the server's reason says what was wrong
        assert bad.close_reason
    await talker.say("after")
    for w in watchers:
        await w.chat_message("after")
        assert w.is_open
        assert w.texts() == ["before", "after"]
    # ... and a newcomer gets in as usual.
    newcomer = await viewer(clients, lshow)
    assert [m["text"] for m in newcomer.events[0]["data"]["chat"]] == ["before", "after"]


async def test_message_text_rules(lshow: ShowCtx, clients: Clients) -> None:
    watcher = await viewer(clients, lshow)
    author = await viewer(clients, lshow)
    too_long = await author.chat("a" * 301)
    assert too_long["type"] == "error" and too_long["data"]["code"] == "message_too_long"
    empty = await author.chat(" \u200b\u202e ")
    assert empty["type"] == "error" and empty["data"]["code"] == "empty_message"
    await author.say("b" * 300)
    await author.say("left\u202eright")  # a bidi override is removed
    await watcher.chat_message("leftright")
    assert watcher.texts() == ["b" * 300, "leftright"]


async def test_html_is_delivered_verbatim_as_text(lshow: ShowCtx, clients: Clients) -> None:
    watcher = await viewer(clients, lshow)
    author = await viewer(clients, lshow)
    html = '<script>alert("x")</script> <b>bold</b> &amp; &lt;3 <img src=x onerror=alert(1)>'
    await author.say(html)
    message = await watcher.chat_message(html)
    assert message["data"]["text"] == html and message["data"]["links"] is False
    late = await viewer(clients, lshow)
    assert late.events[0]["data"]["chat"][-1]["text"] == html
    page = await lshow.api("GET", lshow.show_api("/chat"))
    assert page["data"][0]["text"] == html


# -- who may connect ---------------------------------------------------------------------


async def test_unknown_show(sqlite_server: LiveServer, clients: Clients) -> None:
    for show_id in ("show_01ZZZZZZZZZZZZZZZZZZZZZZZZ", "x" * 60):
        v = await clients.connect(sqlite_server.url, show_id)
        assert await v.closed() == 4004
        assert not v.events


async def test_origins(
    sqlite_server: LiveServer, lshow: ShowCtx, lhttp: httpx.AsyncClient, clients: Clients
) -> None:
    url = sqlite_server.url
    evil = await clients.connect(url, lshow.show_id, origin="https://evil.example")
    assert await evil.closed() == 4003 and not evil.events
    await lshow.api("PATCH", "/api/v1/vendor", json={"allowed_origins": ["https://shop.example"]})
    for origin in ("https://shop.example", "https://SHOP.example/", url):
        v = await viewer(clients, lshow, origin=origin)
        assert v.events[0]["data"]["me"]["role"] == "guest"
    # One vendor's embed origin is nobody else's.
    other = await seed_show(sqlite_server, lhttp, live_state=True)
    elsewhere = await clients.connect(url, other.show_id, origin="https://shop.example")
    assert await elsewhere.closed() == 4003
    # Staff cookies work from the studio's own origin only, never from an embed.
    cookie, _ = await lshow.staff_login()
    embedded = await clients.connect(
        url, lshow.show_id, cookie=cookie, origin="https://shop.example"
    )
    assert await embedded.closed() == 4003


async def test_connection_cap(server_factory: ServerFactory, clients: Clients) -> None:
    small = server_factory(ws_max_connections=3)
    async with httpx.AsyncClient(base_url=small.url, timeout=60) as http:
        show = await seed_show(small, http, live_state=True)
        inside = [await viewer(clients, show) for _ in range(3)]
        refused = await clients.connect(small.url, show.show_id)
        assert await refused.closed() == 1013
        assert not refused.events and refused.close_reason
        await inside[0].say("the full node still works")
        await inside[2].chat_message("the full node still works")

        await inside[1].aclose()

        async def get_in() -> Viewer:
            while True:
                v = await clients.connect(small.url, show.show_id)
                if await v.answered():
                    return v
                assert v.close_code == 1013
                await asyncio.sleep(0.05)

        newcomer = await asyncio.wait_for(get_in(), TIMEOUT)
        assert newcomer.events[0]["type"] == "snapshot"


async def test_one_address_holds_at_most_its_share_of_sockets(
    server_factory: ServerFactory, clients: Clients
) -> None:
    live = server_factory(ws_max_connections_per_ip=3)
    async with httpx.AsyncClient(base_url=live.url, timeout=60) as http:
        show = await seed_show(live, http, live_state=True)
        ip = next_ip()
        # Refused sockets give their slot back: a missing show, then a real one.
        for _ in range(4):
            gone = await clients.connect(live.url, "shw_missing", ip=ip)
            assert await gone.closed() == 4004
        inside = [await viewer(clients, show, ip=ip) for _ in range(3)]
        for _ in range(5):
            extra = await clients.connect(live.url, show.show_id, ip=ip)
            assert await extra.closed() == 4029
            assert not extra.events and "address" in extra.close_reason
        # Others are not affected, and the extras were never viewers.
        other = await viewer(clients, show)
        assert other.events[0]["data"]["viewers"] == 4
        await inside[0].say("three from one address still chat")
        await other.chat_message("three from one address still chat")

        # A slot comes back when a socket closes.
        await inside[1].aclose()

        async def get_in() -> Viewer:
            while True:
                v = await clients.connect(live.url, show.show_id, ip=ip)
                if await v.answered():
                    return v
                assert v.close_code == 4029
                await asyncio.sleep(0.05)

        newcomer = await asyncio.wait_for(get_in(), TIMEOUT)
        assert newcomer.events[0]["type"] == "snapshot"


# -- slow consumers ------------------------------------------------------------------------


async def test_a_slow_consumer_is_dropped_and_resumes_without_loss(
    server_factory: ServerFactory, clients: Clients
) -> None:
    live = server_factory(ws_max_buffer_bytes=16 * 1024)
    async with httpx.AsyncClient(base_url=live.url, timeout=60) as http:
        show = await seed_show(live, http, live_state=True)
        stalled = RawClient(live.url, f"/ws/shows/{show.show_id}", next_ip())
        snapshot = stalled.first_events()[0]
        assert snapshot["type"] == "snapshot"
        since = f"{snapshot['epoch']}:{snapshot['offset']}"
        cookie, _ = await show.staff_login()
        staff = await clients.connect(live.url, show.show_id, cookie=cookie, origin=live.url)
        await staff.next("snapshot")
        watcher = await viewer(clients, show)
        await watcher.count("viewers.count", 3)

        # The stalled client reads nothing more. Publish until the server gives up on
        # it (kernel buffers first take a few MB), never buffering without bound.
        sent = 0
        while watcher.seen("viewers.count")[-1]["data"]["count"] == 3:
            assert sent < 30_000, "the stalled viewer was never dropped"
            batch = [f"{sent + i:05d} " + "😀" * 290 for i in range(3)]
            refs = [f"s{sent + i}" for i in range(3)]
            await staff.send(
                [
                    {"type": "chat.send", "text": t, "ref": r}
                    for t, r in zip(batch, refs, strict=True)
                ]
            )
            await answers(staff, refs[-1:])  # acks are direct: no tick to wait for
            sent += 3
        assert await watcher.count("viewers.count", 2)
        await asyncio.wait_for(asyncio.to_thread(stalled.read_until_gone), TIMEOUT)
        stalled.close()

        last = f"{sent - 1:05d} " + "😀" * 290
        await watcher.chat_message(last)
        assert staff.is_open and watcher.is_open, "fast viewers are not affected"
        assert len(watcher.texts()) == sent
        back = await clients.connect(live.url, show.show_id, since=since)
        await back.chat_message(last)
        assert not back.seen("snapshot") and not back.seen("reset")
        assert back.texts() == watcher.texts(), "every message, once, in order"


def test_frame_depth_counts_only_brackets_outside_strings() -> None:
    from pasar.web.show_session import MAX_FRAME_DEPTH, too_deep

    text = json.dumps({"type": "chat.send", "text": "[" * 200 + '\\"{' * 50})
    assert not too_deep(text)
    nested: object = []
    for _ in range(MAX_FRAME_DEPTH - 2):  # + the object + the innermost list
        nested = [nested]
    assert not too_deep(json.dumps({"x": nested}))
    assert too_deep(json.dumps({"x": [nested]}))


async def test_one_address_cannot_stuff_a_poll_with_fresh_guests(
    lshow: ShowCtx, clients: Clients
) -> None:
    """A vote is one per identity, but a guest identity is free: one address
    reconnecting as new guests runs into its address's vote budget (20 at once)."""
    poll = await lshow.api(
        "POST",
        lshow.show_api("/polls"),
        status=201,
        json={"question": "Which colour next?", "options": ["Blue", "Red"]},
    )
    ip = next_ip()
    guests = [await viewer(clients, lshow, ip=ip) for _ in range(30)]
    vote = {"type": "poll.vote", "poll_id": poll["id"], "option": 0}
    got = await asyncio.gather(*(g.command(vote) for g in guests))
    accepted = [a for a in got if a["type"] == "ack"]
    refused = [a for a in got if a["type"] == "error"]
    assert 20 <= len(accepted) < 30
    assert refused and all(a["data"]["code"] == "rate_limited" for a in refused)
    assert all(a["data"]["retry_after"] > 0 for a in refused)
    # Another address votes as usual.
    elsewhere = await viewer(clients, lshow)
    assert (await elsewhere.command(vote))["type"] == "ack"
