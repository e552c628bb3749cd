"""The canonical CRM store: SQLAlchemy 2.0 typed models.

The tables are portable across SQLite, PostgreSQL and MySQL/MariaDB: every column in a key has a length
(MariaDB indexes need one), JSON is ``sa.JSON`` (``jsonb`` on PostgreSQL), timestamps are stored in UTC and
always come back timezone-aware. ``crm_store/migrations/versions`` holds the hand-written migrations that must
match these models (``tests/crm_store/test_migrations.py`` checks it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crm_store.crypto import EncryptedString, EncryptedText

__all__ = [
    "JSON",
    "LONG_TEXT",
    "Activity",
    "Address",
    "AppUser",
    "AuditEvent",
    "AuditHead",
    "Base",
    "ContactPoint",
    "Crosswalk",
    "Customer",
    "CustomerOverride",
    "ExtractCursor",
    "FieldProvenance",
    "MergeEvent",
    "PipelineRun",
    "PipelineSchedule",
    "Quarantine",
    "ReviewDecision",
    "ReviewItem",
    "RunLock",
    "SourceRecord",
    "SourceSchema",
    "UtcDateTime",
    "text_length",
    "value_lengths",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON documents; SQL NULL (not JSON ``null``) for ``None``; ``jsonb`` on PostgreSQL.
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
#: Raw payloads can exceed MySQL's 64 KB ``TEXT``.
LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

SOURCE = 128  # length of ``source`` columns
SOURCE_KEY = 255  # length of ``source_key`` columns
ID = 36  # customer ids (UUID text)
RUN_ID = 64
HASH = 64  # sha256 hex


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware.

    PostgreSQL keeps ``timestamptz``; SQLite and MySQL have no zone, so the value is converted to naive UTC on
    the way in and marked UTC on the way out. A naive input is taken to be UTC already.
    """

    impl = sa.DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of every crm_store table (``Base.metadata`` is the canonical schema)."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def _one_of(column: str, *values: str) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PipelineRun(Base):
    """One run of a pipeline: its status, config hash, ledger and report.

    ``status`` is ``running`` until the run ends ``succeeded``, ``partial`` (loaded, but a source failed or too
    many rows were quarantined) or ``failed``; ``error`` says why a run was not ``succeeded`` (migration 0005).
    """

    __tablename__ = "pipeline_run"
    __table_args__ = (
        sa.CheckConstraint(_one_of("status", "running", "succeeded", "partial", "failed"), name="status"),
    )

    run_id: Mapped[str] = mapped_column(sa.String(RUN_ID), primary_key=True)
    project: Mapped[str] = mapped_column(sa.String(128))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(sa.String(16))
    dry_run: Mapped[bool] = mapped_column(sa.Boolean())
    config_hash: Mapped[str] = mapped_column(sa.String(HASH))
    ledger: Mapped[Any | None] = mapped_column(JSON)
    versions: Mapped[Any | None] = mapped_column(JSON)
    report_path: Mapped[str | None] = mapped_column(sa.String(1024))
    #: The Fellegi-Sunter model the run trained (JSON), reused by incremental runs.
    match_model: Mapped[str | None] = mapped_column(LONG_TEXT)
    #: Why the run is ``partial`` or ``failed`` (a failed source, the quarantine share, the error that stopped it).
    error: Mapped[str | None] = mapped_column(sa.Text())


class RunLock(Base):
    """The store's run lock: the row named ``store`` exists while a run writes the store (``crm_store.lock``)."""

    __tablename__ = "run_lock"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.String(RUN_ID))
    pid: Mapped[int] = mapped_column(sa.Integer())
    host: Mapped[str] = mapped_column(sa.String(255))
    acquired_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class PipelineSchedule(Base):
    """A Prefect deployment ``crmkit schedule`` serves for this store: its cron expression and time zone, who
    serves it from which host since when, and when it stopped (``None`` while it is served; migration 0010)."""

    __tablename__ = "pipeline_schedule"

    name: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    project: Mapped[str] = mapped_column(sa.String(128))
    flow: Mapped[str] = mapped_column(sa.String(64))
    cron: Mapped[str] = mapped_column(sa.String(255))
    timezone: Mapped[str] = mapped_column(sa.String(64))
    served_by: Mapped[str] = mapped_column(sa.String(128))
    host: Mapped[str] = mapped_column(sa.String(255))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class SourceRecord(Base):
    """A source row as read (raw payload, all text) and what became of it."""

    __tablename__ = "source_record"
    __table_args__ = (sa.CheckConstraint(_one_of("status", "loaded", "quarantined", "skipped"), name="status"),)

    source: Mapped[str] = mapped_column(sa.String(SOURCE), primary_key=True)
    source_key: Mapped[str] = mapped_column(sa.String(SOURCE_KEY), primary_key=True)
    row_hash: Mapped[str] = mapped_column(sa.String(HASH))
    #: Encrypted when a key is configured (``crm_store.crypto``), like every ``EncryptedText`` column.
    payload: Mapped[str] = mapped_column(EncryptedText("source_record.payload", long=True))
    status: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str | None] = mapped_column(sa.String(255))
    first_run_id: Mapped[str] = mapped_column(sa.String(RUN_ID))


class Customer(Base):
    """The golden record of one person or organisation."""

    __tablename__ = "customer"
    __table_args__ = (sa.CheckConstraint(_one_of("kind", "person", "organisation"), name="kind"),)

    customer_id: Mapped[str] = mapped_column(sa.String(ID), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    full_name: Mapped[str | None] = mapped_column(sa.String(255))
    family_name: Mapped[str | None] = mapped_column(sa.String(128))
    given_name: Mapped[str | None] = mapped_column(sa.String(128))
    name_pinyin: Mapped[str | None] = mapped_column(sa.String(255))
    primary_phone: Mapped[str | None] = mapped_column(EncryptedString("customer.primary_phone", 64, 320))
    landline: Mapped[str | None] = mapped_column(EncryptedString("customer.landline", 64, 320))
    primary_email: Mapped[str | None] = mapped_column(EncryptedString("customer.primary_email", 320, 640))
    company: Mapped[str | None] = mapped_column(sa.String(255))
    job_title: Mapped[str | None] = mapped_column(sa.String(255))
    gender: Mapped[str | None] = mapped_column(sa.String(16))
    birth_date: Mapped[dt.date | None] = mapped_column(sa.Date())
    province: Mapped[str | None] = mapped_column(sa.String(64))
    city: Mapped[str | None] = mapped_column(sa.String(64))
    district: Mapped[str | None] = mapped_column(sa.String(64))
    #: Who owns the customer: the name of a salesperson (an ``app_user`` of that name sees it; migration 0009 indexes
    #: it for the access rules of ``crm_store.access``).
    owner: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    segment: Mapped[str | None] = mapped_column(sa.String(128))
    status: Mapped[str | None] = mapped_column(sa.String(64))
    last_contact_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    attributes: Mapped[Any | None] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(sa.String(HASH))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(sa.Integer())
    #: Set when the customer was left without source rows (its rows merged into another customer, quarantined
    #: or deleted at the source): the record stays, so its id still resolves, but it is no longer current.
    retired_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    #: The customer that took most of this retired customer's rows.
    merged_into: Mapped[str | None] = mapped_column(sa.String(ID))
    #: The customer most of this one's rows belonged to when it was split off.
    split_from: Mapped[str | None] = mapped_column(sa.String(ID))


class ContactPoint(Base):
    """A phone number, e-mail address or WeChat id of a customer, with the source row it came from."""

    __tablename__ = "contact_point"
    __table_args__ = (sa.CheckConstraint(_one_of("kind", "phone", "email", "wechat"), name="kind"),)

    customer_id: Mapped[str] = mapped_column(
        sa.String(ID), sa.ForeignKey("customer.customer_id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    value: Mapped[str] = mapped_column(EncryptedString("contact_point.value", 255, 512), primary_key=True, index=True)
    valid: Mapped[bool] = mapped_column(sa.Boolean())
    source: Mapped[str | None] = mapped_column(sa.String(SOURCE))
    source_key: Mapped[str | None] = mapped_column(sa.String(SOURCE_KEY))


class Address(Base):
    """A postal address of a customer: CN province/city/district/street + admin code, or Western fields."""

    __tablename__ = "address"

    customer_id: Mapped[str] = mapped_column(
        sa.String(ID), sa.ForeignKey("customer.customer_id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(sa.String(SOURCE), primary_key=True)
    source_key: Mapped[str] = mapped_column(sa.String(SOURCE_KEY), primary_key=True)
    province: Mapped[str | None] = mapped_column(sa.String(64))
    city: Mapped[str | None] = mapped_column(sa.String(64))
    district: Mapped[str | None] = mapped_column(sa.String(64))
    street: Mapped[str | None] = mapped_column(EncryptedText("address.street"))
    admin_code: Mapped[str | None] = mapped_column(sa.String(12))
    postcode: Mapped[str | None] = mapped_column(sa.String(16))
    country: Mapped[str | None] = mapped_column(sa.String(64))
    raw: Mapped[str | None] = mapped_column(EncryptedText("address.raw"))


class Activity(Base):
    """A follow-up, order or sign-up: who, when, what; keyed by the source row it came from.

    ``details`` keeps the row's other columns (JSON). Like ``crosswalk`` and ``quarantine``, an activity row
    belongs to a ``source_record`` (added by migration 0002 together with ``details``).
    """

    __tablename__ = "activity"
    __table_args__ = (
        sa.UniqueConstraint("source", "source_key"),
        sa.ForeignKeyConstraint(
            ["source", "source_key"],
            ["source_record.source", "source_record.source_key"],
            ondelete="CASCADE",
        ),
    )

    activity_id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    customer_id: Mapped[str | None] = mapped_column(
        sa.String(ID), sa.ForeignKey("customer.customer_id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(32))
    occurred_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    summary: Mapped[str | None] = mapped_column(sa.Text())
    source: Mapped[str] = mapped_column(sa.String(SOURCE))
    source_key: Mapped[str] = mapped_column(sa.String(SOURCE_KEY))
    details: Mapped[Any | None] = mapped_column(JSON)


class Crosswalk(Base):
    """A loaded source row and the golden record it belongs to, with the match evidence."""

    __tablename__ = "crosswalk"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["source", "source_key"],
            ["source_record.source", "source_record.source_key"],
            ondelete="CASCADE",
        ),
    )

    source: Mapped[str] = mapped_column(sa.String(SOURCE), primary_key=True)
    source_key: Mapped[str] = mapped_column(sa.String(SOURCE_KEY), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(ID), sa.ForeignKey("customer.customer_id"), index=True)
    match_probability: Mapped[float | None] = mapped_column(sa.Double())
    evidence: Mapped[Any | None] = mapped_column(JSON)
    first_run_id: Mapped[str] = mapped_column(sa.String(RUN_ID))


class FieldProvenance(Base):
    """Which source row each golden field value came from."""

    __tablename__ = "field_provenance"

    customer_id: Mapped[str] = mapped_column(
        sa.String(ID), sa.ForeignKey("customer.customer_id", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(SOURCE))
    source_key: Mapped[str] = mapped_column(sa.String(SOURCE_KEY))
    value: Mapped[str | None] = mapped_column(EncryptedText("field_provenance.value"))
    #: What decided the choice: ``only`` (no other value), ``quality:<criterion>``, ``recency``, ``priority``
    #: or ``order`` (source and key order, nothing else told the values apart).
    rule: Mapped[str | None] = mapped_column(sa.String(64))


class MergeEvent(Base):
    """A merge of source rows into one golden record, with its evidence; an unmerge sets ``undone_at``."""

    __tablename__ = "merge_event"
    __table_args__ = (sa.UniqueConstraint("customer_id", "members_hash"),)

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(sa.String(RUN_ID))
    customer_id: Mapped[str] = mapped_column(sa.String(ID))
    members: Mapped[Any] = mapped_column(JSON)
    evidence: Mapped[Any | None] = mapped_column(JSON)
    members_hash: Mapped[str] = mapped_column(sa.String(HASH))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    undone_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class Quarantine(Base):
    """A source row that was not loaded: stable reason codes and masked details."""

    __tablename__ = "quarantine"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["source", "source_key"],
            ["source_record.source", "source_record.source_key"],
            ondelete="CASCADE",
        ),
    )

    source: Mapped[str] = mapped_column(sa.String(SOURCE), primary_key=True)
    source_key: Mapped[str] = mapped_column(sa.String(SOURCE_KEY), primary_key=True)
    reasons: Mapped[Any] = mapped_column(JSON)
    details: Mapped[Any | None] = mapped_column(JSON)
    first_run_id: Mapped[str] = mapped_column(sa.String(RUN_ID))


class ExtractCursor(Base):
    """The persisted incremental-extraction cursor of one source."""

    __tablename__ = "extract_cursor"

    source: Mapped[str] = mapped_column(sa.String(SOURCE), primary_key=True)
    value: Mapped[str | None] = mapped_column(sa.Text())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class SourceSchema(Base):
    """The columns a source had when it was last read: the baseline for schema-drift detection."""

    __tablename__ = "source_schema"

    source: Mapped[str] = mapped_column(sa.String(SOURCE), primary_key=True)
    columns: Mapped[Any] = mapped_column(JSON)
    run_id: Mapped[str] = mapped_column(sa.String(RUN_ID))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


def value_lengths() -> dict[str, int]:
    """The longest text each bounded column of ``customer`` and ``address`` keeps, by column name (``customer``
    first), and ``contact_value``: the longest phone number or e-mail address a contact point keeps."""
    out: dict[str, int] = {}
    for table in (Customer.__table__, Address.__table__):
        for column in table.columns:
            length = getattr(column.type, "length", None)
            if length:
                out.setdefault(column.name, length)
    contact_length = text_length(ContactPoint.__table__.columns["value"].type)
    assert contact_length is not None  # contact_point.value is bounded
    out["contact_value"] = contact_length
    return out


def text_length(column_type: sa.types.TypeEngine[Any]) -> int | None:
    """The longest text a column of ``column_type`` keeps (an encrypted column: its plain text); ``None``:
    unbounded or not text."""
    return column_type.length if isinstance(column_type, sa.String | EncryptedString) else None


# ------------------------------------------------------------------------------------ the steward's review queue

#: Columns naming a pair of source rows, ordered so that ``(left_source, left_key) < (right_source, right_key)``.
PAIR_COLUMNS = ("left_source", "left_key", "right_source", "right_key")
#: Kinds of review item: a possible match (a pair of source rows) or a clean finding about one customer
#: (``rules.clean``'s checks), and the decisions each takes (migration 0010).
PAIR_KINDS = ("review", "cut", "conflict")
FINDING_KINDS = ("stale", "incomplete", "invalid_contact")
PAIR_DECISIONS = ("match", "no_match", "skip")
FINDING_DECISIONS = ("confirm", "dismiss", "skip")


def subject_check(column: str, pair_values: tuple[str, ...], finding_values: tuple[str, ...], *extra: str) -> str:
    """A row names a pair (no ``finding_key``) or a finding (no pair), never both, never neither."""
    pair = " AND ".join(f"{name} IS NOT NULL" for name in PAIR_COLUMNS)
    no_pair = " AND ".join(f"{name} IS NULL" for name in PAIR_COLUMNS)
    finding = " AND ".join(("finding_key IS NOT NULL", *extra, no_pair, _one_of(column, *finding_values)))
    return f"(finding_key IS NULL AND {pair} AND {_one_of(column, *pair_values)}) OR ({finding})"


class ReviewItem(Base):
    """A possible match for a data steward: one pair of source rows, with the evidence of the last run that
    scored it (migration 0007).

    ``kind``: ``review`` (scored between the review threshold and the threshold), ``cut`` (a confident link the
    linkage check or a decision cut), ``conflict`` (a confident pair a cannot-link rule refused, or a decision that
    contradicts newer ones). ``fingerprint`` is the sha256 of the compared values of both rows: a decision binds
    while it holds. ``status``: ``open`` (to decide), ``decided`` (a binding ``match``/``no_match``), ``stale``
    (no longer a possible match). ``last_run_id``/``updated_at`` name the run that last changed the item, so a
    re-run that changes nothing writes nothing.
    """

    __tablename__ = "review_item"
    __table_args__ = (
        sa.UniqueConstraint(*PAIR_COLUMNS),
        sa.CheckConstraint(_one_of("kind", *PAIR_KINDS, *FINDING_KINDS), name="kind"),
        sa.CheckConstraint(_one_of("status", "open", "decided", "stale"), name="status"),
        sa.CheckConstraint(subject_check("kind", PAIR_KINDS, FINDING_KINDS, "customer_id IS NOT NULL"), name="subject"),
    )

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    #: The pair of a possible match (``None`` for a finding).
    left_source: Mapped[str | None] = mapped_column(sa.String(SOURCE))
    left_key: Mapped[str | None] = mapped_column(sa.String(SOURCE_KEY))
    right_source: Mapped[str | None] = mapped_column(sa.String(SOURCE))
    right_key: Mapped[str | None] = mapped_column(sa.String(SOURCE_KEY))
    #: A clean finding's customer, and the sha256 of what makes it the same finding in every run (``None`` for a
    #: pair; migration 0010).
    customer_id: Mapped[str | None] = mapped_column(sa.String(ID), index=True)
    finding_key: Mapped[str | None] = mapped_column(sa.String(HASH), unique=True)
    probability: Mapped[float | None] = mapped_column(sa.Double())
    kind: Mapped[str] = mapped_column(sa.String(16))
    #: ``reason``, ``match_weight``, ``prior_weight``, ``related_weight`` and per comparison its level and weight.
    evidence: Mapped[Any | None] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(sa.String(HASH))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    #: Why an item is open again (its rows changed since a decision, or the decision contradicts newer ones).
    note: Mapped[str | None] = mapped_column(sa.Text())
    first_run_id: Mapped[str] = mapped_column(sa.String(RUN_ID))
    last_run_id: Mapped[str] = mapped_column(sa.String(RUN_ID))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class ReviewDecision(Base):
    """A steward's decision on a pair of source rows (append-only; the newest decision of a pair counts).

    ``match`` / ``no_match`` bind later runs (must-link / cannot-link) while the pair's ``fingerprint`` equals the
    one the decision was made on; ``skip`` binds nothing.
    """

    __tablename__ = "review_decision"
    __table_args__ = (
        sa.Index("ix_review_decision_pair", *PAIR_COLUMNS),
        sa.CheckConstraint(_one_of("decision", *PAIR_DECISIONS, "confirm", "dismiss"), name="decision"),
        sa.CheckConstraint(subject_check("decision", PAIR_DECISIONS, FINDING_DECISIONS), name="subject"),
    )

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    left_source: Mapped[str | None] = mapped_column(sa.String(SOURCE))
    left_key: Mapped[str | None] = mapped_column(sa.String(SOURCE_KEY))
    right_source: Mapped[str | None] = mapped_column(sa.String(SOURCE))
    right_key: Mapped[str | None] = mapped_column(sa.String(SOURCE_KEY))
    #: The finding decided (``None`` for a pair; migration 0010).
    finding_key: Mapped[str | None] = mapped_column(sa.String(HASH), index=True)
    decision: Mapped[str] = mapped_column(sa.String(16))
    fingerprint: Mapped[str] = mapped_column(sa.String(HASH))
    decided_by: Mapped[str] = mapped_column(sa.String(128))
    decided_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(sa.Text())


class AuditEvent(Base):
    """One action on the store (append-only, hash-chained): ``run.start``, ``review.accept``, ``store.backup`` …

    ``seq`` numbers the events 1, 2, 3 … without gaps; ``hash`` is the sha256 of the event's canonical JSON
    (``seq``, ``at``, ``actor``, ``action``, ``target``, ``details`` and ``prev_hash``), ``prev_hash`` the hash of
    event ``seq - 1`` (64 zeros for the first). ``crm_store.audit`` appends and verifies (migration 0008).
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(sa.String(128))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    target: Mapped[Any | None] = mapped_column(JSON)
    details: Mapped[Any | None] = mapped_column(JSON)
    seq: Mapped[int] = mapped_column(sa.BigInteger(), unique=True)
    prev_hash: Mapped[str] = mapped_column(sa.String(HASH))
    hash: Mapped[str] = mapped_column(sa.String(HASH))


class AuditHead(Base):
    """The end of the audit chain: one row (``name`` = ``audit``) holding the last event's ``seq`` and ``hash``.

    Every append locks this row first (an ``UPDATE``), so concurrent writers take turns on every backend, and a
    chain whose last rows were deleted no longer ends where its head says (migration 0008).
    """

    __tablename__ = "audit_head"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger())
    hash: Mapped[str] = mapped_column(sa.String(HASH))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class CustomerOverride(Base):
    """A value set by a person for one golden field of one customer (``owner`` after ``crmkit owners transfer``);
    every run applies it over survivorship, so no run flips it back (migration 0008)."""

    __tablename__ = "customer_override"

    customer_id: Mapped[str] = mapped_column(
        sa.String(ID), sa.ForeignKey("customer.customer_id", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text())
    set_by: Mapped[str] = mapped_column(sa.String(128))
    set_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class AppUser(Base):
    """A person who reads the store, with a role and a team (migration 0009; ``crm_store.access`` decides what each
    role sees).

    ``name`` is the value ``customer.owner`` holds for the person's customers (a salesperson ``张三`` owns the
    customers whose owner is ``张三``); a customer's team is the team of its owner, never stored on the customer, so a
    transfer or a salesperson moving team needs no rewrite of customers. ``role``: ``sales`` (own customers),
    ``manager`` (the customers of the users of their team, and their own), ``service`` (every customer's contact fields,
    contact points, addresses and activities), ``auditor`` (everything, read-only, personal data masked), ``admin``
    (everything).
    """

    __tablename__ = "app_user"
    __table_args__ = (
        sa.CheckConstraint(_one_of("role", "sales", "manager", "service", "auditor", "admin"), name="role"),
    )

    name: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    team: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(sa.String(128))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
