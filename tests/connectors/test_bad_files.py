"""What the fuzz suite (tests/fuzz) found in the file connectors, one minimal reproducer each (#11).

Each of these stopped the whole run or killed the process before its fix; now the file either yields its rows or
fails its own source with a message naming the file.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import polars as pl
import pytest

from connectors import SourceError, get_connector, params_model

ROOT = Path(__file__).resolve().parents[2]
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def read(kind: str, path: Path, **params: object) -> pl.DataFrame:
    model = params_model(kind).model_validate({"path": path, **params})
    return pl.concat(list(get_connector(kind)(model, source="s")), how="diagonal_relaxed")


@pytest.mark.parametrize(
    ("text", "records"),
    [
        ("[null]", 1),
        ("[[1, 2], [3]]", 2),
        ("[1, 2, 3]", 3),
        ("[" * 100 + "]" * 100, 1),  # an array of one array of arrays
        ('[{"note": ' + '{"a":' * 350 + "1" + "}" * 350 + "}]", 1),  # too deep to turn into text
    ],
)
def test_a_json_array_without_any_object_is_rows_not_a_crash(tmp_path: Path, text: str, records: int) -> None:
    """Was ``ValueError: zip() argument 2 is longer than argument 1``: the whole run stopped at extract."""
    path = tmp_path / "a.json"
    path.write_text(text, "utf-8")
    df = read("json", path)
    assert df.height == records
    assert df["_error_code"].to_list() == ["malformed_row"] * records
    assert df["_source_key"].to_list() == [str(i) for i in range(1, records + 1)]


@pytest.mark.parametrize("kind", ["csv", "json", "jsonl"])
@pytest.mark.parametrize(
    ("encoding", "problem"),
    [
        ("base64", "'base64' is not a text encoding; set `encoding` to the file's text encoding"),
        ("rot13", "'rot13' is not a text encoding"),
        ("undefined", "cannot decode the file as 'undefined'"),
        ("punycode", "(cannot decode the file as|not valid) '?punycode"),
        ("no-such-codec", "unknown encoding 'no-such-codec'"),
    ],
)
def test_a_codec_that_is_not_a_text_encoding_fails_the_source(
    tmp_path: Path, kind: str, encoding: str, problem: str
) -> None:
    """Was ``LookupError: 'base64' is not a text encoding`` (or ``UnicodeError``) out of extract: the run stopped."""
    path = tmp_path / f"a.{kind}"
    path.write_bytes(b'{"name": "x"}\n' if kind == "jsonl" else b'[{"name": "\xff"}]' if kind == "json" else b"a\n\xff")
    with pytest.raises(SourceError) as info:
        read(kind, path, encoding=encoding)
    assert str(info.value).startswith(f"{path}: ") and re.search(problem, info.value.problem)


def workbook(sheet_rows: str, *, shared: str | None = None) -> bytes:
    """A one-sheet workbook ("Data") as zip XML, optionally with a shared-strings part."""
    sheet = f'<?xml version="1.0"?><worksheet xmlns="{MAIN_NS}"><sheetData>{sheet_rows}</sheetData></worksheet>'
    rels = f'<Relationship Id="rId1" Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
    if shared is not None:
        rels += f'<Relationship Id="rId2" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0"?><Relationships xmlns="{PKG_NS}"><Relationship Id="rId1" '
            f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0"?><workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
            '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0"?><Relationships xmlns="{PKG_NS}">{rels}</Relationships>',
        "xl/worksheets/sheet1.xml": sheet,
    }
    if shared is not None:
        parts["xl/sharedStrings.xml"] = shared
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return buffer.getvalue()


def shared_cells(rows: int) -> str:
    return "".join(
        f'<row r="{r}"><c r="A{r}" t="s"><v>{r - 1}</v></c><c r="B{r}"><v>{r}</v></c></row>' for r in range(1, rows + 1)
    )


def sst(strings: list[str], unique_count: str) -> str:
    items = "".join(f"<si><t>{s}</t></si>" for s in strings)
    return (
        f'<?xml version="1.0"?><sst xmlns="{MAIN_NS}" count="{len(strings)}" uniqueCount="{unique_count}">{items}</sst>'
    )


def in_a_capped_child(*paths: Path, memory_gb: float = 1.5) -> list[str]:
    """Read each workbook in a child process whose address space is capped: what each gave, one line per file."""
    script = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({int(memory_gb * 2**30)}, {int(memory_gb * 2**30)}))
        from pathlib import Path
        from connectors import SourceError, XlsxParams, get_connector
        for name in sys.argv[1:]:
            try:
                batches = list(get_connector("xlsx")(XlsxParams(path=Path(name)), source="s"))
                print("rows", sum(b.height for b in batches))
            except SourceError as exc:
                print("SourceError", exc.problem)
        """
    )
    env = {**os.environ, "POLARS_MAX_THREADS": "2", "MALLOC_ARENA_MAX": "2"}  # address space not to scale with cores
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, paths)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def test_a_false_shared_string_count_no_longer_aborts_the_process(tmp_path: Path) -> None:
    """calamine reserves ``uniqueCount`` strings before reading one: 2,147,483,647 asked for 51 GB and aborted
    (SIGABRT, no message, the run left behind). Now the false claim is dropped and the sheet is read."""
    strings = ["name", "张伟", "李娜"]
    paths = []
    for claim in ("2147483647", "18446744073709551615", "x", "3"):
        path = tmp_path / f"claim_{claim}.xlsx"
        path.write_bytes(workbook(shared_cells(3), shared=sst(strings, claim)))
        paths.append(path)
    assert in_a_capped_child(*paths) == ["rows 2"] * 4
    df = read("xlsx", paths[0])
    assert df["name"].to_list() == ["张伟", "李娜"]


def test_values_scattered_over_a_million_rows_fail_the_source_instead_of_costing_gigabytes(tmp_path: Path) -> None:
    """A 60 KB sheet with a value every 999 rows in 48 columns made calamine allocate 1.6 GB (49.9 million cells):
    no row gap was wide enough to set cells apart. Now a large range that is almost all empty fails its source."""
    rows = "".join(
        f'<row r="{r}"><c r="{chr(65 + (r // 999) % 26)}{r}"><v>1</v></c><c r="AV{r}"><v>2</v></c></row>'
        for r in range(999, 1_040_000, 999)
    )
    path = tmp_path / "scattered.xlsx"
    path.write_bytes(workbook('<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>' + rows))
    (line,) = in_a_capped_child(path)
    assert re.match(r"SourceError sheet 'Data': its cells span A1:AV1039959 \(49,918,032 cells, about 1.6 GB", line)
    assert "for only 2,083 values scattered over it, fewer than one in 64: delete the far-away cells" in line


def test_calamine_errors_that_are_only_a_name_are_said_in_words(tmp_path: Path) -> None:
    path = tmp_path / "cut.xlsx"
    data = workbook('<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row><row r="2">')
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(b"</sheetData>", b"</sheetdata>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, part in parts.items():
            zf.writestr(name, part)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(SourceError) as info:
        read("xlsx", path)
    assert info.value.problem.startswith("cannot read the sheet: the XML breaks off or is malformed inside <")


def test_header_row_skips_an_empty_sheet_instead_of_failing_the_workbook(tmp_path: Path) -> None:
    """With ``header_row`` set, an empty second sheet failed the source ("row Empty!3: the header row is empty")
    and the first sheet's rows were lost; without it the empty sheet was skipped."""
    rows = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"><v>{r}</v></c></row>' for r in range(1, 6))
    data = workbook(rows)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(
        b"</sheets>", b'<sheet name="Empty" sheetId="2" r:id="rId9"/></sheets>'
    )
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        f'<Relationship Id="rId9" Type="{REL_NS}/worksheet" Target="worksheets/sheet2.xml"/></Relationships>'.encode(),
    )
    parts["xl/worksheets/sheet2.xml"] = f'<worksheet xmlns="{MAIN_NS}"><sheetData/></worksheet>'.encode()
    path = tmp_path / "two.xlsx"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, part in parts.items():
            zf.writestr(name, part)
    path.write_bytes(buffer.getvalue())
    assert read("xlsx", path, header_row=2)["_source_key"].to_list() == ["Data!3", "Data!4", "Data!5"]
    with pytest.raises(SourceError, match="row Empty!2: the header row is empty"):
        read("xlsx", path, header_row=2, sheets=["Data", "Empty"])  # asked for by name: an empty one is an error


def test_a_sheet_listed_twice_is_a_settings_error_not_duplicate_rows() -> None:
    with pytest.raises(ValueError, match="sheets names 'Data' twice"):
        params_model("xlsx").model_validate({"path": "x.xlsx", "sheets": ["Data", "Data"]})
