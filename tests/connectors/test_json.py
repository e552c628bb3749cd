"""JSON array connector."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from connectors import JsonParams, SourceError, get_connector


def read(path: Path, **params: object) -> pl.DataFrame:
    batches = list(get_connector("json")(JsonParams(path=path, **params), source="api_dump"))
    return pl.concat(batches, how="diagonal")


def test_array_of_objects_values_as_written_and_bad_elements(tmp_path: Path) -> None:
    path = tmp_path / "customers.json"
    path.write_text(
        '[{"name": "张伟", "phone": 13800138000, "score": 1.50, "vip": true},\n'
        ' {"name": "李娜", "tags": ["a", 1], "addr": {"city": "深圳"}, "phone": null},\n'
        " [1, 2],\n"
        ' "王芳",\n'
        " {},\n"
        ' {"name": "  "}]\n',
        encoding="utf-8",
    )
    df = read(path)
    assert df.columns[:4] == ["name", "phone", "score", "vip"]
    assert df["_source_key"].to_list() == ["1", "2", "3", "4", "5", "6"]
    assert df.row(0)[:4] == ("张伟", "13800138000", "1.50", "true")
    assert df["tags"][1] == '["a",1]' and df["addr"][1] == '{"city":"深圳"}' and df["phone"][1] is None
    assert df["_error_code"].to_list() == [None, None, "malformed_row", "malformed_row", None, None]
    assert df["_error_detail"][2] == "expected a JSON object, found an array"
    assert df["_error_detail"][3] == "expected a JSON object, found a string"
    assert df["_raw_line"].to_list() == [None, None, "[1,2]", '"王芳"', None, None]
    assert df["_skip_reason"].to_list() == [None, None, None, None, "empty_row", "empty_row"]
    assert df["_row_hash"][2] != df["_row_hash"][3]


def test_records_path_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_bytes('\ufeff{"meta": {"n": 2}, "data": {"items": [{"id": 1}, {"id": 2}]}}'.encode())
    assert read(path, records_path="data.items")["id"].to_list() == ["1", "2"]
    with pytest.raises(SourceError, match=r"set records_path \(its keys: 'meta', 'data'\)"):
        read(path)
    with pytest.raises(SourceError, match=r"'data.rows': data has no key 'rows' \(its keys: 'items'\)"):
        read(path, records_path="data.rows")
    with pytest.raises(SourceError, match=r"records_path 'meta.n' is a number, not an array"):
        read(path, records_path="meta.n")


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"name": "张伟"},\n  {"name": "李娜" "phone": 1}\n]\n', encoding="utf-8")
    with pytest.raises(SourceError) as info:
        read(path)
    assert str(info.value) == f"{path}: invalid JSON at line 3, column 17: Expecting ',' delimiter"
    assert info.value.source == "api_dump"


def test_missing_file_and_bad_bytes(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"x\.json: file not found"):
        read(tmp_path / "x.json")
    path = tmp_path / "gbk.json"
    path.write_bytes('[\n{"name": "张伟"}]'.encode("gbk"))
    with pytest.raises(SourceError, match=r"not valid utf-8: undecodable bytes at line 2"):
        read(path)
    assert read(path, encoding="gbk")["name"].to_list() == ["张伟"]


def test_empty_array_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text("[]", encoding="utf-8")
    assert list(get_connector("json")(JsonParams(path=path), source="s")) == []


def test_deep_nesting_and_lone_surrogates_are_malformed_rows_not_crashes(tmp_path: Path) -> None:
    deep = '{"x": ' * 800 + "1" + "}" * 800
    path = tmp_path / "odd.json"
    path.write_text(f'[{{"name": "x", "deep": {deep}}}, {{"name": "\\ud800abc"}}, {{"name": "ok"}}]', encoding="utf-8")
    df = read(path)
    assert df["_error_code"].to_list() == ["malformed_row", "malformed_row", None]
    assert df["_error_detail"][0] == "invalid JSON: nested too deeply"
    assert "lone surrogate" in df["_error_detail"][1] and df["_raw_line"][1] == '{"name":"\\ud800abc"}'
    assert df["name"][2] == "ok"
