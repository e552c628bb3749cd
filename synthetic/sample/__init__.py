"""Deterministic sample data: what a consultant really receives, with the truth behind it.

``generate_sample(entities, out_dir, seed)`` draws a population of people (about 70% Chinese, 30% Western,
with deliberate hard negatives: common names shared by different people, fathers and sons of the same name,
families sharing a landline and an address, colleagues sharing a switchboard and an e-mail domain) and writes
each person into one to four records across three messy sources:

- ``sales.xlsx``: one sheet per salesperson, headers that differ per sheet, title rows, numeric and full-width
  phones, Excel dates and text dates, an empty row and a 合计 row;
- ``legacy_crm.csv``: a GB18030, CRLF export with pinyin-abbreviation columns and one malformed row;
- ``signups.jsonl``: web sign-ups with double submissions, spam, one truncated line and one blank line;

plus ``truth.csv`` (one row per row a connector reads), ``truth_entities.csv`` and ``crmkit.yaml`` (a project
config that migrates the three files). The same seed gives the same bytes.
"""

from __future__ import annotations

import csv
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import names as T
from ._population import Person, PopulationBuilder, build_population
from ._sources import (
    LEGACY,
    SALES,
    WEB,
    TruthRow,
    plan_records,
    write_legacy,
    write_sales,
    write_signups,
)

__all__ = ["SampleManifest", "build_demo", "generate_sample", "render_config"]

logger = logging.getLogger(__name__)

SALES_FILE, LEGACY_FILE, WEB_FILE = "sales.xlsx", "legacy_crm.csv", "signups.jsonl"
TRUTH_FILE, ENTITIES_FILE, CONFIG_FILE = "truth.csv", "truth_entities.csv", "crmkit.yaml"
TRUTH_COLUMNS = ("source", "source_key", "entity_id", "row_kind")
ENTITY_COLUMNS = (
    "entity_id",
    "kind",
    "culture",
    "canonical_name",
    "gender",
    "birth_date",
    "company",
    "household_id",
    "hard_negative_group",
    "hard_negative_reason",
    "records",
)


@dataclass(frozen=True)
class SampleManifest:
    """What ``generate_sample`` wrote.

    Attributes:
        out_dir: the folder holding every file.
        seed: the seed the sample was drawn with.
        entities: number of real people behind the records.
        files: role -> path (``sales_workbook``, ``legacy_crm``, ``web_signups``, ``truth``,
            ``truth_entities``, ``config``).
        rows: source name -> rows a connector reads from it (one truth row each).
        row_kinds: source name -> row kind (``record``, ``spam``, ``malformed``, ``empty``, ``total``)
            -> count.
        sheets: the workbook's sheet names, in order.
        chinese_entities: people with Chinese names; the rest are Western.
    """

    out_dir: Path
    seed: int
    entities: int
    files: dict[str, Path]
    rows: dict[str, int]
    row_kinds: dict[str, dict[str, int]]
    sheets: tuple[str, ...]
    chinese_entities: int
    western_entities: int
    seconds: float = field(default=0.0, compare=False)

    @property
    def records(self) -> int:
        """Rows that are real records of a person (every source)."""
        return sum(kinds.get("record", 0) for kinds in self.row_kinds.values())


def generate_sample(entities: int, out_dir: Path, seed: int = 42) -> SampleManifest:
    """Write a deterministic messy sample of ``entities`` people into ``out_dir``, with its truth and config.

    Args:
        entities: number of real people; each appears in 1-4 records (about 1.6 on average).
        out_dir: folder to write into (created if missing; existing sample files are overwritten).
        seed: random seed; the same seed gives byte-identical files.

    Returns:
        A manifest of the files written and the row counts per source and row kind.
    """
    if entities < 1:
        raise ValueError(f"entities must be at least 1, got {entities}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    builder = PopulationBuilder(entities, rng)
    people = build_population(entities, rng, builder)
    records = plan_records(people, builder)
    by_source = {s: [r for r in records if r.source == s] for s in (SALES, LEGACY, WEB)}

    files = {
        SALES: out_dir / SALES_FILE,
        LEGACY: out_dir / LEGACY_FILE,
        WEB: out_dir / WEB_FILE,
        "truth": out_dir / TRUTH_FILE,
        "truth_entities": out_dir / ENTITIES_FILE,
        "config": out_dir / CONFIG_FILE,
    }
    sales_truth, specs = write_sales(files[SALES], by_source[SALES], rng)
    legacy_truth = write_legacy(files[LEGACY], by_source[LEGACY], rng)
    web_truth = write_signups(files[WEB], by_source[WEB], builder)
    truth = sales_truth + legacy_truth + web_truth
    _write_csv(files["truth"], TRUTH_COLUMNS, truth)
    _write_csv(files["truth_entities"], ENTITY_COLUMNS, _entity_rows(people))
    files["config"].write_text(
        render_config(project="sample", data_prefix="", store_url="sqlite:///crmkit.db"), encoding="utf-8"
    )

    kinds: dict[str, dict[str, int]] = {}
    for source, _, _, kind in truth:
        kinds.setdefault(source, Counter())[kind] += 1
    manifest = SampleManifest(
        out_dir=out_dir,
        seed=seed,
        entities=entities,
        files={
            "sales_workbook": files[SALES],
            "legacy_crm": files[LEGACY],
            "web_signups": files[WEB],
            "truth": files["truth"],
            "truth_entities": files["truth_entities"],
            "config": files["config"],
        },
        rows={s: sum(kinds.get(s, {}).values()) for s in (SALES, LEGACY, WEB)},
        row_kinds={s: dict(sorted(kinds.get(s, {}).items())) for s in (SALES, LEGACY, WEB)},
        sheets=tuple(spec.title for spec in specs),
        chinese_entities=sum(p.cn for p in people),
        western_entities=sum(not p.cn for p in people),
        seconds=time.perf_counter() - started,
    )
    logger.info(
        "sample of %s entities, %s records written to %s in %.1f s",
        entities,
        manifest.records,
        out_dir,
        manifest.seconds,
    )
    return manifest


def _write_csv(path: Path, header: tuple[str, ...], rows: list[TruthRow] | list[tuple[str, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _entity_rows(people: list[Person]) -> list[tuple[str, ...]]:
    """One row per person; ``hard_negative_group`` links different people who are easy to take for one."""
    names = Counter(p.name for p in people)
    keys: dict[str, tuple[str, str]] = {}
    for p in people:
        if p.father_son is not None:
            keys[p.entity_id] = (f"fs{p.father_son}", "father_son")
        elif names[p.name] > 1:
            keys[p.entity_id] = (f"name:{p.name}", "same_name")
        elif p.household is not None:
            keys[p.entity_id] = (f"hh{p.household}", "household")
    sizes = Counter(k for k, _ in keys.values())
    group_ids: dict[str, str] = {}
    rows: list[tuple[str, ...]] = []
    for p in sorted(people, key=lambda x: x.entity_id):
        key, reason = keys.get(p.entity_id, ("", ""))
        if key and sizes[key] > 1:
            group = group_ids.setdefault(key, f"HN{len(group_ids) + 1:05d}")
        else:
            group = reason = ""
        rows.append(
            (
                p.entity_id,
                "person",
                "cn" if p.cn else "western",
                p.name,
                p.gender,
                p.birth.isoformat() if p.birth else "",
                p.company.canonical if p.company else "",
                f"H{p.household:05d}" if p.household is not None else "",
                group,
                reason,
                str(p.records),
            )
        )
    return rows


# ------------------------------------------------------------------------------------------------ config
def _yaml_key(key: str) -> str:
    return f'"{key}"' if any(ch in key for ch in ":#{}[],&*?|<>=!%@`'\"") else key


def _mapping_lines(pairs: list[tuple[str, str, str]], indent: str) -> list[str]:
    width = max(len(_yaml_key(k)) + sum(1 for ch in k if ord(ch) > 0x2E80) for k, _, _ in pairs) + 2
    value_width = max(len(fld) for _, fld, _ in pairs) + 2
    lines = []
    for key, fld, comment in pairs:
        ykey = _yaml_key(key)
        pad = width - len(ykey) - sum(1 for ch in key if ord(ch) > 0x2E80)
        text = f"{indent}{ykey}:{' ' * pad}{fld}"
        lines.append(f"{text}{' ' * (value_width - len(fld))}# {comment}" if comment else text)
    return lines


def render_config(project: str, data_prefix: str, store_url: str, reports_dir: str = "reports") -> str:
    """The project YAML that migrates the three sample files (``data_prefix`` is prepended to their paths)."""
    sales: list[tuple[str, str, str]] = []
    seen: dict[str, None] = {}
    for col, variants in T.SHEET_HEADERS_CN.items():
        target = T.SHEET_FIELDS[col]
        if target is None:
            continue
        for v in variants:
            if v not in seen:
                seen[v] = None
                note = "a phone column: mobile or landline by the number" if col == "landline" else ""
                sales.append((v, target, note))
    english = [(h, T.SHEET_FIELDS[c] or "", "") for c, h in T.SHEET_HEADERS_EN.items() if h not in seen]
    legacy = [(c, f or "", meaning) for c, meaning, f in T.LEGACY_COLUMNS if f]
    web = [(k, f, "") for k, f in T.SIGNUP_KEYS if f]
    lines = [
        f"# crmkit project: {project}",
        "# Three messy sources about the same customers -> one clean, deduplicated CRM.",
        "# Run it with:  crmkit migrate <this file>",
        "# Relative paths (data files, sqlite database, reports) resolve against this file's folder.",
        "",
        f"project: {project}",
        "",
        "store:",
        f"  url: {store_url}   # any SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db",
        "",
        f"reports_dir: {reports_dir}   # quality reports (report.html, report.json) land here",
        "",
        "defaults:",
        "  region: CN              # phone numbers without a country code are read as Chinese numbers",
        "  date_order: ymd         # ymd | dmy | mdy: how to read an ambiguous numeric date such as 85.3.5",
        "",
        "# Each source: a connector (kind + params) and a mapping from source columns to canonical fields",
        "# (crm_store/schema.py CANONICAL_FIELDS). Several columns may map to one field (values are joined).",
        "# Columns left out of a mapping are not lost: they land in the customer's `attributes`.",
        "sources:",
        "  # Sales workbook: one sheet per salesperson, each with its own headers; title rows above the",
        "  # header, empty rows and 合计 (total) rows are detected by the connector.",
        "  - name: sales_workbook",
        "    kind: xlsx",
        "    # xlsx params: path; optional sheets (default: all) and header_row (default: detected)",
        f"    params: {{path: {data_prefix}sales.xlsx}}",
        "    mapping:",
        "      # Chinese sheets: every variant a salesperson used (序号/编号 stay unmapped -> attributes)",
        *_mapping_lines(sales, "      "),
        "      # Tom's sheet uses English headers",
        *_mapping_lines(english, "      "),
        "",
        "  # Legacy CRM export: GB18030, CRLF, pinyin-abbreviation column names.",
        "  # KHBH (客户编号, the old customer number) stays unmapped and is kept in attributes.",
        "  - name: legacy_crm",
        "    kind: csv",
        "    # csv params: path; optional encoding (default: detected), delimiter (sniffed), header_row",
        f"    params: {{path: {data_prefix}legacy_crm.csv}}",
        "    mapping:",
        *_mapping_lines(legacy, "      "),
        "",
        "  # Web sign-ups, one JSON object per line; utm_source and consent land in attributes.",
        "  - name: web_signups",
        "    kind: jsonl",
        "    # jsonl params: path",
        f"    params: {{path: {data_prefix}signups.jsonl}}",
        "    mapping:",
        *_mapping_lines(web, "      "),
        "",
        "# Validation: rows failing these are quarantined with a reason code, never dropped.",
        "rules:",
        "  # a customer is a person, a company or a number: a B2B account without a contact person, or a consumer",
        "  # known by a mobile only (客户名称 个人/散户), is a customer too",
        "  require_any: [[full_name, company, phone, email]]",
        "",
        "# Matching (Fellegi-Sunter, trained without labels on each run): pairs with a match probability of at",
        "# least `threshold` merge; pairs between `review_threshold` and `threshold` are listed for review.",
        "match:",
        "  threshold: 0.9",
        "  review_threshold: 0.5",
        "",
    ]
    return "\n".join(lines)


def build_demo(repo_root: Path, entities: int = 150, seed: int = 42) -> SampleManifest:
    """Regenerate the bundled demo: ``samples/demo/`` and ``config/demo.yaml`` (the README's config example).

    After changing the generator, run from the repository root
    ``python -c "from pathlib import Path; from synthetic.sample import build_demo as b; b(Path('.'))"``;
    a test fails while the demo is stale.
    """
    manifest = generate_sample(entities, repo_root / "samples" / "demo", seed=seed)
    (repo_root / "config" / "demo.yaml").write_text(
        render_config(
            project="demo",
            data_prefix="../samples/demo/",
            store_url="sqlite:///../out/demo/crm.db",
            reports_dir="../out/demo/reports",
        ),
        encoding="utf-8",
    )
    return manifest
