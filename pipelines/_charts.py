"""The quality report's charts: drawn with matplotlib at build time, inlined in the HTML as ``<svg>``.

No JavaScript, no image file, no font file: each chart is vector paths plus ``<text>`` elements. Choices:

- **Backend**: every figure is a ``matplotlib.figure.Figure`` on an explicit ``FigureCanvasSVG`` (no pyplot, so no
  GUI backend is ever chosen). matplotlib is imported on the first chart, not with this module.
- **Same data, same bytes**: ``svg.hashsalt`` is fixed per chart (the ids of clip paths and markers are hashes of
  it: one salt per chart also keeps ids unique within the page; the group ids nothing refers to are dropped), the
  SVG metadata (date, creator) is dropped, and the XML prologue and namespace URLs are cut (the HTML parser puts
  ``<svg>`` in its namespace by itself).
- **Text and fonts**: ``svg.fonttype = none``: labels stay text (selectable, small) and the page's CSS sets their
  font with a fallback chain (``PingFang SC``, ``Microsoft YaHei``, ``Noto Sans CJK SC`` …), so a Chinese source
  name renders with whatever CJK font the reader has. No CJK font is installed here (``fc-list :lang=zh`` is
  empty) and embedding one as paths would cost megabytes; matplotlib lays text out with DejaVu Sans, so a CJK
  label is measured a little narrow (its "missing glyph" warning is silenced). Labels drawn inside charts are
  code-side words (fields, reason codes, comparison levels) and source names, never personal values.
- **Math text off** (``text.parse_math``): a ``$`` in a source name is a dollar sign.

Every function takes plain report data (``report.json`` is enough to redraw) and returns SVG markup or ``""``
when there is nothing to draw. A chart is a pure function of that data, so the last `_KEPT` charts drawn in the
process are kept by their data: a run whose figures equal an earlier run's (a re-run that changed nothing, the
scheduled run of an unchanged source) does not draw them again (matplotlib: ~0.1 s a chart, half a small run).
"""

from __future__ import annotations

import functools
import io
import json
import math
import re
import unicodedata
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

__all__ = [
    "completeness_heatmap",
    "match_histogram",
    "match_weights",
    "quarantine_reasons",
    "reconciliation_funnel",
    "report_charts",
    "waterfall",
]

#: The page's palette (report.html uses the same colours).
BLUE, RED, GREEN, AMBER, GREY, INK, MUTED = "#3e7bfa", "#d92d20", "#067647", "#b54708", "#98a2b3", "#1d2330", "#667085"
LIGHT_RED, LIGHT_GREY = "#f4a3a0", "#eceff3"
WIDTH = 8.5  # inches (72 SVG units each): drawn at about 1.2× on a screen, 0.85× on A4

_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 8.5,
    "text.parse_math": False,
    "axes.edgecolor": GREY,
    "axes.labelcolor": INK,
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titley": 1.0,  # a fixed title position: matplotlib otherwise measures the tick labels to place it
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.labelcolor": INK,
    "ytick.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "path.simplify": True,
}
_PROLOGUE_END = re.compile(r"^.*?(?=<svg\b)", re.S)
_NAMESPACES = re.compile(r'\s(?:xmlns(?::\w+)?|version)="[^"]*"')
_SIZE = re.compile(r'\s(?:width|height)="[\d.]+pt"')
_FONT_FAMILY = re.compile(r"font-family: [^;\"]*;\s*")
_ID = re.compile(r'\sid="([^"]*)"')
_REFERENCE = re.compile(r'(?:url\(#|href="#)([^)"]+)')


#: How many drawn charts the process keeps (an SVG is 5-200 kB).
_KEPT = 64
_P = ParamSpec("_P")
_DRAWN: OrderedDict[str, str] = OrderedDict()


def _kept(chart: Callable[_P, str]) -> Callable[_P, str]:
    """``chart`` drawn once per distinct data: the last `_KEPT` results are kept, keyed by the chart and its
    arguments as canonical JSON."""

    @functools.wraps(chart)
    def drawn(*args: _P.args, **kwargs: _P.kwargs) -> str:
        key = json.dumps([chart.__name__, args, kwargs], sort_keys=True, ensure_ascii=False, default=str)
        if key in _DRAWN:
            _DRAWN.move_to_end(key)
            return _DRAWN[key]
        svg = chart(*args, **kwargs)
        _DRAWN[key] = svg
        if len(_DRAWN) > _KEPT:
            _DRAWN.popitem(last=False)
        return svg

    return drawn


def report_charts(report: Mapping[str, Any]) -> dict[str, Any]:
    """Every chart of a report as SVG markup: ``funnel``, ``quarantine``, ``completeness``, ``histogram``,
    ``weights`` and ``waterfalls`` (one per explained pair, in the order of ``matching.explanations``)."""
    matching = report.get("matching") or {}
    thresholds = matching.get("thresholds") or {}
    return {
        "funnel": reconciliation_funnel(report.get("funnel") or []),
        "quarantine": quarantine_reasons(
            report.get("quarantine") or [], (report.get("totals") or {}).get("quarantined")
        ),
        "completeness": completeness_heatmap(report.get("completeness") or {}),
        "histogram": match_histogram(matching.get("histogram") or {}, thresholds),
        "weights": match_weights(matching.get("model") or [], matching.get("prior")),
        "waterfalls": [
            waterfall(e.get("steps") or [], thresholds, f"waterfall-{i}")
            for i, e in enumerate(matching.get("explanations") or [])
        ],
    }


# ------------------------------------------------------------------------------------------------------ the charts


@_kept
def reconciliation_funnel(funnel: Sequence[Mapping[str, Any]]) -> str:
    """Per source (one panel each): rows read, taken away by skipping, parsing and rules, what is left (loaded) and
    the golden customers those rows became. The removed parts float where they leave the bar, so the panel proves
    read = skipped + unparseable + failed rules + loaded."""
    if not funnel or not any(s.get("read") for s in funnel):
        return ""
    cols = min(3, len(funnel))
    rows = math.ceil(len(funnel) / cols)
    labels = ["read", "skipped", "unparseable", "failed rules", "loaded", "golden customers"]
    height = 1.75 * rows + 0.1

    def draw(fig: Figure) -> None:
        axes = fig.subplots(rows, cols, squeeze=False, gridspec_kw={"wspace": 0.12, "hspace": 0.55})
        y = list(range(len(labels)))[::-1]
        for i, (ax, s) in enumerate(zip(axes.flat, funnel, strict=False)):
            read, skipped, broken = int(s["read"]), int(s["skipped"]), int(s["unparseable"])
            failed, loaded, customers = int(s["failed_rules"]), int(s["loaded"]), int(s["customers"])
            left = [0, read - skipped, read - skipped - broken, loaded, 0, 0]
            width = [read, skipped, broken, failed, loaded, customers]
            ends = [lo + w for lo, w in zip(left, width, strict=True)]
            _bars(ax, left, ends, y, 0.66, [GREY, LIGHT_RED, RED, AMBER, BLUE, GREEN], horizontal=True)
            top = max(read, customers, 1)
            for yy, lo, w in zip(y, left, width, strict=True):
                ax.text(lo + w + top * 0.02, yy, f"{w:,}", va="center", fontsize=7.5, color=INK)
            _labels(ax, "y", y, labels if i % cols == 0 else [], 8.5)
            ax.set_xlim(0, top * 1.25)
            ax.set_title(_short(str(s["source"]), 40), fontsize=9)
            ax.tick_params(axis="x", labelsize=7)
            ax.spines["left"].set_visible(False)
            ax.xaxis.set_major_locator(_integer_locator(4))
        for ax in list(axes.flat)[len(funnel) :]:
            ax.set_visible(False)

    margins = (_text_width("golden customers", 8.5) + 0.15, 0.1, 0.3, 0.3)
    return _render("funnel", "Reconciliation funnel per source", (WIDTH, height), margins, draw)


@_kept
def quarantine_reasons(quarantine: Sequence[Mapping[str, Any]], rows: int | None) -> str:
    """Quarantined rows per reason code, largest first (a row with several reasons counts under each)."""
    if not quarantine:
        return ""
    items = sorted(quarantine, key=lambda q: (-int(q["count"]), str(q["reason"])))
    reasons = [str(q["reason"]) for q in items][::-1]
    counts = [int(q["count"]) for q in items][::-1]

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        _bars(ax, [0] * len(counts), counts, range(len(counts)), 0.62, RED, horizontal=True)
        top = max(counts)
        for y, n in enumerate(counts):
            ax.text(n + top * 0.01, y, f"{n:,}", va="center", fontsize=7.5, color=INK)
        _labels(ax, "y", range(len(reasons)), reasons, 8.5)
        ax.set_xlim(0, top * 1.1)
        ax.set_ylim(-0.6, len(counts) - 0.4)
        ax.set_xlabel("rows (a row with several reasons counts under each)")
        ax.spines["left"].set_visible(False)
        ax.xaxis.set_major_locator(_integer_locator(6))
        if rows is not None:
            ax.set_title(f"{sum(counts):,} reasons on {rows:,} quarantined rows", fontweight="normal", color=MUTED)

    height = 0.85 + 0.22 * len(items)
    margins = (max(_text_width(r, 8.5) for r in reasons) + 0.15, 0.15, 0.45, 0.3)
    return _render("quarantine", "Quarantine reasons", (WIDTH, height), margins, draw)


@_kept
def completeness_heatmap(completeness: Mapping[str, Any]) -> str:
    """Share of candidate rows with a value (in %), per source (rows) and field (columns); a field a source does not
    map is left blank (a dash)."""
    sources = [_short(str(s), 30) for s in completeness.get("sources") or []]
    fields, cells = completeness.get("fields") or [], completeness.get("cells")
    if not sources or not fields or not cells:
        return ""

    def draw(fig: Figure) -> None:
        from matplotlib import colormaps

        ax = fig.add_subplot()
        cmap = colormaps["Blues"].with_extremes(bad=LIGHT_GREY)
        grid = [[math.nan if v is None else 0.08 + 0.8 * float(v) for v in row] for row in cells]
        ax.pcolormesh(grid, cmap=cmap, vmin=0, vmax=1, edgecolors="white", linewidth=1.2)
        for i, row in enumerate(cells):
            for j, v in enumerate(row):
                text = "–" if v is None else f"{v * 100:.0f}"
                ax.text(
                    j + 0.5,
                    i + 0.5,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if v is not None and v > 0.6 else INK,
                )
        _labels(ax, "x", [j + 0.5 for j in range(len(fields))], fields, 8.5, rotation=45)
        _labels(ax, "y", [i + 0.5 for i in range(len(sources))], sources, 8.5)
        ax.set_xlim(0, len(fields))
        ax.set_ylim(len(sources), 0)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)

    bottom = max(_text_width(f, 8.5) for f in fields) * 0.72 + 0.2
    height = bottom + 0.15 + 0.3 * len(sources)
    margins = (max(_text_width(s, 8.5) for s in sources) + 0.15, 0.1, bottom, 0.1)
    return _render("completeness", "Completeness per source and field", (WIDTH, height), margins, draw)


@_kept
def match_histogram(histogram: Mapping[str, Any], thresholds: Mapping[str, Any]) -> str:
    """How many scored pairs fell in each match-probability bin (log scale), with the merge and review lines."""
    counts = histogram.get("counts") or []
    if not counts or not any(counts):
        return ""
    step = 1 / len(counts)

    def draw(fig: Figure) -> None:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

        ax = fig.add_subplot()
        threshold, review = thresholds.get("threshold"), thresholds.get("review_threshold")
        edges = [i * step for i in range(len(counts))]
        colour = [
            GREEN
            if threshold is not None and e + step / 2 >= threshold
            else AMBER
            if review is not None and e + step / 2 >= review
            else GREY
            for e in edges
        ]
        drawn = [i for i, n in enumerate(counts) if n]  # a log scale has no room for an empty bin
        _bars(
            ax,
            [0.7] * len(drawn),
            [counts[i] for i in drawn],
            [edges[i] + step / 2 for i in drawn],
            step,
            [colour[i] for i in drawn],
            horizontal=False,
            edge="white",
        )
        ax.set_yscale("log")
        top = max(counts) * 4
        ax.set_ylim(0.7, top)
        ax.yaxis.set_major_locator(LogLocator(base=10))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xlim(0, 1)
        for value, name, colour_, style in ((review, "review", AMBER, ":"), (threshold, "merge", GREEN, "--")):
            if value is not None:
                ax.axvline(value, color=colour_, linestyle=style, linewidth=1.3)
                ax.text(
                    value - 0.005, top * 0.75, f"{name} ≥ {value:g}", color=colour_, fontsize=7.5, va="top", ha="right"
                )
        ax.set_xlabel("match probability")
        ax.set_ylabel("pairs (log scale)")
        below, band, above = histogram.get("below"), histogram.get("review"), histogram.get("merge")
        if above is not None:
            ax.set_title(
                f"{sum(counts):,} pairs scored: {above:,} at or above the merge line, {band:,} for review, "
                f"{below:,} below",
                fontweight="normal",
                color=MUTED,
            )

    return _render("histogram", "Match probability of the scored pairs", (WIDTH, 2.6), (0.75, 0.15, 0.45, 0.3), draw)


@_kept
def match_weights(model: Sequence[Mapping[str, Any]], prior: float | None) -> str:
    """The trained model as Splink draws it: one bar per comparison level, its match weight log2(m/u); the prior
    on top. Positive weights (evidence for a match) point right, negative ones left."""
    if not model:
        return ""
    labels, weights, groups = [], [], []
    if prior:
        labels.append("prior (before any comparison)")
        weights.append(math.log2(prior / (1 - prior)) if 0 < prior < 1 else 0.0)
        groups.append("")
    for level in model:
        labels.append(f"{level['comparison']}: {level['level']}" + (" (tf)" if level.get("tf_adjusted") else ""))
        weights.append(float(level["weight"]))
        groups.append(str(level["comparison"]))
    y, pos, previous = [], 0.0, None
    for g in groups:  # a gap between comparisons
        if previous is not None and g != previous:
            pos += 0.6
        y.append(-pos)
        pos += 1
        previous = g

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        colour = [GREY if not g else (BLUE if w >= 0 else RED) for g, w in zip(groups, weights, strict=True)]
        _bars(ax, [0] * len(weights), weights, y, 0.72, colour, horizontal=True)
        ax.axvline(0, color=INK, linewidth=0.8)
        span = max(abs(w) for w in weights) or 1
        for yy, w in zip(y, weights, strict=True):
            ax.text(
                w + math.copysign(span * 0.012, w or 1),
                yy,
                f"{w:+.2f}",
                va="center",
                ha="left" if w >= 0 else "right",
                fontsize=6.5,
                color=INK,
            )
        _labels(ax, "y", y, labels, 7)
        ax.set_xlim(min(min(weights), 0) - span * 0.14, max(max(weights), 0) + span * 0.14)
        ax.set_ylim(min(y) - 0.7, 0.7)
        ax.set_xlabel("match weight log2(m / u): agreeing at this level multiplies the odds by 2^weight")
        ax.spines["left"].set_visible(False)
        ax.grid(axis="x", color=LIGHT_GREY, linewidth=0.6)
        ax.set_axisbelow(True)

    height = 0.7 + 0.19 * (pos + 1)
    margins = (max(_text_width(label, 7) for label in labels) + 0.15, 0.15, 0.5, 0.1)
    return _render("weights", "Match weights per comparison level", (WIDTH, height), margins, draw)


@_kept
def waterfall(steps: Sequence[Mapping[str, Any]], thresholds: Mapping[str, Any], name: str = "waterfall") -> str:
    """One pair's match weight built up step by step: each comparison's bar floats from the weight so far to the
    weight after it; the last bar is the total. The right axis reads the same heights as probabilities; the dashed
    line is the merge threshold, the dotted one the review threshold."""
    if not steps or any(s.get("cumulative") is None for s in steps):
        return ""
    labels, lows, heights, colours = [], [], [], []
    before = 0.0
    for s in steps:
        kind, weight, total = s["step"], float(s["weight"]), float(s["cumulative"])
        if kind == "final":
            labels.append("final")
            lows.append(0.0)
            heights.append(total)
            colours.append(INK)
        else:
            level = s.get("level")
            labels.append(kind if kind in ("prior", "related") or level is None else f"{kind}\n{_short(level, 18)}")
            start = 0.0 if kind == "prior" else before
            lows.append(start)
            heights.append(total - start)
            colours.append(GREY if kind == "prior" else (BLUE if weight > 0 else RED if weight < 0 else LIGHT_GREY))
        before = total

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        x = list(range(len(labels)))
        _bars(ax, lows, [lo + h for lo, h in zip(lows, heights, strict=True)], x, 0.7, colours, horizontal=False)
        for i in range(len(x) - 1):  # the connectors that make it a waterfall
            level = lows[i] + heights[i]
            ax.plot([i + 0.35, i + 0.65], [level, level], color=MUTED, linewidth=0.6)
        for xx, lo, h, s in zip(x, lows, heights, steps, strict=True):
            w = float(s["cumulative"] if s["step"] == "final" else s["weight"])
            if s["step"] == "final":
                text = f"{w:.2f} (p = {float(s['probability']):.4g})"
            else:
                text = "0" if w == 0 else f"{w:+.2f}"
            ax.text(xx, max(lo, lo + h), text, ha="center", va="bottom", fontsize=6.5, color=INK)
        ax.axhline(0, color=INK, linewidth=0.6)
        _labels(ax, "x", x, labels, 6.5)
        ax.set_xlim(-0.6, len(x) - 0.4)
        ax.set_ylabel("match weight so far")
        ends = [lo + h for lo, h in zip(lows, heights, strict=True)] + lows
        top, bottom = max(ends), min(ends)
        for key, name, colour, style in (
            ("threshold", "merge", GREEN, "--"),
            ("review_threshold", "review", AMBER, ":"),
        ):
            p = thresholds.get(key)
            if p is not None and 0 < p < 1:
                w = _weight(p)
                ax.axhline(w, color=colour, linestyle=style, linewidth=1)
                ax.text(
                    1.005,
                    w,
                    f"{name}\np ≥ {p:g}",
                    transform=ax.get_yaxis_transform(),
                    color=colour,
                    fontsize=6.5,
                    va="center",
                    ha="left",
                )
                top, bottom = max(top, w), min(bottom, w)
        pad = (top - bottom) * 0.14 + 0.5
        ax.set_ylim(bottom - pad, top + pad)

    return _render(name, "How the match weight of one pair adds up", (WIDTH, 2.4), (0.6, 0.55, 0.4, 0.1), draw)


# ------------------------------------------------------------------------------------------------------ rendering


def _render(
    name: str,
    title: str,
    size: tuple[float, float],
    margins: tuple[float, float, float, float],
    draw: Callable[[Figure], None],
) -> str:
    """Draw one figure and return it as inline SVG (see the module's docstring for what makes it reproducible).

    ``margins`` (left, right, bottom, top, in inches) are set from the labels' lengths rather than by a layout
    engine: measuring every label once more costs about as much as drawing the chart."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    width, height = size
    left, right, bottom, top = margins
    with _style(name):
        fig = Figure(figsize=size)
        canvas = FigureCanvasSVG(fig)
        fig.subplots_adjust(
            left=min(left / width, 0.6),
            right=1 - right / width,
            bottom=min(bottom / height, 0.7),
            top=max(1 - top / height, min(bottom / height, 0.7) + 0.05),
        )
        draw(fig)
        buffer = io.StringIO()
        # matplotlib's stubs leave print_svg unannotated
        canvas.print_svg(  # type: ignore[no-untyped-call]
            buffer, metadata={"Date": None, "Creator": None, "Format": None, "Type": None}
        )
    return _inline(buffer.getvalue(), name, title)


@contextmanager
def _style(name: str) -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context({**_RC, "svg.hashsalt": f"crmkit-{name}"}), warnings.catch_warnings():
        # a CJK label is drawn as text and rendered by the reader's fonts; DejaVu Sans only measures it
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
        yield


def _inline(svg: str, name: str, title: str) -> str:
    """matplotlib's SVG document as an element for an HTML page: no prologue, no namespace URLs, no fixed size
    (it fills its box, keeping its aspect ratio), the font left to the page's CSS, a title for screen readers.

    matplotlib names every group (``figure_1``, ``axes_1``, ``line2d_7`` …) alike in every chart: as HTML ids on
    one page they would repeat, so only the ids something refers to are kept (clip paths and markers: hashes of
    the chart's own salt)."""
    svg = _PROLOGUE_END.sub("", svg, count=1)
    head, _, body = svg.partition(">")
    head = _SIZE.sub("", _NAMESPACES.sub("", head))
    head = f'{head} class="chart chart-{name}" role="img" aria-label="{title}"'
    referenced = set(_REFERENCE.findall(body))
    body = _ID.sub(lambda m: m.group(0) if m.group(1) in referenced else "", body)
    return f"{head}><title>{title}</title>{_FONT_FAMILY.sub('', body).rstrip()}"


def _bars(
    ax: Axes,
    starts: Sequence[float],
    ends: Sequence[float],
    centres: Sequence[float],
    thickness: float,
    colours: str | Sequence[str],
    *,
    horizontal: bool,
    edge: str | None = None,
) -> None:
    """Bars from ``starts`` to ``ends`` as one polygon collection: the same picture as ``bar``/``barh`` at a
    fraction of the cost (one artist instead of a transformed patch per bar)."""
    from matplotlib.collections import PolyCollection

    half = thickness / 2
    boxes = []
    for a, b, c in zip(starts, ends, centres, strict=True):
        if horizontal:
            boxes.append([(a, c - half), (b, c - half), (b, c + half), (a, c + half)])
        else:
            boxes.append([(c - half, a), (c + half, a), (c + half, b), (c - half, b)])
    bars = PolyCollection(boxes, facecolors=colours, edgecolors=edge or "none", linewidths=0.4 if edge else 0)
    ax.add_collection(bars, autolim=True)
    ax.autoscale_view()


def _labels(
    ax: Axes, axis: str, at: Sequence[float], labels: Sequence[str], points: float, rotation: float = 0
) -> None:
    """Category labels along an axis as plain text, without tick marks: a matplotlib tick is two lines and two
    texts copied from a template, several times the cost of one text, and a chart here can have fifty."""
    if axis == "y":
        ax.set_yticks([])
        for y, label in zip(at, labels, strict=False):
            ax.text(-0.01, y, label, transform=ax.get_yaxis_transform(), ha="right", va="center", fontsize=points)
    else:
        ax.set_xticks([])
        for x, label in zip(at, labels, strict=False):
            ax.text(
                x,
                -0.03,
                label,
                transform=ax.get_xaxis_transform(),
                va="top",
                fontsize=points,
                ha="right" if rotation else "center",
                rotation=rotation,
                rotation_mode="anchor" if rotation else None,
                multialignment="center",
            )


def _text_width(text: str, points: float) -> float:
    """About how wide ``text`` is drawn in DejaVu Sans at ``points`` size, in inches (a wide CJK character counts
    as one em, any other as 0.62 em): enough to leave room for a label without measuring it."""
    ems = sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.62 for ch in max(text.split("\n"), key=len))
    return ems * points / 72


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _weight(p: float) -> float:
    return math.log2(p / (1 - p))


def _integer_locator(bins: int) -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=bins, integer=True)
