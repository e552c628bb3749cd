"""Keys compare as bytes on MySQL and MariaDB.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

MariaDB and MySQL create tables with the server's default collation, which is case-, accent- and (MariaDB)
trailing-space-insensitive: the source keys ``abc``, ``ABC``, ``abc ``, ``é1`` / ``e1`` and ``Straße`` /
``STRASSE`` were one primary key, so rows overwrote each other without an error. Every table is converted to a
binary, no-pad collation (``utf8mb4_nopad_bin`` on MariaDB, ``utf8mb4_0900_bin`` on MySQL 8), as SQLite and
PostgreSQL compare text already. Other databases are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _collation(conn: sa.Connection) -> str:
    version = str(conn.execute(sa.text("select version()")).scalar_one())
    if "mariadb" in version.lower():
        return "utf8mb4_nopad_bin"
    major = int(version.split(".")[0]) if version[:1].isdigit() else 0
    return "utf8mb4_0900_bin" if major >= 8 else "utf8mb4_bin"


def _tables(conn: sa.Connection) -> list[str]:
    return sorted(t for t in sa.inspect(conn).get_table_names() if t != "alembic_version")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name not in ("mysql", "mariadb"):
        return
    _convert(conn, _collation(conn))


def _convert(conn: sa.Connection, collation: str) -> None:
    # MariaDB refuses to change the collation of a column a foreign key uses, whatever foreign_key_checks says:
    # the foreign keys are dropped, every table converted, and the foreign keys made again as they were
    inspector = sa.inspect(conn)
    tables = _tables(conn)
    foreign = {t: inspector.get_foreign_keys(t) for t in tables}
    for table, keys in foreign.items():
        for fk in keys:
            assert fk["name"] is not None  # MariaDB names every foreign key
            op.drop_constraint(fk["name"], table, type_="foreignkey")
    for table in tables:
        op.execute(f"alter table `{table}` convert to character set utf8mb4 collate {collation}")
    for table, keys in foreign.items():
        for fk in keys:
            options = fk.get("options") or {}
            op.create_foreign_key(
                fk["name"],
                table,
                fk["referred_table"],
                fk["constrained_columns"],
                fk["referred_columns"],
                ondelete=options.get("ondelete"),
                onupdate=options.get("onupdate"),
            )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name not in ("mysql", "mariadb"):
        return
    _convert(conn, "utf8mb4_general_ci")
