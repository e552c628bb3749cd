"""Run status ``partial``, the error of a run, and the store's run lock.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

- ``pipeline_run.status`` may be ``partial`` (loaded, but a source failed or too many rows were quarantined): the
  check constraint is made again with the new value;
- ``pipeline_run.error`` says why a run is ``partial`` or ``failed`` (``abandoned: process gone`` for a run whose
  process died);
- ``run_lock``: at most one row per lock name; the run that inserted it may write the store (``crm_store.lock``).

On MySQL and MariaDB the new table gets the binary collation of migration 0004, like every other table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.elements import conv

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
#: The check's name as the models spell it (marked with ``conv``, as ``op.f`` does: not run through the naming
#: convention again).
STATUS_CHECK = conv("ck_pipeline_run_status")


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


def _status_check(*statuses: str) -> str:
    return f"status IN ({', '.join(repr(s) for s in statuses)})"


def _status_checks(conn: sa.Connection) -> list[str]:
    """Names of the check constraints on ``pipeline_run.status``: 0001 created its check through the naming
    convention, so its name is ``ck_pipeline_run_ck_pipeline_run_status``; this revision's is the models' name."""
    checks = sa.inspect(conn).get_check_constraints("pipeline_run")
    return [name for c in checks if (name := c.get("name")) and "status" in str(c.get("sqltext", ""))]


def _replace_status_check(batch: Any, names: list[str], *statuses: str) -> None:
    for name in names:
        batch.drop_constraint(conv(name), type_="check")
    batch.create_check_constraint(STATUS_CHECK, _status_check(*statuses))


def upgrade() -> None:
    names = _status_checks(op.get_bind())
    with op.batch_alter_table("pipeline_run") as batch:
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        _replace_status_check(batch, names, "running", "succeeded", "partial", "failed")
    op.create_table(
        "run_lock",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("acquired_at", UTC_DATETIME, nullable=False),
        sa.Column("heartbeat_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_run_lock"),
        **_table_options(op.get_bind()),
    )


def downgrade() -> None:
    op.drop_table("run_lock")
    # earlier versions know no partial run: it counts as failed (its match model is not reused)
    op.execute("update pipeline_run set status = 'failed' where status = 'partial'")
    names = _status_checks(op.get_bind())
    with op.batch_alter_table("pipeline_run") as batch:
        _replace_status_check(batch, names, "running", "succeeded", "failed")
        batch.drop_column("error")
