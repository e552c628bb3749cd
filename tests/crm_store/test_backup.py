"""Backup and restore: encrypted, verifiable, equal to the original table by table on SQLite, PostgreSQL and MariaDB;
a changed backup, a wrong key, a non-empty store and an unknown schema revision are refused."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import crm_store
from crm_store.backup import (
    BACKUP_KEY_ENV,
    BackupError,
    BackupIntegrityError,
    BackupKeyError,
    RestoreRefusedError,
    backup_store,
    decrypt_chunks,
    encrypting_writer,
    key_id,
    load_backup_key,
    restore_store,
)
from crm_store.models import Base
from crm_store.store import migrations_config
from pipelines.cli import app
from pipelines.migrate import new_run_id, run_steps
from pipelines.settings import load_settings

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
EMAIL = "zhangwei@hx.cn"
HEAD = ScriptDirectory.from_config(migrations_config()).get_current_head()


def build_store(folder: Path, store_url: str | None = None) -> tuple[Path, str]:
    """A store made by a small migration (customers, sign-ups, follow-ups); returns the project file and URL."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "crm.csv").write_text(
        "客户编号,姓名,手机,邮箱\nK001,张伟,13800138000,zhangwei@hx.cn\nK002,李娜,13957215608,lina@163.com\n", "utf-8"
    )
    rows = [{"id": "W1", "name": "张伟", "mobile": "+86 138 0013 8000", "city": "泰安"}, {"id": "W1", "name": "x"}]
    (folder / "web.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    (folder / "followups.csv").write_text("号,客户编号,时间,内容\nF1,K001,2024-03-01,回访\n", "utf-8")
    data = {
        "project": "backups",
        "store": {"url": store_url or f"sqlite:///{folder / 'store' / 'crm.db'}"},
        "reports_dir": str(folder / "reports"),
        "sources": [
            {
                "name": "crm",
                "kind": "csv",
                "params": {"path": str(folder / "crm.csv"), "key": "客户编号"},
                "mapping": {"姓名": "full_name", "手机": "phone", "邮箱": "email"},
            },
            {
                "name": "web",
                "kind": "jsonl",
                "params": {"path": str(folder / "web.jsonl"), "key": "id"},
                "mapping": {"name": "full_name", "mobile": "phone", "city": "city"},
            },
            {
                "name": "followups",
                "kind": "csv",
                "params": {"path": str(folder / "followups.csv"), "key": "号"},
                "activity": {"parent": "crm", "parent_key": "客户编号", "occurred_at": "时间", "summary": "内容"},
            },
        ],
    }
    config = folder / "crmkit.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    settings = load_settings(config)
    assert run_steps(settings, new_run_id(), dry_run=False).status in ("succeeded", "partial")
    return config, settings.store_url


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every store table but ``run_lock``, in primary-key order, with typed values."""
    engine = sa.create_engine(url)
    tables = {name: table for name, table in Base.metadata.tables.items() if name != "run_lock"}
    try:
        with engine.connect() as conn:
            out = {
                name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
                for name, t in tables.items()
            }
            out["alembic_version"] = [tuple(r) for r in conn.exec_driver_sql("select version_num from alembic_version")]
    finally:
        engine.dispose()
    return out


def without_audit(tables: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {name: rows for name, rows in tables.items() if name not in ("audit_event", "audit_head")}


def wipe(url: str) -> None:
    """Remove the store entirely (as after losing the disk or dropping the database)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        return
    engine = sa.create_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            for name in Base.metadata.tables if engine.dialect.name == "postgresql" else ():
                # cascade: row-level security policies name other tables (migration 0009)
                conn.exec_driver_sql(f'drop table if exists "{name}" cascade')
            conn.exec_driver_sql("drop table alembic_version")
            assert sa.inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


def flat(text: str) -> str:
    """Terminal output without the line breaks rich adds."""
    return " ".join(text.split())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return build_store(tmp_path / "p")[1]
    return build_store(
        tmp_path / "p", str(request.getfixturevalue("pg_url" if request.param == "postgresql" else "mariadb_url"))
    )[1]


def test_backup_wipe_restore_equals_the_original_table_by_table(store_url: str, tmp_path: Path) -> None:
    before = snapshot(store_url)
    folder = tmp_path / "backups" / "monday"
    engine = crm_store.open_store(store_url)
    try:
        with engine.connect() as writer:  # a run writing meanwhile: its uncommitted rows are not in the backup
            writer.begin()
            writer.exec_driver_sql("update customer set full_name = 'half-written'")
            result = backup_store(store_url, folder, key=KEY)
            writer.rollback()
    finally:
        engine.dispose()

    assert mode(folder) == 0o700 and mode(folder.parent) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", result.data_file.name]
    assert all(mode(p) == 0o600 for p in folder.iterdir())
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert manifest["encryption"]["key_id"] == key_id(KEY) and manifest["alembic_revision"] == HEAD
    assert manifest["signature"].startswith("hmac-sha256:") and manifest["crmkit_version"]
    text = json.dumps(manifest)
    assert KEY.hex() not in text and base64.b64encode(KEY).decode() not in text
    assert {t: v["rows"] for t, v in manifest["tables"].items()} == {t: len(r) for t, r in before.items()}
    assert "run_lock" not in manifest["tables"] and manifest["tables"]["source_record"]["rows"] == 5
    assert EMAIL.encode() not in result.data_file.read_bytes() and "张伟".encode() not in result.data_file.read_bytes()

    wipe(store_url)
    restored = restore_store(store_url, folder, key=KEY, actor="ops")
    after = snapshot(store_url)
    assert without_audit(after) == without_audit(before)
    assert [row[3] for row in after["audit_event"]] == [*(r[3] for r in before["audit_event"]), "store.restore"]
    assert restored.revision == restored.restored_revision == HEAD and restored.tables["customer"] == len(
        before["customer"]
    )

    with pytest.raises(RestoreRefusedError, match="not empty"):
        restore_store(store_url, folder, key=KEY)
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("update customer set full_name = 'changed since'")
        conn.exec_driver_sql("delete from review_item")
    engine.dispose()
    restore_store(store_url, folder, key=KEY, force=True)
    assert without_audit(snapshot(store_url)) == without_audit(before)
    engine = sa.create_engine(store_url)
    try:
        with Session(engine) as session:
            assert crm_store.read_run_lock(session) is None  # the restore's lock is released
    finally:
        engine.dispose()


@pytest.mark.mariadb
def test_a_mariadb_backup_waits_for_the_run_that_holds_the_lock(mariadb_url: str, tmp_path: Path) -> None:
    engine = crm_store.init_store(mariadb_url)
    try:
        with crm_store.acquire_run_lock(engine, "a-run"), pytest.raises(crm_store.RunLockedError):
            backup_store(mariadb_url, tmp_path / "b", key=KEY)
    finally:
        engine.dispose()
    assert not (tmp_path / "b" / "manifest.json").exists() and not (tmp_path / "b" / "store.sql.enc").exists()


@pytest.fixture
def sqlite_backup(tmp_path: Path) -> tuple[str, Path]:
    _, url = build_store(tmp_path / "p")
    folder = tmp_path / "backup"
    backup_store(url, folder, key=KEY)
    return url, folder


def _variant(folder: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(folder, target)
    return target


def test_a_changed_backup_or_a_wrong_key_is_refused_before_the_store_is_touched(
    sqlite_backup: tuple[str, Path], tmp_path: Path
) -> None:
    url, folder = sqlite_backup
    before = snapshot(url)

    flipped = _variant(folder, tmp_path, "flipped")
    data = flipped / "store.sqlite.enc"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    data.write_bytes(bytes(raw))
    with pytest.raises(BackupIntegrityError, match="changed or truncated"):
        restore_store(url, flipped, key=KEY, force=True)

    cut = _variant(folder, tmp_path, "cut")
    (cut / "store.sqlite.enc").write_bytes((cut / "store.sqlite.enc").read_bytes()[:-100])
    with pytest.raises(BackupIntegrityError, match="changed or truncated"):
        restore_store(url, cut, key=KEY, force=True)

    edited = _variant(folder, tmp_path, "edited")  # the tampered file's hash written into the manifest
    manifest = json.loads((edited / "manifest.json").read_text("utf-8"))
    shutil.copy(data, edited / "store.sqlite.enc")
    manifest["file"]["sha256"] = __import__("hashlib").sha256(data.read_bytes()).hexdigest()
    (edited / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(BackupIntegrityError, match="bad signature"):
        restore_store(url, edited, key=KEY, force=True)

    with pytest.raises(BackupIntegrityError, match="wrong key"):
        restore_store(url, folder, key=OTHER_KEY, force=True)
    with pytest.raises(RestoreRefusedError, match="encrypted"):
        restore_store(url, folder, key=None, force=True)
    with pytest.raises(BackupError, match="already holds a backup"):
        backup_store(url, folder, key=KEY)
    assert snapshot(url) == before  # nothing was restored


def test_an_unencrypted_backup_is_written_and_restored_only_on_purpose(tmp_path: Path) -> None:
    _, url = build_store(tmp_path / "p")
    before = snapshot(url)
    result = backup_store(url, tmp_path / "plain", key=None)
    assert result.data_file.name == "store.sqlite" and result.manifest["encryption"] is None
    assert result.manifest["signature"] is None and mode(result.data_file) == 0o600
    wipe(url)
    with pytest.raises(RestoreRefusedError, match="not encrypted"):
        restore_store(url, tmp_path / "plain", key=KEY)
    restore_store(url, tmp_path / "plain", key=None, allow_unencrypted=True)
    assert snapshot(url) == before


def test_an_older_revision_is_upgraded_and_an_unknown_one_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old' / 'crm.db'}"
    engine = crm_store.init_store(url)
    previous = ScriptDirectory.from_config(migrations_config()).get_revision(HEAD).down_revision
    assert isinstance(previous, str)
    with engine.begin() as conn:
        command.downgrade(migrations_config(conn), previous)
    engine.dispose()
    backup_store(url, tmp_path / "old-backup", key=KEY)
    target = f"sqlite:///{tmp_path / 'new' / 'crm.db'}"
    result = restore_store(target, tmp_path / "old-backup", key=KEY)
    assert (result.restored_revision, result.revision) == (previous, HEAD)
    assert snapshot(target)["alembic_version"] == [(HEAD,)]

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("update alembic_version set version_num = '9999_from_the_future'")
    engine.dispose()
    backup_store(url, tmp_path / "future-backup", key=KEY)
    with pytest.raises(RestoreRefusedError, match="does not know"):
        restore_store(f"sqlite:///{tmp_path / 'other' / 'crm.db'}", tmp_path / "future-backup", key=KEY)
    assert not (tmp_path / "other" / "crm.db").exists()


def test_a_table_a_later_revision_dropped_is_backed_up_verified_and_restored(tmp_path: Path) -> None:
    """A store at 0011 still has ``organisation`` (0012 drops it): its backup lists the table, the restore checks
    it, and the upgrade after the restore drops it."""
    url = f"sqlite:///{tmp_path / 'old' / 'crm.db'}"
    engine = crm_store.init_store(url)
    with engine.begin() as conn:
        command.downgrade(migrations_config(conn), "0011")
        conn.exec_driver_sql("insert into organisation (organisation_id, name, key) values ('o1', '某某公司', '某某')")
    engine.dispose()
    backup_store(url, tmp_path / "old-backup", key=KEY)
    manifest = json.loads((tmp_path / "old-backup" / "manifest.json").read_text("utf-8"))
    assert manifest["tables"]["organisation"]["rows"] == 1
    target = f"sqlite:///{tmp_path / 'new' / 'crm.db'}"
    result = restore_store(target, tmp_path / "old-backup", key=KEY)
    assert (result.restored_revision, result.revision, result.tables["organisation"]) == ("0011", HEAD, 1)
    engine = sa.create_engine(target)
    try:
        assert "organisation" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------------ the stream


def _seal(data: bytes, key: bytes = KEY, chunk_size: int = 16) -> bytes:
    out = io.BytesIO()
    writer = encrypting_writer(out, key, chunk_size)
    for start in range(0, len(data), 7):  # written in pieces that do not line up with chunks
        writer.write(data[start : start + 7])
    writer.close()
    assert writer.sink.size == len(out.getvalue())
    return out.getvalue()


def _open(sealed: bytes, key: bytes = KEY) -> bytes:
    return b"".join(decrypt_chunks(io.BytesIO(sealed), key))


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 48, 100])
def test_the_stream_round_trips_any_size(size: int) -> None:
    data = os.urandom(size)
    sealed = _seal(data)
    assert _open(sealed) == data
    assert len(sealed) == 44 + (size // 16 + 1) * 16 + size  # header, a tag per chunk, a final chunk always


def test_the_stream_refuses_flipped_truncated_reordered_or_extended_files() -> None:
    sealed = _seal(bytes(range(80)))  # five full chunks of 16 and an empty final one
    header, chunk = 44, 32
    flipped = bytearray(sealed)
    flipped[header + chunk + 3] ^= 0x80
    chunks = [sealed[header + i * chunk : header + (i + 1) * chunk] for i in range(5)]
    swapped = sealed[:header] + chunks[1] + chunks[0] + b"".join(chunks[2:]) + sealed[header + 5 * chunk :]
    bad = {
        "flipped": bytes(flipped),
        "cut at a chunk boundary": sealed[: header + 2 * chunk],
        "cut inside a chunk": sealed[:-5],
        "chunks swapped": swapped,
        "bytes appended": sealed + b"\x00" * 16,
        "chunk size changed": sealed[:8] + (32).to_bytes(4, "big") + sealed[12:],
    }
    for what, data in bad.items():
        with pytest.raises(BackupIntegrityError):
            _open(data)
            pytest.fail(f"{what}: accepted")
    with pytest.raises(BackupIntegrityError, match="fails authentication"):
        _open(sealed, OTHER_KEY)
    assert _seal(b"same") != _seal(b"same")  # a fresh salt (file key) per backup


def test_the_key_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    text = base64.b64encode(KEY).decode()
    assert load_backup_key(environ={BACKUP_KEY_ENV: text}) == KEY
    (tmp_path / "k.txt").write_text(text + "\n")
    (tmp_path / "k.bin").write_bytes(KEY)
    assert load_backup_key(tmp_path / "k.txt", environ={}) == load_backup_key(tmp_path / "k.bin", environ={}) == KEY
    with pytest.raises(BackupKeyError, match=r"--key-file \(not given\).*CRMKIT_BACKUP_KEY \(not set\)"):
        load_backup_key(environ={})
    with pytest.raises(BackupKeyError, match="16 bytes"):
        load_backup_key(environ={BACKUP_KEY_ENV: base64.b64encode(KEY[:16]).decode()})
    assert key_id(KEY) != key_id(OTHER_KEY) and KEY.hex()[:16] not in key_id(KEY)


def test_the_backup_and_restore_commands(tmp_path: Path) -> None:
    config, url = build_store(tmp_path / "p")
    before = snapshot(url)
    runner = CliRunner()
    out = tmp_path / "nightly"
    refused = runner.invoke(app, ["backup", "--config", str(config), "--out", str(out)], env={BACKUP_KEY_ENV: ""})
    assert refused.exit_code == 2 and "--no-encrypt" in flat(refused.output) and not (out / "manifest.json").exists()
    env = {BACKUP_KEY_ENV: base64.b64encode(KEY).decode()}
    done = runner.invoke(app, ["backup", "--config", str(config), "--out", str(out)], env=env)
    assert done.exit_code == 0, done.output
    assert f"key id {key_id(KEY)}" in flat(done.output)
    refused = runner.invoke(app, ["restore", "--config", str(config), "--from", str(out)], env=env)
    assert refused.exit_code == 1 and "--force" in flat(refused.output)
    restored = runner.invoke(app, ["restore", "--config", str(config), "--from", str(out), "--force"], env=env)
    assert restored.exit_code == 0, restored.output
    assert "match the manifest" in flat(restored.output)
    assert without_audit(snapshot(url)) == without_audit(before)
    with Session(sa.create_engine(url)) as session:
        actions = crm_store.read_audit_events(session)["action"].to_list()
    runs = ["run.start", "run.merge", "run.finish"]  # the run that filled the store
    assert actions == [*runs, "store.restore"]  # the backup's own event came after its snapshot


@pytest.fixture(autouse=True)
def _no_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(BACKUP_KEY_ENV, raising=False)
    yield
