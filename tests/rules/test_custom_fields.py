"""Custom fields as pure functions: each type's values with known answers, bad values dropped with a failure row of
the fixed columns (quarantined only at severity error), a declaration's definition errors, idempotence."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl
import pytest
from pydantic import ValidationError

from rules.custom_fields import CustomField, apply_custom_fields, check_custom_fields, custom_field_values
from rules.failures import FAILURE_COLUMNS


def batch(*attributes: dict[str, Any] | None, source: str = "s") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_source": [source] * len(attributes),
            "_source_key": [str(i) for i in range(len(attributes))],
            "attributes": [None if a is None else json.dumps(a, ensure_ascii=False) for a in attributes],
        }
    )


def stored(result: Any) -> list[dict[str, Any]]:
    return [json.loads(text) for text in result.attributes]


@pytest.mark.parametrize(
    ("spec", "raw", "value"),
    [
        ({"type": "text"}, "  华东  区 ", "华东 区"),
        ({"type": "text"}, "ＡＢＣ", "ABC"),  # full-width letters from a Chinese input method
        ({"type": "int"}, "1,200", 1200),
        ({"type": "int"}, "１２００", 1200),
        ({"type": "int"}, "12.0", 12),
        ({"type": "int"}, "-3", -3),
        ({"type": "float"}, "¥1,200.50", 1200.5),
        ({"type": "float"}, "3元", 3.0),
        ({"type": "float"}, ".5", 0.5),
        ({"type": "date"}, "2024/3/1", "2024-03-01"),
        ({"type": "date"}, "2024年3月1日", "2024-03-01"),
        ({"type": "date"}, "2031-12-31", "2031-12-31"),  # a contract's end date may lie ahead
        ({"type": "bool"}, "是", True),
        ({"type": "bool"}, "No", False),
        ({"type": "bool"}, "1", True),
        ({"type": "bool"}, "×", False),
        ({"type": "choice", "allowed": ["制造业", "零售"]}, "零售", "零售"),
        ({"type": "choice", "allowed": ["Retail", "制造业"]}, " retail ", "Retail"),
        ({"type": "choice", "allowed": ["制造业"], "aliases": {"制造": "制造业"}}, "制造", "制造业"),
        ({"type": "multi_choice", "allowed": ["A", "B", "C"]}, "a，c、A; b", ["A", "C", "B"]),
    ],
)
def test_each_type_reads_what_people_write(spec: dict[str, Any], raw: str, value: Any) -> None:
    field = CustomField(name="f", **spec)
    result = apply_custom_fields(batch({"f": raw}), [field])
    assert stored(result) == [{"f": value}]
    assert result.failures.is_empty() and not result.quarantined.any()


@pytest.mark.parametrize(
    ("spec", "raw", "code"),
    [
        ({"type": "int"}, "12.5", "invalid_value"),
        ({"type": "int"}, "about 200", "invalid_value"),
        ({"type": "int", "min": 0}, "-1", "invalid_value"),
        ({"type": "float"}, "12%", "invalid_value"),
        ({"type": "float"}, "inf", "invalid_value"),
        ({"type": "float", "max": 100}, "100.5", "invalid_value"),
        ({"type": "date"}, "not a date", "invalid_value"),
        ({"type": "date"}, "2024-13-45", "invalid_value"),
        ({"type": "date", "min": dt.date(2020, 1, 1)}, "2019-12-31", "invalid_value"),
        ({"type": "bool"}, "maybe", "invalid_value"),
        ({"type": "choice", "allowed": ["制造业", "零售"]}, "农业", "value_not_allowed"),
        ({"type": "multi_choice", "allowed": ["A", "B"]}, "A, Z", "value_not_allowed"),
        ({"type": "text", "max_length": 3}, "abcd", "length_out_of_range"),
    ],
)
def test_a_bad_value_is_dropped_with_its_reason_and_the_row_kept_at_warning(
    spec: dict[str, Any], raw: str, code: str
) -> None:
    field = CustomField(name="f", **spec)
    result = apply_custom_fields(batch({"f": raw, "other": "kept"}), [field])
    assert stored(result) == [{"other": "kept"}]  # the bad value is gone; the source row keeps it as read
    assert not result.quarantined.any()
    assert result.failures.columns == list(FAILURE_COLUMNS)
    failure = result.failures.row(0, named=True)
    assert failure == {
        "rule": "custom_field:f",
        "code": code,
        "severity": "warning",
        "column": "f",
        "source": "s",
        "source_key": "0",
        "value_masked": failure["value_masked"],
        "message": failure["message"],
    }
    assert failure["message"].startswith("f")


def test_severity_error_quarantines_the_row_and_required_needs_a_value() -> None:
    fields = [
        CustomField(name="员工数", type="int", severity="error"),
        CustomField(name="行业", type="text", required=True),
    ]
    result = apply_custom_fields(
        batch({"员工数": "x", "行业": "零售"}, {"员工数": "5"}, {"员工数": "7", "行业": "N/A"}), fields
    )
    assert result.quarantined.to_list() == [True, True, True]
    rows = result.failures.select("source_key", "rule", "code", "severity").rows()
    assert rows == [
        ("0", "custom_field:员工数", "invalid_value", "error"),
        ("1", "required:行业", "missing_required", "error"),
        ("2", "required:行业", "missing_required", "error"),  # N/A is no value
    ]
    lines = {r.rule: (r.success, r.unexpected_count, r.code) for r in result.rule_results}
    assert lines == {
        "custom_field:员工数": (False, 1, "invalid_value"),
        "required:行业": (False, 2, "missing_required"),
        "custom_field:行业": (True, 0, "length_out_of_range"),
    }


def test_values_come_from_the_listed_columns_which_leave_the_attributes() -> None:
    field = CustomField(name="industry", type="choice", allowed=["制造业", "零售"], columns=["行业", "HY"])
    result = apply_custom_fields(
        batch({"行业": "", "HY": "零售", "x": "1"}, {"行业": "制造业", "HY": "零售"}, {"industry": "零售"}, {}, None),
        [field],
    )
    assert stored(result) == [
        {"industry": "零售", "x": "1"},
        {"industry": "制造业"},  # the first listed column with a value wins
        {"industry": "零售"},  # the field's own name is read too (a value typed already)
        {},
        {},
    ]


def test_placeholders_and_empty_cells_are_no_value_not_a_bad_one() -> None:
    fields = [CustomField(name="d", type="date"), CustomField(name="n", type="int"), CustomField(name="b", type="bool")]
    result = apply_custom_fields(batch({"d": "1900-01-01", "n": "-", "b": "  "}, {"d": "未知", "n": "无"}), fields)
    assert stored(result) == [{}, {}]
    assert result.failures.is_empty()


def test_dates_are_read_in_each_sources_own_order() -> None:
    field = CustomField(name="d", type="date")
    frame = pl.concat([batch({"d": "03/05/2024"}, source="cn"), batch({"d": "03/05/2024"}, source="uk")])
    result = apply_custom_fields(frame, [field], date_order={"cn": "mdy", "uk": "dmy"})
    assert stored(result) == [{"d": "2024-03-05"}, {"d": "2024-05-03"}]


def test_applying_twice_changes_nothing() -> None:
    fields = [
        CustomField(name="i", type="int"),
        CustomField(name="x", type="float"),
        CustomField(name="d", type="date"),
        CustomField(name="b", type="bool"),
        CustomField(name="c", type="choice", allowed=["甲", "乙"]),
        CustomField(name="m", type="multi_choice", allowed=["A", "B"], columns=["tags"]),
        CustomField(name="t", type="text"),
    ]
    raw = {"i": "1,000", "x": "2.5", "d": "2024.3.1", "b": "是", "c": "乙", "tags": "b,a", "t": "x", "z": "y"}
    once = apply_custom_fields(batch(raw), fields)
    assert stored(once) == [
        {"i": 1000, "x": 2.5, "d": "2024-03-01", "b": True, "c": "乙", "m": ["B", "A"], "t": "x", "z": "y"}
    ]
    twice = apply_custom_fields(batch(raw).with_columns(once.attributes), fields)
    assert twice.attributes.to_list() == once.attributes.to_list()
    assert twice.failures.is_empty()


def test_no_fields_leaves_the_attributes_as_they_are() -> None:
    frame = batch({"a": "1"}, None)
    result = apply_custom_fields(frame, [])
    assert result.attributes.to_list() == frame["attributes"].to_list()
    assert result.rule_results == [] and not result.quarantined.any()


def test_typed_columns_read_back_what_was_stored_and_what_was_stored_before_the_declaration() -> None:
    fields = [
        CustomField(name="n", type="int"),
        CustomField(name="d", type="date"),
        CustomField(name="c", type="choice", allowed=["甲", "乙"]),
        CustomField(name="m", type="multi_choice", allowed=["A", "B"]),
        CustomField(name="b", type="bool"),
    ]
    typed = '{"n":3,"d":"2024-03-01","c":"乙","m":["A"],"b":false}'
    older = '{"n":"1,000","d":"2024/3/2","c":" 甲 ","m":"a;b","b":"yes"}'  # loaded before the declaration
    frame = custom_field_values(pl.Series([typed, older, '{"n":"many"}', None]), fields)
    assert frame.schema == pl.Schema(
        {"n": pl.Int64, "d": pl.Date, "c": pl.Enum(["甲", "乙"]), "m": pl.List(pl.String), "b": pl.Boolean}
    )
    assert frame.rows() == [
        (3, dt.date(2024, 3, 1), "乙", ["A"], False),
        (1000, dt.date(2024, 3, 2), "甲", ["A", "B"], True),
        (None, None, None, None, None),  # a bad value reads as null
        (None, None, None, None, None),
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "f", "type": "choice"}, "needs allowed"),
        ({"name": "f", "type": "text", "allowed": ["a"]}, "are for choice and multi_choice fields"),
        ({"name": "f", "type": "choice", "allowed": ["A", "a"]}, "twice"),
        ({"name": "f", "type": "choice", "allowed": ["A"], "aliases": {"b": "B"}}, "not allowed: B"),
        ({"name": "f", "type": "text", "min": 1}, "min and max are for int, float and date"),
        ({"name": "f", "type": "int", "min": 5, "max": 1}, "greater than max"),
        ({"name": "f", "type": "date", "min": 3}, "are dates"),
        ({"name": "f", "type": "int", "max_length": 3}, "max_length is for text"),
        ({"name": "f", "type": "money"}, "Input should be"),
        ({"name": "segment"}, "is a field of every customer already"),
        ({"name": "_f"}, "does not start with _"),
        ({"name": "f", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_a_bad_declaration_says_what_is_wrong(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CustomField.model_validate(spec)


def test_names_and_columns_are_each_used_once() -> None:
    fields = [
        CustomField(name="a", columns=["x"]),
        CustomField(name="a"),
        CustomField(name="b", columns=["x"]),
        CustomField(name="c", columns=["b"]),
    ]
    assert check_custom_fields(fields) == [
        "custom_fields[1].name: 'a' is declared twice (first custom_fields[0])",
        "custom_fields[2].columns: 'x' is read by custom_fields[0] too",
        "custom_fields[3].columns: 'b' is the name of custom_fields[2]: a column feeds one field",
    ]
