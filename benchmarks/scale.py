"""Matching past one process: ``crmkit dedupe``'s work (normalise + match) on generated person tables of 1M, 5M
and 10M records, in one process and on a local Dask cluster of two workers, side by side in one run.

Each run is a fresh process (its own memory peak); the cluster's workers report their own peak (``VmHWM``). The
two runs of a size must give the same clusters (checked here: the digest of the cluster column).

    python benchmarks/scale.py                      # 1M, 5M, 10M (10M: ~20 GiB in all, 9 minutes on two workers)
    python benchmarks/scale.py --sizes 1000000,2000000,5000000 --workers 2 --keep-pairs-above 0

The runs keep only the scored pairs of match probability 0.01 or more (``match.keep_pairs_above``, as Splink's
``predict(threshold_match_probability=…)``); ``--keep-pairs-above 0`` keeps every candidate pair, as the default
settings do (34.5M pairs with their weights at 10M: several GiB more; see README, Scaling out).

Prints a Markdown table. The person tables come from ``synthetic.people`` (seed 1), cached in benchmarks/.data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data" / "scale"
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

CONFIG = {
    "columns": {
        "given_name": "first_name",
        "surname": "last_name",
        "date_of_birth": "birth_date",
        "street_number": "street",
        "street": "street",
        "suburb": "city",
        "postcode": "postcode",
    },
    "id_column": "id",
    "region": "AU",
    "date_order": "dmy",
}


def vm_hwm(pid: int | str = "self") -> int:
    """Peak resident memory of a process (bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _worker_peak() -> int:
    return vm_hwm()


def table_for(size: int) -> Path:
    """The generated person table of ``size`` records (made once, in batches of a million)."""
    import polars as pl

    from synthetic.people import generate_people

    path = DATA / f"people_{size}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        parts, made, seed = [], 0, 1
        while made < size:
            n = min(1_000_000, size - made)
            part = generate_people(n, seed=seed).records
            parts.append(part.with_columns(pl.concat_str(pl.lit(f"s{seed}-"), pl.col("id")).alias("id")))
            made, seed = made + n, seed + 1
        pl.concat(parts).write_parquet(path)
    return path


def run_one(size: int, workers: int, keep: float, out: Path) -> None:
    """One timed run in this process: normalise + match (``dedupe_table``), alone or on a local cluster."""
    import polars as pl
    from distributed import get_task_stream

    from pipelines.dask_engine import open_engine
    from pipelines.settings import EngineSettings
    from rules.match import DedupeConfig, dedupe_table

    config = DedupeConfig.model_validate({**CONFIG, "match": {"keep_pairs_above": keep}})
    settings = EngineSettings(kind="dask", workers=workers) if workers else EngineSettings()
    tasks: dict[str, list[float]] = {}
    with open_engine(settings) as engine:
        stream = get_task_stream(engine.client) if engine is not None else nullcontext()
        with stream as seen:
            start = time.perf_counter()
            # the table read inside the call, as crmkit dedupe does: dedupe_table lets it go once mapped
            found = dedupe_table(pl.read_parquet(table_for(size)), config, engine=engine)
            seconds = time.perf_counter() - start
        worker_peaks = list(engine.client.run(_worker_peak).values()) if engine is not None else []
    for task in getattr(seen, "data", []):
        name = str(task["key"]).split("-")[0].strip("('\"")
        compute = sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "compute")
        tasks.setdefault(name, []).append(compute)
    clusters = found.clusters["cluster_id"]
    out.write_text(
        json.dumps(
            {
                "size": size,
                "workers": workers,
                "seconds": seconds,
                "pairs": found.result.candidates,
                "kept": found.result.pairs.height,
                "clusters": clusters.n_unique(),
                "digest": int(clusters.hash().sum()),
                "driver_peak": vm_hwm(),
                "worker_peaks": worker_peaks,
                # per kind of task: how many, their compute seconds in all and the longest
                "tasks": {k: [len(v), sum(v), max(v)] for k, v in tasks.items()},
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,5000000,10000000")
    parser.add_argument("--workers", type=int, default=2, help="workers of the local cluster (default 2)")
    parser.add_argument(
        "--keep-pairs-above", type=float, default=0.01, help="match.keep_pairs_above (default 0.01; 0: every pair)"
    )
    parser.add_argument("--one", nargs=2, type=int, metavar=("SIZE", "WORKERS"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one[0], args.one[1], args.keep_pairs_above, args.out)
        return
    rows: list[dict[str, Any]] = []
    for size in (int(s) for s in args.sizes.split(",")):
        table_for(size)
        for workers in (0, args.workers):
            out = DATA / f"result_{size}_{workers}.json"
            out.unlink(missing_ok=True)
            cmd = [sys.executable, __file__, "--one", str(size), str(workers), "--out", str(out)]
            cmd += ["--keep-pairs-above", str(args.keep_pairs_above)]
            done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
            if done.returncode or not out.exists():
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                rows.append({"size": size, "workers": workers, "error": f"exit {done.returncode}: {' / '.join(tail)}"})
            else:
                rows.append(json.loads(out.read_text()))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    gib = 2**30
    print(f"match.keep_pairs_above: {args.keep_pairs_above}\n")
    print(
        "| records | engine | wall s | candidate pairs | pairs kept | pairs/s | driver peak GiB | peak per worker GiB "
        "| same clusters |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    alone: dict[int, dict[str, Any]] = {}
    for r in rows:
        engine = "one process" if not r["workers"] else f"Dask, {r['workers']} workers"
        if "error" in r:
            print(f"| {r['size']:,} | {engine} | failed: {r['error']} | | | | | | |")
            continue
        if not r["workers"]:
            alone[r["size"]] = r
        same = "" if not r["workers"] else ("yes" if alone.get(r["size"], {}).get("digest") == r["digest"] else "NO")
        workers = ", ".join(f"{p / gib:.2f}" for p in r["worker_peaks"]) or "–"
        for kind, (count, total, longest) in sorted(r.get("tasks", {}).items()):
            print(f"<!-- {r['size']:,} {kind}: {count} tasks, {total:.1f} s of compute, longest {longest:.2f} s -->")
        print(
            f"| {r['size']:,} | {engine} | {r['seconds']:.1f} | {r['pairs']:,} | {r['kept']:,} | "
            f"{r['pairs'] / r['seconds']:,.0f} | "
            f"{r['driver_peak'] / gib:.2f} | {workers} | {same} |"
        )


if __name__ == "__main__":
    main()
