from __future__ import annotations

import json

import polars as pl
import pytest

from rules.mapping import apply_mapping, check_mapping


def _raw() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "姓名": [" 张伟 ", "   ", None],
            "手机": ["13800138000", "13900139000", None],
            "电话": [None, "0635-8123456", None],
            "备注": ['VIP "金卡"\n', " ", None],
            "来源渠道": ["展会", None, None],
            "_source": ["crm", "crm", "crm"],
            "_source_key": ["1", "2", "3"],
            "_row_hash": ["h1", "h2", "h3"],
        }
    )


def test_apply_mapping_builds_the_mapped_frame() -> None:
    out = apply_mapping(_raw(), {"姓名": "full_name", "手机": "phone", "电话": "phone", "邮箱": "email"})
    assert out.columns == [
        "_source",
        "_source_key",
        "_row_hash",
        "full_name",
        "phone",
        "attributes",
        "_payload",
    ]
    assert all(dtype == pl.String for dtype in out.dtypes)
    assert out["full_name"].to_list() == ["张伟", None, None]
    assert out["phone"].to_list() == ["13800138000", "13900139000 / 0635-8123456", None]
    assert [json.loads(a) for a in out["attributes"]] == [{"备注": 'VIP "金卡"', "来源渠道": "展会"}, {}, {}]
    assert list(json.loads(out["attributes"][0])) == ["备注", "来源渠道"]  # column order


def test_payload_keeps_every_source_column_as_read_without_escaping_non_ascii() -> None:
    out = apply_mapping(_raw(), {"姓名": "full_name"})
    assert "张伟" in out["_payload"][0]
    assert json.loads(out["_payload"][0]) == {
        "姓名": " 张伟 ",
        "手机": "13800138000",
        "电话": None,
        "备注": 'VIP "金卡"\n',
        "来源渠道": "展会",
    }
    assert "_source" not in json.loads(out["_payload"][1])


def test_empty_mapping_and_no_source_columns() -> None:
    out = apply_mapping(_raw(), {})
    assert out.columns == ["_source", "_source_key", "_row_hash", "attributes", "_payload"]
    only_lineage = apply_mapping(pl.DataFrame({"_source": ["s"], "_source_key": ["1"]}), {"x": "email"})
    assert only_lineage["attributes"].to_list() == ["{}"]
    assert only_lineage["_payload"].to_list() == ["{}"]


def test_check_mapping_lists_problems() -> None:
    assert check_mapping({"姓名": "full_name", "手机": "phone"}) == []
    problems = check_mapping({"姓名": "name", "_source": "notes"})
    assert len(problems) == 2
    assert "unknown canonical field 'name'" in problems[0] and "full_name" in problems[0]
    assert "lineage column" in problems[1]


def test_apply_mapping_rejects_an_invalid_mapping() -> None:
    with pytest.raises(ValueError, match="unknown canonical field 'mobile'"):
        apply_mapping(_raw(), {"手机": "mobile"})


def test_a_broken_rows_raw_text_is_its_payload_and_never_an_attribute() -> None:
    raw = pl.DataFrame(
        {
            "name": ["张伟", None],
            "_source": ["web", "web"],
            "_source_key": ["1", "2"],
            "_raw_line": [None, '{"name": "半截'],
        }
    )
    mapped = apply_mapping(raw, {"name": "full_name"})
    assert "_raw_line" not in mapped["attributes"][1]
    assert json.loads(mapped["_payload"][1]) == {"_raw_line": '{"name": "半截'}
    assert json.loads(mapped["_payload"][0]) == {"name": "张伟"}


def _mapped_status(*values: str | None) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame(
        {
            "_source": ["legacy"] * n,
            "_source_key": [str(i + 2) for i in range(n)],
            "_skip_reason": [None] * (n - 1) + ["empty_row"],
            "_error_code": [None] * n,
            "status": list(values),
        },
        schema_overrides={"_skip_reason": pl.String, "_error_code": pl.String},
    )


def test_code_tables_translate_and_keep_unknown_codes() -> None:
    from rules.mapping import apply_codes

    out = apply_codes(_mapped_status("1", "9", "7", None), {"status": {1: "active", "9": "deleted"}, "gender": {}})
    assert out["status"].to_list() == ["active", "deleted", "7", None]


def test_skip_rules_mark_rows_with_their_reason_and_keep_earlier_reasons() -> None:
    from rules.mapping import apply_codes, mark_skipped

    frame = apply_codes(
        _mapped_status("1", "9", "2", "9"), {"status": {"1": "active", "2": "inactive", "9": "deleted"}}
    )
    out = mark_skipped(frame, {"deleted": {"status": ["deleted"]}, "excluded": {"status": ["inactive"]}})
    assert out["_skip_reason"].to_list() == [None, "deleted", "excluded", "empty_row"]
