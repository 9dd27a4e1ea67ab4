"""What the fan-out benchmark prints: its lines, the py-spy summary and the result lines."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Any


def say(line: str) -> None:
    print(f"fanout: {line}", flush=True)


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


def summarise_profile(path: Path, window_s: float, rate: int) -> None:
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


def window_lines(r: dict[str, Any], warmup: float, drain: float, rss_kb: int) -> None:
    """What the generator measured over the window (``r``), line by line."""
    types = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["probe_types_per_s"].items()) if v)
    say(
        f"window {r['window_s']:.1f} s after {warmup:g} s of warm-up: chat acked "
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
        f"{rss_kb / 1024:.1f} MiB after the run"
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
            f"drain: not settled after {drain:g} s ({r['unanswered']} chat messages "
            "unanswered); offsets still on their way are counted as lost"
        )


def profile_lines(profile: Path, window_s: float) -> None:
    if profile.exists():
        summarise_profile(profile, window_s, 100)
        say(f"profile: collapsed stacks in {profile}")
    else:
        say("profile: py-spy wrote nothing (is it installed, may it ptrace?)")


def result_line(backend: str, viewers: int, r: dict[str, Any], kb_per_conn: float) -> str:
    """One backend's result line."""
    return (
        f"fanout: backend={backend} viewers={viewers} "
        f"deliveries_per_s={r['deliveries_per_s']:.0f} p50_ms={r['p50_ms']:.1f} "
        f"p99_ms={r['p99_ms']:.1f} lost={r['lost']} kb_per_conn={kb_per_conn:.1f}"
    )


def storm_line(backend: str, st: dict[str, Any]) -> str:
    """The join storm's figures (informative: the result line stays the window's)."""
    return (
        f"storm ({backend}): {st['joined']} viewers joined in {st['s']:.1f} s "
        f"({st['joined'] / max(st['s'], 1e-9):.0f}/s), {st['failed']} failed; meanwhile "
        f"the watchers' send → receipt p50 {st['p50_ms']:.1f} ms, p99 {st['p99_ms']:.1f} "
        f"over {st['latencies']} receipts"
    )


def bare_line(r: dict[str, Any]) -> str:
    """The bare broadcast server's result line."""
    return f"fanout_bare: deliveries_per_s={r['deliveries_per_s']:.0f} p99_ms={r['p99_ms']:.1f}"
