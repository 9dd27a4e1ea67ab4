"""A stopping node stops even when one of its parts hangs (Services.close)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import structlog

from pasar import services as services_module
from pasar.app import create_app
from tests.conftest import make_settings


async def test_a_part_that_hangs_is_left_behind_and_named(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(sqlite_template, tmp_path / "p.db")
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path}/p.db", tmp_path / "data"))
    services = app.state.services
    stuck = asyncio.Event()  # never set

    async def hangs() -> None:
        await stuck.wait()

    closed: list[str] = []
    real_realtime_close = services.realtime.close

    async def realtime_close() -> None:
        closed.append("realtime")
        await real_realtime_close()

    monkeypatch.setattr(services_module, "CLOSE_STEP_SECONDS", 0.2)
    monkeypatch.setattr(services.commerce, "close", hangs)
    monkeypatch.setattr(services.realtime, "close", realtime_close)
    waiters: list[asyncio.Task[bool]] = []

    async def run_and_stop() -> None:
        async with app.router.lifespan_context(app):
            waiters.append(asyncio.create_task(stuck.wait(), name="the-stuck-one"))

    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(run_and_stop(), timeout=30)  # returns: nothing hangs
    waiters[0].cancel()
    # The parts after the stuck one were still closed, and the log names it.
    assert closed == ["realtime"]
    (entry,) = [e for e in logs if e["event"] == "shutdown step did not finish; left behind"]
    assert entry["step"] == "commerce"
    assert any(t.startswith("the-stuck-one: ") for t in entry["tasks"]), entry["tasks"]
    # the stuck step's own stack says where it waits
    assert any(t.startswith("closing commerce: ") and "hangs" in t for t in entry["tasks"]), entry[
        "tasks"
    ]
    assert [step for step, _ in app.state.services.left_behind] == ["commerce"]
