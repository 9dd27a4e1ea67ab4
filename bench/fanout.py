"""Fan-out benchmark: N viewers of one show, a chat and a like rate, delivery and latency.

Run it from the repository root (with the dev install)::

    .venv/bin/python bench/fanout.py                      # 10,000 viewers, 100 msg/s, 20 s
    .venv/bin/python bench/fanout.py --viewers 1000 --seconds 10
    .venv/bin/python bench/fanout.py --backend both       # festival, then embedded

Backends (``--backend``; the default is ``embedded`` alone, to keep the default
run short; ``both`` runs ``festival`` first, then ``embedded``):

* ``embedded``: SQLite in a fresh data directory, the in-process broker;
* ``festival``: a fresh PostgreSQL database made and dropped by the bench
  (``pasar_bench_fanout_<pid>`` via ``--postgres``, default
  ``$PASAR_BENCH_POSTGRES`` or ``postgresql://postgres@127.0.0.1:5432/postgres``)
  and the Redis broker (``--redis``, default ``$PASAR_BENCH_REDIS`` or
  ``redis://127.0.0.1:6379/5``; the show's ``rt:{…}`` keys are removed after).

After the backends, unless ``--no-bare``, a **bare broadcast server**
(``bench/_fanout/bare.py``: plain asyncio on uvloop, no Pasar code) is measured
the same way, as the machine's limit: it accepts the same viewers and senders,
acks every chat message at once and, every tick (``--tick-ms``), writes one
pre-encoded frame to every connection, carrying the chat messages of the tick
(with offsets, so the probes time and check them) topped up with filler to the
last backend's events per viewer per second, every event padded to its mean
size on the wire.

What it does, for each backend:

* seeds the demo vendor and show and starts ``pasar serve`` on a free loopback
  port with ``PASAR_WS_MAX_CONNECTIONS`` above N, after raising the
  open-files limit (``RLIMIT_NOFILE``) for itself and the processes it starts;
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
  py-spy summary of the server during the window;
* with ``--storm K``, then lets K more viewers join at once (``--concurrency``
  handshakes in flight) while the load goes on, and prints ``fanout: storm …``:
  their join rate, how many failed, and the p50/p99 of the probes already
  watching while they joined.

At the end it prints the result lines: one per backend, with the bare server's
just before the embedded one, so that the embedded line is the last::

    fanout: backend=festival viewers=<N> deliveries_per_s=<X> p50_ms=<a> p99_ms=<b> \
        lost=<k> kb_per_conn=<m>
    fanout_bare: deliveries_per_s=<X> p99_ms=<b>
    fanout: backend=embedded viewers=<N> deliveries_per_s=<X> p50_ms=<a> p99_ms=<b> \
        lost=<k> kb_per_conn=<m>

(each ``fanout:`` result is one line; wrapped here).

``deliveries_per_s`` is the number of events (chat messages, like and viewer
counts, …) received by all N viewers during the window, per second.
``lost`` is the number of offsets missing on the probes (gaps, and offsets
never received by the end of the drain), including probes the server dropped.
``kb_per_conn`` is the server's memory per idle connection, in kB.

Everything listens and connects on loopback only. The run is bounded by
``--timeout``; the server and the generator are stopped on every exit (and die
with this process if it is killed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from typing import Any

import _proc
import _servers
from _fanout.load import Plan
from _fanout.report import (
    bare_line,
    profile_lines,
    result_line,
    say,
    storm_line,
    window_lines,
)
from _fanout.setup import (
    Run,
    expect,
    festival_down,
    start_bare,
    start_generator,
    start_profiler,
    start_server,
    stop_ours,
)

ERRORS = (RuntimeError, TimeoutError, OSError, subprocess.SubprocessError)


def measure(run: Run, plan: Plan) -> dict[str, Any]:
    """Connect the senders and the viewers to the server of ``plan``, run the load;
    the window's figures, with ``connected`` and ``kb_per_conn`` (server memory per
    idle connection, in kB) added."""
    a = run.args
    pid = plan.server_pid
    pipe = start_generator(run, plan)

    got = expect(run, pipe, "senders")
    if got["connected"] < plan.senders:
        raise RuntimeError(f"only {got['connected']} of {plan.senders} senders connected: {got}")
    time.sleep(1.0)
    rss0 = _proc.rss_kb(pid)
    pipe.send("viewers")
    got = expect(run, pipe, "viewers")
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
    expect(run, pipe, "window")
    profile = start_profiler(run, pid) if run.backend != "bare" else None
    r = expect(run, pipe, "result")
    window_lines(r, a.warmup, a.drain, _proc.rss_kb(pid))
    if "storm" in r:
        say(storm_line(run.backend, r["storm"]))
    if profile is not None and run.profiler is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            run.profiler.wait(15)
        profile_lines(profile, a.seconds)
    return {**r, "connected": connected, "kb_per_conn": per_conn / 1000}


def one_run(run: Run, shape: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
    """One backend (or, with ``shape``, the bare server sending frames of that
    shape) measured: (exit code, figures); whatever it started is stopped."""
    got: dict[str, Any] = {}

    def body() -> None:
        if shape is None:
            plan = start_server(run)
        else:
            events = shape["probe_events_per_s"]
            plan = start_bare(run, events, max(32, round(shape["mean_event_bytes"])))
        got.update(measure(run, plan))

    try:
        code = _servers.run_reporting(
            say, run.server, body, errors=ERRORS, before_stop=lambda: stop_ours(run)
        )
    finally:
        festival_down(run)
    return code, got


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--backend",
        choices=("embedded", "festival", "both"),
        default="embedded",
        help="embedded (SQLite, in-process broker), festival (PostgreSQL + Redis) or both",
    )
    p.add_argument(
        "--no-bare",
        dest="bare",
        action="store_false",
        help="skip the bare broadcast server (no Pasar code) measured after the backends",
    )
    p.add_argument("--viewers", type=int, default=10_000, help="viewers of the show")
    p.add_argument("--probes", type=int, default=200, help="viewers that parse every frame")
    p.add_argument("--chat-rate", type=float, default=100.0, help="chat messages per second")
    p.add_argument("--like-rate", type=float, default=200.0, help="like commands per second")
    p.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    p.add_argument("--warmup", type=float, default=5.0, help="load before the window")
    p.add_argument("--drain", type=float, default=15.0, help="max wait for the probes after")
    p.add_argument("--tick-ms", type=int, default=0, help="PASAR_WS_TICK_MS (0: default)")
    p.add_argument("--concurrency", type=int, default=200, help="handshakes in flight")
    p.add_argument(
        "--storm",
        type=int,
        default=0,
        help="after the window, this many more viewers join at once under the same load "
        "(a join storm): their join rate and failures, and the watchers' latency meanwhile",
    )
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument("--timeout", type=float, default=900.0, help="give up after this many s")
    p.add_argument(
        "--postgres",
        default=os.environ.get(
            "PASAR_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="festival: PostgreSQL maintenance URL; the bench creates and drops its database",
    )
    p.add_argument(
        "--redis",
        default=os.environ.get("PASAR_BENCH_REDIS", "redis://127.0.0.1:6379/5"),
        help="festival: the Redis broker's URL (the show's keys are removed after)",
    )
    p.add_argument(
        "--profile", help="write a py-spy profile of the server's window here (pip install py-spy)"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir and log")
    args = p.parse_args(argv)
    if args.viewers < 1 or args.seconds <= 0:
        p.error("--viewers and --seconds must be positive")

    deadline = time.time() + args.timeout
    _servers.stop_on_signals()
    backends = ["festival", "embedded"] if args.backend == "both" else [args.backend]
    lines: dict[str, str] = {}
    shape: dict[str, Any] = {}
    for backend in [*backends, *(["bare"] if args.bare else [])]:
        say(f"--- {backend}")
        server = _servers.PasarServer(f"fanout-{backend}", keep=args.keep)
        run = Run(args, deadline=deadline, backend=backend, server=server)
        code, r = one_run(run, shape if backend == "bare" else None)
        if code:
            return code
        if backend == "bare":
            lines[backend] = bare_line(r)
        else:
            lines[backend] = result_line(backend, r["connected"], r, r["kb_per_conn"])
            shape = r  # the bare server copies the last backend's frames (embedded's)
    # The result lines, the embedded one last (the bare one just before it).
    for backend in ("festival", "bare", "embedded"):
        if backend in lines:
            print(lines[backend], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
