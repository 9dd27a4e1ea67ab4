"""PostgreSQL: many rows in one statement whose text does not depend on how many.

A multi-row ``INSERT … VALUES (…), (…)`` is a new statement for every row count:
asyncpg prepares it again (a round trip) and PostgreSQL parses and plans it again,
and SQLAlchemy renders and binds a parameter per cell. Here each column travels
as one array parameter and ``unnest`` turns the arrays back into rows, so a
batch of any size runs the one statement asyncpg has prepared, and the arrays
are encoded in C. Rows go in in the order given (``WITH ORDINALITY``), which the
callers' lock order relies on.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, TextClause, text
from sqlalchemy.dialects import postgresql

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def array_insert(
    table: Table,
    columns: Sequence[str],
    *,
    on_conflict: str,
    returning: str,
    scalars: Collection[str] = (),
) -> TextClause:
    """``INSERT INTO table (columns…) SELECT … FROM unnest(:column arrays…)``.

    ``scalars``: columns set from one scalar parameter of the same name (not an
    array), cast to the column's type. ``on_conflict`` and ``returning`` are SQL,
    written by the caller (never from input)."""
    arrays = [c for c in columns if c not in scalars]
    casts = ", ".join(f"CAST(:{c} AS {_ddl(table, c)}[])" for c in arrays)
    picked = ", ".join(
        f"CAST(:{c} AS {_ddl(table, c)})" if c in scalars else f"t.{c}" for c in columns
    )
    names = ", ".join(arrays)
    return text(
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"SELECT {picked} FROM unnest({casts}) WITH ORDINALITY AS t({names}, row_order) "
        f"ORDER BY t.row_order {on_conflict} RETURNING {returning}"
    )


def as_arrays(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, list[Any]]:
    """The rows' values, one list per column, in row order."""
    return {c: [row[c] for row in rows] for c in columns}


def _ddl(table: Table, column: str) -> str:
    return str(table.c[column].type.compile(dialect=_DIALECT))
