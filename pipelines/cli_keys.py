"""``crmkit keys init|rotate|status|decrypt``: the keys that encrypt personal data in the store
(``crm_store.crypto``).

``pipelines.cli`` adds these commands to ``crmkit``. A keyring file holds keys oldest first: the newest encrypts,
every one decrypts. ``init`` writes a new keyring file (``0600``) and encrypts what the store already holds;
``rotate`` adds a key and re-encrypts every value under it in one transaction; ``status`` shows the keys and how
many values each encrypted; ``decrypt`` turns encryption off again. Each change of the store holds the run lock
and is recorded in the audit trail (``keys.init``, ``keys.rotate``, ``keys.decrypt``). Heavy imports stay inside
the commands, so ``crmkit --help`` starts fast.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from crm_store.crypto import Keyring
    from pipelines.settings import ProjectSettings

__all__ = ["keys_app"]

keys_app = typer.Typer(
    help="Keys that encrypt phones, e-mails, addresses and raw rows in the store (AES-GCM): init, rotate, status.",
    no_args_is_help=True,
)
console = Console(stderr=False, highlight=False)
err = Console(stderr=True, highlight=False)

ConfigOption = Annotated[Path, typer.Option("--config", help="The YAML project file.", show_default=False)]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who does this, for the audit trail (default: the login name).")
]
WaitOption = Annotated[
    float, typer.Option("--wait", min=0, help="Seconds to wait for a run that holds the store's run lock.")
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    from rules.mask import redact_secrets

    err.print(f"[bold red]crmkit:[/] {escape(redact_secrets(message) or '')}")
    return typer.Exit(code)


def _by(by: str | None) -> str:
    from crm_store.audit import os_user

    who = (by or os_user()).strip()
    if not who or len(who) > 128:
        raise _fail("--by must be 1 to 128 characters", 2)
    return who


def _keyring(settings: ProjectSettings) -> Keyring | None:
    from crm_store.crypto import CryptoError

    try:
        return settings.keyring()
    except CryptoError as exc:
        raise _fail(str(exc), 2) from None


def _change_store(
    settings: ProjectSettings,
    wait: float,
    change: Callable[[Any], dict[str, int]],
    action: str,
    details: dict[str, Any],
) -> dict[str, int] | None:
    """Run ``change(session)`` in one transaction holding the run lock, with an audit event; ``None``: no store."""
    from sqlalchemy.orm import Session

    import crm_store
    from crm_store.audit import append_event
    from crm_store.crypto import CryptoError

    try:
        engine = crm_store.open_store(settings.store_url)
    except crm_store.StoreNotFoundError:
        return None
    try:
        engine.dispose()
        engine = crm_store.init_store(settings.store_url)  # an older store gains the wider columns first
        run_id = f"{action.replace('.', '-')}-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S%f}"
        lock = crm_store.acquire_run_lock(engine, run_id, wait_seconds=wait)
        with lock, Session(engine) as session, session.begin():
            counts = change(session)
            append_event(
                session,
                actor=details.pop("actor"),
                action=action,
                target={"store": "values"},
                details={**details, "rows_rewritten": counts},
            )
        return counts
    except crm_store.RunLockedError as exc:
        raise _fail(f"{exc} (try again with --wait SECONDS)") from None
    except CryptoError as exc:
        raise _fail(str(exc), 2) from None
    finally:
        engine.dispose()


def _rewritten(counts: dict[str, int] | None) -> str:
    if counts is None:
        return "no store yet: new values will be encrypted as they are written"
    total = sum(counts.values())
    shown = ", ".join(f"{table} {n:,}" for table, n in counts.items() if n) or "nothing to rewrite"
    return f"{total:,} rows rewritten ({shown})"


@keys_app.command("init")
def init(
    config: ConfigOption,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="Where to write the keyring (default: security.key_file of the project, else $CRMKIT_KEY_FILE).",
            show_default=False,
        ),
    ] = None,
    wait: WaitOption = 0.0,
    by: ByOption = None,
) -> None:
    """Write a new keyring file (0600) with one new key and, when the project uses it, encrypt every personal value
    the store already holds (one transaction; audit event keys.init). Exit code 2: the file exists already (keys
    rotate adds a key), or no place for it is named."""
    from crm_store import crypto
    from pipelines.cli import _load

    settings = _load(config)
    who = _by(by)
    target = (
        key_file
        or settings.key_file
        or (Path(os.environ[crypto.KEY_FILE_ENV]) if os.environ.get(crypto.KEY_FILE_ENV) else None)
    )
    if target is None:
        raise _fail(
            "say where the keyring goes: --key-file PATH, security: {key_file: PATH} in the project file, "
            f"or {crypto.KEY_FILE_ENV}",
            2,
        )
    target = target.expanduser().resolve()
    if target.exists():
        raise _fail(f"{target} exists already: crmkit keys rotate adds a key to it (a key is never overwritten)", 2)
    key = crypto.Key.generate()
    crypto.write_keyring(target, crypto.Keyring([key], f"key file {target}", target))
    console.print(f"wrote {escape(str(target))} (0600) with key {key.id}: keep a copy apart from the store's backups")
    configured = _keyring(settings)
    if configured is None or configured.current.id != key.id:
        hint = (
            f"the environment names another key ({crypto.KEY_ENV} or {crypto.KEY_FILE_ENV})"
            if configured is not None
            else "the project does not use it yet"
        )
        console.print(
            f"{hint}: add [bold]security: {{key_file: {escape(str(target))}}}[/] to {escape(str(config))} "
            f"(or set {crypto.KEY_FILE_ENV}), then run crmkit keys rotate to encrypt what the store holds"
        )
        return
    details: dict[str, Any] = {"actor": who, "key_id": key.id}
    counts = _change_store(settings, wait, lambda s: crypto.reencrypt(s, configured, configured), "keys.init", details)
    if counts is None:
        console.print(f"key {key.id} is in use: no store yet, values are encrypted as they are written")
    else:
        console.print(f"store encrypted with key {key.id}: {_rewritten(counts)}")


@keys_app.command("rotate")
def rotate(config: ConfigOption, wait: WaitOption = 0.0, by: ByOption = None) -> None:
    """Add a new key to the project's keyring file and re-encrypt every value under it, in one transaction (audit
    event keys.rotate). The older keys stay in the file, so backups made with them still read; remove one by hand
    once no backup needs it. Exit code 2: no keyring file configured."""
    from crm_store import crypto
    from pipelines.cli import _load

    settings = _load(config)
    who = _by(by)
    current = _keyring(settings)
    if current is None:
        raise _fail(f"no key is configured: crmkit keys init writes one ({crypto.KEY_FILE_ENV}, security.key_file)", 2)
    if current.path is None:
        raise _fail(
            f"the key comes from {crypto.KEY_ENV}, which holds one key: put it in a keyring file to rotate "
            f"(crmkit keys init --key-file PATH, then {crypto.KEY_FILE_ENV}=PATH)",
            2,
        )
    new = current.with_key(crypto.Key.generate())
    crypto.write_keyring(current.path, new)  # first: a value is never encrypted under a key that is not saved
    details: dict[str, Any] = {"actor": who, "key_id": new.current.id, "previous_key_id": current.current.id}
    try:
        counts = _change_store(settings, wait, lambda s: crypto.reencrypt(s, new, new), "keys.rotate", details)
    except typer.Exit:
        err.print(
            f"the keyring {escape(str(current.path))} holds the new key {new.current.id}; the store's values are "
            "still under the older keys (they read as before): run crmkit keys rotate again"
        )
        raise
    console.print(f"added key {new.current.id} to {escape(str(current.path))}; {_rewritten(counts)}")


@keys_app.command("decrypt")
def decrypt(
    config: ConfigOption,
    yes: Annotated[bool, typer.Option("--yes", help="Do it: store every personal value as plain text again.")] = False,
    wait: WaitOption = 0.0,
    by: ByOption = None,
) -> None:
    """Store every encrypted value as plain text again (one transaction; audit event keys.decrypt), e.g. before
    going back to a crmkit without encryption. Remove the key from the configuration afterwards, or the next run
    encrypts again. Exit code 2: without --yes, or no key configured."""
    from crm_store import crypto
    from pipelines.cli import _load

    settings = _load(config)
    who = _by(by)
    current = _keyring(settings)
    if current is None:
        raise _fail("no key is configured: nothing to decrypt with", 2)
    if not yes:
        raise _fail("this stores phones, e-mails, addresses and raw rows as plain text: add --yes to do it", 2)
    details: dict[str, Any] = {"actor": who, "key_id": None, "previous_key_id": current.current.id}
    counts = _change_store(settings, wait, lambda s: crypto.reencrypt(s, current, None), "keys.decrypt", details)
    console.print(f"store decrypted: {_rewritten(counts)}")


@keys_app.command("status")
def status(
    config: ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Which keyring the project uses (never the keys), and how many values of each encrypted column each key
    encrypted (plain: not encrypted). Exit code 2: the key file is missing, unreadable or readable by others."""
    from sqlalchemy.orm import Session

    import crm_store
    from crm_store import crypto
    from pipelines.cli import _load

    settings = _load(config)
    keyring = _keyring(settings)
    usage: dict[str, dict[str, int]] | None = None
    try:
        engine = crm_store.open_store(settings.store_url)
    except crm_store.StoreNotFoundError:
        engine = None
    if engine is not None:
        try:
            with Session(engine) as session:
                usage = crypto.key_usage(session)
        finally:
            engine.dispose()
    document = {
        "source": None if keyring is None else keyring.source,
        "keys": [] if keyring is None else [{"id": k.id, "created": k.created} for k in keyring.keys],
        "current": None if keyring is None else keyring.current.id,
        "values": usage,
    }
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    if keyring is None:
        console.print("no key configured: the store keeps personal values as plain text (crmkit keys init)")
    else:
        ids = ", ".join(f"{k.id}{' (encrypts)' if k.id == keyring.current.id else ''}" for k in keyring.keys)
        console.print(f"keys from {escape(keyring.source)}: {ids}")
    if usage is None:
        console.print("no store yet")
        return
    known = set() if keyring is None else set(keyring.ids)
    for column, counts in usage.items():
        parts = [
            f"{kid} {n:,}" + ("" if kid == "plain" or kid in known else " (key not in the keyring!)")
            for kid, n in sorted(counts.items())
        ]
        console.print(f"  {column}: {', '.join(parts) or 'empty'}")
