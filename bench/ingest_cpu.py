"""Ingest CPU benchmark: the server's CPU for one 720p30 H.264 WHIP publish.

Run it from the repository root (with the dev install)::

    .venv/bin/python bench/ingest_cpu.py                     # 60 s after 10 s of warm-up
    .venv/bin/python bench/ingest_cpu.py --seconds 30 --no-audio --profile ingest.txt

What it does:

* starts ``pasar serve`` on a free loopback port with a fresh data directory
  (SQLite), creates a vendor, an API key and a show, and reads its stream key;
* starts the **publisher in a separate process** (``_media.py``), so that its
  H.264 encoding is not the server's CPU: aiortc as a WHIP client sending
  1280x720 at 30 fps (``--size``, ``--fps``), libx264 ``veryfast`` baseline
  zerolatency at ``--kbps`` (2,500) with a keyframe every 2 s (OBS-style: a
  fixed bitrate instead of aiortc's own encoder, which follows the server's
  bandwidth estimate between 0.5 and 3 Mb/s), and the Opus tone
  (``--no-audio`` to leave it out);
* once the first segments exist and ``--warmup`` has passed, measures the
  server process's CPU (user + system, every thread, from /proc/<pid>/stat)
  over ``--seconds``: receiving (ICE, DTLS-SRTP, RTP, jitter buffer — aiortc,
  on the event loop), the remux into fMP4 and the Opus → AAC transcode (the
  packager's thread), the playlists, and writing parts, segments and
  playlists to storage. No player is connected; startup (the WHIP handshake,
  the first keyframe) is outside the window;
* reads back what the server received (``GET /api/v1/shows/{id}/stream``,
  whose rates cover its last 2 s: polled every 5 s and averaged; each poll
  costs the server ≈ 5 ms of CPU, ≈ 0.001 core, included), the CPU of each
  server thread (named with ``py-spy dump`` when py-spy is installed), what
  else kept the machine busy, and with ``--profile FILE`` a py-spy profile of
  the window (``record --native --idle``: it pauses the server for each sample).

The last line is::

    ingest_cpu: cores=<c> transcode=<yes|no>

``cores`` is the server's CPU seconds per second of the window; ``transcode``
is whether the server transcodes the *video* (it remuxes H.264; the audio is
always Opus → AAC and is included in ``cores``). Without ``--ladder`` the server
runs with no ladder (``PASAR_HLS_LADDER`` empty: the source alone); ``--ladder
360p`` measures the default ladder (the source, a 360p rung and the audio-only
rendition). The server and the
publisher are stopped on every exit (and die with this process if it is killed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _media
import _proc
import _servers

HEALTH_EVERY = 5.0  # s between stream-health polls (each costs the server ~5 ms of CPU)


def say(line: str) -> None:
    print(f"ingest_cpu: {line}", flush=True)


def thread_names(pid: int) -> dict[int, str]:
    """Native thread id → Python thread name, from ``py-spy dump`` (if installed)."""
    py_spy = _proc.py_spy()
    if py_spy is None:
        return {}
    try:
        out = subprocess.run(
            [py_spy, "dump", "--pid", str(pid), "--nonblocking"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {int(m[1]): m[2] for m in re.finditer(r'^Thread (\d+) \([^)]*\): "([^"]*)"', out, re.M)}


def _label(tid: int, pid: int, names: dict[int, str]) -> str:
    if tid == pid:
        return "main thread (event loop: aiortc ICE/DTLS/SRTP/RTP, playlists, HTTP)"
    name = names.get(tid)
    if name is None:
        return f"thread {tid} (native: FFmpeg/libsrtp/OpenSSL worker, or not yet named)"
    if name.startswith("packager-"):
        return f"{name} (remux + Opus→AAC)"
    if name.startswith("uvloop_"):
        return f"{name} (the loop's default executor: storage writes and reads)"
    return f"{name} [{tid}]"


WAITS = re.compile(
    r"PyThread_acquire_lock_timed|pthread_cond_(timed)?wait|epoll_p?wait|sem_(timed)?wait|"
    r"__futex|nanosleep|^poll \(libc"
)


# the frames every sample of a thread goes through (CLI, server, event loop, thread start)
WRAPPERS = re.compile(
    r"\((typer|click|uvicorn|asyncio|concurrent)/|\(threading\.py\)|\(pasar/cli\.py\)|"
    r"^Runner\.|^run \(|^main \("
)


def summarise_profile(path: Path, seconds: float, rate: int, top: int = 8) -> None:
    """Where the server's CPU went, from ``py-spy record --native --idle --threads
    --format raw``: samples whose innermost frames wait (a lock, the GIL, a
    condition, epoll) are idle; the rest, per thread, by the heaviest frames
    (inclusive, leaving out the wrappers every sample of the thread goes through)."""
    active: dict[str, Counter[str]] = {}
    samples: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        if any(WAITS.search(f) for f in frames[-4:]):
            continue
        c = int(count)
        thread = re.sub(r"^thread \(\d+\): ?", "", frames[0]) or "?"
        thread = re.sub(r"-show_\w+", "-<show>", thread)
        samples[thread] += c
        calls = {re.sub(r":\d+\)$", ")", f) for f in frames[1:]}
        calls = {"FFmpeg (libav*)" if "(libav" in f or "(libsw" in f else f for f in calls}
        counter = active.setdefault(thread, Counter())
        for f in calls:
            counter[f] += c
    expected = max(seconds * rate, 1)
    say(
        f"profile: {sum(samples.values())} busy samples at {rate} Hz = "
        f"{sum(samples.values()) / expected:.3f} cores (py-spy --native pauses the server "
        "100 times a second: take the cores figure from a run without --profile)"
    )
    for thread, n in samples.most_common(4):
        say(f"profile: thread {thread}: {n / expected:.3f} cores")
        shown = 0
        for name, c in active[thread].most_common():
            if c >= 0.95 * n or WRAPPERS.search(name) or not (".py)" in name or "FFmpeg" in name):
                continue  # the thread's wrappers, and bare C frames
            say(f"profile:   {c / expected:.3f}  {name}")
            shown += 1
            if shown >= top:
                break


def bench(
    args: argparse.Namespace,
    server: _servers.PasarServer,
    pub: list[_media.Publisher],
    profilers: list[subprocess.Popen[bytes]],
) -> None:
    show_id, plan = _media.start_show(args, server, say)
    pid = server.pid
    width, height = args.size
    publisher = _media.Publisher(plan)
    pub.append(publisher)
    publisher.start()
    say(
        f"publisher: separate process (pid {publisher.process.pid}), aiortc WHIP, H.264 "
        f"{width}x{height} {args.fps} fps {args.kbps} kb/s (libx264 {args.preset}, baseline, "
        "zerolatency, keyframe every 2 s)" + ("" if args.no_audio else " + Opus tone 48 kHz")
    )
    until = time.time() + 30
    while "#EXTINF" not in _hls(server, show_id):
        if time.time() > until:
            raise TimeoutError("no HLS segment 30 s after publishing: is the packager running?")
        time.sleep(0.3)
    time.sleep(args.warmup)
    names = thread_names(pid)
    if not server.alive():
        raise RuntimeError("the server died during the warm-up")

    say(
        f"window: {args.seconds:g} s after {args.warmup:g} s of warm-up, load average "
        f"{_proc.load_average()}"
    )
    publisher.mark()
    busy = _proc.Busy({pid, publisher.process.pid, os.getpid()})
    t0 = time.monotonic()
    cpu0, threads0 = _proc.cpu_seconds(pid), _proc.thread_cpu(pid)
    rss0 = _proc.rss_kb(pid)
    profiler = None
    profile = Path(args.profile).resolve() if args.profile else None
    if profile is not None:
        py_spy = _proc.py_spy()
        if py_spy is None:
            raise RuntimeError("--profile needs py-spy (.venv/bin/pip install py-spy)")
        flags = ("--native", "--idle", "--threads")
        record = _proc.py_spy_record(py_spy, pid, args.seconds, profile, args.rate, *flags)
        profiler = _servers.start_process(record)
        profilers.append(profiler)
    end = t0 + args.seconds
    samples: list[dict[str, Any]] = []  # the stream health covers the last 2 s: poll it
    next_poll = t0 + 1.0
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 1.0, max(0.0, next_poll - time.monotonic())))
        if time.monotonic() >= next_poll and end - time.monotonic() > 0.5:
            next_poll += HEALTH_EVERY
            samples.append(server.api("GET", f"/api/v1/shows/{show_id}/stream"))
        if not server.alive():
            raise RuntimeError("the server died during the window")
        if not publisher.process.is_alive():
            raise RuntimeError("the publisher died during the window")
    wall = time.monotonic() - t0
    cpu1, threads1 = _proc.cpu_seconds(pid), _proc.thread_cpu(pid)
    rss1 = _proc.rss_kb(pid)
    share, others = busy.report()
    names.update(thread_names(pid))
    stats = publisher.finish()
    cores = (cpu1 - cpu0) / wall

    pubs = [h["publisher"] for h in samples if h.get("publisher")]
    if not pubs:
        raise RuntimeError(f"the stream health never showed a publisher: {samples[-1:]}")
    p = pubs[-1]

    def mean(key: str) -> float:
        return statistics.fmean(float(x.get(key) or 0) for x in pubs)

    kbps = [float(x.get("video_kbps") or 0) for x in pubs]
    say(
        f"received (the server's stream health, {len(pubs)} polls of its 2 s window): "
        f"{p.get('width')}x{p.get('height')} {mean('fps'):.1f} fps, video {mean('video_kbps'):.0f}"
        f" kb/s (min {min(kbps):.0f}, max {max(kbps):.0f}), audio {mean('audio_kbps'):.0f} kb/s, "
        f"keyframe every {p.get('keyframe_interval_s')} s, packet loss {p.get('packet_loss_pct')}"
        f" %, codec {p.get('codec')}, transcoding {p.get('transcoding')}; states "
        f"{sorted({h.get('state') for h in samples})}"
    )
    say(
        f"publisher: {stats['fps']:.1f} fps, {stats['kbps']:.0f} kb/s of H.264 sent, encode "
        f"{stats['encode_ms']:.1f} ms/frame, {100 * stats['cpu']:.0f} % of a core (not counted)"
    )
    say(
        f"server: {cpu1 - cpu0:.2f} CPU s in {wall:.1f} s = {cores:.3f} cores; RSS "
        f"{rss0 / 1024:.1f} MiB at the start of the window, {rss1 / 1024:.1f} MiB at the end"
    )
    used = sorted(((threads1[t] - threads0.get(t, 0.0), t) for t in threads1), reverse=True)
    for seconds, tid in used[:6]:
        if seconds > 0:
            say(f"server thread: {seconds / wall:.3f} cores  {_label(tid, pid, names)}")
    gone = sum(threads0.values()) - sum(threads0[t] for t in threads0 if t in threads1)
    if gone > 0:
        say(f"server thread: threads that ended during the window used {gone:.2f} s before")
    top = ", ".join(f"{name} {100 * c:.0f} %" for name, c in others)
    say(
        f"machine: {100 * share:.0f} % busy (all {os.cpu_count()} cores); other processes: "
        f"{top or 'none'}"
    )
    if any(c > 0.1 for _, c in others):
        say("warning: other processes were busy during the window; rerun when it is quiet")
    if profiler is not None and profile is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            profiler.wait(20)
        if profile.exists():
            summarise_profile(profile, args.seconds, args.rate)
            say(f"profile: collapsed stacks in {profile}")
        else:
            say("profile: py-spy wrote nothing (may it ptrace this process?)")
    # transcoding: the source itself (VP8 in) or the ladder's video rungs (the
    # audio-only rendition transcodes nothing)
    rungs = [r for r in p.get("renditions") or [] if r != "audio"]
    transcode = "yes" if p.get("transcoding") or rungs else "no"
    print(f"ingest_cpu: cores={cores:.3f} transcode={transcode}", flush=True)


def _hls(server: _servers.PasarServer, show_id: str) -> str:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{server.base}/hls/{show_id}/legacy.m3u8", timeout=10) as r:
            return str(r.read().decode())
    except (urllib.error.URLError, OSError):
        return ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--seconds", type=float, default=60.0, help="measurement window")
    p.add_argument("--warmup", type=float, default=10.0, help="publish this long before it")
    _media.add_publish_arguments(p)
    p.add_argument(
        "--ladder",
        default="",
        help="the ladder's video rungs, e.g. 360p (transcodes): PASAR_HLS_LADDER for the "
        "server is these plus the audio-only rendition, like the default ladder (360p,audio); "
        "without it, the source alone (PASAR_HLS_LADDER empty)",
    )
    p.add_argument(
        "--profile", help="write a py-spy profile of the server's window here (pip install py-spy)"
    )
    p.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument("--timeout", type=float, default=600.0, help="give up after this many s")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir and log")
    args = p.parse_args(argv)
    if args.seconds <= 0:
        p.error("--seconds must be positive")
    _servers.stop_on_signals()
    server = _servers.PasarServer("ingest", keep=args.keep)
    # the server's default ladder is on: say which one is measured
    server.extra_env["PASAR_HLS_LADDER"] = f"{args.ladder},audio" if args.ladder else ""
    pub: list[_media.Publisher] = []
    profilers: list[subprocess.Popen[bytes]] = []

    def stop_ours() -> None:
        for profiler in profilers:
            if profiler.poll() is None:
                profiler.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    profiler.wait(5)
        for publisher in pub:
            publisher.stop()

    return _servers.run_reporting(
        say, server, lambda: bench(args, server, pub, profilers), before_stop=stop_ours
    )


if __name__ == "__main__":
    _servers.exit_with(main, "ingest_cpu")
