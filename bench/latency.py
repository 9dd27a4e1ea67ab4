"""Glass-to-glass latency benchmark: publish over WHIP, play the HLS as a player would.

Run it from the repository root (with the dev install)::

    .venv/bin/python bench/latency.py                 # LL-HLS, 720p30, 30 s after warm-up
    .venv/bin/python bench/latency.py --mode both     # plain HLS (legacy.m3u8), then LL-HLS
    .venv/bin/python bench/latency.py --size 640x360 --no-audio --seconds 60

What it does:

* starts ``pasar serve`` on a free loopback port with a fresh data directory
  (SQLite), creates a vendor, an API key and a show, and reads its stream key;
* starts the **publisher in a separate process** (``_media.py``): aiortc as a
  WHIP client sending H.264 (libx264 ``veryfast``, baseline, zerolatency,
  ``--kbps``, a keyframe every 2 s) and the Opus tone. Every picture carries
  its **capture time** in two rows of large black/white blocks (milliseconds,
  a frame counter, a CRC-8), drawn right after the clock is read and right
  before the frame is handed to the encoder;
* plays the stream in this process the way hls.js would, in sessions of
  ``--session`` seconds (a viewer joins, watches, leaves; the next one joins),
  so that the figure covers the moment a viewer joins relative to the part or
  segment being written:

  - ``llhls``: load ``live.m3u8``; start ``PART-HOLD-BACK`` behind the live
    edge (the end of the last part listed), at the last independent part at or
    before that point; fetch the listed parts, then, for each next part, the
    ``EXT-X-PRELOAD-HINT`` URI (the request blocks until the part exists)
    together with a blocking reload ``?_HLS_msn=N&_HLS_part=P``; a hinted part
    that never comes (the segment ended first: 404) is skipped in favour of
    the next segment's first part, as the reloaded playlist says;
  - ``hls``: load ``legacy.m3u8`` (whole segments only); start ``HOLD-BACK``
    (absent: 3 target durations, what hls.js does) behind the end of the last
    segment; reload the playlist every target duration (half of it when it did
    not change, RFC 8216 §6.3.4) and fetch each new segment;

* decodes each part/segment with one persistent H.264 decoder (PyAV, on a
  thread, while the next one is being fetched), reads the capture time back
  from every picture, and computes **when the player would show it**: playback
  starts once the frame at the start position is decoded, then runs at 1x on
  the media timeline (``EXT-X-PROGRAM-DATE-TIME`` + part durations + sample
  times); a frame decoded after its turn stalls playback until it is there
  (latency then grows for the rest of the session, as it does in hls.js,
  which does not speed up by default).

The figure is **display time − capture time** over every frame shown during
the window: encode, WebRTC, the server's remux and packaging, HTTP, decode and
the player's hold-back buffer. Not included: a browser's render/compositor
and the screen (≈ 1–3 frames), a camera's own capture delay, and any network
beyond loopback. It also prints the time from capture to *decoded* (no
hold-back) and where the time goes. The last line is::

    latency: p50_s=<a> p95_s=<b> mode=<hls|llhls> requests_per_min=<r>

(``requests_per_min``: HTTP requests one viewer makes per minute of watching,
playlists included: the price of the lower latency.)

Both processes share this machine's clock. The server and the publisher are
stopped on every exit (and die with this process if it is killed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _media
import _proc
import _servers

# -- the playlist -------------------------------------------------------------------


@dataclass
class PlPart:
    msn: int
    index: int
    uri: str
    duration: float
    independent: bool
    start: float = 0.0  # program date-time (epoch seconds) of its first sample


@dataclass
class PlSegment:
    msn: int
    map_uri: str
    start: float  # EXT-X-PROGRAM-DATE-TIME
    parts: list[PlPart] = field(default_factory=list)
    complete: bool = False
    duration: float = 0.0
    uri: str = ""

    @property
    def end(self) -> float:
        return self.start + (
            self.duration if self.complete else sum(p.duration for p in self.parts)
        )


@dataclass
class Playlist:
    target: float = 0.0
    part_target: float = 0.0
    part_hold_back: float | None = None
    hold_back: float | None = None
    segments: list[PlSegment] = field(default_factory=list)
    hint: tuple[int, int] | None = None

    def segment(self, msn: int) -> PlSegment | None:
        return next((s for s in self.segments if s.msn == msn), None)

    @property
    def edge(self) -> float:
        return self.segments[-1].end if self.segments else 0.0


_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')
_PART_URI = re.compile(r"s(\d+)\.(\d+)\.m4s")


def _attrs(text: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in _ATTR.findall(text)}


def _pdt(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def parse_playlist(text: str) -> Playlist:
    pl = Playlist()
    msn = 0
    map_uri = ""
    current: PlSegment | None = None
    pending_start: float | None = None
    extinf: float | None = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-TARGETDURATION:"):
            pl.target = float(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            msn = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-SERVER-CONTROL:"):
            a = _attrs(line.split(":", 1)[1])
            if "PART-HOLD-BACK" in a:
                pl.part_hold_back = float(a["PART-HOLD-BACK"])
            if "HOLD-BACK" in a:
                pl.hold_back = float(a["HOLD-BACK"])
        elif line.startswith("#EXT-X-PART-INF:"):
            pl.part_target = float(_attrs(line.split(":", 1)[1])["PART-TARGET"])
        elif line.startswith("#EXT-X-MAP:"):
            map_uri = _attrs(line.split(":", 1)[1])["URI"]
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pending_start = _pdt(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PART:"):
            a = _attrs(line.split(":", 1)[1])
            if current is None:
                current = PlSegment(msn, map_uri, pending_start or 0.0)
            start = current.start + sum(p.duration for p in current.parts)
            current.parts.append(
                PlPart(
                    msn,
                    len(current.parts),
                    a["URI"],
                    float(a["DURATION"]),
                    a.get("INDEPENDENT") == "YES",
                    start,
                )
            )
        elif line.startswith("#EXTINF:"):
            extinf = float(line.split(":", 1)[1].split(",")[0])
        elif line.startswith("#EXT-X-PRELOAD-HINT:"):
            a = _attrs(line.split(":", 1)[1])
            if a.get("TYPE") == "PART" and (m := _PART_URI.fullmatch(a["URI"])):
                pl.hint = (int(m[1]), int(m[2]))
        elif line and not line.startswith("#"):
            seg = current or PlSegment(msn, map_uri, pending_start or 0.0)
            seg.complete, seg.duration, seg.uri = True, extinf or 0.0, line
            pl.segments.append(seg)
            current, pending_start, extinf = None, None, None
            msn += 1
    if current is not None:
        pl.segments.append(current)
    return pl


# -- one viewer ---------------------------------------------------------------------


@dataclass
class Shown:
    """A frame the player showed."""

    capture: float  # from the picture
    decoded: float  # when the player had it decoded
    shown: float  # when it would be on screen
    counter: int


@dataclass
class Session:
    joined: float
    hold_back: float
    start_position: float = 0.0  # program date-time playback starts at
    started: float | None = None  # wall clock when playback started
    shift: float = 0.0  # stall time accumulated
    stalls: int = 0
    shown: list[Shown] = field(default_factory=list)
    unreadable: int = 0
    decoded_frames: int = 0
    last_counter: int | None = None
    missing: int = 0
    # per part/segment fetched at the live edge: (capture of its last frame →
    # received, received → decoded)
    deliveries: list[tuple[float, float]] = field(default_factory=list)
    live_decoded: list[float] = field(default_factory=list)  # capture → decoded, live chunks
    fetches: int = 0
    not_found: int = 0
    watched: float = 0.0  # seconds this viewer was there (for requests per minute)

    def play(
        self,
        frames: list[tuple[float, Any]],
        first_pts: float,
        start: float,
        got: float,
        decoded: float,
        origin: float,
        live: bool,
    ) -> None:
        """Place decoded frames (media time, picture) of a chunk starting at
        program date-time ``start`` (whose first sample has media time ``first_pts``)."""
        last_capture = None
        for pts, frame in frames:
            self.decoded_frames += 1
            stamp = _media.frame_stamp(frame)
            if stamp is None:
                self.unreadable += 1
                continue
            ms, counter = stamp
            capture = origin + ms / 1000
            last_capture = capture
            if self.last_counter is not None:
                self.missing += (counter - self.last_counter - 1) % 256
            self.last_counter = counter
            if live:
                self.live_decoded.append(decoded - capture)
            position = start + (pts - first_pts)
            if position < self.start_position - 1e-6:
                continue  # before where playback starts: decoded, never shown
            if self.started is None:
                self.started = decoded
                self.start_position = position
            due = self.started + (position - self.start_position) + self.shift
            if decoded > due:
                self.stalls += 1
                self.shift += decoded - due
                due = decoded
            self.shown.append(Shown(capture, decoded, due, counter))
        if last_capture is not None and live:
            self.deliveries.append((got - last_capture, decoded - got))


@dataclass
class Chunk:
    """A part or segment as fetched."""

    start: float  # its program date-time
    data: bytes
    init: bytes
    got: float
    live: bool = True


async def _decoder(session: Session, queue: asyncio.Queue[Chunk | None], origin: float) -> None:
    decoder: _media.FragmentDecoder | None = None
    init = b""
    while (chunk := await queue.get()) is not None:
        if chunk.init != init:
            init = chunk.init
            decoder = _media.FragmentDecoder(init)
        assert decoder is not None
        samples = decoder.samples(chunk.data)
        if not samples:
            continue
        frames = await asyncio.to_thread(decoder.decode, chunk.data)
        session.play(
            frames, samples[0].pts, chunk.start, chunk.got, time.time(), origin, chunk.live
        )


class Viewer:
    def __init__(
        self, client: httpx.AsyncClient, base: str, origin: float, hold_back: float | None
    ):
        self.client = client
        self.base = base
        self.origin = origin
        self.hold_back = hold_back
        self.inits: dict[str, bytes] = {}

    async def get(self, session: Session, name: str) -> httpx.Response:
        session.fetches += 1
        return await self.client.get(f"{self.base}/{name}")

    async def init(self, session: Session, uri: str) -> bytes:
        if uri not in self.inits:  # immutable: a real player caches it too
            r = await self.get(session, uri)
            r.raise_for_status()
            self.inits[uri] = r.content
        return self.inits[uri]

    async def playlist(self, session: Session, name: str, **params: int) -> Playlist:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        r = await self.get(session, name + (f"?{query}" if query else ""))
        if r.status_code != 200:
            raise RuntimeError(f"{name}?{query}: {r.status_code} {r.text[:200]}")
        return parse_playlist(r.text)

    async def watch(self, mode: str, seconds: float) -> Session:
        queue: asyncio.Queue[Chunk | None] = asyncio.Queue()
        joined = time.time()
        session = Session(joined, 0.0)
        decoder = asyncio.create_task(_decoder(session, queue, self.origin))
        follow = self.llhls if mode == "llhls" else self.hls
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(follow(session, queue), seconds)
        await queue.put(None)
        await decoder
        end = joined + seconds
        session.watched = seconds
        session.shown = [s for s in session.shown if s.shown <= end]
        return session

    def _start(self, session: Session, pl: Playlist, hold: float) -> float:
        session.hold_back = hold
        session.start_position = pl.edge - hold
        return session.start_position

    async def llhls(self, session: Session, queue: asyncio.Queue[Chunk | None]) -> None:
        pl = await self.playlist(session, "live.m3u8")
        hold = self.hold_back or pl.part_hold_back or pl.hold_back or 3 * pl.part_target
        position = self._start(session, pl, hold)
        # the last independent part at or before the start position
        parts = [p for s in pl.segments for p in s.parts]
        if not parts:
            raise RuntimeError("live.m3u8 lists no parts: is it Low-Latency HLS?")
        starts = [p for p in parts if p.independent and p.start <= position + 1e-6]
        first = starts[-1] if starts else next((p for p in parts if p.independent), parts[0])
        want = (first.msn, first.index)
        caught_up = False  # parts fetched before the first wait are the join's catch-up
        while True:
            seg = pl.segment(want[0])
            if seg is not None and want[1] < len(seg.parts):
                part = seg.parts[want[1]]
                r = await self.get(session, part.uri)
                if r.status_code != 200:
                    raise RuntimeError(f"{part.uri}: {r.status_code}")
                init = await self.init(session, seg.map_uri)
                await queue.put(Chunk(part.start, r.content, init, time.time(), caught_up))
                want = (want[0], want[1] + 1)
                continue
            if seg is not None and seg.complete:
                want = (want[0] + 1, 0)
                continue
            # not there yet: ask for the hinted part and block on the playlist
            caught_up = True
            uri = f"s{want[0]}.{want[1]}.m4s"
            hinted = asyncio.create_task(self.get(session, uri))
            reload = asyncio.create_task(
                self.playlist(session, "live.m3u8", _HLS_msn=want[0], _HLS_part=want[1])
            )
            try:
                r = await hinted
                got = time.time()
                pl = await reload
            finally:
                hinted.cancel()
                reload.cancel()
            if r.status_code == 404:
                session.not_found += 1  # the segment ended before this part: go on
                continue
            if r.status_code != 200:
                raise RuntimeError(f"{uri}: {r.status_code}")
            seg = pl.segment(want[0])
            if seg is None or want[1] >= len(seg.parts):
                raise RuntimeError(f"{uri} came but the reloaded playlist does not list it")
            init = await self.init(session, seg.map_uri)
            await queue.put(Chunk(seg.parts[want[1]].start, r.content, init, got))
            want = (want[0], want[1] + 1)

    async def hls(self, session: Session, queue: asyncio.Queue[Chunk | None]) -> None:
        loaded = time.time()
        pl = await self.playlist(session, "legacy.m3u8")
        hold = self.hold_back or pl.hold_back or 3 * pl.target
        position = self._start(session, pl, hold)
        segments = [s for s in pl.segments if s.complete]
        if not segments:
            raise RuntimeError("legacy.m3u8 lists no segment")
        starts = [s for s in segments if s.start <= position + 1e-6]
        want = (starts[-1] if starts else segments[0]).msn
        caught_up = False  # segments of the first playlist are the join's catch-up
        while True:
            changed = False
            for seg in pl.segments:
                if seg.complete and seg.msn == want:
                    r = await self.get(session, seg.uri)
                    if r.status_code != 200:
                        raise RuntimeError(f"{seg.uri}: {r.status_code}")
                    init = await self.init(session, seg.map_uri)
                    await queue.put(Chunk(seg.start, r.content, init, time.time(), caught_up))
                    want += 1
                    changed = True
            # RFC 8216 §6.3.4: reload after the target duration, half of it if unchanged
            wait = pl.target if changed else pl.target / 2
            await asyncio.sleep(max(0.0, loaded + wait - time.time()))
            loaded = time.time()
            pl = await self.playlist(session, "legacy.m3u8")
            caught_up = True


# -- the run -------------------------------------------------------------------------


def say(line: str) -> None:
    print(f"latency: {line}", flush=True)


@dataclass
class Result:
    mode: str
    sessions: list[Session]

    def shown(self) -> list[Shown]:
        return [s for session in self.sessions for s in session.shown]


def _ms(values: list[float]) -> str:
    v = sorted(values)
    if not v:
        return "n/a"
    return f"p50 {1000 * _media.quantile(v, 0.5):.0f} ms, p95 {1000 * _media.quantile(v, 0.95):.0f}"


def requests_per_min(sessions: list[Session]) -> float:
    """Requests one viewer makes per minute of watching: playlists (blocking
    reloads included), parts or segments, init segments, and the join's catch-up."""
    watched = sum(s.watched for s in sessions)
    return 60 * sum(s.fetches for s in sessions) / watched if watched > 0 else 0.0


def report(result: Result) -> tuple[float, float, float]:
    shown = result.shown()
    if not shown:
        raise RuntimeError(f"{result.mode}: the player showed no frame")
    display = sorted(s.shown - s.capture for s in shown)
    decoded = sorted(d for s in result.sessions for d in s.live_decoded)
    buffer = [s.shown - s.decoded for s in shown]
    sessions = result.sessions
    deliveries = [d for s in sessions for d in s.deliveries]
    startup = [s.started - s.joined for s in sessions if s.started is not None]
    per_session = ", ".join(
        f"{statistics.median([x.shown - x.capture for x in s.shown]):.2f}"
        for s in sessions
        if s.shown
    )
    unit = "part" if result.mode == "llhls" else "segment"
    say(
        f"{result.mode}: {len(sessions)} viewer sessions, {len(shown)} frames shown "
        f"(unreadable stamps {sum(s.unreadable for s in sessions)}, frames missing from the "
        f"counter {sum(s.missing for s in sessions)}), stalls {sum(s.stalls for s in sessions)} "
        f"({sum(s.shift for s in sessions):.2f} s), hinted parts that ended up 404 "
        f"{sum(s.not_found for s in sessions)}, requests {sum(s.fetches for s in sessions)} "
        f"({requests_per_min(sessions):.0f} per viewer per minute)"
    )
    say(
        f"{result.mode}: capture → shown p50 {_media.quantile(display, 0.5):.3f} s, p95 "
        f"{_media.quantile(display, 0.95):.3f}, min {display[0]:.3f}, max {display[-1]:.3f}; "
        f"median per session {per_session}"
    )
    say(
        f"{result.mode}: at the live edge (after the join's catch-up), capture → decoded by "
        f"the player (no hold-back) p50 {_media.quantile(decoded, 0.5):.3f} s, p95 "
        f"{_media.quantile(decoded, 0.95):.3f}; of which: last frame of a {unit} captured → "
        f"{unit} received {_ms([d[0] for d in deliveries])}, received → decoded "
        f"{_ms([d[1] for d in deliveries])}"
    )
    say(
        f"{result.mode}: the player's buffer (decoded → shown) {_ms(buffer)}; hold-back "
        f"{sessions[0].hold_back:.3f} s; join → playing {_ms(startup)}"
    )
    return (
        _media.quantile(display, 0.5),
        _media.quantile(display, 0.95),
        requests_per_min(sessions),
    )


async def play(
    base: str, mode: str, seconds: float, session_s: float, origin: float, hold_back: float | None
) -> Result:
    sessions: list[Session] = []
    end = time.time() + seconds
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=4)) as client:
        viewer = Viewer(client, base, origin, hold_back)
        while (left := end - time.time()) > 0.5:
            sessions.append(await viewer.watch(mode, min(session_s, left)))
            await asyncio.sleep(random.uniform(0, 0.5))  # join at a random phase
    return Result(mode, sessions)


async def wait_for_segments(base: str, count: int, seconds: float) -> None:
    until = time.time() + seconds
    async with httpx.AsyncClient(timeout=10) as client:
        while time.time() < until:
            r = await client.get(f"{base}/legacy.m3u8")
            if r.status_code == 200 and r.text.count("#EXTINF") >= count:
                return
            await asyncio.sleep(0.3)
    raise TimeoutError(f"no {count} HLS segments after {seconds:g} s: is the packager running?")


def bench(
    args: argparse.Namespace, server: _servers.PasarServer, pub: list[_media.Publisher]
) -> None:
    show_id, plan = _media.start_show(args, server, say)
    width, height = args.size
    origin = plan.origin
    publisher = _media.Publisher(plan)
    pub.append(publisher)
    publisher.start()
    say(
        f"publisher: separate process, aiortc WHIP, H.264 {width}x{height} {args.fps} fps "
        f"{args.kbps} kb/s (libx264 {args.preset}, baseline, zerolatency, keyframe every 2 s)"
        + ("" if args.no_audio else " + Opus tone")
    )
    base = f"{server.base}/hls/{show_id}"
    # enough media for a player to keep its hold-back (HLS: 3 target durations)
    asyncio.run(wait_for_segments(base, 4, 40))
    time.sleep(args.warmup)
    modes = ["hls", "llhls"] if args.mode == "both" else [args.mode]
    figures: list[tuple[str, float, float, float]] = []
    for mode in modes:
        say(
            f"{mode}: playing {args.seconds:g} s in sessions of {args.session:g} s, "
            f"load average {_proc.load_average()}"
        )
        busy = _proc.Busy({server.pid, publisher.process.pid})
        result = asyncio.run(play(base, mode, args.seconds, args.session, origin, args.hold_back))
        share, others = busy.report()
        p50, p95, rpm = report(result)
        top = ", ".join(f"{name} {100 * used:.0f} %" for name, used in others)
        say(
            f"{mode}: machine {100 * share:.0f} % busy (all {os.cpu_count()} cores); "
            f"other processes: {top or 'none'}"
        )
        figures.append((mode, p50, p95, rpm))
    stats = publisher.finish()
    say(
        f"publisher: {stats['fps']:.1f} fps, {stats['kbps']:.0f} kb/s sent, encode "
        f"{stats['encode_ms']:.1f} ms/frame, stamp {stats['stamp_ms']:.2f} ms/frame, "
        f"{100 * stats['cpu']:.0f} % of a core"
    )
    for mode, p50, p95, rpm in figures:
        print(
            f"latency: p50_s={p50:.3f} p95_s={p95:.3f} mode={mode} requests_per_min={rpm:.0f}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--mode",
        choices=["llhls", "hls", "both"],
        default="llhls",
        help="llhls: live.m3u8 with parts; hls: legacy.m3u8, whole segments; both: hls first",
    )
    p.add_argument("--seconds", type=float, default=30.0, help="playing time measured per mode")
    p.add_argument("--session", type=float, default=3.0, help="seconds each viewer watches")
    p.add_argument("--warmup", type=float, default=3.0, help="publish this long before playing")
    _media.add_publish_arguments(p)
    p.add_argument(
        "--hold-back", type=float, help="override the player's hold-back (s; default: playlist)"
    )
    p.add_argument(
        "--part-seconds",
        type=float,
        help="PASAR_HLS_PART_SECONDS for the server (the part target; default: its default)",
    )
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument("--timeout", type=float, default=600.0, help="give up after this many s")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir and log")
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.session <= 0:
        p.error("--seconds and --session must be positive")
    _servers.stop_on_signals()
    server = _servers.PasarServer("latency", keep=args.keep)
    if args.part_seconds:
        server.extra_env["PASAR_HLS_PART_SECONDS"] = str(args.part_seconds)
    pub: list[_media.Publisher] = []

    def stop_ours() -> None:
        for publisher in pub:
            publisher.stop()

    return _servers.run_reporting(
        say, server, lambda: bench(args, server, pub), before_stop=stop_ours
    )


if __name__ == "__main__":
    _servers.exit_with(main, "latency")
