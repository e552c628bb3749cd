"""Personal data at rest: the keyring, the encrypted columns, lookups and re-encryption (``crm_store.crypto``)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import crm_store
from crm_store import crypto
from crm_store.crypto import CryptoError, Key, Keyring
from crm_store.models import ContactPoint, Customer

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
PHONE, EMAIL, STREET = "+8613800138000", "zhangwei@hx.cn", "南京西路 1266 号"
PAYLOAD = json.dumps({"姓名": "张伟", "手机": "138 0013 8000", "身份证": "110101199003074514"}, ensure_ascii=False)


def keyring(*keys: Key) -> Keyring:
    return Keyring(list(keys) or [Key(b"\x01" * 32)], "test")


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(crypto.KEY_ENV, raising=False)
    monkeypatch.delenv(crypto.KEY_FILE_ENV, raising=False)


# ------------------------------------------------------------------------------------------------ the keyring


def test_values_round_trip_deterministically_per_column() -> None:
    ring = keyring()
    token = ring.encrypt(PHONE, "customer.primary_phone")
    assert token.startswith(f"enc:{ring.current.id}:") and PHONE not in token and "13800138000" not in token
    assert ring.decrypt(token, "customer.primary_phone") == PHONE
    assert ring.encrypt(PHONE, "customer.primary_phone") == token  # equal values, equal ciphertexts: lookups work
    assert ring.encrypt(PHONE, "contact_point.value") != token  # … but only within one column
    assert ring.encrypt(PHONE + "1", "customer.primary_phone")[:30] != token[:30]  # another value, another nonce


def test_a_value_moved_to_another_column_or_altered_does_not_decrypt() -> None:
    ring = keyring()
    token = ring.encrypt(EMAIL, "customer.primary_email")
    with pytest.raises(CryptoError, match="altered or copied from another column") as moved:
        ring.decrypt(token, "contact_point.value")
    body = base64.b64decode(token.split(":")[2])
    flipped = token.rsplit(":", 1)[0] + ":" + base64.b64encode(body[:-1] + bytes([body[-1] ^ 1])).decode()
    with pytest.raises(CryptoError, match="altered"):
        ring.decrypt(flipped, "customer.primary_email")
    assert EMAIL not in str(moved.value)


def test_a_value_of_a_key_not_in_the_keyring_names_the_key() -> None:
    old, new = Key(b"\x01" * 32), Key(b"\x02" * 32)
    token = keyring(old).encrypt(EMAIL, "customer.primary_email")
    with pytest.raises(CryptoError, match=f"encrypted with key {old.id}.*holds {new.id}"):
        keyring(new).decrypt(token, "customer.primary_email")
    both = keyring(old, new)
    assert both.decrypt(token, "customer.primary_email") == EMAIL  # every key decrypts
    assert both.encrypt(EMAIL, "customer.primary_email").startswith(f"enc:{new.id}:")  # the newest encrypts


def test_keyed_hash_depends_on_the_key() -> None:
    a, b = keyring(Key(b"\x01" * 32)), keyring(Key(b"\x02" * 32))
    assert a.hmac("x", "id_hash") == a.hmac("x", "id_hash") != b.hmac("x", "id_hash")
    assert a.hmac("x", "id_hash") != a.hmac("y", "id_hash") and len(a.hmac("x", "id_hash")) == 64
    assert "\x01" not in repr(a) and base64.b64encode(b"\x01" * 32).decode() not in repr(a.keys)


def test_keyring_files_are_private_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "crm.keys"
    ring = keyring(Key.generate(), Key.generate())
    crypto.write_keyring(path, ring)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = crypto.load_keyring(path)
    assert loaded.ids == ring.ids and loaded.path == path
    os.chmod(path, 0o644)
    with pytest.raises(CryptoError, match=r"can be read by other users.*chmod 600"):
        crypto.load_keyring(path)
    os.chmod(path, 0o600)
    path.write_text('{"format": "something else"}')
    os.chmod(path, 0o600)
    with pytest.raises(CryptoError, match="not a crmkit keyring"):
        crypto.load_keyring(path)
    with pytest.raises(CryptoError, match=r"does not exist.*keys init"):
        crypto.load_keyring(tmp_path / "missing.keys")


@pytest.mark.parametrize(
    ("value", "message"),
    [("not base64!", "CRMKIT_KEY: not base64"), (base64.b64encode(b"short").decode(), "must be 32 bytes")],
)
def test_a_malformed_environment_key_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv(crypto.KEY_ENV, value)
    with pytest.raises(CryptoError, match=message):
        crypto.resolve_keyring()


def test_environment_wins_over_the_project_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = crypto.write_keyring(tmp_path / "p.keys", keyring(Key(b"\x03" * 32)))
    assert crypto.resolve_keyring(project).ids == [Key(b"\x03" * 32).id]
    monkeypatch.setenv(crypto.KEY_ENV, base64.b64encode(b"\x04" * 32).decode())
    assert crypto.resolve_keyring(project).ids == [Key(b"\x04" * 32).id]
    assert crypto.resolve_keyring(None, environ={}) is None


# ------------------------------------------------------------------------------------------- a store with a key


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'crm.db'}"
    return str(request.getfixturevalue("pg_url" if request.param == "postgresql" else "mariadb_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[sa.Engine]:
    engine = crm_store.init_store(store_url)
    yield engine
    engine.dispose()


def _load(engine: sa.Engine) -> None:
    customers = pl.DataFrame(
        {
            "customer_id": ["c1"],
            "kind": ["person"],
            "full_name": ["张伟"],
            "primary_phone": [PHONE],
            "primary_email": [EMAIL],
        }
    )
    contacts = pl.DataFrame(
        {"customer_id": ["c1", "c1"], "kind": ["phone", "email"], "value": [PHONE, EMAIL], "valid": [True, True]}
    )
    addresses = pl.DataFrame(
        {"customer_id": ["c1"], "source": ["s"], "source_key": ["1"], "city": ["上海市"], "street": [STREET]}
    )
    provenance = pl.DataFrame(
        {"customer_id": ["c1"], "field": ["email"], "source": ["s"], "source_key": ["1"], "value": [EMAIL]}
    )
    rows = pl.DataFrame(
        {
            "source": ["s"],
            "source_key": ["1"],
            "row_hash": ["h"],
            "payload": [PAYLOAD],
            "status": ["loaded"],
            "run_id": ["r1"],
        }
    )
    with Session(engine) as session, session.begin():
        crm_store.upsert_source_records(session, rows)
        crm_store.upsert_customers(session, customers, now=NOW)
        crm_store.replace_customer_details(session, ["c1"], contacts, addresses, provenance)


def _raw_text(engine: sa.Engine) -> str:
    """Every value of every table as stored (no column type decrypts)."""
    out = []
    with engine.connect() as conn:
        for table in crm_store.Base.metadata.sorted_tables:
            out += [repr(tuple(row)) for row in conn.exec_driver_sql(f"SELECT * FROM {table.name}")]
    return "\n".join(out)


def _reads(engine: sa.Engine) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    with Session(engine) as session:
        return (
            crm_store.read_customers(session),
            crm_store.read_contact_points(session),
            crm_store.read_source_records(session, ["s"]),
        )


def test_with_a_key_the_store_holds_ciphertext_and_readers_plain_text(store: sa.Engine) -> None:
    ring = keyring()
    crypto.attach(store, ring)
    _load(store)
    raw = _raw_text(store)
    for secret in (PHONE, "13800138000", "138 0013 8000", EMAIL, STREET, "110101199003074514"):
        assert secret not in raw
    assert f"enc:{ring.current.id}:" in raw
    customers, contacts, sources = _reads(store)
    assert customers.select("primary_phone", "primary_email").row(0) == (PHONE, EMAIL)
    assert sorted(contacts["value"].to_list()) == sorted([PHONE, EMAIL])
    assert json.loads(sources["payload"][0])["身份证"] == "110101199003074514"
    with Session(store) as session:  # an exact lookup through the encrypted column
        found = session.execute(sa.select(Customer.customer_id).where(Customer.primary_email == EMAIL))
        assert found.scalars().all() == ["c1"]
        prov = crm_store.read_provenance(session)
        assert prov["value"].to_list() == [EMAIL]
    _load(store)  # a re-run with the same key changes nothing and still reads
    assert _raw_text(store) == raw


def test_without_a_key_nothing_changes(store: sa.Engine) -> None:
    _load(store)
    raw = _raw_text(store)
    assert PHONE in raw and EMAIL in raw and "enc:" not in raw


def test_missing_or_wrong_key_is_a_clear_error(store: sa.Engine, store_url: str) -> None:
    crypto.attach(store, keyring(Key(b"\x01" * 32)))
    _load(store)
    missing = sa.create_engine(store_url)
    wrong = sa.create_engine(store_url)
    crypto.attach(missing, None)
    crypto.attach(wrong, keyring(Key(b"\x09" * 32)))
    try:
        with pytest.raises(CryptoError, match=r"holds encrypted values .* but no key is set: set CRMKIT_KEY_FILE"):
            _reads(missing)
        with pytest.raises(CryptoError, match=r"which the keyring \(test\) does not hold"):
            _reads(wrong)
    finally:
        missing.dispose()
        wrong.dispose()


def test_reencrypt_moves_every_value_to_the_new_key_so_the_old_one_can_go(store: sa.Engine) -> None:
    old = Key(b"\x01" * 32)
    crypto.attach(store, None)
    _load(store)  # plain text first: an existing store before keys init
    with Session(store) as session, session.begin():
        first = crypto.reencrypt(session, None, keyring(old))
    assert first == {"customer": 1, "contact_point": 2, "address": 1, "field_provenance": 1, "source_record": 1}
    new = keyring(old, Key(b"\x02" * 32))
    with Session(store) as session, session.begin():
        crypto.reencrypt(session, new, new)
        usage = crypto.key_usage(session)
    assert usage["contact_point.value"] == {new.current.id: 2}
    assert usage["customer.landline"] == {}
    assert old.id not in _raw_text(store)
    crypto.attach(store, keyring(Key(b"\x02" * 32)))  # the old key removed: everything still reads
    customers, _, sources = _reads(store)
    assert customers["primary_email"].to_list() == [EMAIL] and json.loads(sources["payload"][0])["姓名"] == "张伟"
    with Session(store) as session, session.begin():
        crypto.reencrypt(session, keyring(Key(b"\x02" * 32)), None)  # keys decrypt
    assert EMAIL in _raw_text(store)


def test_equals_finds_plain_and_older_key_values(store: sa.Engine) -> None:
    old, new = Key(b"\x01" * 32), Key(b"\x02" * 32)
    crypto.attach(store, keyring(old))
    _load(store)
    crypto.attach(store, keyring(old, new))  # a key added, values not re-encrypted yet
    cp = ContactPoint.__table__
    with Session(store) as session:
        plain_eq = session.execute(sa.select(cp.c.customer_id).where(cp.c.value == EMAIL)).all()
        robust = session.execute(sa.select(cp.c.customer_id).where(crypto.equals(session, cp.c.value, EMAIL))).all()
    assert plain_eq == [] and [r[0] for r in robust] == ["c1"]


def test_a_value_too_long_for_its_column_once_encrypted_is_refused(store: sa.Engine) -> None:
    crypto.attach(store, keyring())
    contacts = pl.DataFrame({"customer_id": ["c1"], "kind": ["wechat"], "value": ["微" * 250], "valid": [True]})
    customers = pl.DataFrame({"customer_id": ["c1"], "kind": ["person"]})
    with Session(store) as session, session.begin():
        crm_store.upsert_customers(session, customers, now=NOW)
        with pytest.raises(CryptoError, match=r"contact_point\.value: a value encrypts to \d+ characters"):
            crm_store.replace_customer_details(session, ["c1"], contacts, pl.DataFrame(), pl.DataFrame())


def test_a_backup_of_an_encrypted_store_restores_ciphertext_that_reads_with_the_key(tmp_path: Path) -> None:
    from crm_store.backup import backup_store, restore_store

    url, copy = f"sqlite:///{tmp_path / 'crm.db'}", f"sqlite:///{tmp_path / 'restored' / 'crm.db'}"
    engine = crm_store.init_store(url)
    ring = keyring()
    crypto.attach(engine, ring)
    try:
        _load(engine)
    finally:
        engine.dispose()
    backup_key = b"\x05" * 32
    crypto.register_store(url, lambda: ring)
    crypto.register_store(copy, lambda: ring)
    backup_store(url, tmp_path / "backup", key=backup_key)
    restore_store(copy, tmp_path / "backup", key=backup_key, actor="test")
    restored = sa.create_engine(copy)
    try:
        assert EMAIL not in _raw_text(restored) and f"enc:{ring.current.id}:" in _raw_text(restored)
        assert _reads(restored)[0]["primary_email"].to_list() == [EMAIL]
    finally:
        restored.dispose()
