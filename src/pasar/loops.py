"""Background loops: start, stop, sleep, log and survive errors, written once.

Every long-lived part of a node (the hub's tick, commerce's ticker, the webhook
dispatcher, poll tending, the recording sweep) repeats one step for as long as
the node runs. ``Loops`` owns those tasks for one object: ``every()`` starts a
loop, ``stop()`` cancels them all and waits. A step that raises is logged and
the loop goes on: one bad pass must never stop a node's deliveries for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger()

Step = Callable[[], Awaitable[None] | None]


class Loops:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def every(
        self,
        seconds: float,
        step: Step,
        *,
        name: str,
        first: bool = False,
        wake: asyncio.Event | None = None,
        on_the_beat: bool = False,
    ) -> None:
        """Run ``step`` every ``seconds`` (after the first sleep, or at once with
        ``first=True``). With ``wake``, setting the event runs the next pass
        before the time is up (the event is cleared before each pass).

        Passes start ``seconds`` after the previous one *ended*; ``on_the_beat``:
        ``seconds`` after it *started* (a pass that overran is followed at once,
        without a burst to catch up), for the hub's tick, whose pass takes half of
        its period at 10,000 viewers."""
        self._tasks.append(
            asyncio.create_task(_repeat(seconds, step, name, first, wake, on_the_beat), name=name)
        )

    async def stop(self, grace: float | None = None) -> None:
        """Cancel every loop and wait for them to unwind (at most ``grace`` seconds:
        a step cancelled inside a database call may take its time, and a caller
        with work that is safe to drop need not wait for it)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        if grace is None:
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        else:
            await asyncio.wait(tasks, timeout=grace)


async def _repeat(
    seconds: float,
    step: Step,
    name: str,
    first: bool,
    wake: asyncio.Event | None,
    on_the_beat: bool = False,
) -> None:
    clock = asyncio.get_running_loop().time
    if not first:
        await _pause(seconds, wake)
    due = clock()
    while True:
        if wake is not None:
            wake.clear()
        try:
            result = step()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("background step failed", loop=name)
        if on_the_beat:
            due, now = due + seconds, clock()
            due = max(due, now)  # behind: carry on from now, no catch-up burst
            await _pause(due - now, wake)
        else:
            await _pause(seconds, wake)


async def _pause(seconds: float, wake: asyncio.Event | None) -> None:
    if wake is None:
        await asyncio.sleep(seconds)
        return
    # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel
    # that lands just as the event is set, and the loop ran on after stop().
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()
