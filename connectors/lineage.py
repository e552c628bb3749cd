"""Names of the lineage columns every connector adds to every row.

These literals repeat ``crm_store.schema`` on purpose: connectors import nothing else of the project.
``tests/connectors/test_registry.py`` checks that both spellings agree.
"""

from __future__ import annotations

from typing import Final

SOURCE_COL: Final = "_source"
SOURCE_KEY_COL: Final = "_source_key"
ROW_HASH_COL: Final = "_row_hash"
SKIP_REASON_COL: Final = "_skip_reason"
ERROR_CODE_COL: Final = "_error_code"
ERROR_DETAIL_COL: Final = "_error_detail"
LINEAGE_COLS: Final = (
    SOURCE_COL,
    SOURCE_KEY_COL,
    ROW_HASH_COL,
    SKIP_REASON_COL,
    ERROR_CODE_COL,
    ERROR_DETAIL_COL,
)

#: Extra column of the CSV and JSONL connectors: the record's raw text, set only on ``malformed_row`` rows
#: (null elsewhere). It is not a source column: it is not part of ``_row_hash`` for well-formed rows.
RAW_LINE_COL: Final = "_raw_line"

#: Columns a connector adds; a source header that collides with one of them gets a ``_2`` suffix.
RESERVED_COLS: Final = (*LINEAGE_COLS, RAW_LINE_COL)

# Skip reasons: the row was read but is not a record.
EMPTY_ROW: Final = "empty_row"
TOTAL_ROW: Final = "total_row"
REPEATED_HEADER: Final = "repeated_header"
# Error codes: the row is structurally broken and goes to quarantine.
MALFORMED_ROW: Final = "malformed_row"
BAD_ENCODING: Final = "bad_encoding"
#: A row whose key repeats an earlier row of the same read (see `connectors._keys`).
DUPLICATE_KEY: Final = "duplicate_key"
#: Longest ``_source_key`` the store keeps (its ``source_key`` columns; a test checks both agree).
MAX_KEY_CHARS: Final = 255
