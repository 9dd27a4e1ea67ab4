"""Where the media plane meets the show: the end of a show's stream (explicit
or after a dropout's grace) and the replay publishing itself once the recording
is closed, the recording's retention, and the stream's status on the show's
channel. The show's state changes themselves are
:class:`pasar.shows.lifecycle.ShowLifecycle`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
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
from pasar.shows.lifecycle import ShowLifecycle
from pasar.shows.models import Show
from pasar.shows.states import ShowState
from pasar.storage import Storage

log = logging.getLogger(__name__)


SWEEP_SECONDS = 3600


class ShowLink:
    def __init__(
        self,
        db: Database,
        realtime: Realtime,
        storage: Storage,
        lifecycle: ShowLifecycle,
        replay_url: Callable[[str], str],
        retention_days: int = 0,
    ) -> None:
        self.db = db
        self.realtime = realtime
        self.storage = storage
        self.lifecycle = lifecycle
        self.replay_url = replay_url
        self.exporter = Exporter(storage)
        self.retention_days = retention_days
        self.plane: MediaPlane | None = None
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

    async def end(self, show_id: str) -> None:
        """End a live show (WHIP DELETE, the grace ran out) and publish its replay."""
        await self.lifecycle.end(show_id)
        await self.end_media(show_id)

    async def end_media(self, show_id: str) -> None:
        """The show is over (however it ended): its publisher stops and its
        recording closes; when there is one, the replay publishes itself."""
        assert self.plane is not None
        if not await self.plane.end_show(show_id):
            return
        if await self.lifecycle.publish_replay(show_id, self.replay_url(show_id)):
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
