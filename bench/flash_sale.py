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
* **warm-up**: claims on a separate deal for ``--warmup`` s (connection pools, caches),
  then ``ANALYZE``: the planner's statistics, which a database that has seen sales has
  and a fresh one lacks until autovacuum's first pass;
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
the record's once a reconcile pass could have put it right: the counter may be below
the record after a failed give-back until the engine's reconciler runs, so the check
waits until they agree, at most 12 s). It also prints the CPU each process used during
the window (server workers, PostgreSQL, Redis, wrk, the rest), PostgreSQL's own counts
per claim (transactions, rows written, index scans: ``pg_stat_*``), and with
``--profile`` a py-spy summary of the server workers during the throughput window.

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
import os
import re
import secrets
import shutil
import sys
import time
from pathlib import Path

import asyncpg
import httpx

import _proc
import _servers
from _flash_sale.checks import (
    analyze,
    check_answers,
    check_ids,
    check_redis,
    check_stock,
    pg_stats,
    settled_record,
)
from _flash_sale.load import profile_workers, run_wrk
from _flash_sale.report import (
    Figure,
    cpu_line,
    pg_per_claim,
    record_line,
    say,
    source_state,
    summarise_profile,
)
from _flash_sale.setup import (
    THROUGHPUT_QUANTITY,
    Run,
    Shop,
    cleanup,
    new_deal,
    open_shop,
    read_log,
    start_minimal_app,
    stop_server,
    wait_ready,
    write_tokens,
)
from _servers import HOST

STATS_SETTLE_S = 11.0  # PostgreSQL flushes an idle backend's counters after 10 s


async def _phase_sellout(run: Run, shop: Shop, bare: float) -> None:
    a = run.args
    tag = f"{shop.engine} sellout"
    tokens = run.tmp / f"sellout-{shop.engine}.txt"
    write_tokens(tokens, shop.shopper_secret, [f"sellout-{i}" for i in range(a.shoppers)])
    deal_id = await new_deal(run, shop, a.quantity, 1, "Flash: sell-out")
    before = await pg_stats(run, shop)
    path = f"/api/v1/storefront/deals/{deal_id}/claims"
    load = await run_wrk(
        run, shop.target, "list", path, tokens, 0, f"sellout-{secrets.token_hex(4)}"
    )
    say(f"{tag}: {load.describe()}")
    say(f"{tag}: {cpu_line(load.cpu, load.requests)}")
    rec = await settled_record(run, shop, deal_id)
    say(f"{tag}: {record_line(rec)}")
    reserved, oversold = check_stock(run, tag, rec)
    check_answers(run, tag, load, {"201", "409"}, wanted=a.shoppers)
    if load.requests != a.shoppers:
        run.problem(f"{tag}: {load.requests} answers for {a.shoppers} claims")
    if reserved != min(a.quantity, a.shoppers):
        run.problem(f"{tag}: reserved {reserved}, expected {min(a.quantity, a.shoppers)}")
    if rec["rows"] != load.created:
        run.problem(f"{tag}: {load.created} answered 201 but {rec['rows']} reservations recorded")
    await check_ids(run, shop, deal_id, load, tag)
    refusals = load.codes.get("sold_out", 0)
    if refusals != load.requests - load.created:
        run.problem(f"{tag}: refusals other than sold_out: {load.codes}")
    waited = await check_redis(run, shop, deal_id, rec, tag)
    await asyncio.sleep(max(0.0, STATS_SETTLE_S - waited))
    after = await pg_stats(run, shop)
    say(f"{tag}: postgres {pg_per_claim(before, after, load.requests)}")
    run.figures.append(
        Figure(
            shop.engine, "sellout", load.per_s, load.p99_ms, reserved, a.quantity, oversold, bare
        )
    )


async def _phase_throughput(run: Run, shop: Shop, bare: float, tokens: Path) -> None:
    a = run.args
    tag = f"{shop.engine} throughput"
    deal_id = await new_deal(
        run, shop, THROUGHPUT_QUANTITY, THROUGHPUT_QUANTITY, "Flash: throughput"
    )
    before = await pg_stats(run, shop)
    path = f"/api/v1/storefront/deals/{deal_id}/claims"
    profile_dir = a.profile / shop.engine if a.profile else None

    async def profile(server_pid: int) -> None:
        assert profile_dir is not None
        await profile_workers(run, server_pid, a.seconds - 2, profile_dir)

    load = await run_wrk(
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
    say(f"{tag}: {cpu_line(load.cpu, load.requests)}")
    rec = await settled_record(run, shop, deal_id)
    say(f"{tag}: {record_line(rec)}")
    reserved, oversold = check_stock(run, tag, rec)
    check_answers(run, tag, load, {"201"})
    in_flight = rec["rows"] - load.created
    say(
        f"{tag}: {load.created} answered 201, {rec['rows']} recorded: {in_flight} were "
        f"still in the server when wrk stopped (at most {a.connections})"
    )
    if in_flight < 0 or in_flight > a.connections:
        run.problem(f"{tag}: {load.created} answered 201 but {rec['rows']} recorded")
    await check_ids(run, shop, deal_id, load, tag)
    if reserved >= THROUGHPUT_QUANTITY:
        run.problem(f"{tag}: the throughput deal sold out; the window measured refusals too")
    waited = await check_redis(run, shop, deal_id, rec, tag)
    await asyncio.sleep(max(0.0, STATS_SETTLE_S - waited))
    after = await pg_stats(run, shop)
    say(f"{tag}: postgres {pg_per_claim(before, after, rec['rows'])}")
    if profile_dir is not None:
        for line in summarise_profile(profile_dir, a.seconds - 2):
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
    shop = await open_shop(run, engine)
    try:
        pool = run.tmp / f"pool-{engine}.txt"
        write_tokens(pool, shop.shopper_secret, [f"shopper-{i}" for i in range(a.pool)])
        if a.warmup > 0:
            deal_id = await new_deal(
                run, shop, THROUGHPUT_QUANTITY, THROUGHPUT_QUANTITY, "Flash: warm-up"
            )
            path = f"/api/v1/storefront/deals/{deal_id}/claims"
            load = await run_wrk(
                run, shop.target, "loop", path, pool, a.warmup, f"wu-{secrets.token_hex(4)}"
            )
            say(f"{engine} warm-up: {load.describe()}")
            await asyncio.sleep(2.0)
        await analyze(run, shop)  # the statistics a database that has seen sales has
        load = await run_wrk(run, shop.target, "bare", "/healthz", None, a.seconds, "bare")
        say(f"{engine} bare: {load.describe()}")
        say(f"{engine} bare: {cpu_line(load.cpu, load.requests)}")
        check_answers(run, f"{engine} bare", load, {"200"})
        bare = load.per_s
        await asyncio.sleep(2.0)
        await _phase_sellout(run, shop, bare)
        await _phase_throughput(run, shop, bare, pool)
        log = read_log(run.tmp / f"server-{engine}.log")
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
        stop_server(run)


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
        f"code {source_state()}; {os.cpu_count()} cores; load average {_proc.load_average()}; "
        f"wrk -t {a.threads} -c {a.connections}; {a.workers} uvicorn workers"
    )
    if a.calibrate:
        await _calibrate(run)
    for engine in engines:
        await _engine(run, engine)


async def _calibrate(run: Run) -> None:
    """The machine's scale today: a minimal FastAPI app (one route, no middleware),
    same uvicorn and wrk set-up (the issue measured ~11,400 req/s on this machine)."""
    log, port = start_minimal_app(run)
    try:
        await wait_ready(run, log, port, marker=None)
        load = await run_wrk(
            run, (f"http://{HOST}:{port}", "-"), "bare", "/healthz", None, 10, "cal"
        )
        say(f"calibration, minimal FastAPI app: {load.describe()}")
        say(f"calibration: {cpu_line(load.cpu, load.requests)}")
    finally:
        stop_server(run)


async def amain(run: Run) -> int:
    code = 1
    try:
        await bench(run)
        code = 0
    except (RuntimeError, TimeoutError, OSError, asyncpg.PostgresError, httpx.HTTPError) as exc:
        say(f"error: {type(exc).__name__}: {exc}")
        for log in sorted(run.tmp.glob("server-*.log")):
            for line in read_log(log).splitlines()[-15:]:
                say(f"{log.name}: {line}")
    finally:
        # Also when interrupted: what was measured is printed, the rest cleaned up.
        await cleanup(run)
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
