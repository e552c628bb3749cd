"""The fuzz child: runs the whole pipeline (``pipelines.migrate.run_steps``, no Prefect) over a plan of bad files,
under a memory cap, and writes one JSON line per file.

Run by ``test_fuzz.py`` as ``python runner.py PLAN.json OUT.jsonl``; not a test module. The plan lists groups of
cases; each group is one project: a good CSV source plus one source per bad file of the group. Before a group the
child writes ``{"event": "start", "ids": [...]}``, so that when the child dies (a signal, the memory cap, a
timeout) the parent knows which files it was on. A group whose run does not end cleanly is run again in halves,
down to the files that do not end cleanly alone, so every result of an unclean run names one file.

``http`` cases (site specs, see ``http_site``) are answered by a local HTTP server the child starts on 127.0.0.1
(a free port) when its plan holds one; each source reads its case's folder there, and the plan's ``env`` (the
token of the cases that send one) is set in the child's environment.

Result line per file: ``id``, ``outcome`` (``ok``: its rows were read and placed; ``source_failed``: it failed
its own source, ``message`` says why; ``run_failed``: the run stopped, ``message`` is the run's error;
``crashed``: an exception escaped ``run_steps``; ``config_refused``: the project file was refused, which only a
configured parameter may cause), ``ledger`` (its source's ledger row), ``good_loaded`` (rows the
good source loaded), ``expected_read`` (JSON / JSON Lines: the records the file holds, when known),
``log_problems`` (warnings carrying a traceback), ``status``, ``store`` (whether the run loaded a store),
``store_kind`` and ``store_url`` (which: ``sqlite``, ``postgresql`` or ``mariadb``), ``seconds``.

Which runs load a store: every group whose cases name a ``store`` (the load-edge cases, run on every store), and
every ``store_every``-th of the others, on the stores of the plan's ``store_cycle`` in turn (``stores`` maps
each kind to this child's own store: a SQLite file in its work folder, a PostgreSQL schema or a MariaDB database
nobody else writes, so two children never wait for each other's run lock).

Every run writes its quality report (JSON and HTML, with every file's messages); its matplotlib charts, which cost
more than the rest of a run together, are drawn in every ``charts_every``-th run (the ordinary runs that load a
store, by default; never in the load-edge runs) and left empty in the others.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from http_site import Site

#: The child's HTTP server, when its plan holds ``http`` cases.
_SITE: Site | None = None


def cap_memory(limit: int) -> None:
    """Cap this process's address space: an allocation past it fails here, not on the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class _Capture(logging.Handler):
    """Warnings and errors logged during a run, to check that none carries a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception as exc:  # a log call whose arguments do not format is itself a problem
            self.problems.append(f"{record.name}: unformattable log message: {exc!r}")
            return
        if record.exc_info or "Traceback (most recent call last)" in text:
            self.problems.append(f"{record.name}: {text[:300]} (with a traceback)")


def store_url(plan: dict[str, Any], kind: str) -> str:
    """This child's store of ``kind`` (``sqlite``: a file in its work folder, shared by its runs)."""
    if kind == "sqlite":
        return f"sqlite:///{Path(plan['work']) / 'store.db'}"
    url: str = plan["stores"][kind]
    return url


def _store_of(plan: dict[str, Any], group: list[dict[str, Any]], index: int) -> str | None:
    """The kind of store the ``index``-th group loads, or None (a dry run)."""
    pinned = group[0].get("store")
    if pinned:
        return str(pinned)
    every = plan["store_every"]
    if every <= 0 or index % every:
        return None
    cycle = plan.get("store_cycle") or ["sqlite"]
    return str(cycle[(index // every) % len(cycle)])


def _project(plan: dict[str, Any], group: list[dict[str, Any]], folder: Path, store: str | None) -> Path:
    import yaml

    sources: list[dict[str, Any]] = [
        {"name": "good", "kind": "csv", "params": {"path": plan["good"]}, "mapping": plan["good_mapping"]}
    ]
    for case in group:
        file = Path(plan["corpus"]) / case["file"]
        # a SQLite database (kind sql) is read by URL, an API (kind http) at the child's server, a file by path
        if case["kind"] == "sql":
            where = {"url": f"sqlite:///{file}"}
        elif case["kind"] == "http":
            assert _SITE is not None
            where = {"url": _SITE.url(case["file"])}
        else:
            where = {"path": str(file)}
        params = {**where, **case["params"]}
        sources.append({"name": _source_name(case), "kind": case["kind"], "params": params, "mapping": plan["mapping"]})
    data = {
        "project": "fuzz",
        "store": {"url": store_url(plan, store) if store else "sqlite:///unused.db"},
        "reports_dir": str(folder / "reports"),
        "sources": sources,
    }
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def _source_name(case: dict[str, Any]) -> str:
    return "bad_" + "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in case["id"])[:120]


def _expected_read(plan: dict[str, Any], case: dict[str, Any]) -> int | None:
    """The records a JSON array or JSON Lines file holds, when that can be known without the connector; an API's,
    when its site spec says (its pages readable, its records counted by the generator)."""
    params = case["params"]
    if case["kind"] == "http":
        expected: int | None = json.loads((Path(plan["corpus"]) / case["file"]).read_text("utf-8"))["expected_read"]
        return expected
    if case["kind"] not in ("json", "jsonl"):
        return None
    if params.get("encoding", "utf-8") not in ("utf-8", "utf8") or "key" in params:
        return None
    data = (Path(plan["corpus"]) / case["file"]).read_bytes().removeprefix(b"\xef\xbb\xbf")
    if case["kind"] == "jsonl":
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return len(lines)
    if case["kind"] == "json" and "records_path" not in params:
        try:
            document = json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError):
            return None
        return len(document) if isinstance(document, list) else None
    return None


@contextmanager
def _charts(draw: bool) -> Iterator[None]:
    """The report's charts as drawn, or (``draw`` false) as an empty report draws them: none."""
    import pipelines.report as report

    drawn = report.report_charts
    if not draw:
        empty = drawn({})
        report.report_charts = lambda _report: empty  # type: ignore[assignment]
    try:
        yield
    finally:
        report.report_charts = drawn  # type: ignore[assignment]


def run_group(
    plan: dict[str, Any], group: list[dict[str, Any]], index: int, store: str | None, charts: bool = True
) -> tuple[bool, list[dict[str, Any]]]:
    """(whether the run ended cleanly, one result per case); ``store``: the kind of store it loads, None for a
    dry run."""
    from pipelines.migrate import run_steps
    from pipelines.settings import SettingsError, load_settings

    folder = Path(plan["work"]) / f"l{plan.get('launch', 1)}-g{index:05d}"  # a relaunched child: a new launch
    folder.mkdir(parents=True, exist_ok=True)
    if _SITE is not None:  # a case run again (alone, after its group) is answered as the first time
        _SITE.reset([c["file"] for c in group if c["kind"] == "http"])
    capture = _Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    started = time.perf_counter()
    result = None
    crash: str | None = None
    trace: str | None = None
    refused: str | None = None
    try:
        settings = load_settings(_project(plan, group, folder, store))
    except SettingsError as exc:  # a configured parameter (an encoding, a key) refused before any run
        refused = str(exc)
    try:
        if refused is None:
            with _charts(charts):
                result = run_steps(settings, f"fuzz-{plan.get('launch', 1)}-{index}", dry_run=store is None)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a Rust panic (pyo3's PanicException) is a BaseException
        crash = f"{type(exc).__name__}: {str(exc)[:500]}"
        trace = traceback.format_exc()[-4000:]
    finally:
        root.removeHandler(capture)
    seconds = round(time.perf_counter() - started, 3)
    ledger = {row["source"]: row for row in (result.ledger if result else [])}
    good = ledger.get("good", {})
    clean = (result is not None and result.status != "failed") or (refused is not None and len(group) == 1)
    results = []
    for case in group:
        row = ledger.get(_source_name(case))
        if refused is not None:
            outcome, message = "config_refused", refused
        elif crash is not None:
            outcome, message = "crashed", crash
        elif result is not None and result.status == "failed":
            outcome, message = "run_failed", result.error
        elif row is not None and row.get("error"):
            outcome, message = "source_failed", row["error"]
        else:
            outcome, message = "ok", None
        results.append(
            {
                "id": case["id"],
                "source": _source_name(case),
                "kind": case["kind"],
                "family": case["family"],
                "file": _where(plan, case),
                "outcome": outcome,
                "message": message,
                "trace": trace,
                "ledger": {k: v for k, v in (row or {}).items() if k not in ("source", "kind", "error")},
                "good_loaded": good.get("loaded"),
                "good_read": good.get("read"),
                "expected_read": _expected_read(plan, case),
                "status": result.status if result else None,
                "log_problems": capture.problems,
                "group_size": len(group),
                "store": store is not None,
                "store_kind": store,
                "store_url": store_url(plan, store) if store else None,
                "seconds": seconds,
            }
        )
    return clean, results


def _where(plan: dict[str, Any], case: dict[str, Any]) -> str:
    """What a message about the case's source names: its file, or its folder on the child's HTTP server."""
    if case["kind"] == "http" and _SITE is not None:
        return f"{_SITE.base}/{case['file']}"
    return str(Path(plan["corpus"]) / case["file"])


def _misbehave(plan: dict[str, Any], group: list[dict[str, Any]]) -> None:
    """For the harness's own test: a case in the plan's ``abort_on`` aborts the child, one in ``hang_on`` hangs it."""
    ids = {c["id"] for c in group}
    if ids & set(plan.get("abort_on", ())):
        os.abort()
    if ids & set(plan.get("hang_on", ())):
        time.sleep(3600)


def _bisect(
    plan: dict[str, Any],
    group: list[dict[str, Any]],
    index: int,
    store: str | None,
    charts: bool,
    write: Callable[[dict[str, Any]], None],
) -> list[dict[str, Any]]:
    """The results of a group whose run did not end cleanly: each half is run again, and a half that does not end
    cleanly either is split again, down to one file, so every result of an unclean run names one file (a group of
    48 with one refused file takes about 2 log2 48 = 11 runs instead of 48)."""
    results: list[dict[str, Any]] = []
    pending = [group]
    runs = 0
    while pending:
        part = pending.pop()
        half = len(part) // 2
        for piece in (part[:half], part[half:]):
            runs += 1
            write({"event": "start", "ids": [c["id"] for c in piece]})
            _misbehave(plan, piece)
            # a run id of its own: not the group's, nor another group's (group 0's reruns are 1000, 1001, ...)
            clean, found = run_group(plan, piece, (index + 1) * 1000 + runs, store, charts)
            if clean or len(piece) == 1:
                results += found
            else:
                pending.append(piece)
    return results


def main(plan_path: str, out_path: str) -> None:
    global _SITE
    plan = json.loads(Path(plan_path).read_text("utf-8"))
    cap_memory(plan["memory_bytes"])
    os.environ.update(plan.get("env", {}))
    if any(case["kind"] == "http" for group in plan["groups"] for case in group):
        _SITE = Site(Path(plan["corpus"]))
    with open(out_path, "a", encoding="utf-8") as out:

        def write(line: dict[str, Any]) -> None:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            out.flush()

        for index, group in enumerate(plan["groups"]):
            store = _store_of(plan, group, index)
            charts_every = plan.get("charts_every", 1)
            # the load-edge groups (a store named by their cases) are extra runs: no charts
            charts = charts_every > 0 and index % charts_every == 0 and not group[0].get("store")
            write({"event": "start", "ids": [c["id"] for c in group]})
            _misbehave(plan, group)
            clean, results = run_group(plan, group, index, store, charts)
            if not clean and len(group) > 1:  # in halves down to the files that do not end cleanly alone
                results = _bisect(plan, group, index, store, charts, write)
            for result in results:
                write({"event": "result", **result})
        if _SITE is not None:
            _SITE.close()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        write({"event": "done", "max_rss_mb": usage.ru_maxrss // 1024})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
