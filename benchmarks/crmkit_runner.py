"""crmkit's side of the benchmark: runs inside a worker process (see ``match.py``), public API only.

- crm sets: ``rules.match.match(records, settings.match)`` on the validated records, as the migrate flow does;
- person sets: ``rules.match.dedupe_table(table, DedupeConfig)`` on the raw table, as ``crmkit dedupe`` does.

Only that call is timed. The grid ("best F1, oracle") re-clusters with the model the timed run trained:
``match(records, settings with threshold t, model=model)`` (blocking, scoring and the average-linkage check
exactly as crmkit would do at threshold ``t``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import polars as pl
from metrics import true_pairs_among

__all__ = ["run"]


def _at(settings: Any, threshold: float) -> Any:
    return settings.model_copy(
        update={"threshold": threshold, "review_threshold": min(settings.review_threshold, threshold)}
    )


def _grid(records: pl.DataFrame, settings: Any, model: Any, grid: tuple[float, ...], out: Path) -> list[str]:
    """Clusters at every grid threshold with the trained model; returns notes."""
    from rules.match import match

    t = time.perf_counter()
    for th in grid:
        clusters = match(records, _at(settings, th), model=model).clusters
        clusters.select(pl.col("_rid").cast(pl.Int64), pl.col("cluster").cast(pl.Int64)).write_parquet(
            out / f"grid_{th}.parquet"
        )
    return [f"grid: {len(grid)} re-runs of match with the trained model in {time.perf_counter() - t:.0f} s"]


def run_crm(folder: Path, out: Path, grid: tuple[float, ...], peak: Any) -> dict[str, object]:
    """crmkit on the validated records of a crm set."""
    from rules.match import MatchSettings, match, match_columns

    settings = MatchSettings.model_validate_json((folder / "match.json").read_text(encoding="utf-8"))
    # the columns matching reads, as Splink's runner reads its own (a validated record's notes, owner, attributes ...
    # held 0.32 GiB more at the peak of 330k hand-over records)
    wanted = match_columns(settings)
    schema = pl.read_parquet_schema(folder / "records.parquet")
    records = pl.read_parquet(folder / "records.parquet", columns=[c for c in schema if c in wanted])
    t = time.perf_counter()
    result = match(records, settings)
    seconds = time.perf_counter() - t
    peak_rss = peak()
    result.clusters.select(pl.col("_rid").cast(pl.Int64), pl.col("cluster").cast(pl.Int64)).write_parquet(
        out / "default.parquet"
    )
    truth = pl.read_parquet(folder / "truth.parquet")
    found = true_pairs_among(truth, result.pairs["left"], result.pairs["right"])
    (out / "model.json").write_text(result.model.to_json(), encoding="utf-8")
    notes = _grid(records, settings, result.model, grid, out)
    return {
        "seconds": seconds,
        "peak_rss": peak_rss,
        "threshold": settings.threshold,
        "candidates": result.pairs.height,
        "true_candidates": found,
        "review": result.review.height,
        "notes": notes,
    }


def run_person(folder: Path, out: Path, grid: tuple[float, ...], peak: Any) -> dict[str, object]:
    """crmkit's ``dedupe_table`` on the raw table of a person set (normalising included in the time)."""
    from rules.match import DedupeConfig, dedupe_table

    table = pl.read_parquet(folder / "table.parquet")
    config = DedupeConfig.model_validate(json.loads((folder / "dedupe.json").read_text(encoding="utf-8")))
    t = time.perf_counter()
    found = dedupe_table(table, config)
    seconds = time.perf_counter() - t
    peak_rss = peak()
    result, records = found.result, found.records
    n = table.height
    ids = table[config.id_column].cast(pl.String) if config.id_column else pl.Series([str(i) for i in range(n)])
    rid_of = pl.DataFrame({"record_id": ids, "_rid": pl.Series(range(n), dtype=pl.Int64)})
    clusters = (
        found.clusters.join(rid_of, on="record_id")
        .join(rid_of.rename({"record_id": "cluster_id", "_rid": "cluster"}), on="cluster_id")
        .select("_rid", "cluster")
    )
    clusters.write_parquet(out / "default.parquet")
    truth = pl.read_parquet(folder / "truth.parquet")
    (out / "model.json").write_text(result.model.to_json(), encoding="utf-8")
    notes = _grid(records.drop("record_id"), config.match, result.model, grid, out)
    return {
        "seconds": seconds,
        "peak_rss": peak_rss,
        "threshold": config.match.threshold,
        "candidates": result.pairs.height,
        "true_candidates": true_pairs_among(truth, result.pairs["left"], result.pairs["right"]),
        "review": result.review.height,
        "blocking_recall_estimate": result.blocking_recall,
        "notes": notes,
    }


def run(kind: str, folder: Path, out: Path, grid: tuple[float, ...], peak: Any) -> dict[str, object]:
    """Run crmkit on one prepared set; write ``default.parquet`` and ``grid_<t>.parquet`` clusters into ``out``."""
    info = (run_crm if kind == "crm" else run_person)(folder, out, grid, peak)
    info["version"] = _crmkit_version()
    return info


def _crmkit_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("crmkit")
    except metadata.PackageNotFoundError:
        return "?"
