"""CSV connector on ugly real-world files, generated into tmp_path."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from connectors import CsvParams, SourceError, get_connector
from connectors.lineage import LINEAGE_COLS, RAW_LINE_COL

HEADER = "姓名,电话,城市"


def read(path: Path, **params: object) -> pl.DataFrame:
    batches = list(get_connector("csv")(CsvParams(path=path, **params), source="crm"))
    return pl.concat(batches, how="diagonal")


def write(tmp_path: Path, data: bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def records(df: pl.DataFrame) -> list[dict[str, object]]:
    return df.drop(LINEAGE_COLS[2], RAW_LINE_COL).to_dicts()


def test_gb18030_with_crlf_keeps_text_and_leading_zeros(tmp_path: Path) -> None:
    text = f"{HEADER}\r\n张伟,13800138000,深圳\r\n李娜,0635,聊城\r\n"
    df = read(write(tmp_path, text.encode("gb18030")))
    assert df.columns == ["姓名", "电话", "城市", *LINEAGE_COLS, RAW_LINE_COL]
    assert all(dtype == pl.String for dtype in df.dtypes)
    assert df["电话"].to_list() == ["13800138000", "0635"]
    assert df["城市"].to_list() == ["深圳", "聊城"]  # no stray "\r"
    assert df["_source"].to_list() == ["crm", "crm"]
    assert df["_source_key"].to_list() == ["2", "3"]
    assert df["_skip_reason"].null_count() == df["_error_code"].null_count() == 2


def test_simplified_gb18030_is_never_read_as_big5(tmp_path: Path) -> None:
    text = f"{HEADER}\n王秀英,13912345678,北京市朝阳区建国路\n陈国华,13512345678,广州市天河区\n"
    df = read(write(tmp_path, text.encode("gb18030")))
    assert df["姓名"].to_list() == ["王秀英", "陈国华"]
    assert df["城市"][0] == "北京市朝阳区建国路"


def test_big5_traditional_chinese(tmp_path: Path) -> None:
    text = "姓名,電話,地址\n陳大文,0912345678,臺北市信義區忠孝東路\n黃美玲,0635,高雄市\n"
    df = read(write(tmp_path, text.encode("big5")))
    assert df.columns[:3] == ["姓名", "電話", "地址"]
    assert df["姓名"].to_list() == ["陳大文", "黃美玲"]
    assert df["電話"].to_list() == ["0912345678", "0635"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be"])
def test_bom_encodings(tmp_path: Path, encoding: str) -> None:
    data = f"{HEADER}\r\n张伟,0635,深圳\r\n".encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    df = read(write(tmp_path, data))
    assert df.columns[0] == "姓名"  # no BOM glued to the first header
    assert df.row(0)[:3] == ("张伟", "0635", "深圳")


def test_semicolon_delimiter_is_sniffed(tmp_path: Path) -> None:
    df = read(write(tmp_path, b"name;phone;amount\nZhang;0635;1,5\nLi;010;2,0\n"))
    assert df.columns[:3] == ["name", "phone", "amount"]
    assert df["amount"].to_list() == ["1,5", "2,0"]


def test_explicit_delimiter_and_encoding(tmp_path: Path) -> None:
    path = write(tmp_path, "a|b\n1|2\n".encode("latin-1"))
    df = read(path, delimiter="|", encoding="latin-1")
    assert df.select("a", "b").row(0) == ("1", "2")


def test_quoted_newlines_keep_physical_line_numbers(tmp_path: Path) -> None:
    text = f'{HEADER}\r\n张伟,0635,"深圳\r\n南山区\r\n科技园"\r\n李娜,010,北京\r\n'
    df = read(write(tmp_path, text.encode()))
    assert df["_source_key"].to_list() == ["2", "5"]
    assert df["城市"][0] == "深圳\r\n南山区\r\n科技园"


def test_malformed_rows_are_yielded_with_detail_and_raw_line(tmp_path: Path) -> None:
    text = f"{HEADER}\n张伟,0635\n李娜,010,北京,多余\n王芳,020,广州\n"
    df = read(write(tmp_path, text.encode()))
    assert df["_error_code"].to_list() == ["malformed_row", "malformed_row", None]
    assert df["_error_detail"].to_list() == ["expected 3 fields, found 2", "expected 3 fields, found 4", None]
    assert df["_raw_line"].to_list() == ["张伟,0635", "李娜,010,北京,多余", None]
    assert df.select("姓名", "电话", "城市").rows()[:2] == [("张伟", "0635", None), ("李娜", "010", "北京")]
    assert df["_row_hash"][1] == hashlib.sha256("李娜,010,北京,多余".encode()).hexdigest()


def test_bad_encoding_line_is_flagged_not_fatal(tmp_path: Path) -> None:
    lines = [HEADER, *(f"客户{i},1380013800{i},深圳" for i in range(9))]
    data = "\r\n".join(lines).encode("gb18030") + b"\r\n"
    broken = data.replace("客户4".encode("gb18030"), b"\xff\xfe\x814")
    df = read(write(tmp_path, broken))
    bad = df.filter(pl.col("_error_code") == "bad_encoding")
    assert bad["_source_key"].to_list() == ["6"]
    assert "byte offset" in bad["_error_detail"][0] and "line 6" in bad["_error_detail"][0]
    assert "\ufffd" in bad["姓名"][0]
    assert df.filter(pl.col("_error_code").is_null())["姓名"].to_list()[:2] == ["客户0", "客户1"]


def test_undecodable_file_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n张,伟\n李,娜\n".encode("gb18030"))
    with pytest.raises(SourceError, match=r"in\.csv: the file does not decode as utf-8"):
        read(path, encoding="utf-8")


def test_empty_rows_and_repeated_header_are_skipped_not_dropped(tmp_path: Path) -> None:
    text = f"{HEADER}\n张伟,0635,深圳\n\n , ,\n{HEADER}\n李娜,010,北京\n"
    df = read(write(tmp_path, text.encode()))
    assert df["_source_key"].to_list() == ["2", "3-4", "5", "6"]  # a run of blank lines is one skipped row
    assert df["_skip_reason"].to_list() == [None, "empty_row", "repeated_header", None]
    assert df["_error_detail"][1] == "2 consecutive empty rows: 3-4"
    assert df["_error_code"].null_count() == 4


def test_headers_are_stripped_deduplicated_and_named(tmp_path: Path) -> None:
    df = read(write(tmp_path, b" name ,phone,,phone,_source\n1,2,3,4,5\n"))
    assert df.columns[:5] == ["name", "phone", "column_3", "phone_2", "_source_2"]


def test_header_row_skips_a_preamble(tmp_path: Path) -> None:
    text = 'Export of "customers\n2024-01-01\nname,phone\nZhang,0635\n'
    df = read(write(tmp_path, text.encode()), header_row=3)
    assert df.select("name", "phone", "_source_key").row(0) == ("Zhang", "0635", "4")


def test_row_hash_is_sha256_of_joined_values(tmp_path: Path) -> None:
    df = read(write(tmp_path, b"a,b,c\nx,,z\n"))
    assert df["_row_hash"][0] == hashlib.sha256(b"x\x1f\x1fz").hexdigest()


def test_missing_file_and_empty_file_raise_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.csv: file not found"):
        read(tmp_path / "nope.csv")
    with pytest.raises(SourceError, match="no header found"):
        read(write(tmp_path, b"\n\n"))


def test_batches_split_large_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connectors._csv.BATCH_ROWS", 2)
    path = write(tmp_path, b"a\n1\n2\n3\n")
    batches = list(get_connector("csv")(CsvParams(path=path), source="s"))
    assert [b.height for b in batches] == [2, 1]
    assert pl.concat(batches)["_source_key"].to_list() == ["2", "3", "4"]


def test_unterminated_quote_is_malformed_not_silently_swallowed(tmp_path: Path) -> None:
    df = read(write(tmp_path, b'a,b\n1,"open\n2,3\n4,5\n'))
    assert df["_source_key"].to_list() == ["2", "3", "4"]  # the lines after it are records again
    assert df["_error_code"].to_list() == ["malformed_row", None, None]
    assert df["_error_detail"][0] == (
        "unterminated quoted field on line 2: it runs to the end of the file; reading resumed at line 3"
    )
    assert df["_raw_line"][0] == '1,"open'


def test_unparseable_record_is_quarantined_and_reading_goes_on(tmp_path: Path) -> None:
    huge = b'"' + b"x" * 200_000 + b'"'
    df = read(write(tmp_path, b"a,b\n1," + huge + b"\n2,3\n"))
    assert df["_source_key"].to_list() == ["2", "3"]
    assert df["_error_code"].to_list() == ["malformed_row", None]
    assert df["_error_detail"][0].startswith("cannot parse the record: field larger than field limit")
    assert df.select("a", "b").row(1) == ("2", "3")
