"""Flash-sale benchmark: deal claims per second through HTTP, on each stock engine.

Run it from the repository root (with the dev install, PostgreSQL, Redis and wrk)::

    .venv/bin/python bench/flash_sale.py                      # both engines, 20-s throughput window
    .venv/bin/python bench/flash_sale.py --engine redis --seconds 30 --profile prof/
    .venv/bin/python bench/flash_sale.py --connections 400 --workers 2 --threads 2

The load tool is **wrk** (C, LuaJIT scripting), in its own process: ``apt-get install
wrk`` on Debian/Ubuntu, ``brew install wrk`` on macOS, or build it from
https://github.com/wg/wrk. py-spy (``--profile``) is ``pip install py-spy``.

What it does, for each engine (``--engine``: ``sql`` then ``redis``):

* creates a fresh PostgreSQL database (``--postgres``, dropped at the end) and
  upgrades it to the current schema, creates a vendor with an API key, and starts
  the server **in its own processes**: ``uvicorn pasar.app:create_app --factory``
  with ``--workers`` workers (2: this machine has 2 cores), uvloop, httptools, log
  level warning, no access log, ``PASAR_STOCK_ENGINE`` set to the engine and
  ``PASAR_REDIS_URL`` set for **both** engines (``--redis``): a deployment with more
  than one process needs the Redis broker for its real-time events anyway, so the
  engines differ only in how claims are admitted;
* over the API: a product, a show with it in its line-up, and the vendor's shopper
  secret, with which it signs one **HS256 shopper JWT** (``sub``, ``exp``: a shopper
  the vendor's site vouches for, ``X-Pasar-Shopper``) per shopper;
* **warm-up**: claims on a separate deal for ``--warmup`` s (connection pools, caches);
* **bare**: ``GET /healthz`` of the same server with the same wrk set-up (threads,
  connections, the same Lua response accounting) for ``--seconds``: ``bare_per_s``;
* **sell-out**: a new deal of ``--quantity`` (500) units, one variant, limit 1 per
  shopper; ``--shoppers`` (5,000) distinct shoppers each send **exactly one** claim
  (``POST /api/v1/storefront/deals/{id}/claims`` with its own ``Idempotency-Key``), all
  queued at once on ``--connections`` keep-alive connections. The window runs from the
  first claim sent to the last one answered, so ``claims_per_s`` = shoppers / window;
* **throughput**: a new deal of 1,000,000 units (the most a deal may have; far more
  than sells in the window) with a per-shopper limit as high, claimed for ``--seconds``
  by a pool of ``--pool`` shoppers in turn, each claim with a new key, so every claim
  reserves and is recorded.

The latency percentiles are wrk's (every answer, from the request written to the
response read). After each phase the script waits until the reservations in the
database stop changing and then counts **from the database** (``reservations``,
``deal_stock``): ``reserved`` units held or sold, ``oversold`` = max(0, reserved −
quantity), and checks the record against the answers (every 201 has its row; the
sell-out reserves exactly its quantity, one unit per shopper; Redis's counter equals
the record's). It also prints the CPU each process used during the window (server
workers, PostgreSQL, Redis, wrk, the rest), PostgreSQL's own counts per claim
(transactions, rows written, index scans: ``pg_stat_*``), and with ``--profile`` a
py-spy summary of the server workers during the throughput window.

The figure lines, one per engine and phase, come last (the Redis throughput line is
the last line)::

    flash_sale: engine=<sql|redis> phase=<sellout|throughput> claims_per_s=<X> p99_ms=<Y>
        reserved=<R> quantity=<Q> oversold=<O> bare_per_s=<B> ratio=<X/B>

(on one line). Everything listens on loopback. The run is bounded by ``--timeout``; the
server and wrk are stopped on every exit and the databases dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import jwt

import _proc
import _servers
from _servers import HOST

THROUGHPUT_QUANTITY = 1_000_000  # pasar.commerce.models.MAX_UNITS
STATS_SETTLE_S = 11.0  # PostgreSQL flushes an idle backend's counters after 10 s
CLAIM_BODY = '{"quantity":1}'

# -- the load script (wrk 4.x, LuaJIT) ------------------------------------------------

WRK_SCRIPT = r"""
-- Pasar flash-sale load. Arguments after "--":
--   mode (list | loop | bare), path, tokens file, threads, key prefix, done dir
-- list: this thread's share of the tokens, one claim each, then stop.
-- loop: claims until wrk's duration ends, shoppers taken in turn from the tokens.
-- bare: GET path (same accounting).
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } pasar_timespec;
int clock_gettime(int clk_id, pasar_timespec *tp);
]]
local ts = ffi.new("pasar_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC, as Python's time.monotonic()
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local threads = {}
local nthread = 0
function setup(thread)
  thread:set("tid", nthread)
  nthread = nthread + 1
  table.insert(threads, thread)
end

local mode, path, nthreads, prefix, done_dir
local reqs, tokens = {}, {}
local head, bare
local sent, answered = 0, 0
local ids = nil
started, finished, wanted = 0, 0, 0
counts, codes = {}, {}

-- wrk calls the first thread's request() once before it starts, to check the
-- request parses: that call must not use up a claim.
local verifying = false

function init(args)
  mode, path, nthreads, prefix, done_dir = args[1], args[2], tonumber(args[4]), args[5], args[6]
  verifying = tid == 0
  local host = wrk.headers["Host"]
  bare = "GET " .. path .. " HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n"
  head = "POST " .. path .. " HTTP/1.1\r\nHost: " .. host
    .. "\r\nContent-Type: application/json\r\nContent-Length: " .. #CLAIM_BODY
    .. "\r\nX-Pasar-Shopper: "
  if mode == "bare" then return end
  ids = io.open(done_dir .. "/ids-" .. tid, "w") -- flushed when closed or when wrk exits
  local i = 0
  for line in io.lines(args[3]) do
    if mode == "list" then
      if i % nthreads == tid then
        table.insert(reqs, head .. line .. "\r\nIdempotency-Key: " .. prefix .. "-" .. i
          .. "\r\n\r\n" .. CLAIM_BODY)
      end
    else
      table.insert(tokens, line)
    end
    i = i + 1
  end
  wanted = #reqs
end

function request()
  if verifying then
    verifying = false
    if mode == "list" then return reqs[1] or bare end
    return bare
  end
  if started == 0 then started = now_us() end
  sent = sent + 1
  if mode == "list" then
    return reqs[sent] or "" -- nothing left: an empty write, and the connection waits
  elseif mode == "loop" then
    local token = tokens[((sent * nthreads + tid) % #tokens) + 1]
    return head .. token .. "\r\nIdempotency-Key: " .. prefix .. "-" .. tid .. "-" .. sent
      .. "\r\n\r\n" .. CLAIM_BODY
  end
  return bare
end

function response(status, headers, body)
  answered = answered + 1
  finished = now_us()
  counts[status] = (counts[status] or 0) + 1
  if status == 201 and ids then
    -- the reservation's id, checked against the record afterwards
    ids:write(body:match('"id":"([^"]+)"') or "?", "\n")
  elseif status >= 300 then
    local code = body and body:match('"code":"([%w_]+)"') or "?"
    codes[code] = (codes[code] or 0) + 1
  end
  if mode == "list" and answered == wanted then
    ids:close()
    ids = nil
    local f = io.open(done_dir .. "/done-" .. tid, "w")
    f:write(tostring(answered))
    f:close()
    wrk.thread:stop()
  end
end

local function tally(into, from)
  for k, v in pairs(from or {}) do into[tostring(k)] = (into[tostring(k)] or 0) + v end
end

local function object(t)
  local parts = {}
  for k, v in pairs(t) do table.insert(parts, string.format('"%s":%d', k, v)) end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local status, code = {}, {}
  local first, last = nil, 0
  for _, t in ipairs(threads) do
    tally(status, t:get("counts"))
    tally(code, t:get("codes"))
    local s, f = t:get("started"), t:get("finished")
    if s and s > 0 and (first == nil or s < first) then first = s end
    if f and f > last then last = f end
  end
  local e = summary.errors
  io.write(string.format(
    'pasar-result {"requests":%d,"duration_us":%d,"first_us":%d,"last_us":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"status":%s,"codes":%s}\n',
    summary.requests, summary.duration, first or 0, last,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, object(status), object(code)))
end
""".replace("#CLAIM_BODY", str(len(CLAIM_BODY))).replace("CLAIM_BODY", "'" + CLAIM_BODY + "'")


# -- small helpers ------------------------------------------------------------------


def say(line: str) -> None:
    print(f"flash_sale: {line}", flush=True)


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


def _cpu_line(cpu: dict[str, Any], answers: int) -> str:
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


# -- the run ------------------------------------------------------------------------


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


@dataclass
class Run:
    args: argparse.Namespace
    deadline: float
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pasar-flash-")))
    wrk: str = ""
    server: subprocess.Popen[bytes] | None = None
    load: asyncio.subprocess.Process | None = None
    profilers: list[asyncio.subprocess.Process] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    redis_keys: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the benchmark exceeded --timeout {self.args.timeout:g} s")
        return left

    def problem(self, text: str) -> None:
        self.problems.append(text)
        say(f"PROBLEM: {text}")


@dataclass
class Shop:
    engine: str
    db_name: str
    db_url: str
    port: int
    api_key: str
    product_id: str
    variant_id: str
    show_id: str
    shopper_secret: str

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def target(self) -> tuple[str, str]:
        return self.base, self.db_name


def _pg_dsn(admin: str, db_name: str | None = None) -> str:
    """A plain ``postgresql://`` DSN for asyncpg, to ``db_name`` if given."""
    url = urlsplit(admin.replace("postgresql+asyncpg://", "postgresql://", 1))
    if db_name is not None:
        url = url._replace(path=f"/{db_name}")
    return urlunsplit(url)


async def _create_database(run: Run, engine: str) -> str:
    name = f"pasar_bench_{engine}_{os.getpid()}"
    conn = await asyncpg.connect(_pg_dsn(run.args.postgres))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    run.databases.append(name)
    return name


async def _drop_databases(run: Run) -> None:
    if not run.databases:
        return
    conn = await asyncpg.connect(_pg_dsn(run.args.postgres))
    try:
        for name in run.databases:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
    run.databases.clear()


def _sqlalchemy_url(admin: str, db_name: str) -> str:
    return _pg_dsn(admin, db_name).replace("postgresql://", "postgresql+asyncpg://", 1)


def _server_env(run: Run, engine: str, db_url: str, port: int, secret: str) -> dict[str, str]:
    return _servers.env_without_pasar(
        PASAR_DATABASE_URL=db_url,
        PASAR_REDIS_URL=run.args.redis,
        PASAR_STOCK_ENGINE=engine,
        PASAR_DATA_DIR=str(run.tmp / f"data-{engine}"),
        PASAR_SECRET_KEY=secret,
        PASAR_PUBLIC_URL=f"http://{HOST}:{port}",
        PASAR_LOG_LEVEL="warning",
        PASAR_AUTO_MIGRATE="false",  # the bench upgraded the fresh database already
        # Every simulated shopper comes from this one machine: no per-address limits.
        PASAR_GUEST_MINTS_PER_IP="1000000",
        PASAR_CLAIMS_PER_IP="1000000",
    )


async def _seed_vendor(db_url: str, data_dir: Path, secret: str) -> str:
    """Upgrade the fresh database and create a vendor with an owner and an API key."""
    from pasar.bootstrap import create_vendor_with_owner
    from pasar.settings import Settings

    settings = Settings(
        database_url=db_url, data_dir=data_dir, secret_key=secret, auto_migrate=True
    )
    created = await create_vendor_with_owner(
        settings,
        name="Toko Flash",
        slug="toko-flash",
        email="owner@flash.example",
        password=secrets.token_urlsafe(12),
    )
    return created.api_key


def _start_server(
    run: Run, env: dict[str, str], port: int, name: str, app: str = "pasar.app:create_app"
) -> Path:
    """uvicorn in its own session: ``app`` (a factory) with ``--workers`` workers."""
    log = run.tmp / f"server-{name}.log"
    cmd = _servers.uvicorn_command(app, port, run.args.workers)
    run.server = _servers.start_process(cmd, env, log, cwd=run.tmp)
    return log


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


async def _wait_ready(run: Run, log: Path, port: int, marker: str | None = "pasar ready") -> None:
    """Until every worker has finished its start-up (``marker`` once per worker in
    the log; None: 3 s after the first answer) and /healthz answers."""
    assert run.server is not None

    def started() -> bool:
        return marker is None or _read(log).count(marker) >= run.args.workers

    timeout = min(90.0, run.left())
    await asyncio.to_thread(
        _servers.wait_healthy, run.server, f"http://{HOST}:{port}", timeout, started
    )
    if marker is None:
        await asyncio.sleep(3.0)


def _stop_server(run: Run) -> None:
    server, run.server = run.server, None
    _servers.stop_process(server, grace=20)


async def _api(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
    r = await client.request(method, path, **kw)
    if r.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
    return r.json()


async def _open_shop(run: Run, engine: str) -> Shop:
    db_name = await _create_database(run, engine)
    db_url = _sqlalchemy_url(run.args.postgres, db_name)
    secret = secrets.token_urlsafe(48)
    port = run.args.port or _servers.free_port()
    env = _server_env(run, engine, db_url, port, secret)
    api_key = await _seed_vendor(db_url, Path(env["PASAR_DATA_DIR"]), secret)
    log = _start_server(run, env, port, engine)
    await _wait_ready(run, log, port)
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(
        base_url=f"http://{HOST}:{port}", headers=headers, timeout=30
    ) as client:
        product = await _api(
            client,
            "POST",
            "/api/v1/products",
            json={
                "title": "Kemeja Batik Flash",
                "options": ["Size"],
                "variants": [{"sku": "KBF-M", "options": {"Size": "M"}, "price": 38_900_000}],
            },
        )
        show = await _api(
            client,
            "POST",
            "/api/v1/shows",
            json={"title": "Harbolnas Flash Sale", "product_ids": [product["id"]]},
        )
        shopper_secret = (await _api(client, "GET", "/api/v1/vendor/shopper-secret"))["secret"]
    run.redis_keys.append(f"rt:{{{show['id']}}}:*")
    return Shop(
        engine,
        db_name,
        db_url,
        port,
        api_key,
        product["id"],
        product["variants"][0]["id"],
        show["id"],
        shopper_secret,
    )


async def _new_deal(run: Run, shop: Shop, quantity: int, limit: int, title: str) -> str:
    async with httpx.AsyncClient(
        base_url=shop.base, headers={"Authorization": f"Bearer {shop.api_key}"}, timeout=30
    ) as client:
        deal = await _api(
            client,
            "POST",
            f"/api/v1/shows/{shop.show_id}/deals",
            json={
                "product_id": shop.product_id,
                "variant_ids": [shop.variant_id],
                "title": title,
                "price": 19_900_000,
                "currency": "IDR",
                "quantity": quantity,
                "per_shopper_limit": limit,
                "duration_seconds": 3600,
            },
        )
    run.redis_keys.append(f"stock:{{{deal['id']}}}:*")
    return str(deal["id"])


def _write_tokens(path: Path, secret: str, subs: list[str]) -> None:
    exp = int(time.time()) + 6 * 3600
    with path.open("w") as f:
        for sub in subs:
            f.write(jwt.encode({"sub": sub, "exp": exp}, secret, "HS256") + "\n")


def _done_count(path: Path) -> int:
    return len(list(path.glob("done-*")))


def _answered_ids(done_dir: Path) -> list[str]:
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


async def _wrk(
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
    _fresh_dir(done_dir)
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
            while _done_count(done_dir) < a.threads and time.monotonic() < until:
                if run.load.returncode is not None:
                    break
                await asyncio.sleep(0.01)
            if _done_count(done_dir) < a.threads:
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
        ids=_answered_ids(done_dir),
    )


# -- what the database says ---------------------------------------------------------


async def _pg(shop: Shop, run: Run) -> asyncpg.Connection:
    return await asyncpg.connect(_pg_dsn(run.args.postgres, shop.db_name))


async def _record(run: Run, shop: Shop, deal_id: str) -> dict[str, Any]:
    conn = await _pg(shop, run)
    try:
        rows = await conn.fetchrow(
            """
            SELECT count(*) AS claims,
                   coalesce(sum(quantity) FILTER (WHERE status = 'held'), 0) AS held,
                   coalesce(sum(quantity) FILTER (WHERE status = 'confirmed'), 0) AS confirmed,
                   count(DISTINCT shopper_id) AS shoppers
            FROM reservations WHERE deal_id = $1
            """,
            deal_id,
        )
        stock = await conn.fetchrow(
            "SELECT remaining, sold, open FROM deal_stock WHERE deal_id = $1", deal_id
        )
        deal = await conn.fetchrow(
            "SELECT quantity, per_shopper_limit FROM deals WHERE id = $1", deal_id
        )
        over_limit = await conn.fetchval(
            """
            SELECT count(*) FROM (
              SELECT shopper_id FROM reservations
              WHERE deal_id = $1 AND status IN ('held', 'confirmed')
              GROUP BY shopper_id HAVING sum(quantity) > $2) AS t
            """,
            deal_id,
            deal["per_shopper_limit"],
        )
        holdings = await conn.fetchval(
            "SELECT coalesce(sum(units), 0) FROM deal_shoppers WHERE deal_id = $1", deal_id
        )
    finally:
        await conn.close()
    return {
        "rows": int(rows["claims"]),
        "held": int(rows["held"]),
        "confirmed": int(rows["confirmed"]),
        "shoppers": int(rows["shoppers"]),
        "remaining": int(stock["remaining"]),
        "sold": int(stock["sold"]),
        "quantity": int(deal["quantity"]),
        "over_limit": int(over_limit),
        "holdings": int(holdings),
    }


async def _settled_record(run: Run, shop: Shop, deal_id: str) -> dict[str, Any]:
    """The record once claims still in the server when wrk stopped have landed."""
    last: dict[str, Any] | None = None
    for _ in range(60):
        now = await _record(run, shop, deal_id)
        if now == last:
            return now
        last = now
        await asyncio.sleep(0.5)
    run.problem(f"the reservations of {deal_id} were still changing after 30 s")
    assert last is not None
    return last


TABLES = ("deal_stock", "reservations", "deal_shoppers", "webhook_endpoints", "deals")


async def _pg_stats(run: Run, shop: Shop) -> dict[str, int]:
    conn = await _pg(shop, run)
    try:
        db = await conn.fetchrow(
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_returned, "
            "tup_fetched, blks_read FROM pg_stat_database WHERE datname = $1",
            shop.db_name,
        )
        out = {k: int(v) for k, v in dict(db).items()}
        for row in await conn.fetch(
            "SELECT relname, coalesce(seq_scan, 0) AS seq, coalesce(idx_scan, 0) AS idx, "
            "n_tup_ins AS ins, n_tup_upd AS upd FROM pg_stat_user_tables "
            "WHERE relname = ANY($1::text[])",
            list(TABLES),
        ):
            for k in ("seq", "idx", "ins", "upd"):
                out[f"{row['relname']}.{k}"] = int(row[k])
    finally:
        await conn.close()
    return out


def _pg_per_claim(before: dict[str, int], after: dict[str, int], claims: int) -> str:
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


async def _redis_left(run: Run, deal_id: str) -> int | None:
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(run.args.redis, decode_responses=True)
    try:
        value = await client.get(f"stock:{{{deal_id}}}:left")
    finally:
        await client.aclose()
    return None if value is None else int(value)


async def _clean_redis(run: Run) -> None:
    if not run.redis_keys:
        return
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(run.args.redis)
    try:
        for pattern in run.redis_keys:
            keys = [k async for k in client.scan_iter(match=pattern, count=1000)]
            if keys:
                await client.delete(*keys)
    finally:
        await client.aclose()
    run.redis_keys.clear()


# -- the profile ----------------------------------------------------------------------

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
    ("  shopper JWT: storefront._shopper", "_shopper (pasar/web/routes/storefront.py"),
    ("  Commerce.claim", "Commerce.claim (pasar/commerce/live.py"),
    ("  RedisStock.claim", "RedisStock.claim (pasar/commerce/stock_redis.py"),
    ("  the answer: ReservationOut", "ReservationOut"),
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


def _fresh_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


async def _profile_workers(run: Run, server_pid: int, seconds: float, out_dir: Path) -> None:
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
    _fresh_dir(out_dir)
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


def _summarise_profile(out_dir: Path, seconds: float, rate: int = 100) -> list[str]:
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


# -- the phases -----------------------------------------------------------------------


def _check_answers(run: Run, tag: str, load: Load, expect: set[str], wanted: int = 0) -> None:
    bad = {k: v for k, v in load.status.items() if k not in expect}
    if bad:
        run.problem(f"{tag}: unexpected answers {bad} ({load.codes})")
    if any(k.startswith("5") for k in load.status):
        run.problem(f"{tag}: server errors (5xx) {load.codes}")
    socket_errors = {k: v for k, v in load.errors.items() if v and k != "status"}
    if wanted and load.requests == wanted:
        # Every claim was answered: the connections left waiting with nothing to send
        # may have been closed by the server's keep-alive timeout meanwhile.
        socket_errors.pop("read", None)
    if socket_errors:
        run.problem(f"{tag}: socket errors or timeouts {socket_errors}")


async def _check_redis(run: Run, shop: Shop, deal_id: str, rec: dict[str, Any], tag: str) -> None:
    if shop.engine != "redis":
        return
    left = await _redis_left(run, deal_id)
    say(f"{tag}: redis counter {left}, record remaining {rec['remaining']}")
    if left is not None and left != rec["remaining"]:
        run.problem(f"{tag}: Redis says {left} units left, the record {rec['remaining']}")


async def _check_ids(run: Run, shop: Shop, deal_id: str, load: Load, tag: str) -> None:
    """Every reservation a shopper was given (201) is in the record, held, for this deal."""
    if len(load.ids) != load.created:
        run.problem(f"{tag}: {load.created} answers 201 but {len(load.ids)} reservation ids read")
    conn = await _pg(shop, run)
    try:
        found = await conn.fetchval(
            "SELECT count(*) FROM reservations WHERE id = ANY($1::text[]) AND deal_id = $2 "
            "AND status = 'held'",
            load.ids,
            deal_id,
        )
    finally:
        await conn.close()
    say(f"{tag}: {found} of the {len(load.ids)} reservations answered 201 are in the record")
    if found != len(set(load.ids)) or len(set(load.ids)) != len(load.ids):
        run.problem(
            f"{tag}: LOST RESERVATIONS: {len(load.ids)} answered ({len(set(load.ids))} "
            f"distinct), {found} in the record"
        )


def _record_line(rec: dict[str, Any]) -> str:
    return (
        f"record: {rec['rows']} reservations ({rec['held']} units held, {rec['confirmed']} "
        f"confirmed) by {rec['shoppers']} shoppers, deal_stock remaining {rec['remaining']} "
        f"sold {rec['sold']}, holdings {rec['holdings']}, shoppers over the limit "
        f"{rec['over_limit']}"
    )


def _oversold(run: Run, tag: str, rec: dict[str, Any]) -> tuple[int, int]:
    """(reserved, oversold) from the record: units held or sold against the quantity."""
    reserved = rec["held"] + rec["confirmed"]
    oversold = max(0, rec["held"] + max(rec["sold"], rec["confirmed"]) - rec["quantity"])
    if oversold:
        run.problem(f"{tag}: OVERSOLD by {oversold} units")
    if rec["remaining"] != rec["quantity"] - reserved:
        run.problem(
            f"{tag}: deal_stock.remaining {rec['remaining']} != quantity {rec['quantity']} "
            f"- reserved {reserved}"
        )
    if rec["holdings"] != reserved:
        run.problem(f"{tag}: deal_shoppers holds {rec['holdings']} units, reservations {reserved}")
    if rec["over_limit"]:
        run.problem(f"{tag}: {rec['over_limit']} shoppers hold more than the per-shopper limit")
    return reserved, oversold


async def _phase_sellout(run: Run, shop: Shop, bare: float) -> None:
    a = run.args
    tag = f"{shop.engine} sellout"
    tokens = run.tmp / f"sellout-{shop.engine}.txt"
    _write_tokens(tokens, shop.shopper_secret, [f"sellout-{i}" for i in range(a.shoppers)])
    deal_id = await _new_deal(run, shop, a.quantity, 1, "Flash: sell-out")
    before = await _pg_stats(run, shop)
    path = f"/api/v1/storefront/deals/{deal_id}/claims"
    load = await _wrk(run, shop.target, "list", path, tokens, 0, f"sellout-{secrets.token_hex(4)}")
    say(f"{tag}: {load.describe()}")
    say(f"{tag}: {_cpu_line(load.cpu, load.requests)}")
    rec = await _settled_record(run, shop, deal_id)
    say(f"{tag}: {_record_line(rec)}")
    reserved, oversold = _oversold(run, tag, rec)
    _check_answers(run, tag, load, {"201", "409"}, wanted=a.shoppers)
    if load.requests != a.shoppers:
        run.problem(f"{tag}: {load.requests} answers for {a.shoppers} claims")
    if reserved != min(a.quantity, a.shoppers):
        run.problem(f"{tag}: reserved {reserved}, expected {min(a.quantity, a.shoppers)}")
    if rec["rows"] != load.created:
        run.problem(f"{tag}: {load.created} answered 201 but {rec['rows']} reservations recorded")
    await _check_ids(run, shop, deal_id, load, tag)
    refusals = load.codes.get("sold_out", 0)
    if refusals != load.requests - load.created:
        run.problem(f"{tag}: refusals other than sold_out: {load.codes}")
    await _check_redis(run, shop, deal_id, rec, tag)
    await asyncio.sleep(STATS_SETTLE_S)
    after = await _pg_stats(run, shop)
    say(f"{tag}: postgres {_pg_per_claim(before, after, load.requests)}")
    run.figures.append(
        Figure(
            shop.engine, "sellout", load.per_s, load.p99_ms, reserved, a.quantity, oversold, bare
        )
    )


async def _phase_throughput(run: Run, shop: Shop, bare: float, tokens: Path) -> None:
    a = run.args
    tag = f"{shop.engine} throughput"
    deal_id = await _new_deal(
        run, shop, THROUGHPUT_QUANTITY, THROUGHPUT_QUANTITY, "Flash: throughput"
    )
    before = await _pg_stats(run, shop)
    path = f"/api/v1/storefront/deals/{deal_id}/claims"
    profile_dir = a.profile / shop.engine if a.profile else None

    async def profile(server_pid: int) -> None:
        assert profile_dir is not None
        await _profile_workers(run, server_pid, a.seconds - 2, profile_dir)

    load = await _wrk(
        run,
        shop.target,
        "loop",
        path,
        tokens,
        a.seconds,
        f"tp-{secrets.token_hex(4)}",
        on_window=profile if profile_dir is not None else None,
    )
    say(f"{tag}: {load.describe()}")
    say(f"{tag}: {_cpu_line(load.cpu, load.requests)}")
    rec = await _settled_record(run, shop, deal_id)
    say(f"{tag}: {_record_line(rec)}")
    reserved, oversold = _oversold(run, tag, rec)
    _check_answers(run, tag, load, {"201"})
    in_flight = rec["rows"] - load.created
    say(
        f"{tag}: {load.created} answered 201, {rec['rows']} recorded: {in_flight} were "
        f"still in the server when wrk stopped (at most {a.connections})"
    )
    if in_flight < 0 or in_flight > a.connections:
        run.problem(f"{tag}: {load.created} answered 201 but {rec['rows']} recorded")
    await _check_ids(run, shop, deal_id, load, tag)
    if reserved >= THROUGHPUT_QUANTITY:
        run.problem(f"{tag}: the throughput deal sold out; the window measured refusals too")
    await _check_redis(run, shop, deal_id, rec, tag)
    await asyncio.sleep(STATS_SETTLE_S)
    after = await _pg_stats(run, shop)
    say(f"{tag}: postgres {_pg_per_claim(before, after, rec['rows'])}")
    if profile_dir is not None:
        for line in _summarise_profile(profile_dir, a.seconds - 2):
            say(f"{tag}: {line}")
        say(f"{tag}: profile: collapsed stacks in {profile_dir}")
    run.figures.append(
        Figure(
            shop.engine,
            "throughput",
            load.per_s,
            load.p99_ms,
            reserved,
            THROUGHPUT_QUANTITY,
            oversold,
            bare,
        )
    )


async def _engine(run: Run, engine: str) -> None:
    a = run.args
    say(f"{engine}: fresh database, vendor, server ({a.workers} workers) …")
    shop = await _open_shop(run, engine)
    try:
        pool = run.tmp / f"pool-{engine}.txt"
        _write_tokens(pool, shop.shopper_secret, [f"shopper-{i}" for i in range(a.pool)])
        if a.warmup > 0:
            deal_id = await _new_deal(
                run, shop, THROUGHPUT_QUANTITY, THROUGHPUT_QUANTITY, "Flash: warm-up"
            )
            path = f"/api/v1/storefront/deals/{deal_id}/claims"
            load = await _wrk(
                run, shop.target, "loop", path, pool, a.warmup, f"wu-{secrets.token_hex(4)}"
            )
            say(f"{engine} warm-up: {load.describe()}")
            await asyncio.sleep(2.0)
        load = await _wrk(run, shop.target, "bare", "/healthz", None, a.seconds, "bare")
        say(f"{engine} bare: {load.describe()}")
        say(f"{engine} bare: {_cpu_line(load.cpu, load.requests)}")
        _check_answers(run, f"{engine} bare", load, {"200"})
        bare = load.per_s
        await asyncio.sleep(2.0)
        await _phase_sellout(run, shop, bare)
        await _phase_throughput(run, shop, bare, pool)
        log = _read(run.tmp / f"server-{engine}.log")
        noisy = [
            line
            for line in log.splitlines()
            if re.search(r"error|warning|Traceback|exception", line, re.I)
        ]
        if noisy:
            run.problem(f"{engine}: the server logged {len(noisy)} warnings or errors")
            for line in noisy[:10]:
                say(f"{engine} server log: {line[:300]}")
    finally:
        _stop_server(run)


def _source_state() -> str:
    state = _servers.source_state()
    if state is None:
        return "unknown"
    head, dirty = state
    return head + (f" with {dirty} uncommitted changes under src/" if dirty else "")


async def bench(run: Run) -> None:
    a = run.args
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError(
            "wrk is not installed: apt-get install wrk (Debian/Ubuntu), brew install wrk "
            "(macOS), or build https://github.com/wg/wrk"
        )
    run.wrk = wrk
    engines = ["sql", "redis"] if a.engine == "both" else [a.engine]
    say(
        f"code {_source_state()}; {os.cpu_count()} cores; load average {_proc.load_average()}; "
        f"wrk -t {a.threads} -c {a.connections}; {a.workers} uvicorn workers"
    )
    if a.calibrate:
        await _calibrate(run)
    for engine in engines:
        await _engine(run, engine)


MINIMAL_APP = """
from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
"""


def _write_minimal_app(path: Path) -> None:
    path.write_text(MINIMAL_APP)


async def _calibrate(run: Run) -> None:
    """The machine's scale today: a minimal FastAPI app (one route, no middleware),
    same uvicorn and wrk set-up (the issue measured ~11,400 req/s on this machine)."""
    _write_minimal_app(run.tmp / "flash_minimal_app.py")
    port = run.args.port or _servers.free_port()
    env = _servers.env_without_pasar(PYTHONPATH=str(run.tmp))
    log = _start_server(run, env, port, "minimal", "flash_minimal_app:create_app")
    try:
        await _wait_ready(run, log, port, marker=None)
        load = await _wrk(run, (f"http://{HOST}:{port}", "-"), "bare", "/healthz", None, 10, "cal")
        say(f"calibration, minimal FastAPI app: {load.describe()}")
        say(f"calibration: {_cpu_line(load.cpu, load.requests)}")
    finally:
        _stop_server(run)


async def _cleanup(run: Run) -> None:
    for p in [*run.profilers, *([run.load] if run.load else [])]:
        if p.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            await p.wait()
    _stop_server(run)
    try:
        await _clean_redis(run)
    except Exception as exc:
        say(f"warning: could not remove the bench's Redis keys: {exc}")
    try:
        await _drop_databases(run)
    except Exception as exc:
        say(f"warning: could not drop {run.databases}: {exc}")
    if not run.args.keep:
        shutil.rmtree(run.tmp, ignore_errors=True)
    else:
        say(f"kept {run.tmp}")


async def amain(run: Run) -> int:
    code = 1
    try:
        await bench(run)
        code = 0
    except (RuntimeError, TimeoutError, OSError, asyncpg.PostgresError, httpx.HTTPError) as exc:
        say(f"error: {type(exc).__name__}: {exc}")
        for log in sorted(run.tmp.glob("server-*.log")):
            for line in _read(log).splitlines()[-15:]:
                say(f"{log.name}: {line}")
    finally:
        # Also when interrupted: what was measured is printed, the rest cleaned up.
        await _cleanup(run)
        if run.problems:
            say(f"{len(run.problems)} problems:")
            for p in run.problems:
                say(f"  - {p}")
            code = code or 2
        say(f"load average at the end {_proc.load_average()}")
        for figure in run.figures:
            print(figure.line(), flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--engine", choices=("sql", "redis", "both"), default="both")
    p.add_argument("--seconds", type=float, default=20.0, help="throughput and bare windows")
    p.add_argument("--warmup", type=float, default=3.0, help="claims on a warm-up deal first")
    p.add_argument("--connections", type=int, default=200, help="wrk connections")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    p.add_argument("--quantity", type=int, default=500, help="sell-out deal units")
    p.add_argument("--shoppers", type=int, default=5000, help="sell-out shoppers, one claim each")
    p.add_argument("--pool", type=int, default=20_000, help="throughput shoppers (in turn)")
    p.add_argument(
        "--postgres",
        default=os.environ.get(
            "PASAR_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="PostgreSQL maintenance URL; the bench creates and drops its own databases",
    )
    p.add_argument(
        "--redis",
        default=os.environ.get("PASAR_BENCH_REDIS", "redis://127.0.0.1:6379/13"),
        help="Redis URL for the broker and the redis engine (its keys are removed after)",
    )
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument("--timeout", type=float, default=900.0, help="give up after this many s")
    p.add_argument(
        "--profile", help="directory for py-spy profiles of the workers' throughput window"
    )
    p.add_argument(
        "--no-calibrate",
        dest="calibrate",
        action="store_false",
        help="skip the minimal FastAPI app measured first for scale",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary dir (logs, tokens)")
    args = p.parse_args(argv)
    args.profile = Path(args.profile).resolve() if args.profile else None
    if args.seconds < 3 or args.shoppers < args.threads or args.connections < args.threads:
        p.error("--seconds must be ≥ 3 and --shoppers, --connections ≥ --threads")
    for key in [k for k in os.environ if k.startswith("PASAR_")]:
        del os.environ[key]  # the seeding code reads Settings() from the environment
    run = Run(args, deadline=time.monotonic() + args.timeout)
    _servers.stop_on_signals()
    return asyncio.run(amain(run))


if __name__ == "__main__":
    sys.exit(main())
