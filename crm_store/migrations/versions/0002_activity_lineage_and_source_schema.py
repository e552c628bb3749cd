"""Activity lineage and the source schema baseline.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

``activity`` gains ``details`` (the row's other columns, JSON) and a foreign key to ``source_record`` (an
activity row is a loaded source row, like a ``crosswalk`` row); ``source_schema`` keeps the columns each source
had when last read, the baseline for schema-drift detection. Types are spelled out here, not imported from the
models, so that this revision never changes when the models move on. On SQLite the foreign key is added
through a table copy (batch mode).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("activity") as batch:
        batch.add_column(sa.Column("details", JSON, nullable=True))
        batch.create_foreign_key(
            "fk_activity_source_source_key_source_record",
            "source_record",
            ["source", "source_key"],
            ["source", "source_key"],
            ondelete="CASCADE",
        )
    op.create_table(
        "source_schema",
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("columns", JSON, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_source_schema"),
    )


def downgrade() -> None:
    op.drop_table("source_schema")
    with op.batch_alter_table("activity") as batch:
        batch.drop_constraint("fk_activity_source_source_key_source_record", type_="foreignkey")
        batch.drop_column("details")
