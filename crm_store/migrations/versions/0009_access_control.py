"""Users, roles and teams; PostgreSQL row-level security on the customer-owned tables.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-12

- ``app_user``: a person who reads the store (``name``, the value ``customer.owner`` holds for their customers;
  ``role``: sales, manager, service, auditor or admin; ``team``). A customer's team is its owner's team, derived
  through ``app_user``, never stored on the customer (``crm_store.access`` says why);
- ``ix_customer_owner``: the access rules select customers by owner;
- on PostgreSQL only: ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` on every table that holds a customer's data, with
  two policies each. ``crmkit_admin`` (every command): the table's owner when no principal is set (migrations, runs,
  backups: today's behaviour) and the ``admin`` role. ``crmkit_read`` (``SELECT``): what ``crm_store.access`` lets
  the other roles see, read from the settings ``crmkit.user``, ``crmkit.role`` and ``crmkit.team`` that the store
  sets with ``set_config(…, true)`` (``SET LOCAL``) at the start of each transaction of a principal. A connection
  that is not the tables' owner and sets no principal sees nothing.

The policies are written here, not imported: this revision must create the same policies whatever later code does.
``tests/crm_store/test_access.py`` checks them against ``crm_store.access`` row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.elements import conv

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

ROLE = "coalesce(current_setting('crmkit.role', true), '')"
USER = "coalesce(current_setting('crmkit.user', true), '')"
TEAM = "coalesce(current_setting('crmkit.team', true), '')"
#: ``field_provenance`` rows the service role sees (its contact fields).
SERVICE_FIELDS = (
    "full_name",
    "family_name",
    "given_name",
    "name_pinyin",
    "primary_phone",
    "landline",
    "primary_email",
    "company",
    "job_title",
    "province",
    "city",
    "district",
    "owner",
    "status",
    "last_contact_at",
)


def _visible_customer(table: str) -> str:
    return f"EXISTS (SELECT 1 FROM customer c WHERE c.customer_id = {table}.customer_id)"


def _same_row(alias: str, table: str) -> str:
    return f"{alias}.source = {table}.source AND {alias}.source_key = {table}.source_key"


#: Per table: the rows the principal roles other than admin see (``crmkit_read``). A subquery on another protected
#: table is itself filtered by that table's policies, so "a visible customer" is decided once, on ``customer``.
READ_POLICIES: dict[str, str] = {
    "customer": (
        f"CASE {ROLE} WHEN 'auditor' THEN true WHEN 'service' THEN true "
        f"WHEN 'sales' THEN {USER} <> '' AND owner = {USER} "
        f"WHEN 'manager' THEN {USER} <> '' AND (owner = {USER} OR owner IN "
        f"(SELECT u.name FROM app_user u WHERE {TEAM} <> '' AND u.team = {TEAM})) "
        "ELSE false END"
    ),
    "contact_point": f"{ROLE} IN ('auditor', 'service', 'sales', 'manager') AND {_visible_customer('contact_point')}",
    "address": f"{ROLE} IN ('auditor', 'service', 'sales', 'manager') AND {_visible_customer('address')}",
    "customer_override": (
        f"{ROLE} IN ('auditor', 'service', 'sales', 'manager') AND {_visible_customer('customer_override')}"
    ),
    "field_provenance": (
        f"{ROLE} IN ('auditor', 'service', 'sales', 'manager') AND {_visible_customer('field_provenance')} "
        f"AND ({ROLE} <> 'service' OR field IN ({', '.join(repr(f) for f in SERVICE_FIELDS)}))"
    ),
    "merge_event": f"{ROLE} IN ('auditor', 'sales', 'manager') AND {_visible_customer('merge_event')}",
    "activity": (
        f"{ROLE} IN ('auditor', 'service') OR ({ROLE} IN ('sales', 'manager') AND {_visible_customer('activity')})"
    ),
    "crosswalk": f"{ROLE} = 'auditor' OR ({ROLE} IN ('sales', 'manager') AND {_visible_customer('crosswalk')})",
    "source_record": (
        f"{ROLE} = 'auditor' OR ({ROLE} IN ('sales', 'manager') AND ("
        f"EXISTS (SELECT 1 FROM crosswalk w WHERE {_same_row('w', 'source_record')}) OR "
        f"EXISTS (SELECT 1 FROM activity a WHERE {_same_row('a', 'source_record')} "
        "AND a.customer_id IS NOT NULL)))"
    ),
    "quarantine": (
        f"{ROLE} IN ('auditor', 'sales', 'manager') AND "
        f"EXISTS (SELECT 1 FROM source_record s WHERE {_same_row('s', 'quarantine')})"
    ),
}


def _owner_or_admin(table: str) -> str:
    """The table's owner (or a member of its role) with no principal set, or the admin role."""
    owner = f"(SELECT t.relowner FROM pg_catalog.pg_class t WHERE t.oid = '{table}'::regclass)"
    return f"({ROLE} = '' AND pg_catalog.pg_has_role(current_user, {owner}, 'MEMBER')) OR {ROLE} = 'admin'"


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
    conn = op.get_bind()
    op.create_table(
        "app_user",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("team", sa.String(128), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "role IN ('sales', 'manager', 'service', 'auditor', 'admin')", name=conv("ck_app_user_role")
        ),
        sa.PrimaryKeyConstraint("name", name="pk_app_user"),
        **_table_options(conn),
    )
    op.create_index("ix_app_user_team", "app_user", ["team"])
    op.create_index("ix_customer_owner", "customer", ["owner"])
    if conn.dialect.name != "postgresql":
        return
    for table, scope in READ_POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        admin = _owner_or_admin(table)
        op.execute(f"CREATE POLICY crmkit_admin ON {table} FOR ALL USING ({admin}) WITH CHECK ({admin})")
        op.execute(f"CREATE POLICY crmkit_read ON {table} FOR SELECT USING ({scope})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in READ_POLICIES:
            op.execute(f"DROP POLICY IF EXISTS crmkit_read ON {table}")
            op.execute(f"DROP POLICY IF EXISTS crmkit_admin ON {table}")
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.drop_index("ix_customer_owner", table_name="customer")
    op.drop_index("ix_app_user_team", table_name="app_user")
    op.drop_table("app_user")
