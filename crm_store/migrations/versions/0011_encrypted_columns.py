"""Room for encrypted personal data (``crm_store.crypto``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

With a key configured, phones, e-mail addresses and contact point values are stored as
``enc:<key id>:<base64 nonce+ciphertext>``, longer than the plain text: the columns are widened
(``customer.primary_phone``/``landline`` 64 → 320, ``customer.primary_email`` 320 → 640,
``contact_point.value`` 255 → 512). Writers still refuse plain text longer than the old widths. The other
encrypted columns (``address.street``/``raw``, ``field_provenance.value``, ``source_record.payload``) are
unbounded text already. No value is rewritten: ``crmkit keys rotate`` encrypts the values of an existing store.

SQLite ignores declared lengths, and copying ``customer`` (what Alembic's batch mode does) would drop it first,
which cascades to its child tables; so on SQLite only the declared types in the schema are edited, SQLite's
documented procedure for schema changes that do not touch the stored data. Going back narrows the columns again
(it fails on a store that holds encrypted values: decrypt them first with ``crmkit keys decrypt``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, column, old length, new length, nullable)
_WIDENED = (
    ("customer", "primary_phone", 64, 320, True),
    ("customer", "landline", 64, 320, True),
    ("customer", "primary_email", 320, 640, True),
    ("contact_point", "value", 255, 512, False),
)


def _sqlite_retype(conn: sa.Connection, changes: list[tuple[str, str, int, int]]) -> None:
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        for table in sorted({t for t, *_ in changes}):
            sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)).scalar()
            assert sql is not None  # the tables of ``changes`` exist
            for _, column, old, new in (c for c in changes if c[0] == table):
                pattern = re.compile(rf"(\b{column} VARCHAR\(){old}(\))")
                sql, n = pattern.subn(rf"\g<1>{new}\g<2>", sql)
                if n != 1:
                    raise RuntimeError(f"{table}.{column}: expected one VARCHAR({old}) in the schema, found {n}")
            conn.exec_driver_sql("UPDATE sqlite_master SET sql=? WHERE type='table' AND name=?", (sql, table))
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema=OFF")
    conn.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")


def _retype(widen: bool) -> None:
    conn = op.get_bind()
    changes = [(t, c, old, new) if widen else (t, c, new, old) for t, c, old, new, _ in _WIDENED]
    if conn.dialect.name == "sqlite":
        _sqlite_retype(conn, changes)
        return
    nullable = {(t, c): n for t, c, _, _, n in _WIDENED}
    for table, column, old, new in changes:
        op.alter_column(
            table,
            column,
            type_=sa.String(new),
            existing_type=sa.String(old),
            existing_nullable=nullable[(table, column)],
        )


def upgrade() -> None:
    _retype(widen=True)


def downgrade() -> None:
    _retype(widen=False)
