"""Benchmark: a scheduled incremental run, a few new rows against a big store (a benchmark, not a test).

    python benchmarks/incremental.py                        # 100,000 stored rows, then 1,000 new ones, twice
    python benchmarks/incremental.py --stored 1000000       # against a million stored rows

A legacy SQLite table of generated people (Chinese names, mobiles, e-mails; ``KH``) is read by a SQL source with a
cursor column: a full run loads ``--stored`` rows into a fresh SQLite store, then ``--runs`` incremental runs each
read ``--new`` rows added past the cursor (plain steps, no Prefect). Prints a Markdown table of each run's wall
time and step times. Work files go under ``benchmarks/.data/incremental-<stored>/`` (gitignored).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import time
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent / ".data"


def _people(rng: random.Random, start: int, stop: int, stamp: str) -> list[tuple[str, str, str, str, str]]:
    """Rows of people with the sample generator's surnames (by their frequency) and given-name characters."""
    from synthetic.sample.names import GIVEN_CHARS_FEMALE, GIVEN_CHARS_MALE, SURNAMES

    surnames, weights = zip(*SURNAMES, strict=True)
    given = GIVEN_CHARS_MALE + GIVEN_CHARS_FEMALE
    rows = []
    for i in range(start, stop):
        name = rng.choices(surnames, weights)[0] + "".join(rng.choice(given) for _ in range(rng.choice([1, 2])))
        mobile = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
        rows.append((f"K{i:07d}", name, mobile, f"u{i}@example.com", stamp))
    return rows


def _project(folder: Path, legacy: Path) -> Path:
    params = {"url": f"sqlite:///{legacy}", "table": "KH", "key": "ID", "cursor_column": "TS"}
    data = {
        "project": "incremental-benchmark",
        "store": {"url": f"sqlite:///{folder / 'crm.db'}"},
        "reports_dir": str(folder / "reports"),
        "sources": [
            {
                "name": "kh",
                "kind": "sql",
                "incremental": True,
                "params": params,
                "mapping": {"NAME": "full_name", "MOBILE": "phone", "EMAIL": "email", "TS": "updated_at"},
            }
        ],
    }
    path = folder / "crmkit.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stored", type=int, default=100_000, help="rows the first (full) run loads")
    parser.add_argument("--new", type=int, default=1_000, help="new rows each incremental run reads")
    parser.add_argument("--runs", type=int, default=2, help="incremental runs")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from pipelines.migrate import run_steps
    from pipelines.progress import StepEvent, listening
    from pipelines.settings import load_settings

    folder = DATA / f"incremental-{args.stored}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    legacy = folder / "legacy.db"
    rng = random.Random(args.seed)
    with sqlite3.connect(legacy) as conn:
        conn.execute("create table KH (ID text primary key, NAME text, MOBILE text, EMAIL text, TS text)")
        conn.executemany("insert into KH values (?, ?, ?, ?, ?)", _people(rng, 0, args.stored, "2024-01-01"))
    config = _project(folder, legacy)

    print("| run | rows read | wall s | steps (s) |")
    print("| --- | ---: | ---: | --- |")
    for run in range(args.runs + 1):
        if run:
            start = args.stored + (run - 1) * args.new
            with sqlite3.connect(legacy) as conn:
                rows = _people(rng, start, start + args.new, f"2024-02-{run:02d}")
                conn.executemany("insert into KH values (?, ?, ?, ?, ?)", rows)
        steps: list[str] = []

        def on_event(event: StepEvent, into: list[str] = steps) -> None:
            if event.status == "done":
                into.append(f"{event.step} {event.seconds:.2f}")

        started = time.perf_counter()
        with listening(on_event):
            result = run_steps(load_settings(config), f"run-{run}", False)
        wall = time.perf_counter() - started
        read = sum(row["read"] for row in result.ledger)
        label = "full" if not run else f"incremental {run}"
        print(f"| {label} ({result.status}) | {read:,} | {wall:.1f} | {'; '.join(steps)} |")


if __name__ == "__main__":
    main()
