"""Who may see what: the one place that scopes every read of the store by role, the users and their teams, and the
PostgreSQL settings that row-level security reads.

**Roles** (``app_user.role``):

- ``sales``: the customers they own (``customer.owner`` is their name), with everything of them (source rows,
  provenance, activities);
- ``manager``: the customers owned by the users of their team, and their own;
- ``service``: every customer, but only the contact fields (:data:`SERVICE_FIELDS`), contact points, addresses and
  activities (the service records); no raw source rows, crosswalk, quarantine or merge evidence;
- ``auditor``: everything, read-only, personal data masked (:func:`shape`, with the principal's masker:
  ``rules.mask.mask_value`` when ``pipelines`` builds it; a full ``***`` redaction otherwise);
- ``admin``: everything (what a reader without a principal sees: the process owner).

**Teams** are derived, never stored on a customer: a customer's team is the team of the user its owner names. So a
salesperson who moves team takes their customers along, ``crmkit owners transfer`` moves the team with the owner,
and no customer row has to be rewritten to reorganise (as Salesforce's role hierarchy decides visibility from the
record owner). A customer whose owner is no user (or is empty) is seen by ``service``, ``auditor`` and ``admin`` only.

**One decision, two enforcements.** :func:`row_filter` turns a :class:`Principal` into a SQLAlchemy condition for
each table that holds a customer's data (:data:`PROTECTED_TABLES`), :func:`shape` masks or hides columns of what was
read; every reader of ``crm_store`` that takes ``principal=`` applies both. On PostgreSQL migration 0009 adds
row-level security with the same rules (``FORCE ROW LEVEL SECURITY``, policies reading ``crmkit.user``,
``crmkit.role`` and ``crmkit.team``); :func:`set_principal` sets them with ``set_config(…, true)`` (``SET LOCAL``)
in the reader's transaction, :func:`bind_principal` at the start of every transaction of a session. Connected as a
role that does not own the tables (:func:`grant_database_role`), a query that forgets the Python filter still sees
only the principal's rows. Column masking is done here only (PostgreSQL policies filter rows, not columns).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast, get_args

import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store.audit import append_event
from crm_store.errors import StoreError
from crm_store.models import Activity, AppUser, AuditEvent, AuditHead, Base, Crosswalk, Customer

__all__ = [
    "PROTECTED_TABLES",
    "ROLES",
    "SERVICE_FIELDS",
    "SETTINGS",
    "AccessDeniedError",
    "Masker",
    "Principal",
    "Role",
    "UnknownUserError",
    "UserChange",
    "add_user",
    "bind_principal",
    "grant_database_role",
    "load_principal",
    "may_review",
    "read_users",
    "redact",
    "remove_user",
    "require_admin",
    "row_filter",
    "scoped",
    "set_principal",
    "shape",
    "shape_records",
    "visible_customer_ids",
]

logger = logging.getLogger(__name__)

Role = Literal["sales", "manager", "service", "auditor", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
#: Roles that see every customer (``service`` their contact fields only, ``auditor`` masked).
ALL_CUSTOMERS: Final = frozenset({"admin", "auditor", "service"})
#: Roles that see customers by owner.
BY_OWNER: Final = frozenset({"sales", "manager"})
#: The PostgreSQL settings row-level security reads (set per transaction by :func:`set_principal`).
SETTINGS: Final = ("crmkit.user", "crmkit.role", "crmkit.team")
#: Tables that hold a customer's data: filtered by :func:`row_filter`, and by row-level security on PostgreSQL.
PROTECTED_TABLES: Final = (
    "customer",
    "contact_point",
    "address",
    "customer_override",
    "field_provenance",
    "merge_event",
    "activity",
    "crosswalk",
    "source_record",
    "quarantine",
)
#: The golden fields ``service`` sees (columns of ``customer``, and the ``field_provenance`` rows of them); the
#: bookkeeping columns (id, kind, version, times, retirement) are shown too.
SERVICE_FIELDS: Final = (
    "full_name",
    "family_name",
    "given_name",
    "name_pinyin",
    "primary_phone",
    "landline",
    "primary_email",
    "company",
    "job_title",
    "province",
    "city",
    "district",
    "owner",
    "status",
    "last_contact_at",
)
#: Columns of ``customer`` that ``service`` reads as null.
SERVICE_HIDDEN: Final = frozenset({"gender", "birth_date", "segment", "attributes", "content_hash"})
#: Kind of a value nothing says more about (a raw cell of an unmapped column, a JSON leaf, an activity's summary):
#: masked like an identifier (its first two characters kept).
GENERIC: Final = "id_number"
#: How each personal column is masked for ``auditor``: the canonical field its masker takes (``rules.mask``'s
#: names; ``None``: free text). ``company`` is masked as a name (a person's name in the company field is common).
MASK_KINDS: Final[dict[str, dict[str, str | None]]] = {
    "customer": {
        "full_name": "full_name",
        "family_name": "full_name",
        "given_name": "full_name",
        "name_pinyin": "full_name",
        "primary_phone": "phone",
        "landline": "phone",
        "primary_email": "email",
        "company": "full_name",
    },
    "address": {"street": "address", "raw": "address"},
    "activity": {"summary": GENERIC},
}
#: Canonical field → the kind its masker takes, where they differ.
_FIELD_KINDS: Final = {"landline": "phone", "name_pinyin": "full_name", "street": "address", "company": "full_name"}
#: Canonical fields that are free text.
_FREE_TEXT: Final = frozenset({"notes", "summary"})
#: The kinds a masker hides (any other canonical field is not personal data).
_PII_KINDS: Final = frozenset({"full_name", "phone", "email", "address", "id_number", "wechat"})

#: ``(kind, value) -> masked value``: ``kind`` is a canonical field name (``phone``, ``email``, ``full_name``,
#: ``address``, ``id_number``, ``wechat``; another field: not personal, returned as is) or ``None`` (free text).
Masker = Callable[[str | None, str], str | None]


def redact(kind: str | None, value: str) -> str:
    """The masker of a principal that was given none: every value handed to it becomes ``***`` (fail closed)."""
    return "***"


class UnknownUserError(StoreError, LookupError):
    """No ``app_user`` has the name given (the message lists the known ones)."""


class AccessDeniedError(StoreError, PermissionError):
    """The principal's role may not do this (an auditor writing, a salesperson reading the review queue)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who reads: a user, their role and team, and for ``auditor`` how personal values are masked.

    Attributes:
        user: the user's name (the ``customer.owner`` value of their customers).
        role: ``sales``, ``manager``, ``service``, ``auditor`` or ``admin``.
        team: the user's team (a manager sees the customers of the users of this team).
        mask: the masker of personal values (``auditor``); None: :func:`redact` (everything ``***``).
        payload_fields: per source, the canonical field each raw column is mapped to (the project's mapping), so an
            auditor sees a raw phone cell as ``138****8000``; an unmapped column is masked as an identifier.
    """

    user: str
    role: Role
    team: str | None = None
    mask: Masker | None = field(default=None, compare=False, repr=False)
    payload_fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_user(self.user, self.role, self.team)

    @property
    def read_only(self) -> bool:
        """Whether the principal may change nothing in the store (every role but ``admin``)."""
        return self.role != "admin"

    @property
    def masks_pii(self) -> bool:
        """Whether personal values reach this principal masked (``auditor``)."""
        return self.role == "auditor"

    @property
    def sees_source_rows(self) -> bool:
        """Whether raw source rows, the crosswalk and the quarantine can reach this principal at all."""
        return self.role != "service"

    def settings(self) -> dict[str, str]:
        """The PostgreSQL settings of this principal (``crmkit.user``, ``crmkit.role``, ``crmkit.team``)."""
        return dict(zip(SETTINGS, (self.user, self.role, self.team or ""), strict=True))


def _check_user(name: str, role: str, team: str | None) -> None:
    if not isinstance(name, str) or not name.strip() or name != name.strip() or len(name) > 128:
        raise ValueError("a user's name must be 1 to 128 characters, without leading or trailing spaces")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if team is not None and (not team.strip() or team != team.strip() or len(team) > 128):
        raise ValueError("a team must be 1 to 128 characters, without leading or trailing spaces")
    if role == "manager" and team is None:
        raise ValueError("a manager needs a team (the customers of its users are the manager's)")


def _table(model: type[Base]) -> sa.Table:
    return cast(sa.Table, model.__table__)


@functools.cache
def _alias(model: type[Base], name: str) -> sa.Alias:
    """A named alias of a model's table, made once (building its column collection costs more than the query)."""
    alias = _table(model).alias(name)
    assert isinstance(alias, sa.Alias)  # what Table.alias makes (typed as its base, NamedFromClause)
    return alias


# ------------------------------------------------------------------------------------------------ rows


def _customer_condition(principal: Principal, customer: sa.FromClause) -> sa.ColumnElement[bool] | None:
    """The customers of ``customer`` (the table or an alias) the principal sees; None: every one."""
    if principal.role in ALL_CUSTOMERS:
        return None
    own = customer.c.owner == principal.user
    if principal.role == "sales" or principal.team is None:
        return own
    users = _alias(AppUser, "crmkit_team")
    team = sa.select(users.c.name).where(users.c.team == principal.team)
    return sa.or_(own, customer.c.owner.in_(team))


def visible_customer_ids(principal: Principal | None) -> sa.Select[Any] | None:
    """``SELECT customer_id`` of the customers the principal sees (retired ones too); None: every customer."""
    if principal is None:
        return None
    customer = _alias(Customer, "crmkit_visible")
    condition = _customer_condition(principal, customer)
    return None if condition is None else sa.select(customer.c.customer_id).where(condition)


def _source_row_visible(
    principal: Principal, source: sa.ColumnElement[Any], source_key: sa.ColumnElement[Any]
) -> sa.ColumnElement[bool] | None:
    """A source row is a salesperson's when it is a member (crosswalk) or an activity of a customer they see."""
    if principal.role in ("admin", "auditor"):
        return None
    if principal.role == "service":
        return sa.false()
    ids = visible_customer_ids(principal)
    assert ids is not None
    crosswalk, activity = _alias(Crosswalk, "crmkit_cw"), _alias(Activity, "crmkit_act")
    return sa.or_(
        sa.exists().where(
            crosswalk.c.source == source, crosswalk.c.source_key == source_key, crosswalk.c.customer_id.in_(ids)
        ),
        sa.exists().where(
            activity.c.source == source, activity.c.source_key == source_key, activity.c.customer_id.in_(ids)
        ),
    )


def row_filter(principal: Principal | None, table: sa.FromClause) -> sa.ColumnElement[bool] | None:
    """The rows of ``table`` (one of :data:`PROTECTED_TABLES`, or an alias of it) the principal sees, as a condition
    to add to a query's ``WHERE``; None when it sees every row (no principal, ``admin``).

    Raises:
        ValueError: ``table`` is not a table of a customer's data (a reader asked about the wrong table).
    """
    if principal is None or principal.role == "admin":
        return None
    source = table.element if isinstance(table, sa.Alias) else table
    assert isinstance(source, sa.TableClause), "row_filter reads a table or an alias of one"
    name = source.name
    role = principal.role
    if name not in PROTECTED_TABLES:
        raise ValueError(f"row_filter: {name} is not a table of a customer's data ({', '.join(PROTECTED_TABLES)})")
    if name == "customer":
        return _customer_condition(principal, table)
    if name in ("source_record", "quarantine"):
        return _source_row_visible(principal, table.c.source, table.c.source_key)
    if name in ("crosswalk", "merge_event") and role == "service":
        return sa.false()
    if role in BY_OWNER:
        ids = visible_customer_ids(principal)
        assert ids is not None
        return table.c.customer_id.in_(ids)
    if name == "field_provenance" and role == "service":
        return table.c.field.in_(SERVICE_FIELDS)
    return None  # auditor and service see every row of the other tables


def scoped(
    session: Session, principal: Principal | None, stmt: sa.Select[Any], *tables: sa.FromClause
) -> sa.Select[Any]:
    """``stmt`` with the :func:`row_filter` of each of ``tables`` added, the principal's PostgreSQL settings set in
    the session's transaction first (:func:`set_principal`): what every reader does with its ``principal``."""
    if principal is None:
        return stmt
    set_principal(session, principal)
    for table in tables:
        condition = row_filter(principal, table)
        if condition is not None:
            stmt = stmt.where(condition)
    return stmt


def may_review(principal: Principal | None) -> bool:
    """Whether the principal may work the steward's review queue (pairs of raw rows of any customers) and change
    the store (decide, merge, unmerge): the store's owner (no principal) and ``admin``."""
    return principal is None or principal.role == "admin"


def require_admin(principal: Principal | None, what: str) -> None:
    """Refuse ``what`` (a write, the review queue) to every principal but ``admin``.

    Raises:
        AccessDeniedError: naming the user, their role and what was refused.
    """
    if not may_review(principal):
        assert principal is not None
        raise AccessDeniedError(f"{principal.user} ({principal.role}) may not {what}: only an admin may")


# ------------------------------------------------------------------------------------------------ columns


def _masked_json(text: Any, mask: Callable[[str], str | None]) -> Any:
    """JSON text with every string leaf masked (keys and numbers kept); text that is not JSON masked whole."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return mask(str(text))

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return mask(node)
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return json.dumps(walk(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _field_kind(name: str | None) -> str | Literal[False] | None:
    """How a canonical or store field's value is masked: a kind, ``None`` (free text) or ``False`` (not personal).
    An unknown column (``None``: a raw column no mapping names), ``attributes`` and ``birth_date`` are masked like an
    identifier."""
    if name is None or name in ("attributes", "birth_date"):
        return GENERIC
    if name in _FREE_TEXT:
        return None
    kind = MASK_KINDS["customer"].get(name, _FIELD_KINDS.get(name, name))
    return kind if kind in _PII_KINDS else False


class _Cached:
    """The principal's masker with a cache per kind (masking runs once per distinct value)."""

    def __init__(self, masker: Masker) -> None:
        self.masker = masker
        self.cache: dict[tuple[str | None, str], str | None] = {}

    def __call__(self, kind: str | None, value: Any) -> Any:
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        key = (kind, text)
        if key not in self.cache:
            self.cache[key] = self.masker(kind, text)
        return self.cache[key]


def _replace(frame: pl.DataFrame, name: str, values: list[Any]) -> pl.DataFrame:
    return frame.with_columns(pl.Series(name, values, dtype=pl.String))


def _mask_payloads(frame: pl.DataFrame, principal: Principal, mask: _Cached) -> pl.DataFrame:
    fields = principal.payload_fields
    sources = frame["source"].to_list() if "source" in frame.columns else [None] * frame.height
    out = []
    for source, text in zip(sources, frame["payload"].to_list(), strict=True):
        mapped = fields.get(source, {}) if source is not None else {}
        try:
            row = json.loads(text) if text else None
        except ValueError:
            row = None
        if not isinstance(row, dict):
            out.append(None if text is None else mask(GENERIC, text))
            continue
        masked = {}
        for column, value in row.items():
            kind = _field_kind(mapped.get(column))
            if value is None or kind is False:
                masked[column] = value
            elif isinstance(value, str):
                masked[column] = mask(kind, value)
            else:
                masked[column] = mask(kind, json.dumps(value, ensure_ascii=False))
        out.append(json.dumps(masked, ensure_ascii=False))
    return _replace(frame, "payload", out)


def _mask_auditor(principal: Principal, table: str, frame: pl.DataFrame) -> pl.DataFrame:
    mask = _Cached(principal.mask or redact)
    for name, kind in MASK_KINDS.get(table, {}).items():
        if name in frame.columns and frame[name].dtype == pl.String:
            frame = _replace(frame, name, [mask(kind, v) for v in frame[name].to_list()])
    if table == "customer":
        if "birth_date" in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=frame.schema["birth_date"]).alias("birth_date"))
        if "attributes" in frame.columns:
            frame = _replace(
                frame, "attributes", [_masked_json(v, lambda s: mask(GENERIC, s)) for v in frame["attributes"]]
            )
    if table == "contact_point" and {"kind", "value"} <= set(frame.columns):
        values = [mask(k, v) for k, v in zip(frame["kind"].to_list(), frame["value"].to_list(), strict=True)]
        frame = _replace(frame, "value", values)
    if table == "field_provenance" and {"field", "value"} <= set(frame.columns):
        values = []
        for name, value in zip(frame["field"].to_list(), frame["value"].to_list(), strict=True):
            field_kind = _field_kind(name)
            values.append(value if field_kind is False else mask(field_kind, value))
        frame = _replace(frame, "value", values)
    if table == "activity" and "details" in frame.columns:
        frame = _replace(frame, "details", [_masked_json(v, lambda s: mask(GENERIC, s)) for v in frame["details"]])
    if table in ("source_record", "quarantine") and "payload" in frame.columns:
        frame = _mask_payloads(frame, principal, mask)
    if "details" in frame.columns and table == "quarantine":
        frame = _replace(frame, "details", [_masked_json(v, lambda s: mask(None, s)) for v in frame["details"]])
    return frame


def shape(principal: Principal | None, table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (read from ``table``, its columns named as the table's) as the principal may see it: ``service``
    reads the columns of :data:`SERVICE_HIDDEN` as null; ``auditor`` reads names, phones, e-mails, companies, streets,
    raw cells and free text masked by the principal's masker, and no birth date; the other roles read it unchanged.

    ``table`` ``source_record`` masks a ``payload`` column (JSON text of a raw row) cell by cell, by the canonical
    field the row's ``source`` maps the cell's column to.
    """
    if principal is None or principal.role in ("admin", "sales", "manager"):
        return frame
    if principal.role == "service":
        if table != "customer":
            return frame
        hidden = [c for c in frame.columns if c in SERVICE_HIDDEN]
        return frame.with_columns(pl.lit(None, dtype=frame.schema[c]).alias(c) for c in hidden)
    return _mask_auditor(principal, table, frame)


def shape_records(principal: Principal | None, table: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`shape` for rows read as dicts (a data-subject export): JSON values (dicts, lists) are shaped as JSON
    text and given back parsed."""
    if principal is None or principal.role in ("admin", "sales", "manager") or not records:
        return records
    nested = {k for record in records for k, v in record.items() if isinstance(v, dict | list)}
    rows = [
        {k: json.dumps(v, ensure_ascii=False) if k in nested and v is not None else v for k, v in record.items()}
        for record in records
    ]
    out = shape(principal, table, pl.DataFrame(rows, infer_schema_length=None)).to_dicts()
    for record in out:
        for name in nested:
            if isinstance(record.get(name), str):
                with contextlib.suppress(ValueError):  # a value masked whole is no JSON any more: it stays text
                    record[name] = json.loads(record[name])
    return out


# ------------------------------------------------------------------------------------------------ PostgreSQL


def _apply(connection: sa.Connection, principal: Principal | None) -> None:
    if connection.dialect.name != "postgresql":
        return
    values = principal.settings() if principal is not None else dict.fromkeys(SETTINGS, "")
    params = {f"v{i}": value for i, value in enumerate(values.values())}
    calls = [sa.func.set_config(name, sa.bindparam(f"v{i}"), True) for i, name in enumerate(values)]
    connection.execute(sa.select(*calls), params)


def set_principal(session: Session, principal: Principal | None) -> None:
    """On PostgreSQL, set the principal's settings for the rest of the session's transaction (``SET LOCAL``, through
    ``set_config(…, true)``), which row-level security reads; nothing elsewhere, and nothing for no principal."""
    if principal is not None:
        _apply(session.connection(), principal)


def bind_principal(session: Session, principal: Principal | None) -> Session:
    """Make every transaction of ``session`` start with the principal's settings (PostgreSQL), so that raw SQL on
    the session is filtered by row-level security too; returns the session. No principal: the settings are emptied
    (a connection that does not own the tables then sees nothing)."""

    def started(_session: Session, _transaction: Any, connection: sa.Connection) -> None:
        _apply(connection, principal)

    sa.event.listen(session, "after_begin", started)
    return session


def grant_database_role(engine: sa.Engine, role: str, *, write: bool = False) -> list[str]:
    """Let the PostgreSQL login ``role`` use the store as the application: ``USAGE`` on the store's schema,
    ``SELECT`` on its tables, and what appending to the audit trail needs (an export records itself); with
    ``write``, ``INSERT``/``UPDATE``/``DELETE`` on every table and its sequences (row-level security still limits
    the writes of principals to ``admin``). Run as the tables' owner; returns the statements run.

    Raises:
        ValueError: not PostgreSQL; ``role`` owns the tables (or is a member of their owner's role), is a superuser
            or bypasses row-level security (the policies would not apply to it).
        LookupError: there is no such role (create it first: ``CREATE ROLE name LOGIN PASSWORD '…'``).
    """
    if engine.dialect.name != "postgresql":
        raise ValueError(f"row-level security needs PostgreSQL; this store is {engine.dialect.name}")
    with engine.begin() as conn:
        found = conn.execute(
            sa.text("SELECT rolsuper, rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = :r"), {"r": role}
        ).first()
        if found is None:
            raise LookupError(f"no database role {role!r}: create it first (CREATE ROLE {role} LOGIN PASSWORD '…')")
        if found[0] or found[1]:
            raise ValueError(
                f"the database role {role!r} is a superuser or has BYPASSRLS: row-level security would not apply to "
                "it; grant a plain login role"
            )
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        owns = conn.execute(
            sa.text(
                "SELECT pg_catalog.pg_has_role(:r, c.relowner, 'MEMBER') FROM pg_catalog.pg_class c "
                "WHERE c.oid = CAST(:t AS regclass)"
            ),
            {"r": role, "t": _quoted(conn, schema) + ".customer"},
        ).scalar_one()
        if owns:
            raise ValueError(
                f"the database role {role!r} owns the store's tables (or is a member of their owner's role): the app "
                "must connect as a role that does not own them"
            )
        quote = conn.dialect.identifier_preparer.quote
        present = sorted(set(sa.inspect(conn).get_table_names()) & {*Base.metadata.tables, "alembic_version"})
        tables = ", ".join(quote(t) for t in present)
        who, where = quote(role), quote(schema)
        statements = [f"GRANT USAGE ON SCHEMA {where} TO {who}", f"GRANT SELECT ON {tables} TO {who}"]
        if write:
            statements += [
                f"GRANT INSERT, UPDATE, DELETE ON {tables} TO {who}",
                f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {where} TO {who}",
            ]
        else:
            events, head = quote(_table(AuditEvent).name), quote(_table(AuditHead).name)
            statements += [
                f"GRANT INSERT ON {events} TO {who}",
                f"GRANT INSERT, UPDATE ON {head} TO {who}",
                f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {where} TO {who}",
            ]
        for statement in statements:
            conn.exec_driver_sql(statement)
    logger.info("granted the database role %s the store (%s)", role, "read and write" if write else "read")
    return statements


def _quoted(conn: sa.Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


# ------------------------------------------------------------------------------------------------ users

_USER_SCHEMA: Final[dict[str, pl.DataType]] = {
    "name": pl.String(),
    "role": pl.String(),
    "team": pl.String(),
    "customers": pl.Int64(),
    "created_at": pl.Datetime("us", "UTC"),
    "created_by": pl.String(),
    "updated_at": pl.Datetime("us", "UTC"),
}

UserChange = Literal["added", "changed", "unchanged"]


def read_users(session: Session) -> pl.DataFrame:
    """Every user: ``name``, ``role``, ``team``, ``customers`` (current customers they own), ``created_at``,
    ``created_by``, ``updated_at``; ordered by team (none last), then name."""
    users, customer = _table(AppUser), _table(Customer)
    owned = (
        sa.select(sa.func.count())
        .where(customer.c.owner == users.c.name, customer.c.retired_at.is_(None))
        .scalar_subquery()
    )
    stmt = sa.select(
        users.c.name, users.c.role, users.c.team, owned, users.c.created_at, users.c.created_by, users.c.updated_at
    )
    rows = [tuple(row) for row in session.execute(stmt)]
    frame = pl.DataFrame(rows, schema=_USER_SCHEMA, orient="row")
    return frame.sort(["team", "name"], nulls_last=True)


def _known(session: Session) -> str:
    names = sorted(session.execute(sa.select(_table(AppUser).c.name)).scalars())
    shown = ", ".join(names[:20]) + (f" … ({len(names)} in all)" if len(names) > 20 else "")
    return shown or "none yet (crmkit users add)"


def add_user(
    session: Session,
    name: str,
    role: str,
    team: str | None = None,
    *,
    by: str,
    now: dt.datetime | None = None,
) -> UserChange:
    """Add the user ``name`` (or change their role and team) in the caller's transaction, with a ``users.add`` /
    ``users.change`` audit event; a user already so is ``unchanged`` (no event).

    Raises:
        ValueError: a name or team empty, too long or with outer spaces; an unknown role; a manager without a team.
    """
    _check_user(name, role, team)
    users = _table(AppUser)
    now = now or dt.datetime.now(dt.UTC)
    found = session.execute(sa.select(users.c.role, users.c.team).where(users.c.name == name)).first()
    if found is not None and (found[0], found[1]) == (role, team):
        return "unchanged"
    if found is None:
        session.execute(
            sa.insert(users).values(name=name, role=role, team=team, created_at=now, created_by=by, updated_at=now)
        )
        append_event(session, actor=by, action="users.add", target={"user": name}, details={"role": role, "team": team})
        logger.info("user %s added (%s)", name, role)
        return "added"
    session.execute(sa.update(users).where(users.c.name == name).values(role=role, team=team, updated_at=now))
    before, after = {"role": found[0], "team": found[1]}, {"role": role, "team": team}
    append_event(
        session, actor=by, action="users.change", target={"user": name}, details={"before": before, "after": after}
    )
    logger.info("user %s changed (%s → %s)", name, found[0], role)
    return "changed"


def remove_user(session: Session, name: str, *, by: str) -> dict[str, Any]:
    """Remove the user ``name`` in the caller's transaction, with a ``users.remove`` audit event; their customers
    keep their owner (move them with ``crmkit owners transfer``). Returns the removed user's role and team.

    Raises:
        UnknownUserError: there is no such user.
    """
    users = _table(AppUser)
    found = session.execute(sa.select(users.c.role, users.c.team).where(users.c.name == name)).first()
    if found is None:
        raise UnknownUserError(f"no user {name!r}; users: {_known(session)}")
    session.execute(sa.delete(users).where(users.c.name == name))
    details = {"role": found[0], "team": found[1]}
    append_event(session, actor=by, action="users.remove", target={"user": name}, details=details)
    logger.info("user %s removed", name)
    return details


def load_principal(
    session: Session,
    name: str,
    *,
    mask: Masker | None = None,
    payload_fields: Mapping[str, Mapping[str, str]] | None = None,
) -> Principal:
    """The :class:`Principal` of the user ``name`` as the store has them.

    Raises:
        UnknownUserError: no such user, or a store without users (older than migration 0009).
    """
    if not sa.inspect(session.connection()).has_table(_table(AppUser).name):
        raise UnknownUserError("the store has no users yet: crmkit migrate (or crmkit users add) upgrades it")
    users = _table(AppUser)
    found = session.execute(sa.select(users.c.role, users.c.team).where(users.c.name == name)).first()
    if found is None:
        raise UnknownUserError(f"no user {name!r}; users: {_known(session)}")
    return Principal(name, found[0], found[1], mask=mask, payload_fields=dict(payload_fields or {}))
