"""The trained match model of a run.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

``pipeline_run.match_model`` keeps the Fellegi-Sunter model a run trained (JSON text), so an incremental run can
score new records with the model of the last full run instead of re-training on part of the population.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("pipeline_run") as batch:
        batch.add_column(sa.Column("match_model", LONG_TEXT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_run") as batch:
        batch.drop_column("match_model")
