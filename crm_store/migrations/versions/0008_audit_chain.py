"""A tamper-evident audit trail (a hash chain over ``audit_event``) and customer overrides.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09

- ``audit_event.seq`` (1, 2, 3 … unique, no gaps), ``prev_hash`` and ``hash``: the sha256 of the event's canonical
  JSON and the previous event's hash (``crm_store.audit`` describes the format). The events already in the store
  are chained here, in the order they were written (``id``);
- ``audit_head``: one row (``name`` = ``audit``, written with the first event) with the last event's ``seq`` and
  ``hash``. Every append locks it first, so concurrent writers cannot fork the chain, and a chain cut short no
  longer reaches it;
- ``customer_override``: a value a person set for one golden field of one customer (``owner`` after
  ``crmkit owners transfer``), applied by every run over survivorship.

On MySQL and MariaDB the new tables get the binary collation of migration 0004, like every other table. The hash
function is copied here, not imported: this revision must chain the rows the same way whatever later code does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
GENESIS = "0" * 64


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


def _numbers(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _hash(seq: int, at: dt.datetime, actor: str, action: str, target: Any, details: Any, prev_hash: str) -> str:
    """``crm_store.audit.event_hash`` as of this revision."""
    at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
    document = {
        "seq": seq,
        "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor,
        "action": action,
        "target": _numbers(target),
        "details": _numbers(details),
        "prev_hash": prev_hash,
    }
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _chain_existing_events(conn: sa.Connection) -> tuple[int, str]:
    """Give every event already stored its ``seq``, ``prev_hash`` and ``hash``, in ``id`` order; returns the last
    ``seq`` and ``hash``."""
    events = sa.table(
        "audit_event",
        sa.column("id", sa.Integer()),
        sa.column("at", UTC_DATETIME),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("target", JSON),
        sa.column("details", JSON),
        sa.column("seq", sa.BigInteger()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    rows = conn.execute(
        sa.select(
            events.c.id, events.c.at, events.c.actor, events.c.action, events.c.target, events.c.details
        ).order_by(events.c.id)
    ).all()
    seq, prev = 0, GENESIS
    updates = []
    for event_id, at, actor, action, target, details in rows:
        seq += 1
        digest = _hash(seq, at, actor, action, target, details, prev)
        updates.append({"_id": event_id, "_seq": seq, "_prev": prev, "_hash": digest})
        prev = digest
    if updates:
        stmt = (
            sa.update(events)
            .where(events.c.id == sa.bindparam("_id"))
            .values(seq=sa.bindparam("_seq"), prev_hash=sa.bindparam("_prev"), hash=sa.bindparam("_hash"))
        )
        conn.execute(stmt, updates)
    return seq, prev


def upgrade() -> None:
    conn = op.get_bind()
    options = _table_options(conn)
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
    last_seq, last_hash = _chain_existing_events(conn)
    with op.batch_alter_table("audit_event") as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_audit_event_seq", ["seq"])
    head = op.create_table(
        "audit_head",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_audit_head"),
        **options,
    )
    assert head is not None
    if last_seq:  # an empty trail gets its head with its first event
        now = dt.datetime.now(dt.UTC)
        stored_now = now if conn.dialect.name == "postgresql" else now.replace(tzinfo=None)
        conn.execute(sa.insert(head).values(name="audit", seq=last_seq, hash=last_hash, updated_at=stored_now))
    op.create_table(
        "customer_override",
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(128), nullable=False),
        sa.Column("set_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.customer_id"],
            name="fk_customer_override_customer_id_customer",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "field", name="pk_customer_override"),
        **options,
    )


def downgrade() -> None:
    op.drop_table("customer_override")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_constraint("uq_audit_event_seq", type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
