"""Where the media plane meets the show's state: a publisher taking a
scheduled show live, the end of a show (explicit or after a dropout's grace),
and the replay publishing itself once the recording is closed.

Each state change is committed first and announced on the show's channel
after, as every domain does (``realtime.publish`` after commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select

from pasar.clock import utcnow
from pasar.db.engine import Database
from pasar.media import recording
from pasar.media.errors import MediaError
from pasar.media.packager import hls_key
from pasar.media.plane import MediaPlane
from pasar.media.recording import Exporter
from pasar.realtime.engine import Realtime
from pasar.shows import events as show_events
from pasar.shows import service as shows
from pasar.shows.models import Show
from pasar.shows.states import ShowState
from pasar.storage import Storage
from pasar.webhooks.dispatcher import Dispatcher

log = logging.getLogger(__name__)


SWEEP_SECONDS = 3600


class ShowLink:
    def __init__(
        self, db: Database, realtime: Realtime, storage: Storage, retention_days: int = 0
    ) -> None:
        self.db = db
        self.realtime = realtime
        self.storage = storage
        self.exporter = Exporter(storage)
        self.retention_days = retention_days
        self.plane: MediaPlane | None = None
        self.webhooks: Dispatcher | None = None
        self.playback_url: Callable[[str], str] | None = None
        # Run once a show's end is committed, whichever way it ended (the studio,
        # the API, WHIP DELETE, a dropout's grace, an external media server):
        # domains above this one (commerce) hang their consequences here.
        self.on_ended: list[Callable[[str], Awaitable[None]]] = []
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.retention_days > 0:
            self._sweeper = asyncio.create_task(self._sweep_forever())

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.exporter.close()

    async def go_live(self, show_id: str) -> None:
        """A publisher connected: a scheduled show goes live."""
        async with self.db.session() as session:
            show = await session.get(Show, show_id)
            if show is None or show.state != ShowState.SCHEDULED:
                return
            await shows.transition(session, show, ShowState.LIVE)
            await show_events.emit(session, show)
            await session.commit()
        self._nudge()
        await self.realtime.publish(show_id, "show.state", {"state": "live"})

    async def end(self, show_id: str) -> None:
        """End a live show (WHIP DELETE, the grace ran out) and publish its replay."""
        async with self.db.session() as session:
            show = await session.get(Show, show_id)
            if show is not None and show.state == ShowState.LIVE:
                await shows.transition(session, show, ShowState.ENDED)
                await show_events.emit(session, show)
                await session.commit()
                self._nudge()
                await self.realtime.publish(show_id, "show.state", {"state": "ended"})
        await self.ended(show_id)

    async def ended(self, show_id: str) -> None:
        """The show is over (however it ended): what hangs off its end runs
        (its deals close, its pins leave the screen), then the recording closes;
        when there is one, the replay publishes itself."""
        assert self.plane is not None
        for hook in self.on_ended:
            try:
                await hook(show_id)
            except Exception:  # the commerce loop finishes the job; the media must still end
                log.exception("a show-ended hook failed", extra={"show_id": show_id})
        if not await self.plane.end_show(show_id):
            return
        async with self.db.session() as session:
            show = await session.get(Show, show_id)
            if show is None or show.state != ShowState.ENDED:
                return
            await shows.transition(session, show, ShowState.REPLAY)
            url = self.playback_url(show_id) if self.playback_url else None
            await show_events.emit(session, show, url)
            await session.commit()
        self._nudge()
        await self.realtime.publish(show_id, "show.state", {"state": "replay"})
        self.exporter.start(show_id)  # the vendor's MP4 download

    async def require_recording(self, show_id: str) -> None:
        """Refuse to publish a replay of nothing: the built-in plane publishes
        the replay itself once a recording closes, so a vendor asking for one
        by hand has a show that never sent video (or whose recording is gone)."""
        found = await recording.load(self.storage, show_id)
        if found is None or not found.timeline:
            raise MediaError(
                "conflict",
                "no_recording",
                "the show has no recorded video to publish as a replay (it never sent any, "
                "or the recording was deleted)",
            )

    def _nudge(self) -> None:
        if self.webhooks is not None:
            self.webhooks.nudge()

    async def forget(self, show_id: str) -> None:
        """The show was deleted: its recording goes too."""
        await self.storage.delete_prefix(hls_key(show_id, ""))

    async def sweep(self) -> list[str]:
        """Delete recordings of shows that ended more than the retention ago;
        returns the show ids swept."""
        cutoff = utcnow() - timedelta(days=self.retention_days)
        async with self.db.session() as session:
            ids = (
                await session.execute(
                    select(Show.id).where(
                        Show.ended_at.is_not(None),
                        Show.ended_at < cutoff,
                        Show.state.in_([ShowState.ENDED.value, ShowState.REPLAY.value]),
                    )
                )
            ).scalars()
            expired = list(ids)
        swept = []
        for show_id in expired:
            if await self.storage.exists(hls_key(show_id, "recording.json")):
                await self.forget(show_id)
                swept.append(show_id)
        return swept

    async def _sweep_forever(self) -> None:
        while True:
            try:
                swept = await self.sweep()
                if swept:
                    log.info("deleted %d expired recordings", len(swept))
            except Exception:
                log.exception("the recording retention sweep failed")
            await asyncio.sleep(SWEEP_SECONDS)

    async def status(self, show_id: str, status: str) -> None:
        await self.realtime.publish(show_id, "stream.status", {"status": status})
