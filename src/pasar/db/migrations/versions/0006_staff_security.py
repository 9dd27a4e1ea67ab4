"""staff emails unique per vendor, not across the service

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 05:30:00.000000

On SQLite the unique constraint can only go by rebuilding ``staff_users``, and
dropping the old table with foreign keys on (as Pasar runs SQLite, inside the
migration's transaction, where the pragma cannot change) would fire the
``ON DELETE`` actions of the tables that point at it: every studio session deleted
and every show's host cleared. So those rows are kept aside and put back.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


@contextmanager
def _children_kept() -> Iterator[None]:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TEMP TABLE _keep_sessions AS SELECT * FROM staff_sessions")
        op.execute(
            "CREATE TEMP TABLE _keep_hosts AS SELECT id, host_user_id FROM shows"
            " WHERE host_user_id IS NOT NULL"
        )
    yield
    if sqlite:
        op.execute("DELETE FROM staff_sessions")
        op.execute("INSERT INTO staff_sessions SELECT * FROM _keep_sessions")
        op.execute(
            "UPDATE shows SET host_user_id ="
            " (SELECT k.host_user_id FROM _keep_hosts k WHERE k.id = shows.id)"
            " WHERE id IN (SELECT id FROM _keep_hosts)"
        )
        op.execute("DROP TABLE _keep_sessions")
        op.execute("DROP TABLE _keep_hosts")


def upgrade() -> None:
    with _children_kept(), op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_staff_users_email", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_staff_users_vendor_id_email"), ["vendor_id", "email"]
        )
        batch_op.create_index(batch_op.f("ix_staff_users_email"), ["email"], unique=False)


def downgrade() -> None:
    # Fails if two vendors have staff with the same email by then: decide which stays.
    with _children_kept(), op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_users_email"))
        batch_op.drop_constraint(batch_op.f("uq_staff_users_vendor_id_email"), type_="unique")
        batch_op.create_unique_constraint("uq_staff_users_email", ["email"])
