"""No password or token is ever printed, logged, reported or stored; files holding customer data are private.

A run is given every URL form that used to leak (issue 12): a SQL source URL with ``?password=…&token=…`` and a
password in its user info, an HTTP source URL with user info and a token, a SQL server that refuses, a table that
does not exist, and a store URL whose password comes from ``${VAR}`` and holds ``@ # / : %``. Then stdout, stderr,
logs, the report files, the store's ``pipeline_run`` rows and Prefect's database are scanned for the secrets.
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

import crm_store
from pipelines import _logging
from pipelines._files import (
    copy_private_tree,
    open_private,
    private_dir,
    private_file,
    write_private_bytes,
    write_private_text,
)
from pipelines._logging import RedactingFilter, install_redaction
from pipelines.cli import app
from pipelines.ledger import unplaced_ledger
from pipelines.migrate import run_steps
from pipelines.report import redact_report
from pipelines.settings import SettingsError, expand_url, load_settings
from pipelines.stages import Extracted

from ..conftest import PG_URL, migrated_prefect_home
from .conftest import ROOT

runner = CliRunner()

#: The password of the store's role: every character that breaks a URL when pasted in raw.
STORE_PASSWORD = "p@ss#w/rd:%"
QUERY_PASSWORD = "hunter2"
TOKEN = "abc_tok_Zq7"  # the token of `?token=`: distinctive, so that a scan does not trip over hex ids
URL_PASSWORD = "pw-in-url-7Q"
SECRETS = (
    STORE_PASSWORD,
    quote(STORE_PASSWORD, safe=""),
    "ss#w/rd",  # the tail an unencoded password used to show as the host
    QUERY_PASSWORD,
    TOKEN,
    URL_PASSWORD,
)
PW_VAR = "CRMKIT_TEST_STORE_PW"


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """A umask that takes nothing away: files are private only if crmkit sets their mode itself."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def people_csv(folder: Path) -> Path:
    path = folder / "people.csv"
    path.write_text(
        "id,name,phone,email\n1,张伟,13800138000,zhang.wei@example.cn\n2,李娜,13900139000,li.na@example.cn\n"
        "3,王芳,13700137000,wang.fang@example.cn\n",
        "utf-8",
    )
    return path


def failing_sources(pg: sa.URL) -> list[dict[str, Any]]:
    """A SQL source on a real server with secrets in its URL and a table that does not exist, a SQL source whose
    server refuses, and an HTTP source nobody answers, with user info and a token in its URL."""
    host = f"{pg.host or '127.0.0.1'}:{pg.port or 5432}"
    secret_query = f"password={QUERY_PASSWORD}&token={TOKEN}"
    return [
        {
            "name": "legacy",
            "kind": "sql",
            "params": {
                "url": f"postgresql+psycopg://{pg.username}:{URL_PASSWORD}@{host}/{pg.database}?{secret_query}",
                "table": "no_such_table",
            },
        },
        {
            "name": "refused",
            "kind": "sql",
            "params": {
                "url": f"postgresql+psycopg://crm:{URL_PASSWORD}@127.0.0.1:1/crm?password={QUERY_PASSWORD}",
                "table": "customers",
            },
        },
        {
            "name": "api",
            "kind": "http",
            "params": {
                "url": f"http://crm:{QUERY_PASSWORD}@127.0.0.1:1/people?token={TOKEN}&api_key={QUERY_PASSWORD}",
                "retries": 0,
                "timeout": 2,
            },
        },
    ]


def write_project(folder: Path, store_url: str, *, pg: sa.URL | None = None) -> Path:
    people_csv(folder)
    data = {
        "project": "secrets",
        "store": {"url": store_url},
        "reports_dir": "reports",
        "sources": [
            {
                "name": "people",
                "kind": "csv",
                "params": {"path": "people.csv", "key": ["id"]},
                "mapping": {"name": "full_name", "phone": "phone", "email": "email"},
            },
            *failing_sources(pg or make_url(PG_URL)),
        ],
    }
    config = folder / "crmkit.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return config


def scan_tree(root: Path) -> list[tuple[str, str]]:
    """(file, secret) for every secret found in the bytes of any file under ``root``."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [(str(path), s) for s in SECRETS if s.encode() in data]
    return found


def run_rows(url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.text("select * from pipeline_run"))]
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------- ${VAR}


def test_a_var_in_the_user_info_is_percent_encoded() -> None:
    env = {"PW": STORE_PASSWORD, "TOKEN": "a&b=c d", "HOST": "db.example.com", "URL": "sqlite:///x.db"}
    url = make_url(expand_url("postgresql+psycopg://crm:${PW}@${HOST}:5432/crm?sslmode=require&token=${TOKEN}", env))
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "crm",
        STORE_PASSWORD,
        "db.example.com",
        5432,
        "crm",
    )
    assert dict(url.query) == {"sslmode": "require", "token": "a&b=c d"}
    # the premise: pasted in raw, part of the password becomes the host
    raw = make_url(f"postgresql+psycopg://crm:{STORE_PASSWORD}@db.example.com:5432/crm")
    assert raw.host != "db.example.com"
    # a whole URL from the environment, a host, a database path: used as written
    assert expand_url("${URL}", env) == "sqlite:///x.db"
    assert expand_url("sqlite:///${HOST}/crm.db", env) == "sqlite:///db.example.com/crm.db"
    with pytest.raises(KeyError, match="MISSING"):
        expand_url("postgresql://u:${MISSING}@h/db", env)


@pytest.fixture
def store_role(pg_url: str) -> Iterator[tuple[str, str]]:
    """A PostgreSQL role whose password is `STORE_PASSWORD`, owning the test's schema: (role, schema)."""
    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    role = f"crmkit_{uuid.uuid4().hex[:10]}"
    schema = make_url(pg_url).query["options"].split("=", 1)[1]  # type: ignore[union-attr]
    literal = STORE_PASSWORD.replace("'", "''")
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{literal}'".replace("%", "%%"))  # driver escape
        conn.exec_driver_sql(f'ALTER SCHEMA "{schema}" OWNER TO {role}')
    try:
        yield role, schema
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()


def role_store_template(role: str, schema: str) -> str:
    pg = make_url(PG_URL)
    return (
        f"postgresql+psycopg://{role}:${{{PW_VAR}}}@{pg.host}:{pg.port or 5432}/{pg.database}"
        f"?options=-csearch_path%3D{schema}"
    )


@pytest.mark.postgres
def test_the_store_password_from_the_environment_reaches_postgresql_intact(
    store_role: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    role, schema = store_role
    monkeypatch.setenv(PW_VAR, STORE_PASSWORD)
    settings = load_settings(write_project(tmp_path, role_store_template(role, schema)))
    url = make_url(settings.store_url)
    pg = make_url(PG_URL)
    assert (url.username, url.password, url.host, url.port) == (role, STORE_PASSWORD, pg.host, pg.port or 5432)
    assert url.query["options"] == f"-csearch_path={schema}"
    # trust authentication does not check the password: the login proves the URL named the right server and role
    engine = crm_store.init_store(settings.store_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select current_user, current_schema()")).one() == (role, schema)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------- config errors


def test_invalid_urls_in_the_project_file_are_not_echoed(tmp_path: Path) -> None:
    people_csv(tmp_path)
    bad = f"postgresql://crm:{QUERY_PASSWORD}@db:notaport/crm?token={TOKEN}"
    data = {
        "project": "secrets",
        "store": {"url": bad},
        "sources": [
            {"name": "a", "kind": "sql", "params": {"url": bad, "table": "t"}},
            {"name": "b", "kind": "http", "params": {"url": f"ftp://crm:{QUERY_PASSWORD}@h/x?token={TOKEN}"}},
            {"name": "c", "kind": "sql", "params": {"url": QUERY_PASSWORD, "table": "t"}},  # a password pasted in
            {"name": "d", "kind": "sql", "params": {"url": "sqlite:///x.db", "table": "t", "password": TOKEN}},
            {"name": "e", "kind": "csv", "params": {"path": "people.csv"}, "mapping": {"name": "full_name"}},
        ],
    }
    config = tmp_path / "crmkit.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(config)
    problems = info.value.problems
    assert not leaks(str(info.value)), problems
    assert any(p.startswith("store.url: not a valid SQLAlchemy URL") for p in problems), problems
    for where in ("sources[0].params.url", "sources[1].params.url", "sources[2].params.url"):
        assert any(p.startswith(where) for p in problems), (where, problems)
    assert any(p.startswith("sources[3].params.password") for p in problems), problems

    result = runner.invoke(app, ["migrate", str(config)])
    assert result.exit_code == 2, result.output
    assert "invalid project file" in result.output and not leaks(result.output), result.output


# --------------------------------------------------------------------------------------------------- a failed run


def test_no_secret_in_the_ledger_report_store_or_logs_of_a_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, umask_zero: None
) -> None:
    """The fast route (no Prefect): a SQLite store, sources failing with secrets in their URLs."""
    config = write_project(tmp_path, "sqlite:///store/crm.db")
    settings = load_settings(config)
    with caplog.at_level(logging.DEBUG):
        result = run_steps(settings, "run-secrets", False)
    assert result.status == "partial", result.error
    errors = {row["source"]: row["error"] for row in result.ledger}
    assert errors["people"] is None and all(errors[s] for s in ("legacy", "refused", "api"))
    assert "no_such_table" in errors["legacy"] or "password=***" in errors["legacy"]
    shown = json.dumps([result.ledger, result.error, result.totals], ensure_ascii=False, default=str)
    assert not leaks(shown), shown
    assert not leaks(caplog.text), caplog.text
    assert not scan_tree(tmp_path / "reports")
    report = json.loads((tmp_path / "reports" / "run-secrets" / "report.json").read_text("utf-8"))
    assert report["run"]["store"].startswith("sqlite:///")
    rows = run_rows(settings.store_url)
    assert len(rows) == 1 and not leaks(json.dumps(rows, ensure_ascii=False, default=str))
    # the files of the run are private, whatever the umask
    assert mode(tmp_path / "store") == 0o700 and mode(tmp_path / "store" / "crm.db") == 0o600
    assert_private_reports(tmp_path / "reports", "run-secrets")


def assert_private_reports(reports: Path, run_id: str) -> None:
    assert mode(reports) == 0o700
    for folder in (reports / run_id, reports / "latest"):
        assert mode(folder) == 0o700, folder
        names = {p.name for p in folder.iterdir()}
        assert {"report.html", "report.json"} <= names, names
        assert all(mode(p) == 0o600 for p in folder.iterdir()), [(p.name, oct(mode(p))) for p in folder.iterdir()]


# Runs the CLI as its own process.
MAIN = "from pipelines.cli import main\nmain()\n"
#: Makes the match step fail with an exception whose text holds a password and a token.
CRASH = f"""
import pipelines.migrate


def crash(*_args):
    raise RuntimeError("cannot reach postgresql://crm:{URL_PASSWORD}@db/crm?token={TOKEN}")
pipelines.migrate.resolve = crash
"""


def run_cli(config: Path, tmp_path: Path, driver: str, **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``crmkit migrate CONFIG --debug`` in its own process with its own Prefect database: (process, Prefect home)."""
    prefect_home = migrated_prefect_home(tmp_path / "prefect")
    environ = {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_LOGGING_LEVEL": "INFO",
        "COLUMNS": "200",
        **env,
    }
    environ.pop("PREFECT_API_URL", None)
    process = subprocess.run(
        [sys.executable, "-c", driver, "migrate", str(config), "--debug"],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return process, prefect_home


@pytest.mark.slow
@pytest.mark.postgres
def test_no_secret_anywhere_after_a_partial_run_through_the_cli(store_role: tuple[str, str], tmp_path: Path) -> None:
    """The whole route: the CLI in its own process, Prefect and its database, a PostgreSQL store whose password
    comes from ``${VAR}``; stdout, stderr (Prefect's logs with --debug), the reports, ``pipeline_run`` and Prefect's
    database are scanned."""
    role, schema = store_role
    config = write_project(tmp_path, role_store_template(role, schema))
    process, prefect_home = run_cli(config, tmp_path, MAIN, **{PW_VAR: STORE_PASSWORD})
    output = process.stdout + process.stderr
    assert process.returncode == 3, output
    assert "source legacy failed" in " ".join(process.stdout.split()), process.stdout
    assert not leaks(output), output
    assert not scan_tree(tmp_path / "reports")
    assert_private_reports(tmp_path / "reports", "latest")
    os.environ[PW_VAR] = STORE_PASSWORD
    try:
        store_url = load_settings(config).store_url
    finally:
        del os.environ[PW_VAR]
    rows = run_rows(store_url)
    assert len(rows) == 1 and rows[0]["status"] == "partial"
    assert not leaks(json.dumps(rows, ensure_ascii=False, default=str)), rows
    assert not scan_tree(prefect_home), "a secret reached Prefect's database"


@pytest.mark.slow
def test_no_secret_anywhere_after_a_step_fails_with_one_in_its_exception(tmp_path: Path) -> None:
    """A step raising an exception whose text holds credentials: Prefect's task state (its database, its events),
    the traceback --debug prints, the progress line, the run's error, the report and pipeline_run stay clean."""
    config = write_project(tmp_path, "sqlite:///crm.db")
    process, prefect_home = run_cli(config, tmp_path, CRASH + MAIN)
    output = process.stdout + process.stderr
    assert process.returncode == 1, output
    assert "RuntimeError: cannot reach postgresql://crm:***@db/crm?token=***" in output, output
    assert "Traceback" in output  # --debug shows it, redacted
    assert not leaks(output), [line for line in output.splitlines() if leaks(line)]
    assert not scan_tree(tmp_path / "reports")
    rows = run_rows(load_settings(config).store_url)
    assert len(rows) == 1 and rows[0]["status"] == "failed" and "postgresql://crm:***@db" in rows[0]["error"]
    assert not leaks(json.dumps(rows, ensure_ascii=False, default=str)), rows
    assert not scan_tree(prefect_home), "a secret reached Prefect's database"


# --------------------------------------------------------------------------------------------------- parts


def test_a_redacted_exception_keeps_its_type_where_it_can() -> None:
    from pipelines._logging import RedactedError, redact_exception, redacting

    plain = ValueError(f"bad url postgresql://crm:{URL_PASSWORD}@db/crm")
    assert redact_exception(plain) is plain and str(plain) == "bad url postgresql://crm:***@db/crm"

    class Custom(Exception):
        def __str__(self) -> str:
            return f"token={TOKEN}"

    replaced = redact_exception(Custom())
    assert isinstance(replaced, RedactedError) and str(replaced) == "Custom: token=***"
    clean = KeyError("nothing secret")
    assert redact_exception(clean) is clean

    @redacting
    def step(url: str, *, retries: int = 0) -> None:
        raise Custom()

    assert step.__name__ == "step" and list(inspect.signature(step).parameters) == ["url", "retries"]
    with pytest.raises(RedactedError) as info:
        step("x")
    assert not leaks(str(info.value)) and info.value.__cause__ is None


def test_the_ledger_and_the_report_hide_credentials(tmp_path: Path) -> None:
    settings = load_settings(write_project(tmp_path, "sqlite:///crm.db"))
    error = f"postgresql://crm:{URL_PASSWORD}@db/crm?token={TOKEN}: Authorization: Bearer {QUERY_PASSWORD}"
    ledger = unplaced_ledger(settings, [Extracted("legacy", "sql", error=error)])
    shown = next(row["error"] for row in ledger if row["source"] == "legacy")
    assert shown == "postgresql://crm:***@db/crm?token=***: Authorization: Bearer ***"
    report = {"run": {"store": f"postgresql://u@h/db?password={QUERY_PASSWORD}", "n": 3}, "rows": [(error, 1)]}
    assert not leaks(json.dumps(redact_report(report)))
    assert redact_report(report)["run"]["n"] == 3


def test_the_log_filter_redacts_messages_and_exception_texts() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("crmkit.test_secrets")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.warning("source %s failed: %s", "legacy", f"postgresql://crm:{URL_PASSWORD}@db/crm?token={TOKEN}")
        try:
            raise RuntimeError(f"cannot reach https://api/x?api_key={QUERY_PASSWORD}")
        except RuntimeError:
            logger.exception("headers %s", {"Authorization": f"Bearer {TOKEN}"})
        logger.info("plain %s %d", "message", 3)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    text = stream.getvalue()
    assert not leaks(text), text
    assert "postgresql://crm:***@db/crm?token=***" in text and "api_key=***" in text and "Bearer ***" in text
    assert "RuntimeError" in text and "plain message 3" in text


def test_install_redaction_covers_existing_and_later_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    factory = logging.getLogRecordFactory()
    monkeypatch.setattr(_logging, "_factory_installed", False)
    root = logging.getLogger()
    early = logging.StreamHandler(io.StringIO())
    root.addHandler(early)
    try:
        install_redaction()
        install_redaction()  # twice: nothing added twice
        assert sum(isinstance(f, RedactingFilter) for f in early.filters) == 1
        late_stream = io.StringIO()
        late = logging.StreamHandler(late_stream)  # a handler added afterwards, as Prefect may
        logger = logging.getLogger("crmkit.test_secrets.late")
        logger.addHandler(late)
        logger.propagate = False
        try:
            logger.error("url %s", f"mysql://root:{URL_PASSWORD}@db/crm")
        finally:
            logger.removeHandler(late)
            logger.propagate = True
        assert late_stream.getvalue().strip() == "url mysql://root:***@db/crm"
        assert not leaks(early.stream.getvalue())  # type: ignore[attr-defined]
    finally:
        root.removeHandler(early)
        logging.setLogRecordFactory(factory)
        for handler in _logging._handlers():
            handler.filters = [f for f in handler.filters if not isinstance(f, RedactingFilter)]


def test_connector_errors_name_the_url_without_its_secrets() -> None:
    from connectors import SourceError, get_connector, params_model

    for source in failing_sources(make_url(PG_URL))[1:]:  # the servers nobody answers: no database needed
        params = params_model(source["kind"]).model_validate(source["params"])
        with pytest.raises(SourceError) as info:
            list(get_connector(source["kind"])(params, source=source["name"]))
        assert not leaks(str(info.value)) and not leaks(repr(params)), str(info.value)
        assert "127.0.0.1:1" in str(info.value)


# --------------------------------------------------------------------------------------------------- file modes


def test_a_new_sqlite_store_and_its_wal_files_are_private(tmp_path: Path, umask_zero: None) -> None:
    path = tmp_path / "new" / "folder" / "crm.db"
    engine = crm_store.init_store(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:  # an open connection keeps the -wal and -shm files
            conn.execute(sa.text("select count(*) from pipeline_run")).scalar()
            names = {p.name for p in path.parent.iterdir()}
            assert {"crm.db", "crm.db-wal", "crm.db-shm"} <= names, names
            assert {p.name: mode(p) for p in path.parent.iterdir()} == dict.fromkeys(names, 0o600)
    finally:
        engine.dispose()
    assert mode(tmp_path / "new") == 0o700 and mode(tmp_path / "new" / "folder") == 0o700


def test_private_file_helpers(tmp_path: Path, umask_zero: None) -> None:
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    os.chmod(existing, 0o755)
    folder = private_dir(existing / "a" / "b")
    assert mode(existing) == 0o755 and mode(existing / "a") == 0o700 and mode(folder) == 0o700
    text = write_private_text(folder / "x.txt", "x")
    data = write_private_bytes(tmp_path / "new" / "y.bin", b"y")
    assert mode(text) == 0o600 and mode(data) == 0o600 and mode(tmp_path / "new") == 0o700
    loose = tmp_path / "loose.csv"
    loose.write_text("a\n", "utf-8")
    os.chmod(loose, 0o644)
    with open_private(loose, "w", newline="", encoding="utf-8") as handle:
        handle.write("b\n")
    assert mode(loose) == 0o600 and loose.read_text("utf-8") == "b\n"
    touched = private_file(tmp_path / "z" / "model.parquet")
    assert touched.exists() and mode(touched) == 0o600 and mode(touched.parent) == 0o700
    copy = copy_private_tree(tmp_path / "existing", tmp_path / "copy")
    assert mode(copy) == 0o700 and mode(copy / "a" / "b" / "x.txt") == 0o600
