"""A Chinese SME's customer-data hand-over, with ground truth: an independent development set for matching.

``generate_handover(people, out_dir, seed)`` draws a world of people (business contacts at a few thousand
small and medium enterprises, and consumers) as a 聊城 (Shandong) manufacturer would have met them between
2010 and 2024, and writes every person into one to four rows of three sources, each messy in its own way:

- ``legacy_crm.db``: the old in-house CRM, a SQLite table ``KHXX`` with pinyin-abbreviation columns (KHMC,
  LXR, SJ, DH, DZYX, ZT, SCBZ, CJSJ ...), consumers' own names in the mandatory 客户名称, placeholders in
  mandatory fields, the vendor's test rows and deleted rows;
- ``sales_workbook.xlsx``: nine sheets, one per sales rep, each with its own headers and habits;
- ``web_signups.jsonl``: the website's form (changed in 2022), double submissions, e-mail typos and spam;

plus ``truth.csv`` (``source, source_key, entity_id, row_kind`` for every row a crmkit connector reads, keys
as the connectors write them; ``entity_id`` is empty for spam, test and layout rows, and set on a deleted row
when it was a real person's), ``hard_negatives.csv`` (``entity_a, entity_b, kind``: different people who look
alike), ``entities.csv`` (one row per person) and ``crmkit.yaml`` (the project file a consultant would write
from the README). The same seed gives the same bytes.

The vocabularies (``_vocab``) and habits are written from how such data looks, not from crmkit's code.

Rates (targets; the realised numbers vary a little with the seed and the size):

| phenomenon | rate |
| --- | --- |
| business contacts / consumers | 75% / 25% of people |
| Western expats | 2.5% of business contacts (x2.5 in trade hubs: 上海, 深圳, 青岛 ...; x0.35 elsewhere) |
| Western consumers | 0.4% of consumers |
| Chinese with an English name (Kevin Wang) | 6% of business contacts (x2.2 in trade hubs, x0.5 elsewhere) |
| compound surnames (欧阳, 司马, 上官 ...) | about 0.1% (census shares; 王 7.1%, 李 7.0%, 张 6.6% ...) |
| one-character given names | 28% of people born before 1970, 22% 1970-89, 10% after |
| birth date known (some rows show it) | 35% of people |
| rows per person | 1: 56%, 2: 30%, 3: 10%, 4: 4% (mean 1.62), plus double submissions |
| source of a row: legacy / workbook / web | business 45/38/17%, consumers 35/12/53%, expats 20/50/30% |
| contacts per company | 1: 34%, 2: 20%, 3: 12%, 4: 8%, 5: 6%, 6-8: 8%, 9-15: 7%, 16-30: 3.5%, 31-60: 1.5% |
| registered name starts with | 泰安市 55%, 泰安 25%, the province 10%, none 10% (half with （泰安） inside) |
| legal form | 有限公司 70%, 有限责任公司 12%, 股份有限公司 7%, 集团(有限公司) 7%, 厂 3%, 经营部 1% |
| company e-mail | own domain 55%; else a shared free-mail box (hxgg2008@163.com, a QQ box) |
| staff address on the company domain | 60% of staff of companies with a domain |
| direct landline | 22% of staff of companies of 3+ (11% of bosses); 25% of them shared with a colleague |
| fax | 30% of companies (half the switchboard number itself) |
| new mobile between first and last row | 25% of people with 2+ rows (4% of those twice) |
| abandoned mobile given to another person of the data | 30% of abandoned numbers, 180-900 days later |
| job change between rows | 18% of business contacts with 2+ rows (60% stay in the city) |
| move between rows | 12% of single consumers with 2+ rows |
| second (work) mobile | 10% of Chinese business contacts |
| assistant's mobile on the boss's rows | 30% of companies with an assistant (3+ contacts) |
| households (couple + children, 2-4 people) | 30% of consumers |
| household home landline / one mobile shared / one e-mail shared | 45% / 15% / 5% of households |
| father and son of one name | 10% of companies of 3+ with a male boss born before 1969; 12% of households with a son |
| two colleagues of one name | 5% of companies of 4+ (besides namesakes by chance) |
| legacy: test rows | 0.5% of rows (at least 3), 30% of them deleted too |
| legacy: deleted rows | an older, deleted copy for 4.5% of rows |
| legacy: placeholder / damaged mobile | 5% (13800000000, 11111111111, 无, -) / 1.5% |
| legacy: placeholder e-mail (test@test.com, 无, -) | 60% of rows without an e-mail entered after 2015 |
| legacy: consumers' 客户名称 | own name 80%, 个人/散户/个人客户/零售 20%; 联系人 empty 85% |
| legacy: 聊城 (0635) landline without its area code | about 22% |
| workbook: phone cell stored as a number | 20-70% by sheet (landlines 0.3x that, losing the leading 0) |
| workbook: mobile text as 13812345678.0 / 1.38123E+10 / full-width | 6% / 0.5% / 8% of text cells |
| workbook: mixed 电话 column | mobile 60%, landline 12%, two numbers or 微信同号 in one cell 28% |
| workbook: company as registered / short (正宇钢管) / brand (正宇) / city+brand | 42 / 18 / 8 / 8% |
| workbook: company without city / English / traditional / typo / other suffix | 6 / 4 / 2.5 / 3 / 3% |
| workbook: name with a title (陈总, 王伟经理) / spaced (王　伟) / pinyin / traditional | 8 / 6 / 3 / 2.5% |
| workbook: layout rows | blank 1.2%; 合计/总计/小计/Total on 7 sheets; pasted header; sections; footnote |
| web: spam | 9% of lines: bot bursts 55%, fake people 22%, adverts 23% |
| web: double submission within 10 minutes | 7% of sign-ups |
| e-mail typos (qq.con, 163.cm, ＠, no @) | web 5%, workbook 2%, legacy 1.5% of e-mails |

Hard-negative kinds (``hard_negatives.csv``): ``colleague_switchboard`` (a switchboard, fax or shared direct
line on both colleagues' record rows), ``colleague_role_email`` (sales@…, the company's 163 box, on both),
``colleague_domain`` (personal addresses on one company domain), ``assistant_mobile`` (the assistant's mobile on
the boss's rows), ``household`` (members of one household; or a shared home landline, mobile or mailbox),
``father_son`` (one name, 23-32 years apart), ``recycled_mobile`` (one number on two people's rows, years apart),
``same_name`` (one name, one city) and ``same_name_colleague`` (one name, one company). Value-sharing kinds are
listed only when the value shows on a record row of both people.
"""

from __future__ import annotations

import csv
import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ._config import render_config
from ._legacy import write_legacy
from ._people import LEGACY, SOURCES, WEB, WORKBOOK, Rates, build_world
from ._signups import write_signups
from ._truth import ENTITY_COLUMNS, HARD_NEGATIVE_COLUMNS, KINDS, entity_rows, hard_negatives
from ._workbook import write_workbook

__all__ = ["HARD_NEGATIVE_KINDS", "ROW_KINDS", "HandoverManifest", "Rates", "generate_handover"]

logger = logging.getLogger(__name__)

LEGACY_FILE, WORKBOOK_FILE, SIGNUPS_FILE = "legacy_crm.db", "sales_workbook.xlsx", "web_signups.jsonl"
TRUTH_FILE, HARD_NEGATIVES_FILE, ENTITIES_FILE, CONFIG_FILE = (
    "truth.csv",
    "hard_negatives.csv",
    "entities.csv",
    "crmkit.yaml",
)
TRUTH_COLUMNS = ("source", "source_key", "entity_id", "row_kind")
#: What a row a connector reads is: a customer, spam, a test row, a deleted row, or workbook layout.
ROW_KINDS = ("record", "spam", "test", "deleted", "layout")
HARD_NEGATIVE_KINDS = KINDS


@dataclass(frozen=True)
class HandoverManifest:
    """What ``generate_handover`` wrote.

    Attributes:
        out_dir: the folder holding every file.
        seed: the seed the data was drawn with.
        people: number of real people behind the records.
        files: role -> path: ``legacy_db`` (SQLite), ``sales_workbook`` (xlsx), ``web_signups`` (JSON Lines),
            ``truth``, ``hard_negatives``, ``entities``, ``config``.
        rows: source name -> rows a connector reads from it (one truth row each).
        row_kinds: source name -> row kind -> rows.
        hard_negatives: hard-negative kind -> pairs.
        sheets: the workbook's sheet names, in order.
        seconds: how long generating took.
    """

    out_dir: Path
    seed: int
    people: int
    files: dict[str, Path]
    rows: dict[str, int]
    row_kinds: dict[str, dict[str, int]] = field(default_factory=dict)
    hard_negatives: dict[str, int] = field(default_factory=dict)
    sheets: tuple[str, ...] = ()
    seconds: float = field(default=0.0, compare=False)


def generate_handover(people: int, out_dir: Path, seed: int = 1) -> HandoverManifest:
    """Write a deterministic hand-over package of ``people`` persons into ``out_dir``, with its truth and config.

    Args:
        people: number of real people; each appears in 1-4 rows (about 1.6 on average) besides spam, test,
            deleted and layout rows.
        out_dir: folder to write into (created if missing; earlier files of the package are replaced).
        seed: random seed; the same seed gives byte-identical files.

    Returns:
        A manifest of the files written with row counts per source and kind and pair counts per hard-negative kind.

    Raises:
        ValueError: ``people`` is less than 1.
    """
    if people < 1:
        raise ValueError(f"people must be at least 1, got {people}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    world = build_world(people, random.Random(f"handover-{seed}-world"))
    files = {
        LEGACY: out_dir / LEGACY_FILE,
        WORKBOOK: out_dir / WORKBOOK_FILE,
        WEB: out_dir / SIGNUPS_FILE,
        "truth": out_dir / TRUTH_FILE,
        "hard_negatives": out_dir / HARD_NEGATIVES_FILE,
        "entities": out_dir / ENTITIES_FILE,
        "config": out_dir / CONFIG_FILE,
    }
    legacy_truth, legacy_facts = write_legacy(files[LEGACY], world, random.Random(f"handover-{seed}-legacy"))
    book_truth, book_facts, sheets = write_workbook(files[WORKBOOK], world, random.Random(f"handover-{seed}-book"))
    web_truth, web_facts = write_signups(files[WEB], world, random.Random(f"handover-{seed}-web"))
    truth = legacy_truth + book_truth + web_truth
    pairs = hard_negatives(world, [*legacy_facts, *book_facts, *web_facts])
    per_entity = Counter(t[2] for t in truth if t[3] == "record")
    _write_csv(files["truth"], TRUTH_COLUMNS, truth)
    _write_csv(files["hard_negatives"], HARD_NEGATIVE_COLUMNS, pairs)
    _write_csv(files["entities"], ENTITY_COLUMNS, entity_rows(world, per_entity))
    files["config"].write_text(render_config(LEGACY_FILE, WORKBOOK_FILE, SIGNUPS_FILE), encoding="utf-8")

    kinds: dict[str, Counter[str]] = {s: Counter() for s in SOURCES}
    for source, _, _, kind in truth:
        kinds[source][kind] += 1
    pair_kinds = Counter(kind for _, _, kind in pairs)
    manifest = HandoverManifest(
        out_dir=out_dir,
        seed=seed,
        people=people,
        files={
            "legacy_db": files[LEGACY],
            "sales_workbook": files[WORKBOOK],
            "web_signups": files[WEB],
            "truth": files["truth"],
            "hard_negatives": files["hard_negatives"],
            "entities": files["entities"],
            "config": files["config"],
        },
        rows={s: sum(kinds[s].values()) for s in SOURCES},
        row_kinds={s: {k: kinds[s][k] for k in ROW_KINDS if kinds[s][k]} for s in SOURCES},
        hard_negatives={k: pair_kinds[k] for k in KINDS},
        sheets=tuple(sheets),
        seconds=time.perf_counter() - started,
    )
    logger.info(
        "hand-over of %s people, %s rows written to %s in %.1f s", people, len(truth), out_dir, manifest.seconds
    )
    return manifest


def _write_csv(path: Path, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
