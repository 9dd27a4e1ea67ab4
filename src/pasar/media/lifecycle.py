"""Where the media side meets the show: the replay publishing itself once the
plane has closed a recording, the stream's status on the show's channel, a
replay asked for by hand that has a recording to show, and the recordings'
retention. The show's state changes themselves are
:class:`pasar.shows.lifecycle.ShowLifecycle`'s; the plane reaches both through
the callbacks :mod:`pasar.services` hands it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from pasar.clock import utcnow
from pasar.db.engine import Database
from pasar.loops import Loops
from pasar.media import recording
from pasar.media.errors import MediaError
from pasar.media.packager import hls_key
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
        self._loops = Loops()

    async def start(self) -> None:
        if self.retention_days > 0:
            self._loops.every(
                SWEEP_SECONDS, self._sweep_pass, name="pasar-recording-sweep", first=True
            )

    async def close(self) -> None:
        await self._loops.stop()
        await self.exporter.close()

    async def publish_replay(self, show_id: str) -> None:
        """The show's recording closed: the ended show becomes its replay, and
        the vendor's MP4 download is made."""
        if await self.lifecycle.publish_replay(show_id, self.replay_url(show_id)):
            self.exporter.start(show_id)

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

    async def _sweep_pass(self) -> None:
        swept = await self.sweep()
        if swept:
            log.info("deleted %d expired recordings", len(swept))

    async def status(self, show_id: str, status: str) -> None:
        await self.realtime.publish(show_id, "stream.status", {"status": status})
