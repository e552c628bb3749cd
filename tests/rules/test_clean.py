from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from pydantic import ValidationError

from rules.clean import (
    CLEAN_CODES,
    FINDING_COLUMNS,
    CleanSettings,
    clean_findings,
    find_incomplete,
    find_invalid_contacts,
    find_stale,
    finding_counts,
    months_before,
)

NOW = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
UTC = pl.Datetime("us", "UTC")


def customers(*rows: dict[str, object]) -> pl.DataFrame:
    """Golden records as ``crm_store.read_customers`` gives them (only the columns the checks read)."""
    schema = {
        "customer_id": pl.String,
        "segment": pl.String,
        "primary_phone": pl.String,
        "primary_email": pl.String,
        "company": pl.String,
        "full_name": pl.String,
        "last_contact_at": UTC,
        "updated_at": UTC,
    }
    filled = [{"updated_at": NOW, **row} for row in rows]
    return pl.DataFrame(filled, schema=schema)


def contacts(*rows: tuple[str, str, str, bool]) -> pl.DataFrame:
    schema = {"customer_id": pl.String, "kind": pl.String, "value": pl.String, "valid": pl.Boolean}
    return pl.DataFrame(list(rows), schema=schema, orient="row")


def at(year: int, month: int, day: int = 1) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=dt.UTC)


def test_months_before_counts_calendar_months_and_clamps_the_day() -> None:
    assert months_before(NOW, 18) == dt.datetime(2025, 6, 1, 9, 30, tzinfo=dt.UTC)
    assert months_before(at(2026, 3, 31), 1) == at(2026, 2, 28)
    assert months_before(at(2024, 3, 31), 1) == at(2024, 2, 29)
    assert months_before(at(2026, 1, 15), 13) == at(2024, 12, 15)


def test_stale_uses_last_contact_and_falls_back_to_updated_at() -> None:
    frame = customers(
        {"customer_id": "old", "last_contact_at": at(2024, 1, 3)},  # 35 months
        {"customer_id": "recent", "last_contact_at": at(2026, 6, 1)},
        {"customer_id": "edge", "last_contact_at": months_before(NOW, 18)},  # exactly the limit: not stale
        {"customer_id": "never-contacted", "updated_at": at(2023, 5, 2)},  # no contact date: updated_at decides
        {"customer_id": "fresh-record", "updated_at": at(2026, 11, 1)},
        {"customer_id": "recent-contact-old-record", "last_contact_at": at(2026, 10, 1), "updated_at": at(2020, 1, 1)},
    )
    found = find_stale(frame, months=18, now=NOW)
    assert found.columns == list(FINDING_COLUMNS)
    assert found.schema == dict.fromkeys(FINDING_COLUMNS, pl.String)
    rows = {r["customer_id"]: r for r in found.iter_rows(named=True)}
    assert set(rows) == {"old", "never-contacted"}
    assert rows["old"]["field"] == "last_contact_at" and rows["old"]["value"] == "2024-01-03T00:00:00Z"
    assert rows["old"]["detail"] == "no contact for 34 months (last_contact_at 2024-01-03; limit 18 months)"
    assert rows["never-contacted"]["field"] == "updated_at"
    assert {r["code"] for r in rows.values()} == {"stale_record"}


def test_stale_with_a_shorter_limit_and_naive_timestamps() -> None:
    frame = pl.DataFrame(
        {
            "customer_id": ["a", "b"],
            "last_contact_at": [dt.datetime(2026, 8, 15), None],  # naive: taken as UTC
            "updated_at": [dt.datetime(2026, 11, 30), dt.datetime(2026, 11, 30)],
        }
    )
    assert find_stale(frame, months=3, now=NOW)["customer_id"].to_list() == ["a"]
    assert find_stale(frame, months=4, now=NOW).height == 0
    assert find_stale(frame.clear(), months=3, now=NOW).height == 0


def test_incomplete_applies_each_segments_requirements_and_the_default_to_the_rest() -> None:
    required = {"default": ["phone|email"], "VIP": ["phone", "email", "company"]}
    frame = customers(
        {"customer_id": "ok", "primary_email": "a@example.com"},
        {"customer_id": "nothing"},
        {"customer_id": "blank", "primary_phone": "  "},  # a blank value is missing
        {"customer_id": "vip-ok", "segment": "VIP", "primary_phone": "+8613800138000", "primary_email": "v@x.cn"}
        | {"company": "齐铭钢管"},
        {"customer_id": "vip-partial", "segment": "VIP", "primary_phone": "+8613800138000"},
        {"customer_id": "other-segment", "segment": "B", "company": "Acme"},  # not listed: default applies
    )
    found = find_incomplete(frame, required)
    got = [(r["customer_id"], r["segment"], r["field"]) for r in found.iter_rows(named=True)]
    assert got == [
        ("blank", None, "phone|email"),
        ("nothing", None, "phone|email"),
        ("other-segment", "B", "phone|email"),
        ("vip-partial", "VIP", "company"),
        ("vip-partial", "VIP", "email"),
    ]
    assert set(found["code"]) == {"incomplete_record"} and found["value"].null_count() == found.height
    detail = found.filter(pl.col("customer_id") == "vip-partial")["detail"].to_list()
    assert "email is empty (required by segment VIP)" in detail
    assert find_incomplete(frame, {"default": []}).height == 0


def test_a_required_field_the_table_lacks_is_missing_for_everyone() -> None:
    frame = customers({"customer_id": "a", "primary_phone": "+8613800138000"})
    found = find_incomplete(frame.drop("company"), {"default": ["company"]})
    assert found["customer_id"].to_list() == ["a"]


def test_invalid_contact_points_and_customers_without_a_valid_contact() -> None:
    frame = customers(
        {"customer_id": "good"},
        {"customer_id": "mixed"},
        {"customer_id": "all-bad"},
        {"customer_id": "none"},
        {"customer_id": "wechat-only"},
    )
    points = contacts(
        ("good", "phone", "+8613800138000", True),
        ("mixed", "email", "bad@@example", False),
        ("mixed", "phone", "+8613900139000", True),
        ("all-bad", "phone", "12345", False),
        ("all-bad", "email", "x@", False),
        ("wechat-only", "wechat", "wx_abc", True),
        ("someone-else", "phone", "999", False),  # not among the customers checked
    )
    found = find_invalid_contacts(frame, points)
    got = [(r["customer_id"], r["code"], r["field"], r["value"]) for r in found.iter_rows(named=True)]
    assert got == [
        ("all-bad", "invalid_contact_point", "email", "x@"),
        ("all-bad", "invalid_contact_point", "phone", "12345"),
        ("all-bad", "no_valid_contact", "phone|email", None),
        ("mixed", "invalid_contact_point", "email", "bad@@example"),
        ("none", "no_valid_contact", "phone|email", None),
        ("wechat-only", "no_valid_contact", "phone|email", None),
    ]
    details = dict(zip(found["customer_id"] + ":" + found["code"], found["detail"], strict=True))
    assert details["all-bad:no_valid_contact"] == "no valid phone or e-mail (2 invalid)"
    assert details["none:no_valid_contact"] == "no phone or e-mail at all"
    assert "12345" not in " ".join(found["detail"])  # messages never carry the values


def test_clean_findings_and_counts_cover_every_check() -> None:
    frame = customers(
        {"customer_id": "a", "last_contact_at": at(2020, 1, 1)},
        {"customer_id": "b", "primary_email": "b@example.com", "last_contact_at": at(2026, 11, 1)},
    )
    points = contacts(("b", "email", "b@example.com", True))
    findings = clean_findings(frame, points, CleanSettings(), now=NOW)
    assert sorted(findings["code"].to_list()) == ["incomplete_record", "no_valid_contact", "stale_record"]
    assert set(findings["customer_id"]) == {"a"}
    counts = finding_counts(findings, frame.height)
    assert counts["customers"] == 2 and counts["customers_with_findings"] == 1 and counts["findings"] == 3
    assert set(counts["by_code"]) == set(CLEAN_CODES)
    assert counts["by_code"]["invalid_contact_point"] == {"findings": 0, "customers": 0}
    assert counts["by_check"]["invalid_contact"] == {"findings": 1, "customers": 1}
    empty = clean_findings(frame.clear(), points.clear(), CleanSettings(), now=NOW)
    assert empty.height == 0 and empty.columns == list(FINDING_COLUMNS)


def test_settings_reject_unknown_fields_and_keys() -> None:
    settings = CleanSettings.model_validate({"stale_months": 6, "required": {"VIP": ["phone", "email|landline"]}})
    assert settings.required == {"VIP": ["phone", "email|landline"]}
    with pytest.raises(ValidationError, match=r"VIP\[1\]: 'emial' names 'emial'; allowed: full_name"):
        CleanSettings.model_validate({"required": {"VIP": ["phone", "emial"]}})
    with pytest.raises(ValidationError, match="stale_month"):
        CleanSettings.model_validate({"stale_month": 6})
    with pytest.raises(ValidationError):
        CleanSettings.model_validate({"stale_months": 0})
