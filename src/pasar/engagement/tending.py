"""Polls that run on their own: closed when their time is up, results kept live.

Each node tends the polls of the shows its viewers watch; closing is a
conditional update, so when several nodes try, one closes and publishes.
"""

from __future__ import annotations

import structlog

from pasar.db.engine import Database
from pasar.engagement import polls
from pasar.loops import Loops
from pasar.realtime.engine import Realtime

log = structlog.get_logger()

TEND_EVERY_SECONDS = 1.0


class PollTender:
    def __init__(self, db: Database, realtime: Realtime) -> None:
        self.db = db
        self.realtime = realtime
        self._loops = Loops()
        # The counts last sent per open poll: results go out only when they change.
        self._results: dict[str, list[int]] = {}

    async def start(self) -> None:
        self._loops.every(TEND_EVERY_SECONDS, self.tend, name="pasar-polls")

    async def close(self) -> None:
        await self._loops.stop()

    async def tend(self) -> None:
        """Close the polls that ran out and publish them; refresh open polls' results."""
        hub = self.realtime.hub
        shows = list(hub.channels)
        if not shows:
            return
        async with self.db.session() as db:
            closed = []
            for poll in await polls.expired_polls(db, shows):
                if await polls.close_poll(db, poll, "system"):
                    closed.append((poll, await polls.poll_counts(db, poll)))
            await db.commit()
            for poll, counts in closed:
                await self.realtime.publish(
                    poll.show_id, "poll.closed", polls.poll_data(poll, counts)
                )
            for poll in await polls.open_polls(db, shows):
                counts = await polls.poll_counts(db, poll)
                if self._results.get(poll.id) != counts:
                    self._results[poll.id] = counts
                    hub.state_event(poll.show_id, "poll.results", polls.poll_data(poll, counts))
