"""An idle viewer costs the server no task and no coroutine: after the join the
socket is detached into callbacks (``PasarWebSocketProtocol.detach``), and it
still answers commands, ends cleanly and gives its slots back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.realtime.client import TIMEOUT, Clients
from tests.realtime.conftest import LiveServer, ShowCtx


async def _until(check: Callable[[], bool], what: str) -> None:
    """Poll state owned by the server's thread (no event to wait on from here)."""
    for _ in range(int(TIMEOUT / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {TIMEOUT} s: {what}")


async def test_idle_viewers_hold_no_task_and_leave_cleanly(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    services = server.app.state.services
    hub, ip_sockets = services.realtime.hub, services.realtime.ip_sockets
    connections = hub.connections
    viewers = [await clients.connect(server.url, show.show_id) for _ in range(8)]
    for viewer in viewers:
        await viewer.next("snapshot")
        await viewer.ping()  # answered by the detached socket's callbacks
    # uvicorn keeps one task per ASGI call; a detached socket's call has returned.
    await _until(lambda: not server.server.server_state.tasks, "no ASGI tasks left")
    assert hub.connections == connections + 8

    await viewers[0].say("still here")  # a command after detaching: stored and published
    await viewers[1].wait_for("chat.message", lambda e: e["data"]["text"] == "still here")

    for viewer in viewers:
        await viewer.aclose()
    await _until(lambda: hub.connections == connections, "every viewer left the hub")
    await _until(lambda: not ip_sockets._open, "every address's slot was given back")


async def test_joiners_share_one_snapshot_and_get_what_happened_since(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    """A crowd joining at once reads the database once per show and second; a
    joiner whose shared part is older gets the events since, in order (the
    client fails on any gap or repeat of offsets)."""
    snapshots = server.app.show_sockets.snapshots
    shared_for, snapshots.shared_for = snapshots.shared_for, 3600.0
    try:
        first = await clients.connect(server.url, show.show_id)
        await first.next("snapshot")
        builds, show_reads = snapshots.builds, snapshots.show_reads
        for n in range(3):
            await show.post_chat(f"since the snapshot {n}")
        late = await clients.connect(server.url, show.show_id)
        snapshot = await late.next("snapshot")
        assert snapshots.builds == builds, "the second joiner reused the first one's"
        assert snapshots.show_reads == show_reads, "and the show's vendor, origins and secret"
        assert not [m for m in snapshot["data"]["chat"] if m["text"].startswith("since")]
        assert await late.messages(3) == [f"since the snapshot {n}" for n in range(3)]
        assert snapshot["data"]["me"]["id"] != first.seen("snapshot")[0]["data"]["me"]["id"]
    finally:
        snapshots.shared_for = shared_for
