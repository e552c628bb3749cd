"""Benchmark: the store load (``pipelines.steps.load``) per backend, a benchmark, not a test.

    python benchmarks/load.py                                # ~100k source rows into SQLite, PostgreSQL, MariaDB
    python benchmarks/load.py --entities 6000 --stores sqlite # smaller, one backend
    python benchmarks/load.py --compare /path/to/checkout      # the same tables loaded by another checkout too
    CRMKIT_BENCH_ROOT=/path/to/checkout python benchmarks/load.py   # only that checkout

The tables a load writes are produced once by crmkit's own flow over a generated sample (``synthetic.sample``, the
shape ``benchmarks/migrate.py`` runs) and cached as parquet under ``benchmarks/.data/load-<entities>-<seed>/``
(gitignored). Each (checkout, store) is then timed in a worker process of its own, on a fresh store: a first load
(every row new) and a re-load of the same tables by a second run (nothing changes: the idempotent path).
Rows/s counts source rows (``source_record``); CPU s is this process's CPU time (a database server's is not in
it); peak RSS is the worker's ``VmHWM``, and ``+load`` what the load added to the resident memory the tables
already took; progress events are the ``load`` events the load sent. Prints a Markdown table; ``--profile``
writes a cProfile of each load per store (``load-<store>-<checkout>-first|again.pstats`` under ``.data``).
PostgreSQL and MariaDB are skipped when they do not answer.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"
#: The crmkit checkout benchmarked by default (as in ``benchmarks/match.py``).
CRMKIT_ROOT = Path(os.environ.get("CRMKIT_BENCH_ROOT") or ROOT).resolve()
PG_URL = os.environ.get("CRMKIT_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("CRMKIT_MARIADB_URL", "mysql+pymysql://root:@127.0.0.1:3306/test?charset=utf8mb4")
STORES = ("sqlite", "postgresql", "mariadb")


def _status(name: str) -> int:
    """A line of /proc/self/status in KiB (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


# --------------------------------------------------------------------------------------------- the tables


def prepare(entities: int, seed: int) -> Path:
    """The cached tables of one load (parquet per table and ``meta.json``), made by the flow on first use."""
    folder = DATA / f"load-{entities}-{seed}"
    if (folder / "meta.json").exists():
        return folder
    sys.path.insert(0, str(ROOT))
    from synthetic.sample import generate_sample

    sample = DATA / f"sample-{entities}-{seed}"
    if not (sample / "crmkit.yaml").exists():
        started = time.perf_counter()
        manifest = generate_sample(entities, sample, seed=seed)
        print(f"generated {sum(manifest.rows.values()):,} rows in {time.perf_counter() - started:.1f}s", flush=True)
    run_dir = DATA / f"load-run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True)
    text = (sample / "crmkit.yaml").read_text("utf-8")
    text = text.replace("url: sqlite:///crmkit.db", f"url: sqlite:///{run_dir / 'crm.db'}")
    text = text.replace("reports_dir: reports", f"reports_dir: {run_dir / 'reports'}")
    for name in ("sales.xlsx", "legacy_crm.csv", "signups.jsonl"):
        text = text.replace(f"path: {name}", f"path: {sample / name}")
    config = run_dir / "crmkit.yaml"
    config.write_text(text, "utf-8")

    import pipelines.migrate as migrate
    from pipelines.settings import load_settings

    captured: dict[str, Any] = {}
    original = migrate._load

    def capture(engine: Any, run_id: str, tables: Any, baselines: Any, cursors: Any, model_json: str) -> Any:
        captured.update(tables=tables, baselines=baselines, cursors=cursors, model_json=model_json)
        return original(engine, run_id, tables, baselines, cursors, model_json)

    migrate._load = capture
    started = time.perf_counter()
    try:
        migrate.run_steps(load_settings(config), migrate.new_run_id(), False)
    finally:
        migrate._load = original
        shutil.rmtree(run_dir, ignore_errors=True)
    print(f"ran the flow to capture the load's tables in {time.perf_counter() - started:.1f}s", flush=True)
    if not captured:
        raise SystemExit("the flow did not reach its load step")
    tmp = folder.with_name(folder.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    for name, frame in captured["tables"].items():
        frame.write_parquet(tmp / f"{name}.parquet")
    meta = {k: captured[k] for k in ("baselines", "cursors", "model_json")}
    meta["tables"] = sorted(captured["tables"])
    (tmp / "meta.json").write_text(json.dumps(meta), "utf-8")
    tmp.rename(folder)
    return folder


# --------------------------------------------------------------------------------------------- the stores


def _answers(url: str) -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        return True
    except Exception:  # any driver error: no server here
        return False
    finally:
        engine.dispose()


def _fresh_store(store: str, scratch: Path) -> tuple[str, Any]:
    """(URL of a fresh, empty store, a function that drops it)."""
    import sqlalchemy as sa

    name = f"bench_{uuid.uuid4().hex[:10]}"
    if store == "sqlite":
        path = scratch / f"{name}.db"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    admin_url = PG_URL if store == "postgresql" else MARIADB_URL
    admin = sa.create_engine(admin_url)
    if store == "postgresql":
        create, drop = f'create schema "{name}"', f'drop schema "{name}" cascade'
        sep = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{sep}options=-csearch_path%3D{name}"
    else:
        create, drop = f"create database `{name}` character set utf8mb4", f"drop database `{name}`"
        url = sa.make_url(MARIADB_URL).set(database=name).render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.execute(sa.text(create))

    def dropper() -> None:
        with admin.begin() as conn:
            conn.execute(sa.text(drop))
        admin.dispose()

    return url, dropper


# --------------------------------------------------------------------------------------------- the worker


def worker(root: Path, store: str, folder: Path, profile: bool) -> dict[str, Any]:
    """Load the cached tables twice into a fresh ``store`` with the crmkit of ``root``; returns the figures."""
    for p in (str(ROOT), str(root)):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)
    import polars as pl
    from sqlalchemy.orm import Session

    import crm_store
    from pipelines.steps import load

    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    tables = {name: pl.read_parquet(folder / f"{name}.parquet") for name in meta["tables"]}
    rows = tables["source_record"].height
    url, drop = _fresh_store(store, DATA)
    engine = crm_store.init_store(url)
    progress: list[Any] = []
    try:
        listening: Any = importlib.import_module("pipelines.progress").listening
    except (ImportError, AttributeError):  # an older checkout: no progress events
        listening = None
    figures: dict[str, Any] = {"store": store, "root": str(root), "rows": rows}
    try:
        rss_before = _status("VmRSS")
        for attempt in ("first", "again"):
            run_id = f"bench-{attempt}-{uuid.uuid4().hex[:8]}"
            with Session(engine) as session, session.begin():
                crm_store.start_run(session, run_id, "bench", "0" * 64, False, None)
            profiler = None
            if profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            started, cpu = time.perf_counter(), time.process_time()
            listen = listening(progress.append) if listening is not None else contextlib.nullcontext()
            with listen, Session(engine) as session, session.begin():
                load(session, run_id, tables, meta["baselines"], meta["cursors"], meta["model_json"])
            figures[attempt] = time.perf_counter() - started
            figures[attempt + "_cpu"] = time.process_time() - cpu
            if profiler is not None:
                profiler.disable()
                out = DATA / f"load-{store}-{root.name}-{attempt}.pstats"
                profiler.dump_stats(out)
                figures[f"profile_{attempt}"] = str(out)
        figures["counts"] = {k: v for k, v in crm_store_counts(engine).items() if v}
        figures["peak_mib"] = _status("VmHWM") / 1024
        figures["load_mib"] = (_status("VmHWM") - rss_before) / 1024
        figures["progress_events"] = sum(1 for e in progress if getattr(e, "step", None) == "load")
    finally:
        engine.dispose()
        drop()
    return figures


def crm_store_counts(engine: Any) -> dict[str, int]:
    from sqlalchemy.orm import Session

    import crm_store

    with Session(engine) as session:
        return dict(crm_store.table_counts(session))


# --------------------------------------------------------------------------------------------- main


def _run_worker(root: Path, store: str, folder: Path, profile: bool) -> dict[str, Any] | str:
    cmd = [sys.executable, __file__, "--worker", str(root), "--store", store, "--data", str(folder)]
    if profile:
        cmd.append("--profile")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["failed"])[-1]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _revision(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "crm_store", "pipelines"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{root} (not a git checkout)"
    return out.stdout.strip() + (" + uncommitted changes" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=61_000, help="people generated (~1.63 source rows each)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--stores", default=",".join(STORES), help="comma-separated: sqlite,postgresql,mariadb")
    parser.add_argument("--compare", type=Path, help="another crmkit checkout, loaded side by side")
    parser.add_argument("--profile", action="store_true", help="write a cProfile of each load")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker.resolve(), args.store, args.data, args.profile)))
        return

    folder = prepare(args.entities, args.seed)
    roots = [CRMKIT_ROOT, *([args.compare.resolve()] if args.compare else [])]
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    urls = {"postgresql": PG_URL, "mariadb": MARIADB_URL}
    results: list[tuple[Path, str, dict[str, Any] | str]] = []
    for store in stores:
        if store in urls and not _answers(urls[store]):
            print(f"{store}: no server answers, skipped", flush=True)
            continue
        for root in roots:
            results.append((root, store, _run_worker(root, store, folder, args.profile)))
            print(f"done: {store} with {root}: {results[-1][2]}", flush=True)
    print(f"\ntables: {folder}; cores: {os.cpu_count()}; load average: {os.getloadavg()}")
    for root in roots:
        print(f"- {root}: {_revision(root)}")
    print(
        "\n| checkout | store | source rows | first load s (CPU s) | rows/s | re-load s (CPU s) | rows/s "
        "| peak RSS MiB | +load MiB | progress events |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for root, store, fig in results:
        if isinstance(fig, str):
            print(f"| {root.name} | {store} | failed: {fig} | | | | | | |")
            continue
        n = fig["rows"]
        print(
            f"| {root.name} | {store} | {n:,} | {fig['first']:.2f} ({fig['first_cpu']:.1f}) | {n / fig['first']:,.0f} "
            f"| {fig['again']:.2f} ({fig['again_cpu']:.1f}) | {n / fig['again']:,.0f} | {fig['peak_mib']:,.0f} "
            f"| {fig['load_mib']:,.0f} | {fig['progress_events']} |"
        )


if __name__ == "__main__":
    main()
