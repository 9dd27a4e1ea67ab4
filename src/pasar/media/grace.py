"""A dropped publisher's grace period, per show: the show stays live and
"reconnecting" while it runs; a return cancels it; when it runs out, the show
ends. Shared by the built-in WHIP plane and the external media-server hooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class GraceTimers:
    def __init__(self, seconds: float, on_expired: Callable[[str], Awaitable[None]]) -> None:
        self.seconds = seconds
        self._on_expired = on_expired
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def __contains__(self, show_id: object) -> bool:
        return show_id in self._tasks

    def start(self, show_id: str) -> None:
        if show_id not in self._tasks:
            self._tasks[show_id] = asyncio.create_task(self._run(show_id))

    def cancel(self, show_id: str) -> bool:
        """Stop the show's grace (the publisher is back, or the show ended)."""
        task = self._tasks.pop(show_id, None)
        if task is None:
            return False
        task.cancel()
        return True

    async def _run(self, show_id: str) -> None:
        await asyncio.sleep(self.seconds)
        self._tasks.pop(show_id, None)
        log.info("show %s: the publisher did not come back; ending the show", show_id)
        try:
            await self._on_expired(show_id)
        except Exception:
            log.exception("show %s: could not end the show after its grace", show_id)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
