"""Initial crm_store schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written by hand to match ``crm_store.models`` (``tests/crm_store/test_migrations.py`` compares them).
Types are spelled out here, not imported from the models, so that this revision never changes when the
models move on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
UTC_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _source_cols() -> list[sa.Column[str]]:
    return [
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("source_key", sa.String(255), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "pipeline_run",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("ledger", JSON, nullable=True),
        sa.Column("versions", JSON, nullable=True),
        sa.Column("report_path", sa.String(1024), nullable=True),
        sa.CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="ck_pipeline_run_status"),
        sa.PrimaryKeyConstraint("run_id", name="pk_pipeline_run"),
    )
    op.create_table(
        "source_record",
        *_source_cols(),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column("payload", LONG_TEXT, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.Column("first_run_id", sa.String(64), nullable=False),
        sa.CheckConstraint("status IN ('loaded', 'quarantined', 'skipped')", name="ck_source_record_status"),
        sa.PrimaryKeyConstraint("source", "source_key", name="pk_source_record"),
    )
    op.create_table(
        "customer",
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("full_name", sa.String(255), nullable=True),
        sa.Column("family_name", sa.String(128), nullable=True),
        sa.Column("given_name", sa.String(128), nullable=True),
        sa.Column("name_pinyin", sa.String(255), nullable=True),
        sa.Column("primary_phone", sa.String(64), nullable=True),
        sa.Column("primary_email", sa.String(320), nullable=True),
        sa.Column("company", sa.String(255), nullable=True),
        sa.Column("job_title", sa.String(255), nullable=True),
        sa.Column("gender", sa.String(16), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("province", sa.String(64), nullable=True),
        sa.Column("city", sa.String(64), nullable=True),
        sa.Column("district", sa.String(64), nullable=True),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("segment", sa.String(128), nullable=True),
        sa.Column("status", sa.String(64), nullable=True),
        sa.Column("attributes", JSON, nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('person', 'organisation')", name="ck_customer_kind"),
        sa.PrimaryKeyConstraint("customer_id", name="pk_customer"),
    )
    op.create_table(
        "contact_point",
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(128), nullable=True),
        sa.Column("source_key", sa.String(255), nullable=True),
        sa.CheckConstraint("kind IN ('phone', 'email', 'wechat')", name="ck_contact_point_kind"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.customer_id"],
            name="fk_contact_point_customer_id_customer",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "kind", "value", name="pk_contact_point"),
    )
    op.create_index("ix_contact_point_value", "contact_point", ["value"])
    op.create_table(
        "address",
        sa.Column("customer_id", sa.String(36), nullable=False),
        *_source_cols(),
        sa.Column("province", sa.String(64), nullable=True),
        sa.Column("city", sa.String(64), nullable=True),
        sa.Column("district", sa.String(64), nullable=True),
        sa.Column("street", sa.Text(), nullable=True),
        sa.Column("admin_code", sa.String(12), nullable=True),
        sa.Column("postcode", sa.String(16), nullable=True),
        sa.Column("country", sa.String(64), nullable=True),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.customer_id"],
            name="fk_address_customer_id_customer",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "source", "source_key", name="pk_address"),
    )
    op.create_table(
        "organisation",
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", name="pk_organisation"),
        sa.UniqueConstraint("key", name="uq_organisation_key"),
    )
    op.create_table(
        "activity",
        sa.Column("activity_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("occurred_at", UTC_DATETIME, nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        *_source_cols(),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.customer_id"],
            name="fk_activity_customer_id_customer",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("activity_id", name="pk_activity"),
        sa.UniqueConstraint("source", "source_key", name="uq_activity_source_source_key"),
    )
    op.create_index("ix_activity_customer_id", "activity", ["customer_id"])
    op.create_table(
        "crosswalk",
        *_source_cols(),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("match_probability", sa.Double(), nullable=True),
        sa.Column("evidence", JSON, nullable=True),
        sa.Column("first_run_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.customer_id"], name="fk_crosswalk_customer_id_customer"),
        sa.ForeignKeyConstraint(
            ["source", "source_key"],
            ["source_record.source", "source_record.source_key"],
            name="fk_crosswalk_source_source_key_source_record",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source", "source_key", name="pk_crosswalk"),
    )
    op.create_index("ix_crosswalk_customer_id", "crosswalk", ["customer_id"])
    op.create_table(
        "field_provenance",
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        *_source_cols(),
        sa.Column("value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.customer_id"],
            name="fk_field_provenance_customer_id_customer",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "field", name="pk_field_provenance"),
    )
    op.create_table(
        "merge_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("members", JSON, nullable=False),
        sa.Column("evidence", JSON, nullable=True),
        sa.Column("members_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("undone_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_merge_event"),
        sa.UniqueConstraint("customer_id", "members_hash", name="uq_merge_event_customer_id_members_hash"),
    )
    op.create_table(
        "quarantine",
        *_source_cols(),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("details", JSON, nullable=True),
        sa.Column("first_run_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["source", "source_key"],
            ["source_record.source", "source_record.source_key"],
            name="fk_quarantine_source_source_key_source_record",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source", "source_key", name="pk_quarantine"),
    )
    op.create_table(
        "extract_cursor",
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_extract_cursor"),
    )


def downgrade() -> None:
    for table in (
        "extract_cursor",
        "quarantine",
        "merge_event",
        "field_provenance",
        "crosswalk",
        "activity",
        "organisation",
        "address",
        "contact_point",
        "customer",
        "source_record",
        "pipeline_run",
    ):
        op.drop_table(table)
