"""Personal data at rest: AES-GCM encrypted columns, keyed hashes and the keyring that holds their keys.

With no key configured nothing here changes a value: the store holds plain text, as it always did. With a key,
the columns typed :class:`EncryptedText` (``ENCRYPTED_COLUMNS``: phones, e-mail addresses, contact point values,
street addresses, field provenance values and raw source payloads) hold ``enc:<key id>:<base64 nonce+ciphertext>``.

Design:
- AES-256-GCM; the associated data is ``<table>.<column>``, so a value copied into another column (or table)
  does not decrypt.
- The nonce is synthetic: the first 12 bytes of an HMAC-SHA256 of the associated data and the plain text under a
  key of its own (the SIV construction). Encryption is therefore deterministic per key and column: equal values
  give equal ciphertexts, so the primary key of ``contact_point``, exact lookups (``WHERE primary_email = :v``,
  a subject request by e-mail or phone) and keyed upserts work on ciphertext, through the bind parameter, with no
  separate lookup column. It reveals which rows of one column hold equal values, exactly what a keyed HMAC
  lookup column would reveal, and nothing else; distinct values never share a nonce.
- Each master key (32 random bytes) yields three keys by HMAC-SHA256 with fixed labels: the AES key, the nonce
  key and the lookup key of :func:`Keyring.hmac` (keyed hashes such as ``id_hash``). A key's id is the first 8
  hex digits of a fourth derivation: a fingerprint, so a wrong key is told apart from a tampered value.
- A keyring holds keys oldest first; the newest encrypts, every one decrypts. ``crmkit keys rotate`` adds a key
  and re-encrypts every value in one transaction; the old keys stay until removed by hand.

Where the key comes from, first found wins: ``CRMKIT_KEY_FILE`` (a keyring file), ``CRMKIT_KEY`` (base64 of 32
bytes), the project file's ``security: {key_file: ...}`` (registered for the store's URL by
``pipelines.settings``), or a keyring attached to an engine with :func:`attach`. A keyring file must not be
readable by others (like ssh's keys): it is refused otherwise.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import os
import stat
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect

from crm_store.errors import StoreError

__all__ = [
    "ENCRYPTED_COLUMNS",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "CryptoError",
    "EncryptedString",
    "EncryptedText",
    "Key",
    "Keyring",
    "attach",
    "equals",
    "is_encrypted",
    "key_usage",
    "keyring_for",
    "load_keyring",
    "reencrypt",
    "register_store",
    "resolve_keyring",
    "store_keyring",
    "write_keyring",
]

KEY_ENV: Final = "CRMKIT_KEY"
KEY_FILE_ENV: Final = "CRMKIT_KEY_FILE"
PREFIX: Final = "enc:"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
KEY_ID_CHARS: Final = 8
FILE_FORMAT: Final = "crmkit-keyring/1"
#: Encrypted columns, by table (``crm_store.models`` types them :class:`EncryptedText`).
ENCRYPTED_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "customer": ("primary_phone", "landline", "primary_email"),
    "contact_point": ("value",),
    "address": ("street", "raw"),
    "field_provenance": ("value",),
    "source_record": ("payload",),
}
_WHERE = f"set {KEY_FILE_ENV} (a keyring file), {KEY_ENV} (base64 of 32 bytes) or security.key_file in the project file"


class CryptoError(StoreError, ValueError):
    """A key is missing, malformed or wrong, or a stored value does not decrypt. Never names a value."""


def _derive(secret: bytes, label: str) -> bytes:
    return hmac.new(secret, f"crmkit/{label}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Key:
    """One master key: 32 secret bytes, its id (a fingerprint) and when it was made."""

    secret: bytes
    created: str = ""

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise CryptoError(f"a key must be {KEY_BYTES} bytes, got {len(self.secret)}")

    @property
    def id(self) -> str:
        """The key's id: 8 hex digits derived from the key (stored in every value it encrypts)."""
        return _derive(self.secret, "key-id").hex()[:KEY_ID_CHARS]

    @classmethod
    def generate(cls) -> Key:
        """A new random key."""
        return cls(os.urandom(KEY_BYTES), dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    def __repr__(self) -> str:  # never show the secret
        return f"Key(id={self.id!r}, created={self.created!r})"


class Keyring:
    """Keys oldest first: the newest encrypts, every one decrypts; ``source`` says where they came from."""

    def __init__(self, keys: list[Key] | tuple[Key, ...], source: str, path: Path | None = None) -> None:
        if not keys:
            raise CryptoError(f"{source}: the keyring holds no key")
        ids = [k.id for k in keys]
        if len(set(ids)) != len(ids):
            raise CryptoError(f"{source}: the keyring holds the same key twice")
        self.keys = tuple(keys)
        self.source = source
        #: The keyring file the keys came from (``None``: ``CRMKIT_KEY`` or built in code).
        self.path = path
        self._by_id = {k.id: k for k in keys}
        self._aes = {k.id: AESGCM(_derive(k.secret, "aes-gcm")) for k in keys}
        self._nonce = {k.id: _derive(k.secret, "nonce") for k in keys}
        self._lookup = {k.id: _derive(k.secret, "lookup") for k in keys}

    @property
    def current(self) -> Key:
        """The key that encrypts (the newest)."""
        return self.keys[-1]

    @property
    def ids(self) -> list[str]:
        return [k.id for k in self.keys]

    def with_key(self, key: Key) -> Keyring:
        """This keyring with ``key`` added as the newest."""
        return Keyring([*self.keys, key], self.source, self.path)

    def encrypt(self, plain: str, aad: str, key_id: str | None = None) -> str:
        """``plain`` encrypted for column ``aad`` (``table.column``) under the newest key (or ``key_id``)."""
        kid = key_id or self.current.id
        data, context = plain.encode("utf-8"), aad.encode("utf-8")
        nonce = hmac.new(self._nonce[kid], context + b"\0" + data, hashlib.sha256).digest()[:NONCE_BYTES]
        sealed = self._aes[kid].encrypt(nonce, data, context)
        return f"{PREFIX}{kid}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str, aad: str) -> str:
        """The plain text of a value ``encrypt`` made for column ``aad``.

        Raises:
            CryptoError: the value's key is not in the keyring, or the value was altered or moved from another
                column.
        """
        kid, _, body = token[len(PREFIX) :].partition(":")
        aes = self._aes.get(kid)
        if aes is None:
            raise CryptoError(
                f"{aad} holds values encrypted with key {kid}, which the keyring ({self.source}) does not hold "
                f"(it holds {', '.join(self.ids)}): configure the keyring that has key {kid}"
            )
        try:
            raw = base64.b64decode(body, validate=True)
            return aes.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad.encode("utf-8")).decode("utf-8")
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise CryptoError(
                f"a value of {aad} does not decrypt with key {kid}: it was altered or copied from another column"
            ) from exc

    def hmac(self, value: str, purpose: str) -> str:
        """A keyed HMAC-SHA256 (hex) of ``value`` for ``purpose`` under the newest key: an equality-only lookup
        hash that, unlike a salted hash, cannot be recomputed by someone without the key."""
        return hmac.new(self._lookup[self.current.id], f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"Keyring(ids={self.ids!r}, source={self.source!r})"


def is_encrypted(value: object) -> bool:
    """Whether a stored value is an ``enc:`` token."""
    return isinstance(value, str) and value.startswith(PREFIX)


# ----------------------------------------------------------------------------------------------- keyring files


def _decode_key(text: str, where: str) -> bytes:
    try:
        secret = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError(f"{where}: not base64") from None
    if len(secret) != KEY_BYTES:
        raise CryptoError(f"{where}: a key must be {KEY_BYTES} bytes (base64 of 32 random bytes), got {len(secret)}")
    return secret


def load_keyring(path: str | Path) -> Keyring:
    """Read a keyring file (``crmkit keys init`` writes one).

    Raises:
        CryptoError: the file is missing, readable by others, or not a keyring.
    """
    file = Path(path).expanduser()
    where = f"key file {file}"
    try:
        mode = stat.S_IMODE(file.stat().st_mode)
        text = file.read_text("utf-8")
    except FileNotFoundError:
        raise CryptoError(f"{where} does not exist (crmkit keys init --config C creates one)") from None
    except OSError as exc:
        raise CryptoError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    if mode & 0o077:
        raise CryptoError(f"{where} can be read by other users (mode {mode:o}): chmod 600 it")
    try:
        data = json.loads(text)
        entries = data["keys"] if data.get("format") == FILE_FORMAT else None
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError):
        entries = None
    if not isinstance(entries, list):
        raise CryptoError(f"{where}: not a crmkit keyring (expected JSON with format {FILE_FORMAT!r} and keys)")
    keys = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise CryptoError(f"{where}: keys[{i}] has no key")
        key = Key(_decode_key(entry["key"], f"{where}: keys[{i}]"), str(entry.get("created", "")))
        if entry.get("id") not in (None, key.id):
            raise CryptoError(f"{where}: keys[{i}] says id {entry['id']} but its key has id {key.id}")
        keys.append(key)
    return Keyring(keys, where, file)


def write_keyring(path: str | Path, keyring: Keyring) -> Path:
    """Write ``keyring`` to ``path`` ``0600`` (folders made ``0700``), replacing the file atomically."""
    file = Path(path).expanduser()
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = {
        "format": FILE_FORMAT,
        "keys": [
            {"id": k.id, "created": k.created, "key": base64.b64encode(k.secret).decode("ascii")} for k in keyring.keys
        ],
    }
    temp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    temp.unlink(missing_ok=True)  # a leftover of a killed write by this pid
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    os.replace(temp, file)
    with _LOCK:
        _CACHE.clear()  # the next read sees the new keys
    _MEMO.clear()
    return file


_CACHE: dict[str, tuple[tuple[Any, ...], float, Keyring]] = {}
_LOCK = threading.Lock()
_RECHECK_SECONDS = 1.0  # how often a cached keyring file is checked for changes


def _cached_file(path: Path) -> Keyring:
    """The keyring in ``path``, read again when the file changed (checked at most once a second)."""
    now = time.monotonic()
    with _LOCK:
        cached = _CACHE.get(str(path))
    if cached is not None and now - cached[1] < _RECHECK_SECONDS:
        return cached[2]
    try:
        st = path.stat()
    except OSError:
        return load_keyring(path)  # raises the clear error
    token = (st.st_mtime_ns, st.st_size, st.st_mode, st.st_ino)
    if cached is not None and cached[0] == token:
        keyring = cached[2]
    else:
        keyring = load_keyring(path)
    with _LOCK:
        _CACHE[str(path)] = (token, now, keyring)
    return keyring


def resolve_keyring(key_file: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Keyring | None:
    """The configured keyring: ``CRMKIT_KEY_FILE``, else ``CRMKIT_KEY``, else ``key_file`` (the project file's
    ``security.key_file``); ``None`` when none is set (the store then keeps plain text)."""
    env = os.environ if environ is None else environ
    if env.get(KEY_FILE_ENV):
        return _cached_file(Path(env[KEY_FILE_ENV]).expanduser())
    if env.get(KEY_ENV):
        return Keyring([Key(_decode_key(env[KEY_ENV], KEY_ENV))], KEY_ENV)
    if key_file is not None:
        return _cached_file(Path(key_file).expanduser())
    return None


# ---------------------------------------------------------------------------- which keyring a connection uses

#: Keyrings attached to an engine (by its dialect, the object column types are given).
_ATTACHED: weakref.WeakKeyDictionary[Dialect, Keyring | None] = weakref.WeakKeyDictionary()
#: The URL of each engine that connected, by dialect, to find what ``register_store`` set for it.
_URL_OF: weakref.WeakKeyDictionary[Dialect, str] = weakref.WeakKeyDictionary()
#: Keyring loaders registered per store URL (by ``pipelines.settings`` from the project file).
_BY_URL: dict[str, Callable[[], Keyring | None]] = {}


def _url_key(url: str | sa.URL) -> str:
    return sa.make_url(url).render_as_string(hide_password=False)


@sa.event.listens_for(sa.Engine, "engine_connect")
def _remember_url(connection: sa.Connection) -> None:
    if connection.dialect not in _URL_OF:
        _URL_OF[connection.dialect] = _url_key(connection.engine.url)
        _MEMO.pop(connection.dialect, None)


def register_store(url: str | sa.URL, loader: Callable[[], Keyring | None]) -> None:
    """Use the keyring ``loader`` returns (called when first needed) for every engine opened on ``url``."""
    _BY_URL[_url_key(url)] = loader
    _MEMO.clear()


def attach(engine: sa.Engine, keyring: Keyring | None) -> None:
    """Use ``keyring`` (``None``: no encryption) for ``engine``, whatever else is configured."""
    _ATTACHED[engine.dialect] = keyring
    _MEMO.clear()


#: What ``_resolve`` found per dialect, and until when (``time.monotonic``): column types ask for every value.
_MEMO: weakref.WeakKeyDictionary[Dialect, tuple[float, Keyring | None]] = weakref.WeakKeyDictionary()
_MEMO_SECONDS = 1.0


def _for_dialect(dialect: Dialect) -> Keyring | None:
    memo = _MEMO.get(dialect)
    now = time.monotonic()
    if memo is not None and now < memo[0]:
        return memo[1]
    keyring = _resolve(dialect)
    _MEMO[dialect] = (now + _MEMO_SECONDS, keyring)
    return keyring


def _resolve(dialect: Dialect) -> Keyring | None:
    if dialect in _ATTACHED:
        return _ATTACHED[dialect]
    url = _URL_OF.get(dialect)
    if url is not None and url in _BY_URL:
        return _BY_URL[url]()
    return resolve_keyring()


def keyring_for(bind: sa.Engine | sa.Connection | Any) -> Keyring | None:
    """The keyring an engine, connection or session uses (``None``: values are stored as plain text)."""
    from sqlalchemy.orm import Session

    if isinstance(bind, Session):
        bind = bind.connection()
    if isinstance(bind, sa.Connection):
        _remember_url(bind)
    else:
        with bind.connect() as conn:
            _remember_url(conn)
    return _for_dialect(bind.dialect)


def equals(bind: Any, column: sa.ColumnElement[Any], value: str) -> sa.ColumnElement[bool]:
    """``column = value`` for an encrypted column that also finds the value under every key of the keyring and
    as plain text (written before the key was set): a lookup that must not miss a row (a data-subject request)
    whatever state a rotation left. Without a keyring: the plain comparison."""
    keyring = keyring_for(bind)
    raw = sa.type_coerce(column, sa.Text())
    if keyring is None:
        return raw == value
    column_type = column.type
    assert isinstance(column_type, EncryptedText), "equals() compares an encrypted column"
    aad = column_type.aad
    return raw.in_([value, *(keyring.encrypt(value, aad, key.id) for key in keyring.keys)])


def store_keyring(url: str | sa.URL) -> Keyring | None:
    """The keyring configured for the store at ``url`` (registered, else from the environment)."""
    loader = _BY_URL.get(_url_key(url))
    return loader() if loader is not None else resolve_keyring()


# ------------------------------------------------------------------------------------------- the column type


class EncryptedText(sa.types.TypeDecorator[str]):
    """Unbounded text encrypted with the connection's keyring when one is configured, kept as is otherwise.

    Reading a value encrypted when no keyring is configured raises :class:`CryptoError`; a plain value (written
    before a key was set) reads as is. ``long``: ``LONGTEXT`` on MySQL/MariaDB (raw payloads can exceed 64 KB).
    """

    impl: type[sa.String] = sa.Text  # EncryptedString's is sa.String
    cache_ok = True

    def __init__(self, aad: str, *, long: bool = False) -> None:
        super().__init__()
        self.aad = aad
        self.long = long

    @property
    def stored_length(self) -> int | None:
        return getattr(self.impl_instance, "length", None)

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if self.long and dialect.name in ("mysql", "mariadb"):
            return mysql.LONGTEXT()
        return self.impl_instance

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        keyring = _for_dialect(dialect)
        if keyring is None:
            return value
        token = keyring.encrypt(str(value), self.aad)
        limit = self.stored_length
        if limit is not None and len(token) > limit:
            raise CryptoError(f"{self.aad}: a value encrypts to {len(token)} characters, the column holds {limit}")
        return token

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not is_encrypted(value):
            return value
        keyring = _for_dialect(dialect)
        if keyring is None:
            kid = value[len(PREFIX) :].partition(":")[0]
            raise CryptoError(f"the store holds encrypted values ({self.aad}, key {kid}) but no key is set: {_WHERE}")
        return keyring.decrypt(value, self.aad)

    def copy(self, **kw: Any) -> EncryptedText:
        return EncryptedText(self.aad, long=self.long)


class EncryptedString(EncryptedText):
    """A bounded :class:`EncryptedText`: ``length`` is the longest plain text the column takes (what writers check
    and ``value_lengths`` report), ``stored_length`` the width of the database column (ciphertext is longer)."""

    impl = sa.String
    cache_ok = True

    def __init__(self, aad: str, length: int, stored_length: int) -> None:
        sa.types.TypeDecorator.__init__(self, stored_length)
        self.aad = aad
        self.long = False
        self.plain_length = length

    @property
    def length(self) -> int:
        return self.plain_length

    def copy(self, **kw: Any) -> EncryptedString:
        stored = self.impl_instance
        assert isinstance(stored, sa.String) and stored.length is not None  # sa.String(stored_length)
        return EncryptedString(self.aad, self.plain_length, stored.length)


# ------------------------------------------------------------------------------------ re-encrypting a store


def _raw_table(name: str) -> tuple[sa.TableClause, list[str], tuple[str, ...], dict[str, int | None]]:
    """``name`` as a plain-text table (no column type decrypts), its key columns, its encrypted columns and
    their database widths."""
    from crm_store.models import Base  # models import this module

    table = Base.metadata.tables[name]
    key = [c.name for c in table.primary_key.columns]
    columns = ENCRYPTED_COLUMNS[name]
    raw = sa.table(name, *(sa.column(c, sa.Text()) for c in dict.fromkeys([*key, *columns])))
    widths = {c: getattr(table.c[c].type, "stored_length", None) for c in columns}
    return raw, key, columns, widths


def _plain(value: str, keyring: Keyring | None, aad: str) -> str:
    if not is_encrypted(value):
        return value
    if keyring is None:
        kid = value[len(PREFIX) :].partition(":")[0]
        raise CryptoError(f"the store holds encrypted values ({aad}, key {kid}) but no key is set: {_WHERE}")
    return keyring.decrypt(value, aad)


def reencrypt(session: Any, read: Keyring | None, write: Keyring | None, *, chunk: int = 5000) -> dict[str, int]:
    """Rewrite every value of every encrypted column under ``write``'s newest key (``None``: as plain text), in
    the caller's transaction (not committed here).

    Values are read as stored and decrypted with ``read`` (which must hold every key they were encrypted with);
    plain values are encrypted. Rows whose values do not change are not written.

    Returns:
        Rows rewritten per ``table.column`` group (``table``).

    Raises:
        CryptoError: a value whose key ``read`` does not hold, a value that does not decrypt, or a ciphertext
            wider than its column.
    """
    counts: dict[str, int] = {}
    for name in ENCRYPTED_COLUMNS:
        raw, key, columns, widths = _raw_table(name)
        rows = session.execute(sa.select(*(raw.c[c] for c in dict.fromkeys([*key, *columns])))).all()
        updates: list[dict[str, Any]] = []
        for row in rows:
            values = row._mapping
            params = {f"k_{k}": values[k] for k in key}
            changed = False
            for column in columns:
                old = values[column]
                new = old
                if old is not None:
                    aad = f"{name}.{column}"
                    plain = _plain(old, read, aad)
                    new = plain if write is None else write.encrypt(plain, aad)
                    limit = widths[column]
                    if limit is not None and len(new) > limit:
                        raise CryptoError(f"{aad}: a value encrypts to {len(new)} characters, the column holds {limit}")
                changed = changed or new != old
                params[f"v_{column}"] = new
            if changed:
                updates.append(params)
        stmt = (
            sa.update(raw)
            .where(*(raw.c[k] == sa.bindparam(f"k_{k}") for k in key))
            .values({c: sa.bindparam(f"v_{c}") for c in columns})
        )
        connection = session.connection()
        for start in range(0, len(updates), chunk):
            connection.execute(stmt, updates[start : start + chunk])
        counts[name] = len(updates)
    return counts


def key_usage(session: Any) -> dict[str, dict[str, int]]:
    """How many values of each encrypted column (``table.column``) each key id encrypted, and how many are
    plain text (``plain``): what ``crmkit keys status`` shows."""
    usage: dict[str, dict[str, int]] = {}
    for name, columns in ENCRYPTED_COLUMNS.items():
        raw = sa.table(name, *(sa.column(c, sa.Text()) for c in columns))
        for column in columns:
            col = raw.c[column]
            kid = sa.func.substr(col, sa.literal_column(str(len(PREFIX) + 1)), sa.literal_column(str(KEY_ID_CHARS)))
            is_enc = col.like(f"{PREFIX}%")
            counts = {
                str(k): int(n)
                for k, n in session.execute(sa.select(kid, sa.func.count()).where(is_enc).group_by(kid)).all()
            }
            plain = session.execute(sa.select(sa.func.count()).where(col.is_not(None), ~is_enc)).scalar_one()
            if plain:
                counts["plain"] = int(plain)
            usage[f"{name}.{column}"] = counts
    return usage
