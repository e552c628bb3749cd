"""The models: the tables and keys the brief names, portable key lengths, UTC timestamps."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from crm_store import Base
from crm_store.models import UtcDateTime

PRIMARY_KEYS = {
    "pipeline_run": ["run_id"],
    "pipeline_schedule": ["name"],
    "source_record": ["source", "source_key"],
    "customer": ["customer_id"],
    "contact_point": ["customer_id", "kind", "value"],
    "address": ["customer_id", "source", "source_key"],
    "activity": ["activity_id"],
    "crosswalk": ["source", "source_key"],
    "field_provenance": ["customer_id", "field"],
    "merge_event": ["id"],
    "quarantine": ["source", "source_key"],
    "extract_cursor": ["source"],
    "source_schema": ["source"],
    "run_lock": ["name"],
    "review_item": ["id"],
    "review_decision": ["id"],
    "audit_event": ["id"],
    "audit_head": ["name"],
    "customer_override": ["customer_id", "field"],
    "app_user": ["name"],
}


def test_tables_and_primary_keys() -> None:
    assert {name: [c.name for c in t.primary_key.columns] for name, t in Base.metadata.tables.items()} == (PRIMARY_KEYS)


def test_every_indexed_text_column_has_a_length() -> None:
    # MariaDB cannot index TEXT without a prefix: every key, unique or indexed column is a sized VARCHAR.
    for table in Base.metadata.tables.values():
        indexed = {c for c in table.primary_key.columns}
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint | sa.ForeignKeyConstraint):
                indexed |= set(constraint.columns)
        for index in table.indexes:
            indexed |= set(index.columns)
        for column in indexed:
            if isinstance(column.type, sa.String):
                assert column.type.length, f"{table.name}.{column.name} needs a length"


def test_the_indexes_the_lookups_need() -> None:
    indexed = {
        (i.table.name, tuple(c.name for c in i.columns)) for t in Base.metadata.tables.values() for i in t.indexes
    }
    assert ("crosswalk", ("customer_id",)) in indexed
    assert ("contact_point", ("value",)) in indexed
    uniques = {
        (t.name, tuple(c.name for c in u.columns))
        for t in Base.metadata.tables.values()
        for u in t.constraints
        if isinstance(u, sa.UniqueConstraint)
    }
    assert {
        ("activity", ("source", "source_key")),
        ("merge_event", ("customer_id", "members_hash")),
    } <= uniques


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect(), mysql.dialect()])
def test_the_schema_compiles_for_every_backend(dialect: sa.Dialect) -> None:
    for table in Base.metadata.sorted_tables:
        assert str(sa.schema.CreateTable(table).compile(dialect=dialect))


@pytest.mark.parametrize("dialect", [sqlite.dialect(), mysql.dialect()])
def test_utc_datetime_without_zone_in_the_database(dialect: sa.Dialect) -> None:
    kind = UtcDateTime()
    beijing = dt.datetime(2026, 11, 23, 16, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    stored = kind.process_bind_param(beijing, dialect)
    assert stored == dt.datetime(2026, 11, 23, 8, 30)
    assert kind.process_result_value(stored, dialect) == dt.datetime(2026, 11, 23, 8, 30, tzinfo=dt.UTC)
    assert kind.process_bind_param(dt.datetime(2026, 1, 1), dialect) == dt.datetime(2026, 1, 1)  # naive = UTC
    assert kind.process_bind_param(None, dialect) is None


def test_utc_datetime_keeps_the_zone_on_postgresql() -> None:
    kind = UtcDateTime()
    beijing = dt.datetime(2026, 11, 23, 16, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert kind.process_bind_param(beijing, postgresql.dialect()) == dt.datetime(2026, 11, 23, 8, 30, tzinfo=dt.UTC)
