"""The quality report of the demo: inline SVG charts and nothing fetched, the same bytes from the same data, a run
index with what changed between runs, and no raw personal value (e-mail, phone, name) of the demo's input. A
headless chromium opens the report offline and shows the funnel and every chart (its screenshot is kept in
``out/`` for CI and, with ``make screenshots``, in ``docs/img/`` for the README), and the report of a 50k-row run
stays under 3 MB."""

from __future__ import annotations

import dataclasses
import json
import re
import stat
from pathlib import Path

import polars as pl
import pytest

from connectors import get_connector
from crm_store.schema import ERROR_CODE_COL, ISSUES_COL, ROW_HASH_COL, SKIP_REASON_COL, SOURCE_COL, SOURCE_KEY_COL
from pipelines.ledger import ledger_rows
from pipelines.migrate import run_steps
from pipelines.report import build_report, render_html, write_report
from pipelines.settings import load_settings
from pipelines.stages import Extracted, Golden, Stage, Validated
from rules.drift import Drift
from rules.match import MatchModel, MatchSettings
from rules.reasons import REASONS
from rules.validate import RuleResult

from .conftest import ROOT, retarget
from .web.test_browser import chromium  # noqa: F401  (the fixture: Debian's chromium, never `playwright install`)

CHARTS = ("funnel", "quarantine", "completeness", "histogram", "weights", "waterfall-0")
#: Where the browser test leaves the report's screenshot (CI keeps ``out/`` as an artifact) and the README's pictures.
SCREENSHOT = ROOT / "out" / "report-screenshot.png"


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


def test_every_id_on_the_page_is_unique_and_every_link_inside_it_lands(demo: Path) -> None:
    html = html_of(demo, "second")
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert set(re.findall(r'(?:url\(#|href="#)([^)"]+)', html)) <= set(ids)


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
    assert sum(matching["histogram"]["counts"]) == matching["pairs_scored"] and matching["pairs_left_out"] == 0


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
    from pipelines.report import mask_companies

    companies = ["刘悦", "聊城金泰医药有限公司", "Pip Smith", "Northwind LLC", "总机 13800138000", None]
    names = ["刘悦", "罗敏", "Pip Smith", "Ann Lee", None, "王伟"]
    assert mask_companies(companies, names) == [
        "刘*",
        "聊城金泰医药有限公司",
        "P** S****",
        "Northwind LLC",
        "总机 138****8000",
        "",
    ]
    assert mask_companies(["王秀英"]) == ["王**"]  # a plain Chinese personal name, whoever's row


def test_a_run_id_cannot_break_out_of_the_print_footer(demo: Path) -> None:
    report = {**json_of(demo, "second"), "funnel": [], "completeness": {}, "matching": {}, "quarantine": []}
    report["run"]["run_id"] = 'x"}</style><script>alert(1)</script>'
    html = render_html(report)
    assert "<script" not in html and '@bottom-left{content:"crmkit quality report · run x\\22 }\\3c /style' in html


def test_a_browser_shows_the_funnel_and_every_chart_offline(demo: Path, chromium: str, screenshots: Path) -> None:  # noqa: F811
    """Debian's headless chromium opens report.html from disk with the network cut off: every chart is drawn
    (an SVG box of real size with its bars), the funnel first; the full page is saved as ``out/``'s screenshot."""
    from playwright.sync_api import sync_playwright

    page_url = (demo / "reports" / "second" / "report.html").as_uri()
    requests: list[str] = []
    problems: list[str] = []
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 900}, offline=True, locale="en-GB")
            page = context.new_page()
            page.set_default_timeout(10_000)
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.goto(page_url, wait_until="load")
            boxes = {}
            for chart in CHARTS:
                svg = page.locator(f"svg.chart-{chart}")
                assert svg.count() == 1, chart
                svg.scroll_into_view_if_needed()
                box = svg.bounding_box()
                assert box is not None and box["width"] > 0 and box["height"] > 0 and svg.is_visible(), chart
                # where it sits on the page, whatever the scrolling
                boxes[chart] = svg.evaluate(
                    "e => { const r = e.getBoundingClientRect();"
                    " return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}; }"
                )
                # drawn, not an empty frame: matplotlib's bars and cells are paths with a real extent
                drawn = svg.locator("path").evaluate_all(
                    "ps => ps.filter(p => { const b = p.getBBox(); return b.width * b.height > 4; }).length"
                )
                assert drawn >= 3, (chart, drawn)
            for chart, box in boxes.items():
                assert box["width"] >= 600 and box["height"] >= 100, (chart, box)
            assert page.locator("svg.chart-funnel").get_by_text("golden customers").first.is_visible()
            assert boxes["funnel"]["y"] < min(b["y"] for c, b in boxes.items() if c != "funnel")  # the funnel first
            page.screenshot(path=SCREENSHOT, full_page=True)
            # the README's pictures: the funnel under its heading, and the match-probability histogram
            heading = page.locator("#funnel").evaluate("e => e.getBoundingClientRect().y + scrollY")
            funnel = boxes["funnel"]
            page.screenshot(
                path=screenshots / "report-funnel.png",
                full_page=True,
                clip={
                    "x": 0,
                    "y": heading - 10,
                    "width": 1100,
                    "height": funnel["y"] + funnel["height"] - heading + 20,
                },
            )
            page.locator("svg.chart-histogram").screenshot(path=screenshots / "report-histogram.png")
        finally:
            browser.close()
    assert requests == [page_url], "the report fetched something besides itself"
    assert problems == [], "\n".join(problems)
    assert 50_000 < SCREENSHOT.stat().st_size < 8_000_000
    for name in ("report-funnel.png", "report-histogram.png"):
        assert 5_000 < (screenshots / name).stat().st_size < 150_000, name


# ------------------------------------------------------------------------------------------- a 50k-row run's report

#: Per source: rows read and the fields its columns map to (the legacy CRM is wide: 40 columns).
SOURCES = {
    "sales_workbook": (20_000, ("full_name", "phone", "company", "city", "owner", "segment", "notes")),
    "legacy_crm": (18_000, ("full_name", "phone", "email", "company", "address", "province", "city", "status")),
    "web_signups": (12_000, ("full_name", "phone", "email", "company", "city", "created_at")),
}
SKIP_CODES = ("empty_row", "total_row", "repeated_header")


def _synthetic_run(model: MatchModel, run: dict) -> dict:
    """``build_report``'s arguments for a run that read 50,000 rows from three sources: every list the report
    draws from at full size (49k candidates with issues, ~2.6k quarantined rows under every reason code, ~31k
    customers, 150k scored pairs spread over every probability bin, thousands of pairs for review), built the way
    the pipeline's stages hand them on, without running the 80 s of pipeline a real 50k run takes."""
    frames = [
        pl.DataFrame({SOURCE_COL: [source] * rows, SOURCE_KEY_COL: [str(k) for k in range(rows)]})
        for source, (rows, _) in SOURCES.items()
    ]
    read = pl.concat(frames).with_row_index("_n")
    n = pl.col("_n").cast(pl.Int64)
    read = read.with_columns(
        pl.concat_str(pl.lit("row-"), n.cast(pl.String)).alias(ROW_HASH_COL),
        pl.format("王{}", (n % 977).cast(pl.String)).alias("full_name"),
        pl.format("+86138{}", (10_000_000 + n * 37 % 89_999_999).cast(pl.String)).alias("phone"),
        pl.format("user{}@example.com", n.cast(pl.String)).alias("email"),
        pl.format("聊城第{}机械有限公司", (n % 4_000).cast(pl.String)).alias("company"),
        pl.format("山东省聊城市东昌府区柳园路{}号", (n % 300).cast(pl.String)).alias("address"),
        pl.when(n % 7 == 0).then(None).otherwise(pl.lit("聊城市")).alias("city"),
        pl.when(n % 100 == 0)
        .then(pl.lit(SKIP_CODES[0]))
        .when(n % 100 == 50)
        .then(pl.lit(SKIP_CODES[1]))
        .otherwise(None)
        .alias(SKIP_REASON_COL),
        pl.when(n % 500 == 7).then(pl.lit("malformed_row")).otherwise(None).alias(ERROR_CODE_COL),
    )
    skipped = read.filter(pl.col(SKIP_REASON_COL).is_not_null())
    broken = read.filter(pl.col(ERROR_CODE_COL).is_not_null() & pl.col(SKIP_REASON_COL).is_null())
    candidates = read.filter(pl.col(SKIP_REASON_COL).is_null() & pl.col(ERROR_CODE_COL).is_null())
    issues = (
        pl.when(n % 10 == 1).then(pl.lit(["phone.invalid", "email.typo"])).otherwise(pl.lit([], pl.List(pl.String)))
    )
    normalised = candidates.with_columns(
        issues.alias(ISSUES_COL), pl.when(n % 10 == 1).then(None).otherwise(pl.col("phone")).alias("phone")
    )
    codes = [c for c in REASONS if c not in (*SKIP_CODES, "malformed_row")]
    failing = candidates.filter(n % 19 == 3).with_columns(
        (n % len(codes)).replace_strict(dict(enumerate(codes)), return_dtype=pl.String).alias("code")
    )
    failures = failing.select(
        pl.col("code").alias("rule"),
        "code",
        pl.when(n % 7 == 0).then(pl.lit("warning")).otherwise(pl.lit("error")).alias("severity"),
        pl.lit("phone").alias("column"),
        pl.col(SOURCE_COL).alias("source"),
        pl.col(SOURCE_KEY_COL).alias("source_key"),
        pl.lit("138****8000").alias("value_masked"),
        pl.format("the phone of row {} failed {}", pl.col(SOURCE_KEY_COL), pl.col("code")).alias("message"),
    )
    unparseable = broken.select(  # the connectors' failures (``rules.validate.connector_failures``)
        pl.col(ERROR_CODE_COL).alias("rule"),
        pl.col(ERROR_CODE_COL).alias("code"),
        pl.lit("error").alias("severity"),
        pl.lit(None, pl.String).alias("column"),
        pl.col(SOURCE_COL).alias("source"),
        pl.col(SOURCE_KEY_COL).alias("source_key"),
        pl.lit(None, pl.String).alias("value_masked"),
        pl.lit("expected 12 fields, found 9").alias("message"),
    )
    failures = pl.concat([failures, unparseable])
    errors = failures.filter(pl.col("severity") == "error").select(
        pl.col("source").alias(SOURCE_COL), pl.col("source_key").alias(SOURCE_KEY_COL)
    )
    quarantined = errors.unique()
    records = candidates.join(quarantined, on=[SOURCE_COL, SOURCE_KEY_COL], how="anti").sort("_n")
    records = records.with_row_index("_rid").with_columns(pl.col("_rid").cast(pl.Int64))
    rid = pl.col("_rid")
    customer = pl.format("{}-0000-5000-8000-000000000000", ((rid * 5) // 8).cast(pl.String).str.zfill(8))
    records = records.with_columns(customer.alias("customer_id"), ((rid * 5) // 8).alias("cluster"))
    pairs = pl.concat(
        [
            records.select(rid.alias("left"), ((rid + k) % records.height).alias("right"), pl.lit(k).alias("_k"))
            for k in (1, 2, 3)
        ]
    ).with_columns(
        ((pl.col("left") * 7_919 + pl.col("_k") * 104_729) % 10_007 / 10_007).alias("match_probability"),
        *(
            pl.col("left")
            .mod(len(c.levels))
            .replace_strict(dict(enumerate(c.levels)), return_dtype=pl.String)
            .alias(f"{c.name}_level")
            for c in model.comparisons
        ),
    )
    review = pairs.filter(pl.col("match_probability").is_between(0.5, 0.9, closed="left")).with_columns(
        pl.lit("band").alias("reason")
    )
    golden = Golden(
        records=records,
        pairs=pairs,
        customers=records.select("customer_id").unique(),
        provenance=pl.DataFrame(),
        review=review,
        model=model,
        blocking=pl.DataFrame(
            {
                "rule": [f"rule {k}" for k in range(6)],
                "estimated_pairs": [40_000] * 6,
                "pairs": [25_000] * 6,
                "recall": [0.97] * 6,
            }
        ),
        blocking_recall=0.975,
    )
    crosswalk = records.select(
        pl.col(SOURCE_COL).alias("source"),
        pl.col(SOURCE_KEY_COL).alias("source_key"),
        "customer_id",
        (rid % 100 / 100).alias("match_probability"),
    )
    extracted, mappings = [], {}
    for source, (_, fields) in SOURCES.items():
        columns = [f"{source}_col_{k}" for k in range(40 if source == "legacy_crm" else 12)]
        mappings[source] = dict(zip(columns, fields, strict=False))
        drift = Drift(new=columns[-3:], missing=["旧字段1", "旧字段2"], renamed=[("手机", "手机号")])
        extracted.append(Extracted(source=source, kind="csv", columns=columns, drift=drift))
    keys = [SOURCE_COL, SOURCE_KEY_COL]
    ledger = ledger_rows(
        read.select(keys),
        {"loaded": records.select(keys), "quarantined": quarantined, "skipped": skipped.select(keys)},
    )
    for row in ledger:
        row.update(kind="csv", error=None)
    stage = Stage(candidates=candidates, skipped=skipped, broken=broken, activities=pl.DataFrame())
    rule_results = [
        RuleResult(
            f"rule_{k}", "expect_column_values_to_match_regex", "phone", k % 3 != 0, 49_000, k * 13, "error", code
        )
        for k, code in enumerate(codes)
    ]
    return {
        "run": run,
        "ledger": ledger,
        "stage": stage,
        "normalised": normalised,
        "validated": Validated(records=records, quarantined=quarantined, failures=failures, rule_results=rule_results),
        "golden": golden,
        "crosswalk": crosswalk,
        "extracted": extracted,
        "activities": pl.DataFrame(schema=dict.fromkeys(keys, pl.String)),
        "mappings": mappings,
        "match_settings": MatchSettings(threshold=0.9, review_threshold=0.5),
    }


def test_pairs_left_out_below_keep_pairs_above_still_count(demo: Path) -> None:
    """A run with ``match.keep_pairs_above`` keeps only the probable pairs: the report still counts every scored
    pair, says how many were left out, and its merge / review / below split adds up to all of them."""
    model = MatchModel.from_json((demo / "reports" / "second" / "match_model.json").read_text("utf-8"))
    parts = _synthetic_run(model, json_of(demo, "second")["run"])
    every = parts["golden"].pairs
    kept = every.filter(pl.col("match_probability") >= 0.02)
    parts["golden"] = dataclasses.replace(parts["golden"], pairs=kept, candidates=every.height)
    report = build_report(**parts)
    matching, histogram = report["matching"], report["matching"]["histogram"]
    assert matching["pairs_scored"] == every.height and matching["pairs_left_out"] == every.height - kept.height > 0
    assert sum(histogram["counts"]) == kept.height
    assert histogram["merge"] + histogram["review"] + histogram["below"] == every.height
    assert f"{every.height - kept.height:,} below" in render_html(report)


def test_the_report_of_a_50k_row_run_stays_under_3_mb(demo: Path, tmp_path: Path) -> None:
    """A real 50k-row run (31k generated customers, ``crmkit sample``) takes 80 s and wrote a 0.22 MB report;
    this test builds the report from a synthetic run result of that size instead, every list at full length.
    Nothing in the report grows with the rows: lists are cut (and say so), charts aggregate."""
    model = MatchModel.from_json((demo / "reports" / "second" / "match_model.json").read_text("utf-8"))
    run = {**json_of(demo, "second")["run"], "run_id": "r50k", "project": "synthetic 50k"}
    report = build_report(**_synthetic_run(model, run))
    assert report["totals"]["read"] == 50_000 and report["totals"]["balanced"]
    assert report["clusters"]["records"] > 45_000 and report["matching"]["pairs_scored"] > 130_000
    assert report["matching"]["review_count"] > 10_000 and all(report["matching"]["histogram"]["counts"])
    assert {q["reason"] for q in report["quarantine"]} >= {"invalid_phone", "spam_bot", "malformed_row"}
    html_path = write_report(report, tmp_path / "reports")
    html = html_path.read_text("utf-8")
    size = html_path.stat().st_size
    assert size < 3_000_000, f"{size:,} bytes"
    assert len((html_path.parent / "report.json").read_bytes()) < 1_000_000
    assert f"showing 10 of {report['matching']['review_count']:,} pairs" in html
    for chart in CHARTS:
        assert f'class="chart chart-{chart}"' in html, chart
    assert "<script" not in html.lower() and "http" not in html.lower()  # opens offline
