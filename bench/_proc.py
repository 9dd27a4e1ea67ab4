"""What the benchmarks measure of processes and of the machine, from /proc (Linux).

* one process: its CPU seconds (all threads, or each thread) and its RSS;
* every process: name, parent, command line and CPU seconds (``processes``), to
  group them (a server and its workers: ``descendants``) and to name what else kept
  the machine busy during a window (``Busy``);
* the machine: busy share of all cores, load average, CPU model and memory;
* py-spy: where it is and the ``record`` command line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


def _stat_cpu(path: str) -> tuple[str, int, float]:
    """(name, parent pid, user + system CPU seconds) from a /proc ``stat`` file. The
    name is in parentheses and may hold spaces: the fields after its last ")" count."""
    with open(path) as f:
        head, _, rest = f.read().rpartition(")")
    fields = rest.split()
    ticks = int(fields[11]) + int(fields[12])
    return head.partition("(")[2], int(fields[1]), ticks / os.sysconf("SC_CLK_TCK")


# -- one process ------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    return _stat_cpu(f"/proc/{pid}/stat")[2]


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of a process (/proc/<pid>/task/<tid>/stat)."""
    out: dict[int, float] = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                out[int(tid)] = _stat_cpu(f"/proc/{pid}/task/{tid}/stat")[2]
    return out


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# -- every process ----------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    name: str
    cmdline: str
    cpu_s: float


def processes() -> dict[int, Proc]:
    """Every process on the machine with its CPU seconds (user + system, all threads)."""
    out: dict[int, Proc] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            name, ppid, cpu_s = _stat_cpu(f"/proc/{entry}/stat")
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            out[int(entry)] = Proc(int(entry), ppid, name, cmdline, cpu_s)
    return out


def descendants(roots: Iterable[int], procs: dict[int, Proc] | None = None) -> set[int]:
    """These processes and all their children (a server's workers, Chromium's, …)."""
    procs = processes() if procs is None else procs
    found = set(roots)
    grew = True
    while grew:
        more = {p.pid for p in procs.values() if p.ppid in found} - found
        found |= more
        grew = bool(more)
    return found


# -- the machine --------------------------------------------------------------------


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Busy share of all cores between two ``machine_busy()`` readings."""
    return (after[0] - before[0]) / max(after[1] - before[1], 1)


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def memory_gib() -> float:
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) / 1024 / 1024
    return 0.0


def machine_line(*software: str) -> str:
    """The machine, the ``software`` measured with, and the load average now."""
    return (
        f"{os.cpu_count()} CPUs ({cpu_model()}), {memory_gib():.1f} GiB RAM, "
        f"{', '.join(software)}; load average {load_average()}"
    )


class Busy:
    """What the rest of the machine did over a window (other processes' CPU)."""

    def __init__(self, ours: set[int]) -> None:
        self.ours = ours
        self.t0 = time.monotonic()
        self.machine0 = machine_busy()
        self.procs0 = processes()

    def report(self, floor: float = 0.005) -> tuple[float, list[tuple[str, float]]]:
        """(machine busy share of all cores, the top 3 other processes in cores, those
        above ``floor``)."""
        span = max(time.monotonic() - self.t0, 1e-9)
        m1, procs1 = machine_busy(), processes()
        others = sorted(
            (
                ((p.cpu_s - self.procs0[pid].cpu_s) / span, f"{p.name}[{pid}]")
                for pid, p in procs1.items()
                if pid in self.procs0 and pid not in self.ours
            ),
            reverse=True,
        )[:3]
        top = [(name, used) for used, name in others if used > floor]
        return busy_share(self.machine0, m1), top


# -- py-spy -------------------------------------------------------------------------


def py_spy() -> str | None:
    """py-spy next to this Python (the venv's), else on the PATH."""
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def py_spy_record(
    py_spy: str, pid: int, seconds: float, output: Path, rate: int = 100, *flags: str
) -> list[str]:
    """``py-spy record`` of ``pid`` for ``seconds`` (at least 1) in the raw (collapsed
    stacks) format; ``flags``: --nonblocking, --native, --idle, --threads …"""
    return [
        py_spy,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, int(seconds))),
        "--rate",
        str(rate),
        *flags,
        "--format",
        "raw",
        "--output",
        str(output),
    ]
