"""Canonical field names and types: the vocabulary every step of the flow shares.

``rules`` imports this module (names and types only); ``crm_store.models`` builds the tables from the same
names. A source column is mapped onto one of these fields; anything unmapped lands in ``attributes``.
"""

from __future__ import annotations

from typing import Final, Literal

CustomerKind = Literal["person", "organisation"]
RowStatus = Literal["loaded", "quarantined", "skipped"]

#: Canonical fields a source column may be mapped to, with the normaliser kind that cleans each one
#: (``None``: kept as trimmed text).
CANONICAL_FIELDS: Final[dict[str, str | None]] = {
    "full_name": "name",
    "family_name": None,
    "given_name": None,
    "phone": "phone",
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
    "created_at": "datetime",
    "updated_at": "datetime",
}

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
