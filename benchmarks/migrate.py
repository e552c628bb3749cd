"""Benchmark: the whole ``migrate`` flow over generated messy sources (a benchmark, not a test).

    python benchmarks/migrate.py                 # ~100k rows (61k customers), through the Prefect flow
    python benchmarks/migrate.py --entities 6000 # smaller
    python benchmarks/migrate.py --plain         # the same steps without Prefect
    python benchmarks/migrate.py --plain --workers 2  # on a local two-worker Dask cluster (started in the run)

Generated data is cached under ``benchmarks/.data/`` (gitignored). Prints a Markdown table of wall time and peak RSS
per step; RSS is sampled every 10 ms by a thread, so very short peaks can be missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import threading
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent / ".data"


def rss_mib() -> float:
    """Resident set size of this process in MiB (Linux /proc)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakSampler(threading.Thread):
    """Samples RSS in the background; ``take()`` returns the peak since the last call."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = rss_mib()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.01):
            self.peak = max(self.peak, rss_mib())

    def take(self) -> float:
        peak, self.peak = self.peak, rss_mib()
        return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=61_000, help="customers to generate (~1.63 rows each)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--plain", action="store_true", help="run the steps without Prefect")
    parser.add_argument("--workers", type=int, help="read, normalise and match on a local Dask cluster of N workers")
    args = parser.parse_args()

    from synthetic.sample import generate_sample

    sample = DATA / f"sample-{args.entities}-{args.seed}"
    if not (sample / "crmkit.yaml").exists():
        started = time.perf_counter()
        manifest = generate_sample(args.entities, sample, seed=args.seed)
        print(f"generated {sum(manifest.rows.values()):,} rows in {time.perf_counter() - started:.1f}s")
    run_dir = DATA / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    config = run_dir / "crmkit.yaml"
    text = (sample / "crmkit.yaml").read_text("utf-8")
    text = text.replace("url: sqlite:///crmkit.db", f"url: sqlite:///{run_dir / 'crm.db'}")
    text = text.replace("reports_dir: reports", f"reports_dir: {run_dir / 'reports'}")
    for name in ("sales.xlsx", "legacy_crm.csv", "signups.jsonl"):
        text = text.replace(f"path: {name}", f"path: {sample / name}")
    if args.workers:
        text += f"\nengine: {{kind: dask, workers: {args.workers}}}\n"
    config.write_text(text, "utf-8")

    server = None
    if not args.plain:  # as `crmkit migrate` does: Prefect's server starts while the flow's modules are imported
        from pipelines._prefect import launch_server

        server = launch_server()
    from pipelines.progress import StepEvent, listening

    sampler = PeakSampler()
    sampler.start()
    rows: list[tuple[str, float, int | None, float]] = []

    def on_event(event: StepEvent) -> None:
        if event.status == "start":
            sampler.take()
        elif event.status == "done":
            rows.append((event.step, event.seconds, event.rows, sampler.take()))

    started = time.perf_counter()  # the server was launched just before: its start counts where it is waited for
    with listening(on_event):
        if args.plain:
            from pipelines.migrate import new_run_id, run_steps
            from pipelines.settings import load_settings

            result = run_steps(load_settings(config), new_run_id(), False)
        else:
            from pipelines._prefect import wait_until_ready
            from pipelines.migrate import migrate

            assert server is not None
            print(f"Prefect ready after {wait_until_ready(server):.1f} s")
            result = migrate(config)
    wall = time.perf_counter() - started
    sampler.stop.set()

    t = result.totals
    print(
        f"\n{t['read']:,} rows read → {t['loaded']:,} loaded, {t['quarantined']:,} quarantined, "
        f"{t['skipped']:,} skipped → {t['customers']:,} customers; ledger balanced: {t['balanced']}"
    )
    print(f"cores: {os.cpu_count()}, load average before/after: {os.getloadavg()[0]:.1f}\n")
    print("| step | seconds | rows out | peak RSS (MiB) |")
    print("| --- | ---: | ---: | ---: |")
    for step, seconds, count, peak in rows:
        print(f"| {step} | {seconds:.2f} | {count if count is not None else '':,} | {peak:,.0f} |")
    steps = sum(r[1] for r in rows)
    mode = ("plain" if args.plain else "Prefect flow") + (f", {args.workers} Dask workers" if args.workers else "")
    print(f"| **total ({mode})** | **{wall:.2f}** (steps {steps:.2f}) | | **{max(r[3] for r in rows):,.0f}** |")


if __name__ == "__main__":
    main()
