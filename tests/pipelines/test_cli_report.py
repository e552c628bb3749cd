"""``crmkit report kpi|regions|segments``: the analytics numbers of a store on the terminal and in XLSX, CSV and
HTML files, formula-safe, offline, with clear errors for bad options.

One store for the module: the demo sample with legacy orders and follow-ups (``tests/analytics/conftest.py``), two
custom fields of the sign-ups, and a source whose company and owner a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import polars as pl
import pytest
import yaml
from openpyxl import load_workbook
from typer.testing import CliRunner

import analytics
from pipelines.cli import app
from pipelines.migrate import run_steps
from pipelines.settings import load_settings

from ..analytics.conftest import demo_project

runner = CliRunner()
AS_OF = "2024-04-01"
CHANNELS = ["baidu", "wechat", "weibo", "douyin", "xiaohongshu", "google", "linkedin", "newsletter", "direct"]
#: Active customers per month of the fixture's orders and follow-ups (tests/analytics/conftest.py), by hand:
#: December F3; January O1, O3, F1; February O2; March O4 (00:30 local), F2, F4.
ACTIVE = {"2023-12-01": 1, "2024-01-01": 3, "2024-02-01": 1, "2024-03-01": 3}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    config = demo_project(out)
    data = yaml.safe_load(config.read_text("utf-8"))
    data["custom_fields"] = [
        {"name": "channel", "type": "choice", "columns": ["utm_source"], "allowed": CHANNELS},
        {"name": "consent", "type": "bool"},
    ]
    (out / "inject.csv").write_text(
        "id,name,mobile,company,owner\nX1,王芳,13800138000,=1+2 Trading,@SUM(A1)\n",
        "utf-8",
    )
    data["sources"].append(
        {
            "name": "inject",
            "kind": "csv",
            "params": {"path": str(out / "inject.csv"), "key": "id"},
            "mapping": {"name": "full_name", "mobile": "phone", "company": "company", "owner": "owner"},
        }
    )
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    assert run_steps(load_settings(config), "run-1", False).status == "succeeded"
    return config


@pytest.fixture(scope="module")
def store(project: Path) -> analytics.Analytics:
    settings = load_settings(project)
    return analytics.load(settings.store_url, as_of=dt.date.fromisoformat(AS_OF), custom_fields=settings.custom_fields)


def report(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == code, result.output
    return result.output


def test_kpi_prints_the_months_with_the_activities_counted_by_hand(project: Path) -> None:
    shown = report("kpi", str(project), "--as-of", AS_OF)
    for month, active in ACTIVE.items():
        assert re.search(rf"{month}\s*│\s*{active}\s*│", shown), (month, shown)
    assert "8 activities of 5 customers" in shown
    # --months 3: February to April only
    shown = report("kpi", str(project), "--as-of", AS_OF, "--months", "3")
    assert "2023-12-01" not in shown and "2024-01-01" not in shown
    assert "2024-02-01" in shown and "2024-03-01" in shown


def test_kpi_xlsx_has_a_sheet_per_table_with_numbers_as_numbers(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "kpi.xlsx"
    report("kpi", str(project), "--as-of", AS_OF, "--out", str(out))
    book = load_workbook(out)
    assert book.sheetnames == ["month", "retention"]
    rows = list(book["month"].iter_rows(values_only=True))
    assert rows[0][:3] == ("period", "active_customers", "activities")
    assert {r[0]: r[1] for r in rows[1:]} == ACTIVE
    cohort = [r for r in book["retention"].iter_rows(values_only=True)][1:]
    assert all(r[4] == 1.0 for r in cohort if r[1] == 0)  # a cohort is wholly active in its own month
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_kpi_csv_writes_the_main_table_and_each_other_one_beside_it(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "kpi.csv"
    shown = report("kpi", str(project), "--as-of", AS_OF, "--out", str(out))
    assert "kpi-retention.csv" in shown.replace("\n", "")  # rich folds a long path
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["period"]: int(r["active_customers"]) for r in rows} == ACTIVE
    assert (tmp_path / "kpi-retention.csv").read_text("utf-8").startswith("cohort,periods_since,cohort_size")


def test_regions_drill_down_into_a_city_matches_the_dimensions(
    project: Path, store: analytics.Analytics, tmp_path: Path
) -> None:
    out = tmp_path / "liaocheng.csv"
    report("regions", str(project), "--city", "聊城", "--level", "district", "--out", str(out))
    frame = pl.read_csv(out, infer_schema=False)
    assert set(frame["city_code"]) == {"371500"}
    inside = store.dimensions().filter(pl.col("city_code") == "371500")
    assert frame["customers"].cast(pl.Int64).sum() == inside.height
    expected = inside.group_by("district_code").len()
    got = dict(zip(frame["district_code"], frame["customers"].cast(pl.Int64), strict=True))
    assert got == {code: n for code, n in expected.iter_rows()}
    # the same in pinyin or by code, and a province's cities on the terminal
    assert report("regions", str(project), "--city", "Liaocheng", "--level", "district") == report(
        "regions", str(project), "--city", "371500", "--level", "district"
    )
    shown = report("regions", str(project), "--province", "山东省", "--level", "city")
    assert "聊城市" in shown and "371500" in shown and "北京" not in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["regions", "--province", "聊城"], "is a city, not a province"),
        (["regions", "--city", "火星城"], "is not one Chinese province, city or district"),
        (["regions", "--city", "聊城", "--level", "city"], "is not below the city"),
        (["regions", "--province", "北京市", "--city", "聊城", "--level", "district"], "is not in"),
        (["regions", "--level", "town"], "use province, city or district"),
        (["kpi", "--period", "week"], "use month, quarter or year"),
        (["kpi", "--as-of", "yesterday"], "not a date"),
        (["kpi", "--out", "kpi.pdf"], "cannot tell the format of kpi.pdf"),
        (["segments", "--by", "nope"], "cannot group by 'nope'"),
    ],
)
def test_a_bad_option_is_one_clear_error(project: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["report", args[0], str(project), *args[1:]])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output


def test_a_missing_store_a_bad_project_file_and_a_bad_rule_file_fail_clearly(project: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(project.read_text("utf-8"))
    data["store"] = {"url": f"sqlite:///{tmp_path / 'none.db'}"}
    missing = tmp_path / "missing.yaml"
    missing.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    result = runner.invoke(app, ["report", "kpi", str(missing)])
    assert result.exit_code == 1 and "none.db" in result.output
    assert not (tmp_path / "none.db").exists()  # a reader never creates a store
    data["custom_fields"] = [{"name": "segment", "type": "text"}]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    result = runner.invoke(app, ["report", "kpi", str(bad)])
    assert result.exit_code == 2 and "custom_fields[0].name" in result.output
    rules = tmp_path / "rules.yaml"
    rules.write_text("churn: {high_after_months: many}\n", "utf-8")
    result = runner.invoke(app, ["report", "segments", str(project), "--rules", str(rules)])
    assert result.exit_code == 2 and "churn.high_after_months" in result.output


def test_segments_group_by_a_custom_field_and_classify_with_a_rule_file_on_it(
    project: Path, store: analytics.Analytics, tmp_path: Path
) -> None:
    expected = store.custom_fields().group_by("channel").len()
    shown = report("segments", str(project), "--as-of", AS_OF, "--by", "channel")
    for channel, n in expected.drop_nulls().iter_rows():
        assert re.search(rf"channel\s*│\s*{channel}\s*│\s*{n}\s*│", shown), (channel, shown)
    # the rules may classify by a custom field: social media sign-ups
    rules = yaml.safe_load((Path(analytics.__file__).parent / "defaults.yaml").read_text("utf-8"))
    social = ["weibo", "douyin", "xiaohongshu", "wechat"]
    rules["classifications"]["channel_class"] = {
        "default": "other",
        "rules": [{"class": "social", "when": {"channel": social}}],
    }
    file = tmp_path / "rules.yaml"
    file.write_text(yaml.safe_dump(rules, allow_unicode=True), "utf-8")
    out = tmp_path / "segments.csv"
    report("segments", str(project), "--as-of", AS_OF, "--rules", str(file), "--out", str(out))
    summary = pl.read_csv(out, infer_schema=False).filter(pl.col("grouped_by") == "channel_class")
    counts = dict(zip(summary["class"], summary["customers"].cast(pl.Int64), strict=True))
    assert counts["social"] == expected.filter(pl.col("channel").cast(pl.String).is_in(social))["len"].sum()
    customers = pl.read_csv(tmp_path / "segments-customers.csv", infer_schema=False)
    assert customers.height == store.customers().height
    assert {"channel", "consent", "channel_class", "churn_risk"} <= set(customers.columns)


def test_segments_files_are_formula_safe_and_recorded_in_the_audit_trail(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "segments.xlsx"
    report("segments", str(project), "--as-of", AS_OF, "--out", str(out))
    sheet = load_workbook(out)["customers"]
    header = [c.value for c in sheet[1]]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert not [c for c in cells if c.data_type == "f"]  # never a formula
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[header.index("full_name")] == "王芳")
    assert row[header.index("company")] == "'=1+2 Trading"
    assert row[header.index("owner")] == "'@SUM(A1)"
    result = runner.invoke(app, ["audit", "list", "--config", str(project), "--json", "--action", "export"])
    assert result.exit_code == 0, result.output
    events = json.loads(result.output)
    assert events[-1]["target"] == {"kind": "report segments"}
    assert events[-1]["details"]["file"] == "segments.xlsx" and events[-1]["details"]["masked"] is False


def test_html_opens_offline_with_its_charts_and_masks_on_request(project: Path, tmp_path: Path) -> None:
    for kind, args in (("kpi", ["--as-of", AS_OF]), ("regions", ["--level", "city"]), ("segments", ["--masked"])):
        out = tmp_path / f"{kind}.html"
        report(kind, str(project), *args, "--out", str(out))
        html = out.read_text("utf-8")
        assert "<script" not in html.lower()
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html), kind  # nothing fetched
        assert 'class="chart chart-' in html and "<svg" in html, kind
        assert "<table>" in html
    segments = (tmp_path / "segments.html").read_text("utf-8")
    assert "王芳" not in segments and "王*" in segments
    assert "Customers per value_class" in segments


def test_as_a_user_the_report_covers_what_they_see(project: Path, tmp_path: Path) -> None:
    for name, role in (("@SUM(A1)", "sales"), ("审计员", "auditor")):
        result = runner.invoke(app, ["users", "add", name, "--config", str(project), "--role", role])
        assert result.exit_code == 0, result.output
    out = tmp_path / "mine.csv"
    report("segments", str(project), "--as", "@SUM(A1)", "--out", str(out))
    mine = pl.read_csv(tmp_path / "mine-customers.csv", infer_schema=False)
    assert mine["full_name"].to_list() == ["王芳"]  # a salesperson's report covers their own customers only
    out = tmp_path / "audited.csv"
    shown = report("segments", str(project), "--as", "审计员", "--out", str(out))
    assert "(masked)" in shown
    names = pl.read_csv(tmp_path / "audited-customers.csv", infer_schema=False)["full_name"].drop_nulls()
    assert "王芳" not in names.to_list() and "王*" in names.to_list()
    result = runner.invoke(app, ["report", "kpi", str(project), "--as", "nobody"])
    assert result.exit_code == 2 and "nobody" in result.output
