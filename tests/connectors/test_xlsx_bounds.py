"""Spreadsheet connector: sheet sizes are checked before calamine allocates (#11 item 3); blank runs collapse."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from connectors import SourceError, XlsxParams, get_connector
from connectors.lineage import RAW_LINE_COL

ROOT = Path(__file__).resolve().parents[2]
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def read(path: Path, **params: object) -> pl.DataFrame:
    return pl.concat(list(get_connector("xlsx")(XlsxParams(path=path, **params), source="book")), how="diagonal")


def crafted(tmp_path: Path, sheet_data: str, *, dimension: str | None = None, prefix: str = "") -> Path:
    """A one-sheet workbook ("Data") written as zip XML, for what no spreadsheet program would write."""
    p = f"{prefix}:" if prefix else ""
    ns = f'xmlns{":" + prefix if prefix else ""}="{MAIN_NS}"'
    dim = f'<{p}dimension ref="{dimension}"/>' if dimension else ""
    sheet = f'<?xml version="1.0"?><{p}worksheet {ns}>{dim}<{p}sheetData>{sheet_data}</{p}sheetData></{p}worksheet>'
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0"?><Relationships xmlns="{PKG_NS}"><Relationship Id="rId1" '
            f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0"?><workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
            '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0"?><Relationships xmlns="{PKG_NS}"><Relationship Id="rId1" '
            f'Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": sheet,
    }
    path = tmp_path / "crafted.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return path


def table(rows: int, *, prefix: str = "") -> str:
    """``<row>`` elements of a 3-column table (header in row 1) with inline strings."""
    p = f"{prefix}:" if prefix else ""

    def cell(ref: str, text: str) -> str:
        return f'<{p}c r="{ref}" t="inlineStr"><{p}is><{p}t>{text}</{p}t></{p}is></{p}c>'

    out = [f'<{p}row r="1">{cell("A1", "name")}{cell("B1", "phone")}{cell("C1", "city")}</{p}row>']
    for r in range(2, rows + 1):
        out.append(f'<{p}row r="{r}">{cell(f"A{r}", f"n{r}")}{cell(f"B{r}", f"0{r}")}{cell(f"C{r}", "x")}</{p}row>')
    return "".join(out)


def openpyxl_table(tmp_path: Path, rows: int, far: dict[str, object]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "客户"
    ws.append(["姓名", "电话", "城市"])
    for i in range(rows):
        ws.append([f"客户{i}", f"138{i:08d}", "深圳"])
    for ref, value in far.items():
        ws[ref] = value
    path = tmp_path / "book.xlsx"
    wb.save(path)
    return path


def test_far_cells_no_longer_crash_the_process(tmp_path: Path) -> None:
    """Before the check, calamine asked for 550 GB (XFD1048576) or 39 PB (ZZZZZ99999999) and aborted."""
    real = openpyxl_table(tmp_path, 50, {"XFD1048576": "far away"})
    (tmp_path / "claimed").mkdir()
    claimed = crafted(tmp_path / "claimed", table(5) + '<row r="99999999"><c r="ZZZZZ99999999"><v>1</v></c></row>')
    script = textwrap.dedent(
        """
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # 3 GB of address space at most
        from pathlib import Path
        from connectors import SourceError, XlsxParams, get_connector
        for name in sys.argv[1:]:
            try:
                batches = list(get_connector("xlsx")(XlsxParams(path=Path(name)), source="s"))
                print("rows", sum(b.height for b in batches), max(b.width for b in batches))
            except SourceError as exc:
                print("SourceError", exc.problem)
        """
    )
    env = {**os.environ, "POLARS_MAX_THREADS": "2", "MALLOC_ARENA_MAX": "2"}  # address space not to scale with cores
    done = subprocess.run(
        [sys.executable, "-c", script, str(real), str(claimed)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    first, second = done.stdout.splitlines()
    assert first == "rows 51 10"  # 50 rows and the stray cell; 3 columns + 6 lineage + _raw_line
    assert second.startswith("SourceError sheet 'Data': the XML names row 99999999, past Excel's last row")


@pytest.mark.parametrize(
    ("sheet_data", "dimension", "named"),
    [
        (table(3) + '<row r="4"><c r="ZZZZZ4"><v>1</v></c></row>', None, "cell ZZZZZ4"),
        (table(3) + '<row r="4"><c r="XFE4"><v>1</v></c></row>', None, "cell XFE4"),
        (table(3) + '<row r="4"><c r="A1048577"><v>1</v></c></row>', None, "cell A1048577"),
        (table(3) + '<row r="4"><c r="XFD1" s="1"/></row><row r="1048577"/>', None, "row 1048577"),
        (table(3), "A1:ZZZZZ99999999", "cell ZZZZZ99999999"),
    ],
)
def test_a_reference_past_excel_limits_fails_the_source(
    tmp_path: Path, sheet_data: str, dimension: str | None, named: str
) -> None:
    path = crafted(tmp_path, sheet_data, dimension=dimension)
    with pytest.raises(SourceError, match=f"sheet 'Data': .*{named}, past Excel's last") as info:
        read(path)
    assert info.value.path == str(path)


def test_cells_without_references_are_counted_like_calamine_does(tmp_path: Path) -> None:
    cells = '<c t="inlineStr"><is><t>a</t></is></c><c t="inlineStr"><is><t>b</t></is></c>'
    data = (
        f"<row>{cells}</row><row><c><v>1</v></c><c><v>2</v></c></row>"
        '<row r="5"><c r="A5"><v>3</v></c><c><v>4</v></c></row>'
    )
    df = read(crafted(tmp_path, data))
    assert df["_source_key"].to_list() == ["Data!2", "Data!3-4", "Data!5"]
    assert df.select("a", "b").rows() == [("1", "2"), (None, None), ("3", "4")]
    too_many = "<row>" + "<c><v>1</v></c>" * 16_385 + "</row>"
    with pytest.raises(SourceError, match=r"cell in column 16385 of row 1 .*past Excel's last cell XFD1048576"):
        read(crafted(tmp_path, too_many))


def test_a_stray_cell_on_a_data_row_is_set_apart_not_read_as_16384_columns(tmp_path: Path) -> None:
    path = openpyxl_table(tmp_path, 20, {"XFD5": "备注"})
    df = read(path)
    assert df.columns[:3] == ["姓名", "电话", "城市"] and "column_4" not in df.columns
    assert df["_source_key"].to_list() == [*(f"客户!{r}" for r in range(2, 22)), "客户!XFD5"]
    assert df.filter(pl.col("_source_key") == "客户!5").select("姓名", "电话").row(0) == ("客户3", "13800000003")
    stray = df.row(-1, named=True)
    assert (stray["_error_code"], stray[RAW_LINE_COL], stray["姓名"]) == ("malformed_row", "备注", None)
    assert stray["_error_detail"].startswith("stray cell far outside the table A1:C21")
    assert df["_source_key"].is_unique().all()


def test_stray_values_keep_their_text(tmp_path: Path) -> None:
    row = (
        '<row r="7"><c r="ZZ7" t="inlineStr"><is><t>R&amp;D</t></is></c>'
        '<c r="XFA7"><v>45000</v></c><c r="XFB7" t="b"><v>1</v></c><c r="XFC7"><f>1+1</f></c></row>'
    )
    df = read(crafted(tmp_path, table(5) + row))
    strays = df.filter(pl.col("_error_code") == "malformed_row")
    assert strays["_source_key"].to_list() == ["Data!ZZ7", "Data!XFA7", "Data!XFB7", "Data!XFC7"]
    assert strays[RAW_LINE_COL].to_list()[:3] == ["R&D", "45000", "true"]  # a date would be its serial number
    assert strays[RAW_LINE_COL][3] == '<c r="XFC7"><f>1+1</f></c>'  # no value: the cell's XML is kept
    assert df.filter(pl.col("_error_code").is_null()).height == 4


def test_prefixed_xml_is_checked_too(tmp_path: Path) -> None:
    far = '<x:row r="9"><x:c r="XFD9" t="inlineStr"><x:is><x:t>far</x:t></x:is></x:c></x:row>'
    df = read(crafted(tmp_path, table(4, prefix="x") + far, prefix="x"))
    assert df["_source_key"].to_list() == ["Data!2", "Data!3", "Data!4", "Data!XFD9"]  # row 9 held only it
    assert df[RAW_LINE_COL][-1] == "far"


def test_near_values_stay_columns_and_many_far_values_are_a_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    near = openpyxl_table(tmp_path, 5, {"J3": "near"})  # 6 empty columns away: a column of the table
    df = read(near)
    assert df.filter(pl.col("_source_key") == "客户!3")["column_10"].to_list() == ["near"]
    assert df["_error_code"].null_count() == df.height
    monkeypatch.setattr("connectors._xlsx.MAX_STRAY_CELLS", 2)
    far = openpyxl_table(tmp_path, 5, {"CV2": "a", "CV3": "b", "CV4": "c"})  # 3 values 96 columns away
    df = read(far)
    assert df["column_100"].drop_nulls().to_list() == ["a", "b", "c"]


def test_far_rows_are_stray_only_when_the_sheet_is_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = crafted(tmp_path, table(10) + '<row r="5000"><c r="A5000"><v>7</v></c></row>')
    df = read(path)  # small enough: row 5000 is a row, the blank rows above it one skipped row
    assert df["_source_key"].to_list()[-2:] == ["Data!11-4999", "Data!5000"]
    monkeypatch.setattr("connectors._xlsx.CELL_BUDGET", 100)
    df = read(path)
    assert df["_source_key"].to_list()[-2:] == ["Data!10", "Data!A5000"]
    assert df[RAW_LINE_COL][-1] == "7"


def test_a_sheet_too_large_even_without_strays_fails_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors._xlsx.MAX_CELLS", 20)
    with pytest.raises(SourceError, match=r"sheet 'Data': its cells span A1:C10 \(30 cells.*over the limit"):
        read(crafted(tmp_path, table(10)))


def test_stray_cells_with_a_key_column(tmp_path: Path) -> None:
    df = read(openpyxl_table(tmp_path, 3, {"XFD2": "far"}), key="电话")
    assert df["_source_key"].to_list() == ["13800000000", "13800000001", "13800000002", "row:客户!XFD2"]


def test_blank_runs_in_a_sheet_are_one_skipped_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connectors._xlsx.BATCH_ROWS", 7)  # runs cross batch boundaries
    path = openpyxl_table(tmp_path, 3, {"A30": "张伟", "B30": "0635", "A31": "李娜", "A40": None})
    df = read(path)
    assert df["_source_key"].to_list() == ["客户!2", "客户!3", "客户!4", "客户!5-29", "客户!30", "客户!31"]
    assert df["_skip_reason"].to_list() == [None, None, None, "empty_row", None, None]
    assert df["_error_detail"][3] == "25 consecutive empty rows: 客户!5-29"
