"""Registry, params models, the error type, and agreement with the store's lineage names."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pydantic
import pytest

import connectors
from connectors import (
    CONNECTORS,
    Capabilities,
    CsvParams,
    JsonlParams,
    SourceError,
    XlsxParams,
    capabilities,
    get_connector,
    lineage,
    next_cursor,
    params_model,
    register_connector,
)
from crm_store import schema


def test_known_kinds() -> None:
    assert set(CONNECTORS) == {"csv", "xlsx", "jsonl", "json", "sql", "http"}
    assert params_model("csv") is CsvParams
    assert params_model("xlsx") is XlsxParams
    assert params_model("jsonl") is JsonlParams
    assert get_connector("csv") is CONNECTORS["csv"]


def test_connectors_declare_how_they_read_incrementally() -> None:
    """Files by fingerprint, SQL by a cursor column (with the function that advances it), HTTP not at all: the flow
    and the project-file checks read these, never the kind's name."""
    assert {kind: capabilities(kind).incremental for kind in CONNECTORS} == {
        "csv": "fingerprint",
        "xlsx": "fingerprint",
        "jsonl": "fingerprint",
        "json": "fingerprint",
        "sql": "cursor",
        "http": None,
    }
    assert capabilities("sql") == Capabilities("cursor", next_cursor, cursor_param="cursor_column")
    with pytest.raises(ValueError, match="cursor connector declares next_cursor"):
        Capabilities("cursor")
    with pytest.raises(ValueError, match="cursor connector declares next_cursor"):
        Capabilities("fingerprint", next_cursor)
    with pytest.raises(KeyError, match="known kinds"):
        capabilities("parquet")


def test_unknown_kind_lists_known_kinds() -> None:
    with pytest.raises(KeyError, match="known kinds: csv, http, json, jsonl, sql, xlsx"):
        get_connector("parquet")
    with pytest.raises(KeyError, match="unknown connector kind 'parquet'"):
        params_model("parquet")


def test_duplicate_registration_raises() -> None:
    with pytest.raises(ValueError, match="'csv' is already registered"):
        register_connector("csv", CsvParams)(get_connector("csv"))


def test_params_forbid_unknown_fields() -> None:
    with pytest.raises(pydantic.ValidationError, match="delimter"):
        CsvParams.model_validate({"path": "a.csv", "delimter": ";"})
    params = XlsxParams.model_validate({"path": "a.xlsx", "sheets": ["客户"]})
    assert params.header_row is None


def test_source_error_text() -> None:
    assert str(SourceError("s", "a.csv", 7, "bad")) == "a.csv: row 7: bad"
    assert str(SourceError("s", "a.csv", None, "bad")) == "a.csv: bad"
    error = pickle.loads(pickle.dumps(SourceError("s", "b.xlsx", "S!2", "x")))
    assert (error.source, error.path, error.row, error.problem) == ("s", "b.xlsx", "S!2", "x")


def test_lineage_names_agree_with_the_store() -> None:
    assert lineage.LINEAGE_COLS == schema.LINEAGE_COLS


def test_public_api_is_curated() -> None:
    assert sorted(connectors.__all__) == sorted(
        [
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
    )


def test_connectors_import_nothing_else_of_the_project() -> None:
    package = Path(connectors.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"rules", "crm_store", "pipelines"}, (module.name, name)


def test_key_length_agrees_with_the_store() -> None:
    from crm_store.models import SourceRecord

    assert SourceRecord.__table__.c.source_key.type.length == lineage.MAX_KEY_CHARS
