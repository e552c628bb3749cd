"""Backups of the store: the backend's own consistent dump, encrypted, with a signed manifest that proves it whole.

A backup is a folder (``0700``) holding two files (``0600``):

- ``store.sqlite.enc`` / ``store.pgdump.enc`` / ``store.sql.enc``: the dump, encrypted (no ``.enc`` with
  ``encrypt=False``). SQLite: a copy made with the online backup API (``sqlite3.Connection.backup``: a consistent
  snapshot while a run may be writing), vacuumed so freed pages (erased data) are not carried along. PostgreSQL:
  ``pg_dump -Fc`` of the store's tables, run on a snapshot exported from the transaction that computes the
  manifest's checksums (``--snapshot``), so dump and checksums describe the same instant. MariaDB/MySQL:
  ``mariadb-dump --single-transaction``; MariaDB cannot share a snapshot with another session, so the backup holds
  the store's run lock and computes the checksums before and after the dump, refusing a backup during which the
  store changed anyway (a write that does not take the lock).
- ``manifest.json``: crmkit version, alembic revision, backend, creation time, the key id (a hash of the key, never
  the key), every store table with its row count and checksum, the dump file's size and sha256, and an HMAC-SHA256
  signature over all of it (a key derived from the backup key), so a manifest edited by hand is refused.

The ``run_lock`` table is left out of every backup (its rows are the state of live processes, not data).

Encrypted file format (``crmkit-stream/1``): chunked AES-256-GCM, after the STREAM construction, so any size is
encrypted and decrypted in constant memory::

    header   = b"CRMKBAK1" | chunk_size (uint32 BE) | salt (32 random bytes)           44 bytes
    file_key = HKDF-SHA256(backup key, salt=salt, info=b"crmkit backup v1: data")      32 bytes
    chunk i  = AES-256-GCM(file_key, nonce = i (uint64 BE) | final (uint32 BE, 0 or 1),
                           aad = header | i (uint64 BE) | final (uint8), plaintext_i)   len(plaintext_i) + 16 bytes

Every chunk but the last holds exactly ``chunk_size`` plaintext bytes; the last holds fewer (possibly none) and is
the only one sealed with ``final = 1``. So a flipped bit fails that chunk's tag, swapped or repeated chunks fail
(their index is in the nonce and the associated data), a file cut at a chunk boundary lacks its final chunk, and a
changed header (chunk size, salt) fails every chunk. A fresh salt per backup gives a fresh file key, so the
counter nonces never repeat under one key.

Restore checks the manifest's signature and key id, then the dump file's sha256, before it touches the store; then
refuses an alembic revision this crmkit does not know (an older one is restored and then upgraded by
``init_store``) and a store that already holds rows (unless ``force``); takes the store's run lock; restores with
the backend's tool (``pg_restore --single-transaction --clean --if-exists``, the ``mariadb`` client, or the backup
API); verifies every table's row count and checksum against the manifest; and upgrades the schema.

Connection parameters come from the store URL; the password goes to the tools through ``PGPASSWORD`` or a
``0600`` MariaDB option file, never on a command line.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import hmac
import json
import logging
import os
import shutil
import sqlite3
import stat
import struct
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from crm_store.errors import StoreError
from crm_store.lock import HeldLock, acquire_run_lock, insert_run_lock
from crm_store.models import Base
from crm_store.store import init_store, migrations_config, open_store, shown_url

__all__ = [
    "BACKUP_KEY_ENV",
    "DEFAULT_CHUNK_SIZE",
    "MANIFEST_NAME",
    "Backend",
    "BackupError",
    "BackupIntegrityError",
    "BackupKeyError",
    "BackupResult",
    "RestoreRefusedError",
    "RestoreResult",
    "backup_store",
    "decrypt_chunks",
    "encrypting_writer",
    "key_id",
    "load_backup_key",
    "read_manifest",
    "restore_store",
    "store_tables",
    "table_checksums",
    "verify_backup",
]

logger = logging.getLogger(__name__)

Backend = Literal["sqlite", "postgresql", "mariadb"]

#: The environment variable holding the backup key (base64 of 32 random bytes).
BACKUP_KEY_ENV: Final = "CRMKIT_BACKUP_KEY"
MANIFEST_NAME: Final = "manifest.json"
MANIFEST_FORMAT: Final = "crmkit-backup/1"
STREAM_FORMAT: Final = "crmkit-stream/1"
DEFAULT_CHUNK_SIZE: Final = 1 << 20
#: Tables never backed up: the run lock's rows belong to live processes.
EXCLUDED_TABLES: Final = ("run_lock",)
#: Tables of earlier revisions that a later migration dropped (``organisation``: 0012). A backup taken before then
#: lists them; restoring it verifies them too, and the upgrade that follows the restore drops them.
RETIRED_TABLES: Final = ("organisation",)

_MAGIC = b"CRMKBAK1"
_HEADER = struct.Struct(">8sI32s")
_TAG = 16
_MAX_CHUNK = 1 << 26
_DATA_NAMES: Final[dict[str, str]] = {"sqlite": "store.sqlite", "postgresql": "store.pgdump", "mariadb": "store.sql"}
_FILE_MODE = 0o600
_DIR_MODE = 0o700
_READ_BLOCK = 1 << 20
_FETCH = 5000


class BackupError(StoreError, RuntimeError):
    """A backup or restore could not be done (a missing tool, a failed dump, an unusable folder)."""


class BackupKeyError(BackupError):
    """No usable backup key: none was given, or it is not base64 of 32 bytes."""


class BackupIntegrityError(BackupError):
    """The backup is not what was written: a wrong key, a changed manifest, a changed or truncated file, or a
    restored store whose checksums differ from the manifest."""


class RestoreRefusedError(BackupError):
    """Restoring would be unsafe: a store that holds rows (without ``force``), an unknown alembic revision, another
    backend or schema."""


# ------------------------------------------------------------------------------------------------- keys


def load_backup_key(key_file: str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> bytes:
    """The 32-byte backup key: from ``key_file`` when given, else from ``$CRMKIT_BACKUP_KEY``.

    A key file holds the key as base64 text (``openssl rand -base64 32 > backup.key``) or as 32 raw bytes; a file
    that other users can read is used with a warning.

    Raises:
        BackupKeyError: no key was found (the message lists where it looked) or the key is not 32 bytes.
    """
    env = os.environ if environ is None else environ
    if key_file is not None:
        path = Path(key_file).expanduser()
        try:
            data = path.read_bytes()
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError as exc:
            raise BackupKeyError(f"cannot read the backup key file {path}: {exc.strerror or exc}") from None
        if mode & 0o077:
            logger.warning("the backup key file %s can be read by other users (mode %o): chmod 600 it", path, mode)
        if len(data) == 32:
            return data
        return _decode_key(data.decode("ascii", "replace").strip(), f"the key file {path}")
    value = env.get(BACKUP_KEY_ENV, "").strip()
    if not value:
        raise BackupKeyError(
            f"no backup key: looked at --key-file (not given) and ${BACKUP_KEY_ENV} (not set). Make one with "
            f"`openssl rand -base64 32`, keep it apart from the backups, and set ${BACKUP_KEY_ENV} or pass "
            "--key-file (or pass --no-encrypt to write an unencrypted backup on purpose)"
        )
    return _decode_key(value, f"${BACKUP_KEY_ENV}")


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise BackupKeyError(f"{where} is not base64 (expected 32 random bytes, base64-encoded)") from None
    if len(key) != 32:
        raise BackupKeyError(f"{where} decodes to {len(key)} bytes; an AES-256 key is 32 bytes")
    return key


def key_id(key: bytes) -> str:
    """A short, stable name of ``key`` for manifests and messages: a hash of it, from which it cannot be found."""
    return hashlib.sha256(b"crmkit backup key id\x00" + key).hexdigest()[:16]


def _derive(key: bytes, info: bytes, salt: bytes | None = None) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)


# ---------------------------------------------------------------------------------------- the encrypted stream


class _Sink:
    """Writes bytes to a file, counting them and hashing them (sha256)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.size += len(data)
        self.digest.update(data)


class PlainWriter:
    """The unencrypted writer (``encrypt=False``): the same interface as :class:`EncryptingWriter`."""

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink

    def write(self, data: bytes) -> None:
        self.sink.write(data)

    def close(self) -> None:
        self.sink.handle.flush()


class EncryptingWriter:
    """Encrypts what is written to it in ``crmkit-stream/1`` chunks (see the module docstring); ``close`` seals
    the final chunk. Holds at most one chunk in memory."""

    def __init__(self, sink: _Sink, key: bytes, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        if not 0 < chunk_size <= _MAX_CHUNK:
            raise ValueError(f"chunk_size must be 1 to {_MAX_CHUNK} bytes")
        self.sink = sink
        self.chunk_size = chunk_size
        salt = os.urandom(32)
        self.header = _HEADER.pack(_MAGIC, chunk_size, salt)
        self.aead = AESGCM(_derive(key, b"crmkit backup v1: data", salt))
        self.index = 0
        self.buffer = bytearray()
        self.closed = False
        sink.write(self.header)

    def write(self, data: bytes) -> None:
        if self.closed:
            raise ValueError("write to a closed backup writer")
        self.buffer += data
        while len(self.buffer) > self.chunk_size:  # keep a full chunk back: it may turn out to be the last
            self._seal(bytes(self.buffer[: self.chunk_size]), final=False)
            del self.buffer[: self.chunk_size]

    def close(self) -> None:
        if self.closed:
            return
        if len(self.buffer) == self.chunk_size:
            self._seal(bytes(self.buffer), final=False)
            self.buffer.clear()
        self._seal(bytes(self.buffer), final=True)  # fewer than chunk_size bytes, possibly none
        self.buffer.clear()
        self.closed = True
        self.sink.handle.flush()

    def _seal(self, plaintext: bytes, *, final: bool) -> None:
        nonce, aad = _nonce_aad(self.header, self.index, final)
        self.sink.write(self.aead.encrypt(nonce, plaintext, aad))
        self.index += 1


def _nonce_aad(header: bytes, index: int, final: bool) -> tuple[bytes, bytes]:
    if index >= 1 << 64:
        raise BackupError("backup too large for one stream")
    return struct.pack(">QI", index, int(final)), header + struct.pack(">QB", index, int(final))


def encrypting_writer(handle: IO[bytes], key: bytes | None, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Any:
    """A writer (``write(bytes)``, ``close()``) that encrypts into ``handle`` (or copies, with ``key=None``); its
    ``sink.size`` and ``sink.digest`` are the size and sha256 of what reached ``handle``."""
    sink = _Sink(handle)
    return PlainWriter(sink) if key is None else EncryptingWriter(sink, key, chunk_size)


def decrypt_chunks(handle: IO[bytes], key: bytes) -> Iterator[bytes]:
    """The plaintext of a ``crmkit-stream/1`` file, chunk by chunk, each authenticated before it is yielded.

    Raises:
        BackupIntegrityError: not such a file, a wrong key, a changed, reordered, repeated or missing chunk, or
            bytes after the final chunk.
    """
    header = handle.read(_HEADER.size)
    if len(header) != _HEADER.size:
        raise BackupIntegrityError("the backup file is too short to be a crmkit backup")
    magic, chunk_size, salt = _HEADER.unpack(header)
    if magic != _MAGIC:
        raise BackupIntegrityError("the backup file is not a crmkit-stream/1 file (wrong magic bytes)")
    if not 0 < chunk_size <= _MAX_CHUNK:
        raise BackupIntegrityError(f"the backup file's header is damaged (chunk size {chunk_size})")
    aead = AESGCM(_derive(key, b"crmkit backup v1: data", salt))
    index = 0
    while True:
        sealed = handle.read(chunk_size + _TAG)
        final = len(sealed) < chunk_size + _TAG
        if final and len(sealed) < _TAG:
            raise BackupIntegrityError(f"the backup file is truncated: chunk {index} is missing")
        nonce, aad = _nonce_aad(header, index, final)
        try:
            plaintext = aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise BackupIntegrityError(
                f"chunk {index} of the backup file fails authentication: the file was changed, truncated or "
                "reordered, or the key is not the one it was made with"
            ) from None
        yield plaintext
        if final:
            if handle.read(1):
                raise BackupIntegrityError("the backup file has bytes after its final chunk")
            return
        index += 1


# ---------------------------------------------------------------------------------------- tables and checksums


def store_tables(conn: sa.Connection) -> list[str]:
    """The crmkit tables present in the store (the current schema on PostgreSQL), ``run_lock`` left out, sorted;
    tables earlier revisions had and a later one dropped count while they exist."""
    known = {*Base.metadata.tables, *RETIRED_TABLES, "alembic_version"} - set(EXCLUDED_TABLES)
    return sorted(known & set(sa.inspect(conn).get_table_names()))


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo is not None else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"no canonical form for {type(value).__name__}")


def _row_line(row: Sequence[Any]) -> bytes:
    text = json.dumps(list(row), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_canonical)
    return text.encode("utf-8") + b"\n"


def table_checksums(conn: sa.Connection, tables: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Row count and checksum of each table: sha256 over its rows, each as canonical JSON (timestamps in UTC, JSON
    documents with sorted keys), in primary-key order (byte order: ``COLLATE "C"`` on PostgreSQL).

    Run it inside one transaction (``REPEATABLE READ`` on PostgreSQL and MariaDB) so the tables agree.
    """
    inspector = sa.inspect(conn)
    quote = conn.dialect.identifier_preparer.quote
    on_postgres = conn.dialect.name == "postgresql"
    out: dict[str, dict[str, Any]] = {}
    for table in tables:
        columns = inspector.get_columns(table)
        names = [c["name"] for c in columns]
        text_columns = {c["name"] for c in columns if isinstance(c["type"], sa.String)}
        json_columns = {c["name"] for c in columns if _is_json(c["type"])}
        # primary-key order; without a key every column that can be ordered (PostgreSQL cannot order ``json``)
        order = inspector.get_pk_constraint(table).get("constrained_columns") or [
            n for n in names if n not in json_columns
        ]
        by = [f'{quote(c)} COLLATE "C"' if on_postgres and c in text_columns else quote(c) for c in order]
        sql = f"SELECT {', '.join(quote(c) for c in names)} FROM {quote(table)} ORDER BY {', '.join(by)}"
        digest, rows = hashlib.sha256(), 0
        result = conn.execution_options(stream_results=True).exec_driver_sql(sql)
        for part in result.partitions(_FETCH):
            for row in part:
                digest.update(_row_line(row))
                rows += 1
        out[table] = {"rows": rows, "sha256": digest.hexdigest()}
    return out


def _is_json(type_: Any) -> bool:
    return isinstance(type_, sa.JSON) or "JSON" in type(type_).__name__.upper()


def _revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    versions = sorted(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
    return ",".join(versions) or None


@contextmanager
def _snapshot(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in one read transaction (``REPEATABLE READ`` where the backend has it), rolled back after."""
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin() as transaction:
            yield conn
            transaction.rollback()


# ---------------------------------------------------------------------------------------- files and folders


def _private_dir(path: Path) -> Path:
    missing = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        folder.mkdir(mode=_DIR_MODE)
        os.chmod(folder, _DIR_MODE)
    return path


def _open_private(path: Path, *, exclusive: bool = True) -> IO[bytes]:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, _FILE_MODE)
    os.fchmod(fd, _FILE_MODE)
    return os.fdopen(fd, "wb")


def _sha256_file(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_READ_BLOCK), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _backend(url: sa.URL) -> Backend:
    name = url.get_backend_name()
    if name == "sqlite":
        return "sqlite"
    if name == "postgresql":
        return "postgresql"
    if name in ("mysql", "mariadb"):
        return "mariadb"
    raise BackupError(f"crmkit cannot back up a {name} store (SQLite, PostgreSQL and MariaDB/MySQL are supported)")


def _crmkit_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crmkit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
        return "unknown"


# ---------------------------------------------------------------------------------------- external tools


def _tool(*names: str, package: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise BackupError(f"{' / '.join(names)} not found on PATH: install {package}")


def _tool_version(path: str) -> str:
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "unknown"
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "unknown"


def _libpq_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pg_connection(url: sa.URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment that carries the password."""
    parts = {"host": url.host, "port": str(url.port) if url.port else None, "dbname": url.database}
    parts["user"] = url.username
    for name, value in url.query.items():
        if name.lower() in ("password", "passfile"):
            continue
        parts[name] = value if isinstance(value, str) else value[-1]
    conninfo = " ".join(f"{k}={_libpq_quote(v)}" for k, v in parts.items() if v)
    env = dict(os.environ)
    env.pop("PGPASSWORD", None)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def _option_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextmanager
def _mariadb_options(url: sa.URL) -> Iterator[list[str]]:
    """Client arguments for the store: the password in a ``0600`` option file (``--defaults-extra-file``, which
    must come first), host, port, user and socket as options."""
    with tempfile.TemporaryDirectory(prefix="crmkit-mariadb-") as folder:
        args: list[str] = []
        if url.password:
            path = Path(folder) / "client.cnf"
            with _open_private(path) as handle:
                handle.write(f"[client]\npassword={_option_value(str(url.password))}\n".encode())
            args.append(f"--defaults-extra-file={path}")
        if url.host:
            args.append(f"--host={url.host}")
        if url.port:
            args.append(f"--port={url.port}")
        if url.username:
            args.append(f"--user={url.username}")
        socket = url.query.get("unix_socket")
        if socket:
            args.append(f"--socket={socket if isinstance(socket, str) else socket[-1]}")
        args.append("--default-character-set=utf8mb4")
        yield args


def _tail(errors: IO[bytes]) -> str:
    errors.seek(0)
    text = errors.read().decode("utf-8", "replace").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-5:])[-1500:] or "no message"


def _dump_to(cmd: list[str], env: dict[str, str] | None, writer: Any, what: str) -> None:
    """Run a dump tool and stream its standard output into ``writer``."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, env=env)
        stdout = proc.stdout
        assert stdout is not None
        try:
            for block in iter(lambda: stdout.read(_READ_BLOCK), b""):
                writer.write(block)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            stdout.close()
        code = proc.wait()
        if code != 0:
            raise BackupError(f"{what} failed (exit {code}): {_tail(errors)}")


def _feed(cmd: list[str], env: dict[str, str] | None, chunks: Iterator[bytes], what: str) -> None:
    """Run a restore tool, feeding ``chunks`` to its standard input."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        assert proc.stdin is not None
        broken = False
        try:
            for chunk in chunks:
                try:
                    proc.stdin.write(chunk)
                except BrokenPipeError:
                    broken = True
                    break
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                broken = True
        code = proc.wait()
        if code != 0 or broken:
            raise BackupError(f"{what} failed (exit {code}): {_tail(errors)}")


# ---------------------------------------------------------------------------------------- the manifest


def _signing_key(key: bytes) -> bytes:
    return _derive(key, b"crmkit backup v1: manifest")


def _signature(manifest: Mapping[str, Any], key: bytes) -> str:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return "hmac-sha256:" + hmac.new(_signing_key(key), text, hashlib.sha256).hexdigest()


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of the backup in ``folder`` (not yet verified: see :func:`verify_backup`).

    Raises:
        BackupError: no manifest, or not a crmkit backup manifest.
    """
    path = Path(folder) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise BackupError(f"no crmkit backup in {folder}: {MANIFEST_NAME} is missing") from None
    except (OSError, ValueError) as exc:
        raise BackupIntegrityError(f"cannot read {path}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise BackupIntegrityError(f"{path} is not a {MANIFEST_FORMAT} manifest")
    return manifest


def verify_backup(folder: str | Path, key: bytes | None, *, allow_unencrypted: bool = False) -> dict[str, Any]:
    """Check a backup before anything is restored from it: the key id, the manifest's signature, and the dump
    file's size and sha256 (one streaming read). Returns the manifest.

    Raises:
        BackupIntegrityError: a wrong key, a changed manifest, a changed, truncated or missing dump file.
        RestoreRefusedError: an unencrypted backup without ``allow_unencrypted``, or an encrypted one without a key.
    """
    manifest = read_manifest(folder)
    encryption = manifest.get("encryption")
    if encryption:
        if key is None:
            raise RestoreRefusedError("the backup is encrypted: give its key ($CRMKIT_BACKUP_KEY or --key-file)")
        if encryption.get("key_id") != key_id(key):
            raise BackupIntegrityError(
                f"wrong key: the backup was made with key id {encryption.get('key_id')}, this key's id is "
                f"{key_id(key)}; nothing was restored"
            )
        if not hmac.compare_digest(str(manifest.get("signature")), _signature(manifest, key)):
            raise BackupIntegrityError(
                f"the manifest of {folder} was changed since the backup was made (bad signature)"
            )
    elif not allow_unencrypted:
        raise RestoreRefusedError(
            f"the backup in {folder} is not encrypted, so nothing proves it unchanged but its sha256: "
            "pass --no-encrypt to restore it anyway"
        )
    info = manifest.get("file") or {}
    path = Path(folder) / str(info.get("name", ""))
    if not info.get("name") or Path(str(info["name"])).name != info["name"] or not path.is_file():
        raise BackupIntegrityError(f"the backup's dump file {info.get('name')!r} is missing from {folder}")
    size, digest = _sha256_file(path)
    if size != info.get("bytes") or not hmac.compare_digest(digest, str(info.get("sha256"))):
        raise BackupIntegrityError(
            f"{path.name} was changed or truncated since the backup was made (sha256 or size differs from the "
            "manifest); nothing was restored"
        )
    return manifest


def _plaintext(path: Path, key: bytes | None) -> Iterator[bytes]:
    with path.open("rb") as handle:
        if key is None:
            yield from iter(lambda: handle.read(_READ_BLOCK), b"")
        else:
            yield from decrypt_chunks(handle, key)


# ---------------------------------------------------------------------------------------- backup


@dataclass(frozen=True)
class BackupResult:
    """What a backup wrote."""

    folder: Path
    data_file: Path
    manifest_file: Path
    manifest: dict[str, Any]
    seconds: float
    #: The ``store.backup`` audit event (``None``: no actor given, or the store was too busy to record it).
    audit_event_id: int | None = None

    @property
    def rows(self) -> int:
        return sum(int(t["rows"]) for t in self.manifest["tables"].values())


@dataclass
class _Dumped:
    tables: dict[str, dict[str, Any]]
    revision: str | None
    dump: dict[str, Any] = field(default_factory=dict)


def backup_store(
    url: str,
    out_dir: str | Path,
    *,
    key: bytes | None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    lock_wait_seconds: float = 0.0,
    actor: str | None = None,
) -> BackupResult:
    """Back up the store at ``url`` into the new or empty folder ``out_dir`` (see the module docstring).

    Args:
        url: the store's SQLAlchemy URL.
        out_dir: the backup folder; created ``0700``; must not already hold a backup.
        key: the 32-byte backup key (:func:`load_backup_key`); ``None`` writes an UNENCRYPTED backup (the caller
            asked for it explicitly).
        chunk_size: plaintext bytes per encrypted chunk.
        lock_wait_seconds: MariaDB only: how long to wait for a run that holds the store's run lock.
        actor: who made the backup, for the store's audit trail (no event without it).

    Raises:
        BackupError: a missing tool, a failed dump, a store that changed during a MariaDB dump, a folder that holds
            a backup already.
        StoreNotFoundError: there is no store at ``url``.
    """
    started = time.monotonic()
    parsed = sa.make_url(url)
    backend = _backend(parsed)
    folder = _private_dir(Path(out_dir).expanduser())
    data_name = _DATA_NAMES[backend] + (".enc" if key is not None else "")
    data_path, manifest_path = folder / data_name, folder / MANIFEST_NAME
    taken = [p.name for p in (manifest_path, *(folder / f"{n}{e}" for n in _DATA_NAMES.values() for e in ("", ".enc")))]
    if any((folder / name).exists() for name in taken):
        raise BackupError(f"{folder} already holds a backup: choose a new or empty folder")
    engine = open_store(url)
    try:
        with _open_private(data_path) as handle:
            writer = encrypting_writer(handle, key, chunk_size)
            try:
                if backend == "sqlite":
                    dumped = _dump_sqlite(parsed, writer)
                elif backend == "postgresql":
                    dumped = _dump_postgres(parsed, engine, writer)
                else:
                    dumped = _dump_mariadb(parsed, engine, writer, lock_wait_seconds)
                writer.close()
            except BaseException:
                handle.close()
                data_path.unlink(missing_ok=True)
                raise
        manifest: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "crmkit_version": _crmkit_version(),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "backend": backend,
            "store": shown_url(parsed),
            "alembic_revision": dumped.revision,
            "dump": dumped.dump,
            "encryption": None
            if key is None
            else {
                "format": STREAM_FORMAT,
                "cipher": "AES-256-GCM",
                "kdf": "HKDF-SHA256",
                "chunk_size": chunk_size,
                "key_id": key_id(key),
            },
            "file": {"name": data_name, "bytes": writer.sink.size, "sha256": writer.sink.digest.hexdigest()},
            "excluded_tables": list(EXCLUDED_TABLES),
            "tables": dumped.tables,
        }
        manifest["signature"] = None if key is None else _signature(manifest, key)
        partial = folder / (MANIFEST_NAME + ".part")
        with _open_private(partial, exclusive=False) as handle:
            handle.write(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
        os.replace(partial, manifest_path)  # the manifest last: a folder with one holds a whole backup
        audit_event_id = None
        if actor:
            try:
                audit_event_id = _audit(engine, actor, "store.backup", manifest)
            except sa.exc.OperationalError as exc:  # e.g. SQLite busy with a run's load: the backup itself is whole
                logger.warning("the backup is complete but could not be recorded in the audit trail: %s", exc.orig)
    finally:
        engine.dispose()
    rows = sum(int(t["rows"]) for t in manifest["tables"].values())
    logger.info("backed up %s: %d tables, %d rows", shown_url(parsed), len(manifest["tables"]), rows)
    return BackupResult(folder, data_path, manifest_path, manifest, time.monotonic() - started, audit_event_id)


def _sqlite_path(url: sa.URL) -> Path:
    if url.database in (None, "", ":memory:") or str(url.database).startswith("file:"):
        raise BackupError("only a SQLite store in a file (sqlite:///path/crm.db) can be backed up or restored")
    return Path(str(url.database)).expanduser().resolve()


def _dump_sqlite(url: sa.URL, writer: Any) -> _Dumped:
    source = _sqlite_path(url)
    work = Path(tempfile.mkdtemp(prefix=".crmkit-backup-", dir=source.parent))  # beside the store: as private
    try:
        copy = work / "copy.sqlite"
        _open_private(copy).close()
        src = sqlite3.connect(source, timeout=60)
        dst = sqlite3.connect(copy)
        try:
            src.backup(dst)  # one step: a consistent snapshot, while runs may write (WAL)
            dst.execute("PRAGMA journal_mode=DELETE")
            for table in EXCLUDED_TABLES:
                if dst.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone():
                    dst.execute(f'DELETE FROM "{table}"')
            dst.commit()
            dst.execute("VACUUM")  # freed pages may still hold erased values
        finally:
            dst.close()
            src.close()
        engine = sa.create_engine(f"sqlite:///{copy}", poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                tables = store_tables(conn)
                dumped = _Dumped(table_checksums(conn, tables), _revision(conn), {"tool": "sqlite3 backup API"})
                dumped.dump["sqlite_version"] = sqlite3.sqlite_version
        finally:
            engine.dispose()
        with copy.open("rb") as handle:
            for block in iter(lambda: handle.read(_READ_BLOCK), b""):
                writer.write(block)
        return dumped
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pg_table_pattern(schema: str, table: str) -> str:
    return '"' + schema.replace('"', '""') + '"."' + table.replace('"', '""') + '"'


def _dump_postgres(url: sa.URL, engine: sa.Engine, writer: Any) -> _Dumped:
    pg_dump = _tool("pg_dump", package="the PostgreSQL client (apt-get install postgresql-client)")
    conninfo, env = _pg_connection(url)
    with _snapshot(engine) as conn:
        snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        tables = store_tables(conn)
        cmd = [pg_dump, "--format=custom", f"--snapshot={snapshot}", "--no-password"]
        cmd += [f"--table={_pg_table_pattern(schema, t)}" for t in tables]
        cmd.append(f"--dbname={conninfo}")
        _dump_to(cmd, env, writer, "pg_dump")
        checksums = table_checksums(conn, tables)  # the snapshot pg_dump read
        revision = _revision(conn)
    dump = {"tool": "pg_dump -Fc", "tool_version": _tool_version(pg_dump), "schema": schema}
    return _Dumped(checksums, revision, dump)


def _dump_mariadb(url: sa.URL, engine: sa.Engine, writer: Any, lock_wait_seconds: float) -> _Dumped:
    dump_tool = _tool("mariadb-dump", "mysqldump", package="the MariaDB client (apt-get install mariadb-client)")
    lock = acquire_run_lock(engine, f"backup-{uuid.uuid4().hex[:12]}", wait_seconds=lock_wait_seconds)
    with lock:
        with _snapshot(engine) as conn:
            tables = store_tables(conn)
            before = table_checksums(conn, tables)
            revision = _revision(conn)
        with _mariadb_options(url) as options:
            cmd = [dump_tool, *options, "--single-transaction", "--no-tablespaces", "--hex-blob", "--skip-dump-date"]
            cmd += [str(url.database), *tables]
            _dump_to(cmd, None, writer, os.path.basename(dump_tool))
        with _snapshot(engine) as conn:
            after = table_checksums(conn, tables)
    if after != before:
        changed = sorted(t for t in tables if before.get(t) != after.get(t))
        raise BackupError(
            f"the store changed while it was dumped ({', '.join(changed)}: a write that does not take the run "
            "lock); nothing was kept: run the backup again"
        )
    dump: dict[str, Any] = {"tool": "mariadb-dump --single-transaction", "tool_version": _tool_version(dump_tool)}
    dump["database"] = url.database
    return _Dumped(before, revision, dump)


def _audit(engine: sa.Engine, actor: str, action: str, manifest: Mapping[str, Any]) -> int | None:
    """Record a backup or restore in the store's audit trail (when the store has one)."""
    from crm_store.steward import record_audit_event

    if not sa.inspect(engine).has_table("audit_event"):
        logger.warning("the store has no audit_event table: %s not recorded in an audit trail", action)
        return None
    encryption = manifest.get("encryption") or {}
    details = {
        "file": manifest["file"]["name"],
        "sha256": manifest["file"]["sha256"],
        "created_at": manifest["created_at"],
        "alembic_revision": manifest["alembic_revision"],
        "encrypted": bool(encryption),
        "key_id": encryption.get("key_id"),
        "tables": len(manifest["tables"]),
        "rows": sum(int(t["rows"]) for t in manifest["tables"].values()),
    }
    with Session(engine) as session, session.begin():
        return record_audit_event(
            session, actor=actor[:128], action=action, target={"backup": manifest["file"]["sha256"]}, details=details
        )


# ---------------------------------------------------------------------------------------- restore


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did."""

    manifest: dict[str, Any]
    #: The alembic revision of the backup, and the one the store has now (after ``init_store``'s upgrade).
    restored_revision: str | None
    revision: str | None
    #: Tables restored (and verified) with their row counts.
    tables: dict[str, int]
    #: Tables of the store that the backup did not have (a newer schema): dropped before the restore.
    dropped: list[str]
    seconds: float


def _known_revision(revision: str | None) -> bool:
    from alembic.script import ScriptDirectory

    if revision is None:
        return False
    script = ScriptDirectory.from_config(migrations_config())
    try:
        return all(script.get_revision(r) is not None for r in revision.split(","))
    except Exception:  # alembic raises several types for an unknown or ambiguous revision
        return False


def _rows_in_store(url: str) -> dict[str, int]:
    """Rows per crmkit table of the store at ``url`` (nothing for a missing SQLite file or an empty database)."""
    parsed = sa.make_url(url)
    if _backend(parsed) == "sqlite" and not _sqlite_path(parsed).exists():
        return {}
    engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            return {
                t: int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {quote(t)}").scalar_one())
                for t in store_tables(conn)
                if t != "alembic_version"
            }
    finally:
        engine.dispose()


def restore_store(
    url: str,
    folder: str | Path,
    *,
    key: bytes | None,
    force: bool = False,
    allow_unencrypted: bool = False,
    lock_wait_seconds: float = 0.0,
    actor: str | None = None,
) -> RestoreResult:
    """Restore the backup in ``folder`` into the store at ``url`` (see the module docstring for the checks).

    Args:
        url: the store to restore into (same backend as the backup; on PostgreSQL the same schema name).
        folder: the backup folder (``manifest.json`` and the dump file).
        key: the backup key (``None`` only for an unencrypted backup, with ``allow_unencrypted``).
        force: overwrite a store that holds rows.
        allow_unencrypted: accept a backup written with ``encrypt=False``.
        lock_wait_seconds: how long to wait for a run that holds the store's run lock.
        actor: who restored, for the restored store's audit trail (no event without it).

    Raises:
        BackupIntegrityError: wrong key, changed manifest or dump, or checksums that differ after the restore.
        RestoreRefusedError: a non-empty store without ``force``, an unknown revision, another backend or schema.
        RunLockedError: a run holds the store's run lock.
        BackupError: a missing tool, a failed restore tool.
    """
    started = time.monotonic()
    parsed = sa.make_url(url)
    backend = _backend(parsed)
    source = Path(folder).expanduser()
    manifest = verify_backup(source, key, allow_unencrypted=allow_unencrypted)
    if manifest.get("backend") != backend:
        raise RestoreRefusedError(
            f"the backup is of a {manifest.get('backend')} store; {shown_url(parsed)} is {backend}"
        )
    revision = manifest.get("alembic_revision")
    if not _known_revision(revision):
        raise RestoreRefusedError(
            f"the backup is at alembic revision {revision!r}, which this crmkit ({_crmkit_version()}) does not know "
            f"(made by a newer crmkit, from {manifest.get('crmkit_version')}?): restore it with that version"
        )
    if backend == "postgresql":
        _tool("pg_restore", package="the PostgreSQL client (apt-get install postgresql-client)")
    elif backend == "mariadb":
        _tool("mariadb", "mysql", package="the MariaDB client (apt-get install mariadb-client)")
    held = {t: n for t, n in _rows_in_store(url).items() if n}
    if held and not force:
        listed = ", ".join(f"{t} ({n:,})" for t, n in sorted(held.items()))
        raise RestoreRefusedError(
            f"the store {shown_url(parsed)} is not empty ({listed}): restoring would replace it; pass --force to "
            "overwrite it (take a backup of it first)"
        )
    data = source / manifest["file"]["name"]
    data_key = key if manifest.get("encryption") else None
    wanted = manifest["tables"]
    if backend == "postgresql":
        _check_schema(parsed, str(manifest.get("dump", {}).get("schema")))
    engine = init_store(url)  # the run lock needs the schema; the restore replaces the tables
    try:
        lock = acquire_run_lock(engine, f"restore-{uuid.uuid4().hex[:12]}", wait_seconds=lock_wait_seconds)
        with lock:
            dropped = _drop_tables_not_in(engine, wanted) if backend != "sqlite" else []
            if backend == "sqlite":
                _restore_sqlite(parsed, data, data_key, wanted, lock)
            elif backend == "postgresql":
                conninfo, env = _pg_connection(parsed)
                cmd = [shutil.which("pg_restore") or "pg_restore", "--single-transaction", "--clean", "--if-exists"]
                cmd += ["--no-owner", "--no-password", f"--dbname={conninfo}"]
                _feed(cmd, env, _plaintext(data, data_key), "pg_restore")
            else:
                client = _tool("mariadb", "mysql", package="the MariaDB client")
                with _mariadb_options(parsed) as options:
                    cmd = [client, *options, "--binary-mode", str(parsed.database)]
                    _feed(cmd, None, _plaintext(data, data_key), os.path.basename(client))
            _verify(engine, wanted, "the restored store")
        engine.dispose()
        engine = init_store(url)  # an older backup is upgraded to this crmkit's schema
        with engine.connect() as conn:
            now_at = _revision(conn)
        if actor:
            _audit(engine, actor, "store.restore", manifest)
    finally:
        engine.dispose()
    tables = {t: int(v["rows"]) for t, v in wanted.items()}
    logger.info("restored %s from %s: %d tables verified", shown_url(parsed), source, len(tables))
    return RestoreResult(manifest, revision, now_at, tables, dropped, time.monotonic() - started)


def _check_schema(url: sa.URL, schema: str) -> None:
    """A PostgreSQL dump names its schema: restore only into a store whose current schema has that name."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            current = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    finally:
        engine.dispose()
    if current != schema:
        raise RestoreRefusedError(
            f"the backup holds schema {schema!r}; the store URL points at schema {current!r}: restore into a "
            "database or search_path with that schema name"
        )


def _verify(engine: sa.Engine, wanted: Mapping[str, Any], what: str) -> None:
    with _snapshot(engine) as conn:
        present = set(store_tables(conn))
        missing = sorted(set(wanted) - present)
        found = table_checksums(conn, sorted(set(wanted) & present))
    differ = [
        f"{t} ({found[t]['rows']:,} rows, the backup {int(wanted[t]['rows']):,})"
        if found[t]["rows"] != wanted[t]["rows"]
        else f"{t} (checksum)"
        for t in sorted(found)
        if found[t] != {"rows": wanted[t]["rows"], "sha256": wanted[t]["sha256"]}
    ]
    if missing or differ:
        raise BackupIntegrityError(
            f"{what} does not match the backup's manifest: " + "; ".join([*(f"{t} missing" for t in missing), *differ])
        )


def _drop_tables_not_in(engine: sa.Engine, wanted: Mapping[str, Any]) -> list[str]:
    """Drop the store's crmkit tables the backup does not have (a newer schema), so that the restored revision's
    upgrade can create them again. ``run_lock`` stays."""
    with engine.begin() as conn:
        extra = [t for t in store_tables(conn) if t not in wanted]
        quote = conn.dialect.identifier_preparer.quote
        if conn.dialect.name == "postgresql":
            for table in extra:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(table)} CASCADE")
        elif extra:
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
            for table in extra:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(table)}")
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
    return extra


def _restore_sqlite(url: sa.URL, data: Path, key: bytes | None, wanted: Mapping[str, Any], lock: HeldLock) -> None:
    """Decrypt the copy beside the store, verify it, put this restore's lock row in it, then copy it over the
    store with the backup API (the store is replaced in one step, the lock never released in between)."""
    target = _sqlite_path(url)
    work = Path(tempfile.mkdtemp(prefix=".crmkit-restore-", dir=target.parent))
    try:
        copy = work / "copy.sqlite"
        with _open_private(copy) as handle:
            for chunk in _plaintext(data, key):
                handle.write(chunk)
        engine = sa.create_engine(f"sqlite:///{copy}", poolclass=sa.pool.NullPool)
        try:
            _verify(engine, wanted, "the decrypted backup")
            if sa.inspect(engine).has_table("run_lock"):
                with Session(engine) as session, session.begin():
                    insert_run_lock(session, lock.holder)
        finally:
            engine.dispose()
        src = sqlite3.connect(copy)
        dst = sqlite3.connect(target, timeout=60)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
