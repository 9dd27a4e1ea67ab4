"""What viewers hear of the host's stream: live, reconnecting, back, ended."""

from __future__ import annotations

import pytest

from pasar.media import synthetic
from tests.realtime.client import Clients, Event
from tests.realtime.conftest import LiveServer, MakeShow, viewer

pytestmark = pytest.mark.timeout(120)


def status(value: str) -> object:
    return lambda e: e["data"]["status"] == value


def state(value: str) -> object:
    return lambda e: e["data"]["state"] == value


async def test_viewers_follow_the_stream_through_a_dropout_to_the_replay(
    server: LiveServer, make_show: MakeShow, clients: Clients
) -> None:
    show = await make_show(live=False)
    watcher = await viewer(clients, show)
    key = (await show.api("GET", show.show_api("/ingest")))["stream_key"]
    whip = f"{server.url}/whip"

    first = await synthetic.publish(show.http, whip, key)
    await watcher.next("show.state", state("live"), within=30)  # the first picture arrived
    await watcher.next("stream.status", status("live"))
    await first.stop(end_show=False)  # the host's network drops
    await watcher.next("stream.status", status("reconnecting"), within=30)

    second = await synthetic.publish(show.http, whip, key)
    await watcher.next("stream.status", status("live"), within=30)
    await second.stop()  # WHIP DELETE: the host ends the show
    await watcher.next("show.state", state("ended"), within=30)
    await watcher.next("stream.status", status("ended"))
    await watcher.next("show.state", state("replay"), within=30)
    kinds: list[Event] = [e for e in watcher.events if e["type"] in ("show.state", "stream.status")]
    assert [(e["type"], e["data"].get("state") or e["data"]["status"]) for e in kinds] == [
        ("show.state", "live"),
        ("stream.status", "live"),
        ("stream.status", "reconnecting"),
        ("stream.status", "live"),
        ("show.state", "ended"),
        ("stream.status", "ended"),
        ("show.state", "replay"),
    ]
