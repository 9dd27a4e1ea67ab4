"""What the flash-sale benchmark checks after each phase, from the database (and
Redis): nothing oversold, every answer 201 in the record, the per-shopper limit kept,
Redis's counter equal to the record's."""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg

from _flash_sale.load import Load
from _flash_sale.report import say
from _flash_sale.setup import Run, Shop, pg_dsn, postgres


def pg(run: Run, shop: Shop) -> AbstractAsyncContextManager[asyncpg.Connection]:
    """A connection to the engine's database."""
    return postgres(pg_dsn(run.args.postgres, shop.db_name))


async def analyze(run: Run, shop: Shop) -> None:
    """Statistics for the planner, as a database that has seen sales has them.

    A fresh database has none until autovacuum's first pass (a minute or more),
    and without them PostgreSQL planned the claim batch's lookups
    (``deal_id = $1 AND claim_key IN (…)``) as a scan of every reservation of the
    deal filtered by key: 20-50 ms a batch once the deal held 30,000."""
    async with pg(run, shop) as conn:
        await conn.execute("ANALYZE")


async def read_record(run: Run, shop: Shop, deal_id: str) -> dict[str, Any]:
    async with pg(run, shop) as conn:
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


async def settled_record(run: Run, shop: Shop, deal_id: str) -> dict[str, Any]:
    """The record once claims still in the server when wrk stopped have landed."""
    last: dict[str, Any] | None = None
    for _ in range(60):
        now = await read_record(run, shop, deal_id)
        if now == last:
            return now
        last = now
        await asyncio.sleep(0.5)
    run.problem(f"the reservations of {deal_id} were still changing after 30 s")
    assert last is not None
    return last


TABLES = ("deal_stock", "reservations", "deal_shoppers", "webhook_endpoints", "deals")


async def pg_stats(run: Run, shop: Shop) -> dict[str, int]:
    async with pg(run, shop) as conn:
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
    return out


async def redis_left(run: Run, deal_id: str) -> int | None:
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(run.args.redis, decode_responses=True)
    try:
        value = await client.get(f"stock:{{{deal_id}}}:left")
    finally:
        await client.aclose()
    return None if value is None else int(value)


def check_answers(run: Run, tag: str, load: Load, expect: set[str], wanted: int = 0) -> None:
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


# The engine's reconciler runs every 5 s on each worker and sets a counter from the
# record once it has seen the same disagreement on two passes (commerce/stock_redis.py):
# a counter below the record after a failed give-back is right again within this.
RECONCILE_WAIT_S = 12.0


async def check_redis(run: Run, shop: Shop, deal_id: str, rec: dict[str, Any], tag: str) -> float:
    """Redis's counter against the record, once a reconcile pass could have put it
    right (waits until they agree, at most ``RECONCILE_WAIT_S``); the seconds waited."""
    if shop.engine != "redis":
        return 0.0
    started = time.monotonic()
    left = await redis_left(run, deal_id)
    first = left
    while left is not None and left != rec["remaining"]:
        if time.monotonic() - started >= RECONCILE_WAIT_S:
            break
        await asyncio.sleep(0.5)
        left = await redis_left(run, deal_id)
    waited = time.monotonic() - started
    if first != left:
        say(f"{tag}: redis counter {first} right after the run, {left} after {waited:.1f} s")
    say(f"{tag}: redis counter {left}, record remaining {rec['remaining']}")
    if left is not None and left != rec["remaining"]:
        run.problem(
            f"{tag}: Redis says {left} units left, the record {rec['remaining']} "
            f"(after {waited:.0f} s of reconcile passes)"
        )
    return waited


async def check_ids(run: Run, shop: Shop, deal_id: str, load: Load, tag: str) -> None:
    """Every reservation a shopper was given (201) is in the record, held, for this deal."""
    if len(load.ids) != load.created:
        run.problem(f"{tag}: {load.created} answers 201 but {len(load.ids)} reservation ids read")
    async with pg(run, shop) as conn:
        found = await conn.fetchval(
            "SELECT count(*) FROM reservations WHERE id = ANY($1::text[]) AND deal_id = $2 "
            "AND status = 'held'",
            load.ids,
            deal_id,
        )
    say(f"{tag}: {found} of the {len(load.ids)} reservations answered 201 are in the record")
    if found != len(set(load.ids)) or len(set(load.ids)) != len(load.ids):
        run.problem(
            f"{tag}: LOST RESERVATIONS: {len(load.ids)} answered ({len(set(load.ids))} "
            f"distinct), {found} in the record"
        )


def check_stock(run: Run, tag: str, rec: dict[str, Any]) -> tuple[int, int]:
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
