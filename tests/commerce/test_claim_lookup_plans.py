"""A claim batch's lookups stay index probes for a new, hot deal on PostgreSQL.

A deal that opens has no statistics yet: PostgreSQL estimates ``deal_id = X``
at one row. Asked as ``deal_id = $1 AND claim_key IN (…)``, it then walked
every reservation of the deal and filtered by key (20 ms a batch at 40,000
reservations); the lookups now go by key and by shopper alone (migration 0010).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import Select

from pasar.commerce import ledger
from pasar.db.engine import Database
from tests.conftest import service_missing

pytestmark = pytest.mark.postgres

ROWS = 20_000


def _sql(stmt: Select) -> str:  # type: ignore[type-arg]
    return str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


async def _plan(db: Database, stmt: Select) -> str:  # type: ignore[type-arg]
    async with db.session() as session:
        rows = await session.execute(text("EXPLAIN " + _sql(stmt)))
        return "\n".join(r[0] for r in rows)


async def _insert(db: Database, deal: str, start: int, rows: int) -> None:
    async with db.session() as session:
        # rows without their parents (the plan is the subject, not the data)
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        params = {"deal": deal, "start": start, "end": start + rows}
        await session.execute(
            text(
                "INSERT INTO reservations (id, vendor_id, deal_id, show_id, shopper_id,"
                " product_id, variant_id, quantity, unit_price, currency, status,"
                " claim_key, fingerprint, created_at, expires_at)"
                " SELECT 'rsv_' || g, 'ven_x', :deal, 'show_x', 'shopper:' || g,"
                " 'prod_x', 'var_x', 1, 100, 'IDR', 'held', md5(g::text) || md5('k' || g),"
                " 'f', now(), now() FROM generate_series(:start + 1, :end) g"
            ),
            params,
        )
        await session.execute(
            text(
                "INSERT INTO deal_shoppers (deal_id, shopper_id, units)"
                " SELECT :deal, 'shopper:' || g, 1 FROM generate_series(:start + 1, :end) g"
            ),
            params,
        )
        await session.commit()


async def test_a_hot_new_deal_is_looked_up_by_key_and_by_shopper(
    postgres_url: str | Exception,
) -> None:
    if isinstance(postgres_url, Exception):
        service_missing("PostgreSQL", str(postgres_url))
    assert isinstance(postgres_url, str)
    db = Database(postgres_url)
    try:
        # Earlier sales are in the statistics; the hot deal's rows came after.
        await _insert(db, "deal_old", 0, 5_000)
        async with db.session() as session:
            await session.execute(text("ANALYZE reservations"))
            await session.execute(text("ANALYZE deal_shoppers"))
            await session.commit()
        await _insert(db, "deal_hot", 5_000, ROWS)
        keys = [f"key-{i}" for i in range(80)]
        shoppers = [f"shopper:{i}" for i in range(5_001, 5_081)]
        for arrays in (False, True):  # IN lists (SQLite's form), = ANY(array) (PostgreSQL's)
            existing = await _plan(db, ledger.existing_query(keys, arrays=arrays))
            assert "ix_reservations_claim_key" in existing, existing
            held = await _plan(db, ledger.holdings_query(shoppers, arrays=arrays))
            assert "ix_deal_shoppers_shopper_id" in held, held
    finally:
        async with db.session() as session:
            await session.execute(text("DELETE FROM reservations WHERE vendor_id = 'ven_x'"))
            await session.execute(text("DELETE FROM deal_shoppers WHERE deal_id LIKE 'deal_%'"))
            await session.commit()
        await db.dispose()
