"""Encryption at rest end to end: ``crmkit keys``, a keyed run of the sample, readers, exports, data-subject
requests, incremental runs and key rotation, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import crm_store
from crm_store import crypto
from pipelines.cli import app
from pipelines.migrate import run_steps
from pipelines.settings import load_settings

from .conftest import retarget
from .test_incremental import NEW_ROWS, ROWS, customer_of, setup

runner = CliRunner()


def invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    result.text = " ".join(result.output.split())  # the console wraps long lines
    return result


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(crypto.KEY_ENV, raising=False)
    monkeypatch.delenv(crypto.KEY_FILE_ENV, raising=False)


def with_key_file(config: Path, key_file: str = "keys/crm.keys") -> Path:
    data = yaml.safe_load(config.read_text("utf-8"))
    data["security"] = {"key_file": key_file}
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return config


def raw_text(url: str) -> str:
    """Every value of every table as the database holds it (no column type decrypts)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = [
                repr(tuple(row))
                for table in crm_store.Base.metadata.sorted_tables
                for row in conn.exec_driver_sql(f"SELECT * FROM {table.name}")
            ]
    finally:
        engine.dispose()
    return "\n".join(rows)


def personal_values(config: Path) -> set[str]:
    """The input's phones (as read and as stored), e-mails and ID numbers, from the plain-text store readers."""
    settings = load_settings(config)
    engine = crm_store.open_store(settings.store_url)
    try:
        with Session(engine) as session:
            contacts = crm_store.read_contact_points(session)
            sources = crm_store.read_source_records(session, [s.name for s in settings.sources])
    finally:
        engine.dispose()
    values = {v for v in contacts["value"].to_list() if len(v) >= 8}
    values |= {v.removeprefix("+86") for v in values if v.startswith("+86")}
    for payload in sources["payload"].to_list():
        row = json.loads(payload)
        for cell in row.values() if isinstance(row, dict) else []:
            text = str(cell)
            if "@" in text or (sum(c.isdigit() for c in text) >= 11 and len(text) <= 24):
                values.add(text)
    return {v for v in values if len(set(v)) > 2}  # not a placeholder such as 00000000000 (hashes hold those)


def migrate(config: Path, run_id: str = "r1") -> None:
    result = run_steps(load_settings(config), run_id, dry_run=False)
    assert result.status == "succeeded", result


def check_keyed_store(config: Path, url: str) -> None:
    assert invoke("keys", "init", "--config", str(config)).exit_code == 0
    migrate(config)
    values = personal_values(config)
    assert len(values) > 100
    raw = raw_text(url)
    leaked = sorted(v for v in values if v in raw)
    assert leaked == [], f"{len(leaked)} plain values in the store, e.g. {leaked[:3]}"
    assert raw.count("enc:") > 300
    migrate(config, "r2")  # a re-run with the key changes nothing and reads back what it wrote
    assert raw_text(url).count("enc:") == raw.count("enc:")


def test_a_keyed_run_stores_no_plain_phone_email_or_id_number(project: Path, tmp_path: Path) -> None:
    config = with_key_file(project)
    result = invoke("keys", "init", "--config", str(config))
    assert result.exit_code == 0, result.output
    key_file = tmp_path / "keys" / "crm.keys"
    assert "wrote" in result.text and str(key_file) in result.output.replace("\n", "")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = invoke("keys", "init", "--config", str(config))
    assert again.exit_code == 2 and "exists already" in again.text
    key_file.rename(tmp_path / "first.keys")  # check_keyed_store makes its own
    check_keyed_store(config, f"sqlite:///{tmp_path / 'crm.db'}")
    assert stat.S_IMODE((tmp_path / "crm.db").stat().st_mode) == 0o600

    # readers and exports give plain text
    out = tmp_path / "customers.csv"
    exported = invoke("export", "customers", "--config", str(config), "--out", str(out))
    assert exported.exit_code == 0, exported.output
    customers = pl.read_csv(out, infer_schema=False)
    email_col = next(c for c in customers.columns if "email" in c)
    email = next(e for e in customers[email_col].to_list() if e and "@" in e)

    # a data-subject request by e-mail finds the person through the encrypted columns, and erases them
    found = invoke("subject", "export", "--config", str(config), "--email", email, "--out", str(tmp_path / "s.json"))
    assert found.exit_code == 0, found.output
    document = json.loads((tmp_path / "s.json").read_text("utf-8"))
    assert any(r.get("primary_email") == email for r in document["customers"])
    erased = invoke("subject", "erase", "--config", str(config), "--email", email, "--yes")
    assert erased.exit_code == 0, erased.output
    settings = load_settings(config)
    engine = crm_store.open_store(settings.store_url)
    try:
        with Session(engine) as session:
            assert email not in crm_store.read_contact_points(session)["value"].to_list()
            assert email not in crm_store.read_customers(session)["primary_email"].to_list()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_keyed_run_on_postgresql(sample_dir: Path, tmp_path: Path, pg_url: str) -> None:
    config = with_key_file(retarget(sample_dir / "crmkit.yaml", tmp_path, store_url=pg_url))
    check_keyed_store(config, pg_url)
    result = invoke("keys", "rotate", "--config", str(config))
    assert result.exit_code == 0, result.output
    status = json.loads(invoke("keys", "status", "--config", str(config), "--json").output)
    assert {k for counts in status["values"].values() for k in counts} == {status["current"]}


def test_incremental_runs_match_new_rows_against_encrypted_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(crypto.KEY_ENV, base64.b64encode(b"\x07" * 32).decode())
    config = setup(tmp_path, ROWS)
    migrate(config)
    assert "zhangwei@hx.cn" not in raw_text(f"sqlite:///{tmp_path / 'crmkit.db'}")
    setup(tmp_path, NEW_ROWS)
    migrate(config, "r2")
    mapping = customer_of(config)
    assert mapping[("legacy", "K004")] == mapping[("legacy", "K001")]  # matched against the stored 张伟
    assert mapping[("legacy", "K005")] != mapping[("legacy", "K001")]


def test_rotate_then_the_old_key_removed_still_reads_everything(tmp_path: Path) -> None:
    config = setup(tmp_path, ROWS)
    migrate(config)  # no key yet: plain text
    url = f"sqlite:///{tmp_path / 'crmkit.db'}"
    assert "zhangwei@hx.cn" in raw_text(url)
    with_key_file(config, str(tmp_path / "crm.keys"))
    init = invoke("keys", "init", "--config", str(config))
    assert init.exit_code == 0 and "store encrypted" in init.text, init.output
    assert "zhangwei@hx.cn" not in raw_text(url)
    first = crypto.load_keyring(tmp_path / "crm.keys").current.id

    rotated = invoke("keys", "rotate", "--config", str(config))
    assert rotated.exit_code == 0, rotated.output
    ring = crypto.load_keyring(tmp_path / "crm.keys")
    assert ring.ids[0] == first and len(ring.ids) == 2
    raw = raw_text(url)
    assert f"enc:{first}:" not in raw and f"enc:{ring.current.id}:" in raw
    assert "keys.rotate" in raw  # the audit event

    crypto.write_keyring(tmp_path / "crm.keys", crypto.Keyring([ring.current], "test"))  # the old key removed
    before = customer_of(config)
    with_key_file(setup(tmp_path, NEW_ROWS), str(tmp_path / "crm.keys"))  # setup writes the project file again
    migrate(config, "r2")  # reads the stored rows back to match the new ones
    after = customer_of(config)
    assert after[("legacy", "K004")] == before[("legacy", "K001")]
    status = invoke("keys", "status", "--config", str(config))
    assert status.exit_code == 0 and first not in status.text and "plain" not in status.text, status.output


def test_missing_or_wrong_key_is_a_clear_error_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(crypto.KEY_ENV, base64.b64encode(b"\x07" * 32).decode())
    config = setup(tmp_path, ROWS)
    migrate(config)
    out = str(tmp_path / "c.csv")
    monkeypatch.delenv(crypto.KEY_ENV)
    missing = invoke("export", "customers", "--config", str(config), "--out", out)
    assert missing.exit_code != 0 and "Traceback" not in missing.text
    assert "no key is set" in missing.text and "CRMKIT_KEY_FILE" in missing.text
    monkeypatch.setenv(crypto.KEY_ENV, base64.b64encode(b"\x08" * 32).decode())
    wrong = invoke("export", "customers", "--config", str(config), "--out", out)
    assert wrong.exit_code != 0 and "does not hold" in wrong.text and "Traceback" not in wrong.text
    monkeypatch.setenv(crypto.KEY_ENV, "not a key")
    status = invoke("keys", "status", "--config", str(config))
    assert status.exit_code == 2 and "CRMKIT_KEY: not base64" in status.text
    rotate = invoke("keys", "rotate", "--config", str(config))
    assert rotate.exit_code == 2
    monkeypatch.setenv(crypto.KEY_FILE_ENV, str(tmp_path / "nowhere.keys"))
    gone = invoke("keys", "status", "--config", str(config))
    assert gone.exit_code == 2 and "does not exist" in gone.text


def test_id_hash_is_keyed_when_a_key_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.steps import normalise
    from rules.normalise import hash_id_number

    settings = load_settings(setup(tmp_path, ROWS))
    frame = pl.DataFrame(
        {"_source": ["legacy"] * 2, "_source_key": ["a", "b"], "id_number": ["110101199003074514", None]}
    )
    salted = hash_id_number("110101199003074514")
    assert normalise(settings, frame)["id_hash"].to_list() == [salted, None]  # no key: as before
    monkeypatch.setenv(crypto.KEY_ENV, base64.b64encode(b"\x07" * 32).decode())
    keyed = normalise(settings, frame)["id_hash"].to_list()
    assert keyed == [crypto.resolve_keyring().hmac(salted, "id_hash"), None] and keyed[0] != salted
