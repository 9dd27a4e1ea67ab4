"""The load generator, in its own process (spawn, uvloop): it connects the senders,
then the viewers and probes when told, drives chat and likes, and sends back what
the window measured (``result``)."""

from __future__ import annotations

import asyncio
import base64
import math
import os
import resource
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import _proc
import _servers
from _fanout.checks import drain, offsets
from _fanout.clients import Probe, Sender, Viewer, Window
from _servers import HOST


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
    storm: int = 0  # viewers joining at once after the window, while the load goes on


def raise_nofile(want: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
        return want
    except (ValueError, OSError):  # not privileged: go as far as the hard limit
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard


def quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[i]


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


@dataclass
class Tally:
    """The running totals at one moment; the window is the difference of two."""

    t: float
    events: int
    nbytes: int
    probe_events: int
    types: Counter[str]
    server_cpu: float
    generator_cpu: float
    acks: int

    @classmethod
    def now(
        cls, viewers: list[Viewer], probes: list[Probe], senders: list[Sender], server_pid: int
    ) -> Tally:
        return cls(
            t=time.monotonic(),
            events=sum(v.events for v in viewers),
            nbytes=sum(v.nbytes for v in viewers),
            probe_events=sum(p.events for p in probes),
            types=sum((p.types for p in probes), Counter()),
            server_cpu=_proc.cpu_seconds(server_pid),
            generator_cpu=sum(os.times()[:2]),
            acks=sum(s.acks for s in senders),
        )


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
    start = Tally.now(viewers, probes, senders, plan.server_pid)
    busy = _proc.Busy({plan.server_pid, os.getpid(), os.getppid()})
    await asyncio.sleep(plan.seconds)
    Window.end_ns = time.time_ns()
    end = Tally.now(viewers, probes, senders, plan.server_pid)
    machine_busy, busy_others = busy.report(floor=0.0)
    chats = await driver
    settled = await drain(probes, senders, chats, plan.drain)

    window = end.t - start.t
    events, nbytes = end.events - start.events, end.nbytes - start.nbytes
    lat = sorted(Window.latencies_ms)
    acks = sorted(Window.acks_ms)
    errors: Counter[str] = Counter()
    for s in senders:
        errors.update(s.errors)
    closes = Counter(str(v.close_code) for v in viewers if v.gone)
    per_probe = window * max(len(probes), 1)
    result = {
        "viewers": len(viewers),
        "probes": len(probes),
        "window_s": window,
        "deliveries_per_s": events / window,
        "bytes_per_s": nbytes / window,
        "mean_event_bytes": nbytes / max(events, 1),
        "probe_events_per_s": (end.probe_events - start.probe_events) / per_probe,
        "probe_types_per_s": {k: (end.types[k] - start.types[k]) / per_probe for k in end.types},
        "latencies": len(lat),
        "p50_ms": quantile(lat, 0.50),
        "p90_ms": quantile(lat, 0.90),
        "p99_ms": quantile(lat, 0.99),
        "max_ms": lat[-1] if lat else float("nan"),
        "mean_ms": statistics.fmean(lat) if lat else float("nan"),
        "ack_p50_ms": quantile(acks, 0.50),
        "ack_p99_ms": quantile(acks, 0.99),
        **offsets(probes),
        "settled": settled,
        "unanswered": chats - sum(s.answered for s in senders),
        "machine_busy": machine_busy,
        "busy_others": busy_others,
        "acked_per_s": (end.acks - start.acks) / window,
        "sender_errors": dict(errors),
        "server_cpu": (end.server_cpu - start.server_cpu) / window,
        "generator_cpu": (end.generator_cpu - start.generator_cpu) / window,
        "closed_by_server": dict(closes),
        "probes_gone": sum(p.gone for p in probes),
    }
    if plan.storm:
        result["storm"] = await _storm(plan, senders)
    pipe.send(("result", result))
    for v in [*viewers, *senders]:
        v.abort()


async def _storm(plan: Plan, senders: list[Sender]) -> dict[str, Any]:
    """``plan.storm`` more viewers join at once (``plan.concurrency`` handshakes in
    flight) while the chat load goes on: how fast they join, whether any fails,
    and the latency of the probes already watching meanwhile."""
    loop = asyncio.get_running_loop()
    Window.latencies_ms = []
    Window.start_ns, Window.end_ns = time.time_ns(), 1 << 62
    driver = asyncio.create_task(
        _drive(senders, plan.chat_rate, plan.like_rate, loop.time() + 3600)
    )
    joined, failures, took = await _connect(plan, [Viewer] * plan.storm, [None] * plan.storm)
    Window.end_ns = time.time_ns()
    driver.cancel()
    await asyncio.sleep(plan.drain / 2)  # the last messages sent during the storm arrive
    lat = sorted(Window.latencies_ms)
    for v in joined:
        v.abort()
    return {
        "joined": len(joined),
        "failed": sum(failures.values()),
        "s": took,
        "p50_ms": quantile(lat, 0.50),
        "p99_ms": quantile(lat, 0.99),
        "latencies": len(lat),
    }


def generator_main(plan: Plan, pipe: Connection) -> None:
    """Entry point of the generator process."""
    raise_nofile(plan.nofile)
    _servers.child_main(_generator(plan, pipe), pipe, uvloop=True)
