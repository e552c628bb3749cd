"""Repository functions on SQLite and PostgreSQL (every test runs on both), plus a MariaDB smoke test."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
from collections.abc import Callable
from typing import Any, TypeAlias

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store import (
    GOLDEN_COLUMNS,
    UpsertCounts,
    finish_run,
    init_store,
    ledger_counts,
    read_activities,
    read_crosswalk,
    read_cursor,
    read_customers,
    read_outcomes,
    read_provenance,
    read_quarantine,
    read_source_columns,
    record_merge_events,
    replace_customer_details,
    save_cursor,
    save_source_columns,
    start_run,
    table_counts,
    upsert_activities,
    upsert_crosswalk,
    upsert_customers,
    upsert_quarantine,
    upsert_source_records,
)

Snapshot: TypeAlias = dict[str, list[tuple[Any, ...]]]
NOW = dt.datetime(2026, 11, 23, 8, 30, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)
CID_1 = "00000000-0000-4000-8000-000000000001"
CID_2 = "00000000-0000-4000-8000-000000000002"


def source_rows(run_id: str = "run-1", **overrides: list[Any]) -> pl.DataFrame:
    data: dict[str, list[Any]] = {
        "source": ["crm", "crm", "crm", "web"],
        "source_key": ["1", "2", "3", "a"],
        "row_hash": ["h1", "h2", "h3", "ha"],
        "payload": [
            json.dumps({"姓名": "张伟", "城市": "聊城市"}, ensure_ascii=False),
            json.dumps({"姓名": "张伟", "电话": "13800138000"}, ensure_ascii=False),
            json.dumps({"姓名": ""}, ensure_ascii=False),
            json.dumps({"name": "Li Na", "email": "lina@example.com"}),
        ],
        "status": ["loaded", "loaded", "skipped", "quarantined"],
        "reason": [None, None, "empty_row", "email.invalid"],
        "run_id": [run_id] * 4,
    }
    data.update(overrides)
    return pl.DataFrame(data)


def customers() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": [CID_1, CID_2],
            "kind": ["person", "organisation"],
            "full_name": ["张伟", "聊城市东昌府区示例有限公司"],
            "family_name": ["张", None],
            "given_name": ["伟", None],
            "name_pinyin": ["zhang wei", None],
            "primary_phone": ["+8613800138000", None],
            "primary_email": ["zhangwei@example.com", None],
            "company": ["聊城市东昌府区示例有限公司", None],
            "birth_date": ["1985-03-07", None],
            "province": ["山东省", "山东省"],
            "city": ["聊城市", "聊城市"],
            "district": ["东昌府区", None],
            "attributes": [json.dumps({"微信群": "客户一群", "score": 3}, ensure_ascii=False), None],
        }
    )


def details(phone_valid: bool = True) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    contact_points = pl.DataFrame(
        {
            "customer_id": [CID_1, CID_1, CID_2],
            "kind": ["phone", "email", "phone"],
            "value": ["+8613800138000", "zhangwei@example.com", "+8663588888888"],
            "valid": [phone_valid, True, True],
            "source": ["crm", "crm", "crm"],
            "source_key": ["1", "1", "2"],
        }
    )
    addresses = pl.DataFrame(
        {
            "customer_id": [CID_1],
            "source": ["crm"],
            "source_key": ["1"],
            "province": ["山东省"],
            "city": ["聊城市"],
            "district": ["东昌府区"],
            "street": ["柳园路 88 号"],
            "admin_code": ["371502"],
            "country": ["CN"],
            "raw": ["山东省聊城市东昌府区柳园路88号"],
        }
    )
    provenance = pl.DataFrame(
        {
            "customer_id": [CID_1, CID_1, CID_2],
            "field": ["full_name", "primary_phone", "full_name"],
            "source": ["crm", "crm", "crm"],
            "source_key": ["1", "2", "2"],
            "value": ["张伟", "+8613800138000", "聊城市东昌府区示例有限公司"],
        }
    )
    return contact_points, addresses, provenance


def crosswalk_rows(run_id: str = "run-1") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": ["crm", "crm"],
            "source_key": ["1", "2"],
            "customer_id": [CID_1, CID_1],
            "match_probability": [None, 0.987654321],
            "evidence": [None, json.dumps({"full_name": "exact", "phone": 0.99})],
            "run_id": [run_id, run_id],
        }
    )


def quarantine_rows(run_id: str = "run-1") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": ["web"],
            "source_key": ["a"],
            "reasons": [["email.invalid"]],
            "details": [
                [
                    {
                        "rule": "email_valid",
                        "code": "email.invalid",
                        "column": "email",
                        "value_masked": "l***@example",
                        "message": "不是有效的邮箱",
                    }
                ]
            ],
            "run_id": [run_id],
        }
    )


def load_everything(session: Session, run_id: str = "run-1") -> dict[str, Any]:
    """One full load as a pipeline would write it; returns what every writer reported."""
    contact_points, addresses, provenance = details()
    return {
        "source": upsert_source_records(session, source_rows(run_id)),
        "customers": upsert_customers(session, customers(), now=NOW),
        "details": replace_customer_details(session, [CID_1, CID_2], contact_points, addresses, provenance),
        "crosswalk": upsert_crosswalk(session, crosswalk_rows(run_id)),
        "quarantine": upsert_quarantine(session, quarantine_rows(run_id)),
        "merges": record_merge_events(
            session,
            run_id,
            pl.DataFrame({"customer_id": [CID_1], "members": [["crm:1", "crm:2"]], "evidence": ['{"phone": 0.99}']}),
            now=NOW,
        ),
    }


# --------------------------------------------------------------------------------------- source_record


def test_upsert_source_records_inserts_then_changes_nothing(
    session: Session, snapshot: Callable[[], Snapshot], sqlite_changes: Callable[[], int | None]
) -> None:
    assert upsert_source_records(session, source_rows()) == UpsertCounts(inserted=4)
    session.commit()
    before = snapshot()
    changes = sqlite_changes()

    assert upsert_source_records(session, source_rows("run-2")) == UpsertCounts(unchanged=4)
    session.commit()

    assert snapshot() == before
    assert sqlite_changes() == changes


def test_upsert_source_records_updates_only_what_differs_and_keeps_first_run(session: Session) -> None:
    upsert_source_records(session, source_rows())
    session.commit()
    changed = source_rows(
        "run-2",
        row_hash=["h1", "h2-new", "h3", "ha"],
        status=["loaded", "loaded", "skipped", "loaded"],
        reason=[None, None, "empty_row", None],
    )
    counts = upsert_source_records(
        session, changed.vstack(source_rows("run-2").head(1).with_columns(source_key=pl.lit("9")))
    )
    assert counts == UpsertCounts(inserted=1, updated=2, unchanged=2)
    rows = {
        (r.source, r.source_key): r
        for r in session.execute(
            sa.text("select source, source_key, row_hash, status, reason, first_run_id from source_record")
        )
    }
    assert rows["crm", "2"].row_hash == "h2-new"
    assert rows["crm", "2"].first_run_id == "run-1"
    assert (rows["web", "a"].status, rows["web", "a"].reason) == ("loaded", None)
    assert rows["crm", "9"].first_run_id == "run-2"


def test_upsert_source_records_keeps_chinese_payload(session: Session) -> None:
    upsert_source_records(session, source_rows())
    payload = session.execute(sa.text("select payload from source_record where source_key = '1'")).scalar_one()
    assert json.loads(payload) == {"姓名": "张伟", "城市": "聊城市"}


def test_upsert_source_records_accepts_struct_payload(session: Session) -> None:
    rows = source_rows().head(1).with_columns(payload=pl.struct(name=pl.lit("张伟"), city=pl.lit("聊城市")))
    upsert_source_records(session, rows)
    payload = session.execute(sa.text("select payload from source_record")).scalar_one()
    assert json.loads(payload) == {"name": "张伟", "city": "聊城市"}
    assert upsert_source_records(session, rows) == UpsertCounts(unchanged=1)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (source_rows().drop("row_hash"), "missing columns ['row_hash']"),
        (source_rows().with_columns(extra=pl.lit("x")), "unknown columns ['extra']"),
        (source_rows().with_columns(source_key=pl.lit("1")), "rows share a key"),
        (source_rows().with_columns(status=pl.lit("done")), "status must be one of"),
        (source_rows().with_columns(source_key=pl.lit(None, pl.String)), "must not contain nulls"),
        (
            source_rows().with_columns(source=pl.lit("s" * 200)),
            "source_record.source: 4 value(s) longer than 128",
        ),
    ],
)
def test_upsert_source_records_rejects_bad_frames(session: Session, frame: pl.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        upsert_source_records(session, frame)


def test_a_shared_key_among_many_rows_is_counted_and_named(session: Session) -> None:
    """The key check hashes the keys first: two shared keys among 5,000 rows are still found, counted and the
    first one named; distinct keys pass."""
    n = 5_000
    rows = pl.DataFrame(
        {
            "source": ["crm"] * n,
            "source_key": [str(i) for i in range(n)],
            "row_hash": ["h"] * n,
            "payload": ["{}"] * n,
            "status": ["loaded"] * n,
            "run_id": ["run-1"] * n,
        }
    )
    twice = pl.concat([rows, rows.slice(4321, 1), rows.slice(17, 1)])
    message = "4 rows share a key ['source', 'source_key'], e.g. ('crm', '17')"
    with pytest.raises(ValueError, match=re.escape(message)):
        upsert_source_records(session, twice)
    assert upsert_source_records(session, rows) == UpsertCounts(inserted=n)


# -------------------------------------------------------------------------------------------- customer


def test_upsert_customers_versions_only_changed_records(session: Session, snapshot: Callable[[], Snapshot]) -> None:
    assert upsert_customers(session, customers(), now=NOW) == UpsertCounts(inserted=2)
    session.commit()
    before = snapshot()
    assert upsert_customers(session, customers(), now=LATER) == UpsertCounts(unchanged=2)
    assert snapshot() == before

    changed = customers().with_columns(
        segment=pl.when(pl.col("customer_id") == CID_2).then(pl.lit("VIP")).otherwise(None)
    )
    assert upsert_customers(session, changed, now=LATER) == UpsertCounts(updated=1, unchanged=1)
    out = read_customers(session)
    by_id = {row["customer_id"]: row for row in out.to_dicts()}
    assert by_id[CID_2]["version"] == 2
    assert by_id[CID_2]["segment"] == "VIP"
    assert by_id[CID_2]["created_at"] == NOW
    assert by_id[CID_2]["updated_at"] == LATER
    assert by_id[CID_1]["version"] == 1
    assert by_id[CID_1]["updated_at"] == NOW


def test_read_customers_round_trips_fields(session: Session) -> None:
    upsert_customers(session, customers(), now=NOW)
    out = read_customers(session)
    assert out.columns == [
        "customer_id",
        *GOLDEN_COLUMNS,
        "content_hash",
        "created_at",
        "updated_at",
        "version",
        "retired_at",
        "merged_into",
        "split_from",
    ]
    assert out.schema["birth_date"] == pl.Date
    assert out.schema["created_at"] == pl.Datetime("us", "UTC")
    first = out.row(0, named=True)
    assert (first["full_name"], first["city"], first["district"]) == ("张伟", "聊城市", "东昌府区")
    assert first["birth_date"] == dt.date(1985, 3, 7)
    assert json.loads(first["attributes"]) == {"微信群": "客户一群", "score": 3}
    assert first["created_at"] == NOW


def test_upsert_customers_hash_ignores_attribute_key_order(session: Session) -> None:
    upsert_customers(session, customers(), now=NOW)
    reordered = customers().with_columns(
        attributes=pl.Series([json.dumps({"score": 3, "微信群": "客户一群"}, ensure_ascii=False), None])
    )
    assert upsert_customers(session, reordered, now=LATER) == UpsertCounts(unchanged=2)


def test_upsert_customers_rejects_bad_input(session: Session) -> None:
    with pytest.raises(ValueError, match="birth_date must be an ISO date"):
        upsert_customers(session, customers().with_columns(birth_date=pl.lit("07/03/1985")), now=NOW)
    with pytest.raises(ValueError, match=r"unknown columns \['phone'\]"):
        upsert_customers(session, customers().with_columns(phone=pl.lit("1")), now=NOW)
    with pytest.raises(ValueError, match="kind must be one of"):
        upsert_customers(session, customers().with_columns(kind=pl.lit("robot")), now=NOW)


# ------------------------------------------------------------------------------------ customer details


def test_replace_customer_details_is_idempotent_and_removes_stale_rows(
    session: Session, snapshot: Callable[[], Snapshot], sqlite_changes: Callable[[], int | None]
) -> None:
    upsert_customers(session, customers(), now=NOW)
    contact_points, addresses, provenance = details()
    counts = replace_customer_details(session, [CID_1, CID_2], contact_points, addresses, provenance)
    assert counts == {
        "contact_point": UpsertCounts(inserted=3),
        "address": UpsertCounts(inserted=1),
        "field_provenance": UpsertCounts(inserted=3),
    }
    session.commit()
    before = snapshot()
    changes = sqlite_changes()
    again = replace_customer_details(session, [CID_1, CID_2], contact_points, addresses, provenance)
    assert again == {
        "contact_point": UpsertCounts(unchanged=3),
        "address": UpsertCounts(unchanged=1),
        "field_provenance": UpsertCounts(unchanged=3),
    }
    session.commit()
    assert snapshot() == before
    assert sqlite_changes() == changes

    # CID_1 loses its e-mail, its phone turns invalid, its address goes; CID_2 is out of scope and keeps all.
    contact_points, _, provenance = details(phone_valid=False)
    counts = replace_customer_details(
        session,
        [CID_1],
        contact_points.filter((pl.col("customer_id") == CID_1) & (pl.col("kind") == "phone")),
        pl.DataFrame(),
        provenance.filter(pl.col("customer_id") == CID_1),
    )
    assert counts == {
        "contact_point": UpsertCounts(updated=1, deleted=1),
        "address": UpsertCounts(deleted=1),
        "field_provenance": UpsertCounts(unchanged=2),
    }
    points = session.execute(sa.text("select customer_id, kind, valid from contact_point order by customer_id")).all()
    assert [(c, k, bool(v)) for c, k, v in points] == [(CID_1, "phone", False), (CID_2, "phone", True)]
    assert table_counts(session)["address"] == 0


def test_replace_customer_details_rejects_rows_outside_scope(session: Session) -> None:
    upsert_customers(session, customers(), now=NOW)
    contact_points, addresses, provenance = details()
    with pytest.raises(ValueError, match="customers not in customer_ids"):
        replace_customer_details(session, [CID_1], contact_points, addresses, provenance)


def test_read_provenance(session: Session) -> None:
    upsert_customers(session, customers(), now=NOW)
    contact_points, addresses, provenance = details()
    replace_customer_details(session, [CID_1, CID_2], contact_points, addresses, provenance)
    out = read_provenance(session)
    assert out.columns == ["customer_id", "field", "source", "source_key", "value", "rule"]
    assert out["rule"].is_null().all()  # the details gave no rule
    assert out.drop("rule").sort("customer_id", "field").equals(provenance.sort("customer_id", "field"))


# -------------------------------------------------------------------------------- crosswalk/quarantine


def test_crosswalk_and_quarantine_round_trip(session: Session, snapshot: Callable[[], Snapshot]) -> None:
    upsert_source_records(session, source_rows())
    upsert_customers(session, customers(), now=NOW)
    assert upsert_crosswalk(session, crosswalk_rows()) == UpsertCounts(inserted=2)
    assert upsert_quarantine(session, quarantine_rows()) == UpsertCounts(inserted=1)
    session.commit()
    before = snapshot()
    assert upsert_crosswalk(session, crosswalk_rows("run-2")) == UpsertCounts(unchanged=2)
    assert upsert_quarantine(session, quarantine_rows("run-2")) == UpsertCounts(unchanged=1)
    session.commit()
    assert snapshot() == before

    crosswalk = read_crosswalk(session)
    assert crosswalk["match_probability"].to_list() == [None, 0.987654321]
    assert json.loads(crosswalk["evidence"][1]) == {"full_name": "exact", "phone": 0.99}
    quarantine = read_quarantine(session)
    assert quarantine["reasons"].to_list() == [["email.invalid"]]
    assert json.loads(quarantine["details"][0])[0]["message"] == "不是有效的邮箱"


def _quarantine_rows_saying(session: Session, words: str) -> int:
    """Quarantine rows whose ``details`` hold ``words`` as SQL over the store sees them (``LIKE``)."""
    details = "CAST(details AS TEXT)" if session.get_bind().dialect.name == "postgresql" else "details"
    query = sa.text(f"select count(*) from quarantine where {details} like :words")
    return int(session.execute(query, {"words": f"%{words}%"}).scalar_one())


def test_json_columns_keep_chinese_as_written_so_sql_over_the_store_finds_it(session: Session) -> None:
    """JSON was stored with ``\\u`` escapes on SQLite and MariaDB (不 as ``\\u4e0d``): a ``LIKE`` in SQL, DuckDB or a
    BI tool found nothing."""
    upsert_source_records(session, source_rows())
    upsert_quarantine(session, quarantine_rows())
    session.commit()
    assert _quarantine_rows_saying(session, "不是有效的邮箱") == 1


def test_crosswalk_update_keeps_first_run(session: Session) -> None:
    upsert_source_records(session, source_rows())
    upsert_customers(session, customers(), now=NOW)
    upsert_crosswalk(session, crosswalk_rows())
    moved = crosswalk_rows("run-2").with_columns(customer_id=pl.lit(CID_2))
    assert upsert_crosswalk(session, moved) == UpsertCounts(updated=2)
    out = read_crosswalk(session)
    assert out["customer_id"].to_list() == [CID_2, CID_2]
    assert out["first_run_id"].to_list() == ["run-1", "run-1"]


def test_moving_a_key_between_crosswalk_and_quarantine(session: Session) -> None:
    upsert_source_records(session, source_rows())
    upsert_customers(session, customers(), now=NOW)
    upsert_crosswalk(session, crosswalk_rows())

    to_quarantine = quarantine_rows("run-2").with_columns(source=pl.lit("crm"), source_key=pl.lit("2"))
    assert upsert_quarantine(session, to_quarantine) == UpsertCounts(inserted=1, deleted=1)
    assert read_crosswalk(session)["source_key"].to_list() == ["1"]
    assert read_quarantine(session)[["source", "source_key", "first_run_id"]].rows() == [("crm", "2", "run-2")]

    back = crosswalk_rows("run-3").filter(pl.col("source_key") == "2")
    assert upsert_crosswalk(session, back) == UpsertCounts(inserted=1, deleted=1)
    assert table_counts(session)["quarantine"] == 0
    assert read_crosswalk(session)["source_key"].to_list() == ["1", "2"]


def test_crosswalk_needs_a_source_record(session: Session) -> None:
    upsert_customers(session, customers(), now=NOW)
    with pytest.raises(sa.exc.IntegrityError):
        upsert_crosswalk(session, crosswalk_rows())
    session.rollback()


# ---------------------------------------------------------------------------------------- merge events


def test_record_merge_events_inserts_only_new_member_sets(session: Session) -> None:
    events = pl.DataFrame(
        {
            "customer_id": [CID_1, CID_1],
            "members": [["crm:1", "crm:2"], ["crm:2", "crm:1"]],  # the same set twice
            "evidence": [{"phone": 0.99, "name": 0.9}, {"phone": 0.99, "name": 0.9}],
        }
    )
    assert record_merge_events(session, "run-1", events, now=NOW) == UpsertCounts(inserted=1, unchanged=1)
    assert record_merge_events(session, "run-2", events, now=LATER) == UpsertCounts(unchanged=2)
    grown = pl.DataFrame({"customer_id": [CID_1], "members": [["crm:1", "crm:2", "web:a"]]})
    assert record_merge_events(session, "run-2", grown) == UpsertCounts(inserted=1)
    stored = session.execute(sa.text("select run_id, members, evidence from merge_event order by id")).all()
    assert [r.run_id for r in stored] == ["run-1", "run-2"]


def test_record_merge_events_in_batches_skips_a_set_seen_in_an_earlier_batch(session: Session) -> None:
    events = pl.DataFrame(
        {
            "customer_id": [CID_1, CID_1, CID_2, CID_1, CID_2],
            "members": [["crm:1", "crm:2"], ["crm:1", "web:a"], ["crm:3", "crm:4"], ["crm:2", "crm:1"], ["crm:4"]],
        }
    )
    assert record_merge_events(session, "run-1", events, batch_size=2) == UpsertCounts(inserted=4, unchanged=1)
    assert record_merge_events(session, "run-2", events, batch_size=3) == UpsertCounts(unchanged=5)
    stored = session.execute(sa.text("select count(*) from merge_event")).scalar_one()
    assert stored == 4


# ------------------------------------------------------------------------------------------------ runs


def test_start_and_finish_run(session: Session) -> None:
    start_run(session, "run-1", "demo", "c" * 64, False, {"crmkit": "0.1.0", "polars": pl.__version__}, now=NOW)
    with pytest.raises(ValueError, match="already started"):
        start_run(session, "run-1", "demo", "c" * 64, False, None)
    ledger = pl.DataFrame({"source": ["crm"], "read": [3], "loaded": [2], "quarantined": [0], "skipped": [1]})
    finish_run(session, "run-1", "succeeded", ledger, "reports/run-1.html", now=LATER)
    row = session.execute(sa.text("select * from pipeline_run")).mappings().one()
    assert row["status"] == "succeeded"
    assert row["dry_run"] in (False, 0)
    assert row["report_path"] == "reports/run-1.html"
    ledger_value = row["ledger"] if isinstance(row["ledger"], list) else json.loads(row["ledger"])
    assert ledger_value == ledger.to_dicts()
    with pytest.raises(ValueError, match="no run 'missing'"):
        finish_run(session, "missing", "failed", None, None)
    with pytest.raises(ValueError, match="status must be one of"):
        finish_run(session, "run-1", "done", None, None)  # type: ignore[arg-type]


def test_extract_cursor(session: Session) -> None:
    assert read_cursor(session, "crm") is None
    save_cursor(session, "crm", "2026-11-01T00:00:00", now=NOW)
    save_cursor(session, "crm", "2026-11-22T00:00:00", now=LATER)
    assert read_cursor(session, "crm") == "2026-11-22T00:00:00"


# --------------------------------------------------------------------------------------------- readers


def test_read_outcomes_and_ledger_counts(session: Session) -> None:
    load_everything(session)
    outcomes = read_outcomes(session)
    assert outcomes.columns == ["source", "source_key", "status", "customer_id", "reason"]
    assert outcomes.rows() == [
        ("crm", "1", "loaded", CID_1, None),
        ("crm", "2", "loaded", CID_1, None),
        ("crm", "3", "skipped", None, "empty_row"),
        ("web", "a", "quarantined", None, "email.invalid"),
    ]
    assert read_outcomes(session, ["web"])["source_key"].to_list() == ["a"]

    counts = ledger_counts(session, ["web", "crm", "none"])
    assert counts.rows() == [("web", 0, 1, 0), ("crm", 2, 0, 1), ("none", 0, 0, 0)]
    assert counts.schema["loaded"] == pl.Int64
    assert ledger_counts(session)["source"].to_list() == ["crm", "web"]


def test_read_outcomes_falls_back_to_quarantine_reasons(session: Session) -> None:
    upsert_source_records(session, source_rows(reason=[None, None, "empty_row", None]))
    upsert_quarantine(session, quarantine_rows().with_columns(reasons=pl.lit(["email.invalid", "phone.short"])))
    reasons = dict(read_outcomes(session).select("source_key", "reason").rows())
    assert reasons["a"] == "email.invalid;phone.short"


def test_readers_on_an_empty_store(session: Session) -> None:
    assert read_customers(session).height == 0
    assert read_outcomes(session).height == 0
    assert read_crosswalk(session).height == 0
    assert read_provenance(session).height == 0
    assert ledger_counts(session).height == 0
    assert set(table_counts(session).values()) == {0}


# ---------------------------------------------------------------------------------------- whole re-run


def test_a_second_identical_load_changes_nothing(
    session: Session, snapshot: Callable[[], Snapshot], sqlite_changes: Callable[[], int | None]
) -> None:
    first = load_everything(session, "run-1")
    session.commit()
    assert first["source"] == UpsertCounts(inserted=4)
    before = snapshot()
    changes = sqlite_changes()

    second = load_everything(session, "run-2")
    session.commit()

    assert second["source"] == UpsertCounts(unchanged=4)
    assert second["customers"] == UpsertCounts(unchanged=2)
    assert all(c.inserted == c.updated == c.deleted == 0 for c in second["details"].values())
    assert second["crosswalk"] == UpsertCounts(unchanged=2)
    assert second["quarantine"] == UpsertCounts(unchanged=1)
    assert second["merges"] == UpsertCounts(unchanged=1)
    assert snapshot() == before
    assert sqlite_changes() == changes
    assert table_counts(session) == {
        "activity": 0,
        "address": 1,
        "app_user": 0,
        "audit_event": 0,
        "audit_head": 0,
        "contact_point": 3,
        "crosswalk": 2,
        "customer": 2,
        "customer_override": 0,
        "extract_cursor": 0,
        "field_provenance": 3,
        "merge_event": 1,
        "pipeline_run": 0,
        "pipeline_schedule": 0,
        "quarantine": 1,
        "review_decision": 0,
        "review_item": 0,
        "run_lock": 0,
        "source_record": 4,
        "source_schema": 0,
    }


def test_nothing_is_committed_by_the_repository(engine: sa.Engine) -> None:
    with Session(engine) as session:
        load_everything(session)
        session.rollback()
        assert set(table_counts(session).values()) == {0}


# --------------------------------------------------------------------------------------------- MariaDB


@pytest.mark.mariadb
def test_mariadb_smoke(mariadb_url: str) -> None:
    engine = init_store(mariadb_url)
    try:
        init_store(mariadb_url).dispose()
        with Session(engine) as session:
            assert upsert_source_records(session, source_rows()) == UpsertCounts(inserted=4)
            session.commit()
            assert upsert_source_records(session, source_rows("run-2")) == UpsertCounts(unchanged=4)
            changed = source_rows("run-2", row_hash=["h1", "h2-new", "h3", "ha"])
            assert upsert_source_records(session, changed) == UpsertCounts(updated=1, unchanged=3)
            session.commit()
            payload, first_run = session.execute(
                sa.text("select payload, first_run_id from source_record where source_key = '2'")
            ).one()
            assert json.loads(payload)["姓名"] == "张伟"
            assert first_run == "run-1"
            upsert_quarantine(session, quarantine_rows())
            assert _quarantine_rows_saying(session, "不是有效的邮箱") == 1
            assert ledger_counts(session, ["crm"]).rows() == [("crm", 2, 0, 1)]
    finally:
        engine.dispose()


def test_a_small_batch_against_a_large_table(session: Session) -> None:
    """A few keys against many stored rows are looked up by key rather than by reading the whole source."""
    n = 40
    big = pl.DataFrame(
        {
            "source": ["crm"] * n,
            "source_key": [f"k{i:03d}" for i in range(n)],
            "row_hash": [f"h{i}" for i in range(n)],
            "payload": ["{}"] * n,
            "status": ["loaded"] * n,
            "run_id": ["run-1"] * n,
        }
    )
    upsert_source_records(session, big)
    batch = big.slice(10, 3).with_columns(row_hash=pl.lit("new"), run_id=pl.lit("run-2"))
    batch = batch.vstack(big.slice(20, 1).with_columns(run_id=pl.lit("run-2")))
    assert upsert_source_records(session, batch) == UpsertCounts(updated=3, unchanged=1)
    hashes = dict(session.execute(sa.text("select source_key, row_hash from source_record")).tuples().all())
    assert sorted(k for k, h in hashes.items() if h == "new") == ["k010", "k011", "k012"]


# -------------------------------------------------------------------------------------------- activity


def activity_rows(**overrides: list[Any]) -> pl.DataFrame:
    data: dict[str, list[Any]] = {
        "source": ["crm", "crm", "web"],
        "source_key": ["3", "4", "b"],
        "customer_id": [CID_1, CID_1, None],
        "kind": ["follow_up", "order", "signup"],
        "occurred_at": ["2026-11-20T09:15:00", "2026-11-21", None],
        "summary": ["电话回访，客户有意向", None, "web sign-up"],
        "details": [json.dumps({"渠道": "电话", "时长": 5}, ensure_ascii=False), None, json.dumps({"utm": "ad"})],
    }
    data.update(overrides)
    return pl.DataFrame(data)


def activity_store(session: Session) -> None:
    """Source records for the activity rows (crm:3 is re-used as a loaded row), and the customers."""
    extra = pl.DataFrame(
        {
            "source": ["crm", "web"],
            "source_key": ["4", "b"],
            "row_hash": ["h4", "hb"],
            "payload": ["{}", "{}"],
            "status": ["loaded", "loaded"],
            "reason": [None, None],
            "run_id": ["run-1", "run-1"],
        }
    )
    rows = source_rows(status=["loaded", "loaded", "loaded", "quarantined"], reason=[None, None, None, "x"])
    upsert_source_records(session, rows.vstack(extra))
    upsert_customers(session, customers(), now=NOW)


def test_upsert_activities_inserts_then_changes_nothing(
    session: Session, snapshot: Callable[[], Snapshot], sqlite_changes: Callable[[], int | None]
) -> None:
    activity_store(session)
    assert upsert_activities(session, activity_rows()) == UpsertCounts(inserted=3)
    session.commit()
    before = snapshot()
    changes = sqlite_changes()

    assert upsert_activities(session, activity_rows()) == UpsertCounts(unchanged=3)
    reordered = activity_rows(
        details=[json.dumps({"时长": 5, "渠道": "电话"}, ensure_ascii=False), None, '{"utm":"ad"}']
    )
    assert upsert_activities(session, reordered.reverse()) == UpsertCounts(unchanged=3)
    session.commit()

    assert snapshot() == before
    assert sqlite_changes() == changes


def test_read_activities_round_trips(session: Session) -> None:
    activity_store(session)
    upsert_activities(session, activity_rows())
    out = read_activities(session)
    assert out.columns == [
        "activity_id",
        "source",
        "source_key",
        "customer_id",
        "kind",
        "occurred_at",
        "summary",
        "details",
    ]
    assert out.schema["occurred_at"] == pl.Datetime("us", "UTC")
    assert out.schema["activity_id"] == pl.Int64
    assert out.select("source", "source_key", "customer_id", "kind", "summary").rows() == [
        ("crm", "3", CID_1, "follow_up", "电话回访，客户有意向"),
        ("crm", "4", CID_1, "order", None),
        ("web", "b", None, "signup", "web sign-up"),
    ]
    assert out["occurred_at"].to_list() == [
        dt.datetime(2026, 11, 20, 9, 15, tzinfo=dt.UTC),  # naive text is UTC
        dt.datetime(2026, 11, 21, tzinfo=dt.UTC),  # a date is its midnight
        None,
    ]
    assert json.loads(out["details"][0]) == {"渠道": "电话", "时长": 5}
    assert out["details"][1] is None
    assert out["activity_id"].null_count() == 0
    assert out["activity_id"].n_unique() == 3


def test_upsert_activities_accepts_datetimes_and_structs(session: Session) -> None:
    activity_store(session)
    beijing = dt.datetime(2026, 11, 20, 17, 15, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    rows = activity_rows().with_columns(
        occurred_at=pl.Series([beijing, None, None], dtype=pl.Datetime("us", "Asia/Shanghai")),
        details=pl.struct(channel=pl.lit("phone")),
    )
    assert upsert_activities(session, rows) == UpsertCounts(inserted=3)
    out = read_activities(session)
    assert out["occurred_at"][0] == dt.datetime(2026, 11, 20, 9, 15, tzinfo=dt.UTC)
    assert json.loads(out["details"][2]) == {"channel": "phone"}
    text = activity_rows(occurred_at=["2026-11-20T09:15:00", None, None], details=[{"channel": "phone"}] * 3)
    assert upsert_activities(session, text) == UpsertCounts(unchanged=3)


def test_upsert_activities_updates_only_what_differs(session: Session) -> None:
    activity_store(session)
    upsert_activities(session, activity_rows())
    ids = dict(read_activities(session).select("source_key", "activity_id").rows())
    changed = activity_rows(
        summary=["电话回访，客户已下单", None, "web sign-up"],
        occurred_at=["2026-11-20T09:15:00", "2026-11-21T00:00:00", "2026-11-22T08:00:00.250000"],
    )
    assert upsert_activities(session, changed) == UpsertCounts(updated=2, unchanged=1)
    out = read_activities(session)
    assert dict(out.select("source_key", "activity_id").rows()) == ids  # an update keeps the activity id
    assert out["summary"][0] == "电话回访，客户已下单"
    assert out["occurred_at"][2] == dt.datetime(2026, 11, 22, 8, 0, 0, 250000, tzinfo=dt.UTC)


def test_moving_a_key_between_activity_and_quarantine(session: Session) -> None:
    activity_store(session)
    upsert_activities(session, activity_rows())
    to_quarantine = quarantine_rows("run-2").with_columns(source=pl.lit("crm"), source_key=pl.lit("4"))
    assert upsert_quarantine(session, to_quarantine) == UpsertCounts(inserted=1, deleted=1)
    assert read_activities(session)["source_key"].to_list() == ["3", "b"]

    back = activity_rows().filter(pl.col("source_key") == "4")
    assert upsert_activities(session, back) == UpsertCounts(inserted=1, deleted=1)
    assert table_counts(session)["quarantine"] == 0
    assert read_activities(session)["source_key"].to_list() == ["3", "4", "b"]


def test_a_customer_row_can_also_be_an_activity(session: Session) -> None:
    activity_store(session)
    upsert_crosswalk(session, crosswalk_rows())
    signup = activity_rows().head(1).with_columns(source_key=pl.lit("1"), kind=pl.lit("signup"))
    assert upsert_activities(session, signup) == UpsertCounts(inserted=1)
    assert upsert_crosswalk(session, crosswalk_rows()) == UpsertCounts(unchanged=2)
    assert table_counts(session)["crosswalk"] == 2


def test_activity_needs_a_source_record(session: Session) -> None:
    upsert_customers(session, customers(), now=NOW)
    with pytest.raises(sa.exc.IntegrityError):
        upsert_activities(session, activity_rows())
    session.rollback()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (activity_rows(occurred_at=["2026-11-20 09:15", None, None]), "1 occurred_at value(s) are not ISO"),
        (activity_rows(occurred_at=["20/11/2026", None, None]), "e.g. at source_key='3'"),
        (activity_rows().drop("kind"), "missing columns ['kind']"),
        (activity_rows().with_columns(source_key=pl.lit("3")), "rows share a key"),
        (activity_rows().with_columns(kind=pl.lit(None, pl.String)), "columns ['kind'] must not contain nulls"),
        (activity_rows().with_columns(occurred_at=pl.lit(1)), "occurred_at must be ISO text"),
    ],
)
def test_upsert_activities_rejects_bad_frames(session: Session, frame: pl.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        upsert_activities(session, frame)


def test_read_outcomes_gives_the_customer_of_activity_rows(session: Session) -> None:
    activity_store(session)
    upsert_crosswalk(session, crosswalk_rows())
    upsert_activities(session, activity_rows())
    upsert_activities(session, activity_rows().head(1).with_columns(source_key=pl.lit("1"), customer_id=pl.lit(CID_2)))
    outcomes = read_outcomes(session)
    assert outcomes.columns == ["source", "source_key", "status", "customer_id", "reason"]
    assert outcomes.select("source", "source_key", "status", "customer_id").rows() == [
        ("crm", "1", "loaded", CID_1),  # a customer row: the crosswalk wins
        ("crm", "2", "loaded", CID_1),
        ("crm", "3", "loaded", CID_1),  # activity rows
        ("crm", "4", "loaded", CID_1),
        ("web", "a", "quarantined", None),
        ("web", "b", "loaded", None),  # an activity without a customer
    ]


def test_readers_on_an_empty_store_include_activities(session: Session) -> None:
    assert read_activities(session).height == 0
    assert read_activities(session).schema["occurred_at"] == pl.Datetime("us", "UTC")
    assert upsert_activities(session, pl.DataFrame()) == UpsertCounts()


# --------------------------------------------------------------------------------------- source schema


def test_source_columns_baseline(
    session: Session, snapshot: Callable[[], Snapshot], sqlite_changes: Callable[[], int | None]
) -> None:
    assert read_source_columns(session, "crm") is None
    assert save_source_columns(session, "crm", ["姓名", "电话", "城市"], "run-1", now=NOW) is True
    session.commit()
    before = snapshot()
    changes = sqlite_changes()

    assert save_source_columns(session, "crm", ["姓名", "电话", "城市"], "run-2", now=LATER) is False
    session.commit()
    assert snapshot() == before
    assert sqlite_changes() == changes
    assert read_source_columns(session, "crm") == ["姓名", "电话", "城市"]

    assert save_source_columns(session, "crm", ["姓名", "城市", "电话"], "run-3", now=LATER) is True  # order counts
    assert save_source_columns(session, "web", [], "run-3") is True
    assert read_source_columns(session, "crm") == ["姓名", "城市", "电话"]
    assert read_source_columns(session, "web") == []
    row = session.execute(sa.text("select run_id from source_schema where source = 'crm'")).one()
    assert row.run_id == "run-3"
    with pytest.raises(ValueError, match="list of strings"):
        save_source_columns(session, "crm", "姓名", "run-4")


# ------------------------------------------------------------------------------------------ bulk paths


def test_many_rows_through_the_bulk_paths(session: Session, snapshot: Callable[[], Snapshot]) -> None:
    """More keys than one ``IN`` lookup, JSON, booleans and timestamps through the bulk writers, then a re-run."""
    n = 1200
    keys = [f"k{i:05d}" for i in range(n)]
    records = pl.DataFrame(
        {
            "source": ["crm"] * n,
            "source_key": keys,
            "row_hash": ["h"] * n,
            "payload": ["{}"] * n,
            "status": ["loaded"] * n,
            "run_id": ["run-1"] * n,
        }
    )
    upsert_source_records(session, records)
    upsert_customers(session, customers(), now=NOW)
    points = pl.DataFrame(
        {
            "customer_id": [CID_1, CID_2] * (n // 2),
            "kind": ["phone"] * n,
            "value": keys,
            "valid": [True, False] * (n // 2),
        }
    )
    activities = pl.DataFrame(
        {
            "source": ["crm"] * n,
            "source_key": keys,
            "customer_id": [CID_1] * n,
            "kind": ["order"] * n,
            "occurred_at": [f"2026-11-{1 + i % 28:02d}T08:00:00" for i in range(n)],
            "details": [{"n": i} for i in range(n)],
        }
    )
    assert replace_customer_details(session, [CID_1, CID_2], points, pl.DataFrame(), pl.DataFrame())[
        "contact_point"
    ] == UpsertCounts(inserted=n)
    assert upsert_activities(session, activities) == UpsertCounts(inserted=n)
    session.commit()
    before = snapshot()
    assert replace_customer_details(
        session, [CID_1], points.filter(pl.col("customer_id") == CID_1), pl.DataFrame(), pl.DataFrame()
    )["contact_point"] == UpsertCounts(unchanged=n // 2)
    assert upsert_activities(session, activities.reverse()) == UpsertCounts(unchanged=n)
    session.commit()
    assert snapshot() == before
    stored = read_activities(session)
    assert stored["occurred_at"][27] == dt.datetime(2026, 11, 28, 8, tzinfo=dt.UTC)
    assert json.loads(stored["details"][n - 1]) == {"n": n - 1}
    valid = session.execute(sa.text("select count(*) from contact_point where valid")).scalar_one()
    assert valid == n // 2


@pytest.mark.mariadb
def test_mariadb_activities_and_source_schema(mariadb_url: str) -> None:
    engine = init_store(mariadb_url)
    try:
        with Session(engine) as session:
            activity_store(session)
            assert upsert_activities(session, activity_rows()) == UpsertCounts(inserted=3)
            session.commit()
            assert upsert_activities(session, activity_rows()) == UpsertCounts(unchanged=3)
            changed = activity_rows(summary=["x", None, "web sign-up"])
            assert upsert_activities(session, changed) == UpsertCounts(updated=1, unchanged=2)
            assert read_activities(session)["occurred_at"][0] == dt.datetime(2026, 11, 20, 9, 15, tzinfo=dt.UTC)
            assert save_source_columns(session, "crm", ["姓名"], "run-1") is True
            assert save_source_columns(session, "crm", ["姓名"], "run-2") is False
            assert read_source_columns(session, "crm") == ["姓名"]
            session.commit()
    finally:
        engine.dispose()


def test_the_newest_succeeded_runs_match_model_is_kept(tmp_path: pathlib.Path) -> None:
    import crm_store as store

    engine = store.init_store(f"sqlite:///{tmp_path / 'm.db'}")
    with Session(engine) as session, session.begin():
        assert store.read_match_model(session) is None
        store.start_run(session, "r1", "p", "h", False, {})
        store.save_match_model(session, "r1", '{"v": 1}')
        store.finish_run(session, "r1", "succeeded", [], None)
        store.start_run(session, "r2", "p", "h", False, {})
        store.save_match_model(session, "r2", '{"v": 2}')
        store.finish_run(session, "r2", "failed", [], None)
    with Session(engine) as session:
        assert store.read_match_model(session) == '{"v": 1}'
    engine.dispose()


@pytest.mark.mariadb
def test_mariadb_keys_differing_in_case_accents_or_trailing_space_are_different_rows(mariadb_url: str) -> None:
    keys = ["abc", "ABC", "abc ", "é1", "e1", "Straße", "STRASSE"]
    rows = pl.DataFrame(
        {
            "source": ["crm"] * len(keys),
            "source_key": keys,
            "row_hash": [f"h{i}" for i in range(len(keys))],
            "payload": ["{}"] * len(keys),
            "status": ["loaded"] * len(keys),
            "reason": [None] * len(keys),
            "run_id": ["run-1"] * len(keys),
        }
    )
    engine = init_store(mariadb_url)
    try:
        with Session(engine) as session:
            assert upsert_source_records(session, rows) == UpsertCounts(inserted=len(keys))
            session.commit()
            stored = session.execute(sa.text("select source_key from source_record")).scalars().all()
            assert sorted(stored) == sorted(keys)
            assert upsert_source_records(session, rows) == UpsertCounts(unchanged=len(keys))
    finally:
        engine.dispose()
