"""What the flash-sale benchmark prints: its lines (CPU, the record, PostgreSQL's
counters per claim, the py-spy summary) and the figure lines that come last."""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _servers


def say(line: str) -> None:
    print(f"flash_sale: {line}", flush=True)


def cpu_line(cpu: dict[str, Any], answers: int) -> str:
    """Cores each group used during the window, and CPU time per answer (less
    sensitive than rates to what else the machine is doing)."""
    g = cpu["groups"]
    order = ["server", "postgres (this db)", "postgres (rest)", "redis", "wrk", "bench", "other"]
    parts = [f"{name} {g[name]:.2f}" for name in order if g.get(name, 0) >= 0.005]
    workers = " + ".join(f"{w:.2f}" for w in cpu["workers"])
    line = (
        f"cpu over {cpu['wall']:.1f} s, in cores: {', '.join(parts)} "
        f"(server workers {workers}); machine {cpu['machine']:.2f} of {os.cpu_count()}"
    )
    if cpu["others"]:
        line += "; busiest others: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu["others"])
    if answers > 0:
        per = {k: g.get(k, 0.0) * cpu["wall"] / answers * 1e6 for k in order}
        line += (
            f"; per answer: server {per['server']:.0f} µs, postgres "
            f"{per['postgres (this db)'] + per['postgres (rest)']:.0f} µs, redis "
            f"{per['redis']:.0f} µs, wrk {per['wrk']:.0f} µs"
        )
    return line


@dataclass
class Figure:
    engine: str
    phase: str
    claims_per_s: float
    p99_ms: float
    reserved: int
    quantity: int
    oversold: int
    bare_per_s: float

    def line(self) -> str:
        ratio = self.claims_per_s / self.bare_per_s if self.bare_per_s else float("nan")
        return (
            f"flash_sale: engine={self.engine} phase={self.phase} "
            f"claims_per_s={self.claims_per_s:.0f} p99_ms={self.p99_ms:.1f} "
            f"reserved={self.reserved} quantity={self.quantity} oversold={self.oversold} "
            f"bare_per_s={self.bare_per_s:.0f} ratio={ratio:.3f}"
        )


def record_line(rec: dict[str, Any]) -> str:
    return (
        f"record: {rec['rows']} reservations ({rec['held']} units held, {rec['confirmed']} "
        f"confirmed) by {rec['shoppers']} shoppers, deal_stock remaining {rec['remaining']} "
        f"sold {rec['sold']}, holdings {rec['holdings']}, shoppers over the limit "
        f"{rec['over_limit']}"
    )


def pg_per_claim(before: dict[str, int], after: dict[str, int], claims: int) -> str:
    """PostgreSQL's own counters over the phase (and its settling), per claim. A batch
    that reserves updates its deal_stock row twice (the lock, then the count), so
    claims per batch ≈ 2 × claims / updates. Index scans include foreign-key checks
    (each reservation and holding row inserted checks ``deals``)."""
    if claims <= 0:
        return "no claims"

    def d(key: str) -> float:
        return (after.get(key, 0) - before.get(key, 0)) / claims

    updates = d("deal_stock.upd")
    size = f"{2 / updates:.1f}" if updates > 0 else "-"
    return (
        f"per claim: {d('xact_commit'):.3f} commits, {d('xact_rollback'):.3f} rollbacks "
        f"(read-only sessions), deal_stock row updates {updates:.3f} (≈ {size} claims per "
        f"batch), rows inserted {d('tup_inserted'):.2f}, updated {d('tup_updated'):.2f}; "
        f"index scans (statements and FK checks): reservations "
        f"{d('reservations.idx'):.2f}, deal_shoppers {d('deal_shoppers.idx'):.2f}, "
        f"webhook_endpoints {d('webhook_endpoints.idx') + d('webhook_endpoints.seq'):.2f}, "
        f"deals {d('deals.idx') + d('deals.seq'):.2f}"
    )


PACKAGES = (
    ("SQLAlchemy", "sqlalchemy/"),
    ("asyncpg", "asyncpg/"),
    ("redis-py", "redis/"),
    ("uvicorn", "uvicorn/"),
    ("Starlette", "starlette/"),
    ("anyio", "anyio/"),
    ("FastAPI", "fastapi/"),
    ("pydantic", "pydantic"),
    ("PyJWT", "jwt/"),
    ("pasar", "pasar/"),
    ("asyncio", "asyncio/"),
    ("json", "json/"),
)

# (label, frame prefix): time on the CPU with that frame on the stack. Coroutines
# count only while they run, not while they await; SQLAlchemy runs its statements
# in greenlets, which py-spy shows as stacks of their own (the last line).
INCLUSIVE = (
    ("Starlette BaseHTTPMiddleware (app.py's two @app.middleware)", "BaseHTTPMiddleware."),
    ("claim route: storefront.claim", "claim (pasar/web/routes/storefront.py"),
    ("  shopper JWT: ShopperCredentials.for_vendor", "for_vendor (pasar/web/shopper.py"),
    ("  Commerce.claim", "Commerce.claim (pasar/commerce/live.py"),
    ("  RedisStock.claim", "RedisStock.claim (pasar/commerce/stock_redis.py"),
    ("  the answer: RESERVATION_OUT (TypeAdapter)", "TypeAdapter."),
    ("  Commerce.checkout_url", "Commerce.checkout_url (pasar/commerce/live.py"),
    ("GroupCommit._commit", "GroupCommit._commit (pasar/commerce/groupcommit.py"),
    ("  ledger.reserve_batch", "reserve_batch (pasar/commerce/ledger.py"),
    ("  Commerce._record_events", "Commerce._record_events (pasar/commerce/live.py"),
    ("  webhooks enqueue", "enqueue (pasar/webhooks/outbox.py"),
    ("Database.session (sessions opened)", "Database.session (pasar/db/engine.py"),
    ("asyncpg connecting", "connect_utils.py"),
    ("deal ticker / tend loop", "Commerce._t"),
    ("webhook dispatcher", "pasar/webhooks/dispatcher.py"),
)


def summarise_profile(out_dir: Path, seconds: float, rate: int = 100) -> list[str]:
    """Where the workers' time went, from py-spy's raw output (collapsed stacks,
    idle samples left out). Shares are of one worker's wall time (all workers
    together: the sum of their shares)."""
    files = sorted(out_dir.glob("worker-*.txt"))
    if not files:
        return ["profile: py-spy wrote nothing (is it installed, may it ptrace?)"]
    wall = max(seconds * rate * len(files), 1)
    loop = greenlets = threads = 0
    package: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for path in files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            c = int(count)
            frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";") if f]
            if not frames:
                continue
            if frames[0].startswith("Thread._bootstrap"):
                threads += c  # uvicorn's supervisor pipe and the like, not the loop
                continue
            if frames[0].startswith("<module>"):
                loop += c
            else:
                greenlets += c
            top = frames[-1]
            leaf[top] += c
            package[next((n for n, key in PACKAGES if key in top), "other/C")] += c
            for label, key in INCLUSIVE:
                if any(f.startswith(key) or f"{key}" in f for f in frames):
                    inclusive[label] += c
    busy = loop + greenlets

    share = 100 / wall  # of the workers' wall time (each worker: rate × seconds samples)
    lines = [
        f"profile: py-spy {rate} Hz over {seconds:g} s of {len(files)} workers: their event "
        f"loops were on the CPU {share * busy:.0f} % of the time (SQLAlchemy's greenlet "
        f"stacks {share * greenlets:.0f} %), their other threads {share * threads:.0f} %",
        "profile: self time by package, share of the busy samples: "
        + ", ".join(f"{k} {100 * v / max(busy, 1):.0f} %" for k, v in package.most_common()),
    ]
    for label, _key in INCLUSIVE:
        lines.append(f"profile: inclusive {100 * inclusive[label] / max(busy, 1):5.1f} %  {label}")
    lines.append(
        f"profile: inclusive {100 * greenlets / max(busy, 1):5.1f} %  SQLAlchemy in greenlets "
        "(statements compiled, executed via asyncpg, rows processed)"
    )
    for name, c in leaf.most_common(15):
        lines.append(f"profile: self {100 * c / max(busy, 1):5.1f} %  {name or '(native)'}")
    return lines


def source_state() -> str:
    state = _servers.source_state()
    if state is None:
        return "unknown"
    head, dirty = state
    return head + (f" with {dirty} uncommitted changes under src/" if dirty else "")
