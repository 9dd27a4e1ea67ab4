"""reservations.claim_key and deal_shoppers.shopper_id indexed on their own

A claim batch looks up its claims' earlier reservations by key and its
shoppers' holdings. Asked as ``deal_id = $1 AND claim_key IN (…)``, PostgreSQL
planned a new deal (not yet in the statistics: estimated at one row) as a scan
of every reservation of the deal filtered by key, 20 ms a batch at 40,000.
Looked up by key (and by shopper) alone, these indexes are the only way.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 18:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reservations_claim_key"), ["claim_key"], unique=False)
    with op.batch_alter_table("deal_shoppers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deal_shoppers_shopper_id"), ["shopper_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deal_shoppers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deal_shoppers_shopper_id"))
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reservations_claim_key"))
