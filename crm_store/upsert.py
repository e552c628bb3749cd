"""Writing the store: polars DataFrames in, bulk, batched and idempotent.

Every writer takes a ``Session`` and never commits: the caller owns the transaction (one for a whole load).
A writer goes through its input in key order, in batches of ``BATCH_ROWS`` (a child table's cut between
customers): it looks up the stored rows of the batch's keys only (``_lookup``: ``IN`` lists, or one array on
PostgreSQL, through the primary key's index, read by the driver straight into polars; nothing at all when the
table was empty, as on a first load), compares (a polars join), inserts the new rows (``COPY`` on PostgreSQL, one
prepared ``executemany`` elsewhere) and updates the changed ones (a dialect-aware upsert: ``ON CONFLICT DO
UPDATE`` on SQLite/PostgreSQL, ``ON DUPLICATE KEY UPDATE`` on MySQL/MariaDB), then tells ``progress`` how many
input rows it handled. A re-run of the same input changes no row at all, and the memory a writer adds is bounded
by its batch, not by the rows stored.

Values always go through their column types' bind processors, so encrypted columns (``crm_store.crypto``) are
encrypted whichever way they are written. ``COPY`` is used only where row-level security does not apply to the
connected role (PostgreSQL refuses ``COPY FROM`` there); ``INSERT`` otherwise.

JSON columns accept JSON text, dicts/lists or polars structs/lists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast, get_args

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session

from crm_store._frames import (
    IN_CHUNK,
    JSON_COLS,
    READ_CHUNK,
    UTC,
    canonical_json,
    chunks,
    json_text,
    json_values,
    read_frame,
    table_of,
)
from crm_store.crypto import PREFIX, EncryptedText, keyring_for
from crm_store.models import (
    Activity,
    Address,
    Base,
    ContactPoint,
    Crosswalk,
    Customer,
    FieldProvenance,
    Quarantine,
    SourceRecord,
    UtcDateTime,
)
from crm_store.overrides import apply_overrides, apply_provenance_overrides
from crm_store.schema import GOLDEN_FIELDS, STORE_NAMES, RowStatus

__all__ = [
    "BATCH_ROWS",
    "GOLDEN_COLUMNS",
    "Progress",
    "Retirements",
    "UpsertCounts",
    "foreign_keys_checked_once",
    "replace_customer_details",
    "retire_customers",
    "upsert_activities",
    "upsert_crosswalk",
    "upsert_customers",
    "upsert_quarantine",
    "upsert_source_records",
]

logger = logging.getLogger(__name__)

#: Columns of ``customer`` that make up the golden record (and its ``content_hash``), in hash order: ``kind``
#: and the survived fields by their store names (``attributes`` last).
GOLDEN_COLUMNS: tuple[str, ...] = ("kind", *(STORE_NAMES.get(f, f) for f in GOLDEN_FIELDS))

#: Input rows a writer compares and writes at a time (its memory is bounded by one batch).
BATCH_ROWS = 25_000
#: Keys per ``IN (...)`` of a batch's lookup of stored rows: far below every backend's bind-parameter limit.
LOOKUP_CHUNK = 5_000
#: Told, after each batch of a writer, how many more of its input rows are handled.
Progress = Callable[[int], None]

#: Position of a row in a batch, to find its parsed JSON values (``write_rows``' ``parsed``).
ROW_INDEX = "_row"
_STORED = "__stored"  # suffix of the stored values joined onto the input frame
_FOUND = "__found"  # true where the input row's key is stored


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    """What a writer did: rows inserted, updated, left unchanged and deleted.

    ``deleted`` counts rows removed: stale child rows for ``replace_customer_details``, and keys moved out of
    the other tables for ``upsert_crosswalk`` / ``upsert_activities`` / ``upsert_quarantine``.
    """

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.deleted + other.deleted,
        )


# --------------------------------------------------------------------------------------------- input checks


def checked_frame(
    df: pl.DataFrame,
    what: str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    nullable: Collection[str] = (),
) -> pl.DataFrame:
    """Check the columns of an input frame and add the missing optional ones as nulls, in a fixed order.

    Required columns must not hold nulls, except JSON columns and those named in ``nullable``.
    """
    if df.width == 0 and df.height == 0:
        df = pl.DataFrame({c: pl.Series(c, [], dtype=pl.String) for c in required})
    missing = [c for c in required if c not in df.columns]
    unknown = [c for c in df.columns if c not in required and c not in optional]
    if missing or unknown:
        raise ValueError(
            f"{what}: missing columns {missing}, unknown columns {unknown}; "
            f"expected {list(required)} and optionally {list(optional)}"
        )
    nulls = [c for c in required if df[c].null_count() and c not in JSON_COLS and c not in nullable]
    if nulls:
        raise ValueError(f"{what}: columns {nulls} must not contain nulls")
    return df.with_columns(pl.lit(None).alias(c) for c in optional if c not in df.columns).select(*required, *optional)


def _check_unique(df: pl.DataFrame, keys: Sequence[str], what: str) -> None:
    """Fail when two rows share a key. The keys are hashed first: distinct hashes are distinct keys, and only rows
    whose hash repeats are compared on the keys themselves (``is_duplicated`` on the key columns of all the rows
    took 350 MiB for 1.3M provenance rows, more than the rest of the load)."""
    hashed = df.select(pl.struct(keys).hash()).to_series()
    if hashed.n_unique() == df.height:
        return
    suspects = df.filter(hashed.is_duplicated())
    duplicated = suspects.select(keys).is_duplicated()
    if duplicated.any():
        example = suspects.filter(duplicated).row(0)
        raise ValueError(f"{what}: {int(duplicated.sum())} rows share a key {list(keys)}, e.g. {example[: len(keys)]}")


def _check_lengths(table: sa.Table, df: pl.DataFrame, key: str) -> None:
    """Fail on text longer than its column, naming the column and a row key (never the value: PII)."""
    for name in df.columns:
        if name not in table.c or df[name].dtype != pl.String:
            continue
        length = getattr(table.c[name].type, "length", None)
        if not length:
            continue
        too_long = df[name].str.len_chars() > length
        if too_long.any():
            raise ValueError(
                f"{table.name}.{name}: {int(too_long.sum())} value(s) longer than {length} characters, "
                f"e.g. at {key}={df.filter(too_long)[key][0]!r}"
            )


def _check_values(df: pl.DataFrame, column: str, allowed: Iterable[str], what: str) -> None:
    bad = sorted(set(df[column].drop_nulls().unique().to_list()) - set(allowed))
    if bad:
        raise ValueError(f"{what}: {column} must be one of {sorted(allowed)}, got {bad}")


def _timestamps(df: pl.DataFrame, column: str, what: str, key: str = "source_key") -> pl.Series:
    """``column`` as ``Datetime("us", "UTC")``: ISO text (``YYYY-MM-DDTHH:MM:SS[.ffffff]`` or ``YYYY-MM-DD``),
    dates or datetimes; naive values are taken to be UTC. Text that is neither fails, naming a row key."""
    values = df[column]
    if values.dtype == pl.Null:
        return values.cast(UTC)
    if isinstance(values.dtype, pl.Datetime):
        zoned = values.dt.replace_time_zone("UTC") if values.dtype.time_zone is None else values
        return zoned.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if values.dtype == pl.Date:
        return values.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if values.dtype != pl.String:
        raise ValueError(f"{what}: {column} must be ISO text, a date or a datetime, got {values.dtype}")
    text = pl.col(column)
    parsed = df.select(
        pl.coalesce(
            text.str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f", strict=False),
            text.str.strptime(pl.Date, "%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
        ).dt.replace_time_zone("UTC")
    ).to_series()
    bad = parsed.is_null() & values.is_not_null()
    if bad.any():
        raise ValueError(
            f"{what}: {int(bad.sum())} {column} value(s) are not ISO timestamps (YYYY-MM-DDTHH:MM:SS or "
            f"YYYY-MM-DD), e.g. at {key}={df.filter(bad)[key][0]!r}"
        )
    return parsed.alias(column)


# --------------------------------------------------------------------------------------------- stored rows


def select_where_in(
    session: Session,
    table: sa.Table,
    cols: Sequence[str],
    column: str,
    values: Collection[Any],
    equal: Mapping[str, Any] | None = None,
    expected: int = 0,
) -> Iterator[sa.Row[Any]]:
    """Rows of ``table`` whose ``column`` is in ``values`` (and whose ``equal`` columns match).

    ``expected`` is the number of rows the caller expects back when that is more than ``len(values)`` (child
    rows looked up by their customer ids).

    When the values cover a good part of the candidate rows (a re-load of a whole source), the candidates are
    read in one pass and filtered here: many ``IN`` lookups would cost more, and right after a bulk load
    PostgreSQL has no statistics yet and answers each ``IN`` chunk with a scan of the whole source. Otherwise
    the rows are looked up in ``IN`` chunks through the index. No candidate at all (a first load) costs one count.
    """
    conditions = [table.c[k] == v for k, v in (equal or {}).items()]
    base = sa.select(*(table.c[c] for c in cols)).where(*conditions)
    if not values:
        return
    candidates = session.execute(sa.select(sa.func.count()).select_from(table).where(*conditions)).scalar_one()
    if not candidates:
        return
    if candidates <= 2 * max(len(values), expected):
        wanted = set(values)
        position = list(cols).index(column)
        for part in session.execute(base).partitions(READ_CHUNK):
            yield from (row for row in part if row[position] in wanted)
        return
    for chunk in chunks(sorted(values), IN_CHUNK):
        yield from session.execute(base.where(table.c[column].in_(chunk))).all()


def _compared(column: str) -> str:
    """The column that stands for ``column`` in comparisons: JSON documents are compared by canonical text."""
    return f"_cmp_{column}" if column in JSON_COLS else column


def _compare_schema(df: pl.DataFrame, key_cols: Sequence[str], cols: Sequence[str]) -> dict[str, pl.DataType]:
    schema = {k: df.schema[k] for k in key_cols}
    return schema | {_compared(c): pl.String() if c in JSON_COLS else df.schema[c] for c in cols}


def _has_rows(session: Session, table: sa.Table) -> bool:
    """Whether ``table`` holds any row (a first load looks nothing up)."""
    return session.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None


def _processor(session: Session, table: sa.Table, name: str, coltype: Any) -> Callable[[Any], Any] | None:
    """What turns a raw stored value of ``name`` into its Python value (``None``: the raw value is it; encrypted
    columns are decrypted by ``_decrypted`` instead)."""
    dialect = session.get_bind().dialect
    kind = table.c[name].type
    if isinstance(kind, EncryptedText):
        return None
    return cast(Callable[[Any], Any] | None, kind.dialect_impl(dialect).result_processor(dialect, coltype))


def _decrypted(session: Session, table: sa.Table, series: pl.Series) -> pl.Series:
    """A stored column as plain text: the values of an encrypted column that are encrypted decrypted (only those:
    no call per value), through the column type (a missing key raises as a read would)."""
    kind = table.c[series.name].type
    if not isinstance(kind, EncryptedText) or series.dtype != pl.String:
        return series
    encrypted = series.str.starts_with(PREFIX).fill_null(False)
    if not encrypted.any():
        return series
    dialect = session.get_bind().dialect
    plain = [kind.process_result_value(v, dialect) for v in series.filter(encrypted).to_list()]
    return series.scatter(encrypted.arg_true(), pl.Series(plain, dtype=pl.String))


def _stored_frame(
    session: Session,
    table: sa.Table,
    names: Sequence[str],
    rows: list[Sequence[Any]],
    coltypes: Sequence[Any],
    dtypes: Sequence[pl.DataType],
) -> pl.DataFrame:
    """Raw stored rows (as the driver returns them) as a comparable frame: what each column type's result
    processor makes of them, encrypted values decrypted, JSON as canonical text. Rows of plain values (text,
    numbers: no processor) go to polars as they are, without a Python list per column."""
    processors = [_processor(session, table, n, t) for n, t in zip(names, coltypes, strict=True)]
    if rows and all(p is None and n not in JSON_COLS for n, p in zip(names, processors, strict=True)):
        frame = pl.DataFrame(rows, schema=dict(zip(names, dtypes, strict=True)), orient="row")
        return frame.with_columns(_decrypted(session, table, frame[n]) for n in names)
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    series = []
    for name, values, processor, dtype in zip(names, columns, processors, dtypes, strict=True):
        if processor is not None:
            values = [processor(v) for v in values]
        if name in JSON_COLS:
            series.append(pl.Series(name, [json_text(v) for v in values], dtype=pl.String))
        else:
            series.append(_decrypted(session, table, pl.Series(name, values, dtype=dtype)))
    return pl.DataFrame(series)


#: Around a batch's lookup on PostgreSQL: no sequential scan (unless nothing else answers), as ``SET LOCAL`` does,
#: then back to the setting the transaction had. Right after a bulk load a table has no statistics yet, and the
#: planner answers a lookup of thousands of keys with a scan of the whole table; by the primary key's index a
#: lookup reads only the rows of its keys.
_INDEX_ONLY = (
    "SELECT set_config('crmkit.enable_seqscan', current_setting('enable_seqscan'), true), "
    "set_config('enable_seqscan', 'off', true)",
    "SELECT set_config('enable_seqscan', current_setting('crmkit.enable_seqscan'), true)",
)


def _lookup(
    session: Session,
    table: sa.Table,
    by: Sequence[str],
    cols: Sequence[str],
    keys: pl.DataFrame,
    schema: Mapping[str, pl.DataType],
    *,
    extra: Sequence[str] = (),
) -> pl.DataFrame:
    """The stored ``(*by, *extra, *cols)`` rows of ``table`` whose leading ``by`` columns equal a row of ``keys``
    and whose last ``by`` column is among that row's values, as a frame: compared ``cols`` named
    ``<col>__stored`` (JSON as canonical text), encrypted values decrypted.

    The rows are looked up in ``IN`` chunks of ``LOOKUP_CHUNK`` keys (on PostgreSQL one ``= ANY`` array)
    through the primary key's index, by the driver's ``execute`` and ``fetchall`` (SQLAlchemy's row objects and
    per-value processing cost more than the database's lookup). ``keys`` holds the distinct key values (columns
    ``by``); ``schema`` the dtype of each key column and compared column (``_compared`` names). What is read is
    bounded by the keys given: a writer looks up one batch at a time, so its memory does not grow with the rows
    stored.
    """
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    if dialect.paramstyle not in ("qmark", "format", "pyformat"):  # pragma: no cover - sqlite3, psycopg, pymysql
        raise NotImplementedError(f"crm_store has no lookup for the {dialect.paramstyle!r} parameter style")
    lead, last = list(by[:-1]), by[-1]
    plain = [*lead, last, *extra]
    names = [*plain, *cols]
    postgres = dialect.name == "postgresql"
    head = (
        f"SELECT {', '.join(quote(c) for c in names)} FROM {quote(table.name)} WHERE "
        + "".join(f"{quote(k)} = {mark} AND " for k in lead)
        + quote(last)
    )
    groups = keys.group_by(lead, maintain_order=True).agg(pl.col(last)).rows() if lead else [(keys[last],)]
    rows: list[Sequence[Any]] = []
    coltypes: list[Any] = [None] * len(names)
    driver = session.connection().connection.dbapi_connection
    if driver is None:  # pragma: no cover - a live connection always has one
        raise RuntimeError("no driver connection to look up through")
    dbapi_error = dialect.loaded_dbapi.Error
    cursor = driver.cursor()
    sql = head
    try:
        if postgres:  # the keys' index, even where the table has no statistics yet (see ``_INDEX_ONLY``)
            cursor.execute(_INDEX_ONLY[0])
        for *prefix, values in groups:
            if postgres:  # one array of all the keys, sent in binary (no quoting of each key as text)
                parts: Iterable[Sequence[Any]] = [[list(values)]]
                sql = f"{head} = ANY(%b)"
            else:
                parts = [list(chunk) for chunk in chunks(list(values), LOOKUP_CHUNK)]
            for part in parts:
                if not postgres:
                    sql = f"{head} IN ({', '.join([mark] * len(part))})"
                try:
                    cursor.execute(sql, (*prefix, *part))
                    rows.extend(cursor.fetchall())
                except dbapi_error as exc:  # raised as SQLAlchemy would
                    raise sa.exc.DBAPIError.instance(sql, None, exc, dbapi_error, dialect=dialect) from exc
                coltypes = [d[1] for d in cursor.description or ()] or coltypes
        if postgres:
            cursor.execute(_INDEX_ONLY[1])
    finally:
        cursor.close()
    dtypes = [schema[_compared(c)] for c in names]
    frame = _stored_frame(session, table, names, rows, coltypes, dtypes)
    return frame.rename({c: _compared(c) + _STORED for c in cols})


def _split(batch: pl.DataFrame, compare: Sequence[str], found: bool) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Split a batch into (new rows, changed rows, number unchanged); ``found``: the batch carries the stored values
    of its keys (``_with_stored``)."""
    if not found:
        return batch, batch.clear(), 0
    new = batch.filter(pl.col(_FOUND).is_null())
    both = batch.filter(pl.col(_FOUND).is_not_null())
    differs = [pl.col(_compared(c)).ne_missing(pl.col(_compared(c) + _STORED)) for c in compare]
    changed = both.filter(pl.any_horizontal(differs)) if differs else both.clear()
    return new, changed, both.height - changed.height


def _with_stored(df: pl.DataFrame, stored: pl.DataFrame, key_cols: Sequence[str]) -> pl.DataFrame:
    """``df`` with the ``stored`` values of its keys beside each row (one join for all batches), and ``_FOUND``."""
    marked = stored.with_columns(pl.lit(True).alias(_FOUND))
    return df.join(marked, on=list(key_cols), how="left", maintain_order="left")


# --------------------------------------------------------------------------------------------- writing


def _write_statement(
    dialect: str,
    table: sa.Table,
    update_cols: Sequence[str] | None,
    extra_set: Mapping[str, Any] | None,
    conflict: Sequence[str] | None,
) -> Any:
    """``INSERT``, or (with ``update_cols``) an upsert on the primary key (or the ``conflict`` columns)."""
    if update_cols is None:
        return sa.insert(table)
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(table)
        set_ = {c: stmt.excluded[c] for c in update_cols} | dict(extra_set or {})
        index = list(conflict) if conflict else list(table.primary_key.columns)
        return stmt.on_conflict_do_update(index_elements=index, set_=set_)
    if dialect in ("mysql", "mariadb"):
        stmt_my = mysql.insert(table)
        set_ = {c: stmt_my.inserted[c] for c in update_cols} | dict(extra_set or {})
        return stmt_my.on_duplicate_key_update(set_)
    raise NotImplementedError(f"crm_store has no upsert for the {dialect!r} dialect (sqlite, postgresql, mysql)")


def _bound(session: Session, table: sa.Table, values: Mapping[str, Sequence[Any]], names: Sequence[str]) -> list[Any]:
    """The columns ``names`` of ``values`` as the driver takes them: through each column type's bind processor
    (encryption, time zones, JSON), a column of one repeated value processed once."""
    dialect = session.get_bind().dialect
    n = len(values[names[0]]) if names else 0
    plain = keyring_for(session) is None  # encrypted columns then keep their values as they are
    columns: list[Any] = []
    for name in names:
        kind = table.c[name].type
        processor = (
            None if plain and isinstance(kind, EncryptedText) else kind.dialect_impl(dialect).bind_processor(dialect)
        )
        column = values[name]
        if len(column) != n:
            raise ValueError(f"{table.name}: column {name} has {len(column)} values, expected {n}")
        if processor is None:
            columns.append(column)
        elif isinstance(column, _Repeated):
            columns.append(_Repeated(processor(column.value), n))
        else:
            columns.append([processor(v) for v in column])
    return columns


class _Repeated(Sequence[Any]):
    """One value ``n`` times (a constant column), without a list of it."""

    def __init__(self, value: Any, n: int) -> None:
        self.value, self.n = value, n

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[Any]:
        return itertools.repeat(self.value, self.n)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return _Repeated(self.value, len(range(*index.indices(self.n))))
        if not -self.n <= index < self.n:
            raise IndexError(index)
        return self.value


def write_columns(
    session: Session,
    table: sa.Table,
    values: Mapping[str, Sequence[Any]],
    update_cols: Sequence[str] | None,
    *,
    extra_set: Mapping[str, Any] | None = None,
    conflict: Sequence[str] | None = None,
) -> None:
    """Insert (or upsert, see ``_write_statement``) rows given column by column, in one ``executemany``.

    The statement is compiled once and run through the driver's ``executemany`` on the session's connection,
    each value going through its column type's bind processor: what ``session.execute(stmt, dicts)`` does,
    without SQLAlchemy's per-row parameter bookkeeping, which cost more than the database's own work.
    ``extra_set`` must not carry bound parameters (use ``sa.literal_column``).
    """
    names = list(values)
    if not names or not len(values[names[0]]):
        return
    dialect = session.get_bind().dialect
    compiled = _write_statement(dialect.name, table, update_cols, extra_set, conflict).compile(
        dialect=dialect, column_keys=names
    )
    binds = list(compiled.positiontup or ()) if compiled.positional else list(compiled.bind_names.values())
    if sorted(binds) != sorted(names):
        raise RuntimeError(f"{table.name}: statement binds {binds}, rows give {names}")
    rows = zip(*_bound(session, table, values, binds), strict=True)
    params: list[Any] = list(rows) if compiled.positional else [dict(zip(binds, r, strict=True)) for r in rows]
    session.connection().exec_driver_sql(compiled.string, params)


def write_rows(
    session: Session,
    table: sa.Table,
    df: pl.DataFrame,
    columns: Sequence[str],
    *,
    parsed: Mapping[str, list[Any]] | None = None,
    constants: Mapping[str, Any] | None = None,
) -> None:
    """Insert the new rows ``df`` (its ``columns``, JSON columns from ``parsed`` by ``_row``, plus ``constants``).

    On PostgreSQL, where row-level security does not apply to the connected role, the rows go in by ``COPY``, its
    text made by polars; elsewhere by one ``executemany`` of an ``INSERT``. Either way each value is what its
    column type's bind processor makes of it (encrypted columns are encrypted).
    """
    if df.is_empty():
        return
    if session.get_bind().dialect.name == "postgresql" and not _row_security(session, table):
        _copy(session, table, df, columns, parsed or {}, constants or {})
    elif parsed or not _insert_frame(session, table, df, columns, constants or {}):
        write_columns(session, table, _values(df, columns, parsed, constants), None)


#: Python types of bound values that polars holds as they are (``str``, ``int``, ``float``: not ``bool``,
#: which is an ``int``; ``None`` anywhere).
_PLAIN_DTYPES: dict[type, pl.DataType] = {str: pl.String(), int: pl.Int64(), float: pl.Float64()}


def _plain_series(name: str, values: list[Any]) -> pl.Series | None:
    """Bound values as a series that gives them back unchanged, or ``None`` when polars would change them."""
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) > 1 or (kinds and next(iter(kinds)) not in _PLAIN_DTYPES):
        return None
    return pl.Series(name, values, dtype=_PLAIN_DTYPES[next(iter(kinds))] if kinds else pl.Null())


def _insert_frame(
    session: Session, table: sa.Table, df: pl.DataFrame, columns: Sequence[str], constants: Mapping[str, Any]
) -> bool:
    """Insert the rows of ``df`` (its ``columns`` plus ``constants``) by one ``executemany`` whose parameter rows
    polars makes (``DataFrame.rows``), each value through its column type's bind processor as ``write_columns``
    does; ``False`` (nothing written) when a bound value is not plain text or a number (the caller then uses
    ``write_columns``)."""
    dialect = session.get_bind().dialect
    names = [*columns, *constants]
    compiled = _write_statement(dialect.name, table, None, None, None).compile(dialect=dialect, column_keys=names)
    binds = list(compiled.positiontup or ()) if compiled.positional else list(compiled.bind_names.values())
    if sorted(binds) != sorted(names):
        raise RuntimeError(f"{table.name}: statement binds {binds}, rows give {names}")
    plain = keyring_for(session) is None  # encrypted columns then keep their values as they are
    bound: list[pl.Series] = []
    for name in binds:
        kind = table.c[name].type
        processor = (
            None if plain and isinstance(kind, EncryptedText) else kind.dialect_impl(dialect).bind_processor(dialect)
        )
        if name in constants:
            value = constants[name] if processor is None else processor(constants[name])
            series = _plain_series(name, [value])
            if series is None:
                return False
            bound.append(series.extend_constant(value, df.height - 1) if df.height > 1 else series)
        elif processor is None:
            bound.append(df[name])
        else:
            series = _plain_series(name, [processor(v) for v in df[name].to_list()])
            if series is None:
                return False
            bound.append(series)
    frame = pl.DataFrame(bound)
    params: list[Any] = frame.rows() if compiled.positional else frame.rows(named=True)
    session.connection().exec_driver_sql(compiled.string, params)
    return True


def _row_security(session: Session, table: sa.Table) -> bool:
    """Whether PostgreSQL's row-level security applies to the connected role on ``table`` (``COPY FROM`` is
    refused there)."""
    return bool(session.execute(sa.select(sa.func.row_security_active(table.name))).scalar_one())


def _copy_value(value: Any) -> str | None:
    """One bound value as text of ``COPY``'s text format (before escaping)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return str(value.isoformat(sep=" "))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value)
    obj = getattr(value, "obj", value)  # psycopg's Json wrapper of a JSON column's value
    return json.dumps(obj)


def _copy_column(
    session: Session, table: sa.Table, df: pl.DataFrame, name: str, parsed: list[Any] | None, plain: bool
) -> pl.Series:
    """The column ``name`` as ``COPY`` text (before escaping): vectorised where its type needs no Python."""
    dialect = session.get_bind().dialect
    kind = table.c[name].type
    series = df[name] if parsed is None else None
    if series is not None and not (isinstance(kind, EncryptedText) and not plain):
        dtype = series.dtype
        if isinstance(kind, UtcDateTime) and isinstance(dtype, pl.Datetime):
            zoned = series.dt.replace_time_zone("UTC") if dtype.time_zone is None else series
            utc = zoned.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
            return utc.dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00:00")
        simple = isinstance(kind, EncryptedText) or kind.dialect_impl(dialect).bind_processor(dialect) is None
        if simple and dtype in (pl.String, pl.Null):
            return series.cast(pl.String)
        if simple and dtype == pl.Date:
            return series.dt.strftime("%Y-%m-%d")
        if simple and dtype == pl.Boolean:
            return series.cast(pl.String)  # true|false, nulls kept
        if simple and dtype.is_numeric():
            return series.cast(pl.String)
    if parsed is not None:
        rows = df[ROW_INDEX].to_list()
        values: Sequence[Any] = [parsed[i] for i in rows]
    else:
        values = df[name].to_list()
    processor = (
        None if plain and isinstance(kind, EncryptedText) else kind.dialect_impl(dialect).bind_processor(dialect)
    )
    if processor is not None:
        values = [processor(v) for v in values]
    return pl.Series(name, [_copy_value(v) for v in values], dtype=pl.String)


#: ``COPY`` text format escapes (a null is ``\N``).
_COPY_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))


def _copy(
    session: Session,
    table: sa.Table,
    df: pl.DataFrame,
    columns: Sequence[str],
    parsed: Mapping[str, list[Any]],
    constants: Mapping[str, Any],
) -> None:
    dialect = session.get_bind().dialect
    plain = keyring_for(session) is None  # encrypted columns then keep their values as they are
    frame = pl.DataFrame([_copy_column(session, table, df, name, parsed.get(name), plain) for name in columns])
    for name, value in constants.items():
        bound = _bound(session, table, {name: [value]}, [name])[0][0]
        frame = frame.with_columns(pl.lit(_copy_value(bound), dtype=pl.String).alias(name))
    escaped = []
    for name in frame.columns:
        expr = pl.col(name)
        for old, new in _COPY_ESCAPES:
            expr = expr.str.replace_all(old, new, literal=True)
        escaped.append(expr.fill_null("\\N"))
    data = frame.select(escaped).write_csv(separator="\t", quote_style="never", include_header=False)
    quote = dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in frame.columns)}) FROM STDIN"
    driver = session.connection().connection.driver_connection
    if driver is None:  # pragma: no cover - a live connection always has one
        raise RuntimeError("no driver connection to COPY through")
    dbapi_error = dialect.loaded_dbapi.Error
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            copy.write(data.encode())
    except dbapi_error as exc:  # raised as SQLAlchemy would for an INSERT (IntegrityError, DataError, ...)
        raise sa.exc.DBAPIError.instance(sql, None, exc, dbapi_error, dialect=dialect) from exc


#: The tables a load writes whose rows reference a customer or a source row.
LOAD_CHILDREN: tuple[str, ...] = ("contact_point", "address", "field_provenance", "crosswalk", "activity", "quarantine")


@contextmanager
def foreign_keys_checked_once(session: Session, tables: Iterable[str] = LOAD_CHILDREN) -> Iterator[None]:
    """On PostgreSQL, check the foreign keys of those ``tables`` (names) that hold no row yet once, after the
    block, instead of once per row written in it: their constraints are dropped for the block and added back after
    it (PostgreSQL's own advice for populating a database: adding a constraint checks every row in one join, where
    each row written fires a trigger that looks its parent up). A first load of 100k source rows writes the store in
    8.0 s instead of 13.8 (``benchmarks/load.py``); a re-load (tables not empty) is unchanged.

    Elsewhere, where row-level security applies (``INSERT`` then, not ``COPY``), or where the connected role may
    not alter a table (it keeps its constraints: the block runs as without this), nothing changes. The constraints
    come back with their stored definitions (``pg_get_constraintdef``); a row of the block that breaks one fails
    the adding, so the caller's transaction fails as it would have at that row. Dropping a foreign key locks its
    table and the table it references until the caller's transaction ends, so it is done only where both are
    empty (a first load: nothing there to read yet); a table whose parent holds rows keeps its keys.
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    dropped: list[tuple[str, str, str]] = []
    for table in (Base.metadata.tables[name] for name in tables):
        found = _droppable_foreign_keys(session, table)
        try:
            with session.begin_nested():
                for name, _ in found:
                    session.execute(
                        sa.text(f"ALTER TABLE {_quoted(session, table.name)} DROP CONSTRAINT {_quoted(session, name)}")
                    )
        except sa.exc.DBAPIError as exc:  # e.g. not the table's owner: keep its constraints
            logger.debug("%s keeps its foreign keys during the load: %s", table.name, exc.orig)
            continue
        dropped += [(table.name, name, definition) for name, definition in found]
    yield
    for table_name, name, definition in dropped:
        session.execute(
            sa.text(f"ALTER TABLE {_quoted(session, table_name)} ADD CONSTRAINT {_quoted(session, name)} {definition}")
        )


def _droppable_foreign_keys(session: Session, table: sa.Table) -> list[tuple[str, str]]:
    """(name, definition) of the foreign keys of ``table`` that :func:`foreign_keys_checked_once` may drop: none
    when row-level security applies or when the table or a table it references holds rows."""
    if _row_security(session, table) or _has_rows(session, table):
        return []
    found = session.execute(
        sa.text(
            "select conname, pg_get_constraintdef(oid), cast(cast(confrelid as regclass) as text)"
            " from pg_constraint where conrelid = cast(:name as regclass) and contype = 'f' order by conname"
        ),
        {"name": table.name},
    ).all()
    if any(session.execute(sa.text(f"select 1 from {parent} limit 1")).first() for _, _, parent in found):
        return []
    return [(name, definition) for name, definition, _ in found]


def _quoted(session: Session, name: str) -> str:
    return str(session.get_bind().dialect.identifier_preparer.quote(name))


def _values(
    df: pl.DataFrame,
    columns: Sequence[str],
    parsed: Mapping[str, list[Any]] | None = None,
    constants: Mapping[str, Any] | None = None,
) -> dict[str, Sequence[Any]]:
    """The ``columns`` of ``df`` as Python lists (JSON columns from ``parsed``, by ``_row``), plus ``constants``."""
    rows = df[ROW_INDEX].to_list() if parsed else []
    values: dict[str, Sequence[Any]] = {}
    for c in columns:
        if parsed and c in parsed:
            source = parsed[c]
            values[c] = [source[i] for i in rows]
        else:
            values[c] = df[c].to_list()
    for c, value in (constants or {}).items():
        values[c] = _Repeated(value, df.height)
    return values


def _delete_keys(session: Session, table: sa.Table, key_cols: Sequence[str], keys: Sequence[tuple[Any, ...]]) -> None:
    if not keys:
        return
    stmt = sa.delete(table).where(*(table.c[k] == sa.bindparam(f"key_{k}") for k in key_cols))
    session.execute(stmt, [{f"key_{k}": v for k, v in zip(key_cols, key, strict=True)} for key in keys])


@dataclass(frozen=True, slots=True)
class _Target:
    """How one writer writes its table: keys, compared columns, written columns and the upsert's extras."""

    table: sa.Table
    key_cols: tuple[str, ...]
    compare: tuple[str, ...]
    columns: tuple[str, ...]
    update_cols: tuple[str, ...]
    constants: Mapping[str, Any] | None = None
    extra_set: Mapping[str, Any] | None = None
    conflict: tuple[str, ...] | None = None


def _write_batch(
    session: Session,
    target: _Target,
    batch: pl.DataFrame,
    stored: pl.DataFrame,
    prepare: Callable[[pl.DataFrame, bool], tuple[pl.DataFrame, dict[str, list[Any]]]] | None,
) -> UpsertCounts:
    """Write one batch against the ``stored`` rows of its keys: new rows inserted, changed rows upserted,
    unchanged rows left alone.

    ``prepare(batch, compared)`` parses a batch's JSON columns: their Python values to write (by ``_row``) and,
    when ``compared``, their canonical text to compare.
    """
    found = not stored.is_empty()
    if found:
        batch = _with_stored(batch, stored, target.key_cols)
    parsed: dict[str, list[Any]] = {}
    if prepare is not None:
        batch, parsed = prepare(batch, found)
    new, changed, unchanged = _split(batch, target.compare, found)
    write_rows(session, target.table, new, target.columns, parsed=parsed, constants=target.constants)
    if changed.height:
        write_columns(
            session,
            target.table,
            _values(changed, target.columns, parsed, target.constants),
            target.update_cols,
            extra_set=target.extra_set,
            conflict=target.conflict,
        )
    return UpsertCounts(inserted=new.height, updated=changed.height, unchanged=unchanged)


def _upsert(
    session: Session,
    target: _Target,
    df: pl.DataFrame,
    schema: Mapping[str, pl.DataType],
    *,
    prepare: Callable[[pl.DataFrame, bool], tuple[pl.DataFrame, dict[str, list[Any]]]] | None = None,
    before: Callable[[pl.DataFrame], None] | None = None,
    batch_size: int,
    progress: Progress | None,
) -> UpsertCounts:
    """Write ``df`` batch by batch in key order: look up the stored rows of the batch's keys (none when
    the table was empty), then ``_write_batch``; ``before(batch)`` runs first; ``progress`` is told after each
    batch. ``schema``: dtypes of the key and compared columns (``_compared`` names)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    counts = UpsertCounts()
    order = _key_order(df, target.key_cols)
    stored_any = df.height > 0 and _has_rows(session, target.table)
    empty = _empty_stored(target.key_cols, target.compare, schema)
    for start in range(0, df.height, batch_size):
        batch = df[order.slice(start, batch_size)]
        if before is not None:
            before(batch)
        stored = (
            _lookup(session, target.table, target.key_cols, target.compare, batch.select(target.key_cols), schema)
            if stored_any
            else empty
        )
        counts += _write_batch(session, target, batch, stored, prepare)
        if progress is not None:
            progress(batch.height)
    return counts


def _key_order(df: pl.DataFrame, key_cols: Sequence[str]) -> pl.Series:
    """The positions of ``df``'s rows in key order: a writer takes its batches in that order (each batch a copy of
    its rows, the input never copied whole)."""
    return df.select(pl.arg_sort_by(list(key_cols))).to_series() if df.height else pl.Series([], dtype=pl.UInt32)


def _empty_stored(key_cols: Sequence[str], cols: Sequence[str], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    names = {k: schema[k] for k in key_cols} | {_compared(c) + _STORED: schema[_compared(c)] for c in cols}
    return pl.DataFrame(schema=names)


def _parse_json(columns: Sequence[str]) -> Callable[[pl.DataFrame, bool], tuple[pl.DataFrame, dict[str, list[Any]]]]:
    """A ``prepare`` for :func:`_upsert` that parses the JSON ``columns`` of a batch once."""

    def prepare(batch: pl.DataFrame, compared: bool) -> tuple[pl.DataFrame, dict[str, list[Any]]]:
        parsed = {c: json_values(batch[c]) for c in columns}
        texts = [
            pl.Series(_compared(c), [json_text(v) for v in values], dtype=pl.String)
            for c, values in parsed.items()
            if compared
        ]
        return batch.with_row_index(ROW_INDEX).with_columns(texts), parsed

    return prepare


# --------------------------------------------------------------------------------------------- writers


def upsert_source_records(
    session: Session, rows: pl.DataFrame, *, batch_size: int = BATCH_ROWS, progress: Progress | None = None
) -> UpsertCounts:
    """Store raw source rows with their outcome, keyed by ``(source, source_key)``.

    A new key is inserted with ``first_run_id = run_id``; a known key is updated only when its ``row_hash``,
    ``payload``, ``status`` or ``reason`` differs (``first_run_id`` is kept), so a re-run changes nothing.

    Args:
        session: the caller's session (not committed here).
        rows: columns ``source``, ``source_key``, ``row_hash``, ``payload`` (JSON text of the raw row, or a
            struct), ``status`` (loaded|quarantined|skipped), ``run_id``; optional ``reason``.
        batch_size: input rows compared and written at a time.
        progress: told after each batch how many more input rows are handled.
    """
    table = table_of(SourceRecord)
    what = "upsert_source_records"
    df = checked_frame(rows, what, ("source", "source_key", "row_hash", "payload", "status", "run_id"), ("reason",))
    _check_unique(df, ("source", "source_key"), what)
    _check_values(df, "status", get_args(RowStatus), what)
    if df["payload"].dtype != pl.String:
        df = df.with_columns(payload=pl.Series([json_text(v) for v in df["payload"].to_list()], dtype=pl.String))
    df = df.rename({"run_id": "first_run_id"}).with_columns(pl.all().cast(pl.String))
    _check_lengths(table, df, "source_key")
    key_cols = ("source", "source_key")
    compare = ("row_hash", "payload", "status", "reason")
    target = _Target(table, key_cols, compare, tuple(df.columns), compare)
    schema = _compare_schema(df, key_cols, compare)
    counts = _upsert(session, target, df, schema, batch_size=batch_size, progress=progress)
    logger.debug("source_record: %s", counts)
    return counts


def _content_hash(customers: pl.DataFrame, attributes: Sequence[Any]) -> pl.Series:
    """The ``content_hash`` of each golden record: sha256 of its ``GOLDEN_COLUMNS`` as canonical JSON.

    Expects the frame as prepared by ``upsert_customers`` (every golden field present) and the parsed
    ``attributes`` (the last golden field) of each row.
    """
    values = customers.select(GOLDEN_COLUMNS[:-1]).rows()
    return pl.Series(
        "content_hash",
        [hashlib.sha256(canonical_json([*v, a]).encode()).hexdigest() for v, a in zip(values, attributes, strict=True)],
        dtype=pl.String,
    )


def _prepare_customers(customers: pl.DataFrame) -> pl.DataFrame:
    what = "upsert_customers"
    df = checked_frame(customers, what, ("customer_id", "kind"), GOLDEN_COLUMNS[1:])
    _check_unique(df, ("customer_id",), what)
    _check_values(df, "kind", ("person", "organisation"), what)
    birth = df["birth_date"]
    if birth.dtype == pl.String:
        try:
            birth = birth.str.to_date("%Y-%m-%d", strict=True)
        except pl.exceptions.PolarsError as exc:
            raise ValueError(f"{what}: birth_date must be an ISO date (YYYY-MM-DD): {exc}") from exc
    elif birth.dtype != pl.Date:
        birth = birth.cast(pl.Date)
    typed = ("birth_date", "last_contact_at", "attributes")
    text_cols = ["customer_id", *(c for c in GOLDEN_COLUMNS if c not in typed)]
    return df.with_columns(
        pl.col(text_cols).cast(pl.String),
        birth_date=birth,
        last_contact_at=_timestamps(df, "last_contact_at", what, key="customer_id"),
    )


def _with_stored_contacts(session: Session, df: pl.DataFrame) -> pl.DataFrame:
    """``last_contact_at`` raised to the latest stored activity of each customer (activities of earlier runs
    count, not only the frame's)."""
    act = table_of(Activity)
    stmt = (
        sa.select(act.c.customer_id, sa.func.max(act.c.occurred_at))
        .where(act.c.customer_id.is_not(None), act.c.occurred_at.is_not(None))
        .group_by(act.c.customer_id)
    )
    stored = read_frame(session, stmt, {"customer_id": pl.String(), "_stored_contact": UTC})
    if not stored.height:
        return df
    return (
        df.join(stored, on="customer_id", how="left", maintain_order="left")
        .with_columns(pl.max_horizontal("last_contact_at", "_stored_contact").alias("last_contact_at"))
        .drop("_stored_contact")
    )


def _hash_customers(batch: pl.DataFrame, compared: bool) -> tuple[pl.DataFrame, dict[str, list[Any]]]:
    parsed = {"attributes": json_values(batch["attributes"])}
    batch = batch.with_row_index(ROW_INDEX)
    return batch.with_columns(_content_hash(batch, parsed["attributes"])), parsed


def upsert_customers(
    session: Session,
    customers: pl.DataFrame,
    *,
    now: dt.datetime,
    batch_size: int = BATCH_ROWS,
    progress: Progress | None = None,
) -> UpsertCounts:
    """Write golden records; each becomes exactly the given fields.

    A new ``customer_id`` is inserted with version 1 and ``created_at = updated_at = now``; a record whose
    ``content_hash`` over ``GOLDEN_COLUMNS`` changed is updated with ``version + 1`` and ``updated_at = now``;
    an unchanged one is not touched. A golden field missing from the frame is written as null. A field with a
    ``customer_override`` is written with the override's value (``crm_store.overrides``).

    Args:
        session: the caller's session (not committed here).
        customers: columns ``customer_id``, ``kind`` (person|organisation) and any of ``GOLDEN_COLUMNS``
            (``birth_date`` as ``pl.Date`` or ISO text; ``attributes`` as JSON text, dicts or structs).
        now: the timestamp recorded as created/updated (naive means UTC).
        batch_size: input rows compared and written at a time.
        progress: told after each batch how many more input rows are handled.
    """
    table = table_of(Customer)
    df = _with_stored_contacts(session, apply_overrides(session, _prepare_customers(customers)))
    _check_lengths(table, df.drop("attributes"), "customer_id")
    key_cols, compare = ("customer_id",), ("content_hash",)
    schema = _compare_schema(df.with_columns(content_hash=pl.lit(None, pl.String)), key_cols, compare)
    target = _Target(
        table,
        key_cols,
        compare,
        ("customer_id", *GOLDEN_COLUMNS, "content_hash"),
        (*GOLDEN_COLUMNS, "content_hash", "updated_at"),
        constants={"created_at": now, "updated_at": now, "version": 1},
        extra_set={"version": table.c.version + sa.literal_column("1")},
    )
    counts = _upsert(session, target, df, schema, prepare=_hash_customers, batch_size=batch_size, progress=progress)
    logger.debug("customer: %s", counts)
    return counts


@dataclass(frozen=True, slots=True)
class _Child:
    model: type[Base]
    key: tuple[str, ...]
    values: tuple[str, ...]
    required: tuple[str, ...]


_CHILDREN: dict[str, _Child] = {
    "contact_point": _Child(
        ContactPoint, ("customer_id", "kind", "value"), ("valid", "source", "source_key"), ("valid",)
    ),
    "address": _Child(
        Address,
        ("customer_id", "source", "source_key"),
        ("province", "city", "district", "street", "admin_code", "postcode", "country", "raw"),
        (),
    ),
    "field_provenance": _Child(
        FieldProvenance, ("customer_id", "field"), ("source", "source_key", "value", "rule"), ("source", "source_key")
    ),
}


def _sync_children(
    session: Session,
    name: str,
    customer_ids: Sequence[str],
    rows: pl.DataFrame,
    batch_size: int,
    progress: Progress | None,
) -> UpsertCounts:
    child = _CHILDREN[name]
    table = table_of(child.model)
    what = f"replace_customer_details({name})"
    optional = tuple(c for c in child.values if c not in child.required)
    df = checked_frame(rows, what, (*child.key, *child.required), optional)
    _check_unique(df, child.key, what)
    if name == "contact_point":
        _check_values(df, "kind", ("phone", "email", "wechat"), what)
        df = df.with_columns(pl.col("valid").cast(pl.Boolean))
    text_cols = [c for c in (*child.key, *child.values) if c != "valid"]
    df = df.with_columns(pl.col(text_cols).cast(pl.String)).select(*child.key, *child.values)
    ids = pl.DataFrame({"customer_id": pl.Series(customer_ids, dtype=pl.String)})
    outside = df.select("customer_id").unique().join(ids, on="customer_id", how="anti").get_column("customer_id")
    if outside.len():
        raise ValueError(f"{what}: rows for customers not in customer_ids, e.g. {outside.sort().head(3).to_list()}")
    _check_lengths(table, df, "customer_id")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    schema = _compare_schema(df, child.key, child.values)
    target = _Target(table, child.key, child.values, tuple(df.columns), child.values)
    stored_any = _has_rows(session, table)
    empty = _empty_stored(child.key, child.values, schema)
    counts, deleted = UpsertCounts(), 0
    order = _key_order(df, child.key)
    for id_lo, id_hi, row_lo, row_hi in _customer_batches(ids["customer_id"], df["customer_id"][order], batch_size):
        rows = df[order.slice(row_lo, row_hi - row_lo)]
        if stored_any:
            part = ids.slice(id_lo, id_hi - id_lo)
            stored = _lookup(session, table, ("customer_id",), child.values, part, schema, extra=child.key[1:])
            stale = stored.join(rows.select(child.key), on=child.key, how="anti").select(child.key).rows()
            _delete_keys(session, table, child.key, stale)
            deleted += len(stale)
        else:
            stored = empty
        counts += _write_batch(session, target, rows, stored, None)
        if progress is not None and rows.height:
            progress(rows.height)
    return counts + UpsertCounts(deleted=deleted)


def _customer_batches(ids: pl.Series, rows: pl.Series, batch_size: int) -> Iterator[tuple[int, int, int, int]]:
    """Batches of a child table's write, cut between customers: ``(id_lo, id_hi, row_lo, row_hi)`` slices of the
    sorted distinct ``ids`` and of the ``rows``' customer ids (sorted), about ``batch_size`` rows and at most
    ``batch_size`` customers each, every customer's rows in one batch."""
    if ids.is_empty():
        return
    # where each customer's rows end in ``rows``: both are sorted alike (by code point)
    ends = rows.search_sorted(ids, side="right").to_list()
    id_lo, row_lo = 0, 0
    for i, end in enumerate(ends):
        if end - row_lo >= batch_size or i + 1 - id_lo >= batch_size or i + 1 == len(ends):
            yield id_lo, i + 1, row_lo, end
            id_lo, row_lo = i + 1, end


def replace_customer_details(
    session: Session,
    customer_ids: Iterable[str],
    contact_points: pl.DataFrame,
    addresses: pl.DataFrame,
    provenance: pl.DataFrame,
    *,
    batch_size: int = BATCH_ROWS,
    progress: Progress | None = None,
) -> dict[str, UpsertCounts]:
    """Make the contact points, addresses and field provenance of these customers equal to the given rows.

    Only differences are written: missing rows inserted, differing rows updated, rows no longer given deleted.
    Customers not in ``customer_ids`` are not touched. An empty frame (even without columns) means "no rows".
    The provenance of a field with a ``customer_override`` gets the override's value and ``rule = override``.

    Args:
        session: the caller's session (not committed here).
        customer_ids: the golden records whose details are replaced (they must exist in ``customer``).
        contact_points: ``customer_id``, ``kind`` (phone|email|wechat), ``value``, ``valid``; optional
            ``source``, ``source_key``.
        addresses: ``customer_id``, ``source``, ``source_key``; optional ``province``, ``city``, ``district``,
            ``street``, ``admin_code``, ``postcode``, ``country``, ``raw``.
        provenance: ``customer_id``, ``field``, ``source``, ``source_key``; optional ``value`` (cast to text).
        batch_size: input rows compared and written at a time.
        progress: told after each batch how many more input rows (of the three frames) are handled.

    Returns:
        Counts per table name (``contact_point``, ``address``, ``field_provenance``).
    """
    ids = sorted(set(customer_ids))
    provenance = apply_provenance_overrides(session, provenance)
    frames = {"contact_point": contact_points, "address": addresses, "field_provenance": provenance}
    counts = {name: _sync_children(session, name, ids, frame, batch_size, progress) for name, frame in frames.items()}
    logger.debug("customer details: %s", counts)
    return counts


#: A source row is in exactly one of these places once it is placed: loaded as a customer row (``crosswalk``)
#: and/or as a child row (``activity``), or ``quarantine``d. Placing a key removes it from the tables named here.
_LEAVES: dict[str, tuple[type[Base], ...]] = {
    "crosswalk": (Quarantine,),
    "activity": (Quarantine,),
    "quarantine": (Crosswalk, Activity),
}


def _place(
    session: Session,
    model: type[Base],
    df: pl.DataFrame,
    compare: tuple[str, ...],
    *,
    conflict: tuple[str, ...] | None = None,
    batch_size: int,
    progress: Progress | None,
) -> UpsertCounts:
    """Upsert ``df`` into ``model`` by ``(source, source_key)`` and remove the same keys from the other places."""
    table = table_of(model)
    key_cols = ("source", "source_key")
    _check_lengths(table, df, "source_key")
    if "run_id" in df.columns:
        df = df.rename({"run_id": "first_run_id"})
    columns = tuple(df.columns)
    json_cols = [c for c in compare if c in JSON_COLS]
    schema = _compare_schema(df, key_cols, compare)
    others = [table_of(other) for other in _LEAVES[table.name]]
    others = [other for other in others if df.height and _has_rows(session, other)]
    deleted = 0

    def leave_elsewhere(batch: pl.DataFrame) -> None:
        nonlocal deleted
        for other in others:
            elsewhere = _lookup(session, other, key_cols, (), batch.select(key_cols), schema).rows()
            _delete_keys(session, other, key_cols, elsewhere)
            deleted += len(elsewhere)

    target = _Target(table, key_cols, compare, columns, compare, conflict=conflict)
    counts = _upsert(
        session,
        target,
        df,
        schema,
        prepare=_parse_json(json_cols),
        before=leave_elsewhere,
        batch_size=batch_size,
        progress=progress,
    )
    counts += UpsertCounts(deleted=deleted)
    logger.debug("%s: %s", table.name, counts)
    return counts


def upsert_crosswalk(
    session: Session, rows: pl.DataFrame, *, batch_size: int = BATCH_ROWS, progress: Progress | None = None
) -> UpsertCounts:
    """Link loaded source rows to their golden record; the same keys leave ``quarantine``.

    Unchanged links are not rewritten; ``first_run_id`` is set on insert only.

    Args:
        session: the caller's session (not committed here).
        rows: ``source``, ``source_key``, ``customer_id``, ``run_id``; optional ``match_probability`` (float),
            ``evidence`` (JSON text, dict or struct).
        batch_size: input rows compared and written at a time.
        progress: told after each batch how many more input rows are handled.

    Returns:
        Counts; ``deleted`` is the number of keys removed from ``quarantine``.
    """
    what = "upsert_crosswalk"
    df = checked_frame(
        rows, what, ("source", "source_key", "customer_id", "run_id"), ("match_probability", "evidence")
    ).with_columns(pl.col("source", "source_key", "customer_id", "run_id").cast(pl.String))
    df = df.with_columns(pl.col("match_probability").cast(pl.Float64))
    _check_unique(df, ("source", "source_key"), what)
    compare = ("customer_id", "match_probability", "evidence")
    return _place(session, Crosswalk, df, compare, batch_size=batch_size, progress=progress)


def upsert_activities(
    session: Session, rows: pl.DataFrame, *, batch_size: int = BATCH_ROWS, progress: Progress | None = None
) -> UpsertCounts:
    """Store activities (follow-ups, orders, sign-ups) keyed by their source row; the same keys leave ``quarantine``.

    An activity row is a loaded source row, so its ``(source, source_key)`` must be in ``source_record``. A new
    key is inserted; a known key is updated only when one of its values differs, so a re-run changes nothing.

    Args:
        session: the caller's session (not committed here).
        rows: ``source``, ``source_key``, ``customer_id`` (may be null), ``kind``, ``occurred_at`` (ISO text
            ``YYYY-MM-DDTHH:MM:SS`` or ``YYYY-MM-DD``, a date or a datetime, or null; naive means UTC);
            optional ``summary`` (text), ``details`` (JSON text, dict or struct: the row's other columns).
        batch_size: input rows compared and written at a time.
        progress: told after each batch how many more input rows are handled.

    Returns:
        Counts; ``deleted`` is the number of keys removed from ``quarantine``.
    """
    what = "upsert_activities"
    df = checked_frame(
        rows,
        what,
        ("source", "source_key", "customer_id", "kind", "occurred_at"),
        ("summary", "details"),
        nullable=("customer_id", "occurred_at"),
    )
    df = df.with_columns(pl.col("source", "source_key", "customer_id", "kind", "summary").cast(pl.String))
    _check_unique(df, ("source", "source_key"), what)
    df = df.with_columns(_timestamps(df, "occurred_at", what))
    compare = ("customer_id", "kind", "occurred_at", "summary", "details")
    conflict = ("source", "source_key")
    return _place(session, Activity, df, compare, conflict=conflict, batch_size=batch_size, progress=progress)


def upsert_quarantine(
    session: Session, rows: pl.DataFrame, *, batch_size: int = BATCH_ROWS, progress: Progress | None = None
) -> UpsertCounts:
    """Record source rows that were not loaded, with reason codes; the same keys leave ``crosswalk`` and ``activity``.

    Args:
        session: the caller's session (not committed here).
        rows: ``source``, ``source_key``, ``reasons`` (list of codes, or JSON text of one), ``run_id``;
            optional ``details`` (list of ``{rule, code, column, value_masked, message}``, or JSON text).
        batch_size: input rows compared and written at a time.
        progress: told after each batch how many more input rows are handled.

    Returns:
        Counts; ``deleted`` is the number of keys removed from ``crosswalk`` and ``activity``.
    """
    what = "upsert_quarantine"
    df = checked_frame(rows, what, ("source", "source_key", "reasons", "run_id"), ("details",))
    df = df.with_columns(pl.col("source", "source_key", "run_id").cast(pl.String))
    _check_unique(df, ("source", "source_key"), what)
    if df["reasons"].null_count():
        raise ValueError(f"{what}: every row needs reasons (a list of codes)")
    return _place(session, Quarantine, df, ("reasons", "details"), batch_size=batch_size, progress=progress)


@dataclass(frozen=True, slots=True)
class Retirements:
    """What :func:`retire_customers` did: customers retired, brought back, and marked as split off."""

    retired: int = 0
    revived: int = 0
    split: int = 0


def retire_customers(session: Session, lineage: pl.DataFrame, *, now: dt.datetime) -> Retirements:
    """Retire the customers no source row belongs to any more, and bring back retired ones that have rows again.

    Run after the crosswalk and quarantine are written. A retired customer keeps its record (its id still
    resolves; exports and ``trace`` show it) with ``retired_at`` and ``merged_into`` (the customer that took
    most of its rows, if any); ``split_from`` is set once on a customer split off an earlier one.

    Args:
        session: the caller's session (not committed here).
        lineage: ``customer_id``, ``merged_into``, ``split_from`` (see ``rules.survive.id_lineage``).
        now: the retirement time (naive means UTC).
    """
    cust, cw = table_of(Customer), table_of(Crosswalk)
    has_rows = sa.exists().where(cw.c.customer_id == cust.c.customer_id)
    orphans = (
        session.execute(sa.select(cust.c.customer_id).where(cust.c.retired_at.is_(None), ~has_rows)).scalars().all()
    )
    merged = dict(lineage.select("customer_id", "merged_into").drop_nulls().iter_rows())
    if orphans:
        stmt = (
            sa.update(cust)
            .where(cust.c.customer_id == sa.bindparam("cid"))
            .values(retired_at=sa.bindparam("at", type_=cust.c.retired_at.type), merged_into=sa.bindparam("into"))
        )
        session.execute(stmt, [{"cid": c, "at": now, "into": merged.get(c)} for c in orphans])
    revive = (
        sa.update(cust)
        .where(cust.c.retired_at.is_not(None), has_rows)
        .values(retired_at=None, merged_into=None)
        .execution_options(synchronize_session=False)
    )
    revived = cast(sa.CursorResult[Any], session.execute(revive)).rowcount
    split = lineage.select("customer_id", "split_from").drop_nulls()
    if split.height:
        stmt = (
            sa.update(cust)
            .where(cust.c.customer_id == sa.bindparam("cid"), cust.c.split_from.is_(None))
            .values(split_from=sa.bindparam("origin"))
        )
        session.execute(stmt, [{"cid": c, "origin": o} for c, o in split.iter_rows()])
    done = Retirements(retired=len(orphans), revived=revived or 0, split=split.height)
    logger.debug("customer lifecycle: %s", done)
    return done
