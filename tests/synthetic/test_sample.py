"""Deterministic, messy in the promised ways, with truth matching what connectors read."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter, defaultdict
from pathlib import Path

import openpyxl
import pytest
import yaml
from openpyxl.cell.cell import MergedCell

from crm_store.schema import CANONICAL_FIELDS
from synthetic.sample import SampleManifest, generate_sample, render_config

REPO = Path(__file__).resolve().parents[2]
FILES = ("sales.xlsx", "legacy_crm.csv", "signups.jsonl", "truth.csv", "truth_entities.csv", "crmkit.yaml")
KNOWN_NAME_HEADERS = {"客户姓名", "姓名", "联系人", "客户", "Name"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleManifest:
    return generate_sample(400, tmp_path_factory.mktemp("sample"), seed=7)


def _truth(manifest: SampleManifest) -> list[dict[str, str]]:
    with manifest.files["truth"].open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _entities(manifest: SampleManifest) -> list[dict[str, str]]:
    with manifest.files["truth_entities"].open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _xlsx_cells(ws: openpyxl.worksheet.worksheet.Worksheet) -> list[openpyxl.cell.Cell]:
    return [c for row in ws.iter_rows() for c in row]


# ------------------------------------------------------------------------------------------ determinism
def test_same_seed_gives_same_files(sample: SampleManifest, tmp_path: Path) -> None:
    again = generate_sample(400, tmp_path / "again", seed=7)
    for name in FILES:
        assert (again.out_dir / name).read_bytes() == (sample.out_dir / name).read_bytes(), name
    assert again.rows == sample.rows and again.row_kinds == sample.row_kinds


def test_other_seed_gives_other_data(sample: SampleManifest, tmp_path: Path) -> None:
    other = generate_sample(400, tmp_path / "other", seed=8)
    assert (other.out_dir / "signups.jsonl").read_bytes() != (sample.out_dir / "signups.jsonl").read_bytes()


def test_tiny_and_invalid_sizes(tmp_path: Path) -> None:
    tiny = generate_sample(3, tmp_path / "tiny", seed=1)
    assert tiny.entities == 3 and tiny.records >= 3
    with pytest.raises(ValueError, match="at least 1"):
        generate_sample(0, tmp_path / "none")


# ------------------------------------------------------------------------------------------ truth vs files
def test_manifest_counts_match_truth(sample: SampleManifest) -> None:
    truth = _truth(sample)
    assert Counter(t["source"] for t in truth) == sample.rows
    assert {t["row_kind"] for t in truth} <= {"record", "spam", "malformed", "empty", "total"}
    for t in truth:
        assert bool(t["entity_id"]) == (t["row_kind"] == "record"), t


def test_jsonl_lines_match_truth(sample: SampleManifest) -> None:
    lines = sample.files["web_signups"].read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""  # the file ends with a newline
    lines = lines[:-1]
    truth = [t for t in _truth(sample) if t["source"] == "web_signups"]
    assert [t["source_key"] for t in truth] == [str(i) for i in range(1, len(lines) + 1)]
    kinds = Counter(t["row_kind"] for t in truth)
    assert kinds["malformed"] == 1 and kinds["empty"] == 1 and kinds["spam"] >= 3
    for line, t in zip(lines, truth, strict=True):
        if t["row_kind"] == "empty":
            assert line == ""
        elif t["row_kind"] == "malformed":
            with pytest.raises(json.JSONDecodeError):
                json.loads(line)
        else:
            obj = json.loads(line)
            assert obj["name"] and ("mobile" in obj or obj.get("email"))
            assert dt.datetime.fromisoformat(obj["signup_at"]).tzinfo is not None
    spam = [json.loads(line) for line, t in zip(lines, truth, strict=True) if t["row_kind"] == "spam"]
    assert any(s["email"] == "test@test.com" or s["mobile"] == "11111111111" for s in spam) or len(spam) >= 3
    records = [(line, t["entity_id"]) for line, t in zip(lines, truth, strict=True) if t["row_kind"] == "record"]
    repeats = [line for line, n in Counter(line for line, _ in records).items() if n > 1]
    assert repeats, "someone should have pressed submit twice"


def test_csv_is_gb18030_crlf_and_keys_are_physical_lines(sample: SampleManifest) -> None:
    raw = sample.files["legacy_crm"].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("gb18030")
    assert text.startswith("KHBH,KHMC,LXR,SJHM,GDDH,DZYX,DZ,SR,XB,ZT,GXSJ,BZ\r\n")
    assert text.endswith("\r\n")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    starts, widths, multiline, commas = [], [], 0, 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        starts.append(str(start))
        widths.append(len(row))
        multiline += any("\n" in v for v in row)
        commas += any("," in v for v in row)
    truth = [t for t in _truth(sample) if t["source"] == "legacy_crm"]
    assert [t["source_key"] for t in truth] == starts
    assert multiline > 0, "quoted line breaks make physical lines differ from records"
    malformed = [i for i, t in enumerate(truth) if t["row_kind"] == "malformed"]
    assert malformed == [i for i, w in enumerate(widths) if w != len(header)]
    assert len(malformed) == 1
    assert commas > 0, "fields with commas are quoted"
    assert any(ch in text for ch in "張偉劉陳楊黃趙吳鄭無麗傑軍"), "traditional characters in some names"


def test_xlsx_rows_match_truth_and_are_messy(sample: SampleManifest) -> None:
    wb = openpyxl.load_workbook(sample.files["sales_workbook"])
    assert 3 <= len(wb.sheetnames) <= 6 and "Tom" in wb.sheetnames
    assert tuple(wb.sheetnames) == sample.sheets
    truth = defaultdict(list)
    for t in _truth(sample):
        if t["source"] == "sales_workbook":
            sheet, row = t["source_key"].rsplit("!", 1)
            truth[sheet].append((int(row), t["row_kind"]))
    title_sheets = 0
    headers_seen = set()
    for ws in wb.worksheets:
        header_row = next(
            r
            for r in range(1, 4)
            if ws.cell(r, 1).value in KNOWN_NAME_HEADERS
            or any(ws.cell(r, c).value in KNOWN_NAME_HEADERS for c in range(1, 4))
        )
        headers_seen.add(tuple(c.value for c in ws[header_row]))
        if header_row > 1:
            title_sheets += 1
            assert ws.merged_cells.ranges, "title rows are merged across the sheet"
        assert [r for r, _ in truth[ws.title]] == list(range(header_row + 1, ws.max_row + 1))
        for r, kind in truth[ws.title]:
            values = [c.value for c in ws[r]]
            if kind == "empty":
                assert all(v is None for v in values)
            elif kind == "total":
                assert values[0] in ("合计", "Total")
            else:
                assert any(v is not None for v in values)
    assert title_sheets >= 2
    assert len(headers_seen) == len(wb.worksheets), "every salesperson names the columns differently"
    english = [c.value for c in wb["Tom"][1]]
    assert "Name" in english and "Email" in english
    cells = [c for ws in wb.worksheets for c in _xlsx_cells(ws) if not isinstance(c, MergedCell)]
    assert any(type(c.value) is int and 10**10 < c.value < 2 * 10**10 for c in cells), "phones as numbers"
    assert any(isinstance(c.value, int | float) and "E+" in c.number_format for c in cells), "shown as 1.38E+10"
    assert any(c.is_date for c in cells), "Excel date serials"
    assert any(isinstance(c.value, str) and "１" in c.value for c in cells), "full-width digits"
    assert any(
        isinstance(c.value, str) and "年" in c.value and "月" in c.value and len(c.value) <= 11 for c in cells
    ), "text dates like 1985年3月5日"


# ------------------------------------------------------------------------------------------ population
def test_population_is_70_30_with_about_1_6_records_each(sample: SampleManifest) -> None:
    entities = _entities(sample)
    assert len(entities) == 400 == sample.entities
    cn = sum(e["culture"] == "cn" for e in entities)
    assert cn == sample.chinese_entities and 0.65 <= cn / len(entities) <= 0.75
    records = [t for t in _truth(sample) if t["row_kind"] == "record"]
    per_entity = Counter(t["entity_id"] for t in records)
    assert set(per_entity) == {e["entity_id"] for e in entities}  # everybody appears somewhere
    assert all(per_entity[e["entity_id"]] == int(e["records"]) for e in entities)
    assert 1.4 <= len(records) / len(entities) <= 1.85


def test_duplicates_across_sources(sample: SampleManifest) -> None:
    sources = defaultdict(set)
    for t in _truth(sample):
        if t["row_kind"] == "record":
            sources[t["entity_id"]].add(t["source"])
    multi = [e for e, s in sources.items() if len(s) >= 2]
    assert len(multi) >= 0.1 * len(sources)
    assert any(len(s) == 3 for s in sources.values())


def test_hard_negatives_exist(sample: SampleManifest) -> None:
    groups = defaultdict(list)
    for e in _entities(sample):
        if e["hard_negative_group"]:
            groups[e["hard_negative_group"]].append(e)
    assert groups and all(len(g) >= 2 for g in groups.values())
    same_name = [g for g in groups.values() if g[0]["hard_negative_reason"] == "same_name"]
    assert same_name and all(len({e["canonical_name"] for e in g}) == 1 for g in same_name)
    father_son = [g for g in groups.values() if g[0]["hard_negative_reason"] == "father_son"]
    assert father_son
    for g in father_son:
        assert len({e["canonical_name"] for e in g}) == 1 and len({e["birth_date"] for e in g}) == 2
        assert len({e["household_id"] for e in g}) == 1
    assert any(g[0]["hard_negative_reason"] == "household" for g in groups.values()) or father_son


# ------------------------------------------------------------------------------------------ config
def _check_config(path: Path) -> dict:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(config) == {"project", "store", "reports_dir", "defaults", "sources", "rules", "match"}
    assert [s["name"] for s in config["sources"]] == ["sales_workbook", "legacy_crm", "web_signups"]
    for source in config["sources"]:
        assert (path.parent / source["params"]["path"]).is_file()
        assert set(source["mapping"].values()) <= set(CANONICAL_FIELDS)
    return config


def test_config_maps_every_column(sample: SampleManifest) -> None:
    config = _check_config(sample.files["config"])
    mappings = {s["name"]: s["mapping"] for s in config["sources"]}
    wb = openpyxl.load_workbook(sample.files["sales_workbook"], read_only=True)
    for ws in wb.worksheets:
        for row in ws.iter_rows(max_row=3, values_only=True):
            if KNOWN_NAME_HEADERS & set(row):
                unmapped = {h for h in row if h and h not in mappings["sales_workbook"]}
                assert unmapped <= {"序号", "编号"}, (ws.title, unmapped)
    wb.close()
    assert (mappings["legacy_crm"]["SJHM"], mappings["legacy_crm"]["GDDH"]) == ("phone", "landline")
    assert "KHBH" not in mappings["legacy_crm"]
    assert mappings["web_signups"]["signup_at"] == "updated_at"


def test_bundled_demo_is_current_and_small(tmp_path: Path) -> None:
    demo = REPO / "samples" / "demo"
    fresh = generate_sample(150, tmp_path / "demo", seed=42)
    for name in ("legacy_crm.csv", "signups.jsonl", "truth.csv", "truth_entities.csv", "crmkit.yaml"):
        assert (demo / name).read_bytes() == (fresh.out_dir / name).read_bytes(), f"regenerate: {name}"
    wb_demo = openpyxl.load_workbook(demo / "sales.xlsx")
    wb_fresh = openpyxl.load_workbook(fresh.files["sales_workbook"])
    assert [[c.value for c in r] for ws in wb_demo for r in ws.iter_rows()] == [
        [c.value for c in r] for ws in wb_fresh for r in ws.iter_rows()
    ]
    assert sum(p.stat().st_size for p in demo.iterdir()) < 200_000
    demo_yaml = REPO / "config" / "demo.yaml"
    assert demo_yaml.read_text(encoding="utf-8") == render_config(
        "demo", "../samples/demo/", "sqlite:///../out/demo/crm.db", "../out/demo/reports"
    )
    _check_config(demo_yaml)
