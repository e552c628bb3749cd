"""Golden-record lifecycle and new golden fields; the rule behind every survived value.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

- ``customer.retired_at``: set when a customer is left without source rows (its rows went to another customer,
  were quarantined or deleted at the source); the record stays so its id still resolves;
- ``customer.merged_into`` / ``customer.split_from``: where a retired customer's rows went, and which customer a
  new one was split from;
- ``customer.landline`` (the best landline among the customer's numbers) and ``customer.last_contact_at``;
- ``field_provenance.rule``: what decided each golden value (``quality:…``, ``recency``, ``priority`` …).

The golden record's ``content_hash`` covers the new fields, so the first run after this revision writes every
customer once more (``version`` + 1); later re-runs change nothing again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_CUSTOMER_COLUMNS = (
    ("landline", sa.String(64)),
    ("last_contact_at", UTC_DATETIME),
    ("retired_at", UTC_DATETIME),
    ("merged_into", sa.String(36)),
    ("split_from", sa.String(36)),
)


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        for name, type_ in _CUSTOMER_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("field_provenance") as batch:
        batch.add_column(sa.Column("rule", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("field_provenance") as batch:
        batch.drop_column("rule")
    with op.batch_alter_table("customer") as batch:
        for name, _ in reversed(_CUSTOMER_COLUMNS):
            batch.drop_column(name)
