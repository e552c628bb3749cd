"""SQL connector: a table or a query of any SQLAlchemy database, streamed in chunks, every value as text.

Sources are only read. Every read runs on a connection that cannot write (a read-only transaction on
PostgreSQL, a read-only session on MySQL/MariaDB, ``query_only`` and a ``mode=ro`` file on SQLite) and is
rolled back at the end, never committed. A ``query`` that is not one reading statement is refused before it
is sent, so the user learns why; the read-only connection is the guard that holds when that check is fooled.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, ClassVar, Final
from urllib.request import pathname2url

import polars as pl
import sqlalchemy as sa
from pydantic import ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import URL

from connectors._encoding import decode
from connectors._errors import SourceError
from connectors._frame import BLANK_PATTERN, column_names, finish_batch, joined_values
from connectors._keys import POSITION_PREFIX, KeyedParams, compose_key
from connectors.lineage import (
    BAD_ENCODING,
    EMPTY_ROW,
    ERROR_CODE_COL,
    ERROR_DETAIL_COL,
    MALFORMED_ROW,
    SKIP_REASON_COL,
    SOURCE_KEY_COL,
)

logger = logging.getLogger(__name__)

#: What makes a connection unable to write, per dialect: run on it before anything else. A dialect not
#: listed is read with the SELECT check only (a warning says so: give such a source a read-only login).
READ_ONLY_STATEMENTS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        # the transaction already begun, and any later one of this (unpooled) session, autocommit included
        "postgresql": ("SET TRANSACTION READ ONLY", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"),
        "mysql": ("SET SESSION TRANSACTION READ ONLY",),  # every transaction of the session, autocommit too
        "mariadb": ("SET SESSION TRANSACTION READ ONLY",),
        "sqlite": ("PRAGMA query_only = ON",),  # the file is also opened read-only: see `read_only_url`
    }
)
#: First words of the statements a ``query`` may be.
READING_STATEMENTS: Final = ("SELECT", "WITH", "VALUES", "TABLE")
#: Words that make a reading statement write or lock: a data-modifying CTE, ``SELECT … INTO`` a table, a
#: variable or a server file (which no read-only transaction stops), ``FOR UPDATE``.
WRITING_WORDS: Final = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "INTO"})

_STRING = r"'(?:[^']|'')*'"
_QUOTED = r'"(?:[^"]|"")*"'
_BACKTICKED = r"`(?:[^`]|``)*`"
#: Comments, string literals and quoted names, as each server's lexer reads them. Where a pattern is unsure
#: it leaves text visible, so the check sees more words than the server, not fewer.
_LITERALS: Final[Mapping[str, re.Pattern[str]]] = MappingProxyType(
    {
        "mysql": re.compile(
            r"(?:--(?=\s|$)|#)[^\n]*|/\*(?![!+]|M!).*?\*/"  # /*! … */ and /*M! … */ are code
            r"|'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|" + _BACKTICKED,
            re.S,
        ),
        "postgresql": re.compile(
            r"--[^\n]*|/\*.*?\*/|(?<!\w)[eE]'(?:[^'\\]|\\.|'')*'|"
            + _STRING
            + "|"
            + _QUOTED
            + r"|\$(?P<tag>(?:[^\W\d]\w*)?)\$.*?\$(?P=tag)\$",
            re.S,
        ),
        "default": re.compile(
            r"--[^\n]*|/\*.*?\*/|" + _STRING + "|" + _QUOTED + "|" + _BACKTICKED + r"|\[[^\]]*\]", re.S
        ),
    }
)
#: What may follow the last statement: blanks and semicolons (comments are blanked first).
_TAIL: Final = " \t\r\n\f;"


#: Query parameters of a URL whose values are secrets (``?password=``, ``sslpassword=``, ``token=``, ``api_key=``):
#: a name holding one of these words (case-insensitive). Over-hiding (``sslkey=`` is a path) is the safe side.
_SECRET_QUERY: Final = re.compile(r"(?i)([?&;][^=&;#]*(?:pass|pwd|token|key|secret|sig|auth)[^=&;#]*=)[^&;#]*")


def _is_secret_param(name: str) -> bool:
    return _SECRET_QUERY.match(f"?{name}=") is not None


def safe_url(url: str | URL) -> str:
    """The URL as text with its password and secret query values (``?password=``, ``token=``) replaced by ``***``:
    the only form of a URL in messages and logs.

    A string that is not a URL at all is not echoed (it might be a password pasted in the wrong place).
    """
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError, TypeError):
        return "<not a valid SQLAlchemy URL>"
    return _SECRET_QUERY.sub(r"\1***", parsed.render_as_string(hide_password=True))


class SqlParams(KeyedParams):
    """Which database, which rows, which key.

    The URL may hold a password: it never appears in the params' repr, in validation errors, in log records
    or in `SourceError` messages (those show `safe_url`). Prefer ``password_env`` to keep it out of YAML.

    Attributes:
        url: A SQLAlchemy URL, e.g. ``mysql+pymysql://user:pw@host/db?charset=utf8mb4`` or ``sqlite:///a.db``.
        password_env: Name of an environment variable holding the password; it replaces the URL's password.
        table: A table name (``schema.table`` allowed). Exactly one of ``table`` and ``query``.
        query: One reading statement: ``SELECT``, ``WITH … SELECT``, ``VALUES`` or ``TABLE`` (SQLAlchemy
            ``text()``: write a literal colon as ``\\:``). It runs on a connection that cannot write.
        key: Column(s) whose values form ``_source_key`` (several joined with ``|``, a value's own ``|`` and
            ``\\`` escaped with ``\\``); default: the table's primary key. Required with ``query``.
        chunk_size: Rows fetched from the server and yielded per batch.
        cursor_column: Column for incremental reads: only rows with a value greater than the ``cursor``
            passed to the connector are read, in ascending order of this column.
    """

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    keys_from_columns: ClassVar[bool] = False  # the connector composes keys (default: the primary key)

    url: str = Field(min_length=1, repr=False)
    password_env: str | None = None
    table: str | None = Field(default=None, min_length=1)
    query: str | None = Field(default=None, min_length=1)
    chunk_size: int = Field(default=50_000, ge=1)
    cursor_column: str | None = Field(default=None, min_length=1)

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
    values compact, SQLite text that is not valid UTF-8 with U+FFFD for each undecodable sequence (its row is
    quarantined: see `read_sql`). NULL is ``None``."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, _Undecodable):
        return value.text
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


class _Undecodable:
    """A text value whose bytes are not UTF-8: SQLite stores whatever bytes it is given (a BLOB cast to TEXT), and
    so does a PostgreSQL database in ``SQL_ASCII``. Read by `_decoded` instead of failing the whole read, shown
    with U+FFFD for each undecodable sequence (`text`), its row quarantined as ``bad_encoding`` with `describe`
    in the detail."""

    __slots__ = ("_bad", "data", "text")

    def __init__(self, data: bytes) -> None:
        decoded = decode(data, "utf-8")
        self.data = data
        self.text = decoded.text
        self._bad = decoded.bad

    def describe(self) -> str:
        """The undecodable bytes and where they are in the value (the first sequence, and how many more)."""
        first = self._bad[0] if self._bad else None
        text = f"undecodable bytes {first.data!r} at byte offset {first.offset}" if first else "undecodable bytes"
        return text + (f" and {len(self._bad) - 1} more" if len(self._bad) > 1 else "")


def _decoded(data: bytes) -> str | _Undecodable:
    """Text as the database stored it: `str` when it is UTF-8, else `_Undecodable`, where the driver's own
    decoding would stop the whole read (SQLite: ``Could not decode to UTF-8 column …``)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _Undecodable(data)


def _replaced(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _lenient_text(conn: sa.Connection) -> None:
    """Make the connection read text that is not UTF-8 as `_Undecodable` values, for the data read (the schema
    was read before, as the driver reads it). Only SQLite and PostgreSQL's ``SQL_ASCII`` databases keep such
    text: every other server checks the encoding of what it stores, and converts it to the connection's."""
    dbapi = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite" and hasattr(dbapi, "text_factory"):  # the standard library's sqlite3
        dbapi.text_factory = _decoded  # type: ignore[union-attr]
    elif _psycopg_sql_ascii(dbapi):
        _psycopg_text(dbapi, _decoded)


def _psycopg_sql_ascii(dbapi: object) -> bool:
    """Whether ``dbapi`` is a psycopg connection to a ``SQL_ASCII`` database, whose text it hands over as bytes."""
    info = getattr(dbapi, "info", None)
    return type(dbapi).__module__.startswith("psycopg") and getattr(info, "encoding", None) == "ascii"


def _psycopg_text(dbapi: Any, load: Callable[[bytes], object]) -> None:
    """Make psycopg read the text types of the connection's later queries with ``load`` (from their bytes)."""
    from psycopg.adapt import Buffer, Loader
    from psycopg.pq import Format

    class Text(Loader):
        def load(self, data: Buffer) -> object:
            return load(bytes(data))

    class BinaryText(Text):
        format = Format.BINARY

    for name in (0, "text", "varchar", "bpchar", "name", '"char"'):  # 0: a literal of unknown type
        dbapi.adapters.register_loader(name, Text)
        if name:
            dbapi.adapters.register_loader(name, BinaryText)


def _on_connect(dbapi: Any, _record: object) -> None:
    """Before SQLAlchemy's own first queries on a new connection: a psycopg connection to a ``SQL_ASCII``
    PostgreSQL database reads text as `str` (U+FFFD for undecodable bytes) instead of bytes, which SQLAlchemy
    cannot read (``select version()``); `_lenient_text` marks undecodable text in the data read."""
    if _psycopg_sql_ascii(dbapi):
        _psycopg_text(dbapi, _replaced)


def _column_text(values: Sequence[object]) -> tuple[list[str | None], dict[int, _Undecodable]]:
    """A column's values as text, and the undecodable ones by their place in the column."""
    if all(type(v) is str or v is None for v in values):
        return list(values), {}  # type: ignore[arg-type]
    return [value_text(v) for v in values], {i: v for i, v in enumerate(values) if type(v) is _Undecodable}


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
    The read runs on a connection that cannot write (see `READ_ONLY_STATEMENTS`) and is rolled back at the
    end; a ``query`` that is not one reading statement is refused before it is sent (see `query_refusal`).
    ``_source_key`` is the key column's value as text, composite keys joined by `compose_key` (``|``, with
    ``|`` and ``\\`` in a value escaped); a row whose key is NULL is ``malformed_row`` with key ``row:<n>``
    (its position in this read). Every value is text (see `value_text`); NULL is null. Column names are the
    result's (duplicates suffixed ``_2``).

    Incremental reads: with ``cursor_column`` set and a ``cursor`` (the last value seen, as text), only rows
    with ``cursor_column > cursor`` are read. Rows always come in ascending ``cursor_column`` order (NULLs
    first, only in a full read), so the new cursor is the last non-null ``cursor_column`` value yielded: see
    `next_cursor`. Without ``cursor_column``, table rows come in key order.

    Args:
        params: What to read.
        source: The source name written to ``_source``.
        cursor: The last ``cursor_column`` value of the previous run (text), or ``None`` for a full read.

    Raises:
        SourceError: The query is not one reading statement, or tries to write; the server does not answer,
            the login fails, the SQLite file does not exist, the table or a key column does not exist, the
            query fails. The message shows the URL with its password hidden.
    """
    where = params.safe_url
    engine, url = _engine(params, source)
    what = f"table {params.table!r}" if params.table is not None else "the query"
    logger.info("%s: reading %s from %s (cursor %s)", source, what, where, "none" if cursor is None else "set")
    try:
        with read_only_connection(engine, source, where) as conn:
            stmt, key_cols = _statement(conn, params, cursor, source, where)
            _lenient_text(conn)  # after reflection, which reads the schema as the driver does
            stream = conn.execution_options(stream_results=True, yield_per=params.chunk_size)
            bound = params.query is not None and params.cursor_column is not None and cursor is not None
            with stream.execute(stmt, {"crmkit_cursor": cursor} if bound else None) as result:
                yield from _batches(result, params, key_cols, source, where)
    except SourceError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise SourceError(source, where, None, _scrub(f"{what}: {_db_message(exc)}", url)) from None
    except UnicodeError as exc:  # a driver that decodes text itself, and fails on a value the server kept
        problem = f"{what}: a value is not valid in the connection's encoding ({type(exc).__name__}: {exc})"
        raise SourceError(source, where, None, problem + "; set the URL's charset/client_encoding") from None
    finally:
        engine.dispose()


def read_sql_columns(params: SqlParams, *, source: str) -> tuple[list[str], list[str]]:
    """The column names `read_sql` would yield, and the key columns it would use, without reading a row.

    A ``table`` is reflected (its key defaults to the primary key); a ``query`` is run wrapped as
    ``SELECT * FROM (query) WHERE 1 = 0``, so the server plans it and returns its columns but no row. Both on a
    connection that cannot write, after the same checks as `read_sql` (a query that is not one reading
    statement is not sent).

    Raises:
        SourceError: As `read_sql`: the server does not answer, the login fails, no such table, the query fails.
    """
    where = params.safe_url
    engine, url = _engine(params, source)
    try:
        with read_only_connection(engine, source, where) as conn:
            if params.table is not None:
                table = _reflect(conn, params.table, source, where)
                return column_names(table.c.keys()), params.key or [c.name for c in table.primary_key.columns]
            assert params.query is not None and params.key is not None  # checked by the model
            sql = _statement_text(params.query, conn.dialect.name)
            with conn.execute(sa.text(f"SELECT * FROM (\n{sql}\n) AS crmkit_q WHERE 1 = 0")) as result:
                return column_names(result.keys()), params.key
    except SourceError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        what = f"table {params.table!r}" if params.table is not None else "the query"
        raise SourceError(source, where, None, _scrub(f"{what}: {_db_message(exc)}", url)) from None
    finally:
        engine.dispose()


def _engine(params: SqlParams, source: str) -> tuple[sa.Engine, URL]:
    """An engine that reads the source without a pool, and the URL it connects with (password set).

    Raises:
        SourceError: ``password_env`` is not set, the query is refused, the SQLite file does not exist, or the
            URL names a dialect or driver that cannot be loaded.
    """
    where = params.safe_url
    try:
        url = params.engine_url()
    except KeyError:
        raise SourceError(
            source, where, None, f"environment variable {params.password_env} (password_env) is not set"
        ) from None
    _check_query(params.query, url, source, where)
    _check_sqlite_file(url, source, where)
    try:
        engine = sa.create_engine(read_only_url(url), poolclass=sa.pool.NullPool)
    except Exception as exc:  # unknown dialect, missing driver, bad options
        problem = _scrub(f"cannot use this URL: {type(exc).__name__}: {exc}", url)
        raise SourceError(source, where, None, problem) from None
    sa.event.listen(engine, "connect", _on_connect, insert=True)  # before SQLAlchemy's own first queries
    return engine, url


def query_refusal(query: str, dialect: str) -> str | None:
    """Why ``query`` is not run, or ``None`` when it is one reading statement.

    A query runs when it is a single ``SELECT``, ``WITH … SELECT``, ``VALUES`` or ``TABLE`` statement and
    holds none of `WRITING_WORDS` outside its strings, quoted names and comments (read as ``dialect``'s server
    reads them). This names the problem before anything is sent; it is not the guard: a query that passes
    still runs on a connection that cannot write.

    Args:
        query: The ``query`` param.
        dialect: The SQLAlchemy backend name (``postgresql``, ``mysql``, ``mariadb``, ``sqlite``, …).
    """
    body = _blanked(query, dialect).rstrip(_TAIL)
    if ";" in body:
        return "it holds more than one statement (a ';' before its end)"
    first = re.match(r"[\s(]*([^\W\d][\w$]*)", body)
    verb = first.group(1).upper() if first else None
    allowed = ", ".join(READING_STATEMENTS[:-1]) + " or " + READING_STATEMENTS[-1]
    if verb not in READING_STATEMENTS:
        return f"it starts with {verb or 'no statement'}, not {allowed}"
    writing = sorted({w.upper() for w in re.findall(r"[^\W\d][\w$]*", body)} & WRITING_WORDS)
    if writing:
        return f"it contains {', '.join(writing)}, which would write or lock (only reading is allowed)"
    return None


def read_only_url(url: URL) -> URL:
    """The URL to read with: a SQLite file path becomes a ``file:`` URI with ``mode=ro``, so the file is
    opened read-only and a mistyped path does not create an empty database. Other URLs are unchanged."""
    path = _sqlite_path(url)
    if path is None:
        return url
    return url.set(database=f"file:{pathname2url(path)}", query={**url.query, "mode": "ro", "uri": "true"})


@contextmanager
def read_only_connection(engine: sa.Engine, source: str, where: str | None = None) -> Iterator[sa.Connection]:
    """A connection that cannot write (`READ_ONLY_STATEMENTS`), rolled back when the block ends: a source
    is never changed by reading it, whatever the query or a function it calls tries.

    Raises:
        SourceError: The driver or the dialect fails to start the connection with an error that is not the
            database's (an option the driver does not know, such as ``charset=binary``); ``where`` (default: the
            engine's URL, password hidden) names the source in the message.
    """
    try:
        connection = engine.connect()
    except sa.exc.SQLAlchemyError:
        raise
    except Exception as exc:  # not a database error: the driver's or the dialect's, on this URL's options
        problem = f"cannot connect: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        raise SourceError(source, where or safe_url(engine.url), None, _scrub(problem, engine.url)) from None
    with connection as conn:
        statements = READ_ONLY_STATEMENTS.get(conn.dialect.name)
        if statements is None:
            logger.warning(
                "%s: %s has no read-only mode in crmkit: only the SELECT check guards this source; "
                "give it a login that can only read",
                source,
                conn.dialect.name,
            )
        for statement in statements or ():
            conn.exec_driver_sql(statement)
        try:
            yield conn
        finally:
            conn.rollback()


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


def _blanked(query: str, dialect: str) -> str:
    """``query`` with its comments blanked out and its strings and quoted names masked with ``~``, keeping
    every other character where it was (so a position in the result is a position in the query)."""
    pattern = _LITERALS.get("mysql" if dialect == "mariadb" else dialect, _LITERALS["default"])

    def mask(found: re.Match[str]) -> str:
        text = found.group()
        return (" " if text.startswith(("--", "/*", "#")) else "~") * len(text)

    return pattern.sub(mask, query)


def _statement_text(query: str, dialect: str) -> str:
    """``query`` without what follows its last token (blanks, ``;``, comments), ready to be wrapped."""
    return query[: len(_blanked(query, dialect).rstrip(_TAIL))]


def _check_query(query: str | None, url: URL, source: str, where: str) -> None:
    """Refuse a ``query`` that is not one reading statement (see `query_refusal`), naming the source."""
    if query is None:
        return
    refusal = query_refusal(query, url.get_backend_name())
    if refusal is not None:
        raise SourceError(source, where, None, f"the query of source {source!r} is not run: {refusal}")


def _sqlite_path(url: URL) -> str | None:
    """The absolute file path of a SQLite URL given as a path; ``None`` for other URLs, ``:memory:`` and
    ``file:`` URIs (``uri=true``), which are left as written."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or "uri" in url.query:
        return None
    return os.path.abspath(url.database)


def _check_sqlite_file(url: URL, source: str, where: str) -> None:
    """Refuse a SQLite path that names no file (a typo would otherwise read as an empty database)."""
    path = _sqlite_path(url)
    if path is not None and not os.path.isfile(path):
        raise SourceError(source, where, None, f"no SQLite database file at {path}")


def _scrub(text: str, url: URL) -> str:
    """``text`` with the URL's password and secret query values (should a driver echo them) replaced by ``***``."""
    secrets = [str(url.password)] if url.password else []
    for name, value in url.query.items():
        if _is_secret_param(name):
            secrets.extend(v for v in ([value] if isinstance(value, str) else value) if v)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _db_message(exc: sa.exc.SQLAlchemyError) -> str:
    """The driver's message on one line, without SQLAlchemy's echo of the statement and its parameters and
    without PostgreSQL's quote of the statement (``LINE 1: …`` and its caret line)."""
    orig = getattr(exc, "orig", None)
    if orig is not None:
        lines = [" ".join(line.split()) for line in str(orig).splitlines()]
        kept = [line for line in lines if line and not line.startswith("LINE ") and line.strip("^ ")]
        message = f"{type(orig).__name__}: {'; '.join(kept)}"
    else:
        message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if re.search(r"read[- ]?only", message, re.IGNORECASE):
        message += " (sources are read on a connection that cannot write: the query must only read)"
    return message


def _statement(
    conn: sa.Connection, params: SqlParams, cursor: object | None, source: str, where: str
) -> tuple[sa.Executable, list[str]]:
    """The SELECT to run and the key column names."""
    if params.query is not None:
        assert params.key is not None  # checked by the model
        sql = _statement_text(params.query, conn.dialect.name)
        cursor_name = params.cursor_column
        if cursor_name is None:
            return sa.text(sql), params.key
        quoted = conn.dialect.identifier_preparer.quote(cursor_name)
        sql = f"SELECT * FROM (\n{sql}\n) AS crmkit_q"  # own lines: a comment in the query ends with its line
        if cursor is None:
            return sa.text(f"{sql} ORDER BY CASE WHEN {quoted} IS NULL THEN 0 ELSE 1 END, {quoted}"), params.key
        return sa.text(f"{sql} WHERE {quoted} > :crmkit_cursor ORDER BY {quoted}"), params.key
    assert params.table is not None
    table = _reflect(conn, params.table, source, where)
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
    stmt = sa.select(*(sa.type_coerce(column, _Lenient(column.type)).label(column.name) for column in table.c))
    if params.cursor_column is None:
        return stmt.order_by(*(table.c[k] for k in keys)), keys
    col = table.c[params.cursor_column]
    if cursor is None:
        return stmt.order_by(sa.case((col.is_(None), 0), else_=1), col), keys
    return stmt.where(col > sa.bindparam("crmkit_cursor", _cursor_value(cursor, col), type_=col.type)).order_by(
        col
    ), keys


class _Lenient(sa.types.TypeDecorator[Any]):
    """A reflected column's own conversion of the values read, keeping the driver's value where it fails: SQLite
    keeps any value in any column, and converting one odd value ('0000-00-00' in a DATE, 'abc' in a NUMERIC)
    would otherwise stop the whole read. Text that is not UTF-8 (`_Undecodable`) is not converted: its row is
    quarantined. Every value becomes text afterwards (`value_text`)."""

    impl = sa.types.NullType
    cache_ok = False  # holds the column's type: a statement is built once per read

    def __init__(self, inner: sa.types.TypeEngine[Any]) -> None:
        super().__init__()
        self.inner = inner

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> Callable[[Any], Any] | None:
        convert = self.inner.dialect_impl(dialect).result_processor(dialect, coltype)
        if convert is None:
            return None

        def process(value: Any) -> Any:
            if type(value) is _Undecodable:
                return value
            try:
                return convert(value)
            except (ValueError, TypeError, ArithmeticError):
                return value

        return process


def _reflect(conn: sa.Connection, qualified: str, source: str, where: str) -> sa.Table:
    """The table ``qualified`` (``schema.table`` allowed) as the database describes it.

    Raises:
        SourceError: No such table; the message lists the tables there are.
    """
    schema, _, name = qualified.rpartition(".")
    try:
        return sa.Table(name, sa.MetaData(), autoload_with=conn, schema=schema or None)
    except sa.exc.NoSuchTableError:
        try:
            known = ", ".join(sorted(sa.inspect(conn).get_table_names(schema=schema or None))) or "none"
        except sa.exc.SQLAlchemyError:
            known = "unknown"
        raise SourceError(source, where, None, f"no table named {qualified!r}; tables: {known}") from None


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
    key_names = [names[raw_names.index(k)] for k in key_cols]
    read = 0
    while rows := result.fetchmany(params.chunk_size):
        columns, undecodable = zip(*(_column_text(col) for col in zip(*rows, strict=True)), strict=True)
        values = pl.DataFrame([pl.Series(n, c, dtype=pl.String) for n, c in zip(names, columns, strict=True)])
        joined = joined_values(values)
        bad = _encoding_problems(dict(zip(names, undecodable, strict=True)), key_names, len(rows))
        if bad is not None:
            logger.warning(
                "%s: %s rows of rows %s-%s hold text that is not UTF-8 (columns %s): quarantined as %s",
                source,
                bad.height - bad[_UNDECODABLE].null_count(),
                read + 1,
                read + len(rows),
                ", ".join(n for n, found in zip(names, undecodable, strict=True) if found),
                BAD_ENCODING,
            )
        lineage = _row_lineage(values, joined, list(zip(key_names, key_cols, strict=True)), read + 1, bad)
        read += len(rows)
        yield finish_batch(
            values,
            source=source,
            keys=lineage[SOURCE_KEY_COL],
            skip_reason=lineage[SKIP_REASON_COL],
            error_code=lineage[ERROR_CODE_COL],
            error_detail=lineage[ERROR_DETAIL_COL],
            joined=joined,
        )
    logger.info("%s: read %s rows from %s", source, read, where)


#: Columns of `_encoding_problems`: the row's undecodable values described, and whether its key is one of them.
_UNDECODABLE: Final = "__undecodable"
_KEY_UNDECODABLE: Final = "__key_undecodable"


def _encoding_problems(
    undecodable: Mapping[str, Mapping[int, _Undecodable]], key_columns: Sequence[str], height: int
) -> pl.DataFrame | None:
    """Per row of a batch: its values that are not UTF-8 described (``column 'x' is not valid UTF-8: …``, null
    when it has none), and whether a key column is one (null when none is); ``None`` when no row has one.

    Args:
        undecodable: Per column of the batch, its `_Undecodable` values by row.
        key_columns: The key columns (names in the batch).
        height: Rows in the batch.
    """
    if not any(undecodable.values()):
        return None
    described: list[list[str]] = [[] for _ in range(height)]
    in_key: list[bool | None] = [None] * height
    for column, found in undecodable.items():
        for row, value in found.items():
            is_key = column in key_columns
            what = "key column" if is_key else "column"
            described[row].append(f"{what} {column!r} is not valid UTF-8: {value.describe()}")
            in_key[row] = True if is_key else in_key[row]
    return pl.DataFrame(
        [
            pl.Series(_UNDECODABLE, ["; ".join(d) if d else None for d in described], dtype=pl.String),
            pl.Series(_KEY_UNDECODABLE, in_key, dtype=pl.Boolean),
        ]
    )


def _row_lineage(
    values: pl.DataFrame,
    joined: pl.Series,
    keys: list[tuple[str, str]],
    first_row: int,
    undecodable: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Each row's key, skip reason, error code and detail.

    The key is `compose_key` of the key values (``keys``: pairs of column in ``values``, name in the result).
    A row with a NULL key value is ``malformed_row``, keyed ``row:<n>`` by its place in the read
    (``first_row`` is the first row's); a row holding text that is not UTF-8 (``undecodable``: see
    `_encoding_problems`) is ``bad_encoding``, keyed ``row:<n>`` too when that text is a key value (its U+FFFD
    could make it another row's key); a row whose values are all blank is ``empty_row``.
    """
    is_null = [pl.col(column).is_null() for column, _ in keys]
    broken = pl.any_horizontal(is_null)
    null_names = pl.concat_str(
        [pl.when(null).then(pl.lit(name)) for null, (_, name) in zip(is_null, keys, strict=True)],
        separator=", ",
        ignore_nulls=True,
    )
    position = pl.format(POSITION_PREFIX + "{}", pl.int_range(first_row, first_row + values.height))
    blank = pl.lit(joined).str.contains(BLANK_PATTERN)
    null_key = pl.format("key column {} is NULL", null_names)
    detail: pl.Expr
    if undecodable is None:
        bad, bad_key, detail = pl.lit(False), pl.lit(False), pl.when(broken).then(null_key)
    else:
        described = pl.lit(undecodable[_UNDECODABLE])
        bad, bad_key = described.is_not_null(), pl.lit(undecodable[_KEY_UNDECODABLE]).fill_null(False)
        both = pl.concat_str([null_key, described], separator="; ", ignore_nulls=True)
        detail = pl.when(broken).then(both).otherwise(described)
    return values.select(
        pl.when(broken | bad_key)
        .then(position)
        .otherwise(_key_values(values, [c for c, _ in keys]))
        .alias(SOURCE_KEY_COL),
        pl.when(~broken & ~bad & blank).then(pl.lit(EMPTY_ROW)).alias(SKIP_REASON_COL),
        pl.when(broken).then(pl.lit(MALFORMED_ROW)).when(bad).then(pl.lit(BAD_ENCODING)).alias(ERROR_CODE_COL),
        detail.alias(ERROR_DETAIL_COL),
    )


def _key_values(values: pl.DataFrame, columns: list[str]) -> pl.Expr:
    """`compose_key` of each row's key values (null where one is NULL): one column is its own key."""
    if len(columns) == 1:
        return pl.col(columns[0])
    parts = zip(*(values.get_column(c).to_list() for c in columns), strict=True)
    keys = [None if None in row else compose_key(list(row)) for row in parts]  # composite keys only
    return pl.lit(pl.Series(keys, dtype=pl.String))
