"""``crmkit export`` and ``crmkit trace``: every export kind round-trips in every format, spreadsheet cells are
formula-safe, and a golden record traces to every source row and field origin behind it."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from openpyxl import load_workbook
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import crm_store
from pipelines.cli import app
from pipelines.export import safe_cell, write_table
from pipelines.migrate import run_steps
from pipelines.settings import load_settings
from rules.mask import mask_email, mask_name, mask_phone

from .conftest import retarget

runner = CliRunner()

#: A source whose keys and values a spreadsheet would run as formulas.
INJECTION = [
    ["id", "name", "mobile", "email", "company", "note", "=x"],
    ['=HYPERLINK("http://evil.example","click")', "王芳", "13800138000", "wf@example.com", "Acme", "-2+3", "a"],
    ["+SUM(1)", "李雷", "13900139000", "ll@example.com", "@SUM(A1)", "+1 555", "b"],
    ["@cmd", "=1+1", "13700137000", "x@example.com", "Acme", "\tTab", "c"],
    ["-2+3", "韩梅梅", "13600136000", "hmm@example.com", "-Acme Ltd", "=A1", "d"],
]
FORMATS = ("csv", "xlsx", "json", "jsonl")
KINDS = ("customers", "quarantine", "provenance", "crosswalk")


@pytest.fixture(scope="module")
def project(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated store for the whole module: the shared sample plus a source full of formulas."""
    out = tmp_path_factory.mktemp("export")
    with (out / "inject.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(INJECTION)
    config = retarget(sample_dir / "crmkit.yaml", out)
    data = yaml.safe_load(config.read_text("utf-8"))
    mapping = {"name": "full_name", "mobile": "phone", "email": "email", "company": "company", "note": "notes"}
    params = {"path": str(out / "inject.csv"), "key": ["id"]}
    data["sources"].append({"name": "inject", "kind": "csv", "params": params, "mapping": mapping})
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    assert run_steps(load_settings(config), "run-export", False).status == "succeeded"
    return config


@pytest.fixture(scope="module")
def session(project: Path) -> Iterator[Session]:
    engine = crm_store.open_store(load_settings(project).store_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def export(project: Path, kind: str, out: Path, *args: str) -> None:
    result = runner.invoke(app, ["export", kind, "--config", str(project), "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    assert out.exists()


# ----------------------------------------------------------------------------------------- what the store holds


def store_rows(session: Session, kind: str) -> list[dict[str, Any]]:
    """The rows an export of ``kind`` must hold, straight from the store's readers (quarantine: with the raw
    payload as a dict under ``_payload``)."""
    if kind == "customers":
        return crm_store.read_customers(session).to_dicts()
    if kind == "provenance":
        return crm_store.read_provenance(session).to_dicts()
    if kind == "crosswalk":
        return crm_store.read_outcomes(session).to_dicts()
    quarantine = crm_store.read_quarantine(session)
    raw = crm_store.read_source_records(session, quarantine["source"].unique().to_list())
    payloads = {(r["source"], r["source_key"]): json.loads(r["payload"]) for r in raw.iter_rows(named=True)}
    return [{**r, "_payload": payloads[(r["source"], r["source_key"])]} for r in quarantine.iter_rows(named=True)]


def spreadsheet_value(value: Any, fmt: str) -> Any:
    """What a CSV or XLSX cell holds for a store value (CSV: text; ``None`` and ``""`` both read back as None)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return safe_cell(";".join(value))
    if isinstance(value, bool | int | float):
        return str(value) if fmt == "csv" else value
    return safe_cell(value)


def json_value(name: str, value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if name in ("attributes", "details") and isinstance(value, str):
        return json.loads(value)
    return value


def read_back(path: Path, fmt: str) -> list[dict[str, Any]]:
    if fmt == "csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return [{k: v or None for k, v in row.items()} for row in csv.DictReader(handle)]
    if fmt == "xlsx":
        book = load_workbook(path, read_only=True)
        try:
            header, *rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
        finally:
            book.close()
        rows = [row + [None] * (len(header) - len(row)) for row in rows]  # read-only mode drops trailing blanks
        return [{h: (None if v == "" else v) for h, v in zip(header, row, strict=True)} for row in rows]
    if fmt == "json":
        return json.loads(path.read_text("utf-8"))
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def expected(row: dict[str, Any], fmt: str) -> dict[str, Any]:
    payload = row.pop("_payload", {})
    if fmt in ("json", "jsonl"):
        out = {k: json_value(k, v) for k, v in row.items()}
        return out | {k: v for k, v in payload.items()}
    out = {k: spreadsheet_value(v, fmt) for k, v in row.items()}
    return out | {safe_cell(k): spreadsheet_value(v, fmt) for k, v in payload.items()}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_export_round_trips_to_the_store_rows(
    project: Path, session: Session, tmp_path: Path, kind: str, fmt: str
) -> None:
    out = tmp_path / f"{kind}.{fmt}"
    export(project, kind, out)
    written = read_back(out, fmt)
    rows = store_rows(session, kind)
    assert rows and len(written) == len(rows)
    for got, row in zip(written, rows, strict=True):
        want = expected(dict(row), fmt)
        if kind == "quarantine":
            assert got.pop("messages")  # the details in words
            empty = {k: v for k, v in got.items() if k not in want}
            assert not any(empty.values()), empty  # other sources' raw columns are blank for this row
            got = {k: v for k, v in got.items() if k in want}
        assert got == want
    header = [c for c in written[0] if c != "messages"]
    fixed = [safe_cell(c) if fmt in ("csv", "xlsx") else c for c in rows[0] if c != "_payload"]
    assert header[: len(fixed)] == fixed


def test_the_format_comes_from_the_suffix_or_format(project: Path, tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["export", "customers", "--config", str(project), "--out", str(tmp_path / "c.txt")])
    assert unknown.exit_code == 2
    assert "cannot tell the format of c.txt" in " ".join(unknown.output.split())
    assert not (tmp_path / "c.txt").exists()
    export(project, "customers", tmp_path / "c.txt", "--format", "csv")
    assert (tmp_path / "c.txt").read_text("utf-8").startswith("customer_id,")
    args = ["export", "customers", "--config", str(project), "--out", str(tmp_path / "c.csv"), "--format", "xls"]
    bad = runner.invoke(app, args)
    assert bad.exit_code == 2 and "unknown format 'xls'" in bad.output


def test_the_crosswalk_keeps_its_columns_and_quarantine_its_reasons(project: Path, tmp_path: Path) -> None:
    export(project, "crosswalk", tmp_path / "x.csv")
    rows = read_back(tmp_path / "x.csv", "csv")
    assert list(rows[0]) == ["source", "source_key", "status", "customer_id", "reason"]
    export(project, "quarantine", tmp_path / "q.json")
    quarantined = {r["source_key"]: r for r in read_back(tmp_path / "q.json", "json") if r["source"] == "inject"}
    # the raw row is there, as the source had it (JSON is not a spreadsheet: nothing is escaped)
    assert quarantined["@cmd"]["name"] == "=1+1" and quarantined["@cmd"]["=x"] == "c"
    assert "not_a_name" in quarantined["@cmd"]["reasons"]
    assert all(isinstance(d, dict) and d["code"] for d in quarantined["@cmd"]["details"])


# ------------------------------------------------------------------------------------------------ formula safety


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(1)", "'+SUM(1)"),
        ("-2+3", "'-2+3"),
        ("-", "'-"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("'=x", "'=x"),
        ("", ""),
        (None, None),
        (-2, -2),
        (-2.5, -2.5),
    ],
)
def test_safe_cell_escapes_text_that_starts_a_formula(value: Any, safe: Any) -> None:
    assert safe_cell(value) == safe


DANGEROUS = ('=HYPERLINK("http://evil.example","click")', "+SUM(1)", "@cmd", "-2+3")


def test_csv_exports_escape_formulas_in_keys_values_and_headers(project: Path, tmp_path: Path) -> None:
    export(project, "crosswalk", tmp_path / "x.csv")
    with (tmp_path / "x.csv").open(encoding="utf-8", newline="") as handle:
        keys = {row[1] for row in csv.reader(handle) if row[0] == "inject"}
    assert keys == {"'" + key for key in DANGEROUS}
    export(project, "customers", tmp_path / "c.csv")
    companies = {row["company"] for row in read_back(tmp_path / "c.csv", "csv")}
    assert {"'@SUM(A1)", "'-Acme Ltd"} <= companies and "@SUM(A1)" not in companies
    phones = {row["primary_phone"] for row in read_back(tmp_path / "c.csv", "csv") if row["primary_phone"]}
    assert phones and all(p.startswith("'+") for p in phones)  # text, never a number or a formula
    export(project, "quarantine", tmp_path / "q.csv")
    text = (tmp_path / "q.csv").read_text("utf-8")
    header = text.splitlines()[0].split(",")
    assert "'=x" in header and "=x" not in header
    quarantined = {r["source_key"]: r for r in read_back(tmp_path / "q.csv", "csv")}
    assert quarantined["'@cmd"]["name"] == "'=1+1" and quarantined["'@cmd"]["note"] == "'\tTab"
    export(project, "provenance", tmp_path / "p.csv")
    origins = {(r["source_key"], r["field"]): r["value"] for r in read_back(tmp_path / "p.csv", "csv")}
    assert origins[("'+SUM(1)", "company")] == "'@SUM(A1)"


def test_xlsx_exports_hold_escaped_text_never_formulas(project: Path, tmp_path: Path) -> None:
    for kind in KINDS:
        out = tmp_path / f"{kind}.xlsx"
        export(project, kind, out)
        sheet = load_workbook(out).worksheets[0]
        cells = [cell for row in sheet.iter_rows() for cell in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"], kind
        for cell in cells:
            if isinstance(cell.value, str) and cell.value[:1] in ("=", "+", "-", "@", "\t", "\r"):
                raise AssertionError(f"{kind} {cell.coordinate}: unescaped {cell.value!r}")
    crosswalk = load_workbook(tmp_path / "crosswalk.xlsx").worksheets[0]
    keys = {row[1].value: row[1] for row in crosswalk.iter_rows(min_row=2) if row[0].value == "inject"}
    assert set(keys) == {"'" + key for key in DANGEROUS}
    assert all(cell.data_type == "s" for cell in keys.values())
    customers = load_workbook(tmp_path / "customers.xlsx").worksheets[0]
    header = [c.value for c in next(customers.iter_rows(max_row=1))]
    version = header.index("version")
    assert all(row[version].data_type == "n" for row in customers.iter_rows(min_row=2))  # numbers stay numbers
    frame = pl.read_excel(tmp_path / "customers.xlsx")  # another reader agrees
    assert {"'@SUM(A1)", "'-Acme Ltd"} <= set(frame["company"].drop_nulls().to_list())


def test_write_table_fits_cells_into_xlsx_and_json(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {"text": ["x" * 40_000, "bell\x07", "-"], "n": [-1, 2, 3], "f": [float("nan"), -0.5, None]},
        schema={"text": pl.String, "n": pl.Int64, "f": pl.Float64},
    )
    written = write_table(frame, tmp_path / "t.xlsx", "xlsx")
    assert (written.rows, written.truncated_cells, written.replaced_cells) == (3, 1, 1)
    sheet = load_workbook(tmp_path / "t.xlsx").worksheets[0]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert len(values[0][0]) == 32_767 and values[1][0] == "bell\N{REPLACEMENT CHARACTER}" and values[2][0] == "'-"
    assert [v[1] for v in values] == [-1, 2, 3]
    write_table(frame, tmp_path / "t.json", "json")
    records = json.loads((tmp_path / "t.json").read_text("utf-8"))
    assert [r["f"] for r in records] == [None, -0.5, None] and records[2]["text"] == "-"
    assert not list(tmp_path.glob(".*partial"))


def test_masked_exports_hide_personal_values(project: Path, session: Session, tmp_path: Path) -> None:
    export(project, "customers", tmp_path / "c.json", "--masked")
    stored = {r["customer_id"]: r for r in crm_store.read_customers(session).iter_rows(named=True)}
    for row in read_back(tmp_path / "c.json", "json"):
        raw = stored[row["customer_id"]]
        assert row["full_name"] == mask_name(raw["full_name"])
        assert row["primary_phone"] == mask_phone(raw["primary_phone"])
        assert row["primary_email"] == mask_email(raw["primary_email"])
        assert row["company"] == raw["company"] and row["city"] == raw["city"]
    export(project, "quarantine", tmp_path / "q.json", "--masked")
    quarantined = {r["source_key"]: r for r in read_back(tmp_path / "q.json", "json") if r["source"] == "inject"}
    assert quarantined["@cmd"]["mobile"] == "137****7000" and quarantined["@cmd"]["email"] == "x***@example.com"
    export(project, "provenance", tmp_path / "p.csv", "--masked")
    phones = [r["value"] for r in read_back(tmp_path / "p.csv", "csv") if r["field"] == "primary_phone"]
    assert phones and all("****" in p for p in phones)


# ------------------------------------------------------------------------------------------------------- trace


def merged_customer(session: Session) -> str:
    """The customer with the most source rows."""
    crosswalk = crm_store.read_crosswalk(session)
    counts = crosswalk.group_by("customer_id").len().sort(["len", "customer_id"], descending=[True, False])
    assert counts["len"][0] >= 3
    return str(counts["customer_id"][0])


def test_trace_json_lists_every_row_and_field_of_a_merged_customer(project: Path, session: Session) -> None:
    cid = merged_customer(session)
    result = runner.invoke(app, ["trace", cid, "--config", str(project), "--json"])
    assert result.exit_code == 0, result.output
    traced = json.loads(result.stdout)
    customer = crm_store.read_customers(session).filter(pl.col("customer_id") == cid).row(0, named=True)
    assert {k: traced["customer"][k] for k in customer} == {k: json_value(k, v) for k, v in customer.items()}
    members = crm_store.read_crosswalk(session).filter(pl.col("customer_id") == cid)
    rows = {(r["source"], r["source_key"]): r for r in traced["source_rows"]}
    assert set(rows) == {(r["source"], r["source_key"]) for r in members.iter_rows(named=True)}
    raw = crm_store.read_source_records(session, members["source"].unique().to_list())
    payloads = {(r["source"], r["source_key"]): json.loads(r["payload"]) for r in raw.iter_rows(named=True)}
    for member in members.iter_rows(named=True):
        row = rows[(member["source"], member["source_key"])]
        assert (row["link"], row["status"], row["customer_id"]) == ("member", "loaded", cid)
        assert row["match_probability"] == member["match_probability"]
        assert row["payload"] == payloads[(member["source"], member["source_key"])]
    provenance = crm_store.read_provenance(session).filter(pl.col("customer_id") == cid)
    assert [{k: f[k] for k in provenance.columns} for f in traced["fields"]] == provenance.to_dicts()
    assert {(f["source"], f["source_key"]) for f in traced["fields"]} <= set(rows)


def test_trace_prints_tables_and_accepts_an_id_prefix(project: Path, session: Session) -> None:
    cid = merged_customer(session)
    result = runner.invoke(app, ["trace", cid[:8], "--config", str(project)])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert f"Customer {cid}" in output and "Source rows" in output and "Field origins" in output
    members = crm_store.read_crosswalk(session).filter(pl.col("customer_id") == cid)
    assert all(key in output for key in members["source_key"])
    fields = crm_store.read_provenance(session).filter(pl.col("customer_id") == cid)["field"]
    assert all(field in output for field in fields)


def test_trace_masked_hides_personal_values(project: Path, session: Session) -> None:
    cid = merged_customer(session)
    result = runner.invoke(app, ["trace", cid, "--config", str(project), "--json", "--masked"])
    assert result.exit_code == 0, result.output
    traced = json.loads(result.stdout)
    customer = crm_store.read_customers(session).filter(pl.col("customer_id") == cid).row(0, named=True)
    assert traced["customer"]["full_name"] == mask_name(customer["full_name"])
    assert traced["customer"]["primary_phone"] == mask_phone(customer["primary_phone"])
    for origin in traced["fields"]:
        if origin["field"] == "primary_phone":
            assert origin["value"] == mask_phone(customer["primary_phone"])
    assert customer["primary_phone"] not in result.stdout


def test_trace_of_an_unknown_id_exits_1_and_names_a_matching_source_row(project: Path) -> None:
    result = runner.invoke(app, ["trace", "no-such-customer", "--config", str(project)])
    assert result.exit_code == 1
    assert "no customer 'no-such-customer'" in result.output and "Traceback" not in result.output
    by_key = runner.invoke(app, ["trace", "inject:+SUM(1)", "--config", str(project)])
    assert by_key.exit_code == 1
    assert "is source row inject:+SUM(1) (customer " in " ".join(by_key.output.split())


def test_a_customer_whose_rows_moved_is_still_traced_to_its_field_origins(
    project: Path, session: Session, tmp_path: Path
) -> None:
    store = tmp_path / "crm.db"
    shutil.copy(load_settings(project).store_url.removeprefix("sqlite:///"), store)
    config = tmp_path / "moved.yaml"
    data = yaml.safe_load(project.read_text("utf-8")) | {"store": {"url": f"sqlite:///{store}"}}
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    retired = merged_customer(session)
    other = next(c for c in crm_store.read_customers(session)["customer_id"] if c != retired)
    engine = sa.create_engine(f"sqlite:///{store}")
    with engine.begin() as conn:
        conn.execute(
            sa.text("update crosswalk set customer_id = :b where customer_id = :a"), {"a": retired, "b": other}
        )
        columns = {c["name"] for c in sa.inspect(conn).get_columns("customer")}
        if "merged_into" in columns:  # the golden-record lifecycle columns, once the store has them
            conn.execute(
                sa.text("update customer set retired_at = :now, merged_into = :b where customer_id = :a"),
                {"a": retired, "b": other, "now": dt.datetime(2026, 1, 2)},
            )
    engine.dispose()
    result = runner.invoke(app, ["trace", retired, "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    traced = json.loads(result.stdout)
    origins = {(f["source"], f["source_key"]) for f in traced["fields"]}
    assert origins and {(r["source"], r["source_key"]) for r in traced["source_rows"]} == origins
    assert all(r["link"] == "provenance" and r["customer_id"] == other for r in traced["source_rows"])
    if "merged_into" in traced["customer"]:
        assert traced["customer"]["merged_into"] == other and traced["customer"]["retired_at"]
        tables = runner.invoke(app, ["trace", retired, "--config", str(config)])
        assert f"merged into {other}" in " ".join(tables.output.split()) and "retired" in tables.output


def _trace_and_export_on(project: Path, tmp_path: Path, url: str) -> None:
    config = retarget(project, tmp_path, store_url=url, name="server.yaml")
    assert run_steps(load_settings(config), "run-server", False).status == "succeeded"
    engine = crm_store.open_store(url)
    with Session(engine) as session:
        cid = merged_customer(session)
        members = crm_store.read_crosswalk(session).filter(pl.col("customer_id") == cid).height
        prefix = crm_store.find_customer_ids(session, cid[:8])
    engine.dispose()
    assert prefix == [cid]
    result = runner.invoke(app, ["trace", cid[:8], "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    traced = json.loads(result.stdout)
    assert len([r for r in traced["source_rows"] if r["link"] == "member"]) == members and traced["fields"]
    for kind, suffix in (("customers", "json"), ("quarantine", "xlsx"), ("provenance", "csv")):
        export(config, kind, tmp_path / f"{kind}.{suffix}")


@pytest.mark.postgres
def test_trace_and_export_on_postgresql(project: Path, tmp_path: Path, pg_url: str) -> None:
    _trace_and_export_on(project, tmp_path, pg_url)


@pytest.mark.mariadb
def test_trace_and_export_on_mariadb(project: Path, tmp_path: Path, mariadb_url: str) -> None:
    _trace_and_export_on(project, tmp_path, mariadb_url)
