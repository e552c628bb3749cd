"""Benchmark: crmkit matching vs Splink 5 (DuckDB) on the project's generated sample with ground truth.

    python benchmarks/match.py --entities 60000     # about 100k records
    python benchmarks/match.py --entities 600000    # about 1M records

The sample is generated once with ``synthetic.sample.generate_sample`` and normalised once with the flow's own
steps (``extract`` → ``map_rows`` → ``normalise``); both are cached under ``benchmarks/.data/`` (gitignored).
Each tool then runs in its own subprocess on the same normalised records (so each peak RSS is clean: the
worker reports its own high-water mark, ``VmHWM``); only matching is timed (load of the parquet excluded).

Reported: pairwise precision/recall/F1 at the threshold each tool uses without labels (crmkit: its default
``MatchSettings.threshold``; Splink: p ≥ 0.9) and at each tool's best threshold on a grid (an oracle: it uses
the truth), B-cubed F1 of the clusters at the default threshold, wall time, peak RSS. Not a test.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "benchmarks" / ".data"
GRID = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
#: Columns both tools see (the matcher's prepared view of the normalised records).
COLUMNS = (
    "_rid",
    "full_name",
    "name_key",
    "name_pinyin",
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


def peak_rss_bytes() -> int:
    """Peak resident memory of this process: ``VmHWM`` of /proc/self/status on Linux.

    Not ``getrusage().ru_maxrss``: Linux keeps that across ``fork`` + ``exec``, so a worker started by a parent
    that holds the generated data would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def prepare(entities: int, seed: int) -> Path:
    """Generate and normalise the sample once; return its folder (records.parquet, entity per _rid)."""
    folder = DATA / f"e{entities}_s{seed}"
    records = folder / "records.parquet"
    if records.exists():
        return folder
    from pipelines.migrate import extract, map_rows, normalise
    from pipelines.settings import load_settings
    from rules.match import prepare_records
    from synthetic.sample import generate_sample

    t = time.perf_counter()
    manifest = generate_sample(entities, folder / "sample", seed=seed)
    print(f"generated {sum(manifest.rows.values()):,} rows in {time.perf_counter() - t:.0f} s", flush=True)
    settings = load_settings(manifest.files["config"])
    t = time.perf_counter()
    cursors = {} if "cursors" in inspect.signature(extract).parameters else None  # full refresh
    stage = map_rows(settings, extract(settings) if cursors is None else extract(settings, cursors))
    normalised = normalise(settings, stage.candidates)
    print(f"normalised {normalised.height:,} records in {time.perf_counter() - t:.0f} s", flush=True)
    normalised = normalised.with_row_index("_rid").with_columns(pl.col("_rid").cast(pl.Int64))
    truth = pl.read_csv(manifest.files["truth"], infer_schema=False).rename(
        {"source": "_source", "source_key": "_source_key"}
    )
    prepared = prepare_records(normalised)
    keep = [c for c in COLUMNS if c in prepared.columns]
    out = prepared.join(truth.select("_source", "_source_key", "entity_id"), on=["_source", "_source_key"], how="left")
    out = out.with_columns(pl.coalesce("entity_id", pl.concat_str(pl.lit("row"), pl.col("_rid"))).alias("entity_id"))
    out.select(*keep, "entity_id").write_parquet(records)
    return folder


# ----------------------------------------------------------------------------------------------- metrics


def _c2(s: pl.Series) -> int:
    n = s.cast(pl.Int64)
    return int((n * (n - 1) // 2).sum())


def pairwise(truth: pl.DataFrame, clusters: pl.DataFrame) -> dict[str, float]:
    """Pairwise precision/recall/F1 of a clustering (every pair of records in one cluster is a predicted pair)."""
    d = truth.join(clusters, on="_rid")
    tp = _c2(d.group_by("cluster", "entity_id").len()["len"])
    pred = _c2(d.group_by("cluster").len()["len"])
    true = _c2(d.group_by("entity_id").len()["len"])
    p = tp / pred if pred else 1.0
    r = tp / true if true else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def bcubed(truth: pl.DataFrame, clusters: pl.DataFrame) -> float:
    """B-cubed F1: per record, precision = |its cluster ∩ its entity| / |its cluster|, recall likewise; averaged."""
    d = truth.join(clusters, on="_rid")
    d = d.with_columns(
        pl.len().over("cluster", "entity_id").alias("both"),
        pl.len().over("cluster").alias("c"),
        pl.len().over("entity_id").alias("e"),
    )
    p = float((d["both"] / d["c"]).mean())
    r = float((d["both"] / d["e"]).mean())
    return 2 * p * r / (p + r)


# ----------------------------------------------------------------------------------------------- workers


def _components(rids: np.ndarray, left: np.ndarray, right: np.ndarray) -> pl.DataFrame:
    from rules.match.cluster import components

    return pl.DataFrame({"_rid": rids, "cluster": components(rids, left, right)})


def run_crmkit(records: pl.DataFrame, out: Path) -> dict[str, object]:
    """Time crmkit's full match (train + score + cluster) at its default threshold, then sweep the grid."""
    from rules.match import MatchSettings, match
    from rules.match.blocking import prepare_records
    from rules.match.comparisons import Comparer
    from rules.match.engine import _cluster, _weight_fn

    settings = MatchSettings()
    t = time.perf_counter()
    result = match(records, settings)
    seconds = time.perf_counter() - t
    peak = peak_rss_bytes()
    result.clusters.write_parquet(out / "crmkit_default.parquet")
    comparer = Comparer(prepare_records(records), settings)
    weight_of = _weight_fn(comparer, result.model)
    rids = records["_rid"]
    for th in GRID:
        clusters, _ = _cluster(
            rids, result.pairs, th, weight_of, settings.max_checked_cluster, settings.linkage_threshold
        )
        clusters.write_parquet(out / f"crmkit_{th}.parquet")
    (out / "crmkit_model.json").write_text(result.model.to_json())
    return {
        "seconds": seconds,
        "peak_rss": peak,
        "pairs": result.pairs.height,
        "threshold": settings.threshold,
        "review": result.review.height,
    }


def _splink_settings() -> object:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("full_name"),
            cll.ExactMatchLevel("full_name", term_frequency_adjustments=True),
            cll.ExactMatchLevel("name_key", term_frequency_adjustments=True),
            cll.JaroWinklerLevel("name_pinyin", 0.94),
            cll.JaroWinklerLevel("name_pinyin", 0.88),
            cll.ElseLevel(),
        ],
    )
    phone = cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            cll.CustomLevel("phones_l IS NULL OR phones_r IS NULL OR len(phones_l) = 0 OR len(phones_r) = 0").configure(
                is_null_level=True
            ),
            cll.ArrayIntersectLevel("phones", 1),
            cll.ArrayIntersectLevel("phone_national", 1),
            cll.ElseLevel(),
        ],
    )
    company = cl.CustomComparison(
        output_column_name="company",
        comparison_levels=[
            cll.NullLevel("company_key"),
            cll.ExactMatchLevel("company_key", term_frequency_adjustments=True),
            cll.JaroWinklerLevel("company_key", 0.9),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="_rid",
        comparisons=[
            name,
            phone,
            cl.EmailComparison("email"),
            company,
            cl.ExactMatch("city_key"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("gender"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("phones", arrays_to_explode=["phones"]),
            block_on("phone_national", arrays_to_explode=["phone_national"]),
            block_on("email"),
            block_on("name_key", "company_key"),
            block_on("name_key", "birth_date"),
        ],
        retain_intermediate_calculation_columns=False,
    )


def run_splink(records: pl.DataFrame, out: Path) -> dict[str, object]:
    """Splink 5 with DuckDB, trained as its tutorials do: prior from deterministic rules, u by random sampling,
    m by EM sessions on a few blocking rules; predict, then connected components at p ≥ 0.9."""
    from splink import DuckDBAPI, Linker, block_on

    t = time.perf_counter()
    db = DuckDBAPI()
    frame = records.drop("entity_id").to_arrow()
    sdf = db.register(frame, table_name="records")
    linker = Linker(sdf, _splink_settings(), log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email", "name_key"), block_on("name_key", "birth_date")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    # EM sessions whose rules together leave every comparison trained at least once (exploding rules are not
    # supported in EM training, so the phone session blocks on the whole list)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name_key", "city_key"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phones"))
    predictions = linker.inference.predict(threshold_match_probability=min(GRID))
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.9)
    cl = pl.from_arrow(clusters.as_duckdbpyrelation().select("_rid, cluster_id").arrow())
    seconds = time.perf_counter() - t
    peak = peak_rss_bytes()
    pairs = pl.from_arrow(predictions.as_duckdbpyrelation().select("_rid_l, _rid_r, match_probability").arrow())
    assert isinstance(cl, pl.DataFrame) and isinstance(pairs, pl.DataFrame)
    # cluster labels: the smallest _rid of each cluster (comparable to crmkit's)
    cl = cl.with_columns(pl.col("_rid").min().over("cluster_id").alias("cluster")).select("_rid", "cluster")
    cl.write_parquet(out / "splink_default.parquet")
    rids = np.sort(records["_rid"].to_numpy())
    for th in GRID:
        e = pairs.filter(pl.col("match_probability") >= th)
        _components(rids, e["_rid_l"].to_numpy(), e["_rid_r"].to_numpy()).write_parquet(out / f"splink_{th}.parquet")
    import splink

    return {
        "seconds": seconds,
        "peak_rss": peak,
        "pairs": pairs.height,
        "threshold": 0.9,
        "version": splink.__version__,
    }


def worker(tool: str, folder: Path) -> None:
    records = pl.read_parquet(folder / "records.parquet")
    out = folder / "results"
    out.mkdir(exist_ok=True)
    info = run_crmkit(records, out) if tool == "crmkit" else run_splink(records, out)
    print("RESULT " + json.dumps(info), flush=True)


# ----------------------------------------------------------------------------------------------- driver


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=60000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tools", default="crmkit,splink")
    parser.add_argument("--worker", choices=["crmkit", "splink"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    folder = prepare(args.entities, args.seed)
    truth = pl.read_parquet(folder / "records.parquet", columns=["_rid", "entity_id"])
    print(f"{truth.height:,} records, {truth['entity_id'].n_unique():,} entities; load {_load()}", flush=True)
    rows = []
    for tool in args.tools.split(","):
        load_before = _load()
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", tool, "--data", str(folder)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if proc.returncode:
            print(proc.stdout[-3000:], proc.stderr[-5000:], file=sys.stderr)
            raise SystemExit(f"{tool} failed")
        info = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
        res = folder / "results"
        default = pairwise(truth, pl.read_parquet(res / f"{tool}_default.parquet"))
        b3 = bcubed(truth, pl.read_parquet(res / f"{tool}_default.parquet"))
        grid = {th: pairwise(truth, pl.read_parquet(res / f"{tool}_{th}.parquet")) for th in GRID}
        best_th = max(grid, key=lambda th: grid[th]["f1"])
        rows.append(
            {
                "tool": tool if tool == "crmkit" else f"splink {info.get('version')}",
                "threshold": info["threshold"],
                **{k: default[k] for k in ("precision", "recall", "f1")},
                "best_threshold": best_th,
                "best_f1": grid[best_th]["f1"],
                "bcubed_f1": b3,
                "pairs": info["pairs"],
                "seconds": info["seconds"],
                "peak_gib": info["peak_rss"] / 2**30,
                "load": f"{load_before} → {_load()}",
            }
        )
        print(f"{tool}: done in {info['seconds']:.1f} s", flush=True)
    print()
    print(f"{truth.height:,} records ({args.entities:,} entities, seed {args.seed}), {os.cpu_count()} cores")
    print()
    print(
        "| tool | threshold | precision | recall | F1 | best F1 (at) | B-cubed F1 | pairs out | wall s "
        "| peak GiB | load 1/5/15 min (before → after) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(
            f"| {r['tool']} | {r['threshold']} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} "
            f"| {r['best_f1']:.4f} ({r['best_threshold']}) | {r['bcubed_f1']:.4f} | {r['pairs']:,} "
            f"| {r['seconds']:.1f} | {r['peak_gib']:.2f} | {r['load']} |"
        )


if __name__ == "__main__":
    main()
