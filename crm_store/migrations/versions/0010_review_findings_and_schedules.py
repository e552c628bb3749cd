"""Clean findings in the review queue, and the schedules ``crmkit schedule`` serves.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-13

- ``review_item`` holds two subjects: a possible match (a pair of source rows, as before) or a finding of the
  ``clean`` flow about one customer (kind ``stale``, ``incomplete`` or ``invalid_contact``). A finding has
  ``customer_id`` and ``finding_key`` (the sha256 of what makes it the same finding in every run) and no pair; the
  pair columns become nullable and a check constraint (``subject``) keeps each row one or the other;
- ``review_decision`` likewise: a decision names a pair (``match`` / ``no_match`` / ``skip``) or a
  ``finding_key`` (``confirm`` / ``dismiss`` / ``skip``);
- ``pipeline_schedule``: one row per Prefect deployment ``crmkit schedule`` serves for the store (cron, time zone,
  who serves it, since when, when it stopped), so the review page and ``crmkit runs`` can say when the next
  scheduled run is without a Prefect server at hand.

On MySQL and MariaDB the new table gets the binary collation of migration 0004, like every other table. Going
back deletes the findings and their decisions (earlier revisions cannot hold them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.elements import conv

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
PAIR = (("left_source", 128), ("left_key", 255), ("right_source", 128), ("right_key", 255))
PAIR_KINDS = ("review", "cut", "conflict")
FINDING_KINDS = ("stale", "incomplete", "invalid_contact")
PAIR_DECISIONS = ("match", "no_match", "skip")
FINDING_DECISIONS = ("confirm", "dismiss", "skip")


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


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _subject_check(column: str, pair_values: Sequence[str], finding_values: Sequence[str], *extra: str) -> str:
    """A row names a pair (no ``finding_key``) or a finding (no pair), never both, never neither: the same text
    as ``crm_store.models.subject_check``."""
    pair = " AND ".join(f"{name} IS NOT NULL" for name, _ in PAIR)
    no_pair = " AND ".join(f"{name} IS NULL" for name, _ in PAIR)
    finding = " AND ".join(("finding_key IS NOT NULL", *extra, no_pair, _in(column, finding_values)))
    return f"(finding_key IS NULL AND {pair} AND {_in(column, pair_values)}) OR ({finding})"


def _pair_nullable(batch: Any, nullable: bool) -> None:
    for name, length in PAIR:
        batch.alter_column(name, existing_type=sa.String(length), existing_nullable=not nullable, nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("review_item") as batch:
        _pair_nullable(batch, True)
        batch.add_column(sa.Column("customer_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("finding_key", sa.String(64), nullable=True))
        batch.drop_constraint(conv("ck_review_item_kind"), type_="check")
        batch.create_check_constraint(conv("ck_review_item_kind"), _in("kind", (*PAIR_KINDS, *FINDING_KINDS)))
        batch.create_check_constraint(
            conv("ck_review_item_subject"),
            _subject_check("kind", PAIR_KINDS, FINDING_KINDS, "customer_id IS NOT NULL"),
        )
        batch.create_unique_constraint("uq_review_item_finding_key", ["finding_key"])
        batch.create_index("ix_review_item_customer_id", ["customer_id"])
    with op.batch_alter_table("review_decision") as batch:
        _pair_nullable(batch, True)
        batch.add_column(sa.Column("finding_key", sa.String(64), nullable=True))
        batch.drop_constraint(conv("ck_review_decision_decision"), type_="check")
        batch.create_check_constraint(
            conv("ck_review_decision_decision"), _in("decision", (*PAIR_DECISIONS, "confirm", "dismiss"))
        )
        batch.create_check_constraint(
            conv("ck_review_decision_subject"), _subject_check("decision", PAIR_DECISIONS, FINDING_DECISIONS)
        )
        batch.create_index("ix_review_decision_finding_key", ["finding_key"])
    op.create_table(
        "pipeline_schedule",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("cron", sa.String(255), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("served_by", sa.String(128), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("stopped_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_pipeline_schedule"),
        **_table_options(op.get_bind()),
    )


def downgrade() -> None:
    op.drop_table("pipeline_schedule")
    op.execute("delete from review_decision where finding_key is not null")
    op.execute("delete from review_item where finding_key is not null")
    with op.batch_alter_table("review_decision") as batch:
        batch.drop_index("ix_review_decision_finding_key")
        batch.drop_constraint(conv("ck_review_decision_subject"), type_="check")
        batch.drop_constraint(conv("ck_review_decision_decision"), type_="check")
        batch.create_check_constraint(conv("ck_review_decision_decision"), _in("decision", PAIR_DECISIONS))
        batch.drop_column("finding_key")
        _pair_nullable(batch, False)
    with op.batch_alter_table("review_item") as batch:
        batch.drop_index("ix_review_item_customer_id")
        batch.drop_constraint("uq_review_item_finding_key", type_="unique")
        batch.drop_constraint(conv("ck_review_item_subject"), type_="check")
        batch.drop_constraint(conv("ck_review_item_kind"), type_="check")
        batch.create_check_constraint(conv("ck_review_item_kind"), _in("kind", PAIR_KINDS))
        batch.drop_column("finding_key")
        batch.drop_column("customer_id")
        _pair_nullable(batch, False)
