"""The hand-over generator: deterministic, its truth is what the connectors read, its config migrates, its hard
negatives are real traps."""

from __future__ import annotations

import csv
import re
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path

import polars as pl
import pytest
import yaml

from connectors import get_connector, params_model
from crm_store.schema import LINEAGE_COLS
from pipelines.migrate import run_steps
from pipelines.settings import load_settings
from synthetic.handover import HARD_NEGATIVE_KINDS, ROW_KINDS, HandoverManifest, generate_handover

PEOPLE, SEED = 1500, 3
SOURCES = ("legacy_db", "sales_workbook", "web_signups")
FILES = ("legacy_db", "sales_workbook", "web_signups", "truth", "hard_negatives", "entities", "config")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
GROUPED = re.compile(r"(?<!\d)(1[3-9]\d)[ -](\d{4})[ -](\d{4})(?!\d)")  # 138 1234 5678, 138-1234-5678
COUNTRY = re.compile(r"(?:\+86|(?<!\d)86)[ -]?(?=1[3-9]\d{9}(?!\d))")  # +86 138..., 86-138...
FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


@pytest.fixture(scope="module")
def handover(tmp_path_factory: pytest.TempPathFactory) -> HandoverManifest:
    return generate_handover(PEOPLE, tmp_path_factory.mktemp("handover"), seed=SEED)


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _read(manifest: HandoverManifest, source: str) -> pl.DataFrame:
    """Every row a crmkit connector reads from one source, as one frame (columns may differ per batch)."""
    params = {
        "legacy_db": ("sql", {"url": f"sqlite:///{manifest.files['legacy_db']}", "table": "KHXX"}),
        "sales_workbook": ("xlsx", {"path": manifest.files["sales_workbook"]}),
        "web_signups": ("jsonl", {"path": manifest.files["web_signups"]}),
    }[source]
    model = params_model(params[0]).model_validate(params[1])
    return pl.concat(list(get_connector(params[0])(model, source=source)), how="diagonal")


# ------------------------------------------------------------------------------------------ determinism
def test_same_seed_gives_the_same_bytes(handover: HandoverManifest, tmp_path: Path) -> None:
    again = generate_handover(PEOPLE, tmp_path / "again", seed=SEED)
    for role in FILES:
        assert again.files[role].read_bytes() == handover.files[role].read_bytes(), role
    assert again.rows == handover.rows and again.hard_negatives == handover.hard_negatives


def test_another_seed_gives_other_data(handover: HandoverManifest, tmp_path: Path) -> None:
    other = generate_handover(PEOPLE, tmp_path / "other", seed=SEED + 1)
    for role in ("legacy_db", "sales_workbook", "web_signups", "truth"):
        assert other.files[role].read_bytes() != handover.files[role].read_bytes(), role


def test_needs_at_least_one_person(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate_handover(0, tmp_path)
    tiny = generate_handover(1, tmp_path / "tiny", seed=1)
    assert sum(kinds.get("record", 0) for kinds in tiny.row_kinds.values()) >= 1


# ------------------------------------------------------------------------------------------ truth vs files
def test_truth_keys_are_exactly_the_keys_the_connectors_read(handover: HandoverManifest) -> None:
    truth = _csv(handover.files["truth"])
    for source in SOURCES:
        expected = [t["source_key"] for t in truth if t["source"] == source]
        read = _read(handover, source)["_source_key"].to_list()
        assert read == expected, source  # same keys, same order, no key twice
        assert len(set(read)) == len(read) == handover.rows[source]


def test_every_row_kind_is_present_and_only_records_and_deleted_rows_name_a_person(
    handover: HandoverManifest,
) -> None:
    truth = _csv(handover.files["truth"])
    kinds = Counter((t["source"], t["row_kind"]) for t in truth)
    assert {k for _, k in kinds} == set(ROW_KINDS)
    assert kinds["legacy_db", "test"] >= 2 and kinds["legacy_db", "deleted"] >= 10
    assert kinds["sales_workbook", "layout"] >= 9 and kinds["web_signups", "spam"] >= 20
    for t in truth:  # deleted rows name the person when a real customer's row was deleted
        assert t["row_kind"] != "record" or t["entity_id"], t
        assert t["row_kind"] not in ("spam", "test", "layout") or not t["entity_id"], t
    per_person = Counter(t["entity_id"] for t in truth if t["row_kind"] == "record")
    entities = _csv(handover.files["entities"])
    assert len(entities) == PEOPLE and set(per_person) == {e["entity_id"] for e in entities}
    assert 1.45 <= sum(per_person.values()) / PEOPLE <= 1.85
    assert all(int(e["rows"]) == per_person[e["entity_id"]] for e in entities)


def test_legacy_deleted_rows_carry_both_flags_and_test_rows_look_like_tests(handover: HandoverManifest) -> None:
    truth = {t["source_key"]: t["row_kind"] for t in _csv(handover.files["truth"]) if t["source"] == "legacy_db"}
    with sqlite3.connect(handover.files["legacy_db"]) as conn:
        rows = conn.execute("SELECT KHBH, SCBZ, ZT, KHMC, SJ FROM KHXX").fetchall()
    for key, scbz, zt, khmc, sj in rows:
        kind = truth[str(key)]
        assert (scbz == "1") == (zt == "9") == (kind == "deleted"), (key, scbz, zt, kind)
        if kind == "test":
            assert khmc in (
                "测试客户",
                "测试公司",
                "演示数据",
                "test",
                "测试",
                "演示客户（勿删）",
                "ABC有限公司",
                "培训用",
            )
            assert sj in ("12345678901", "13800138000", "11111111111", "13900000000")


def test_workbook_layout_rows_are_not_customers(handover: HandoverManifest) -> None:
    frame = _read(handover, "sales_workbook")
    kinds = {t["source_key"]: t["row_kind"] for t in _csv(handover.files["truth"]) if t["source"] == "sales_workbook"}
    layout = frame.filter(pl.col("_source_key").replace_strict(kinds) == "layout")
    assert set(layout["_skip_reason"].drop_nulls()) == {"empty_row", "total_row", "repeated_header"}
    assert len(handover.sheets) == 9
    records = frame.filter(pl.col("_source_key").replace_strict(kinds) == "record")
    assert records["_skip_reason"].null_count() == records.height  # no customer row looks like layout


# ------------------------------------------------------------------------------------------ the flow
def test_the_generated_config_migrates_with_a_balanced_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    handover = generate_handover(300, tmp_path, seed=SEED)  # small: the run costs time per row
    monkeypatch.chdir(handover.out_dir)  # the legacy SQLite URL is relative, as a consultant writes it
    settings = load_settings(handover.files["config"])
    result = run_steps(settings, "handover-test", dry_run=True)
    assert result.status == "succeeded"
    ledger = {row["source"]: row for row in result.ledger}
    assert set(ledger) == set(SOURCES)
    for source, row in ledger.items():
        assert row["error"] is None, row
        assert row["balanced"] and row["read"] == handover.rows[source], row
    assert ledger["legacy_db"]["skipped"] == handover.row_kinds["legacy_db"]["deleted"]  # the skip rule works


def test_config_maps_every_column_with_a_canonical_meaning(handover: HandoverManifest) -> None:
    config = yaml.safe_load(handover.files["config"].read_text("utf-8"))
    assert config["store"]["url"] == "sqlite:///crm.db" and config["reports_dir"] == "reports"
    unmapped = {
        "legacy_db": {"KHBH", "KHLX", "CZ", "QQ", "SCBZ"},
        "sales_workbook": {"序号", "编号", "传真"},
        "web_signups": {"channel", "utm_source"},
    }
    for source in config["sources"]:
        frame = _read(handover, source["name"])
        columns = {c for c in frame.columns if c not in LINEAGE_COLS and c != "_raw_line"}
        assert set(source["mapping"]) == columns - unmapped[source["name"]], source["name"]
    legacy = config["sources"][0]
    assert legacy["skip"] == {"deleted": {"status": ["deleted"]}} and legacy["codes"]["status"][9] == "deleted"


# ------------------------------------------------------------------------------------------ hard negatives
def _mobiles_per_entity(handover: HandoverManifest) -> dict[str, set[str]]:
    """The Chinese mobile numbers written anywhere in each person's record rows."""
    truth = {(t["source"], t["source_key"]): t for t in _csv(handover.files["truth"])}
    found: dict[str, set[str]] = defaultdict(set)
    for source in SOURCES:
        frame = _read(handover, source)
        values = [c for c in frame.columns if c not in LINEAGE_COLS and c != "_raw_line"]
        text = frame.select("_source_key", pl.concat_str(values, separator=" ", ignore_nulls=True).alias("t"))
        for key, row_text in text.iter_rows():
            t = truth[source, key]
            if t["row_kind"] == "record":
                digits = GROUPED.sub(r"\1\2\3", (row_text or "").translate(FULLWIDTH_DIGITS))
                found[t["entity_id"]].update(MOBILE.findall(COUNTRY.sub(" ", digits)))
    return found


def test_every_hard_negative_kind_appears_between_different_people(handover: HandoverManifest) -> None:
    pairs = _csv(handover.files["hard_negatives"])
    kinds = Counter(p["kind"] for p in pairs)
    assert set(kinds) == set(HARD_NEGATIVE_KINDS) and min(kinds.values()) >= 2, kinds
    assert kinds == Counter(handover.hard_negatives)
    entities = {e["entity_id"]: e for e in _csv(handover.files["entities"])}
    assert len({(p["entity_a"], p["entity_b"], p["kind"]) for p in pairs}) == len(pairs)
    for p in pairs:
        a, b = entities[p["entity_a"]], entities[p["entity_b"]]
        assert a["entity_id"] < b["entity_id"], p
        if p["kind"] in ("father_son", "same_name", "same_name_colleague"):
            assert a["name"] == b["name"], p
        if p["kind"] == "father_son":
            assert abs(int(a["birth_date"][:4]) - int(b["birth_date"][:4])) >= 20, p
        if p["kind"] == "same_name_colleague":
            assert set(a["companies"].split(" | ")) & set(b["companies"].split(" | ")), p
        if p["kind"] in ("colleague_switchboard", "colleague_role_email", "colleague_domain"):
            assert a["kind"] == b["kind"] == "b2b", p


def test_shared_mobiles_really_show_on_both_peoples_rows(handover: HandoverManifest) -> None:
    mobiles = _mobiles_per_entity(handover)
    pairs = [p for p in _csv(handover.files["hard_negatives"]) if p["kind"] in ("assistant_mobile", "recycled_mobile")]
    assert pairs
    for p in pairs:
        assert mobiles[p["entity_a"]] & mobiles[p["entity_b"]], p
