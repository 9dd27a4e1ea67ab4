"""Likes, viewer counts and polls."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from pasar.clock import utcnow
from pasar.engagement.models import PollRow
from tests.realtime.client import Clients, Event
from tests.realtime.conftest import LiveServer, ShowCtx, staff_socket, viewer


def votes(event: Event) -> list[int]:
    return [o["votes"] for o in event["data"]["options"]]


async def test_likes_are_aggregated_and_counted_exactly(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    watcher = await viewer(clients, show)
    await watcher.count("like.count", 0)
    fans = [await viewer(clients, show) for _ in range(5)]
    # 4 × 50 single likes (each fan's burst) and one like of 25: five frames.
    await asyncio.gather(*(f.send([{"type": "like"}] * 50) for f in fans[:4]))
    await fans[4].send({"type": "like", "count": 25})
    total = 4 * 50 + 25
    final = await watcher.count("like.count", total)
    counts = [e["data"]["count"] for e in watcher.seen("like.count")]
    assert counts == sorted(counts), "the count only goes up"
    # Aggregated per tick, never an event per like: 225 likes came in 5 frames.
    assert len(counts) < total / 5, counts
    assert final is watcher.seen("like.count")[-1]
    for f in fans:
        assert not f.seen("error"), "within the burst nobody is limited"
        await f.count("like.count", total)
    late = await viewer(clients, show)
    assert late.events[0]["data"]["likes"] == total


async def test_viewer_counts_follow_joins_and_leaves(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    watcher = await viewer(clients, show)
    await watcher.count("viewers.count", 1)
    others = [await viewer(clients, show) for _ in range(4)]
    await watcher.count("viewers.count", 5)
    await others[0].aclose()  # a clean close
    others[1].drop()  # a lost connection
    await watcher.count("viewers.count", 3)
    late = await viewer(clients, show)
    assert late.events[0]["data"]["viewers"] == 4
    await watcher.count("viewers.count", 4)
    await late.count("viewers.count", 4)


async def test_polls_vote_once_results_live_and_final(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    staff = await staff_socket(clients, show)
    voters = [await viewer(clients, show) for _ in range(3)]
    poll = await show.api(
        "POST",
        show.show_api("/polls"),
        status=201,
        json={"question": "Which colour next?", "options": ["Blue", "Red", "Green"]},
    )
    assert poll["closed"] is False and votes({"data": poll}) == [0, 0, 0]
    for v in [*voters, staff]:
        started = await v.next("poll.started")
        assert started["data"] == poll
    late = await viewer(clients, show)
    assert late.events[0]["data"]["poll"] == poll
    await show.api(
        "POST",
        show.show_api("/polls"),
        status=409,
        json={"question": "Another?", "options": ["Yes", "No"]},
    )

    await voters[0].ok({"type": "poll.vote", "poll_id": poll["id"], "option": 0})
    await voters[1].ok({"type": "poll.vote", "poll_id": poll["id"], "option": 1})
    await voters[2].ok({"type": "poll.vote", "poll_id": poll["id"], "option": 1})
    twice = await voters[0].command({"type": "poll.vote", "poll_id": poll["id"], "option": 2})
    assert twice["type"] == "error" and twice["data"]["code"] == "already_voted"
    bad_option = await late.command({"type": "poll.vote", "poll_id": poll["id"], "option": 3})
    assert bad_option["data"]["code"] == "invalid_option"
    no_poll = await late.command({"type": "poll.vote", "poll_id": "poll_nope", "option": 0})
    assert no_poll["data"]["code"] == "not_found"

    for v in [*voters, late]:
        live = await v.wait_for("poll.results", lambda e: votes(e) == [1, 2, 0])
        assert live["data"]["id"] == poll["id"] and live["data"]["closed"] is False
    assert (await viewer(clients, show)).events[0]["data"]["poll"]["options"][1]["votes"] == 2

    closed = await show.api("POST", show.show_api(f"/polls/{poll['id']}/close"))
    assert closed["closed"] is True and votes({"data": closed}) == [1, 2, 0]
    for v in [*voters, staff, late]:
        final = await v.next("poll.closed")
        assert final["data"] == closed
    after = await late.command({"type": "poll.vote", "poll_id": poll["id"], "option": 0})
    assert after["data"]["code"] == "poll_closed"
    # Closing again changes nothing and publishes nothing.
    assert await show.api("POST", show.show_api(f"/polls/{poll['id']}/close")) == closed
    assert (await viewer(clients, show)).events[0]["data"]["poll"] is None
    kept = await show.api("GET", show.show_api("/polls"))
    assert kept == [closed]
    await show.post_chat("next question")
    await late.chat_message("next question")
    assert len(late.seen("poll.closed")) == 1


async def test_a_poll_closes_by_itself_when_its_time_is_up(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    watcher = await viewer(clients, show)
    voter = await viewer(clients, show)
    before = datetime.now(UTC)
    poll = await show.api(
        "POST",
        show.show_api("/polls"),
        status=201,
        json={"question": "Quick one?", "options": ["Yes", "No"], "duration_seconds": 10},
    )
    closes_at = datetime.fromisoformat(poll["closes_at"])
    assert before + timedelta(seconds=10) <= closes_at <= utcnow() + timedelta(seconds=10)
    await voter.ok({"type": "poll.vote", "poll_id": poll["id"], "option": 1})
    assert not watcher.seen("poll.closed")

    # Its time is up: its end is moved to now rather than waiting out the 10 s
    # minimum; the server's poll ticker must notice and close it by itself.
    async def time_is_up() -> None:
        async with server.app.state.services.db.session() as db:
            await db.execute(
                update(PollRow).where(PollRow.id == poll["id"]).values(closes_at=utcnow())
            )
            await db.commit()

    await server.call(time_is_up)
    final = await watcher.wait_for("poll.closed", within=90)
    assert final["data"]["id"] == poll["id"] and final["data"]["closed"] is True
    assert votes(final) == [0, 1]
    assert (await show.api("GET", show.show_api("/polls")))[0] == final["data"]
