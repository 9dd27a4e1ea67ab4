"""The show socket's core protocol: snapshot, ordering, resume, identity, reset.

Runs against a real server (uvicorn with Pasar's WebSocket protocol) on SQLite and
on PostgreSQL, with the in-process broker.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.realtime.client import Clients, Event, Viewer, is_history
from tests.realtime.conftest import LiveServer, MakeShow, ServerFactory, ShowCtx, seed_show


def position(event: Event) -> str:
    return f"{event['epoch']}:{event['offset']}"


def latest(viewer: Viewer) -> str:
    assert viewer.position is not None
    return f"{viewer.position[0]}:{viewer.position[1]}"


async def test_a_fresh_client_gets_a_snapshot_first(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    early = await clients.connect(server.url, show.show_id)
    await early.next("snapshot")
    ids = [(await show.post_chat(f"message {i:02d}"))["id"] for i in range(60)]
    guest = await clients.connect(server.url, show.show_id)
    await guest.next("snapshot")
    await early.count("viewers.count", 2)
    await guest.say("a guest's question")
    await guest.send({"type": "like", "count": 7})
    await show.api("PUT", show.show_api("/chat/pin"), status=204, json={"message_id": ids[-1]})
    await guest.aclose()
    await early.count("like.count", 7)
    await early.wait_for("chat.pinned")
    await early.count("viewers.count", 1)

    fresh = await clients.connect(server.url, show.show_id)
    snapshot = await fresh.next("snapshot")
    assert fresh.frames[0][0] is snapshot, "the snapshot is the very first event"
    data = snapshot["data"]
    assert data["show_id"] == show.show_id
    assert data["state"] == "live"
    texts = [m["text"] for m in data["chat"]]
    assert texts == [f"message {i:02d}" for i in range(11, 60)] + ["a guest's question"]
    assert [m["id"] for m in data["chat"][:49]] == ids[11:]
    assert data["chat"][0]["author"]["role"] == "staff" and data["chat"][0]["links"] is True
    assert data["chat"][-1]["author"]["role"] == "guest" and data["chat"][-1]["links"] is False
    assert data["pinned_message"]["id"] == ids[-1]
    assert data["viewers"] == 2  # the early viewer and this one
    assert data["likes"] == 7
    assert data["poll"] is None and data["deals"] == [] and data["pinned_products"] == []
    assert data["slow_mode_seconds"] == 0
    me = data["me"]
    assert me["role"] == "guest" and me["id"].startswith("guest:") and me["name"]
    assert me["guest_token"]
    # Its position is the show's latest event: what the early viewer last saw.
    assert position(snapshot) == latest(early)
    await fresh.ping()
    assert fresh.history() == [], "nothing before the snapshot is replayed"


async def test_show_state_changes_reach_viewers(
    server: LiveServer, make_show: MakeShow, clients: Clients
) -> None:
    show = await make_show(live=False)
    viewer = await clients.connect(server.url, show.show_id)
    assert (await viewer.next("snapshot"))["data"]["state"] == "scheduled"
    await show.transition("live")
    assert (await viewer.next("show.state"))["data"] == {"state": "live"}
    await show.transition("ended")
    assert (await viewer.next("show.state"))["data"] == {"state": "ended"}
    late = await clients.connect(server.url, show.show_id)
    assert (await late.next("snapshot"))["data"]["state"] == "ended"


async def test_many_senders_one_order_without_gaps(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    observers = [await clients.connect(server.url, show.show_id) for _ in range(3)]
    for o in observers:
        await o.next("snapshot")
    guests = [await clients.connect(server.url, show.show_id) for _ in range(4)]
    for g in guests:
        await g.next("snapshot")
    cookie, _ = await show.staff_login()
    staff = await clients.connect(server.url, show.show_id, cookie=cookie, origin=server.url)
    await staff.next("snapshot")

    async def guest_sends(n: int, g: Viewer) -> None:
        # One frame with five commands: handled in order, within the chat burst.
        await g.send([{"type": "chat.send", "text": f"g{n} #{i}"} for i in range(5)])

    async def staff_sends() -> None:
        await staff.send([{"type": "chat.send", "text": f"staff #{i}"} for i in range(20)])

    async def rest_sends() -> None:
        for i in range(10):
            await show.post_chat(f"rest #{i}")

    await asyncio.gather(
        *(guest_sends(n, g) for n, g in enumerate(guests)), staff_sends(), rest_sends()
    )
    total = 4 * 5 + 20 + 10
    for o in observers:
        await o.messages(total)
    sequences = [[(e["offset"], e["data"]["id"]) for e in o.history()] for o in observers]
    assert sequences[0] == sequences[1] == sequences[2], "every viewer sees one order"
    offsets = [off for off, _ in sequences[0]]
    assert offsets == list(range(offsets[0], offsets[0] + total)), "gap-free offsets"
    texts = observers[0].texts()
    assert sorted(texts) == sorted(
        [f"g{n} #{i}" for n in range(4) for i in range(5)]
        + [f"staff #{i}" for i in range(20)]
        + [f"rest #{i}" for i in range(10)]
    ), "every message exactly once"
    for prefix, n in [*((f"g{k} ", 5) for k in range(4)), ("staff ", 20), ("rest ", 10)]:
        mine = [t for t in texts if t.startswith(prefix)]
        assert mine == [f"{prefix}#{i}" for i in range(n)], "each sender's order is kept"
    # The senders see the same stream too.
    for g in [*guests, staff]:
        await g.messages(total)
        assert [(e["offset"], e["data"]["id"]) for e in g.history()] == sequences[0]


async def test_resume_after_a_drop_gets_exactly_the_missed_events(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    watcher = await clients.connect(server.url, show.show_id)
    await watcher.next("snapshot")
    phone = await clients.connect(server.url, show.show_id)
    await phone.next("snapshot")
    await show.post_chat("before the tunnel")
    await phone.chat_message("before the tunnel")
    since = latest(phone)
    guest_token = phone.events[0]["data"]["me"]["guest_token"]
    phone.drop()  # no closing handshake, like a phone losing signal

    sender = await clients.connect(server.url, show.show_id)
    await sender.next("snapshot")
    first = await sender.say("missed 0")
    for i in range(1, 5):
        await sender.say(f"missed {i}")
    for i in range(5, 25):
        await show.post_chat(f"missed {i}")
    await show.api("PUT", show.show_api("/chat/pin"), status=204, json={"message_id": first})
    await show.api("DELETE", show.show_api(f"/chat/{first}"), status=204)
    await watcher.wait_for("chat.deleted")
    missed = [e for e in watcher.history() if e["offset"] > int(since.split(":")[1])]
    assert len(missed) == 25 + 3  # 25 messages, the pin, the deletion and the unpin

    back = await clients.connect(server.url, show.show_id, since=since, guest=guest_token)
    await back.wait_for("chat.pinned", lambda e: e["data"]["message"] is None)
    first_frame = back.frames[0]
    assert first_frame == missed, "exactly the missed events, in order, in the first frame"
    assert not back.seen("snapshot"), "a resume sends no snapshot"
    # ... and then it is live again, from the next offset.
    await show.post_chat("after the tunnel")
    after = await back.chat_message("after the tunnel")
    assert after["offset"] == missed[-1]["offset"] + 1
    assert back.texts() == [f"missed {i}" for i in range(25)] + ["after the tunnel"]


async def test_resume_when_nothing_was_missed(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    first = await clients.connect(server.url, show.show_id)
    snapshot = await first.next("snapshot")
    await first.aclose()
    again = await clients.connect(server.url, show.show_id, since=position(snapshot))
    await show.post_chat("hello again")
    message = await again.chat_message("hello again")
    assert message["offset"] == snapshot["offset"] + 1
    assert not again.seen("snapshot") and not again.seen("reset")
    assert again.history() == [message]


async def test_resume_while_the_chat_keeps_going(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    """Joins and resumes racing a busy chat: every client's stream stays gap-free
    and repeat-free (the client checks every offset) and ends with the last message."""
    cookie, _ = await show.staff_login()
    staff = await clients.connect(server.url, show.show_id, cookie=cookie, origin=server.url)
    await staff.next("snapshot")
    n = 150
    sending = asyncio.create_task(staff_burst(staff, n))
    viewer = await clients.connect(server.url, show.show_id)
    await viewer.next("snapshot")
    for _ in range(6):
        await viewer.next("chat.message")
        since = latest(viewer)
        await viewer.aclose()
        viewer = await clients.connect(server.url, show.show_id, since=since)
        await clients.connect(server.url, show.show_id)  # a fresh join in the same race
    await sending
    last = f"burst {n - 1}"
    for v in clients.viewers:
        if v.is_open:
            await v.learns(last)
    assert not [p for v in clients.viewers for p in v.problems]


async def staff_burst(staff: Viewer, n: int) -> None:
    for start in range(0, n, 10):
        await staff.send(
            [{"type": "chat.send", "text": f"burst {i}"} for i in range(start, start + 10)]
        )
        await staff.chat_message(f"burst {start + 9}")


async def test_a_reconnecting_guest_keeps_their_identity(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    first = await clients.connect(server.url, show.show_id)
    me = (await first.next("snapshot"))["data"]["me"]
    message_id = await first.say("first visit")
    await first.aclose()

    again = await clients.connect(server.url, show.show_id, guest=me["guest_token"])
    back = (await again.next("snapshot"))["data"]["me"]
    renewed = back.pop("guest_token")  # a renewed token for the same guest
    assert back == {k: v for k, v in me.items() if k != "guest_token"}
    assert renewed.split(".")[1] == me["guest_token"].split(".")[1]
    await again.say("second visit")
    message = await again.chat_message("second visit")
    assert message["data"]["author"] == {"id": me["id"], "name": me["name"], "role": "guest"}
    assert message["data"]["id"] != message_id

    other = await clients.connect(server.url, show.show_id)
    assert (await other.next("snapshot"))["data"]["me"]["id"] != me["id"]


@pytest.mark.parametrize(
    "token",
    [
        "forged",
        "g1.abcdefghijkl.AAAAAAAAAAAAAAAAAAAAAAAA",
        "g2.abcdefghijkl.AAAAAAAAAAAAAAAAAAAAAAAA",
        "g2.abcdefghijkl.99999999999.AAAAAAAAAAAAAAAAAAAAAAAA",
        "g2.abcdefghijkl.-1.AAAAAAAAAAAAAAAAAAAAAAAA",
        "g2.abcdéfghijkl.99999999999.AAAAAAAAAAAAAAAAAAAAAAA☃",
    ],
)
async def test_a_forged_guest_token_is_refused(
    sqlite_server: LiveServer, token: str, clients: Clients
) -> None:
    async with _http(sqlite_server) as http:
        show = await seed_show(sqlite_server, http, live_state=True)
        v = await clients.connect(sqlite_server.url, show.show_id, guest=token)
        assert await v.closed() == 4003
        assert not v.events


async def test_someone_elses_guest_id_cannot_be_claimed(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    victim = await clients.connect(server.url, show.show_id)
    token: str = (await victim.next("snapshot"))["data"]["me"]["guest_token"]
    _, gid, expires, sig = token.split(".")
    tampered = f"g2.{gid[:-1]}{'A' if gid[-1] != 'A' else 'B'}.{expires}.{sig}"
    thief = await clients.connect(server.url, show.show_id, guest=tampered)
    assert await thief.closed() == 4003
    # Nor can a token's expiry be moved.
    later = await clients.connect(
        server.url, show.show_id, guest=f"g2.{gid}.{int(expires) + 86400}.{sig}"
    )
    assert await later.closed() == 4003


# -- reset: positions the server cannot serve ----------------------------------------


@pytest.fixture(scope="module")
def short_history(server_factory: ServerFactory) -> LiveServer:
    """Keeps the least history the settings allow: 100 events (at most 500) and 10 s."""
    return server_factory(ws_history_events=100, ws_history_seconds=10)


def _http(live: LiveServer) -> Any:
    import httpx

    return httpx.AsyncClient(base_url=live.url, timeout=60)


async def _reset_then_snapshot(viewer: Viewer, reason: str) -> Event:
    await viewer.next("snapshot")
    first = viewer.frames[0]
    assert [e["type"] for e in first] == ["reset", "snapshot"], first
    assert first[0]["data"] == {"reason": reason}
    assert "epoch" not in first[0] and "offset" not in first[0]
    return first[1]


async def test_reset_when_the_position_is_older_than_the_history(
    short_history: LiveServer, clients: Clients
) -> None:
    async with _http(short_history) as http:
        show = await seed_show(short_history, http, live_state=True)
        cookie, _ = await show.staff_login()
        staff = await clients.connect(
            short_history.url, show.show_id, cookie=cookie, origin=short_history.url
        )
        start = await staff.next("snapshot")
        # More than the 5 × 100 events the broker keeps at most, whatever the clock says.
        for batch in range(7):
            await staff.send([{"type": "chat.send", "text": f"b{batch} m{i}"} for i in range(80)])
            await staff.chat_message(f"b{batch} m79")
        newest = latest(staff)

        old = await clients.connect(short_history.url, show.show_id, since=position(start))
        snapshot = await _reset_then_snapshot(old, "too_old")
        assert position(snapshot) == newest
        assert [m["text"] for m in snapshot["data"]["chat"]][-1] == "b6 m79"
        await show.post_chat("after the reset")
        message = await old.chat_message("after the reset")
        assert message["offset"] == snapshot["offset"] + 1

        # A position that is still kept resumes normally on the same server.
        recent_offset = int(newest.split(":")[1]) - 50
        recent = await clients.connect(
            short_history.url, show.show_id, since=f"{start['epoch']}:{recent_offset}"
        )
        await recent.chat_message("after the reset")
        assert not recent.seen("reset") and not recent.seen("snapshot")
        assert [e["offset"] for e in recent.history()] == list(
            range(recent_offset + 1, message["offset"] + 1)
        )


@pytest.mark.parametrize(
    ("since", "reason"),
    [
        ("deadbeef:3", "epoch_changed"),
        ("{epoch}:999999", "bad_position"),
        ("nonsense", "bad_position"),
        ("{epoch}:", "bad_position"),
        (":5", "bad_position"),
        ("{epoch}:-1", "bad_position"),
        ("{epoch}:1.5", "bad_position"),
        ("{epoch}:5:6", "bad_position"),
        ("x" * 40 + ":1", "bad_position"),
    ],
)
async def test_reset_for_an_unknown_epoch_or_a_malformed_since(
    short_history: LiveServer, since: str, reason: str, clients: Clients
) -> None:
    async with _http(short_history) as http:
        show = await seed_show(short_history, http, live_state=True)
        probe = await clients.connect(short_history.url, show.show_id)
        epoch = (await probe.next("snapshot"))["epoch"]
        await show.post_chat("already said")
        v = await clients.connect(short_history.url, show.show_id, since=since.format(epoch=epoch))
        snapshot = await _reset_then_snapshot(v, reason)
        assert snapshot["epoch"] == epoch
        assert [m["text"] for m in snapshot["data"]["chat"]] == ["already said"]
        await show.post_chat("and now")
        assert (await v.chat_message("and now"))["offset"] == snapshot["offset"] + 1


def test_history_events_are_the_ones_with_offsets() -> None:
    """The client's idea of 'history' matches the schema module's kinds."""
    assert is_history({"type": "chat.message"}) and not is_history({"type": "like.count"})
