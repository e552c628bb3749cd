"""Connectors: read a source into polars DataFrames of text with lineage columns.

Every connector has the signature ``(params, *, source, cursor=None) -> Iterator[pl.DataFrame]`` and yields
batches of the raw frame: every source column as ``pl.String`` under its original header (stripped;
duplicates suffixed ``_2``, ``_3``; empty headers ``column_<n>``), then the lineage columns ``_source``,
``_source_key``, ``_row_hash``, ``_skip_reason``, ``_error_code``, ``_error_detail`` (see
`connectors.lineage`), and for CSV, JSONL, JSON and HTTP ``_raw_line``. Every physical record read is yielded,
skipped and broken ones included; a file that cannot be read at all raises `SourceError`.

Kinds: ``csv``, ``xlsx``, ``jsonl``, ``json`` (an array file), ``sql`` (a table or query of any SQLAlchemy
database, streamed; incremental with ``cursor_column``: rows come in cursor order and `next_cursor` gives the
value to save), ``http`` (a paginated JSON API with retries and a bearer token from the environment).
`decode_text` reads bytes of unknown encoding (UTF-8, GB18030, Big5, UTF-16, …) the way the CSV connector does.
`read_headers` gives the columns a source would yield from its top only (a project file's pre-flight check).

Example:
    >>> params = params_model("csv").model_validate({"path": "customers.csv"})  # doctest: +SKIP
    >>> for batch in get_connector("csv")(params, source="crm_export"):  # doctest: +SKIP
    ...     ...
"""

from __future__ import annotations

from connectors._csv import CsvParams, read_csv
from connectors._encoding import Decoded, decode_text
from connectors._errors import ConnectorError, SourceError, UnknownConnectorError
from connectors._headers import Headers, read_headers
from connectors._http import HttpParams, read_http
from connectors._json import JsonParams, read_json
from connectors._jsonl import JsonlParams, read_jsonl
from connectors._registry import (
    CONNECTORS,
    Capabilities,
    Connector,
    capabilities,
    get_connector,
    params_model,
    register_connector,
)
from connectors._sql import SqlParams, next_cursor, read_sql
from connectors._xlsx import XlsxParams, read_xlsx

register_connector("csv", CsvParams)(read_csv)
register_connector("xlsx", XlsxParams)(read_xlsx)
register_connector("jsonl", JsonlParams)(read_jsonl)
register_connector("json", JsonParams)(read_json)
register_connector("sql", SqlParams, Capabilities("cursor", next_cursor, cursor_param="cursor_column"))(read_sql)
register_connector("http", HttpParams, Capabilities(incremental=None))(read_http)

__all__ = [
    "CONNECTORS",
    "Capabilities",
    "Connector",
    "ConnectorError",
    "CsvParams",
    "Decoded",
    "Headers",
    "HttpParams",
    "JsonParams",
    "JsonlParams",
    "SourceError",
    "SqlParams",
    "UnknownConnectorError",
    "XlsxParams",
    "capabilities",
    "decode_text",
    "get_connector",
    "next_cursor",
    "params_model",
    "read_headers",
    "register_connector",
]
