"""crm_store: the canonical CRM schema, its migrations and the repository functions that read and write it.

The caller owns the session and the transaction; every writer takes polars DataFrames and is idempotent.
"""

from __future__ import annotations

from crm_store.models import Base
from crm_store.repository import (
    GOLDEN_FIELDS,
    RunStatus,
    UpsertCounts,
    finish_run,
    ledger_counts,
    read_activities,
    read_crosswalk,
    read_cursor,
    read_customers,
    read_match_model,
    read_outcomes,
    read_provenance,
    read_quarantine,
    read_source_columns,
    read_source_records,
    record_merge_events,
    replace_customer_details,
    save_cursor,
    save_match_model,
    save_source_columns,
    start_run,
    table_counts,
    upsert_activities,
    upsert_crosswalk,
    upsert_customers,
    upsert_quarantine,
    upsert_source_records,
)
from crm_store.store import StoreNotFoundError, init_store, open_store

__all__ = [
    "GOLDEN_FIELDS",
    "Base",
    "RunStatus",
    "StoreNotFoundError",
    "UpsertCounts",
    "finish_run",
    "init_store",
    "ledger_counts",
    "open_store",
    "read_activities",
    "read_crosswalk",
    "read_cursor",
    "read_customers",
    "read_match_model",
    "read_outcomes",
    "read_provenance",
    "read_quarantine",
    "read_source_columns",
    "read_source_records",
    "record_merge_events",
    "replace_customer_details",
    "save_cursor",
    "save_match_model",
    "save_source_columns",
    "start_run",
    "table_counts",
    "upsert_activities",
    "upsert_crosswalk",
    "upsert_customers",
    "upsert_quarantine",
    "upsert_source_records",
]
