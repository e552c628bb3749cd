"""Benchmark: how fast crmkit answers (a benchmark, not a test).

    python benchmarks/startup.py                       # crmkit check, crmkit migrate of the demo, the flow's import
    python benchmarks/startup.py --repeat 5            # the median of 5 runs each
    python benchmarks/startup.py --code /tmp/base      # the same for another checkout (e.g. `git archive` of a commit)

Each command runs in a fresh process, as a user runs it: ``crmkit check config/demo.yaml``, ``crmkit migrate`` of
the bundled demo (264 rows; a copy of ``config/demo.yaml`` whose store and reports go to a scratch folder, so
``out/demo`` is left alone; a temporary Prefect server unless ``PREFECT_API_URL`` is set) and ``import
pipelines.migrate`` (the flow with Prefect, polars, SQLAlchemy and the rules). Prints seconds of wall time and of
CPU (the process and its children: Prefect's server included) per command, and the load average, as a Markdown
table: on a shared machine compare CPU seconds and ratios, not wall seconds.

A checkout installed without compiled bytecode (``uv pip install`` without ``--compile-bytecode``, or
``PYTHONDONTWRITEBYTECODE`` set) compiles every module it imports on every run; ``--pycache DIR`` keeps compiled
bytecode in DIR (``PYTHONPYCACHEPREFIX``) and runs each command once before timing it, as after ``make install``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _demo_copy(code: Path, scratch: Path) -> Path:
    """``config/demo.yaml`` of ``code`` with absolute source paths and its store and reports under ``scratch``."""
    config = code / "config" / "demo.yaml"
    data = yaml.safe_load(config.read_text("utf-8"))
    for source in data["sources"]:
        path = Path(source["params"]["path"])
        if not path.is_absolute():
            source["params"]["path"] = str((config.parent / path).resolve())
    data["store"] = {"url": f"sqlite:///{scratch / 'crm.db'}"}
    data["reports_dir"] = str(scratch / "reports")
    target = scratch / "demo.yaml"
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return target


def _timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (children included) and exit code of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 3):
        sys.stderr.write(done.stderr.decode("utf-8", errors="replace")[-2000:])
    return wall, cpu, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (the median is shown)")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to time (default: this one)")
    parser.add_argument("--pycache", type=Path, help="keep compiled bytecode here and warm it up first")
    parser.add_argument("--only", choices=["check", "migrate", "import"], action="append", help="time only these")
    args = parser.parse_args()

    code = args.code.resolve()
    scratch = Path(tempfile.mkdtemp(prefix="crmkit-startup-"))
    env = {**os.environ, "PYTHONPATH": str(code), "COLUMNS": "120"}
    if args.pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(args.pycache.resolve())
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    cli = [sys.executable, "-c", "from pipelines.cli import main; main()"]
    commands = {
        "check": ("`crmkit check config/demo.yaml`", [*cli, "check", str(code / "config" / "demo.yaml")]),
        "migrate": ("`crmkit migrate` of the demo (264 rows)", [*cli, "migrate", str(_demo_copy(code, scratch))]),
        "import": ("`import pipelines.migrate` (the flow)", [sys.executable, "-c", "import pipelines.migrate"]),
    }
    print(f"code: {code} · python {sys.version.split()[0]} · {os.cpu_count()} cores · repeat {args.repeat}")
    print(f"PREFECT_API_URL: {os.environ.get('PREFECT_API_URL') or '(unset: a temporary server per run)'}")
    print()
    print("| command | wall s (median) | wall s (min) | CPU s (median) | load avg (1 min) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    try:
        for key in args.only or list(commands):
            label, command = commands[key]
            if args.pycache is not None:
                _timed(command, env, scratch)
            walls, cpus, loads = [], [], []
            for _ in range(args.repeat):
                loads.append(os.getloadavg()[0])
                wall, cpu, code_ = _timed(command, env, scratch)
                if code_ not in (0, 3):
                    raise SystemExit(f"{label} exited with {code_}")
                walls.append(wall)
                cpus.append(cpu)
            print(
                f"| {label} | {statistics.median(walls):.2f} | {min(walls):.2f} | {statistics.median(cpus):.2f} | "
                f"{statistics.median(loads):.1f} |",
                flush=True,
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
