"""The writers go through their input in batches: a load of more rows than one batch ends in the same store as a
load in one batch, a re-load in batches changes nothing, and each batch is reported to ``progress``. Every test
runs on SQLite and PostgreSQL (where new rows go in by ``COPY``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import crm_store
from crm_store import (
    UpsertCounts,
    init_store,
    read_activities,
    read_contact_points,
    read_crosswalk,
    read_customers,
    read_provenance,
    read_quarantine,
    read_source_records,
    replace_customer_details,
    upsert_activities,
    upsert_crosswalk,
    upsert_customers,
    upsert_quarantine,
    upsert_source_records,
)

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
N = 23  # customers; each has two source rows (one loaded, one activity) and a quarantined row every fifth
BATCH = 4  # far fewer than the rows of every table


def cid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def tables(run_id: str = "run-1", *, changed: int | None = None) -> dict[str, pl.DataFrame]:
    """A load's tables; ``changed``: customer ``changed`` gets another name and its source row another hash."""
    people, web = range(N), range(0, N, 5)
    name = {i: ("王芳" if i == changed else f"张伟{i}") for i in people}
    source = pl.DataFrame(
        {
            "source": ["crm"] * N + ["orders"] * N + ["web"] * len(web),
            "source_key": [f"c{i:03d}" for i in people] + [f"o{i:03d}" for i in people] + [f"w{i}" for i in web],
            "row_hash": [f"h{i}{'x' if i == changed else ''}" for i in people]
            + [f"o{i}" for i in people]
            + [f"w{i}" for i in web],
            "payload": [json.dumps({"姓名": name[i], "n": i}, ensure_ascii=False) for i in people]
            + [json.dumps({"order": i}) for i in people]
            + [json.dumps({"email": "bad"}) for _ in web],
            "status": ["loaded"] * (2 * N) + ["quarantined"] * len(web),
            "reason": [None] * (2 * N) + ["email.invalid"] * len(web),
            "run_id": [run_id] * (2 * N + len(web)),
        }
    )
    customers = pl.DataFrame(
        {
            "customer_id": [cid(i) for i in people],
            "kind": ["person"] * N,
            "full_name": [name[i] for i in people],
            "primary_phone": [f"+86138001380{i:02d}" for i in people],
            "birth_date": [f"1990-01-{1 + i % 28:02d}" for i in people],
            "last_contact_at": [f"2026-03-{1 + i % 28:02d}T10:00:00" for i in people],  # their activity's
            "attributes": [json.dumps({"等级": "A", "i": i}, ensure_ascii=False) for i in people],
        }
    )
    contact_points = pl.DataFrame(
        {
            "customer_id": [cid(i) for i in people],
            "kind": ["phone"] * N,
            "value": [f"+86138001380{i:02d}" for i in people],
            "valid": [i % 3 != 0 for i in people],
            "source": ["crm"] * N,
            "source_key": [f"c{i:03d}" for i in people],
        }
    )
    addresses = pl.DataFrame(
        {
            "customer_id": [cid(i) for i in people],
            "source": ["crm"] * N,
            "source_key": [f"c{i:03d}" for i in people],
            "city": ["聊城市"] * N,
            "street": [f"东昌路{i}号" for i in people],
        }
    )
    provenance = pl.DataFrame(
        {
            "customer_id": [cid(i) for i in people],
            "field": ["full_name"] * N,
            "source": ["crm"] * N,
            "source_key": [f"c{i:03d}" for i in people],
            "value": [name[i] for i in people],
        }
    )
    crosswalk = pl.DataFrame(
        {
            "source": ["crm"] * N,
            "source_key": [f"c{i:03d}" for i in people],
            "customer_id": [cid(i) for i in people],
            "run_id": [run_id] * N,
            "match_probability": [0.5 + i / 100 for i in people],
            "evidence": [json.dumps({"name": i % 4}) for i in people],
        }
    )
    activities = pl.DataFrame(
        {
            "source": ["orders"] * N,
            "source_key": [f"o{i:03d}" for i in people],
            "customer_id": [cid(i) for i in people],
            "kind": ["order"] * N,
            "occurred_at": [f"2026-03-{1 + i % 28:02d}T10:00:00" for i in people],
            "summary": [f"订单 {i}" for i in people],
            "details": [json.dumps({"amount": i * 10}) for i in people],
        }
    )
    quarantine = pl.DataFrame(
        {
            "source": ["web"] * len(web),
            "source_key": [f"w{i}" for i in web],
            "reasons": [["email.invalid"] for _ in web],
            "run_id": [run_id] * len(web),
        }
    )
    return {
        "source_record": source,
        "customer": customers,
        "contact_point": contact_points,
        "address": addresses,
        "field_provenance": provenance,
        "crosswalk": crosswalk,
        "activity": activities,
        "quarantine": quarantine,
    }


def load(session: Session, frames: dict[str, pl.DataFrame], **batching: Any) -> dict[str, UpsertCounts]:
    """Every writer of a load, in the order ``pipelines.steps.load`` calls them."""
    counts = {
        "source_record": upsert_source_records(session, frames["source_record"], **batching),
        "customer": upsert_customers(session, frames["customer"], now=NOW, **batching),
    }
    details = replace_customer_details(
        session,
        frames["customer"]["customer_id"].to_list(),
        frames["contact_point"],
        frames["address"],
        frames["field_provenance"],
        **batching,
    )
    counts |= details
    counts["crosswalk"] = upsert_crosswalk(session, frames["crosswalk"], **batching)
    counts["activity"] = upsert_activities(session, frames["activity"], **batching)
    counts["quarantine"] = upsert_quarantine(session, frames["quarantine"], **batching)
    return counts


READERS: dict[str, Callable[[Session], pl.DataFrame]] = {
    "source_record": lambda s: read_source_records(s, ["crm", "orders", "web"]),
    "customer": read_customers,
    "contact_point": read_contact_points,
    "field_provenance": read_provenance,
    "crosswalk": read_crosswalk,
    "activity": lambda s: read_activities(s).drop("activity_id"),
    "quarantine": read_quarantine,
    "address": lambda s: crm_store.read_addresses(s).sort("customer_id", "source", "source_key"),
}


def contents(engine: sa.Engine) -> dict[str, pl.DataFrame]:
    with Session(engine) as session:
        return {name: read(session) for name, read in READERS.items()}


def test_a_load_in_many_batches_stores_what_a_load_in_one_batch_does(engine: sa.Engine, tmp_path: Path) -> None:
    frames = tables()
    reported: list[int] = []
    with Session(engine) as session, session.begin():
        batched = load(session, frames, batch_size=BATCH, progress=reported.append)
    one = init_store(f"sqlite:///{tmp_path / 'one-batch.db'}")
    try:
        with Session(one) as session, session.begin():
            whole = load(session, frames)
        expected = contents(one)
    finally:
        one.dispose()

    assert batched == whole
    assert all(c.inserted == frames[name].height for name, c in batched.items()), batched
    got = contents(engine)
    for name, frame in expected.items():
        assert got[name].equals(frame), name
    # every batch reported, none larger than the batch size, and together every input row once
    assert max(reported) == BATCH
    assert sum(reported) == sum(frame.height for frame in frames.values())
    assert len(reported) == sum(-(-frame.height // BATCH) for frame in frames.values())


def test_a_reload_in_batches_writes_only_what_changed(engine: sa.Engine, snapshot: Callable[[], Any]) -> None:
    with Session(engine) as session, session.begin():
        load(session, tables())
    before = snapshot()
    with Session(engine) as session, session.begin():
        again = load(session, tables("run-2"), batch_size=BATCH)
    assert {n: c for n, c in again.items() if c.inserted or c.updated or c.deleted} == {}
    assert snapshot() == before

    with Session(engine) as session, session.begin():
        changed = load(session, tables("run-3", changed=17), batch_size=BATCH)
    assert changed["source_record"] == UpsertCounts(updated=1, unchanged=2 * N + 5 - 1)
    assert changed["customer"] == UpsertCounts(updated=1, unchanged=N - 1)
    assert changed["field_provenance"] == UpsertCounts(updated=1, unchanged=N - 1)
    stored = contents(engine)
    assert stored["customer"].filter(pl.col("customer_id") == cid(17))["full_name"].to_list() == ["王芳"]
    assert stored["customer"].filter(pl.col("customer_id") == cid(17))["version"].to_list() == [2]
    assert stored["source_record"].filter(pl.col("source_key") == "c017")["row_hash"].to_list() == ["h17x"]


CHILDREN = ("contact_point", "address", "field_provenance", "crosswalk", "activity", "quarantine")


def foreign_keys(session: Session) -> dict[str, list[tuple[str, ...]]]:
    """Each child table's foreign keys as the database holds them (name, columns, target), sorted."""
    inspector = sa.inspect(session.connection())
    return {
        name: sorted(
            (fk["name"] or "", *fk["constrained_columns"], fk["referred_table"], *fk["referred_columns"])
            for fk in inspector.get_foreign_keys(name)
        )
        for name in CHILDREN
    }


def test_a_first_load_checks_foreign_keys_once_and_ends_with_them_all(engine: sa.Engine, tmp_path: Path) -> None:
    """On PostgreSQL the empty child tables lose their foreign keys for the block (one check when they come back
    instead of one per row); SQLite keeps them. Either way the store ends as a plain load leaves it."""
    postgres = engine.dialect.name == "postgresql"
    with Session(engine) as session:
        before = foreign_keys(session)
    assert all(before.values()), before
    with Session(engine) as session, session.begin():
        with crm_store.foreign_keys_checked_once(session):
            during = foreign_keys(session)
            load(session, tables(), batch_size=BATCH)
        assert foreign_keys(session) == before
    assert during == ({name: [] for name in CHILDREN} if postgres else before)
    one = init_store(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        with Session(one) as session, session.begin():
            load(session, tables())
        expected = contents(one)
    finally:
        one.dispose()
    got = contents(engine)
    for name, frame in expected.items():
        assert got[name].equals(frame), name

    # a re-load: the tables hold rows, so every row is checked as it is written and the keys stay
    with Session(engine) as session, session.begin(), crm_store.foreign_keys_checked_once(session):
        assert foreign_keys(session) == before
        load(session, tables("run-2"), batch_size=BATCH)


def test_a_row_without_its_parent_fails_a_load_that_checks_foreign_keys_once(engine: sa.Engine) -> None:
    frames = tables()
    orphan = frames["field_provenance"].head(1).with_columns(customer_id=pl.lit(cid(999)))
    with Session(engine) as session:
        before = foreign_keys(session)
    with Session(engine) as session:
        checked_once = crm_store.foreign_keys_checked_once(session)
        with pytest.raises(sa.exc.IntegrityError), session.begin(), checked_once:
            load(session, frames)
            empty = frames["contact_point"].clear(), frames["address"].clear()
            replace_customer_details(session, [cid(999)], *empty, orphan)
    with Session(engine) as session:
        assert foreign_keys(session) == before
        assert session.execute(sa.text("select count(*) from customer")).scalar_one() == 0


def test_an_empty_table_whose_parent_holds_rows_keeps_its_foreign_keys(engine: sa.Engine) -> None:
    """Dropping a key locks the table it references against readers until the commit: only on a first load, when
    there is nothing to read. Here the customers are stored and no activity yet: activity keeps its keys."""
    frames = tables()
    with Session(engine) as session, session.begin():
        load(session, frames | {"activity": frames["activity"].clear()})
    with Session(engine) as session:
        before = foreign_keys(session)
    with Session(engine) as session, session.begin(), crm_store.foreign_keys_checked_once(session):
        assert session.execute(sa.text("select count(*) from activity")).scalar_one() == 0
        assert foreign_keys(session)["activity"] == before["activity"] != []
        load(session, tables("run-2"))
    with Session(engine) as session:
        assert session.execute(sa.text("select count(*) from activity")).scalar_one() == frames["activity"].height
