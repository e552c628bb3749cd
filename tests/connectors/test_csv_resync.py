"""CSV connector: a quote left open costs one line, not the rest of the file (#11 item 7); blank runs collapse."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from connectors import CsvParams, get_connector

HEADER = "id,name,phone,city,email,note"


def read(path: Path, **params: object) -> pl.DataFrame:
    batches = list(get_connector("csv")(CsvParams(path=path, **params), source="crm"))
    return pl.concat(batches, how="diagonal")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "in.csv"
    path.write_bytes(text.encode())
    return path


def good_line(i: int) -> str:
    return f"{i},客户{i},1380013{i:04d},深圳,c{i}@example.com,ok"


def test_unclosed_quote_on_line_2_quarantines_only_line_2(tmp_path: Path) -> None:
    text = "\n".join([HEADER, '1,"张伟,13800138000,深圳,z@example.com,x', *(good_line(i) for i in range(2, 7))]) + "\n"
    df = read(write(tmp_path, text))
    assert df["_source_key"].to_list() == ["2", "3", "4", "5", "6", "7"]
    assert df["_error_code"].to_list() == ["malformed_row", None, None, None, None, None]
    detail = df["_error_detail"][0]
    assert detail.startswith("unterminated quoted field on line 2")
    assert "reading resumed at line 3" in detail
    assert df["_raw_line"][0] == '1,"张伟,13800138000,深圳,z@example.com,x'
    assert df["id"][0] == "1"  # the values the broken line has, as far as they go
    assert df.select("id", "name", "phone").rows()[1:] == [(str(i), f"客户{i}", f"1380013{i:04d}") for i in range(2, 7)]
    assert df["_raw_line"][1:].null_count() == 5


def test_closed_multiline_quotes_stay_one_record_around_a_runaway(tmp_path: Path) -> None:
    text = (
        "a,b,c\n"
        '1,"深圳\n南山区",x\n'  # lines 2-3: a closed quoted field with a line break is one record
        '2,"open,y\n'  # line 4: never closed
        '3,"北京\r\n朝阳区",z\n'  # lines 5-6
        "4,5,6\n"  # line 7
    )
    df = read(write(tmp_path, text))
    assert df["_source_key"].to_list() == ["2", "4", "5", "7"]
    assert df["_error_code"].to_list() == [None, "malformed_row", None, None]
    assert df["b"].to_list()[::2] == ["深圳\n南山区", "北京\r\n朝阳区"]
    assert df["_error_detail"][1].startswith("unterminated quoted field on line 4: a stray quote on line 5")


def test_a_stray_quote_further_down_does_not_close_the_runaway(tmp_path: Path) -> None:
    df = read(write(tmp_path, 'a,b\n1,"open\n2,3\n4,"five"\n6,7\n'))
    assert df["_source_key"].to_list() == ["2", "3", "4", "5"]
    assert df["_error_code"].to_list() == ["malformed_row", None, None, None]
    assert df["_error_detail"][0] == (
        "unterminated quoted field on line 2: a stray quote on line 4 ends it mid-text; reading resumed at line 3"
    )
    assert df.select("a", "b").rows()[1:] == [("2", "3"), ("4", "five"), ("6", "7")]


def test_runaway_past_the_field_limit_in_a_large_file(tmp_path: Path) -> None:
    n = 20_000  # about 600 KB after line 2: the open field passes the csv field limit (128 KB) on the way
    text = "\n".join([HEADER, '1,"open,x,y,z,w', *(good_line(i) for i in range(2, n + 2))]) + "\n"
    df = read(write(tmp_path, text))
    assert df.height == n + 1
    assert df["_source_key"].to_list() == [str(i) for i in range(2, n + 3)]
    assert df["_error_code"].drop_nulls().to_list() == ["malformed_row"]
    assert "over the csv field limit; reading resumed at line 3" in df["_error_detail"][0]


def test_unclosed_quote_on_the_last_line(tmp_path: Path) -> None:
    df = read(write(tmp_path, 'a,b\n1,2\n3,"open\n'))
    assert df["_source_key"].to_list() == ["2", "3"]
    assert df["_error_code"].to_list() == [None, "malformed_row"]
    assert df["_error_detail"][1] == "unterminated quoted field on line 3: it runs to the end of the file"
    assert df.select("a", "b").row(1) == ("3", "open")


def test_text_after_a_closing_quote_is_still_read_leniently(tmp_path: Path) -> None:
    text = 'a,b\n"x"y,2\n"multi\nline" z,3\n4,5"\n'
    df = read(write(tmp_path, text))
    assert df["_source_key"].to_list() == ["2", "3", "5"]
    assert df["_error_code"].null_count() == 3
    assert df.select("a", "b").rows() == [("xy", "2"), ("multi\nline z", "3"), ("4", '5"')]


def test_two_runaways_and_a_bad_byte_keep_their_own_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connectors._csv.BATCH_ROWS", 2)  # resynchronising across batch boundaries
    lines = ["a,b", "1,2", '2,"open', "3,4", '4,"again', "5,6", "6,7", "7,8"]
    data = ("\n".join(lines) + "\n").encode().replace(b"6,7", b"6,\xff7")
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    df = read(path, encoding="utf-8", delimiter=",")
    keys = df["_source_key"].to_list()
    assert keys == [str(i) for i in range(2, 9)]
    assert df["_error_code"].to_list() == [None, "malformed_row", None, "malformed_row", None, "bad_encoding", None]


def test_a_file_of_blank_lines_is_one_skipped_row(tmp_path: Path) -> None:
    text = "a,b\n1,2\n" + "\n" * 100_000 + "3,4\n" + "\r\n" * 5
    df = read(write(tmp_path, text))
    assert df["_source_key"].to_list() == ["2", "3-100002", "100003", "100004-100008"]
    assert df["_skip_reason"].to_list() == [None, "empty_row", None, "empty_row"]
    assert df["_error_detail"].to_list() == [
        None,
        "100000 consecutive empty rows: 3-100002",
        None,
        "5 consecutive empty rows: 100004-100008",
    ]


def test_blank_runs_collapse_across_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connectors._csv.BATCH_ROWS", 3)
    text = "a,b\n1,2\n\n , \n,\n\n\n3,4\n\n5,6\n\n\n"
    batches = list(get_connector("csv")(CsvParams(path=write(tmp_path, text)), source="s"))
    df = pl.concat(batches)
    assert df["_source_key"].to_list() == ["2", "3-7", "8", "9", "10", "11-12"]
    assert df["_skip_reason"].to_list() == [None, "empty_row", None, "empty_row", None, "empty_row"]
    assert df["_error_detail"][3] is None  # a lone blank line keeps its own key and no note
    assert df["_source_key"].is_unique().all()
