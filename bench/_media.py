"""What the media benchmarks (``latency.py``, ``ingest_cpu.py``) share, besides the
server (``_servers.PasarServer``):

* the **publisher**, run in its own process (``multiprocessing``, spawn) so its
  H.264 encoding never counts as the server's CPU: aiortc as a WHIP client
  whose video track hands aiortc *encoded* H.264 (libx264, baseline,
  ``tune=zerolatency``, a fixed bitrate and a keyframe every 2 s, the way OBS is
  set up) instead of letting aiortc's own encoder follow the server's bitrate
  estimate. Every frame carries its capture time in the picture: two rows of
  large black and white blocks (milliseconds since the run's origin, a frame
  counter and a CRC-8), written right after the clock is read and right before
  the frame goes to the encoder. Audio is synthetic.ToneTrack (aiortc encodes
  the Opus);
* the **player side**: a minimal fMP4 reader (``moof``/``trun`` → samples) that
  feeds one persistent H.264 decoder, and the reader of the time stamp.

Everything listens and connects on loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from multiprocessing.connection import Connection
from typing import Any

import _proc
from _servers import PasarServer, child_main, code_line, expect

VIDEO_CLOCK = 90_000


def quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[i]


def machine_line() -> str:
    import aiortc
    import av

    return _proc.machine_line(
        f"Python {sys.version.split()[0]}",
        f"PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info})",
        f"aiortc {aiortc.__version__}",
    )


def add_publish_arguments(p: argparse.ArgumentParser) -> None:
    """What the publisher sends: --size, --fps, --kbps, --preset, --no-audio."""
    p.add_argument("--size", type=picture_size, default="1280x720", help="picture size WxH")
    p.add_argument("--fps", type=int, default=30, help="frames per second")
    p.add_argument("--kbps", type=int, default=2500, help="video bitrate")
    p.add_argument("--preset", default="veryfast", help="the publisher's libx264 preset")
    p.add_argument("--no-audio", action="store_true", help="publish video only")


def picture_size(text: str) -> tuple[int, int]:
    if not re.fullmatch(r"\d+x\d+", text.lower()):
        raise argparse.ArgumentTypeError("--size is WxH, e.g. 1280x720")
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def start_show(
    args: argparse.Namespace, server: PasarServer, say: Callable[[str], None]
) -> tuple[str, PublishPlan]:
    """Say what runs where, start the server, create a show: (its id, the plan to
    publish to it as ``args`` say, stamps counting from the current second)."""
    say(f"machine: {machine_line()}")
    say(code_line())
    server.start(args.port)
    show_id, whip, key = server.new_show()
    say(f"server: pasar serve pid {server.pid} on {server.base} (SQLite), show {show_id}")
    width, height = args.size
    return show_id, PublishPlan(
        whip_url=whip,
        stream_key=key,
        width=width,
        height=height,
        fps=args.fps,
        kbps=args.kbps,
        preset=args.preset,
        audio=not args.no_audio,
        origin=float(int(time.time())),
        deadline=time.time() + args.timeout,
    )


# -- the time stamp in the picture --------------------------------------------------

STAMP_COLUMNS = 24
STAMP_ROWS = 2
STAMP_BITS = STAMP_COLUMNS * STAMP_ROWS  # 32 bits of ms, 8 of frame counter, 8 of CRC
BLACK, WHITE = 16, 235


def crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def stamp_block(width: int, height: int) -> int:
    """Side of one block in pixels: large enough to survive any sane bitrate."""
    return max(8, min(width // (STAMP_COLUMNS + 2), height // 12)) // 2 * 2


def stamp_bits(ms: int, counter: int) -> list[int]:
    payload = struct.pack(">IB", ms & 0xFFFFFFFF, counter & 0xFF)
    word = int.from_bytes(payload + bytes([crc8(payload)]), "big")
    return [(word >> (STAMP_BITS - 1 - i)) & 1 for i in range(STAMP_BITS)]


def read_stamp(
    luma: bytes | memoryview, line: int, width: int, height: int
) -> tuple[int, int] | None:
    """(ms since the origin, frame counter) from a decoded picture's luma plane,
    or None if the blocks do not check out."""
    b = stamp_block(width, height)
    x0 = b  # one block of margin on the left
    word = 0
    for i in range(STAMP_BITS):
        row, col = divmod(i, STAMP_COLUMNS)
        cx, cy = x0 + col * b + b // 2, row * b + b // 2
        q = b // 4
        total = 0
        for dy in (-q, 0, q):
            base = (cy + dy) * line + cx
            total += luma[base - q] + luma[base] + luma[base + q]
        word = (word << 1) | (total > 9 * (BLACK + WHITE) // 2)
    raw = word.to_bytes(STAMP_BITS // 8, "big")
    if crc8(raw[:5]) != raw[5]:
        return None
    ms, counter = struct.unpack(">IB", raw[:5])
    return ms, counter


# -- the publisher (its own process) -------------------------------------------------


@dataclass
class PublishPlan:
    whip_url: str
    stream_key: str
    width: int
    height: int
    fps: int
    kbps: int
    preset: str
    audio: bool
    origin: float  # time.time() that stamp milliseconds count from
    deadline: float


def _stamped_track_class() -> Any:
    import av
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    class StampedTrack(MediaStreamTrack):  # type: ignore[misc]
        """A scrolling noise texture with the capture time in blocks on top,
        encoded here (libx264) and handed to aiortc as H.264 packets."""

        kind = "video"

        def __init__(self, plan: PublishPlan) -> None:
            super().__init__()
            self.plan = plan
            w, h = plan.width, plan.height
            self.frames = 0
            self.sent_bytes = 0
            self.encode_s = 0.0
            self.stamp_s = 0.0
            self.keyframes = 0
            self._start: float | None = None
            probe = av.VideoFrame(w, h, "yuv420p")
            self.line = probe.planes[0].line_size
            self.cline = probe.planes[1].line_size
            self.block = stamp_block(w, h)
            # a texture twice the frame's height that scrolls 2 px per frame
            table = bytes(64 + (i * 131 % 128) for i in range(256))
            self.texture = os.urandom(self.line * h * 2).translate(table)
            self.chroma = [
                bytes([110]) * (self.cline * (h // 2)),
                bytes([140]) * (self.cline * (h // 2)),
            ]
            self.codec = av.CodecContext.create("libx264", "w")
            self.codec.width, self.codec.height = w, h
            self.codec.pix_fmt = "yuv420p"
            self.codec.time_base = Fraction(1, VIDEO_CLOCK)
            self.codec.framerate = Fraction(plan.fps, 1)
            self.codec.bit_rate = plan.kbps * 1000
            self.codec.gop_size = 2 * plan.fps
            self.codec.options = {
                "preset": plan.preset,
                "tune": "zerolatency",
                "profile": "baseline",
                "x264-params": (
                    f"keyint={2 * plan.fps}:min-keyint={2 * plan.fps}:scenecut=0:"
                    f"vbv-maxrate={plan.kbps}:vbv-bufsize={plan.kbps}"
                ),
            }
            self.codec.thread_count = 1
            self.codec.open()

        def _picture(self, n: int, ms: int) -> Any:
            w, h = self.plan.width, self.plan.height
            line, b = self.line, self.block
            rows = h * 2
            offset = (n * 2) % h * line
            y = bytearray(self.texture[offset : offset + line * h])
            del rows
            bits = stamp_bits(ms, n)
            band_w = (STAMP_COLUMNS + 2) * b
            for r in range(STAMP_ROWS):
                row = bytearray([BLACK]) * b  # left margin
                for bit in bits[r * STAMP_COLUMNS : (r + 1) * STAMP_COLUMNS]:
                    row += bytes([WHITE if bit else BLACK]) * b
                row += bytes([BLACK]) * (band_w - len(row))
                row = row[:w]
                for yy in range(r * b, (r + 1) * b):
                    y[yy * line : yy * line + len(row)] = row
            frame = av.VideoFrame(w, h, "yuv420p")
            frame.planes[0].update(bytes(y))
            frame.planes[1].update(self.chroma[0])
            frame.planes[2].update(self.chroma[1])
            return frame

        def _encode(self, frame: Any) -> list[Any]:
            t0 = time.perf_counter()
            packets = self.codec.encode(frame)
            self.encode_s += time.perf_counter() - t0
            return list(packets)

        async def recv(self) -> Any:
            if self.readyState != "live":
                raise MediaStreamError
            loop = asyncio.get_running_loop()
            while True:
                n = self.frames
                if self._start is None:
                    self._start = time.time()
                else:
                    wait = self._start + n / self.plan.fps - time.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                pts = round(n * VIDEO_CLOCK / self.plan.fps)
                captured = time.time()  # the capture moment the picture carries
                t0 = time.perf_counter()
                frame = self._picture(n, round((captured - self.plan.origin) * 1000))
                frame.pts = pts
                frame.time_base = Fraction(1, VIDEO_CLOCK)
                self.stamp_s += time.perf_counter() - t0
                self.frames += 1
                packets = await loop.run_in_executor(None, self._encode, frame)
                if packets:
                    packet = packets[0]
                    packet.pts = pts
                    packet.dts = pts
                    packet.time_base = Fraction(1, VIDEO_CLOCK)
                    self.sent_bytes += packet.size
                    self.keyframes += bool(packet.is_keyframe)
                    return packet

    return StampedTrack


async def _publisher(plan: PublishPlan, pipe: Connection) -> None:
    import httpx
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from pasar.media.synthetic import ToneTrack, prefer_h264

    track = _stamped_track_class()(plan)
    pc = RTCPeerConnection()
    pc.addTransceiver(track, direction="sendonly")
    if plan.audio:
        pc.addTransceiver(ToneTrack(), direction="sendonly")
    prefer_h264(pc)
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.post(
            plan.whip_url,
            content=pc.localDescription.sdp,
            headers={
                "Content-Type": "application/sdp",
                "Authorization": f"Bearer {plan.stream_key}",
            },
        )
        if r.status_code != 201:
            raise RuntimeError(f"WHIP publish refused: {r.status_code} {r.text[:300]}")
        await pc.setRemoteDescription(RTCSessionDescription(r.text, "answer"))
        location = str(httpx.URL(plan.whip_url).join(r.headers["location"]))
        connected = asyncio.get_running_loop().time() + 20
        while pc.connectionState != "connected":
            if asyncio.get_running_loop().time() > connected:
                raise RuntimeError(f"WebRTC did not connect ({pc.connectionState})")
            await asyncio.sleep(0.05)
        pipe.send(("published", {}))
        cpu0 = sum(os.times()[:2])
        t0 = time.monotonic()
        marks: dict[str, Any] = {}
        while True:
            if time.time() > plan.deadline:
                raise TimeoutError("the publisher ran out of time")
            if pipe.poll():
                try:
                    command = pipe.recv()
                except EOFError:
                    command = "stop"
                if command == "mark":
                    marks = {
                        "t": time.monotonic(),
                        "cpu": sum(os.times()[:2]),
                        "bytes": track.sent_bytes,
                        "frames": track.frames,
                    }
                    pipe.send(("marked", {}))
                    continue
                if command == "stop":
                    break
            if pc.connectionState in ("failed", "closed"):
                raise RuntimeError(f"the WebRTC connection {pc.connectionState}")
            await asyncio.sleep(0.05)
        now = time.monotonic()
        start = marks or {"t": t0, "cpu": cpu0, "bytes": 0, "frames": 0}
        span = max(now - start["t"], 1e-9)
        stats = {
            "frames": track.frames,
            "fps": (track.frames - start["frames"]) / span,
            "kbps": (track.sent_bytes - start["bytes"]) * 8 / span / 1000,
            "cpu": (sum(os.times()[:2]) - start["cpu"]) / span,
            "encode_ms": 1000 * track.encode_s / max(track.frames, 1),
            "stamp_ms": 1000 * track.stamp_s / max(track.frames, 1),
            "keyframes": track.keyframes,
        }
        with contextlib.suppress(Exception):
            await client.delete(location, headers={"Authorization": f"Bearer {plan.stream_key}"})
        await pc.close()
        pipe.send(("stopped", stats))


def publisher_main(plan: PublishPlan, pipe: Connection) -> None:
    """Entry point of the publisher process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the benchmark stops it
    child_main(_publisher(plan, pipe), pipe)


@dataclass
class Publisher:
    """The publisher process, seen from the benchmark."""

    plan: PublishPlan
    process: Any = None
    pipe: Connection | None = None

    def start(self, timeout: float = 40) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        self.process = ctx.Process(
            target=publisher_main, args=(self.plan, child), name="pasar-bench-pub", daemon=True
        )
        self.process.start()
        self.expect("published", timeout)

    def expect(self, kind: str, timeout: float) -> dict[str, Any]:
        assert self.pipe is not None
        return expect(self.pipe, self.process, kind, timeout, "publisher")

    def mark(self) -> None:
        assert self.pipe is not None
        self.pipe.send("mark")
        self.expect("marked", 10)

    def finish(self) -> dict[str, Any]:
        assert self.pipe is not None
        self.pipe.send("stop")
        return self.expect("stopped", 20)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.is_alive():
            with contextlib.suppress(Exception):
                assert self.pipe is not None
                self.pipe.send("stop")
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(3)


# -- reading fMP4 on the player side ---------------------------------------------------


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[str, int, int]]:
    """(type, offset, size) of the boxes in data[start:end]."""
    end = len(data) if end is None else end
    out = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"truncated {kind!r} box")
        out.append((kind.decode("latin-1"), pos, size))
        pos += size
    return out


def _find(
    data: bytes, path: list[str], start: int = 0, end: int | None = None
) -> list[tuple[int, int]]:
    """(offset, size) of every box at ``path`` (e.g. ['moov', 'trak'])."""
    found = []
    for kind, pos, size in _boxes(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                found.append((pos, size))
            else:
                found += _find(data, path[1:], pos + 8, pos + size)
    return found


# (flag bit, struct format) of the optional fields of a box, in the order they come
TFHD_FIELDS = ((0x01, ">Q"), (0x02, ">I"), (0x08, ">I"), (0x10, ">I"), (0x20, ">I"))
TRUN_FIELDS = ((0x001, ">i"), (0x004, ">I"))
TRUN_SAMPLE_FIELDS = tuple(  # by trun version: its composition offset is signed from 1 on
    ((0x100, ">I"), (0x200, ">I"), (0x400, ">I"), (0x800, cto)) for cto in (">I", ">i")
)


def _flagged(
    data: bytes, pos: int, flags: int, fields: tuple[tuple[int, str], ...]
) -> tuple[dict[int, int], int]:
    """The fields present (their bit set in ``flags``) from ``pos`` on, by bit, and the
    position after them."""
    got: dict[int, int] = {}
    for bit, fmt in fields:
        if flags & bit:
            got[bit] = struct.unpack_from(fmt, data, pos)[0]
            pos += struct.calcsize(fmt)
    return got, pos


@dataclass
class Sample:
    pts: float  # seconds on the run's media timeline
    data: bytes
    keyframe: bool


class FragmentDecoder:
    """Decodes the video of an fMP4 stream (an init segment, then fragments)
    with one persistent H.264 decoder, as a player's decoder would."""

    def __init__(self, init: bytes) -> None:
        import av

        self.track_id = 0
        self.timescale = 90_000
        self.default_duration = 0
        for pos, size in _find(init, ["moov", "trak"]):
            handler = ""
            for hpos, _ in _find(init, ["mdia", "hdlr"], pos + 8, pos + size):
                handler = init[hpos + 16 : hpos + 20].decode("latin-1")
            if handler != "vide":
                continue
            tkhd = _find(init, ["tkhd"], pos + 8, pos + size)[0][0]
            version = init[tkhd + 8]
            self.track_id = struct.unpack_from(">I", init, tkhd + (28 if version == 1 else 20))[0]
            mdhd = _find(init, ["mdia", "mdhd"], pos + 8, pos + size)[0][0]
            version = init[mdhd + 8]
            self.timescale = struct.unpack_from(">I", init, mdhd + (28 if version == 1 else 20))[0]
        for pos, _ in _find(init, ["moov", "mvex", "trex"]):
            track, _desc, duration = struct.unpack_from(">III", init, pos + 12)
            if track == self.track_id:
                self.default_duration = duration
        i = init.find(b"avcC")
        if not self.track_id or i < 4:
            raise ValueError("the init segment has no H.264 video track")
        size = struct.unpack_from(">I", init, i - 4)[0]
        self.codec = av.CodecContext.create("h264", "r")
        self.codec.extradata = init[i + 4 : i - 4 + size]
        self.codec.thread_count = 1  # no frame threading: it would hold frames back
        self.codec.open()

    def samples(self, data: bytes) -> list[Sample]:
        out: list[Sample] = []
        for kind, moof, moof_size in _boxes(data):
            if kind != "moof":
                continue
            for traf, traf_size in _find(data, ["traf"], moof + 8, moof + moof_size):
                out += self._traf(data, moof, traf, traf_size)
        return out

    def _traf(self, data: bytes, moof: int, traf: int, traf_size: int) -> list[Sample]:
        tfhd = _find(data, ["tfhd"], traf + 8, traf + traf_size)[0][0]
        flags = int.from_bytes(data[tfhd + 9 : tfhd + 12], "big")
        track = struct.unpack_from(">I", data, tfhd + 12)[0]
        if track != self.track_id:
            return []
        # tfhd's optional fields: base data offset, sample description, defaults
        got, _ = _flagged(data, tfhd + 16, flags, TFHD_FIELDS)
        base = got.get(0x01, moof)  # default-base-is-moof (FFmpeg's cmaf flags)
        duration = got.get(0x08, self.default_duration)
        size, sample_flags = got.get(0x10, 0), got.get(0x20, 0)
        tfdt = _find(data, ["tfdt"], traf + 8, traf + traf_size)
        t = 0
        if tfdt:
            p = tfdt[0][0]
            t = struct.unpack_from(">Q" if data[p + 8] == 1 else ">I", data, p + 12)[0]
        out: list[Sample] = []
        for trun, _ in _find(data, ["trun"], traf + 8, traf + traf_size):
            version = data[trun + 8]
            tflags = int.from_bytes(data[trun + 9 : trun + 12], "big")
            count = struct.unpack_from(">I", data, trun + 12)[0]
            head, p = _flagged(data, trun + 16, tflags, TRUN_FIELDS)
            offset = base + head.get(0x001, 0)
            first_flags = head.get(0x004)
            per_sample = TRUN_SAMPLE_FIELDS[1 if version else 0]
            for k in range(count):
                got, p = _flagged(data, p, tflags, per_sample)
                d, s = got.get(0x100, duration), got.get(0x200, size)
                f, cto = got.get(0x400, sample_flags), got.get(0x800, 0)
                if k == 0 and first_flags is not None:
                    f = first_flags
                out.append(
                    Sample((t + cto) / self.timescale, data[offset : offset + s], not f & 0x10000)
                )
                offset += s
                t += d
        return out

    def decode(self, data: bytes) -> list[tuple[float, Any]]:
        """(media time, decoded frame) of every video sample in ``data`` (one or
        more fragments)."""
        import av

        frames: list[tuple[float, Any]] = []
        for sample in self.samples(data):
            packet = av.Packet(sample.data)
            packet.pts = packet.dts = round(sample.pts * VIDEO_CLOCK)
            packet.time_base = Fraction(1, VIDEO_CLOCK)
            try:
                for frame in self.codec.decode(packet):
                    frames.append(
                        (frame.pts / VIDEO_CLOCK if frame.pts is not None else sample.pts, frame)
                    )
            except av.FFmpegError:
                continue
        return frames


def frame_stamp(frame: Any) -> tuple[int, int] | None:
    plane = frame.planes[0]
    return read_stamp(memoryview(plane), plane.line_size, frame.width, frame.height)
