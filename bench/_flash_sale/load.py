"""The load: wrk (C, LuaJIT) in its own process, running ``claims.lua``; the CPU each
group of processes used meanwhile; py-spy on the server's workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _proc
import _servers
from _flash_sale.setup import Run

CLAIM_BODY = '{"quantity":1}'
# wrk 4.x: the script's placeholders are the claim's body and its length
WRK_SCRIPT = (
    Path(__file__)
    .with_name("claims.lua")
    .read_text()
    .replace("#CLAIM_BODY", str(len(CLAIM_BODY)))
    .replace("CLAIM_BODY", "'" + CLAIM_BODY + "'")
)


@dataclass
class CpuWindow:
    """CPU used by each group of processes between two snapshots."""

    start: float
    procs: dict[int, _proc.Proc]
    jiffies: tuple[int, int]

    @classmethod
    def begin(cls) -> CpuWindow:
        return cls(time.monotonic(), _proc.processes(), _proc.machine_busy())

    def end(self, server_pid: int, wrk_pid: int | None, db_name: str) -> dict[str, Any]:
        wall = time.monotonic() - self.start
        now = _proc.processes()
        jiffies = _proc.machine_busy()
        server = _proc.descendants({server_pid}, now) | _proc.descendants({server_pid}, self.procs)
        groups: defaultdict[str, float] = defaultdict(float)
        workers: dict[int, float] = {}
        others: defaultdict[str, float] = defaultdict(float)
        for pid, p in now.items():
            before = self.procs.get(pid)
            used = p.cpu_s - (before.cpu_s if before else 0.0)
            if used <= 0:
                continue
            if pid in server:
                groups["server"] += used
                workers[pid] = used
            elif pid == wrk_pid:
                groups["wrk"] += used
            elif p.name == "postgres" or p.cmdline.startswith("postgres"):
                groups["postgres (this db)" if db_name in p.cmdline else "postgres (rest)"] += used
            elif p.name == "redis-server":
                groups["redis"] += used
            elif pid == os.getpid():
                groups["bench"] += used
            else:
                groups["other"] += used
                others[f"{p.name}[{pid}]"] += used
        busy = _proc.busy_share(self.jiffies, jiffies)
        return {
            "wall": wall,
            "groups": {k: v / wall for k, v in groups.items()},
            "workers": sorted(
                (v / wall for v in workers.values() if v / wall > 0.01), reverse=True
            ),
            "others": sorted(((k, v / wall) for k, v in others.items()), key=lambda kv: -kv[1])[:3],
            "machine": busy * (os.cpu_count() or 1),
        }


def done_count(path: Path) -> int:
    return len(list(path.glob("done-*")))


def answered_ids(done_dir: Path) -> list[str]:
    """The reservation ids wrk saw in 201 answers (one file per wrk thread)."""
    ids: list[str] = []
    for path in sorted(done_dir.glob("ids-*")):
        ids += [line for line in path.read_text().splitlines() if line]
    return ids


@dataclass
class Load:
    requests: int
    window_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    status: dict[str, int]
    codes: dict[str, int]
    errors: dict[str, int]
    cpu: dict[str, Any]
    ids: list[str]

    @property
    def per_s(self) -> float:
        return self.requests / self.window_s if self.window_s > 0 else 0.0

    @property
    def created(self) -> int:
        return self.status.get("201", 0)

    def describe(self) -> str:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.status.items()))
        codes = ", ".join(f"{k} {v}" for k, v in sorted(self.codes.items()))
        errors = ", ".join(f"{k} {v}" for k, v in self.errors.items() if v and k != "status")
        text = (
            f"{self.requests} answers in {self.window_s:.2f} s = {self.per_s:.0f}/s; latency "
            f"p50 {self.p50_ms:.1f} ms, p90 {self.p90_ms:.1f}, p99 {self.p99_ms:.1f}, "
            f"p99.9 {self.p999_ms:.1f}, max {self.max_ms:.1f}, mean {self.mean_ms:.1f}; "
            f"statuses {statuses or 'none'}"
        )
        if codes:
            text += f" ({codes})"
        if errors:
            text += f"; socket errors {errors}"
        return text


async def run_wrk(
    run: Run,
    target: tuple[str, str],  # (base URL, the PostgreSQL database in use)
    mode: str,
    path: str,
    tokens: Path | None,
    seconds: float,
    prefix: str,
    on_window: Any = None,
) -> Load:
    """One wrk run. ``list`` mode ends when every thread has its answers (the bench
    then interrupts wrk, which prints its summary at once)."""
    a = run.args
    script = run.tmp / "flash_sale.lua"
    if not script.exists():
        script.write_text(WRK_SCRIPT)
    done_dir = run.tmp / f"done-{prefix}"
    fresh_dir(done_dir)
    # list: wrk's own duration is only a bound (the bench interrupts it when done)
    duration = max(1, round(seconds)) if mode != "list" else int(min(run.left(), 180))
    cmd = [
        run.wrk,
        "-t",
        str(a.threads),
        "-c",
        str(a.connections),
        "-d",
        f"{duration}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        target[0] + "/",
        "--",
        mode,
        path,
        str(tokens or "-"),
        str(a.threads),
        prefix,
        str(done_dir),
    ]
    cpu = CpuWindow.begin()
    run.load = await asyncio.create_subprocess_exec(
        *cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        preexec_fn=_servers.die_with_parent,
    )
    assert run.server is not None
    window_task = asyncio.create_task(on_window(run.server.pid)) if on_window else None
    try:
        if mode == "list":
            until = time.monotonic() + duration
            while done_count(done_dir) < a.threads and time.monotonic() < until:
                if run.load.returncode is not None:
                    break
                await asyncio.sleep(0.01)
            if done_count(done_dir) < a.threads:
                run.problem(f"{prefix}: not every claim was answered within {duration} s")
            with contextlib.suppress(ProcessLookupError):
                run.load.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(run.load.communicate(), duration + 60)
        usage = cpu.end(run.server.pid, run.load.pid, target[1])
    finally:
        if run.load.returncode is None:
            run.load.kill()
            await run.load.wait()
        if window_task is not None:
            await window_task
    text = out.decode(errors="replace")
    found = re.search(r"^pasar-result (\{.*\})$", text, re.M)
    if found is None:
        raise RuntimeError(f"wrk printed no result: {text[-500:]} {err.decode()[-500:]}")
    r = json.loads(found.group(1))
    if mode == "list":
        window_s = (r["last_us"] - r["first_us"]) / 1e6
    else:
        window_s = r["duration_us"] / 1e6
    return Load(
        requests=r["requests"],
        window_s=window_s,
        p50_ms=r["p50_us"] / 1e3,
        p90_ms=r["p90_us"] / 1e3,
        p99_ms=r["p99_us"] / 1e3,
        p999_ms=r["p999_us"] / 1e3,
        max_ms=r["max_us"] / 1e3,
        mean_ms=r["mean_us"] / 1e3,
        status=r["status"],
        codes=r["codes"],
        errors=r["errors"],
        cpu=usage,
        ids=answered_ids(done_dir),
    )


def fresh_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


async def profile_workers(run: Run, server_pid: int, seconds: float, out_dir: Path) -> None:
    """py-spy every server worker for ``seconds`` (after 1 s, wrk's connects)."""
    py_spy = _proc.py_spy()
    if py_spy is None:
        run.problem("--profile: py-spy is not installed (pip install py-spy)")
        return
    await asyncio.sleep(1.0)
    procs = _proc.processes()
    workers = [
        pid
        for pid in _proc.descendants({server_pid}, procs)
        if pid != server_pid and "resource_tracker" not in procs[pid].cmdline
    ]
    fresh_dir(out_dir)
    for pid in workers:
        output = out_dir / f"worker-{pid}.txt"
        run.profilers.append(
            await asyncio.create_subprocess_exec(
                *_proc.py_spy_record(py_spy, pid, seconds, output, 100, "--nonblocking"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_servers.die_with_parent,
            )
        )
    for p in run.profilers:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(p.wait(), seconds + 30)
    run.profilers.clear()
