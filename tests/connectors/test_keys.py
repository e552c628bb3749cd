"""Row keys: ``key:`` on every file connector, and every connector's keys checked (empty, repeated, too long)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import polars as pl
import pydantic
import pytest

from connectors import CsvParams, JsonlParams, JsonParams, SourceError, XlsxParams, get_connector, lineage


def read(kind: str, params: pydantic.BaseModel) -> pl.DataFrame:
    return pl.concat(list(get_connector(kind)(params, source="s")), how="diagonal_relaxed")


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def outcome(df: pl.DataFrame) -> list[tuple[str, str | None, str | None]]:
    return list(zip(df["_source_key"], df["_skip_reason"], df["_error_code"], strict=True))


def test_a_csv_key_column_names_the_rows_whatever_their_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["客户编号,姓名", "K1,张伟", " K2 ,李娜", ",", "K3,王芳"])
    df = read("csv", CsvParams(path=path, key="客户编号"))
    assert outcome(df) == [("K1", None, None), ("K2", None, None), ("row:4", "empty_row", None), ("K3", None, None)]
    write_csv(path, ["客户编号,姓名", "K0,陈静", "K1,张伟", " K2 ,李娜", ",", "K3,王芳"])
    again = read("csv", CsvParams(path=path, key="客户编号"))
    assert list(zip(again["_source_key"], again["姓名"], strict=True)) == [
        ("K0", "陈静"),
        ("K1", "张伟"),
        ("K2", "李娜"),
        ("row:5", None),
        ("K3", "王芳"),
    ]


def test_an_empty_key_quarantines_its_row_and_keeps_its_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["id,name", "1,张伟", ",李娜", "3,王芳"])
    df = read("csv", CsvParams(path=path, key="id"))
    assert outcome(df) == [("1", None, None), ("row:3", None, "malformed_row"), ("3", None, None)]
    assert df["_error_detail"][1] == "key column id is empty"


def test_a_repeated_key_quarantines_the_later_row_only(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["id,name", "7,张伟", "8,李娜", "7,王芳"])
    df = read("csv", CsvParams(path=path, key="id"))
    assert outcome(df) == [("7", None, None), ("8", None, None), ("row:4", None, lineage.DUPLICATE_KEY)]
    assert df["_error_detail"][2] == "the same key as row 1 of this read"


def test_repeats_are_found_across_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import connectors._csv

    monkeypatch.setattr(connectors._csv, "BATCH_ROWS", 2)
    path = write_csv(tmp_path / "a.csv", ["id,name", "a,1", "b,2", "c,3", "a,4", "c,5", "d,6"])
    batches = list(get_connector("csv")(CsvParams(path=path, key="id"), source="s"))
    assert len(batches) == 3
    df = pl.concat(batches)
    assert df["_source_key"].to_list() == ["a", "b", "c", "row:5", "row:6", "d"]
    assert df["_error_detail"].to_list()[3:5] == [
        "the same key as row 1 of this read",
        "the same key as row 3 of this read",
    ]


def test_a_key_longer_than_the_store_keeps_is_quarantined(tmp_path: Path) -> None:
    long = "x" * (lineage.MAX_KEY_CHARS + 1)
    path = write_csv(tmp_path / "a.csv", ["id,name", f"{long},张伟", f"{long[:-1]},李娜"])
    df = read("csv", CsvParams(path=path, key="id"))
    assert outcome(df) == [("row:2", None, "malformed_row"), (long[:-1], None, None)]
    assert df["_error_detail"][0] == f"the key is 256 characters long; the store keeps {lineage.MAX_KEY_CHARS}"


def test_composite_keys_escape_the_separator(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["a,b,name", '"x|y",z,1', 'x,"y|z",2', r"x\,y,3", r"x,\y,4"])
    df = read("csv", CsvParams(path=path, key=["a", "b"]))
    assert df["_source_key"].to_list() == [r"x\|y|z", r"x|y\|z", r"x\\|y", r"x|\\y"]
    assert df["_error_code"].null_count() == 4


def test_a_broken_row_keeps_its_line_as_key(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["id,name", "1,张伟,extra", "1,张伟"])
    df = read("csv", CsvParams(path=path, key="id"))
    assert outcome(df) == [("row:2", None, "malformed_row"), ("1", None, None)]


def test_a_key_column_missing_from_the_header_fails_the_source(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["id,name", "1,张伟"])
    with pytest.raises(SourceError, match=r"key column 'KHBH' not in the header; columns: id, name"):
        read("csv", CsvParams(path=path, key="KHBH"))


def test_key_params_are_validated() -> None:
    assert CsvParams.model_validate({"path": "a.csv", "key": "id"}).key == ["id"]
    for bad in ([], [""], ["a", "a"]):
        with pytest.raises(pydantic.ValidationError, match="key"):
            CsvParams.model_validate({"path": "a.csv", "key": bad})


def test_a_sheet_key_survives_rows_inserted_at_the_top(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"

    def save(rows: list[tuple[object, ...]]) -> None:
        wb = openpyxl.Workbook()
        ws = wb.active
        assert ws is not None
        ws.title = "客户"
        for row in [("编号", "姓名"), *rows]:
            ws.append(row)
        wb.save(path)

    save([(101, "张伟"), (102, "李娜"), (None, None), (101, "重复")])
    df = read("xlsx", XlsxParams(path=path, key="编号"))
    assert outcome(df) == [
        ("101", None, None),
        ("102", None, None),
        ("row:客户!4", "empty_row", None),
        ("row:客户!5", None, "duplicate_key"),
    ]
    save([(100, "王芳"), (101, "张伟"), (102, "李娜")])
    again = read("xlsx", XlsxParams(path=path, key="编号"))
    assert dict(zip(again["_source_key"], again["姓名"], strict=True)) == {"100": "王芳", "101": "张伟", "102": "李娜"}


def test_json_and_jsonl_records_are_keyed_by_a_field(tmp_path: Path) -> None:
    records = [{"id": 5, "name": "张伟"}, {"id": 6, "name": "李娜"}, {"name": "无编号"}]
    (tmp_path / "a.json").write_text(json.dumps(records, ensure_ascii=False), "utf-8")
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), "utf-8")
    for kind, params in (
        ("json", JsonParams(path=tmp_path / "a.json", key="id")),
        ("jsonl", JsonlParams(path=tmp_path / "a.jsonl", key="id")),
    ):
        df = read(kind, params)
        assert outcome(df) == [("5", None, None), ("6", None, None), ("row:3", None, "malformed_row")], kind
