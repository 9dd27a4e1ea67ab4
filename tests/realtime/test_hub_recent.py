"""A joiner's history from the events the hub took, when it has them all."""

from __future__ import annotations

from collections import deque

from pasar.realtime.broker import Position
from pasar.realtime.hub import Channel, Hub
from pasar.realtime.memory import MemoryBroker


def _hub(recent_events: int = 5) -> Hub:
    broker = MemoryBroker(min_events=10, min_seconds=1, max_events=100)
    return Hub(
        broker,
        tick_seconds=0.1,
        max_buffer_bytes=1 << 20,
        max_connections=10,
        recent_events=recent_events,
    )


def _env(offset: int, epoch: str = "e1") -> bytes:
    return f'{{"type":"chat.message","epoch":"{epoch}","offset":{offset}}}'.encode()


def _watched(hub: Hub, last_seen: int = 0) -> Channel:
    channel = Channel(epoch="e1", last_seen=last_seen, recent=deque(maxlen=hub.recent_events))
    hub.channels["show"] = channel
    return channel


def test_events_after_a_position_come_from_memory() -> None:
    hub = _hub()
    _watched(hub)
    for offset in range(1, 5):
        hub.on_event("show", offset, _env(offset))
    assert hub.recent_since("show", Position("e1", 1)) == [(o, _env(o)) for o in (2, 3, 4)]
    assert hub.recent_since("show", Position("e1", 4)) == []
    assert hub.recent_since("show", Position("e1", 0)) == [(o, _env(o)) for o in (1, 2, 3, 4)]


def test_memory_says_nothing_it_cannot_vouch_for() -> None:
    hub = _hub(recent_events=3)
    _watched(hub)
    assert hub.recent_since("other show", Position("e1", 0)) is None
    for offset in range(1, 6):
        hub.on_event("show", offset, _env(offset))
    # kept: 3, 4, 5. Older than that, another epoch, or ahead of this node: the broker's.
    assert hub.recent_since("show", Position("e1", 2)) == [(o, _env(o)) for o in (3, 4, 5)]
    assert hub.recent_since("show", Position("e1", 1)) is None
    assert hub.recent_since("show", Position("e0", 4)) is None
    assert hub.recent_since("show", Position("e1", 6)) is None


async def test_a_gap_is_never_served_from_memory() -> None:
    hub = _hub(recent_events=10)
    channel = _watched(hub)
    hub.on_event("show", 1, _env(1))
    hub.on_event("show", 2, _env(2))
    hub.on_event("show", 5, _env(5))  # 3 and 4 lost in transit: the hub repairs
    assert channel.repairing
    for task in list(hub._background):  # not this test's subject
        task.cancel()
    assert hub.recent_since("show", Position("e1", 1)) is None
    # the repair filled 3 and 4 (in pending) and moved last_seen on
    channel.repairing, channel.last_seen = False, 5
    assert hub.recent_since("show", Position("e1", 1)) is None  # 3..5 not in memory
    hub.on_event("show", 6, _env(6))
    assert hub.recent_since("show", Position("e1", 5)) == [(6, _env(6))]
    assert hub.recent_since("show", Position("e1", 4)) is None
