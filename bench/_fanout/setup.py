"""Setting the fan-out benchmark up: the server (``pasar serve`` seeded with the demo,
connection limits above N) and the load generator's process."""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing as mp
import subprocess
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import _proc
import _servers
from _fanout.load import Plan, generator_main, raise_nofile
from _fanout.report import say
from _servers import HOST

CHAT_PER_SENDER = 0.8  # messages/s per connection (server limit: 1/s)
CHAT_PER_IP = 4.0  # messages/s per source address (server limit: 5/s)
LIKES_PER_SENDER = 8.0  # server limit: 10/s
LIKES_PER_IP = 80.0  # server limit: 100/s


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


def expect(run: Run, pipe: Connection, kind: str) -> dict[str, Any]:
    return _servers.expect(pipe, run.generator, kind, run.left(), "load generator")


def stop_ours(run: Run) -> None:
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


def senders_for(chat_rate: float, like_rate: float) -> tuple[int, int]:
    senders = max(
        1, math.ceil(chat_rate / CHAT_PER_SENDER), math.ceil(like_rate / LIKES_PER_SENDER)
    )
    ips = max(1, math.ceil(chat_rate / CHAT_PER_IP), math.ceil(like_rate / LIKES_PER_IP))
    return senders, min(ips, senders, 250)


def start_server(run: Run) -> Plan:
    """The open-files limit raised, ``pasar serve`` started with the demo seed and its
    connection limits above N; what the generator will do, said and returned."""
    a = run.args
    senders, sender_ips = senders_for(a.chat_rate, a.like_rate)
    nofile = raise_nofile(a.viewers + senders + 4096)
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
    say(
        f"server: pasar serve pid {server.pid} on {HOST}:{server.port} (SQLite, in-process "
        f"broker, tick {a.tick_ms or 100} ms), open-files limit {nofile}"
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
    return Plan(
        port=server.port,
        show_id=server.demo["show_id"],
        server_pid=server.pid,
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


def start_generator(run: Run, plan: Plan) -> Connection:
    """The load generator's process; the benchmark's end of the pipe to it."""
    ctx = mp.get_context("spawn")
    pipe, child = ctx.Pipe()
    run.generator = ctx.Process(
        target=generator_main, args=(plan, child), name="pasar-bench-gen", daemon=True
    )
    run.generator.start()
    return pipe


def start_profiler(run: Run, pid: int) -> Path | None:
    """With --profile, py-spy on the server for the window; where it writes."""
    a = run.args
    profile = Path(a.profile).resolve() if a.profile else None
    py_spy = _proc.py_spy()
    if profile is not None and py_spy is not None:
        record = _proc.py_spy_record(py_spy, pid, a.seconds, profile, 100, "--nonblocking")
        run.profiler = _servers.start_process(record)
    return profile
