"""What the media benchmarks (``latency.py``, ``ingest_cpu.py``) share.

* the server: ``pasar serve`` on a free loopback port with a fresh data
  directory (SQLite), a vendor with an API key, a show and its stream key;
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

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from fractions import Fraction
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
VIDEO_CLOCK = 90_000

# -- processes ------------------------------------------------------------------


def die_with_parent() -> None:
    """Linux: get SIGKILL when the benchmark process goes away, however it goes."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of a process (/proc/<pid>/task/<tid>/stat)."""
    out: dict[int, float] = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    rest = f.read().rsplit(")", 1)[1].split()
                out[int(tid)] = (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")
    return out


def processes_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds of every process on the machine, to name what else was busy."""
    out: dict[int, tuple[str, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                with open(f"/proc/{entry}/stat") as f:
                    head, _, rest = f.read().rpartition(")")
                fields = rest.split()
                ticks = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                out[int(entry)] = (head.partition("(")[2], ticks)
    return out


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Busy:
    """What the rest of the machine did over a window (other processes' CPU)."""

    def __init__(self, ours: set[int]) -> None:
        self.ours = ours
        self.t0 = time.monotonic()
        self.machine0 = machine_busy()
        self.procs0 = processes_cpu()

    def report(self) -> tuple[float, list[tuple[str, float]]]:
        """(machine busy share of all cores, top other processes in cores)."""
        span = max(time.monotonic() - self.t0, 1e-9)
        m1, procs1 = machine_busy(), processes_cpu()
        share = (m1[0] - self.machine0[0]) / max(m1[1] - self.machine0[1], 1)
        others = sorted(
            (
                ((cpu - self.procs0[pid][1]) / span, f"{name}[{pid}]")
                for pid, (name, cpu) in procs1.items()
                if pid in self.procs0 and pid not in self.ours
            ),
            reverse=True,
        )[:3]
        return share, [(name, used) for used, name in others if used > 0.005]


def quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[i]


def machine_line() -> str:
    model = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1])
    import aiortc
    import av

    return (
        f"{os.cpu_count()} CPUs ({model}), {mem / 1024 / 1024:.1f} GiB RAM, "
        f"Python {sys.version.split()[0]}, PyAV {av.__version__} (FFmpeg "
        f"{av.ffmpeg_version_info}), aiortc {aiortc.__version__}; load average {load_average()}"
    )


def code_line() -> str:
    """The commit the server runs from, and whether src/ differs from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "src"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "code: unknown (no git)"
    return f"code: commit {head or '?'}" + (", with uncommitted changes in src/" if dirty else "")


# -- the server -------------------------------------------------------------------


@dataclass
class Server:
    """``pasar serve`` in a fresh data directory, on a free loopback port."""

    name: str
    keep: bool = False
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pasar-bench-")))
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    api_key: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PASAR_")}
        env.update(
            PASAR_DATA_DIR=str(self.tmp / "data"),
            PASAR_HOST=HOST,
            PASAR_PORT=str(self.port),
            PASAR_LOG_LEVEL="warning",
            PASAR_SHUTDOWN_GRACE_SECONDS="2",
        )
        env.update(self.extra_env)
        return env

    def start(self, port: int = 0) -> None:
        self.port = port or free_port()
        env = self.env()
        # a vendor, its owner and an API key (the server upgrades the empty database)
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "import asyncio; from pasar.bootstrap import create_vendor_with_owner; "
                "from pasar.settings import Settings; "
                "print(asyncio.run(create_vendor_with_owner(Settings(), name='Bench', "
                "slug='bench', email='bench@example.com', password='bench-password-1')).api_key)",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(f"could not create the vendor: {out.stderr.strip()[-800:]}")
        self.api_key = out.stdout.strip().splitlines()[-1]
        self.launch(env)

    def launch(self, env: dict[str, str]) -> None:
        """``pasar serve`` on ``self.port`` with ``env``; returns once it is healthy."""
        pasar = Path(sys.executable).with_name("pasar")
        cmd = (
            [str(pasar), "serve"]
            if pasar.exists()
            else [sys.executable, "-c", "from pasar.cli import main; main()", "serve"]
        )
        log = (self.tmp / "server.log").open("wb")
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        until = time.time() + 60
        while time.time() < until:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode} at start")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"the server did not become healthy on {self.base} in 60 s")

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:300]!r}") from exc

    def new_show(self) -> tuple[str, str, str]:
        """(show id, WHIP URL, stream key) of a new show."""
        show = self.api("POST", "/api/v1/shows", {"title": f"{self.name} benchmark"})
        ingest = self.api("GET", f"/api/v1/shows/{show['id']}/ingest")
        return show["id"], f"{self.base}/whip", ingest["stream_key"]

    def log_tail(self, lines: int = 15) -> list[str]:
        log = self.tmp / "server.log"
        if not log.exists():
            return []
        return log.read_text(errors="replace").splitlines()[-lines:]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


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
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the benchmark stops it
    try:
        asyncio.run(_publisher(plan, pipe))
    except BaseException as exc:
        with contextlib.suppress(Exception):
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        raise


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
        until = time.monotonic() + timeout
        while True:
            left = until - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the publisher did not answer ({kind}) in {timeout:g} s")
            if not self.pipe.poll(min(left, 0.5)):
                if not self.process.is_alive():
                    raise RuntimeError(f"the publisher died (exit code {self.process.exitcode})")
                continue
            got, payload = self.pipe.recv()
            if got == "error":
                raise RuntimeError(f"publisher: {payload}")
            if got != kind:
                raise RuntimeError(f"expected {kind} from the publisher, got {got}")
            return dict(payload)

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
        pos = tfhd + 16
        base = moof  # default-base-is-moof (FFmpeg's cmaf flags)
        if flags & 0x01:
            base = struct.unpack_from(">Q", data, pos)[0]
            pos += 8
        if flags & 0x02:
            pos += 4
        duration, size, sample_flags = self.default_duration, 0, 0
        if flags & 0x08:
            duration = struct.unpack_from(">I", data, pos)[0]
            pos += 4
        if flags & 0x10:
            size = struct.unpack_from(">I", data, pos)[0]
            pos += 4
        if flags & 0x20:
            sample_flags = struct.unpack_from(">I", data, pos)[0]
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
            p = trun + 16
            offset = base
            if tflags & 0x001:
                offset = base + struct.unpack_from(">i", data, p)[0]
                p += 4
            first_flags = None
            if tflags & 0x004:
                first_flags = struct.unpack_from(">I", data, p)[0]
                p += 4
            for k in range(count):
                d, s, f, cto = duration, size, sample_flags, 0
                if tflags & 0x100:
                    d = struct.unpack_from(">I", data, p)[0]
                    p += 4
                if tflags & 0x200:
                    s = struct.unpack_from(">I", data, p)[0]
                    p += 4
                if tflags & 0x400:
                    f = struct.unpack_from(">I", data, p)[0]
                    p += 4
                if tflags & 0x800:
                    cto = struct.unpack_from(">i" if version else ">I", data, p)[0]
                    p += 4
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
