"""Matching on a local two-worker Dask cluster gives exactly the single-process answer (issue #16)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from distributed import get_task_stream
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from connectors import capabilities, get_connector
from pipelines.cli import app
from pipelines.dask_engine import DaskEngine, _carrying_data, open_engine
from pipelines.migrate import migrate_flow, run_steps
from pipelines.progress import StepEvent, listening
from pipelines.settings import EngineSettings, SettingsError, load_settings
from pipelines.steps import SourceRead, extract, read_source
from rules.match import (
    BlockingRule,
    DedupeConfig,
    MatchResult,
    candidate_pairs,
    dedupe_table,
    derive_rules,
    match,
    normalise_people,
    prepare_records,
)
from synthetic.people import DEDUPE_CONFIG, generate_people

from .conftest import retarget
from .test_incremental import NEW_ROWS, ROWS
from .test_incremental import setup as incremental_project

#: A minute of work in all (a cluster, 200,000 records twice): started early among the modules (see tests/conftest.py).
pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo.yaml"

PEOPLE = DedupeConfig.model_validate(yaml.safe_load(DEDUPE_CONFIG))  # how the benchmarks dedupe the table


@pytest.fixture(scope="module")
def dask() -> Iterator[DaskEngine]:
    """One local cluster of two worker processes for the module (starting one takes a few seconds)."""
    with open_engine(EngineSettings(kind="dask", workers=2)) as engine:
        assert isinstance(engine, DaskEngine)
        yield engine


def assert_same(one: MatchResult, other: MatchResult) -> None:
    assert_frame_equal(one.pairs, other.pairs)
    assert_frame_equal(one.clusters, other.clusters)
    assert_frame_equal(one.review, other.review)
    assert_frame_equal(one.blocking, other.blocking)
    assert one.model.to_json() == other.model.to_json()


def _stored(db: Path) -> dict[str, pl.DataFrame]:
    engine = sa.create_engine(f"sqlite:///{db}")
    queries = {
        "customer": "SELECT customer_id, kind, full_name, primary_phone, primary_email, company, city FROM customer",
        "crosswalk": "SELECT source, source_key, customer_id, match_probability, evidence FROM crosswalk",
        "field_provenance": "SELECT customer_id, field, source, source_key, value, rule FROM field_provenance",
    }
    with engine.connect() as connection:
        tables = {name: pl.read_database(q, connection).sort(pl.all()) for name, q in queries.items()}
    engine.dispose()
    return tables


def test_migrating_the_demo_on_a_cluster_stores_the_same_customers_and_golden_records(
    dask: DaskEngine, tmp_path: Path
) -> None:
    """``engine: {kind: dask, address: …}`` in the project file: the run normalises and matches on that cluster;
    the store holds the same customers (same ids), crosswalk and provenance as a run in one process. (The run's
    steps without Prefect, as the flow runs them: a flow here would depend on which Prefect server earlier tests of
    this worker process left behind.)"""
    (tmp_path / "alone").mkdir()
    (tmp_path / "dask").mkdir()
    alone = retarget(DEMO, tmp_path / "alone")
    on_dask = retarget(DEMO, tmp_path / "dask")
    address = dask.client.scheduler.address
    on_dask.write_text(on_dask.read_text("utf-8") + f"engine: {{kind: dask, address: '{address}'}}\n", "utf-8")
    assert run_steps(load_settings(alone), "same-run", dry_run=False).status == "succeeded"
    with get_task_stream(dask.client) as tasks:
        assert run_steps(load_settings(on_dask), "same-run", dry_run=False).status == "succeeded"
    ran = {str(task["key"]).split("-")[0].strip("('\"") for task in tasks.data}
    # read, normalised, blocked and compared on the cluster
    assert {"read_source", "_normalise", "block_pairs", "compare_chunk"} <= ran
    one, other = _stored(tmp_path / "alone" / "crm.db"), _stored(tmp_path / "dask" / "crm.db")
    assert one["customer"].height < one["crosswalk"].height  # the demo has duplicates to merge
    for name, table in one.items():
        assert_frame_equal(table, other[name])


def _tasks_named(tasks: list[dict[str, object]], name: str) -> int:
    return sum(str(task["key"]).split("-")[0].strip("('\"") == name for task in tasks)


def test_sources_are_read_on_the_workers_a_task_each_as_in_one_process(dask: DaskEngine, tmp_path: Path) -> None:
    """On a cluster each source is read by a task of its own (rows, columns, cursors as read here), with a progress
    event per source; ``engine.extract_on: driver`` reads them here, for a cluster that cannot see the files."""
    settings = load_settings(retarget(DEMO, tmp_path))
    here = extract(settings, {})
    events: list[StepEvent] = []
    with get_task_stream(dask.client) as tasks, listening(events.append):
        there = extract(settings, {}, dask)
    assert _tasks_named(tasks.data, "read_source") == len(settings.sources) == len(there) > 1
    for one, other in zip(here, there, strict=True):
        assert (one.source, one.error, one.columns, one.cursor) == (other.source, None, other.columns, other.cursor)
        assert one.raw is not None and other.raw is not None
        assert_frame_equal(one.raw, other.raw)
    read = [e.rows for e in events if e.step == "extract" and e.status == "progress"]
    assert len(read) == len(settings.sources) and read[-1] == sum(x.raw.height for x in here if x.raw is not None)

    source = settings.sources[0]  # a connector is handed to the task, so one registered only here reads there too
    csv = get_connector(source.kind)

    def tagged(params: object, **options: object) -> Iterator[pl.DataFrame]:
        for batch in csv(params, **options):  # type: ignore[arg-type]
            yield batch.with_columns(_pid=pl.lit(os.getpid()))

    (item,) = dask.each(read_source, [SourceRead(source, tagged, capabilities(source.kind), None)])
    assert item.raw is not None and set(item.raw["_pid"]) - {os.getpid()} == set(item.raw["_pid"])

    driver = settings.model_copy(update={"engine": EngineSettings(kind="dask", extract_on="driver")})
    with get_task_stream(dask.client) as tasks:
        extract(driver, {}, dask)
    assert _tasks_named(tasks.data, "read_source") == 0


def test_incremental_sources_read_on_the_workers_move_their_cursors_as_here(dask: DaskEngine, tmp_path: Path) -> None:
    """A SQL source read after its saved cursor and a file read only when its bytes changed: on the workers the
    same cursors as here, and a second read gives only the new rows."""
    settings = load_settings(incremental_project(tmp_path, ROWS))
    here, there = extract(settings, {}), extract(settings, {}, dask)
    assert [(x.source, x.cursor, x.partial) for x in here] == [(x.source, x.cursor, x.partial) for x in there]
    assert all(x.cursor for x in there)
    incremental_project(tmp_path, NEW_ROWS)  # two new rows in the SQL table; the file unchanged
    legacy, signups = extract(settings, {x.source: x.cursor for x in there}, dask)
    assert legacy.partial and legacy.raw is not None and sorted(legacy.raw["KHBH"]) == ["K004", "K005"]
    assert signups.partial and signups.raw is not None and signups.raw.height == 0


def test_migrate_with_workers_starts_a_local_cluster_for_the_run(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``crmkit migrate --workers 2`` (the flow's ``workers``; the flow's own code, without Prefect's engine)."""
    caplog.set_level(logging.INFO, logger="pipelines.dask_engine")
    result = migrate_flow.fn(str(project), dry_run=True, workers=2)
    assert result.status == "succeeded"
    assert any("matching on Dask" in r.getMessage() for r in caplog.records)
    assert all(row["balanced"] for row in result.ledger or [])


def test_a_worker_killed_mid_run_is_replaced_and_200k_records_cluster_as_in_one_process(dask: DaskEngine) -> None:
    """200,000 generated people: the same pairs, model, review and clusters with two workers as in one process,
    although one worker process is killed while it compares. (Normalised once, here: slices normalised on the
    workers are checked by the demo and ``crmkit dedupe`` tests.)"""
    records = prepare_records(normalise_people(generate_people(200_000, seed=3).records, PEOPLE))
    alone = match(records.drop("record_id"), PEOPLE.match)
    client = dask.client
    killed: list[int] = []

    def kill_a_comparing_worker() -> None:
        pids = client.run(os.getpid)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for worker, keys in client.processing().items():
                if any("compare_chunk" in str(k) for k in keys):
                    os.kill(pids[worker], signal.SIGKILL)
                    killed.append(pids[worker])
                    return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_comparing_worker)
    killer.start()
    on_dask = match(records.drop("record_id"), PEOPLE.match, engine=dask)
    killer.join()
    assert killed, "no worker was caught comparing"
    assert_same(alone, on_dask)
    assert alone.clusters["cluster"].n_unique() < records.height


def test_big_blocks_are_cut_into_slices_and_give_the_same_candidate_pairs(dask: DaskEngine) -> None:
    records = prepare_records(normalise_people(generate_people(3000, seed=2).records, PEOPLE))
    rules = [*derive_rules(records, PEOPLE.match).rules, BlockingRule(on=("postcode",))]  # postcodes: big blocks
    alone = candidate_pairs(records, rules, named=False)  # what an engine gives: the rules as bits
    sliced = DaskEngine(dask.client, parts=3, big_block=40)
    assert records.group_by("postcode").len()["len"].max() > 3 * 40  # a block cut into six slices or more
    assert_frame_equal(sliced.candidate_pairs(records, rules), alone)


def test_crmkit_dedupe_on_a_cluster_writes_the_same_clusters(dask: DaskEngine, tmp_path: Path) -> None:
    table = generate_people(1500, seed=8).records
    table.write_csv(tmp_path / "people.csv")
    (tmp_path / "match.yaml").write_text(PEOPLE.model_dump_json(), encoding="utf-8")  # JSON is YAML
    runner = CliRunner()
    outs = []
    for extra in ([], ["--scheduler", dask.client.scheduler.address]):
        out = tmp_path / f"out{len(extra)}.csv"
        args = ["dedupe", str(tmp_path / "people.csv"), "--config", str(tmp_path / "match.yaml"), "--out", str(out)]
        result = runner.invoke(app, [*args, *extra])
        assert result.exit_code == 0, result.output
        outs.append(pl.read_csv(out, infer_schema=False))
    assert_frame_equal(outs[0], outs[1])
    assert outs[0]["cluster_id"].n_unique() < table.height
    direct = dedupe_table(table.select(pl.all().cast(pl.String)), PEOPLE).clusters
    assert outs[0]["cluster_id"].to_list() == direct["cluster_id"].to_list()


def test_workers_and_scheduler_are_one_or_the_other(tmp_path: Path) -> None:
    args = ["dedupe", "x.csv", "--config", "m.yaml", "--out", "o.csv", "--workers", "2", "--scheduler", "tcp://h:1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "give one of them" in result.output


def test_a_scheduler_that_does_not_answer_is_a_clear_error(tmp_path: Path) -> None:
    import dask

    generate_people(20, seed=1).records.write_csv(tmp_path / "people.csv")
    (tmp_path / "match.yaml").write_text(PEOPLE.model_dump_json(), encoding="utf-8")
    args = ["dedupe", str(tmp_path / "people.csv"), "--config", str(tmp_path / "match.yaml")]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "o.csv"), "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler tcp://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output


def test_the_project_file_names_the_engine(tmp_path: Path) -> None:
    file = retarget(DEMO, tmp_path)
    file.write_text(file.read_text("utf-8") + "engine: {kind: dask, address: 'tcp://10.0.0.5:8786'}\n", "utf-8")
    engine = load_settings(file).engine
    assert (engine.kind, engine.address, engine.workers) == ("dask", "tcp://10.0.0.5:8786", None)
    assert load_settings(DEMO).engine.kind == "local"
    file.write_text(file.read_text("utf-8").replace("tcp://10.0.0.5:8786", "10.0.0.5"), "utf-8")
    with pytest.raises(SettingsError, match=r"engine\.address"):
        load_settings(file)


def test_two_task_streams_at_once_keep_the_large_graph_setting_until_the_last_one_ends() -> None:
    """The matcher streams tasks from two threads at once (the candidate pairs or their comparing beside u's random
    pairs); Dask's configuration is the process's, so the first stream to end must not restore the large-graph
    warning under the other."""
    import dask

    key = "distributed.admin.large-graph-warning-threshold"
    before = dask.config.get(key)
    first, second = _carrying_data(), _carrying_data()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert dask.config.get(key) == "1TiB"  # the second stream still runs
    second.__exit__(None, None, None)
    assert dask.config.get(key) == before
