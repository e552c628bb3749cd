"""Spreadsheet connector on workbooks built with openpyxl in tmp_path."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from connectors import SourceError, XlsxParams, get_connector
from connectors.lineage import LINEAGE_COLS


def read(path: Path, **params: object) -> list[pl.DataFrame]:
    return list(get_connector("xlsx")(XlsxParams(path=path, **params), source="book"))


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "客户"
    ws["A1"] = "2024年客户名单"
    ws.merge_cells("A1:E1")
    ws.append(["姓名", "电话", "生日", "编号", "公式"])  # row 2
    ws.append(["张伟", 13800138000, dt.date(1985, 3, 5), "０６３５", "=1+2"])  # row 3
    ws.append(["李娜", "13912345678", dt.datetime(1990, 1, 2, 10, 20), 1.5, True])  # row 4
    ws.append([])  # row 5
    ws.append(["王芳", 13512345678.0, None, 42, None])  # row 6
    ws.append(["姓名", "电话", "生日", "编号", "公式"])  # row 7
    ws.append(["合计", None, None, 3, None])  # row 8
    ws["C3"].number_format = "yyyy-mm-dd"
    other = wb.create_sheet("订单")
    other.append(["客户编号", "金额", " 金额 ", None])
    other.append(["0001", 99.9, 100, "x"])
    other.append(["Total", None, 199.9, None])
    wb.create_sheet("空白")
    path = tmp_path / "customers.xlsx"
    wb.save(path)
    return path


def test_title_row_is_skipped_and_cells_become_text(workbook: Path) -> None:
    first = read(workbook)[0]
    assert first.columns == ["姓名", "电话", "生日", "编号", "公式", *LINEAGE_COLS]
    assert all(dtype == pl.String for dtype in first.dtypes)
    assert first["_source_key"].to_list() == [f"客户!{n}" for n in range(3, 9)]
    rows = first.select("姓名", "电话", "生日", "编号", "公式").rows()
    assert rows[0] == ("张伟", "13800138000", "1985-03-05", "０６３５", None)  # formula without cached value
    assert rows[1] == ("李娜", "13912345678", "1990-01-02T10:20:00", "1.5", "true")
    assert rows[3] == ("王芳", "13512345678", None, "42", None)


def test_skip_reasons(workbook: Path) -> None:
    first = read(workbook)[0]
    assert first["_skip_reason"].to_list() == [None, None, "empty_row", None, "repeated_header", "total_row"]
    assert first["_error_code"].null_count() == first.height


def test_sheets_with_different_headers_come_as_separate_batches(workbook: Path) -> None:
    batches = read(workbook)
    assert len(batches) == 2  # the empty sheet yields nothing
    orders = batches[1]
    assert orders.columns[:4] == ["客户编号", "金额", "金额_2", "column_4"]
    assert orders["_source_key"].to_list() == ["订单!2", "订单!3"]
    assert orders.row(0)[:4] == ("0001", "99.9", "100", "x")
    assert orders["_skip_reason"].to_list() == [None, "total_row"]


def test_selected_sheets_and_header_row(workbook: Path) -> None:
    (orders,) = read(workbook, sheets=["订单"])
    assert orders.height == 2
    (customers,) = read(workbook, sheets=["客户"], header_row=2)
    assert customers["_source_key"][0] == "客户!3"


def test_unknown_sheet_lists_the_sheets(workbook: Path) -> None:
    with pytest.raises(SourceError, match="no sheet named 'Sheet9'; the workbook has '客户', '订单', '空白'"):
        read(workbook, sheets=["Sheet9"])


def test_row_hash_matches_the_shared_definition(workbook: Path) -> None:
    first = read(workbook)[0]
    expected = hashlib.sha256("\x1f".join(["张伟", "13800138000", "1985-03-05", "０６３５", ""]).encode())
    assert first["_row_hash"][0] == expected.hexdigest()


def test_truncated_workbook_raises_source_error_naming_the_file(workbook: Path, tmp_path: Path) -> None:
    data = workbook.read_bytes()
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"broken\.xlsx: cannot open the workbook") as info:
        read(broken)
    assert info.value.path == str(broken)
    assert info.value.row is None


def test_missing_workbook(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="file not found"):
        read(tmp_path / "none.xlsx")
