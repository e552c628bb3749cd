"""JSON Lines connector."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from connectors import JsonlParams, SourceError, get_connector


def read(path: Path, **params: object) -> pl.DataFrame:
    batches = list(get_connector("jsonl")(JsonlParams(path=path, **params), source="web"))
    return pl.concat(batches, how="diagonal")


def test_broken_line_blank_line_and_values_as_written(tmp_path: Path) -> None:
    path = tmp_path / "signups.jsonl"
    lines = [
        '{"name": "张伟", "phone": 13800138000, "score": 1.50, "vip": true}',
        "",
        '{"name": "李娜" "phone": "0635"}',
        '{"name": "王芳", "tags": ["a", 1], "addr": {"city": "深圳", "zip": 518000}, "phone": null}',
        "[1, 2]",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    df = read(path)
    assert df.columns[:4] == ["name", "phone", "score", "vip"]
    assert df["_source_key"].to_list() == ["1", "2", "3", "4", "5"]
    assert df.row(0)[:4] == ("张伟", "13800138000", "1.50", "true")
    assert df["_skip_reason"].to_list() == [None, "empty_row", None, None, None]
    assert df["_error_code"].to_list() == [None, None, "malformed_row", None, "malformed_row"]
    assert df["_error_detail"][2] == "invalid JSON at column 15: Expecting ',' delimiter"
    assert df["_error_detail"][4] == "expected a JSON object, found an array"
    assert df["_raw_line"][2] == lines[2]
    assert df["tags"][3] == '["a",1]'
    assert df["addr"][3] == '{"city":"深圳","zip":518000}'
    assert df["phone"][3] is None


def test_crlf_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes('\ufeff{"a": "x"}\r\n{"a": "y"}\r\n'.encode())
    assert read(path)["a"].to_list() == ["x", "y"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"x\.jsonl: file not found"):
        read(tmp_path / "x.jsonl")


def test_row_hash_depends_only_on_the_line_itself(tmp_path: Path) -> None:
    first = tmp_path / "a.jsonl"
    second = tmp_path / "b.jsonl"
    first.write_text('{"name": "张伟"}\n', "utf-8")
    second.write_text('{"name": "张伟"}\n{"name": "李娜", "city": "聊城"}\n', "utf-8")
    rows_a = pl.concat(list(get_connector("jsonl")(JsonlParams(path=first), source="w")), how="diagonal")
    rows_b = pl.concat(list(get_connector("jsonl")(JsonlParams(path=second), source="w")), how="diagonal")
    assert rows_a["_row_hash"][0] == rows_b["_row_hash"][0]


def test_blank_lines_deep_nesting_and_lone_surrogates_are_rows_not_crashes(tmp_path: Path) -> None:
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n" * 100, encoding="utf-8")
    df = read(blank)
    assert df.height == 100 and set(df["_skip_reason"]) == {"empty_row"}
    deep: object = {"a": 1}
    for _ in range(800):
        deep = {"x": deep}
    odd = tmp_path / "odd.jsonl"
    odd.write_text(
        json.dumps({"name": "x", "deep": deep}) + "\n" + '{"name": "\\ud800abc"}\n' + '{"name": "ok"}\n',
        encoding="utf-8",
    )
    df = read(odd)
    assert df["_error_code"].to_list() == ["malformed_row", "malformed_row", None]
    assert df["_error_detail"][0] == "invalid JSON: nested too deeply"
    assert "lone surrogate" in df["_error_detail"][1]
    assert df["name"][2] == "ok"


def test_a_json_array_saved_as_jsonl_is_named(tmp_path: Path) -> None:
    path = tmp_path / "signups.jsonl"
    path.write_text('[\n  {"name": "张伟"},\n  {"name": "李娜"}\n]\n', encoding="utf-8")
    with pytest.raises(SourceError, match="one JSON array, not JSON Lines: use kind: json"):
        read(path)
