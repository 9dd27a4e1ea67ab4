"""Fan-out benchmark: N viewers of one show, a chat and a like rate, delivery and latency.

Run it from the repository root (with the dev install)::

    .venv/bin/python bench/fanout.py                      # 10,000 viewers, 100 msg/s, 20 s
    .venv/bin/python bench/fanout.py --viewers 1000 --seconds 10

What it does:

* seeds a fresh data directory (SQLite, the demo vendor and show) and starts
  ``pasar serve`` on a free loopback port with ``PASAR_WS_MAX_CONNECTIONS``
  above N, after raising the open-files limit (``RLIMIT_NOFILE``) for itself
  and the processes it starts;
* starts the load generator in a **separate process** (``multiprocessing``,
  spawn) on uvloop. It is written so that it is not the bottleneck: every
  connection is a raw ``asyncio.Protocol`` that does the WebSocket handshake
  by hand. Most viewers are **byte counters**: they walk the frame headers
  (to answer pings and notice a close) and count the events in their byte
  stream with ``bytes.count(b'{"type":"')`` (exact: in JSON that sequence
  can only start an envelope, never occur inside a string), without parsing
  JSON. A few hundred **probes** (``--probes``) parse every frame: they time
  every chat message (send → receipt) and check that offsets are contiguous
  (``lost``). Deliveries are therefore counted on every viewer, not
  extrapolated;
* connects the chat **senders** first (they are not counted as viewers), reads
  the server's RSS, connects N idle viewers, reads the RSS again: memory per
  idle connection is the difference divided by N;
* sends chat messages (``--chat-rate``, each carrying ``time.time_ns()`` at
  send time; the processes share the machine's clock) and likes
  (``--like-rate``) from the senders for ``--warmup`` + ``--seconds``, and
  measures over the last ``--seconds``. The server's chat limits (per
  connection 1/s, per IP 5/s, ``pasar.realtime.limits``) are respected rather
  than lifted: the senders use enough connections spread over enough loopback
  source addresses (127.0.0.2, 127.0.0.3, …) to stay at 80 % of each limit;
* stops the senders and drains (``--drain``: until the server has answered
  every chat message and every probe has the last offset), prints informative
  lines — connect rate, memory per idle connection, events per viewer and type,
  latency percentiles and the send → ack part of it (the senders time the
  server's ``ack``, sent once the message is stored and published), server and
  generator CPU, what else kept the machine busy, and with ``--profile FILE`` a
  py-spy summary of the server during the window — and, as the last line::

    fanout: viewers=<N> deliveries_per_s=<X> p50_ms=<a> p99_ms=<b> lost=<k>

``deliveries_per_s`` is the number of events (chat messages, like and viewer
counts, …) received by all N viewers during the window, per second.
``lost`` is the number of offsets missing on the probes (gaps, and offsets
never received by the end of the drain), including probes the server dropped.

Everything listens and connects on loopback only. The run is bounded by
``--timeout``; the server and the generator are stopped on every exit (and die
with this process if it is killed).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import multiprocessing as mp
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import _proc
import _servers
from _servers import HOST

PAT = b'{"type":"'  # starts every event envelope; never occurs inside a JSON string
PAT_TAIL = len(PAT) - 1
CHAT_PER_SENDER = 0.8  # messages/s per connection (server limit: 1/s)
CHAT_PER_IP = 4.0  # messages/s per source address (server limit: 5/s)
LIKES_PER_SENDER = 8.0  # server limit: 10/s
LIKES_PER_IP = 80.0  # server limit: 100/s


@dataclass
class Plan:
    """What the generator process needs to know."""

    port: int
    show_id: str
    server_pid: int
    viewers: int
    probes: int
    senders: int
    sender_ips: int
    chat_rate: float
    like_rate: float
    warmup: float
    seconds: float
    drain: float
    concurrency: int
    nofile: int
    deadline: float  # time.time() by which the generator gives up


# -- small helpers shared by both processes -----------------------------------


def _raise_nofile(want: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
        return want
    except (ValueError, OSError):  # not privileged: go as far as the hard limit
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[i]


# -- the load generator (its own process) ----------------------------------------


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A final, masked client frame (RFC 6455 §5.3)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    else:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    key = os.urandom(4)
    stream = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")
    return header + key + masked


AUTH_FRAME = client_frame(b'{"type": "auth"}')


class Window:
    """The measurement window, shared by every probe of the generator."""

    start_ns = 1 << 62
    end_ns = 1 << 62
    latencies_ms: list[float] = []
    acks_ms: list[float] = []  # chat send → the sender's ack (the server has published it)


class Viewer(asyncio.Protocol):
    """A WebSocket client that counts events in its byte stream without parsing JSON."""

    kind = "counter"

    def __init__(self, request: bytes, ready: asyncio.Future[bool]) -> None:
        self.request = request
        self.ready = ready
        self.transport: asyncio.Transport | None = None
        self.head: bytearray | None = bytearray()
        self.nbytes = 0
        self.events = 0
        self.frames = 0
        self.close_code: int | None = None
        self.gone = False
        # frame walking (counters only)
        self._tail = b""
        self._hdr = b""
        self._skip = 0
        self._op = 0
        self._ctrl: bytearray | None = None

    # -- connection --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before the snapshot ({exc})"))

    def data_received(self, data: bytes) -> None:
        if self.head is not None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.head[: self.head.find(b"\r\n")])
            rest = bytes(self.head[end + 4 :])
            self.head = None
            if b" 101 " not in status:
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(status.decode("latin-1")))
                self.abort()
                return
            # The first frame says who we are: a new guest.
            self.transport.write(AUTH_FRAME)  # type: ignore[union-attr]
            if not rest:
                return
            data = rest
        self.on_data(data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def send(self, obj: dict[str, Any]) -> None:
        if self.transport is not None and not self.gone:
            self.transport.write(client_frame(json.dumps(obj).encode()))

    # -- frames ----------------------------------------------------------------

    def on_data(self, data: bytes) -> None:
        self.nbytes += len(data)
        n = data.count(PAT)
        if self._tail:
            n += (self._tail + data[:PAT_TAIL]).count(PAT)
        self._tail = data[-PAT_TAIL:] if len(data) >= PAT_TAIL else (self._tail + data)[-PAT_TAIL:]
        self.events += n
        if self._hdr:
            data, self._hdr = self._hdr + data, b""
        i, end, skip = 0, len(data), self._skip
        while True:
            if skip:
                left = end - i
                if left < skip:
                    if self._ctrl is not None:
                        self._ctrl += data[i:]
                    self._skip = skip - left
                    return
                if self._ctrl is not None:
                    self._ctrl += data[i : i + skip]
                i += skip
                skip = 0
                self._frame_end()
            self._skip = 0
            if end - i < 2:
                if i < end:
                    self._hdr = data[i:]
                return
            b0, length = data[i], data[i + 1] & 0x7F
            h = 2 if length < 126 else (4 if length == 126 else 10)
            if end - i < h:
                self._hdr = data[i:]
                return
            if h > 2:
                length = int.from_bytes(data[i + 2 : i + h], "big")
            i += h
            self._op = b0 & 0x0F
            self._ctrl = bytearray() if self._op >= 8 else None
            skip = length
            if not skip:
                self._frame_end()

    def _frame_end(self) -> None:
        op = self._op
        if op <= 2:
            self.frames += 1
            if not self.ready.done():
                self.ready.set_result(True)
        else:
            self.control(op, bytes(self._ctrl or b""))
        self._ctrl = None

    def control(self, op: int, payload: bytes) -> None:
        if self.transport is None:
            return
        if op == 0x9:  # ping → pong, as the server closes sockets that never answer
            self.transport.write(client_frame(payload, 0xA))
        elif op == 0x8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.transport.write(client_frame(payload[:2], 0x8))
            self.transport.close()


class Probe(Viewer):
    """A viewer that parses every frame: latency per chat message, offsets, event types."""

    kind = "probe"

    def __init__(self, request: bytes, ready: asyncio.Future[bool]) -> None:
        super().__init__(request, ready)
        self.buf = bytearray()
        self.epoch: str | None = None
        self.last: int | None = None
        self.lost = 0
        self.dupes = 0
        self.types: Counter[str] = Counter()

    def on_data(self, data: bytes) -> None:
        now = time.time_ns()
        self.nbytes += len(data)
        buf = self.buf
        buf += data
        i, end = 0, len(buf)
        while end - i >= 2:
            b0, length = buf[i], buf[i + 1] & 0x7F
            h = 2 if length < 126 else (4 if length == 126 else 10)
            if end - i < h:
                break
            if h > 2:
                length = int.from_bytes(buf[i + 2 : i + h], "big")
            if end - i < h + length:
                break
            payload = bytes(buf[i + h : i + h + length])
            i += h + length
            op = b0 & 0x0F
            if op == 0x1:
                self.frames += 1
                self.on_events(json.loads(payload), now)
                if not self.ready.done():
                    self.ready.set_result(True)
            elif op >= 8:
                self.control(op, payload)
        del buf[:i]

    def on_events(self, events: list[dict[str, Any]], now: int) -> None:
        self.events += len(events)
        for ev in events:
            type_ = ev["type"]
            self.types[type_] += 1
            offset = ev.get("offset")
            if offset is not None:
                if ev["epoch"] != self.epoch or self.last is None:
                    self.epoch, self.last = ev["epoch"], offset
                elif offset == self.last + 1:
                    self.last = offset
                elif offset > self.last:
                    self.lost += offset - self.last - 1
                    self.last = offset
                else:
                    self.dupes += 1
            if type_ == "chat.message":
                text = ev["data"]["text"]
                if text.startswith("bench "):
                    sent = int(text.split(" ", 2)[1])
                    if Window.start_ns <= sent < Window.end_ns:
                        Window.latencies_ms.append((now - sent) / 1e6)


class Sender(Probe):
    """A chat and like sender (not counted as a viewer): counts acks and refusals."""

    kind = "sender"

    def __init__(self, request: bytes, ready: asyncio.Future[bool]) -> None:
        super().__init__(request, ready)
        self.acks = 0
        self.answered = 0  # chat messages acked or refused
        self.errors: Counter[str] = Counter()

    def on_events(self, events: list[dict[str, Any]], now: int) -> None:
        for ev in events:
            ref = ev["data"].get("ref") or "" if ev["type"] in ("ack", "error") else ""
            if ref.startswith("t"):
                self.answered += 1
            if ev["type"] == "ack":
                self.acks += 1
                if ref.startswith("t"):
                    sent = int(ref[1:])
                    if Window.start_ns <= sent < Window.end_ns:
                        Window.acks_ms.append((now - sent) / 1e6)
            elif ev["type"] == "error":
                self.errors[ev["data"]["code"]] += 1


def _request(plan: Plan) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /ws/shows/{plan.show_id} HTTP/1.1\r\n"
        f"Host: {HOST}:{plan.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "User-Agent: pasar-bench\r\n\r\n"
    ).encode()


async def _connect(
    plan: Plan, kinds: list[type[Viewer]], sources: list[str | None]
) -> tuple[list[Viewer], Counter[str], float]:
    """Open one connection per kind, ``plan.concurrency`` handshakes at a time."""
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(plan.concurrency)
    failures: Counter[str] = Counter()
    request = _request(plan)

    async def one(kind: type[Viewer], source: str | None) -> Viewer | None:
        async with sem:
            proto = kind(request, loop.create_future())
            try:
                await asyncio.wait_for(
                    loop.create_connection(
                        lambda: proto, HOST, plan.port, local_addr=(source, 0) if source else None
                    ),
                    30,
                )
                await asyncio.wait_for(proto.ready, 30)
                return proto
            except Exception as exc:
                failures[str(exc)[:80] or type(exc).__name__] += 1
                proto.abort()
                return None

    t0 = time.monotonic()
    done = await asyncio.gather(*(one(k, s) for k, s in zip(kinds, sources, strict=True)))
    return [p for p in done if p is not None], failures, time.monotonic() - t0


async def _drive(senders: list[Sender], chat_rate: float, like_rate: float, until: float) -> int:
    """Send chat messages and likes at the given rates, round-robin over the senders."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    chats = likes = 0
    ci = li = 0
    n = len(senders)
    while (now := loop.time()) < until:
        due = int((now - t0) * chat_rate) - chats
        for _ in range(due):
            chats += 1
            ts = time.time_ns()
            senders[ci % n].send(
                {"type": "chat.send", "text": f"bench {ts} {chats}", "ref": f"t{ts}"}
            )
            ci += 1
        due = int((now - t0) * like_rate) - likes
        for _ in range(due):
            likes += 1
            senders[li % n].send({"type": "like", "count": 1})
            li += 1
        await asyncio.sleep(0.005)
    return chats


def _sum_events(viewers: list[Viewer]) -> int:
    return sum(v.events for v in viewers)


async def _generator(plan: Plan, pipe: Connection) -> None:
    loop = asyncio.get_running_loop()

    async def command() -> str:
        while not pipe.poll():
            if time.time() > plan.deadline:
                raise TimeoutError("the benchmark ran out of time")
            await asyncio.sleep(0.05)
        try:
            return str(pipe.recv())
        except EOFError:  # the benchmark process went away
            return "quit"

    ips = [f"127.0.0.{2 + i % plan.sender_ips}" for i in range(plan.senders)]
    senders_any, failures, took = await _connect(plan, [Sender] * plan.senders, list(ips))
    senders = [s for s in senders_any if isinstance(s, Sender)]
    pipe.send(("senders", {"connected": len(senders), "failures": dict(failures), "s": took}))

    if await command() != "viewers":
        return
    step = plan.viewers / max(plan.probes, 1)
    probe_at = {int(k * step) for k in range(min(plan.probes, plan.viewers))}
    kinds: list[type[Viewer]] = [Probe if i in probe_at else Viewer for i in range(plan.viewers)]
    viewers, failures, took = await _connect(plan, kinds, [None] * plan.viewers)
    probes = [v for v in viewers if isinstance(v, Probe)]
    pipe.send(
        (
            "viewers",
            {
                "connected": len(viewers),
                "probes": len(probes),
                "failures": dict(failures),
                "s": took,
            },
        )
    )

    if await command() != "run":
        return
    begin = loop.time()
    driver = asyncio.create_task(
        _drive(senders, plan.chat_rate, plan.like_rate, begin + plan.warmup + plan.seconds)
    )
    await asyncio.sleep(plan.warmup)
    pipe.send(("window", {}))
    Window.start_ns = time.time_ns()
    t0 = time.monotonic()
    ev0, bytes0 = _sum_events(viewers), sum(v.nbytes for v in viewers)
    probe_ev0 = _sum_events(list(probes))
    types0 = sum((p.types for p in probes), Counter())
    cpu0, gen0 = _proc.cpu_seconds(plan.server_pid), sum(os.times()[:2])
    busy = _proc.Busy({plan.server_pid, os.getpid(), os.getppid()})
    acks0 = sum(s.acks for s in senders)
    await asyncio.sleep(plan.seconds)
    Window.end_ns = time.time_ns()
    t1 = time.monotonic()
    ev1, bytes1 = _sum_events(viewers), sum(v.nbytes for v in viewers)
    probe_ev1 = _sum_events(list(probes))
    types1 = sum((p.types for p in probes), Counter())
    cpu1, gen1 = _proc.cpu_seconds(plan.server_pid), sum(os.times()[:2])
    acks1 = sum(s.acks for s in senders)
    machine_busy, busy_others = busy.report(floor=0.0)
    chats = await driver

    # Drain: the server answers every chat message (ack or refusal) after it has
    # published it; then every probe must reach the last offset any probe saw.
    drain_until = loop.time() + plan.drain
    settled = False
    while not settled and loop.time() < drain_until:
        await asyncio.sleep(0.1)
        top = max((p.last or 0 for p in probes), default=0)
        settled = sum(s.answered for s in senders) >= chats and all(
            p.gone or p.last == top for p in probes
        )
    top = max((p.last or 0 for p in probes), default=0)
    gaps = sum(p.lost for p in probes)
    tail = sum(top - (p.last or 0) for p in probes)
    window = t1 - t0
    lat = sorted(Window.latencies_ms)
    acks = sorted(Window.acks_ms)
    errors: Counter[str] = Counter()
    for s in senders:
        errors.update(s.errors)
    closes = Counter(str(v.close_code) for v in viewers if v.gone)
    result = {
        "viewers": len(viewers),
        "probes": len(probes),
        "window_s": window,
        "deliveries_per_s": (ev1 - ev0) / window,
        "bytes_per_s": (bytes1 - bytes0) / window,
        "mean_event_bytes": (bytes1 - bytes0) / max(ev1 - ev0, 1),
        "probe_events_per_s": (probe_ev1 - probe_ev0) / window / max(len(probes), 1),
        "probe_types_per_s": {
            k: (types1[k] - types0[k]) / window / max(len(probes), 1) for k in types1
        },
        "latencies": len(lat),
        "p50_ms": _quantile(lat, 0.50),
        "p90_ms": _quantile(lat, 0.90),
        "p99_ms": _quantile(lat, 0.99),
        "max_ms": lat[-1] if lat else float("nan"),
        "mean_ms": statistics.fmean(lat) if lat else float("nan"),
        "ack_p50_ms": _quantile(acks, 0.50),
        "ack_p99_ms": _quantile(acks, 0.99),
        "lost": gaps + tail,
        "gaps": gaps,
        "tail": tail,
        "settled": settled,
        "unanswered": chats - sum(s.answered for s in senders),
        "machine_busy": machine_busy,
        "busy_others": busy_others,
        "dupes": sum(p.dupes for p in probes),
        "last_offset": top,
        "acked_per_s": (acks1 - acks0) / window,
        "sender_errors": dict(errors),
        "server_cpu": (cpu1 - cpu0) / window,
        "generator_cpu": (gen1 - gen0) / window,
        "closed_by_server": dict(closes),
        "probes_gone": sum(p.gone for p in probes),
    }
    pipe.send(("result", result))
    for v in [*viewers, *senders]:
        v.abort()


def generator_main(plan: Plan, pipe: Connection) -> None:
    """Entry point of the generator process."""
    _raise_nofile(plan.nofile)
    _servers.child_main(_generator(plan, pipe), pipe, uvloop=True)


# -- the orchestrator --------------------------------------------------------------


@dataclass
class Run:
    args: argparse.Namespace
    deadline: float
    server: _servers.PasarServer
    generator: Any = None  # multiprocessing.Process (spawn context)
    profiler: subprocess.Popen[bytes] | None = None

    def left(self) -> float:
        left = self.deadline - time.time()
        if left <= 0:
            raise TimeoutError(f"the benchmark exceeded --timeout {self.args.timeout} s")
        return left


def say(line: str) -> None:
    print(f"fanout: {line}", flush=True)


def _expect(run: Run, pipe: Connection, kind: str) -> dict[str, Any]:
    return _servers.expect(pipe, run.generator, kind, run.left(), "load generator")


def _aiosqlite_wait_frame() -> str:
    """The frame of an aiosqlite worker thread waiting for work (not busy)."""
    try:
        import inspect

        import aiosqlite.core

        lines, first = inspect.getsourcelines(aiosqlite.core._connection_worker_thread)
        line = first + next(i for i, text in enumerate(lines) if "tx.get(" in text)
        return f"_connection_worker_thread (aiosqlite/core.py:{line})"
    except (ImportError, OSError, StopIteration, AttributeError):
        return "(none)"


def _summarise_profile(path: Path, window_s: float, rate: int) -> None:
    """Print where the server's time went, from py-spy's ``raw`` (collapsed stacks)
    output. Stacks rooted in the ``pasar`` script are the event loop's thread;
    SQLAlchemy's greenlets run on that thread too but py-spy roots them apart;
    the rest are aiosqlite's worker threads (minus their waits for work).
    Shares are of the window's wall time."""
    wait = _aiosqlite_wait_frame()
    loop_self: Counter[str] = Counter()
    loop_incl: Counter[str] = Counter()
    n_loop = n_greenlet = n_sqlite = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        raw = stack.split(";")
        frames = [re.sub(r":\d+\)$", ")", f) for f in raw]
        if frames[0].startswith("<module>"):
            n_loop += c
            loop_self[frames[-1]] += c
            for f in set(frames):
                loop_incl[f] += c
        elif frames[0].startswith("Thread._bootstrap"):
            if raw[-1] != wait:
                n_sqlite += c
        else:
            n_greenlet += c
    expected = max(window_s * rate, 1)
    say(
        f"profile: event-loop thread busy {100 * (n_loop + n_greenlet) / expected:.0f} % of "
        f"the window (of which stacks py-spy roots apart, mostly SQLAlchemy's greenlets, "
        f"{100 * n_greenlet / expected:.0f} %); "
        f"aiosqlite threads running SQLite {100 * n_sqlite / expected:.0f} %"
    )
    for fn in ("Hub.flush", "_TransportWriter.write", "_command_loop", "_first_frames"):
        c = sum(n for name, n in loop_incl.items() if name.startswith(fn + " ("))
        say(f"profile: loop in {fn} (inclusive) {100 * c / expected:5.1f} %")
    for name, c in loop_self.most_common(5):
        say(f"profile: loop self {100 * c / expected:5.1f} %  {name or '(native)'}")


def _stop_ours(run: Run) -> None:
    """The profiler and the generator (the server is stopped after them)."""
    if run.profiler is not None and run.profiler.poll() is None:
        run.profiler.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            run.profiler.wait(5)
    if run.generator is not None:
        if run.generator.is_alive():
            run.generator.join(3)
        if run.generator.is_alive():
            run.generator.kill()
            run.generator.join(3)


def _senders_for(chat_rate: float, like_rate: float) -> tuple[int, int]:
    senders = max(
        1, math.ceil(chat_rate / CHAT_PER_SENDER), math.ceil(like_rate / LIKES_PER_SENDER)
    )
    ips = max(1, math.ceil(chat_rate / CHAT_PER_IP), math.ceil(like_rate / LIKES_PER_IP))
    return senders, min(ips, senders, 250)


def bench(run: Run) -> None:
    a = run.args
    senders, sender_ips = _senders_for(a.chat_rate, a.like_rate)
    nofile = _raise_nofile(a.viewers + senders + 4096)
    if nofile < a.viewers + senders + 256:
        raise RuntimeError(f"open-files limit {nofile} is too low for {a.viewers} viewers")
    server = run.server
    server.extra_env.update(
        PASAR_WS_MAX_CONNECTIONS=str(a.viewers + senders + 1000),
        PASAR_WS_MAX_CONNECTIONS_PER_IP="0",  # the generator's viewers share few addresses
    )
    if a.tick_ms:
        server.extra_env["PASAR_WS_TICK_MS"] = str(a.tick_ms)
    server.start(a.port, demo=True, timeout=min(60, run.left()))
    assert server.demo is not None
    show_id, port, pid = server.demo["show_id"], server.port, server.pid
    say(
        f"server: pasar serve pid {pid} on {HOST}:{port} (SQLite, in-process broker, "
        f"tick {a.tick_ms or 100} ms), open-files limit {nofile}"
    )
    say(
        f"generator: 1 process on uvloop; {a.viewers - min(a.probes, a.viewers)} byte-counting "
        f"viewers (events counted in every byte stream) + {min(a.probes, a.viewers)} probes "
        "that parse every frame (latency, offsets)"
    )
    say(
        f"load: chat {a.chat_rate:g}/s and likes {a.like_rate:g}/s from {senders} sender "
        f"connections on {sender_ips} loopback addresses (127.0.0.2…), within the server's "
        "per-connection and per-IP limits; senders are not counted as viewers"
    )

    plan = Plan(
        port=port,
        show_id=show_id,
        server_pid=pid,
        viewers=a.viewers,
        probes=min(a.probes, a.viewers),
        senders=senders,
        sender_ips=sender_ips,
        chat_rate=a.chat_rate,
        like_rate=a.like_rate,
        warmup=a.warmup,
        seconds=a.seconds,
        drain=a.drain,
        concurrency=a.concurrency,
        nofile=nofile,
        deadline=run.deadline,
    )
    ctx = mp.get_context("spawn")
    pipe, child = ctx.Pipe()
    run.generator = ctx.Process(
        target=generator_main, args=(plan, child), name="pasar-bench-gen", daemon=True
    )
    run.generator.start()

    got = _expect(run, pipe, "senders")
    if got["connected"] < senders:
        raise RuntimeError(f"only {got['connected']} of {senders} senders connected: {got}")
    time.sleep(1.0)
    rss0 = _proc.rss_kb(pid)
    pipe.send("viewers")
    got = _expect(run, pipe, "viewers")
    connected = int(got["connected"])
    say(
        f"connected {connected} viewers ({got['probes']} probes) in {got['s']:.1f} s "
        f"({connected / max(got['s'], 1e-9):.0f}/s), {sum(got['failures'].values())} failed"
        + (f": {got['failures']}" if got["failures"] else "")
    )
    if connected == 0:
        raise RuntimeError("no viewer connected")
    time.sleep(3.0)  # idle: let the joins' garbage go
    rss1 = _proc.rss_kb(pid)
    per_conn = (rss1 - rss0) * 1024 / connected
    say(
        f"server memory: RSS {rss0 / 1024:.1f} MiB before the viewers, {rss1 / 1024:.1f} MiB "
        f"with {connected} idle viewers: {per_conn / 1000:.1f} kB per idle connection"
    )

    pipe.send("run")
    _expect(run, pipe, "window")
    profile = Path(a.profile).resolve() if a.profile else None
    py_spy = _proc.py_spy()
    if profile is not None and py_spy is not None:
        record = _proc.py_spy_record(py_spy, pid, a.seconds, profile, 100, "--nonblocking")
        run.profiler = _servers.start_process(record)
    r = _expect(run, pipe, "result")
    rss2 = _proc.rss_kb(pid)

    types = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["probe_types_per_s"].items()) if v)
    say(
        f"window {r['window_s']:.1f} s after {a.warmup:g} s of warm-up: chat acked "
        f"{r['acked_per_s']:.1f}/s, sender refusals {r['sender_errors'] or 0}"
    )
    say(
        f"per viewer {r['probe_events_per_s']:.1f} events/s on the probes ({types}); "
        f"{r['bytes_per_s'] / 1e6:.1f} MB/s to all viewers, mean event "
        f"{r['mean_event_bytes']:.0f} B on the wire"
    )
    say(
        f"latency send → receipt over {r['latencies']} probe receipts: p50 {r['p50_ms']:.1f} ms, "
        f"p90 {r['p90_ms']:.1f}, p99 {r['p99_ms']:.1f}, max {r['max_ms']:.1f}, "
        f"mean {r['mean_ms']:.1f}; of which send → ack (the server took and published "
        f"the message) p50 {r['ack_p50_ms']:.1f} ms, p99 {r['ack_p99_ms']:.1f}"
    )
    say(
        f"cpu: server {100 * r['server_cpu']:.0f} % of one core, generator "
        f"{100 * r['generator_cpu']:.0f} %, machine {100 * r['machine_busy']:.0f} % busy "
        f"(all {os.cpu_count()} cores); server RSS "
        f"{rss2 / 1024:.1f} MiB after the run"
    )
    say(
        f"offsets: last {r['last_offset']}, lost {r['lost']} ({r['gaps']} gaps, "
        f"{r['tail']} never arrived), duplicates {r['dupes']}; connections closed by the "
        f"server {r['closed_by_server'] or 0}"
    )
    ncpu = os.cpu_count() or 1
    others = r["machine_busy"] * ncpu - r["server_cpu"] - r["generator_cpu"]
    top = ", ".join(f"{name} {100 * share:.0f} %" for name, share in r["busy_others"])
    say(f"rest of the machine: {100 * others:.0f} % of a core (kernel, others: {top or 'none'})")
    if any(share > 0.1 for _, share in r["busy_others"]):
        say("warning: other processes were busy during the window; the figures are pessimistic")
    if not r["settled"]:
        say(
            f"drain: not settled after {a.drain:g} s ({r['unanswered']} chat messages "
            "unanswered); offsets still on their way are counted as lost"
        )
    if profile is not None and run.profiler is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            run.profiler.wait(15)
        if profile.exists():
            _summarise_profile(profile, a.seconds, 100)
            say(f"profile: collapsed stacks in {profile}")
        else:
            say("profile: py-spy wrote nothing (is it installed, may it ptrace?)")
    print(
        f"fanout: viewers={connected} deliveries_per_s={r['deliveries_per_s']:.0f} "
        f"p50_ms={r['p50_ms']:.1f} p99_ms={r['p99_ms']:.1f} lost={r['lost']}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--viewers", type=int, default=10_000, help="viewers of the show")
    p.add_argument("--probes", type=int, default=200, help="viewers that parse every frame")
    p.add_argument("--chat-rate", type=float, default=100.0, help="chat messages per second")
    p.add_argument("--like-rate", type=float, default=200.0, help="like commands per second")
    p.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    p.add_argument("--warmup", type=float, default=5.0, help="load before the window")
    p.add_argument("--drain", type=float, default=15.0, help="max wait for the probes after")
    p.add_argument("--tick-ms", type=int, default=0, help="PASAR_WS_TICK_MS (0: default)")
    p.add_argument("--concurrency", type=int, default=200, help="handshakes in flight")
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument("--timeout", type=float, default=900.0, help="give up after this many s")
    p.add_argument(
        "--profile", help="write a py-spy profile of the server's window here (pip install py-spy)"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir and log")
    args = p.parse_args(argv)
    if args.viewers < 1 or args.seconds <= 0:
        p.error("--viewers and --seconds must be positive")

    server = _servers.PasarServer("fanout", keep=args.keep)
    run = Run(args, deadline=time.time() + args.timeout, server=server)
    _servers.stop_on_signals()
    return _servers.run_reporting(
        say,
        server,
        lambda: bench(run),
        errors=(RuntimeError, TimeoutError, subprocess.SubprocessError),
        before_stop=lambda: _stop_ours(run),
    )


if __name__ == "__main__":
    sys.exit(main())
