"""A show's recording after the fact: its index (media time ↔ wall clock,
for placing pins and chat on the replay's timeline), the MP4 download for
the vendor, and retention.

The recording itself is what the packager wrote: init segments, segments and
``recording.json``. The MP4 is a remux of those (no re-encoding), made once
when the show ends or on the first download after a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import av

from pasar.media.packager import hls_key
from pasar.media.playlist import init_uri
from pasar.storage import Storage

log = logging.getLogger(__name__)

MP4 = "recording.mp4"


@dataclass(frozen=True)
class TimelineEntry:
    uri: str
    media_time: float  # seconds from the start of the replay
    duration: float
    wall_clock: datetime  # when the first frame of this segment was captured


@dataclass(frozen=True)
class Recording:
    show_id: str
    duration: float
    timeline: list[TimelineEntry]

    def media_time_at(self, moment: datetime) -> float | None:
        """Where a wall-clock moment of the live show falls in the replay
        (None when it fell in a dropout or outside the show)."""
        for entry in self.timeline:
            offset = (moment - entry.wall_clock).total_seconds()
            if 0 <= offset < entry.duration:
                return entry.media_time + offset
        return None


async def load(storage: Storage, show_id: str) -> Recording | None:
    raw = await storage.get(hls_key(show_id, "recording.json"))
    if raw is None:
        return None
    rows = json.loads(raw)["segments"]
    timeline = [
        TimelineEntry(
            r["uri"], r["media_time"], r["duration"], datetime.fromisoformat(r["wall_clock"])
        )
        for r in rows
    ]
    duration = timeline[-1].media_time + timeline[-1].duration if timeline else 0.0
    return Recording(show_id, duration, timeline)


class Exporter:
    """Makes each show's MP4 at most once at a time, off the event loop."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._running: dict[str, asyncio.Task[None]] = {}

    def processing(self, show_id: str) -> bool:
        return show_id in self._running

    def start(self, show_id: str) -> None:
        if show_id in self._running:
            return
        task = asyncio.create_task(self._export(show_id))
        self._running[show_id] = task
        task.add_done_callback(lambda _: self._running.pop(show_id, None))

    async def _export(self, show_id: str) -> None:
        raw = await self.storage.get(hls_key(show_id, "recording.json"))
        if raw is None:
            return
        by_run: dict[int, list[str]] = {}
        for row in json.loads(raw)["segments"]:
            by_run.setdefault(row["run"], []).append(row["uri"])
        with tempfile.TemporaryDirectory(prefix="pasar-mp4-") as tmp:
            pieces: list[Path] = []
            # one fragmented-MP4 file per run (init + its segments), streamed to disk
            for run, uris in by_run.items():
                path = Path(tmp) / f"run{run}.mp4"
                init = await self.storage.get(hls_key(show_id, init_uri(run)))
                if init is None:
                    continue
                with path.open("wb") as out:
                    out.write(init)
                    for uri in uris:
                        out.write(await self.storage.get(hls_key(show_id, uri)) or b"")
                pieces.append(path)
            target = Path(tmp) / MP4
            try:
                await asyncio.to_thread(_remux, pieces, target)
            except (av.FFmpegError, ValueError, IndexError):
                log.exception("show %s: the MP4 export failed", show_id)
                return
            await self.storage.put_file(hls_key(show_id, MP4), target)

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()


def _remux(pieces: list[Path], target: Path) -> None:
    """Concatenate the runs into one MP4 (moov first, so it plays while it
    downloads), shifting each run to start where the last one ended."""
    with av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        streams: dict[str, Any] = {}
        offset = 0.0
        for piece in pieces:
            with av.open(str(piece)) as src:
                end = offset
                for stream in src.streams:
                    if stream.type not in streams and stream.type in ("video", "audio"):
                        streams[stream.type] = out.add_stream_from_template(stream)
                for packet in src.demux():
                    stream = packet.stream
                    if packet.dts is None or stream.type not in streams:
                        continue
                    base = stream.time_base
                    if base is None:
                        continue
                    shift = round(offset / base)
                    target_stream = streams[stream.type]
                    packet.pts = (packet.pts or packet.dts) + shift
                    packet.dts = packet.dts + shift
                    end = max(end, float((packet.dts + (packet.duration or 0)) * base))
                    packet.stream = target_stream
                    out.mux(packet)
                offset = end
