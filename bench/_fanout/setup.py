"""Setting the fan-out benchmark up: the server (``pasar serve`` seeded with the demo,
connection limits above N; for the festival backend on a fresh PostgreSQL database
with the Redis broker), the bare broadcast server, and the load generator's process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing as mp
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import _proc
import _servers
from _fanout.load import Plan, generator_main, raise_nofile
from _fanout.report import say
from _flash_sale.setup import pg_dsn, postgres, sqlalchemy_url
from _servers import HOST

BARE = Path(__file__).with_name("bare.py")

CHAT_PER_SENDER = 0.8  # messages/s per connection (server limit: 1/s)
CHAT_PER_IP = 4.0  # messages/s per source address (server limit: 5/s)
LIKES_PER_SENDER = 8.0  # server limit: 10/s
LIKES_PER_IP = 80.0  # server limit: 100/s


@dataclass
class Run:
    args: argparse.Namespace
    deadline: float
    backend: str  # embedded | festival | bare
    server: _servers.PasarServer
    generator: Any = None  # multiprocessing.Process (spawn context)
    profiler: subprocess.Popen[bytes] | None = None
    bare: subprocess.Popen[bytes] | None = None
    database: str | None = None  # the festival backend's PostgreSQL database

    def left(self) -> float:
        left = self.deadline - time.time()
        if left <= 0:
            raise TimeoutError(f"the benchmark exceeded --timeout {self.args.timeout} s")
        return left


def expect(run: Run, pipe: Connection, kind: str) -> dict[str, Any]:
    return _servers.expect(pipe, run.generator, kind, run.left(), "load generator")


def stop_ours(run: Run) -> None:
    """The profiler, the generator and the bare server (``pasar serve`` is stopped
    after them)."""
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
    _servers.stop_process(run.bare, grace=3)


def senders_for(chat_rate: float, like_rate: float) -> tuple[int, int]:
    senders = max(
        1, math.ceil(chat_rate / CHAT_PER_SENDER), math.ceil(like_rate / LIKES_PER_SENDER)
    )
    ips = max(1, math.ceil(chat_rate / CHAT_PER_IP), math.ceil(like_rate / LIKES_PER_IP))
    return senders, min(ips, senders, 250)


def _limits(run: Run) -> tuple[int, int, int]:
    """(senders, their source addresses, the open-files limit), raised above N."""
    a = run.args
    senders, sender_ips = senders_for(a.chat_rate, a.like_rate)
    nofile = raise_nofile(a.viewers + a.storm + senders + 4096)
    if nofile < a.viewers + a.storm + senders + 256:
        raise RuntimeError(f"open-files limit {nofile} is too low for {a.viewers} viewers")
    return senders, sender_ips, nofile


def _plan(run: Run, port: int, show_id: str, pid: int) -> Plan:
    """What the generator will do against the server on ``port``, said and returned."""
    a = run.args
    senders, sender_ips, nofile = _limits(run)
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
        storm=a.storm if run.backend != "bare" else 0,
        nofile=nofile,
        deadline=run.deadline,
    )


async def _create_database(admin: str, name: str) -> None:
    async with postgres(pg_dsn(admin)) as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')


async def _drop_database(admin: str, name: str) -> None:
    async with postgres(pg_dsn(admin)) as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _clean_redis(url: str, show_id: str) -> None:
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"rt:{{{show_id}}}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def festival_down(run: Run) -> None:
    """After ``pasar serve`` stopped: the festival backend's database dropped and its
    show's Redis keys removed."""
    if run.backend != "festival":
        return
    try:
        if run.server.demo is not None:
            asyncio.run(_clean_redis(run.args.redis, run.server.demo["show_id"]))
    except Exception as exc:
        say(f"warning: could not remove the bench's Redis keys: {exc}")
    name, run.database = run.database, None
    if name is not None:
        try:
            asyncio.run(_drop_database(run.args.postgres, name))
        except Exception as exc:
            say(f"warning: could not drop the database {name}: {exc}")


def start_server(run: Run) -> Plan:
    """The open-files limit raised, ``pasar serve`` started with the demo seed and its
    connection limits above N (festival: on a fresh PostgreSQL database, with the
    Redis broker); what the generator will do, said and returned."""
    a = run.args
    senders, _, nofile = _limits(run)
    server = run.server
    server.extra_env.update(
        PASAR_WS_MAX_CONNECTIONS=str(a.viewers + a.storm + senders + 1000),
        PASAR_WS_MAX_CONNECTIONS_PER_IP="0",  # the generator's viewers share few addresses
    )
    if a.tick_ms:
        server.extra_env["PASAR_WS_TICK_MS"] = str(a.tick_ms)
    what = "SQLite, in-process broker"
    if run.backend == "festival":
        run.database = f"pasar_bench_fanout_{os.getpid()}"
        asyncio.run(_create_database(a.postgres, run.database))
        server.extra_env.update(
            PASAR_DATABASE_URL=sqlalchemy_url(a.postgres, run.database),
            PASAR_REDIS_URL=a.redis,
        )
        what = f"PostgreSQL database {run.database}, Redis broker {a.redis}"
    server.start(a.port, demo=True, timeout=min(60, run.left()))
    assert server.demo is not None
    say(
        f"server ({run.backend}): pasar serve pid {server.pid} on {HOST}:{server.port} "
        f"({what}, tick {a.tick_ms or 100} ms), open-files limit {nofile}"
    )
    return _plan(run, server.port, server.demo["show_id"], server.pid)


def start_bare(run: Run, events_per_s: float, event_bytes: int) -> Plan:
    """The bare broadcast server (``bare.py``) started with Pasar's tick, events per
    viewer and bytes per event; what the generator will do, said and returned."""
    a = run.args
    _limits(run)  # the bare server inherits the raised open-files limit
    port = a.port or _servers.free_port()
    # Run as a module of bench/ so that it shares the clients' handshake reading.
    cmd = [sys.executable, "-m", "_fanout.bare", "--port", str(port)]
    cmd += ["--tick-ms", str(a.tick_ms or 100)]
    cmd += ["--events-per-s", f"{events_per_s:.3f}", "--event-bytes", str(event_bytes)]
    log = run.server.tmp / "bare.log"
    run.bare = _servers.start_process(cmd, log=log, cwd=BARE.parent.parent)
    until = time.time() + min(30, run.left())
    while "bare ready" not in (log.read_text() if log.exists() else ""):
        if run.bare.poll() is not None or time.time() > until:
            raise RuntimeError(f"the bare server did not start: {log.read_text()[-500:]}")
        time.sleep(0.1)
    say(
        f"server (bare): asyncio on uvloop, no Pasar code, pid {run.bare.pid} on {HOST}:{port}: "
        f"one pre-encoded frame per {a.tick_ms or 100} ms tick to every connection, "
        f"{events_per_s:.1f} events/s per viewer of {event_bytes} B (as Pasar's frames)"
    )
    return _plan(run, port, "bare", run.bare.pid)


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
    if profile is not None and a.backend == "both":  # one file per backend
        profile = profile.with_name(f"{profile.stem}-{run.backend}{profile.suffix}")
    py_spy = _proc.py_spy()
    if profile is not None and py_spy is not None:
        record = _proc.py_spy_record(py_spy, pid, a.seconds, profile, 100, "--nonblocking")
        run.profiler = _servers.start_process(record)
    return profile
