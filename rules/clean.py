"""Cleaning checks over the golden records already in the store: stale, incomplete, invalid contacts.

Pure functions over polars frames, shaped as ``crm_store.read_customers`` and ``crm_store.read_contact_points``
return them. Every check gives rows of one finding table with fixed columns (``FINDING_COLUMNS``, all text), one row
per problem of one customer, each with a stable code (``CLEAN_CODES``), so the ``clean`` flow can count them, report
them masked and hand them to the steward's review queue. The values are as stored (a phone number, an e-mail):
mask them before they leave the process (``rules.mask.mask_value(field, value)``).

Settings (``CleanSettings``) are the ``clean:`` section of a project file::

    clean:
      stale_months: 18                 # no contact for this many months: stale
      required:                        # per segment (customer.segment); a segment not listed uses `default`
        default: [phone|email]         # `a|b`: either will do
        VIP: [phone, email, company]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Final, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from crm_store.schema import GOLDEN_FIELDS, STORE_NAMES

__all__ = [
    "CLEAN_CODES",
    "DEFAULT_SEGMENT",
    "FINDING_COLUMNS",
    "CleanCheck",
    "CleanSettings",
    "clean_findings",
    "empty_findings",
    "find_incomplete",
    "find_invalid_contacts",
    "find_stale",
    "finding_counts",
    "finding_identities",
    "months_before",
]

CleanCheck = Literal["stale", "incomplete", "invalid_contact"]

#: Stable codes of the findings, with their check and a one-line description for reports. Never renamed.
CLEAN_CODES: Final[dict[str, tuple[CleanCheck, str]]] = {
    "stale_record": ("stale", "No contact for longer than clean.stale_months (last_contact_at, else updated_at)."),
    "incomplete_record": ("incomplete", "A field the customer's segment requires (clean.required) is empty."),
    "invalid_contact_point": ("invalid_contact", "A phone number or e-mail address of the customer is not valid."),
    "no_valid_contact": ("invalid_contact", "The customer has no valid phone number and no valid e-mail address."),
}

#: Columns of the finding table, in order (all ``pl.String``): the check and code, the customer and its segment,
#: the field concerned (``phone|email`` for a group), its value as stored (``None`` for a missing one), and a
#: message that names no personal data.
FINDING_COLUMNS: Final = ("check", "code", "customer_id", "segment", "field", "value", "detail")
FINDING_SCHEMA: Final = pl.Schema(dict.fromkeys(FINDING_COLUMNS, pl.String()))

#: The key of ``CleanSettings.required`` that applies to customers whose segment has no list of its own.
DEFAULT_SEGMENT: Final = "default"

#: Golden fields a requirement may name (``attributes`` is a bag of source columns, not one field).
_REQUIRABLE: Final = tuple(f for f in GOLDEN_FIELDS if f != "attributes")


class CleanSettings(BaseModel):
    """What a clean run checks: how old a last contact may be, and which fields each segment requires."""

    model_config = ConfigDict(extra="forbid")

    #: A customer with no contact for more than this many months (``last_contact_at``, else the record's
    #: ``updated_at``) is stale.
    stale_months: int = Field(18, ge=1, le=1200)
    #: segment -> the fields it requires; ``a|b`` is satisfied by either field. A segment without its own list uses
    #: ``default``; ``default: []`` requires nothing.
    required: dict[str, list[str]] = Field(default_factory=lambda: {DEFAULT_SEGMENT: ["phone|email"]})

    @field_validator("required")
    @classmethod
    def _golden_fields_only(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        problems = []
        for segment, requirements in value.items():
            for i, requirement in enumerate(requirements):
                unknown = [f for f in _alternatives(requirement) if f not in _REQUIRABLE]
                if unknown or not _alternatives(requirement):
                    problems.append(
                        f"{segment}[{i}]: {requirement!r} names {', '.join(map(repr, unknown)) or 'no field'}; "
                        f"allowed: {', '.join(_REQUIRABLE)} (a|b: either)"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return value


def _alternatives(requirement: str) -> list[str]:
    return [part.strip() for part in requirement.split("|") if part.strip()]


def empty_findings() -> pl.DataFrame:
    """A finding table with no rows."""
    return pl.DataFrame(schema=FINDING_SCHEMA)


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day and time ``months`` calendar months earlier (the 31st becomes the month's last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    next_month = dt.date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_month - dt.timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _as_utc(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A datetime column in UTC whatever its zone (a naive one is taken to be UTC)."""
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return expr.dt.convert_time_zone("UTC")
    return expr.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _segment(customers: pl.DataFrame) -> pl.Expr:
    return pl.col("segment").cast(pl.String) if "segment" in customers.columns else pl.lit(None, pl.String)


def find_stale(customers: pl.DataFrame, *, months: int, now: dt.datetime) -> pl.DataFrame:
    """Customers with no contact for more than ``months`` months before ``now``.

    The last contact is ``last_contact_at`` (a 最后联系 column, or the newest activity); a customer without one is
    judged by ``updated_at`` (when the golden record last changed); one with neither is stale.

    Returns:
        Findings ``stale_record``: ``field`` names the date used, ``value`` is it (ISO 8601, UTC).
    """
    if not customers.height:
        return empty_findings()
    now = _utc(now)
    cutoff = months_before(now, months)
    schema = customers.schema
    last = _as_utc(pl.col("last_contact_at"), schema["last_contact_at"]) if "last_contact_at" in schema else None
    updated = _as_utc(pl.col("updated_at"), schema["updated_at"]) if "updated_at" in schema else None
    null = pl.lit(None, pl.Datetime("us", "UTC"))
    basis = pl.coalesce(last if last is not None else null, updated if updated is not None else null)
    used = (
        pl.when(last.is_not_null() if last is not None else pl.lit(False))
        .then(pl.lit("last_contact_at"))
        .when(updated.is_not_null() if updated is not None else pl.lit(False))
        .then(pl.lit("updated_at"))
        .otherwise(pl.lit(None, pl.String))
    )
    frame = customers.select(
        pl.col("customer_id").cast(pl.String),
        _segment(customers).alias("segment"),
        basis.alias("_at"),
        used.alias("_by"),
    ).filter(pl.col("_at").is_null() | (pl.col("_at") < cutoff))
    elapsed = (
        (now.year - pl.col("_at").dt.year()) * 12
        + (now.month - pl.col("_at").dt.month())
        - (pl.col("_at").dt.day() > now.day).cast(pl.Int32)
    )
    return frame.select(
        pl.lit("stale").alias("check"),
        pl.lit("stale_record").alias("code"),
        "customer_id",
        "segment",
        pl.col("_by").alias("field"),
        pl.col("_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("value"),
        pl.when(pl.col("_at").is_null())
        .then(pl.lit("no contact date at all"))
        .otherwise(
            pl.format(
                "no contact for {} months ({} {}; limit {} months)",
                elapsed,
                pl.col("_by"),
                pl.col("_at").dt.strftime("%Y-%m-%d"),
                pl.lit(months),
            )
        )
        .alias("detail"),
    ).cast(FINDING_SCHEMA)


def find_incomplete(customers: pl.DataFrame, required: dict[str, list[str]]) -> pl.DataFrame:
    """Customers missing a field their segment requires: one finding per unmet requirement.

    Args:
        customers: golden records; fields are looked up by their store names (``phone`` is ``primary_phone``).
        required: segment -> requirements (``CleanSettings.required``); ``a|b`` is met by either field. A
            customer whose segment is not a key (or is empty) is held to ``default``.

    Returns:
        Findings ``incomplete_record``: ``field`` is the requirement (``phone|email``), ``value`` empty.
    """
    if not customers.height or not any(required.values()):
        return empty_findings()
    segment = _segment(customers)
    listed = [s for s in required if s != DEFAULT_SEGMENT]
    applies = pl.when(segment.is_in(listed)).then(segment).otherwise(pl.lit(DEFAULT_SEGMENT)) if listed else None
    base = customers.with_columns(
        segment.alias("_segment"), (applies if applies is not None else pl.lit(DEFAULT_SEGMENT)).alias("_rules")
    )
    parts = []
    for name, requirements in required.items():
        for requirement in requirements:
            fields = _alternatives(requirement)
            met = pl.any_horizontal([_present(customers, f) for f in fields])
            missing = base.filter((pl.col("_rules") == name) & ~met)
            if not missing.height:
                continue
            rule = f"segment {name}" if name != DEFAULT_SEGMENT else "the default requirements"
            parts.append(
                missing.select(
                    pl.lit("incomplete").alias("check"),
                    pl.lit("incomplete_record").alias("code"),
                    pl.col("customer_id").cast(pl.String),
                    pl.col("_segment").alias("segment"),
                    pl.lit("|".join(fields)).alias("field"),
                    pl.lit(None, pl.String).alias("value"),
                    pl.lit(f"{' or '.join(fields)} is empty (required by {rule})").alias("detail"),
                )
            )
    if not parts:
        return empty_findings()
    return pl.concat(parts).cast(FINDING_SCHEMA).sort("customer_id", "field", maintain_order=True)


def _present(customers: pl.DataFrame, field: str) -> pl.Expr:
    column = STORE_NAMES.get(field, field)
    if column not in customers.columns:
        return pl.lit(False)
    value = pl.col(column)
    if customers.schema[column] == pl.String:
        return value.str.strip_chars().fill_null("") != ""
    return value.is_not_null()


def find_invalid_contacts(customers: pl.DataFrame, contact_points: pl.DataFrame) -> pl.DataFrame:
    """Invalid contact points, and customers without one valid phone number or e-mail address.

    Args:
        customers: the golden records to check (``customer_id``, ``segment``).
        contact_points: ``customer_id``, ``kind`` (phone|email|wechat), ``value``, ``valid`` (Boolean), as
            ``crm_store.read_contact_points`` gives them; points of other customers are ignored.

    Returns:
        Findings ``invalid_contact_point`` (one per invalid phone or e-mail: ``field`` its kind, ``value`` it) and
        ``no_valid_contact`` (``field`` ``phone|email``; a customer with no phone or e-mail at all counts too).
    """
    if not customers.height:
        return empty_findings()
    who = customers.select(pl.col("customer_id").cast(pl.String), _segment(customers).alias("segment"))
    points = contact_points.select(
        pl.col("customer_id").cast(pl.String),
        pl.col("kind").cast(pl.String),
        pl.col("value").cast(pl.String),
        pl.col("valid").cast(pl.Boolean).fill_null(False),
    ).filter(pl.col("kind").is_in(["phone", "email"]))
    points = points.join(who, on="customer_id", how="inner")
    invalid = points.filter(~pl.col("valid")).select(
        pl.lit("invalid_contact").alias("check"),
        pl.lit("invalid_contact_point").alias("code"),
        "customer_id",
        "segment",
        pl.col("kind").alias("field"),
        "value",
        pl.when(pl.col("kind") == "phone")
        .then(pl.lit("the phone number is not a valid number"))
        .otherwise(pl.lit("the e-mail address is not valid"))
        .alias("detail"),
    )
    counts = points.group_by("customer_id").agg(
        pl.col("valid").sum().alias("_valid"), (~pl.col("valid")).sum().alias("_invalid")
    )
    without = (
        who.join(counts, on="customer_id", how="left")
        .with_columns(pl.col("_valid").fill_null(0), pl.col("_invalid").fill_null(0))
        .filter(pl.col("_valid") == 0)
        .select(
            pl.lit("invalid_contact").alias("check"),
            pl.lit("no_valid_contact").alias("code"),
            "customer_id",
            "segment",
            pl.lit("phone|email").alias("field"),
            pl.lit(None, pl.String).alias("value"),
            pl.when(pl.col("_invalid") > 0)
            .then(pl.format("no valid phone or e-mail ({} invalid)", pl.col("_invalid")))
            .otherwise(pl.lit("no phone or e-mail at all"))
            .alias("detail"),
        )
    )
    return (
        pl.concat([invalid.cast(FINDING_SCHEMA), without.cast(FINDING_SCHEMA)])
        .sort("customer_id", "code", "field", "value", nulls_last=True)
        .cast(FINDING_SCHEMA)
    )


def clean_findings(
    customers: pl.DataFrame, contact_points: pl.DataFrame, settings: CleanSettings, *, now: dt.datetime
) -> pl.DataFrame:
    """Every check over the given customers: stale, then incomplete, then invalid contacts.

    Returns:
        One finding table (``FINDING_COLUMNS``), ordered by check, then customer.
    """
    return pl.concat(
        [
            find_stale(customers, months=settings.stale_months, now=now),
            find_incomplete(customers, settings.required),
            find_invalid_contacts(customers, contact_points),
        ]
    )


def _identity(row: dict[str, str | None]) -> list[str | None]:
    """What makes a finding the same finding in every run: its customer and code, the requirement it is about
    (not the date a stale record was judged by: that may move from ``updated_at`` to ``last_contact_at``), and
    the contact point's value for an invalid contact point (a customer may have several)."""
    field = None if row["code"] == "stale_record" else row["field"]
    value = row["value"] if row["code"] == "invalid_contact_point" else None
    return [row["customer_id"], row["code"], field, value]


def _sha256(parts: list[str | None]) -> str:
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def finding_identities(findings: pl.DataFrame) -> pl.DataFrame:
    """``findings`` with two sha256 (hex) columns added, for the steward's review queue.

    ``finding_key`` names the finding across runs: the customer, the code, the requirement (``field``; not for a
    stale record, whose date may be judged by another field next time) and, for an invalid contact point, its value.
    ``fingerprint`` covers the values the finding is about: the key's parts, the segment, the field and the value
    (a stale record's last-contact date). A steward's decision on a finding binds while its fingerprint holds: a new
    last contact, a new segment or a changed value asks again; the ``detail`` text (months elapsed) does not.
    """
    keys, prints = [], []
    for row in findings.select(FINDING_COLUMNS).iter_rows(named=True):
        identity = _identity(row)
        keys.append(_sha256(identity))
        prints.append(_sha256([*identity, row["segment"], row["field"], row["value"]]))
    return findings.with_columns(
        pl.Series("finding_key", keys, dtype=pl.String), pl.Series("fingerprint", prints, dtype=pl.String)
    )


def finding_counts(findings: pl.DataFrame, customers: int) -> dict[str, object]:
    """Counts for a report: customers checked, customers with any finding, and per check and per code the
    findings and the distinct customers they concern (every check and code listed, zeros included)."""
    by_code = {code: {"findings": 0, "customers": 0} for code in CLEAN_CODES}
    by_check: dict[str, dict[str, int]] = {check: {"findings": 0, "customers": 0} for check, _ in CLEAN_CODES.values()}
    for code, group in findings.group_by("code", maintain_order=True):
        by_code[str(code[0])] = {"findings": group.height, "customers": group["customer_id"].n_unique()}
    for check, group in findings.group_by("check", maintain_order=True):
        by_check[str(check[0])] = {"findings": group.height, "customers": group["customer_id"].n_unique()}
    return {
        "customers": customers,
        "customers_with_findings": findings["customer_id"].n_unique() if findings.height else 0,
        "findings": findings.height,
        "by_check": by_check,
        "by_code": by_code,
    }
