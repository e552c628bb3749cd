"""The quality report of the demo: inline SVG charts and nothing fetched, the same bytes from the same data, a run
index with what changed between runs, and no raw personal value (e-mail, phone, name) of the demo's input."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import polars as pl
import pytest

from connectors import get_connector
from pipelines._run_index import compare, summarise
from pipelines.migrate import run_steps
from pipelines.report import render_html, write_report
from pipelines.settings import load_settings

from .conftest import ROOT, retarget

CHARTS = ("funnel", "quarantine", "completeness", "histogram", "weights", "waterfall-0")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo migrated twice into one store: ``first`` (no baseline yet) and ``second``; returns the folder."""
    out = tmp_path_factory.mktemp("demo")
    settings = load_settings(retarget(ROOT / "config" / "demo.yaml", out))
    for run_id in ("first", "second"):
        assert run_steps(settings, run_id, False).status == "succeeded"
    return out


def html_of(demo: Path, run_id: str) -> str:
    return (demo / "reports" / run_id / "report.html").read_text("utf-8")


def json_of(demo: Path, run_id: str) -> dict:
    return json.loads((demo / "reports" / run_id / "report.json").read_text("utf-8"))


def test_every_chart_is_inline_svg_and_nothing_is_fetched(demo: Path) -> None:
    html = html_of(demo, "second")
    for chart in CHARTS:
        assert f'class="chart chart-{chart}"' in html, chart
    assert html.count("<svg") >= len(CHARTS) + 5  # one waterfall per explained pair
    assert "<script" not in html.lower() and "http" not in html.lower()
    assert not re.search(r"<(img|link|iframe|object|embed)\b", html, re.I)
    assert not re.findall(r"url\((?!#)", html)  # only clip paths inside the SVGs
    # printing: run id and page numbers in the page margins, charts and cards kept whole
    assert '@bottom-left{content:"crmkit quality report · run second"' in html
    assert 'counter(page) " of " counter(pages)' in html and "break-inside:avoid" in html


def test_the_page_has_contents_ids_and_says_what_it_cut(demo: Path) -> None:
    html, report = html_of(demo, "second"), json_of(demo, "second")
    anchors = re.findall(r'<a href="#([\w-]+)">', html)
    assert len(anchors) >= 12 and all(f'id="{a}"' in html for a in anchors)
    for example in report["clusters"]["examples"]:
        assert f'<code class="id">{example["customer_id"]}</code>' in html  # the full id, copyable
    clusters = report["clusters"]
    assert f"showing {len(clusters['examples'])} of {clusters['multi_member']} customers" in html
    passing = [r for r in report["rules"] if r["success"]]
    assert passing and html.count('<td class="ok">pass</td>') == len(passing)
    # the funnel reconciles every source, a row counted once whatever its number of reasons
    for row in report["funnel"]:
        assert row["read"] == row["skipped"] + row["unparseable"] + row["failed_rules"] + row["loaded"]
        assert 0 < row["customers"] <= row["loaded"]
    assert sum(q["count"] for q in report["quarantine"]) >= report["totals"]["quarantined"]
    # the waterfalls explain borderline pairs, not only sure ones
    matching = report["matching"]
    assert matching["thresholds"] == {"threshold": 0.9, "review_threshold": 0.5}
    assert any(e["outcome"] == "merged" and e["probability"] < 1 for e in matching["explanations"])
    assert all(e["steps"][-1]["cumulative"] == e["steps"][-2]["cumulative"] for e in matching["explanations"])
    assert sum(matching["histogram"]["counts"]) == matching["pairs_scored"]


def test_first_run_schema_drift_says_no_baseline(demo: Path) -> None:
    assert html_of(demo, "first").count("first run: no baseline") == 3
    second = html_of(demo, "second")
    assert "first run: no baseline" not in second and second.count('<span class="ok">no change</span>') == 3


def test_the_same_report_gives_the_same_bytes(demo: Path) -> None:
    report = json_of(demo, "second")
    html = render_html(report)
    assert html == render_html(json.loads(json.dumps(report)))
    assert html == html_of(demo, "second"), "report.json alone redraws the page"


def test_the_run_index_lists_every_run_and_what_changed(demo: Path) -> None:
    reports = demo / "reports"
    index = (reports / "index.html").read_text("utf-8")
    assert stat.S_IMODE((reports / "index.html").stat().st_mode) == 0o600
    assert stat.S_IMODE((reports / "index.json").stat().st_mode) == 0o600
    assert 'href="second/report.html"' in index and 'href="first/report.html"' in index
    assert index.index("second/report.html") < index.index("first/report.html")  # newest first
    assert "first run: nothing to compare with" in index and 'vs <code class="id">first</code>' in index
    assert "<script" not in index and "http" not in index
    assert json_of(demo, "first")["comparison"] is None
    comparison = json_of(demo, "second")["comparison"]
    assert comparison["previous"] == "first" and comparison["changed"] == [] and comparison["columns"] == []
    assert 'href="../index.html"' in html_of(demo, "second")


def test_the_index_compares_with_the_last_run_that_did_not_fail(demo: Path, tmp_path: Path) -> None:
    base = json_of(demo, "second")

    def variant(run_id: str, started: str, status: str, **changes: object) -> dict:
        report = json.loads(json.dumps(base))
        report["run"].update(run_id=run_id, started_at=started, status=status)
        report.update(funnel=[], completeness={}, matching={}, **changes)  # no charts: the index is the point
        return report

    quarantine = [*base["quarantine"], {"reason": "invalid_email", "count": 2, "samples": []}]
    schema = [dict(base["schema"][0], columns=[*base["schema"][0]["columns"], "QQ"]), *base["schema"][1:]]
    write_report(variant("a", "2026-01-01T00:00:00+00:00", "succeeded"), tmp_path)
    write_report(variant("b", "2026-01-02T00:00:00+00:00", "failed"), tmp_path)
    write_report(variant("c", "2026-01-03T00:00:00+00:00", "succeeded", quarantine=quarantine, schema=schema), tmp_path)
    c = json.loads((tmp_path / "c" / "report.json").read_text("utf-8"))["comparison"]
    assert c["previous"] == "a"  # b failed
    assert {q["reason"]: q["delta"] for q in c["quarantine"]}["invalid_email"] == 2
    assert c["columns"] == [{"source": "sales_workbook", "change": "columns changed", "new": ["QQ"], "missing": []}]
    index = (tmp_path / "index.html").read_text("utf-8")
    assert index.count("/report.html") == 3 and "<code>invalid_email</code>" in index and "<code>QQ</code>" in index
    # the summaries are cached: a report that did not change is not read again
    cached = json.loads((tmp_path / "index.json").read_text("utf-8"))
    assert set(cached["runs"]) == {"a", "b", "c"} and cached["runs"]["c"]["summary"]["quarantine"]["invalid_email"] == 2
    assert compare(summarise(base), None) is None


def test_no_raw_email_phone_or_name_of_the_input_in_the_report(demo: Path) -> None:
    """Every e-mail, phone number and customer name the demo's sources hold (a name in the company field too) is
    absent from report.html, report.json and index.html. Salespeople's sheet names are part of row keys
    (``张磊!12``) and stay: they are ids, not customers."""
    settings = load_settings(demo / "crmkit.yaml")
    truth = pl.read_csv(ROOT / "samples" / "demo" / "truth.csv", infer_schema=False)
    people = set(truth.filter(pl.col("row_kind") == "record").select("source", "source_key").iter_rows())
    contacts: set[str] = set()
    names: set[str] = set()
    sheets: set[str] = set()
    for source in settings.sources:
        fields = source.mapping
        for batch in get_connector(source.kind)(source.connector_params(), source=source.name):
            sheets |= {key.split("!")[0] for key in batch["_source_key"] if "!" in key}
            for row in batch.iter_rows(named=True):
                values = {col: (row.get(col) or "").strip() for col in fields if row.get(col)}
                contacts |= {v for c, v in values.items() if fields[c] in ("phone", "email") and len(v) >= 7}
                if (row["_source"], row["_source_key"]) in people:
                    own = {v for c, v in values.items() if fields[c] == "full_name" and len(v) >= 2}
                    names |= own | {v for c, v in values.items() if fields[c] == "company" and v in own}
    digits = {re.sub(r"\D", "", c) for c in contacts if "@" not in c}
    secrets = contacts | {c.lower() for c in contacts} | {d for d in digits if len(d) >= 7} | (names - sheets)
    assert len(names) > 150 and len(contacts) > 100
    assert "刘悦" in names  # a person's own name typed into the company field
    for path in ("second/report.html", "second/report.json", "index.html", "index.json"):
        text = (demo / "reports" / path).read_text("utf-8")
        leaked = sorted(s for s in secrets if s in text)
        assert not leaked, (path, leaked[:5])


def test_a_persons_name_in_the_company_field_is_masked() -> None:
    from pipelines.report import _mask_companies

    companies = ["刘悦", "聊城金泰医药有限公司", "Pip Smith", "Northwind LLC", "总机 13800138000", None]
    names = ["刘悦", "罗敏", "Pip Smith", "Ann Lee", None, "王伟"]
    assert _mask_companies(companies, names) == [
        "刘*",
        "聊城金泰医药有限公司",
        "P** S****",
        "Northwind LLC",
        "总机 138****8000",
        "",
    ]
    assert _mask_companies(["王秀英"]) == ["王**"]  # a plain Chinese personal name, whoever's row


def test_a_run_id_cannot_break_out_of_the_print_footer(demo: Path) -> None:
    report = {**json_of(demo, "second"), "funnel": [], "completeness": {}, "matching": {}, "quarantine": []}
    report["run"]["run_id"] = 'x"}</style><script>alert(1)</script>'
    html = render_html(report)
    assert "<script" not in html and '@bottom-left{content:"crmkit quality report · run x\\22 }\\3c /style' in html
