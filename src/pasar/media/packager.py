"""A show's live packager: encoded frames in, LL-HLS parts, segments,
playlists and the recording out.

Frames arrive on the event loop (from the WebRTC tap); muxing and the Opus →
AAC transcode run on one worker thread per show so the loop never waits on
FFmpeg. Fragments come back to the loop, which owns all playlist state (no
locks): it groups parts into keyframe-aligned segments, writes finished
segments to storage, and wakes players blocked on the next part.

Timeline: every frame is placed by the wall clock at which its stream
started plus its RTP time, so audio and video line up, a reconnect continues
the same recording after a gap, and each segment knows the wall-clock moment
of its first frame (``EXT-X-PROGRAM-DATE-TIME``; the recording's mapping
between wall-clock and media time).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import av

from pasar.media.align import Aligner
from pasar.media.fmp4 import FragmentTiming
from pasar.media.muxer import AUDIO_RATE, FragmentMuxer, is_keyframe, sps
from pasar.media.playlist import (
    LiveOptions,
    Part,
    RenditionReport,
    Segment,
    init_uri,
    render_live,
    render_vod,
)
from pasar.storage import Storage

log = logging.getLogger(__name__)

Writer = Callable[[str, bytes], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class PackagerOptions:
    segment_seconds: float = 2.0  # keyframes are asked for at this interval
    part_seconds: float = 0.2  # announced PART-TARGET (Settings.hls_part_seconds)
    window: int = 6  # segments in the live playlist
    poster_seconds: float = 10.0


@dataclass
class VideoInfo:
    width: int
    height: int
    codec: str = "avc1.42e01f"  # RFC 6381, from the SPS: profile, constraints, level


def avc1_codec(sps: bytes) -> str:
    """The ``CODECS`` string of an H.264 stream from its SPS (header byte first)."""
    if len(sps) < 4:
        return "avc1.42e01f"
    return f"avc1.{sps[1]:02x}{sps[2]:02x}{sps[3]:02x}"


def hls_key(show_id: str, name: str) -> str:
    return f"hls/{show_id}/{name}"


class StorageWriter:
    """Writes a packager's files to storage in order, on one task, so a
    playlist never reaches storage before the part it lists. A name queued
    again before its turn (playlists, several times a second) is written once,
    with the latest bytes, after everything queued before it."""

    def __init__(self, storage: Storage, show_id: str, rendition: str = "") -> None:
        self._storage = storage
        self._show_id = show_id
        self._dir = f"{rendition}/" if rendition else ""
        self._pending: dict[str, bytes | None] = {}  # None: delete
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def put(self, name: str, data: bytes | None) -> None:
        self._pending.pop(name, None)
        self._pending[name] = data
        self._idle.clear()
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                name = next(iter(self._pending))
                data = self._pending.pop(name)
                key = hls_key(self._show_id, self._dir + name)
                try:
                    if data is None:
                        await self._storage.delete(key)
                    else:
                        await self._storage.put(key, data)
                except Exception:
                    log.exception("show %s: could not write %s", self._show_id, name)
            self._idle.set()

    async def close(self) -> None:
        """Return once everything queued is written."""
        await self._idle.wait()
        self._task.cancel()


class ShowPackager:
    def __init__(
        self,
        show_id: str,
        storage: Storage,
        options: PackagerOptions | None = None,
        *,
        rendition: str = "",
        on_poster: Callable[[bytes], None] | None = None,
        audio_only: bool = False,
        shared_audio: bool = False,
    ) -> None:
        self.show_id = show_id
        self.rendition = rendition  # "" for the source; "360p" etc. for a ladder rung
        # the audio-only rendition: sound only, cut into segments where the source's
        # segments start, with their numbers (follow())
        self.audio_only = audio_only
        self._aligner: Aligner | None = None
        self._followers: list[ShowPackager] = []  # audio-only renditions following this one
        # every rendition of the show, this one included (one list, shared): each live
        # playlist reports where the others are (EXT-X-RENDITION-REPORT)
        self.group: list[ShowPackager] = [self]
        self.has_media = False  # a run has started: there is something to play
        # the sound: Opus from the publisher, encoded to AAC here (the source), or
        # that AAC, handed over frame by frame (``shared_audio``: a ladder rendition)
        self.shared_audio = shared_audio
        # who gets this packager's AAC frames (the ladder); called on the worker thread
        self.on_aac: Callable[[bytes, float], None] | None = None
        self.options = options or PackagerOptions()
        self._storage = storage
        self._on_poster = on_poster
        self._loop = asyncio.get_running_loop()
        self.segments: list[Segment] = []
        # Rendered once per change, not per request (players reload several
        # times a second each).
        self._rendered: dict[bool, str] = {}
        # recording.json grows by one row per segment; keep each row's JSON so a
        # long show does not rebuild the whole index on the loop every 2 s.
        self._index_rows: list[str] = []
        self._index_media_time = 0.0
        self.video: VideoInfo | None = None
        self.runs = 0
        self._changed = asyncio.Event()
        self._legacy_written = b""
        self._writer = StorageWriter(storage, show_id, rendition)
        self._inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._worker = threading.Thread(
            target=_Worker(self).run, name=f"packager-{show_id}", daemon=True
        )
        self._worker.start()
        self.finished = False
        self.last_frame_at = 0.0

    def follow(self, source: ShowPackager) -> None:
        """Audio-only: take segment boundaries and numbers from ``source``'s
        segments (pasar.media.align), so that segments with the same MSN hold the
        same stretch of the show in both renditions."""
        assert self.audio_only
        # sound waits at most a segment's worth for the source to catch up
        self._aligner = Aligner(patience=self.options.segment_seconds)
        source._followers.append(self)

    async def resume(self) -> None:
        """Continue a recording this show already has (a node restarted, or the
        publisher came back to another node): numbering goes on after it."""
        prefix = f"{self.rendition}/" if self.rendition else ""
        raw = await self._storage.get(hls_key(self.show_id, prefix + "recording.json"))
        if not raw:
            return
        for row in json.loads(raw)["segments"]:
            seg = Segment(
                msn=row["msn"],
                run=row["run"],
                started_at=datetime.fromisoformat(row["wall_clock"]),
                parts=[Part(0, row["duration"], True, b"")],
                complete=True,
            )
            seg.gap_before = bool(self.segments) and self.segments[-1].run != seg.run
            self.segments.append(seg)
            self._index(seg)
        if self.segments:
            self.runs = self.segments[-1].run + 1
            self._inbox.put(("first_run", self.runs))

    # -- input (event loop) ---------------------------------------------------

    def new_session(self, audio: bool) -> None:
        """A publisher (re)connected: the next keyframe starts a new run."""
        self._inbox.put(("session", audio))

    def end_session(self) -> None:
        self._inbox.put(("end",))

    def video_frame(self, annexb: bytes, wall: float) -> None:
        self.last_frame_at = time.monotonic()
        self._inbox.put(("video", annexb, wall))

    def audio_frame(self, opus: bytes, wall: float) -> None:
        self._inbox.put(("audio", opus, wall))

    def aac_frame(self, aac: bytes, wall: float) -> None:
        """An AAC frame of the source's sound (``shared_audio``; any thread)."""
        self._inbox.put(("aac", aac, wall))

    def keyframe(self, wall: float) -> None:
        """The source has a keyframe at ``wall``: where an audio-only rendition
        starts its runs (its segments follow the source's: follow())."""
        self._inbox.put(("key", wall))

    async def finish(self) -> str:
        """Close the last run, write the recording's VOD playlist; returns it
        ("" when nothing was recorded)."""
        if not self.finished:
            self.finished = True
            self._inbox.put(("stop",))
            await asyncio.to_thread(self._worker.join)
            # the worker's last callbacks are queued on the loop; let them run
            await asyncio.sleep(0)
            if self._aligner is not None:
                self._aligner.flush()  # the source may never get past the last parts
            if self.segments and not self.segments[-1].complete:
                self._complete(self.segments[-1])
            self._notify()
            if any(s.complete and s.parts for s in self.segments):
                vod = render_vod(self.segments).encode()
                # players still polling the live playlist, on any node, get the end
                for name in ("vod.m3u8", "live.m3u8", "legacy.m3u8"):
                    self._writer.put(name, vod)
            for seg in self.segments[-self.options.window - 2 :]:
                for part in seg.parts:
                    self._writer.put(part.uri(seg.msn), None)
        await self._writer.close()
        if not any(s.complete and s.parts for s in self.segments):
            return ""  # nothing was recorded: no replay
        return render_vod(self.segments)

    # -- output (event loop) --------------------------------------------------

    def live_playlist(self, low_latency: bool = True) -> str:
        if low_latency not in self._rendered:
            self._rendered[low_latency] = render_live(
                self.segments,
                LiveOptions(
                    target_duration=max(1, round(self.options.segment_seconds)),
                    part_target=self.options.part_seconds,
                    window=self.options.window,
                    low_latency=low_latency,
                ),
                self.rendition_reports() if low_latency else (),
            )
        return self._rendered[low_latency]

    def rendition_reports(self) -> list[RenditionReport]:
        """Where the show's other renditions are, as of now (they move on with
        every part of theirs; this playlist is re-rendered with every part of its
        own, so a report is at most about one part behind)."""
        up = "../" if self.rendition else ""
        reports = []
        for other in self.group:
            if other is self or other.finished or not other.has_media or not other.segments:
                continue
            last = other.segments[-1]
            name = f"{other.rendition}/live.m3u8" if other.rendition else "live.m3u8"
            reports.append(RenditionReport(up + name, last.msn, len(last.parts) - 1))
        return reports

    def has(self, msn: int, part: int | None) -> bool:
        """Whether segment ``msn`` (or its part ``part``) is available."""
        for seg in reversed(self.segments):
            if seg.msn == msn:
                return seg.complete if part is None else part < len(seg.parts) or seg.complete
            if seg.msn < msn:
                return False
        return bool(self.segments) and msn < self.segments[0].msn

    def part(self, msn: int, index: int) -> bytes | None:
        for seg in reversed(self.segments):
            if seg.msn == msn:
                if index < len(seg.parts) and seg.parts[index].data:
                    return seg.parts[index].data
                return None
        return None

    @property
    def segment_started_at(self) -> float | None:
        """Wall clock of the start of the segment being made (None: none is)."""
        if not self.segments or self.segments[-1].complete:
            return None
        return self.segments[-1].started_at.timestamp()

    @property
    def next_msn(self) -> int:
        return self.segments[-1].msn + 1 if self.segments else 0

    async def wait(self, ready: Callable[[], bool], seconds: float) -> bool:
        """Wait up to ``seconds`` for ``ready()`` (blocking playlist reload)."""
        deadline = self._loop.time() + seconds
        while not ready():
            if self.finished:
                return ready()
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return False
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return ready()
        return True

    # -- from the worker (scheduled on the loop) ------------------------------

    def _notify(self) -> None:
        """Wake blocked players here, and publish the playlists for other nodes."""
        self._rendered.clear()
        event, self._changed = self._changed, asyncio.Event()
        event.set()
        if self.segments and not self.finished:
            self._write("live.m3u8", self.live_playlist(True).encode())
            # the legacy playlist lists whole segments only: it changes once a
            # segment, not with every part (a third of the writes otherwise)
            legacy = self.live_playlist(False).encode()
            if legacy != self._legacy_written:
                self._legacy_written = legacy
                self._write("legacy.m3u8", legacy)

    def _write(self, name: str, data: bytes | None) -> None:
        self._writer.put(name, data)

    def _on_run(self, run: int, init: bytes, video: VideoInfo | None) -> None:
        if self._aligner is not None:  # after the last run's parts, which may be held
            self._aligner.hold(lambda _: self._start_run(run, init, video))
        else:
            self._start_run(run, init, video)

    def _start_run(self, run: int, init: bytes, video: VideoInfo | None) -> None:
        self.runs = run + 1
        self.has_media = True
        if video is not None:
            self.video = video
        self._write(init_uri(run), init)
        if self.segments and not self.segments[-1].complete:
            self._complete(self.segments[-1])
            self._notify()

    def _on_fragment(
        self, run: int, run_start: float, data: bytes, t: FragmentTiming, cut: bool
    ) -> None:
        """A part; ``cut``: it may start a segment (a keyframe; not used by the
        audio-only rendition, whose segments follow the source's)."""
        if self.audio_only:
            place = partial(self._audio_part, run, run_start, data, t)
            if self._aligner is None:
                place(None)
            else:
                start = run_start + t.start
                self._aligner.hold(place, start, start + t.duration)
            return
        current = self.segments[-1] if self.segments else None
        new_segment = (
            current is None
            or current.complete
            or current.run != run
            or (cut and current.duration >= self.options.segment_seconds * 0.5)
        )
        current = self._add_part(run, run_start, data, t, new_segment)
        segment_start = current.started_at.timestamp()
        for follower in self._followers:
            if follower._aligner is not None and not follower.finished:
                follower._aligner.source_part(
                    current.msn, segment_start, run_start + t.start + t.duration
                )

    def _audio_part(
        self, run: int, run_start: float, data: bytes, t: FragmentTiming, source_msn: int | None
    ) -> None:
        """An audio-only part, in the source's segment ``source_msn`` (None: unknown)."""
        current = self.segments[-1] if self.segments else None
        new_segment = (
            current is None
            or current.complete
            or current.run != run
            # the source has moved on to a later segment (when this rendition is
            # behind, each part starts a segment until it has caught up)
            or (source_msn is not None and source_msn > current.msn)
            # never past the target duration, whatever the source does (a
            # keyframe late or not coming at all: sound alone does not wait)
            or current.duration + t.duration >= self._longest_segment
        )
        first = source_msn if not self.segments and source_msn is not None else None
        self._add_part(run, run_start, data, t, new_segment, first)

    @property
    def _longest_segment(self) -> float:
        """Durations round to at most the target duration below this (RFC 8216bis
        §4.4.3.1: EXTINF, rounded to the nearest integer, <= EXT-X-TARGETDURATION)."""
        return max(1, round(self.options.segment_seconds)) + 0.5

    def _add_part(
        self,
        run: int,
        run_start: float,
        data: bytes,
        t: FragmentTiming,
        new_segment: bool,
        msn: int | None = None,
    ) -> Segment:
        """Add a part, in a new segment (numbered ``msn``, by default the next) or
        the current one; returns the segment."""
        current = self.segments[-1] if self.segments else None
        if new_segment or current is None:
            if current is not None and not current.complete:
                self._complete(current)
            current = Segment(
                msn=self.next_msn if msn is None else msn,
                run=run,
                started_at=datetime.fromtimestamp(run_start + t.start, UTC),
                gap_before=bool(self.segments) and self.segments[-1].run != run,
            )
            self.segments.append(current)
        part = Part(len(current.parts), t.duration, t.independent, data)
        current.parts.append(part)
        self._write(part.uri(current.msn), data)  # before the playlist that lists it
        self._notify()
        return current

    def _complete(self, seg: Segment) -> None:
        seg.complete = True
        self._rendered.clear()
        self._write(seg.uri, b"".join(p.data for p in seg.parts))
        self._index(seg)
        self._write("recording.json", self._manifest())
        # Parts are only fetched near the live edge: free older ones, here and
        # in storage (the segment holds the same bytes).
        horizon = len(self.segments) - self.options.window - 2
        for old in self.segments[: max(0, horizon)]:
            for p in old.parts:
                if p.data:
                    p.data = b""
                    self._write(p.uri(old.msn), None)

    def _index(self, seg: Segment) -> None:
        """Add a complete segment to the recording's index."""
        row = {
            "msn": seg.msn,
            "run": seg.run,
            "uri": seg.uri,
            "media_time": round(self._index_media_time, 3),
            "duration": round(seg.duration, 3),
            "wall_clock": seg.started_at.isoformat(),
        }
        self._index_rows.append(json.dumps(row))
        self._index_media_time += seg.duration

    def _manifest(self) -> bytes:
        """The recording's index: each segment's media time and wall-clock start."""
        rows = ", ".join(self._index_rows)
        return f'{{"show_id": {json.dumps(self.show_id)}, "segments": [{rows}]}}'.encode()

    def _poster(self, jpeg: bytes) -> None:
        if not self.rendition:
            self._write("poster.jpg", jpeg)
        if self._on_poster:
            self._on_poster(jpeg)


class _Worker:
    """The packager's thread: owns the muxer of the current run."""

    def __init__(self, packager: ShowPackager) -> None:
        self.p = packager
        self.loop = packager._loop
        self.muxer: FragmentMuxer | None = None
        self.run_index = -1
        self.run_start = 0.0
        self.sps: bytes | None = None
        self.force_new_run = True
        self.decoder: Any = None
        self.last_poster = 0.0
        self.audio = True

    def call(self, fn: Callable[..., None], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def run(self) -> None:
        while True:
            item = self.p._inbox.get()
            kind = item[0]
            try:
                if kind == "video":
                    if not self.p.audio_only:
                        self.video(item[1], item[2])
                elif kind == "key":
                    self.key(item[1])
                elif kind == "aac":
                    if self.muxer is not None:
                        self.muxer.aac(item[1], item[2] - self.run_start)
                elif kind == "audio":
                    if self.muxer is not None:
                        self.muxer.audio(item[1], item[2] - self.run_start)
                elif kind == "session":
                    self.close_run()
                    self.force_new_run = True
                    self.audio = item[1]
                elif kind == "first_run":
                    self.run_index = item[1] - 1
                elif kind == "end":
                    self.close_run()
                elif kind == "stop":
                    self.close_run()
                    return
            except Exception:  # one bad frame must not stop the show
                log.exception("packager %s: %s frame failed", self.p.show_id, kind)

    def key(self, wall: float) -> None:
        """Audio-only: the first source keyframe of a session starts the run."""
        if not self.p.audio_only or not self.audio:
            return
        if self.muxer is None or self.force_new_run:
            self.start_audio_run(wall)

    def start_audio_run(self, wall: float) -> None:
        self.close_run()
        self.run_index += 1
        self.run_start = wall
        self.force_new_run = False
        run = self.run_index

        def on_init(init: bytes) -> None:
            self.call(self.p._on_run, run, init, None)

        def on_fragment(data: bytes, timing: FragmentTiming) -> None:
            # every part of sound alone is independent (AAC needs no earlier frame);
            # where segments start is the loop's to say (ShowPackager._audio_part)
            timing = FragmentTiming(timing.start, timing.duration, True)
            self.call(self.p._on_fragment, run, wall, data, timing, False)

        self.muxer = FragmentMuxer(
            width=0,
            height=0,
            audio=True,
            video=False,
            fragment_seconds=self.p.options.part_seconds * 0.75,
            on_init=on_init,
            on_fragment=on_fragment,
            aac_input=self.p.shared_audio,
        )

    def close_run(self) -> None:
        if self.muxer is not None:
            self.muxer.close()
            self.muxer = None

    def video(self, annexb: bytes, wall: float) -> None:
        key = is_keyframe(annexb)
        if key:
            params = sps(annexb)
            due = wall - self.last_poster >= self.p.options.poster_seconds
            frame: av.VideoFrame | None = None
            if params is not None and (self.force_new_run or params != self.sps):
                frame = self.start_run(annexb, params, wall)
            elif self.force_new_run:
                return  # a keyframe without its parameters cannot start a run
            elif due:
                frame = self.decode(annexb)
            if frame is not None and due:
                self.poster(frame, wall)
        if self.muxer is None:
            return  # waiting for the first keyframe
        self.muxer.video(annexb, wall - self.run_start, key)

    def decode(self, annexb: bytes) -> av.VideoFrame | None:
        """Decode one keyframe (for its size and the poster; never every frame)."""
        try:
            frames = self.decoder.decode(av.Packet(annexb))
        except av.FFmpegError:
            return None
        return frames[0] if frames else None

    def start_run(self, annexb: bytes, params: bytes, wall: float) -> av.VideoFrame | None:
        self.close_run()
        self.decoder = av.CodecContext.create("h264", "r")
        frame = self.decode(annexb)
        if frame is None:
            return None
        info = VideoInfo(frame.width, frame.height, avc1_codec(params))
        self.run_index += 1
        self.run_start = wall
        self.sps = params
        self.force_new_run = False
        run = self.run_index
        start = wall

        def on_init(init: bytes) -> None:
            self.call(self.p._on_run, run, init, info)

        def on_fragment(data: bytes, timing: FragmentTiming) -> None:
            self.call(self.p._on_fragment, run, start, data, timing, timing.independent)

        def on_aac(aac: bytes, pts: int) -> None:
            if (hook := self.p.on_aac) is not None:
                hook(aac, start + pts / AUDIO_RATE)

        self.muxer = FragmentMuxer(
            width=info.width,
            height=info.height,
            audio=self.audio,
            fragment_seconds=self.p.options.part_seconds * 0.75,
            on_init=on_init,
            on_fragment=on_fragment,
            aac_input=self.p.shared_audio,
            on_aac=on_aac,
        )
        return frame

    def poster(self, frame: av.VideoFrame, wall: float) -> None:
        self.last_poster = wall
        image = frame.to_image()  # type: ignore[no-untyped-call]
        image.thumbnail((640, 640))
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=80)
        self.call(self.p._poster, out.getvalue())
