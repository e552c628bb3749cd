"""SQL connector: a table or a query of any SQLAlchemy database, streamed in chunks, every value as text."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import URL

from connectors._errors import SourceError
from connectors._frame import BLANK_PATTERN, column_names, finish_batch, joined_values
from connectors.lineage import EMPTY_ROW, MALFORMED_ROW

logger = logging.getLogger(__name__)

#: Joins the values of a composite key into one ``_source_key``.
KEY_SEPARATOR = "|"


def safe_url(url: str | URL) -> str:
    """The URL as text with its password replaced by ``***``: the only form of a URL in messages and logs.

    A string that is not a URL at all is not echoed (it might be a password pasted in the wrong place).
    """
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError, TypeError):
        return "<not a valid SQLAlchemy URL>"
    return parsed.render_as_string(hide_password=True)


class SqlParams(BaseModel):
    """Which database, which rows, which key.

    The URL may hold a password: it never appears in the params' repr, in validation errors, in log records
    or in `SourceError` messages (those show `safe_url`). Prefer ``password_env`` to keep it out of YAML.

    Attributes:
        url: A SQLAlchemy URL, e.g. ``mysql+pymysql://user:pw@host/db?charset=utf8mb4`` or ``sqlite:///a.db``.
        password_env: Name of an environment variable holding the password; it replaces the URL's password.
        table: A table name (``schema.table`` allowed). Exactly one of ``table`` and ``query``.
        query: A SELECT statement (SQLAlchemy ``text()``: write a literal colon as ``\\:``).
        key: Column(s) whose values form ``_source_key`` (joined with ``|``); default: the table's primary key.
            Required with ``query``.
        chunk_size: Rows fetched from the server and yielded per batch.
        cursor_column: Column for incremental reads: only rows with a value greater than the ``cursor``
            passed to the connector are read, in ascending order of this column.
    """

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    url: str = Field(min_length=1, repr=False)
    password_env: str | None = None
    table: str | None = Field(default=None, min_length=1)
    query: str | None = Field(default=None, min_length=1)
    key: list[str] | None = None
    chunk_size: int = Field(default=50_000, ge=1)
    cursor_column: str | None = Field(default=None, min_length=1)

    @field_validator("key", mode="before")
    @classmethod
    def _one_key(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @field_validator("url")
    @classmethod
    def _parses(cls, v: str) -> str:
        try:
            sa.make_url(v)
        except (sa.exc.ArgumentError, ValueError) as exc:
            # the message of ArgumentError quotes the URL: do not chain or repeat it
            raise ValueError(f"not a valid SQLAlchemy URL ({type(exc).__name__})") from None
        return v

    @model_validator(mode="after")
    def _table_xor_query(self) -> SqlParams:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table and query")
        if self.query is not None and not self.key:
            raise ValueError("key is required with query (the column(s) that identify a row)")
        if self.key is not None and not self.key:
            raise ValueError("key needs at least one column")
        return self

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "url", self.safe_url
        yield from super().__repr_args__()

    @property
    def safe_url(self) -> str:
        """The URL with its password hidden."""
        return safe_url(self.url)

    def engine_url(self) -> URL:
        """The URL to connect with: the password from ``password_env`` when set.

        Raises:
            KeyError: ``password_env`` names a variable that is not set (the message names it).
        """
        url = sa.make_url(self.url)
        if self.password_env is not None:
            password = os.environ.get(self.password_env)
            if password is None:
                raise KeyError(self.password_env)
            url = url.set(password=password)
        return url


def value_text(value: object) -> str | None:
    """A database value as text: numbers as written (``Decimal("13800138000")`` -> ``13800138000``, integral
    floats without ``.0``), dates and times in ISO form, bytes decoded as UTF-8 (else ``0x`` + hex), JSON
    values compact. NULL is ``None``."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # MySQL TIME
        sign, seconds = ("-", -value) if value < dt.timedelta(0) else ("", value)
        total = int(seconds.total_seconds())
        text = f"{sign}{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
        return text + (f".{seconds.microseconds:06d}" if seconds.microseconds else "")
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return "0x" + data.hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def _column_text(values: Sequence[object]) -> list[str | None]:
    if all(type(v) is str or v is None for v in values):
        return list(values)  # type: ignore[arg-type]
    return [value_text(v) for v in values]


def _cursor_value(text: object, column: sa.ColumnElement[Any] | None) -> object:
    """The saved cursor (text) as the column's Python type, so that the comparison is typed on every server."""
    if not isinstance(text, str) or column is None:
        return text
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return text
    try:
        if python_type is int:
            return int(text)
        if python_type is float:
            return float(text)
        if python_type is decimal.Decimal:
            return decimal.Decimal(text)
        if python_type is dt.datetime:
            return dt.datetime.fromisoformat(text)
        if python_type is dt.date:
            return dt.date.fromisoformat(text[:10])
    except ValueError:
        return text
    return text


def read_sql(params: SqlParams, *, source: str, cursor: object | None = None) -> Iterator[pl.DataFrame]:
    """Read a table or a query into raw text batches with lineage, ``chunk_size`` rows at a time.

    Rows are streamed (server-side cursor, ``stream_results``), so memory does not grow with the table.
    ``_source_key`` is the key column's value as text, composite keys joined with ``|``; a row whose key is
    NULL is ``malformed_row`` with key ``row:<n>`` (its position in this read). Every value is text (see
    `value_text`); NULL is null. Column names are the result's (duplicates suffixed ``_2``).

    Incremental reads: with ``cursor_column`` set and a ``cursor`` (the last value seen, as text), only rows
    with ``cursor_column > cursor`` are read. Rows always come in ascending ``cursor_column`` order (NULLs
    first, only in a full read), so the new cursor is the last non-null ``cursor_column`` value yielded: see
    `next_cursor`. Without ``cursor_column``, table rows come in key order.

    Args:
        params: What to read.
        source: The source name written to ``_source``.
        cursor: The last ``cursor_column`` value of the previous run (text), or ``None`` for a full read.

    Raises:
        SourceError: The server does not answer, the login fails, the table or a key column does not exist,
            the query fails. The message shows the URL with its password hidden.
    """
    where = params.safe_url
    try:
        url = params.engine_url()
    except KeyError:
        raise SourceError(
            source, where, None, f"environment variable {params.password_env} (password_env) is not set"
        ) from None
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    except Exception as exc:  # unknown dialect, missing driver, bad options
        problem = _scrub(f"cannot use this URL: {type(exc).__name__}: {exc}", url)
        raise SourceError(source, where, None, problem) from None
    what = f"table {params.table!r}" if params.table is not None else "the query"
    logger.info("%s: reading %s from %s (cursor %s)", source, what, where, "none" if cursor is None else "set")
    try:
        with engine.connect() as conn:
            stmt, key_cols = _statement(conn, params, cursor, source, where)
            stream = conn.execution_options(stream_results=True, yield_per=params.chunk_size)
            bound = params.query is not None and params.cursor_column is not None and cursor is not None
            result = stream.execute(stmt, {"crmkit_cursor": cursor} if bound else None)
            yield from _batches(result, params, key_cols, source, where)
    except SourceError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise SourceError(source, where, None, _scrub(f"{what}: {_db_message(exc)}", url)) from None
    finally:
        engine.dispose()


def next_cursor(batch: pl.DataFrame, params: SqlParams, previous: str | None) -> str | None:
    """The cursor to save after a batch of `read_sql`: the last non-null ``cursor_column`` value, else ``previous``.

    Call it on every batch in order (``cursor = next_cursor(batch, params, cursor)``) and save the final value
    after the run has been loaded. Without ``cursor_column`` the cursor stays ``previous``.
    """
    column = params.cursor_column
    if column is None or column not in batch.columns:
        return previous
    values = batch.get_column(column).drop_nulls()
    return values[-1] if len(values) else previous


def _scrub(text: str, url: URL) -> str:
    """``text`` with the URL's password (should a driver echo it) replaced by ``***``."""
    password = url.password
    if password:
        text = text.replace(str(password), "***")
    return text


def _db_message(exc: sa.exc.SQLAlchemyError) -> str:
    """The driver's message without SQLAlchemy's echo of the statement and its parameters."""
    orig = getattr(exc, "orig", None)
    if orig is not None:
        return f"{type(orig).__name__}: {orig}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _statement(
    conn: sa.Connection, params: SqlParams, cursor: object | None, source: str, where: str
) -> tuple[sa.Executable, list[str]]:
    """The SELECT to run and the key column names."""
    if params.query is not None:
        assert params.key is not None  # checked by the model
        sql = params.query.strip().rstrip(";")
        col = params.cursor_column
        if col is None:
            return sa.text(sql), params.key
        quoted = conn.dialect.identifier_preparer.quote(col)
        if cursor is None:
            order = f"CASE WHEN {quoted} IS NULL THEN 0 ELSE 1 END, {quoted}"
            return sa.text(f"SELECT * FROM ({sql}) AS crmkit_q ORDER BY {order}"), params.key
        return (
            sa.text(f"SELECT * FROM ({sql}) AS crmkit_q WHERE {quoted} > :crmkit_cursor ORDER BY {quoted}"),
            params.key,
        )
    assert params.table is not None
    schema, _, name = params.table.rpartition(".")
    try:
        table = sa.Table(name, sa.MetaData(), autoload_with=conn, schema=schema or None)
    except sa.exc.NoSuchTableError:
        try:
            known = ", ".join(sorted(sa.inspect(conn).get_table_names(schema=schema or None))) or "none"
        except sa.exc.SQLAlchemyError:
            known = "unknown"
        raise SourceError(source, where, None, f"no table named {params.table!r}; tables: {known}") from None
    keys = params.key or [c.name for c in table.primary_key.columns]
    if not keys:
        raise SourceError(source, where, None, f"table {params.table!r} has no primary key: set key in the params")
    wanted = [*keys, *([params.cursor_column] if params.cursor_column else [])]
    missing = [c for c in wanted if c not in table.c]
    if missing:
        raise SourceError(
            source,
            where,
            None,
            f"table {params.table!r} has no column {', '.join(map(repr, missing))}; "
            f"columns: {', '.join(table.c.keys())}",
        )
    stmt = sa.select(table)
    if params.cursor_column is None:
        return stmt.order_by(*(table.c[k] for k in keys)), keys
    col = table.c[params.cursor_column]
    if cursor is None:
        return stmt.order_by(sa.case((col.is_(None), 0), else_=1), col), keys
    return stmt.where(col > sa.bindparam("crmkit_cursor", _cursor_value(cursor, col), type_=col.type)).order_by(
        col
    ), keys


def _batches(
    result: sa.CursorResult[Any], params: SqlParams, key_cols: list[str], source: str, where: str
) -> Iterator[pl.DataFrame]:
    raw_names = list(result.keys())
    names = column_names(raw_names)
    missing = [k for k in key_cols if k not in raw_names]
    if missing:
        raise SourceError(
            source,
            where,
            None,
            f"the query has no column {', '.join(map(repr, missing))} (key); columns: {', '.join(raw_names)}",
        )
    key_index = [raw_names.index(k) for k in key_cols]
    read = 0
    while rows := result.fetchmany(params.chunk_size):
        columns = [_column_text(col) for col in zip(*rows, strict=True)]
        values = pl.DataFrame([pl.Series(n, c, dtype=pl.String) for n, c in zip(names, columns, strict=True)])
        key_parts = [columns[i] for i in key_index]
        keys: list[str] = []
        code: list[str | None] = [None] * len(rows)
        detail: list[str | None] = [None] * len(rows)
        for i, parts in enumerate(zip(*key_parts, strict=True)):
            if any(p is None for p in parts):
                keys.append(f"row:{read + i + 1}")
                code[i] = MALFORMED_ROW
                nulls = [k for k, p in zip(key_cols, parts, strict=True) if p is None]
                detail[i] = f"key column {', '.join(nulls)} is NULL"
            else:
                keys.append(KEY_SEPARATOR.join(parts))  # type: ignore[arg-type]
        joined = joined_values(values)
        blank = pl.select(joined.str.contains(BLANK_PATTERN)).to_series().to_list()
        skip = [EMPTY_ROW if b and c is None else None for b, c in zip(blank, code, strict=True)]
        read += len(rows)
        yield finish_batch(
            values,
            source=source,
            keys=keys,
            skip_reason=skip,
            error_code=code,
            error_detail=detail,
            joined=joined,
        )
    logger.info("%s: read %s rows from %s", source, read, where)
