"""Canonical field names and types: the vocabulary every step of the flow shares.

``rules`` imports this module (names and types only); ``crm_store.models`` builds the tables from the same
names. A source column is mapped onto one of these fields; anything unmapped lands in ``attributes``.
"""

from __future__ import annotations

from typing import Final, Literal

RowStatus = Literal["loaded", "quarantined", "skipped"]

#: Canonical fields a source column may be mapped to, with the normaliser kind that cleans each one
#: (``None``: kept as trimmed text).
CANONICAL_FIELDS: Final[dict[str, str | None]] = {
    "full_name": "name",
    "family_name": None,
    "given_name": None,
    "phone": "phone",
    "landline": None,
    "email": "email",
    "company": "company",
    "job_title": None,
    "address": "address",
    "province": None,
    "city": None,
    "district": None,
    "postcode": None,
    "country": None,
    "birth_date": "date",
    "gender": "gender",
    "id_number": "id_number",
    "wechat": None,
    "owner": None,
    "segment": None,
    "status": None,
    "notes": None,
    "last_contact_at": "datetime",
    "created_at": "datetime",
    "updated_at": "datetime",
}

#: Fields whose columns are read into another field: a ``landline`` column (固话) is a phone column; the phone
#: normaliser tells a mobile from a landline by the number, whatever the column, and the golden record keeps
#: both ``primary_phone`` (a mobile first) and ``landline``.
FOLDED_FIELDS: Final[dict[str, str]] = {"landline": "phone"}

#: Golden-record fields chosen by survivorship, in the order the store shows them (``phone`` and ``email`` are
#: stored as ``primary_phone`` and ``primary_email``; ``landline`` is the best landline among the cluster's
#: numbers).
GOLDEN_FIELDS: Final = (
    "full_name",
    "family_name",
    "given_name",
    "name_pinyin",
    "phone",
    "landline",
    "email",
    "company",
    "job_title",
    "gender",
    "birth_date",
    "province",
    "city",
    "district",
    "owner",
    "segment",
    "status",
    "last_contact_at",
    "attributes",
)

#: Store column of a golden field whose column is named otherwise (``customer.primary_phone``).
STORE_NAMES: Final[dict[str, str]] = {"phone": "primary_phone", "email": "primary_email"}

#: Lineage columns every connector adds to every row (all strings).
SOURCE_COL: Final = "_source"
SOURCE_KEY_COL: Final = "_source_key"
ROW_HASH_COL: Final = "_row_hash"
#: Set by a connector when a row is read but not a record (``empty_row``, ``total_row``, ``repeated_header``).
SKIP_REASON_COL: Final = "_skip_reason"
#: Set by a connector when a row is structurally broken (``malformed_row``, ``bad_encoding``); detail in
#: ``_error_detail``. Such rows are quarantined, never dropped.
ERROR_CODE_COL: Final = "_error_code"
ERROR_DETAIL_COL: Final = "_error_detail"
#: Set by the CSV and JSON Lines connectors on a structurally broken row: the record's text as read. ``rules.map``
#: makes it the row's payload; it never lands in ``attributes``.
RAW_LINE_COL: Final = "_raw_line"
LINEAGE_COLS: Final = (
    SOURCE_COL,
    SOURCE_KEY_COL,
    ROW_HASH_COL,
    SKIP_REASON_COL,
    ERROR_CODE_COL,
    ERROR_DETAIL_COL,
)

#: Column added by ``rules.map``: JSON object of the unmapped source columns (non-empty values only).
ATTRIBUTES_COL: Final = "attributes"
#: Column added by ``rules.map``: JSON object of every source column as read (the raw payload kept in the
#: store).
PAYLOAD_COL: Final = "_payload"
#: Column added by ``rules.normalise``: list of issue codes ``"<field>.<code>"`` found while normalising the
#: row.
ISSUES_COL: Final = "_issues"
