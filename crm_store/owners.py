"""Customer owners: who holds how many customers, and moving every customer of one owner to another.

"A salesperson leaves, the customers stay": :func:`transfer_owner` moves every golden record whose ``owner`` is
one person to another in one transaction, records a ``customer_override`` per customer (so no later run gives the
customer back to the old owner, whatever the source rows say), rewrites each golden record (``version`` + 1, its
``content_hash`` as a run would compute it) and the field's provenance, and appends one ``owners.transfer`` audit
event. The caller holds the store's run lock (no run may write customers meanwhile) and commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Final, cast

import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store.audit import append_event
from crm_store.models import Customer, CustomerOverride, FieldProvenance, text_length
from crm_store.overrides import OVERRIDE_RULE, set_overrides
from crm_store.upsert import GOLDEN_COLUMNS, upsert_customers

__all__ = ["Transfer", "read_owner_counts", "transfer_owner"]

logger = logging.getLogger(__name__)

#: A transfer's audit event lists the customer ids it moved up to this many (always their count and sha256).
LISTED_IDS: Final = 10_000
_IN_CHUNK = 500
_UTC = pl.Datetime("us", "UTC")


def _table(model: type[Any]) -> sa.Table:
    return cast(sa.Table, model.__table__)


@dataclass(frozen=True, slots=True)
class Transfer:
    """What :func:`transfer_owner` moved (or, for a dry run, would move): the customer ids (current ones and
    retired ones) and the audit event (None for a dry run or when nothing moved)."""

    from_owner: str
    to_owner: str
    customer_ids: list[str]
    retired: int
    dry_run: bool
    audit_event_id: int | None = None
    rewritten: int = 0
    ids_sha256: str = field(default="")

    @property
    def count(self) -> int:
        return len(self.customer_ids)


def read_owner_counts(session: Session) -> pl.DataFrame:
    """Every owner with the number of their customers: ``owner`` (null: customers without one), ``customers``
    (current), ``retired``, ``overridden`` (how many hold their owner through an override), most customers first."""
    cust, over = _table(Customer), _table(CustomerOverride)
    current = sa.func.sum(sa.case((cust.c.retired_at.is_(None), 1), else_=0))
    retired = sa.func.sum(sa.case((cust.c.retired_at.is_not(None), 1), else_=0))
    overridden = sa.func.count(over.c.customer_id)
    stmt = (
        sa.select(cust.c.owner, current, retired, overridden)
        .select_from(cust.outerjoin(over, (over.c.customer_id == cust.c.customer_id) & (over.c.field == "owner")))
        .group_by(cust.c.owner)
    )
    rows = [(owner, int(a or 0), int(b or 0), int(c or 0)) for owner, a, b, c in session.execute(stmt)]
    schema: dict[str, pl.DataType] = {
        "owner": pl.String(),
        "customers": pl.Int64(),
        "retired": pl.Int64(),
        "overridden": pl.Int64(),
    }
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return frame.sort(["customers", "retired", "owner"], descending=[True, True, False], nulls_last=True)


def _owned(session: Session, owner: str) -> pl.DataFrame:
    """The golden records (retired ones too) whose owner is ``owner``: ``customer_id``, ``GOLDEN_COLUMNS``,
    ``retired_at``; as ``upsert_customers`` takes them."""
    table = _table(Customer)
    schema: dict[str, pl.DataType] = {name: pl.String() for name in ("customer_id", *GOLDEN_COLUMNS)}
    schema |= {"birth_date": pl.Date(), "last_contact_at": _UTC, "retired_at": _UTC}
    stmt = sa.select(*(table.c[c] for c in schema)).where(table.c.owner == owner).order_by(table.c.customer_id)
    rows = [
        tuple(
            json.dumps(v, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            if name == "attributes" and v is not None
            else v
            for name, v in zip(schema, row, strict=True)
        )
        for row in session.execute(stmt)
    ]
    return pl.DataFrame(rows, schema=schema, orient="row")


def transfer_owner(
    session: Session,
    from_owner: str,
    to_owner: str,
    *,
    by: str,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> Transfer:
    """Move every customer whose ``owner`` is ``from_owner`` to ``to_owner`` (in the caller's transaction).

    Each moved customer gets the override ``owner = to_owner`` (runs keep it), its golden record rewritten
    (``version`` + 1, ``updated_at = now``) and its owner's provenance marked ``rule = override``; one
    ``owners.transfer`` audit event (who, both owners, how many, the ids) records it. A dry run only counts.

    Raises:
        ValueError: an owner empty, ``to_owner`` longer than ``customer.owner`` keeps, both the same, or ``by``
            empty or longer than 128 characters.
    """
    length = text_length(_table(Customer).c.owner.type)
    if not from_owner or not to_owner:
        raise ValueError("transfer_owner: both owners must be given")
    if length and len(to_owner) > length:
        raise ValueError(f"transfer_owner: the new owner must be at most {length} characters")
    if from_owner == to_owner:
        raise ValueError("transfer_owner: the two owners are the same")
    if not by or len(by) > 128:
        raise ValueError("transfer_owner: by must be 1 to 128 characters")
    owned = _owned(session, from_owner)
    ids = owned["customer_id"].to_list()
    retired = int(owned["retired_at"].is_not_null().sum())
    digest = hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()
    if dry_run or not ids:
        return Transfer(from_owner, to_owner, ids, retired, dry_run, ids_sha256=digest)
    now = now or dt.datetime.now(dt.UTC)
    set_overrides(session, ids, "owner", to_owner, by=by, now=now)
    counts = upsert_customers(session, owned.drop("retired_at").with_columns(owner=pl.lit(to_owner)), now=now)
    provenance = _table(FieldProvenance)
    stmt = (
        sa.update(provenance)
        .where(provenance.c.field == "owner", provenance.c.customer_id.in_(sa.bindparam("ids", expanding=True)))
        .values(value=to_owner, rule=OVERRIDE_RULE)
    )
    for start in range(0, len(ids), _IN_CHUNK):
        session.execute(stmt, {"ids": ids[start : start + _IN_CHUNK]})
    details: dict[str, Any] = {"customers": len(ids), "retired": retired, "customer_ids_sha256": digest}
    if len(ids) <= LISTED_IDS:
        details["customer_ids"] = ids
    event = append_event(
        session,
        actor=by,
        action="owners.transfer",
        target={"from": from_owner, "to": to_owner},
        details=details,
        now=now,
    )
    logger.info("moved %s customers from one owner to another (audit event %s)", len(ids), event.id)
    return Transfer(
        from_owner, to_owner, ids, retired, False, int(event.id), rewritten=counts.updated, ids_sha256=digest
    )
