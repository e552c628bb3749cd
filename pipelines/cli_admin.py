"""``crmkit backup``, ``crmkit restore`` and ``crmkit subject export|erase``: keeping the store safe, and answering a
data subject's request (PIPL, GDPR).

``pipelines.cli`` adds these commands to ``crmkit`` (``app.add_typer(admin_app)``). The work is done by
``crm_store.backup`` and ``crm_store.subject``; this module reads the project file, builds the subject query with
``rules.normalise`` (the store does not know the rules) and masks what it prints with ``rules.mask``. The CLI's
shared helpers are imported inside the commands (``pipelines.cli`` imports this module).
"""

from __future__ import annotations

import getpass
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import polars as pl

    from crm_store.subject import SubjectFindings, SubjectQuery

__all__ = ["admin_app", "subject_app", "subject_query"]

admin_app = typer.Typer()
subject_app = typer.Typer(
    help="Data-subject requests (PIPL/GDPR): export or erase everything the store holds about one person.",
    no_args_is_help=True,
)
admin_app.add_typer(subject_app, name="subject")

ConfigOption = Annotated[Path, typer.Option("--config", help="The YAML project file.", show_default=False)]
KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="File holding the backup key (base64 of 32 bytes); default: $CRMKIT_BACKUP_KEY.",
        show_default=False,
    ),
]
WaitOption = Annotated[
    float, typer.Option("--wait", min=0, help="Seconds to wait for a run that holds the store's run lock.")
]
EmailOption = Annotated[str | None, typer.Option("--email", help="The person's e-mail address.", show_default=False)]
PhoneOption = Annotated[str | None, typer.Option("--phone", help="The person's phone number.", show_default=False)]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who does this, for the audit trail (default: the login name).", show_default=False),
]

#: An e-mail-looking token inside a cell ("邮箱: a@b.cn; c@d.com").
_EMAIL_TOKEN = r"[^\s,;，；、/<>()\[\]{}\"'：:|]+@[^\s,;，；、/<>()\[\]{}\"'：:|]+"


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        return "unknown"


# ------------------------------------------------------------------------------------------------ backup


@admin_app.command()
def backup(
    config: ConfigOption,
    out: Annotated[Path, typer.Option("--out", help="New or empty folder for the backup.", show_default=False)],
    key_file: KeyFile = None,
    no_encrypt: Annotated[
        bool, typer.Option("--no-encrypt", help="Write an UNENCRYPTED backup (only when you mean it).")
    ] = False,
    wait: WaitOption = 0.0,
    actor: ActorOption = None,
) -> None:
    """Back up the project's store into an encrypted, verifiable folder (dump + signed manifest.json).

    SQLite: the online backup API; PostgreSQL: pg_dump -Fc; MariaDB: mariadb-dump --single-transaction. The key
    comes from --key-file or $CRMKIT_BACKUP_KEY; without one the backup is refused unless --no-encrypt is given.
    """
    from crm_store import RunLockedError, StoreNotFoundError
    from crm_store.backup import BackupError, backup_store, load_backup_key
    from pipelines._files import private_dir
    from pipelines.cli import _fail, _load, console

    settings = _load(config)
    if no_encrypt and key_file is not None:
        raise _fail("--no-encrypt and --key-file contradict each other: give one", 2)
    try:
        key = None if no_encrypt else load_backup_key(key_file)
    except BackupError as exc:
        raise _fail(str(exc), 2) from None
    private_dir(out)
    try:
        with console.status("Backing up the store…"):
            result = backup_store(settings.store_url, out, key=key, lock_wait_seconds=wait, actor=_actor(actor))
    except (BackupError, RunLockedError, StoreNotFoundError) as exc:
        raise _fail(str(exc)) from None
    manifest = result.manifest
    encryption = manifest["encryption"]
    state = f"encrypted (key id {encryption['key_id']})" if encryption else "[bold red]NOT encrypted[/]"
    console.print(
        f"Backed up {len(manifest['tables'])} tables, {result.rows:,} rows ({manifest['backend']}, alembic "
        f"{manifest['alembic_revision']}) in {result.seconds:.1f}s: {state}"
    )
    console.print(f"  {result.data_file} ({manifest['file']['bytes']:,} bytes)")
    console.print(f"  {result.manifest_file}")
    if result.audit_event_id is None:
        console.print("  [yellow]not recorded in the audit trail[/] (the store was busy or has none; see the log)")


@admin_app.command()
def restore(
    config: ConfigOption,
    source: Annotated[Path, typer.Option("--from", help="The backup folder.", show_default=False)],
    key_file: KeyFile = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a store that holds rows.")] = False,
    no_encrypt: Annotated[
        bool, typer.Option("--no-encrypt", help="Accept an unencrypted backup (nothing proves it unchanged).")
    ] = False,
    wait: WaitOption = 0.0,
    actor: ActorOption = None,
) -> None:
    """Restore a backup into the project's store, verifying it table by table.

    Refused: a wrong key, a changed manifest or dump, an alembic revision this crmkit does not know (an older one
    is upgraded after the restore), a store that holds rows (unless --force). Holds the store's run lock.
    """
    from crm_store import RunLockedError
    from crm_store.backup import BackupError, load_backup_key, read_manifest, restore_store
    from pipelines.cli import _fail, _load, console

    settings = _load(config)
    try:
        manifest = read_manifest(source)
        key = load_backup_key(key_file) if manifest.get("encryption") else None
        with console.status("Verifying and restoring the backup…"):
            result = restore_store(
                settings.store_url,
                source,
                key=key,
                force=force,
                allow_unencrypted=no_encrypt,
                lock_wait_seconds=wait,
                actor=_actor(actor),
            )
    except (BackupError, RunLockedError) as exc:
        raise _fail(str(exc)) from None
    upgraded = (
        f", upgraded {result.restored_revision} → {result.revision}"
        if result.revision != result.restored_revision
        else ""
    )
    console.print(
        f"Restored {len(result.tables)} tables, {sum(result.tables.values()):,} rows from the backup of "
        f"{result.manifest['created_at']}: every table's rows and checksum match the manifest{upgraded} "
        f"({result.seconds:.1f}s)"
    )
    if result.dropped:
        console.print(f"  tables the backup did not have, dropped and re-created: {', '.join(result.dropped)}")


# ------------------------------------------------------------------------------------------------ subjects


def subject_query(*, email: str | None = None, phone: str | None = None, region: str = "CN") -> SubjectQuery:
    """The query for one person: the value normalised as the store keeps it, masked for messages, and a test of
    raw source cells (every phone number in a cell, in any spelling; every e-mail-looking token).

    Raises:
        ValueError: neither or both of ``email`` and ``phone``, or a phone number that is not valid in ``region``.
    """
    import polars as pl

    from crm_store.subject import SubjectQuery
    from rules.mask import mask_email, mask_phone
    from rules.normalise import normalise_email, normalise_phone

    if (email is None) == (phone is None):
        raise ValueError("give exactly one of --email or --phone")
    if phone is not None:
        number = normalise_phone(pl.Series([phone.strip()], dtype=pl.String), region=region)["value"][0]
        if number is None:
            raise ValueError(f"--phone is not a valid phone number for region {region} (its value is not shown)")
        tail = re.sub(r"\D", "", number)[-7:]

        def phone_cells(cells: pl.Series) -> pl.Series:
            digits = cells.str.replace_all(r"\D", "").str.contains(tail, literal=True).fill_null(False)
            index = digits.arg_true()
            hits = pl.Series("hit", [False] * cells.len(), dtype=pl.Boolean)
            if index.len():
                phones = normalise_phone(cells.gather(index), region=region)["phones"]
                found = phones.list.contains(number).fill_null(False)
                hits = hits.scatter(index.filter(found), True)
            return hits

        return SubjectQuery("phone", number, mask_phone(number) or "***", phone_cells)

    assert email is not None
    raw = email.strip()
    address = normalise_email(pl.Series([raw], dtype=pl.String))["value"][0] or raw.lower()
    local = address.split("@")[0] + "@"

    def email_cells(cells: pl.Series) -> pl.Series:
        lower = cells.str.to_lowercase()
        index = lower.str.contains(local, literal=True).fill_null(False).arg_true()
        hits = pl.Series("hit", [False] * cells.len(), dtype=pl.Boolean)
        if not index.len():
            return hits
        tokens = pl.DataFrame({"i": index, "t": lower.gather(index).str.extract_all(_EMAIL_TOKEN)}).explode("t")
        tokens = tokens.drop_nulls("t")
        if not tokens.height:
            return hits
        normalised = normalise_email(tokens["t"])["value"]
        found = ((normalised == address).fill_null(False)) | (tokens["t"] == address)
        return hits.scatter(tokens["i"].filter(found).unique(), True)

    return SubjectQuery("email", address, mask_email(address) or "***", email_cells)


def _query_or_fail(settings: Any, email: str | None, phone: str | None) -> SubjectQuery:
    from pipelines.cli import _fail

    try:
        return subject_query(email=email, phone=phone, region=settings.defaults.region)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None


def _describe(findings: SubjectFindings) -> str:
    counts = findings.summary()
    return (
        f"{counts['customers']:,} golden record(s), {counts['source_records']:,} source row(s) "
        f"({counts['source_records_holding_value']:,} holding the value), {counts['activities']:,} activities"
    )


@subject_app.command("export")
def subject_export(
    config: ConfigOption,
    out: Annotated[Path, typer.Option("--out", help="The JSON file to write (0600).", show_default=False)],
    email: EmailOption = None,
    phone: PhoneOption = None,
    actor: ActorOption = None,
) -> None:
    """Export everything the store holds about one person (golden records, contact points, addresses, field
    provenance, source rows, quarantine, activities) as one JSON file, readable only by you. Logged in the audit
    trail (masked)."""
    from sqlalchemy.orm import Session

    import crm_store
    from crm_store.subject import export_subject, find_subject, record_subject_export
    from pipelines._files import write_private_text
    from pipelines.cli import _fail, _load, console

    settings = _load(config)
    query = _query_or_fail(settings, email, phone)
    try:
        engine = crm_store.open_store(settings.store_url)
    except crm_store.StoreNotFoundError as exc:
        raise _fail(str(exc)) from None
    try:
        with Session(engine) as session, session.begin():
            findings = find_subject(session, query)
            document = export_subject(session, findings)
            write_private_text(out, json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")
            record_subject_export(session, findings, actor=_actor(actor), file_name=out.name)
    finally:
        engine.dispose()
    console.print(f"{query.label}: {_describe(findings)}")
    console.print(f"wrote [bold]{out}[/] (readable only by you: it holds the person's raw data)")


@subject_app.command("erase")
def subject_erase(
    config: ConfigOption,
    email: EmailOption = None,
    phone: PhoneOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    wait: WaitOption = 0.0,
    actor: ActorOption = None,
) -> None:
    """Erase one person from the store in one transaction: golden records blanked and retired, contact points
    and addresses deleted, source payloads replaced by a tombstone (keys and ledger kept), quarantine and activity
    details cleared; logged in the audit trail (masked). Holds the store's run lock.

    Backups made before stay as they were: expire them (or retire their key) under your retention policy.
    """
    import crm_store
    from crm_store.subject import erase_subject_from_store
    from pipelines.cli import _fail, _load, console

    settings = _load(config)
    query = _query_or_fail(settings, email, phone)
    try:
        engine = crm_store.open_store(settings.store_url)
    except crm_store.StoreNotFoundError as exc:
        raise _fail(str(exc)) from None

    def confirm(findings: SubjectFindings) -> bool:
        console.print(f"{query.label}: {_describe(findings)}")
        return yes or typer.confirm("Erase all of it? This cannot be undone", default=False)

    started = time.monotonic()
    try:
        findings, erasure = erase_subject_from_store(
            engine, query, actor=_actor(actor), confirm=confirm, lock_wait_seconds=wait
        )
    except crm_store.RunLockedError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    if findings.empty:
        console.print(f"{query.label}: nothing found; nothing erased")
        return
    if erasure is None:
        console.print("nothing erased")
        raise typer.Exit(1)
    changed = ", ".join(f"{table} {n:,}" for table, n in erasure.counts.items() if n)
    console.print(f"erased {query.label} ({time.monotonic() - started:.1f}s): {changed}")
    if erasure.audit_event_id is not None:
        console.print(f"audit event #{erasure.audit_event_id} (subject.erase)")
