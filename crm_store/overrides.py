"""Customer overrides: a value a person set for one golden field of one customer, above survivorship.

``crmkit owners transfer`` writes one per customer it moves (field ``owner``). The store's writers apply them:
:func:`crm_store.upsert_customers` writes the override instead of the value survivorship chose, and
:func:`crm_store.replace_customer_details` marks the field's provenance ``rule = override`` (with the override's
value; ``source``/``source_key`` stay those of the row survivorship chose). So every writer of golden records (a
run, a steward's merge or unmerge) keeps them, and a run that reads the same rows again changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any, Final, cast

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session

from crm_store.models import Customer, CustomerOverride, text_length

__all__ = [
    "OVERRIDABLE",
    "OVERRIDE_RULE",
    "apply_overrides",
    "apply_provenance_overrides",
    "read_overrides",
    "set_overrides",
]

#: Golden fields an override may set: the text columns of ``customer`` a person decides rather than a source.
OVERRIDABLE: Final = ("owner", "segment", "status")
#: ``field_provenance.rule`` of a field whose value is an override.
OVERRIDE_RULE: Final = "override"
_IN_CHUNK = 500


def _table(model: type[Any]) -> sa.Table:
    return cast(sa.Table, model.__table__)


def read_overrides(session: Session, customer_ids: Collection[str] | None = None) -> pl.DataFrame:
    """The overrides (of ``customer_ids`` only, when given): ``customer_id``, ``field``, ``value``, ``set_by``,
    ``set_at`` (UTC), ordered by customer and field."""
    table = _table(CustomerOverride)
    schema: dict[str, pl.DataType] = {
        "customer_id": pl.String(),
        "field": pl.String(),
        "value": pl.String(),
        "set_by": pl.String(),
        "set_at": pl.Datetime("us", "UTC"),
    }
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.customer_id, table.c.field)
    rows: list[Any] = []
    stored = session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    if customer_ids is None or (stored and stored <= 2 * len(customer_ids)):
        # no filter, or few overrides for many customers (a run's every customer): one read, filtered here
        wanted = None if customer_ids is None else set(customer_ids)
        rows = [tuple(r) for r in session.execute(stmt) if wanted is None or r[0] in wanted]
    elif stored:
        ids = sorted(set(customer_ids))
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            rows += [tuple(r) for r in session.execute(stmt.where(table.c.customer_id.in_(chunk)))]
    return pl.DataFrame(rows, schema=schema, orient="row")


def set_overrides(
    session: Session, customer_ids: Collection[str], field: str, value: str, *, by: str, now: dt.datetime
) -> int:
    """Make ``value`` the override of ``field`` for every customer of ``customer_ids`` (replacing an earlier one);
    returns how many were written. The caller rewrites the golden records (``upsert_customers``).

    Raises:
        ValueError: ``field`` not in ``OVERRIDABLE``, ``value`` empty or longer than the column, ``by`` empty or
            longer than 128 characters.
    """
    if field not in OVERRIDABLE:
        raise ValueError(f"set_overrides: field must be one of {OVERRIDABLE}, got {field!r}")
    length = text_length(_table(Customer).c[field].type)
    if not value or (length and len(value) > length):
        raise ValueError(f"set_overrides: the {field} must be 1 to {length} characters")
    if not by or len(by) > 128:
        raise ValueError("set_overrides: by must be 1 to 128 characters")
    table = _table(CustomerOverride)
    rows = [
        {"customer_id": c, "field": field, "value": value, "set_by": by, "set_at": now} for c in sorted(customer_ids)
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    updated = ("value", "set_by", "set_at")
    if dialect in ("postgresql", "sqlite"):
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        stmt: Any = insert.on_conflict_do_update(
            index_elements=[table.c.customer_id, table.c.field], set_={c: insert.excluded[c] for c in updated}
        )
    else:
        insert_my = mysql.insert(table)
        stmt = insert_my.on_duplicate_key_update({c: insert_my.inserted[c] for c in updated})
    session.execute(stmt, rows)
    return len(rows)


def _by_field(session: Session, customer_ids: Collection[str], fields: Collection[str]) -> Mapping[str, pl.DataFrame]:
    """The overrides of these customers, per field among ``fields``: ``customer_id``, ``value``."""
    wanted = [f for f in fields if f in OVERRIDABLE]
    if not wanted or not customer_ids:
        return {}
    found = read_overrides(session, customer_ids).filter(pl.col("field").is_in(wanted))
    return {str(f): rows.select("customer_id", "value") for (f,), rows in found.group_by("field")}


def apply_overrides(session: Session, customers: pl.DataFrame) -> pl.DataFrame:
    """``customers`` (``customer_id`` and golden columns) with every stored override in place of its field."""
    per_field = _by_field(session, customers["customer_id"].unique().to_list(), customers.columns)
    for name, found in per_field.items():
        override = f"__override_{name}"
        customers = (
            customers.join(found.rename({"value": override}), on="customer_id", how="left", maintain_order="left")
            .with_columns(pl.coalesce(override, pl.col(name).cast(pl.String)).alias(name))
            .drop(override)
        )
    return customers


def apply_provenance_overrides(session: Session, provenance: pl.DataFrame) -> pl.DataFrame:
    """``field_provenance`` rows with each overridden field's ``value`` the override's and ``rule`` ``override``
    (a field survivorship left empty gets no row: there is no source row to name)."""
    if not provenance.height or "field" not in provenance.columns:
        return provenance
    ids = provenance["customer_id"].unique().to_list()
    per_field = _by_field(session, ids, provenance["field"].unique().to_list())
    if not per_field:
        return provenance
    found = pl.concat([rows.with_columns(pl.lit(f).alias("field")) for f, rows in per_field.items()])
    marked = provenance.join(
        found.rename({"value": "__override"}), on=["customer_id", "field"], how="left", maintain_order="left"
    )
    hit = pl.col("__override").is_not_null()
    value = pl.col("value").cast(pl.String) if "value" in provenance.columns else pl.lit(None, pl.String)
    changes = [pl.when(hit).then(pl.col("__override")).otherwise(value).alias("value")]
    if "rule" in provenance.columns:
        changes.append(pl.when(hit).then(pl.lit(OVERRIDE_RULE)).otherwise(pl.col("rule")).alias("rule"))
    else:
        changes.append(pl.when(hit).then(pl.lit(OVERRIDE_RULE)).otherwise(None).alias("rule"))
    return marked.with_columns(changes).drop("__override")
