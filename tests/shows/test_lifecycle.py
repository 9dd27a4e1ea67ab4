"""ShowLifecycle, the one owner of a show's state change and what follows it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pasar.shows.lifecycle import ShowLifecycle
from pasar.shows.models import Show
from tests.conftest import VendorCtx
from tests.shows.test_shows import make_show


async def test_each_change_is_committed_before_it_is_announced_and_an_end_runs_its_hooks(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx, caplog: pytest.LogCaptureFixture
) -> None:
    db = app.state.services.db
    show_id = (await make_show(client, vendor))["id"]
    announced: list[tuple[str, Any, str]] = []  # (event, data, the committed state then)
    nudges: list[str] = []
    ended: list[str] = []

    async def publish(channel: str, type_: str, data: dict[str, Any]) -> None:
        assert channel == show_id
        async with db.session() as session:  # another session sees only what is committed
            committed = await session.get(Show, show_id)
            assert committed is not None
            announced.append((type_, data, committed.state))

    async def failing(show_id: str) -> None:
        raise RuntimeError("a broken hook")

    async def remember(show_id: str) -> None:
        ended.append(show_id)

    lifecycle = ShowLifecycle(
        db, publish, lambda: nudges.append("nudge"), on_ended=[failing, remember]
    )

    await lifecycle.go_live(show_id)
    await lifecycle.go_live(show_id)  # already live: nothing happens
    assert announced == [("show.state", {"state": "live"}, "live")]
    assert (len(nudges), ended) == (1, [])

    await lifecycle.end(show_id)
    assert announced[-1] == ("show.state", {"state": "ended"}, "ended")
    assert (len(nudges), ended) == (2, [show_id])  # the failing hook stopped nothing
    assert "a show-ended hook failed" in caplog.text

    await lifecycle.end(show_id)  # ended already: no change, the hooks run again
    assert (len(announced), len(nudges), ended) == (2, 2, [show_id, show_id])

    assert await lifecycle.publish_replay(show_id, "https://cdn.example/replay.m3u8")
    assert announced[-1] == ("show.state", {"state": "replay"}, "replay")
    assert not await lifecycle.publish_replay(show_id, "https://cdn.example/replay.m3u8")
    assert len(nudges) == 3
