"""The ``organisation`` table goes: crmkit never wrote a row of it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

Migration 0001 created ``organisation`` (``organisation_id``, ``name``, and ``key``: the normalised name) for the
organisation a customer works for; that is ``customer.company`` (with its field provenance), and no crmkit code ever
wrote a row of ``organisation``. Rows put there by other tools are dropped with the table. Backups taken
at earlier revisions list the table: ``crm_store.backup`` still verifies and restores it, and the upgrade that
follows a restore drops it.

Going back creates the empty table again as 0001 made it, with the binary collation of migration 0004 on MySQL and
MariaDB, like every other table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _table_options(conn: sa.Connection) -> dict[str, Any]:
    """``mysql_*`` (``mariadb_*`` through a ``mariadb://`` URL) table options: the binary, no-pad collation of
    migration 0004 (nothing elsewhere)."""
    if conn.dialect.name not in ("mysql", "mariadb"):
        return {}
    version = str(conn.execute(sa.text("select version()")).scalar_one())
    if "mariadb" in version.lower():
        collation = "utf8mb4_nopad_bin"
    else:
        major = int(version.split(".")[0]) if version[:1].isdigit() else 0
        collation = "utf8mb4_0900_bin" if major >= 8 else "utf8mb4_bin"
    return {f"{conn.dialect.name}_charset": "utf8mb4", f"{conn.dialect.name}_collate": collation}  # mysql_ or mariadb_


def upgrade() -> None:
    op.drop_table("organisation")


def downgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", name="pk_organisation"),
        sa.UniqueConstraint("key", name="uq_organisation_key"),
        **_table_options(op.get_bind()),
    )
