"""Where the media plane meets the show's state: a publisher taking a
scheduled show live, the end of a show (explicit or after a dropout's grace),
and the replay publishing itself once the recording is closed.

Each state change is committed first and announced on the show's channel
after, as every domain does (``realtime.publish`` after commit).
"""

from __future__ import annotations

import logging

from pasar.db.engine import Database
from pasar.media.plane import MediaPlane
from pasar.realtime.engine import Realtime
from pasar.shows import service as shows
from pasar.shows.models import Show
from pasar.shows.states import ShowState

log = logging.getLogger(__name__)


class ShowLink:
    def __init__(self, db: Database, realtime: Realtime) -> None:
        self.db = db
        self.realtime = realtime
        self.plane: MediaPlane | None = None

    async def go_live(self, show_id: str) -> None:
        """A publisher connected: a scheduled show goes live."""
        async with self.db.session() as session:
            show = await session.get(Show, show_id)
            if show is None or show.state != ShowState.SCHEDULED:
                return
            await shows.transition(session, show, ShowState.LIVE)
            await session.commit()
        await self.realtime.publish(show_id, "show.state", {"state": "live"})

    async def end(self, show_id: str) -> None:
        """End a live show (WHIP DELETE, the grace ran out) and publish its replay."""
        async with self.db.session() as session:
            show = await session.get(Show, show_id)
            if show is not None and show.state == ShowState.LIVE:
                await shows.transition(session, show, ShowState.ENDED)
                await session.commit()
                await self.realtime.publish(show_id, "show.state", {"state": "ended"})
        await self.ended(show_id)

    async def ended(self, show_id: str) -> None:
        """The show is over (however it ended): close the recording; when
        there is one, the replay publishes itself."""
        assert self.plane is not None
        if not await self.plane.end_show(show_id):
            return
        async with self.db.session() as session:
            show = await session.get(Show, show_id)
            if show is None or show.state != ShowState.ENDED:
                return
            await shows.transition(session, show, ShowState.REPLAY)
            await session.commit()
        await self.realtime.publish(show_id, "show.state", {"state": "replay"})

    async def status(self, show_id: str, status: str) -> None:
        await self.realtime.publish(show_id, "stream.status", {"status": status})
