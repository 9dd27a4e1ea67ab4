"""Background loops: the pause between passes, after the pass or on the beat."""

from __future__ import annotations

import asyncio

import pytest

from pasar import loops


async def _pauses(
    monkeypatch: pytest.MonkeyPatch, durations: list[float], on_the_beat: bool
) -> list[float]:
    """The pauses a loop takes between passes that last ``durations`` (a fake clock)."""
    now = [1000.0]
    pauses: list[float] = []
    monkeypatch.setattr(asyncio.get_running_loop(), "time", lambda: now[0])

    async def pause(seconds: float, wake: asyncio.Event | None) -> None:
        pauses.append(round(seconds, 6))
        now[0] += seconds
        if len(pauses) == len(durations):
            raise asyncio.CancelledError

    monkeypatch.setattr(loops, "_pause", pause)
    passes = iter(durations)

    def step() -> None:
        now[0] += next(passes)

    with pytest.raises(asyncio.CancelledError):
        await loops._repeat(0.1, step, "test", True, None, on_the_beat)
    return pauses


async def test_a_loop_pauses_its_period_after_each_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    assert await _pauses(monkeypatch, [0.05, 0.02, 0.3], on_the_beat=False) == [0.1, 0.1, 0.1]


async def test_on_the_beat_passes_start_a_period_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    # a pass of 50 ms is followed by 50 ms of pause; one that overran by 200 ms
    # is followed at once, and the beat carries on from there (no catch-up burst)
    pauses = await _pauses(monkeypatch, [0.05, 0.02, 0.3, 0.01], on_the_beat=True)
    assert pauses == [0.05, 0.08, 0.0, 0.09]
