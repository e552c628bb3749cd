"""The report's charts: matplotlib's SVG canvas without pyplot, imported only when a chart is drawn; a chart draws
what it is given (or nothing), labels stay text, and the same data gives the same bytes."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys

from pipelines._charts import (
    completeness_heatmap,
    match_histogram,
    match_weights,
    quarantine_reasons,
    reconciliation_funnel,
    waterfall,
)

from .conftest import ROOT

PACKAGES = ("pipelines", "connectors", "rules", "crm_store", "synthetic", "analytics")
FUNNEL = [
    {"source": "销售台账 $2024", "read": 118, "skipped": 6, "unparseable": 0, "failed_rules": 0, "loaded": 112,
     "customers": 86},
    {"source": "legacy_crm", "read": 68, "skipped": 0, "unparseable": 1, "failed_rules": 1, "loaded": 66,
     "customers": 57},
    {"source": "web_signups", "read": 78, "skipped": 1, "unparseable": 1, "failed_rules": 3, "loaded": 73,
     "customers": 63},
    {"source": "extra", "read": 5, "skipped": 0, "unparseable": 0, "failed_rules": 0, "loaded": 5, "customers": 5},
]  # fmt: skip


def test_no_module_imports_matplotlib_at_import_time_or_pyplot_at_all() -> None:
    """matplotlib costs about a second to import: only the functions that draw import it, and never pyplot (which
    would pick a GUI backend)."""
    eager, pyplot = [], []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text("utf-8")
            if "matplotlib" not in text:
                continue
            tree = ast.parse(text)
            top = {id(node) for node in tree.body}
            for node in ast.walk(tree):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                names += [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else []
                rel = str(path.relative_to(ROOT))
                if any(n == "matplotlib" or n.startswith("matplotlib.") for n in names):
                    if id(node) in top:
                        eager.append(rel)
                    if any("pyplot" in n or n.endswith(".pylab") for n in names):
                        pyplot.append(rel)
    assert eager == [] and pyplot == [], (eager, pyplot)


def test_the_report_module_loads_no_matplotlib_and_a_chart_ignores_the_configured_backend() -> None:
    """In a fresh process with a GUI backend configured (``MPLBACKEND=TkAgg``, no display): importing the report
    loads no matplotlib; drawing a chart loads matplotlib's SVG canvas, neither pyplot nor tkinter."""
    code = (
        "import json, sys\n"
        "import pipelines.report\n"
        "before = sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib')\n"
        "from pipelines._charts import quarantine_reasons\n"
        "svg = quarantine_reasons([{'reason': 'invalid_phone', 'count': 3}], 3)\n"
        "print(json.dumps({'before': before, 'svg': svg.startswith('<svg'), 'loaded': sorted(sys.modules)}))\n"
    )
    env = {**os.environ, "MPLBACKEND": "TkAgg", "DISPLAY": ""}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["before"] == [] and out["svg"]
    loaded = set(out["loaded"])
    assert "matplotlib.backends.backend_svg" in loaded
    assert not loaded & {"matplotlib.pyplot", "tkinter", "matplotlib.backends.backend_tkagg", "PyQt5", "PySide6"}


def test_nothing_to_draw_draws_nothing() -> None:
    assert reconciliation_funnel([]) == ""
    assert reconciliation_funnel([{**FUNNEL[0], "read": 0}]) == ""
    assert quarantine_reasons([], None) == ""
    assert completeness_heatmap({}) == ""
    assert match_histogram({"counts": [0] * 50}, {}) == ""
    assert match_weights([], 0.01) == ""
    assert waterfall([], {}) == ""
    assert waterfall([{"step": "prior", "weight": -3.0, "cumulative": None}], {}) == ""


def test_the_funnel_is_one_panel_per_source_with_its_counts_as_text() -> None:
    svg = reconciliation_funnel(FUNNEL)
    head = r'<svg viewBox="0 0 612 [\d.]+" class="chart chart-funnel" role="img" aria-label="Reconciliation funnel'
    assert re.match(head, svg)
    assert "<title>Reconciliation funnel per source</title>" in svg
    tag = svg[: svg.index(">")]
    assert "width=" not in tag and "height=" not in tag and "xmlns" not in tag  # fills its box; HTML's namespace
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert {"销售台账 $2024", "legacy_crm", "web_signups", "extra"} <= set(texts)  # a dollar sign, not math text
    assert texts.count("golden customers") == 2  # the labels on the first panel of each row (3 per row)
    assert {"118", "112", "86", "66", "57"} <= set(texts)
    assert "font-family" not in svg  # the page's CSS chooses the font (CJK fallbacks)
    # the same data, the same bytes: drawn again (past the charts the process keeps) and kept
    assert svg == reconciliation_funnel.__wrapped__(json.loads(json.dumps(FUNNEL)))  # type: ignore[attr-defined]
    assert reconciliation_funnel(json.loads(json.dumps(FUNNEL))) is svg


def test_a_chart_is_drawn_once_per_distinct_data() -> None:
    """A run whose figures equal an earlier run's reuses its charts; any change to the data draws anew."""
    first = quarantine_reasons([{"reason": "invalid_phone", "count": 3}], 3)
    assert quarantine_reasons([{"count": 3, "reason": "invalid_phone"}], 3) is first  # key order does not matter
    changed = quarantine_reasons([{"reason": "invalid_phone", "count": 4}], 4)
    assert changed is not first and ">4<" in changed and ">4<" not in first


def test_charts_of_one_page_have_distinct_ids_and_only_those_referred_to() -> None:
    """Clip paths and markers are referred to by id: two charts on one page must not share one, and matplotlib's
    group ids (``figure_1``, ``axes_1`` in every chart) are dropped."""
    steps = [
        {"step": "prior", "level": None, "weight": -9.0, "cumulative": -9.0, "probability": 0.002},
        {"step": "phone", "level": "exact", "weight": 12.5, "cumulative": 3.5, "probability": 0.92},
        {"step": "final", "level": None, "weight": 0.0, "cumulative": 3.5, "probability": 0.92},
    ]
    thresholds = {"threshold": 0.9, "review_threshold": 0.5}
    charts = [
        waterfall(steps, thresholds, "waterfall-0"),
        waterfall(steps, thresholds, "waterfall-1"),
        quarantine_reasons([{"reason": "invalid_phone", "count": 3}, {"reason": "no_contact", "count": 1}], 4),
    ]
    ids = [re.findall(r'\sid="([^"]+)"', svg) for svg in charts]
    assert all(ids) and len({i for found in ids for i in found}) == sum(map(len, ids))
    for svg, found in zip(charts, ids, strict=True):
        assert set(found) == set(re.findall(r'(?:url\(#|href="#)([^)"]+)', svg))
    assert "merge" in charts[0] and "p ≥ 0.9" in charts[0]
