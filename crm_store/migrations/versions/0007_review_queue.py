"""The data steward's review queue, decisions and audit trail.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

- ``review_item``: one row per pair of source rows a run called a possible match (the review band, a link cut by
  the linkage check, a conflict), with its probability, evidence, the fingerprint of the compared values and its
  status (``open``, ``decided``, ``stale``);
- ``review_decision``: append-only; a steward's ``match`` / ``no_match`` / ``skip`` on a pair, with the fingerprint
  the decision was made on (the newest decision of a pair counts while the fingerprint holds);
- ``audit_event``: append-only; one row per steward action (``review.accept``, ``review.reject`` …).

On MySQL and MariaDB the new tables get the binary collation of migration 0004, like every other table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.sql.elements import conv

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
#: The columns naming a pair of source rows (left < right).
PAIR = ("left_source", "left_key", "right_source", "right_key")


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


def _pair_cols() -> list[sa.Column[str]]:
    return [
        sa.Column("left_source", sa.String(128), nullable=False),
        sa.Column("left_key", sa.String(255), nullable=False),
        sa.Column("right_source", sa.String(128), nullable=False),
        sa.Column("right_key", sa.String(255), nullable=False),
    ]


def upgrade() -> None:
    # check constraints are named as the models spell them (``conv``: not run through the naming convention again)
    options = _table_options(op.get_bind())
    op.create_table(
        "review_item",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_pair_cols(),
        sa.Column("probability", sa.Double(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("evidence", JSON, nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("first_run_id", sa.String(64), nullable=False),
        sa.Column("last_run_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("kind IN ('review', 'cut', 'conflict')", name=conv("ck_review_item_kind")),
        sa.CheckConstraint("status IN ('open', 'decided', 'stale')", name=conv("ck_review_item_status")),
        sa.PrimaryKeyConstraint("id", name="pk_review_item"),
        sa.UniqueConstraint(*PAIR, name="uq_review_item_left_source_left_key_right_source_right_key"),
        **options,
    )
    op.create_index("ix_review_item_status", "review_item", ["status"])
    op.create_table(
        "review_decision",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_pair_cols(),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.Column("decided_at", UTC_DATETIME, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("decision IN ('match', 'no_match', 'skip')", name=conv("ck_review_decision_decision")),
        sa.PrimaryKeyConstraint("id", name="pk_review_decision"),
        **options,
    )
    op.create_index("ix_review_decision_pair", "review_decision", list(PAIR))
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", JSON, nullable=True),
        sa.Column("details", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_event"),
        **options,
    )
    op.create_index("ix_audit_event_action", "audit_event", ["action"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_action", table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_index("ix_review_decision_pair", table_name="review_decision")
    op.drop_table("review_decision")
    op.drop_index("ix_review_item_status", table_name="review_item")
    op.drop_table("review_item")
