"""Readers open an existing store and never create one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import crm_store


def test_a_missing_or_empty_database_is_named_and_left_alone(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "crm.db"
    with pytest.raises(crm_store.StoreNotFoundError, match="the file does not exist"):
        crm_store.open_store(f"sqlite:///{missing}")
    assert not missing.parent.exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(crm_store.StoreNotFoundError, match="no crmkit tables"):
        crm_store.open_store(f"sqlite:///{empty}")


def test_an_existing_store_opens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    crm_store.init_store(url).dispose()
    engine = crm_store.open_store(url)
    try:
        with Session(engine) as session:
            assert crm_store.table_counts(session)["customer"] == 0
    finally:
        engine.dispose()
