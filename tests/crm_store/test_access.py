"""Access control (``crm_store.access``): each role sees exactly its rows through every read path, on SQLite and on a
real PostgreSQL (a property over random users, owners, teams and roles), an auditor never sees a raw personal
value, and on PostgreSQL row-level security alone (raw SQL, no Python filter, as a role that does not own the
tables) shows a principal the same rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

import crm_store
from crm_store.access import (
    PROTECTED_TABLES,
    ROLES,
    SERVICE_FIELDS,
    AccessDeniedError,
    Principal,
    UnknownUserError,
    bind_principal,
    grant_database_role,
    require_admin,
    shape,
)
from crm_store.subject import SubjectQuery, export_subject, find_subject
from pipelines.export import export_frame, trace_customer
from rules.mask import mask_value

NOW = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
POOL = ("张三", "李四", "王五", "Ann", "Bob")
#: Owners a customer may have besides the users: none, and a salesperson who never became a user.
OTHER_OWNERS = (None, "离职员工")
TEAMS = ("east", "west", None)
FIELDS = ("full_name", "segment")


# ------------------------------------------------------------------------------------------------ the world


@dataclass
class World:
    """Users (name → role, team) and customers (owner, retired, with an order)."""

    users: dict[str, tuple[str, str | None]]
    customers: list[tuple[str | None, bool, bool]]
    ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ids = [f"c{i:03d}-4d2a-4000-8000-000000000000" for i in range(len(self.customers))]

    def principal(self, name: str, *, masked: bool = False) -> Principal:
        role, team = self.users[name]
        return Principal(name, role, team, mask=mask_value if masked else None)  # type: ignore[arg-type]

    def visible(self, p: Principal) -> set[str]:
        if p.role in ("admin", "auditor", "service"):
            return set(self.ids)
        team = {n for n, (_, t) in self.users.items() if p.role == "manager" and t is not None and t == p.team}
        return {cid for cid, (owner, _, _) in zip(self.ids, self.customers, strict=True) if owner in {p.user} | team}

    def expected(self, p: Principal) -> dict[str, set[Any]]:
        """What ``p`` must see, per table (keys as the tests compare them)."""
        vis = self.visible(p)
        ordered = [i for i, cid in enumerate(self.ids) if cid in vis]
        orders = [i for i in ordered if self.customers[i][2]]
        all_rows = p.role in ("admin", "auditor")
        member_rows = {("crm", f"k{i}") for i in ordered}
        order_rows = {("orders", f"o{i}") for i in orders}
        if all_rows:
            sources = member_rows | order_rows | {("crm", "bad1"), ("orders", "o-none")}
        elif p.role == "service":
            sources = set()
        else:
            sources = member_rows | order_rows
        everyone = p.role in ("admin", "auditor", "service")
        activities = {f"o{i}" for i in orders} | ({"o-none"} if everyone else set())
        return {
            "customer": vis,
            "current": {self.ids[i] for i in ordered if not self.customers[i][1]},
            "contact_point": vis,
            "address": vis,
            "customer_override": {self.ids[i] for i in ordered if i % 2 == 0},
            "field_provenance": {
                (self.ids[i], f) for i in ordered for f in FIELDS if p.role != "service" or f in SERVICE_FIELDS
            },
            "merge_event": set() if p.role == "service" else vis,
            "activity": activities,
            "crosswalk": set() if p.role == "service" else {f"k{i}" for i in ordered},
            "source_record": sources,
            "quarantine": {("crm", "bad1")} if all_rows else set(),
            "customer_rows": set()
            if p.role == "service"
            else {(self.ids[i], "crm", f"k{i}") for i in ordered} | {(self.ids[i], "orders", f"o{i}") for i in orders},
        }


def phone(i: int) -> str:
    return f"+86138001380{i:02d}"


def raw_values(world: World) -> set[str]:
    """Every personal value the world holds: what an auditor must never read."""
    out: set[str] = set()
    for i in range(len(world.customers)):
        out |= {f"客户{i}号", phone(i), f"kehu{i}@example.cn", f"利隆{i}号有限公司", f"解放路{i}号院"}
    return out


@st.composite
def worlds(draw: st.DrawFn) -> World:
    names = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=len(POOL), unique=True))
    users: dict[str, tuple[str, str | None]] = {}
    for name in names:
        role = draw(st.sampled_from(ROLES))
        team = draw(st.sampled_from(TEAMS))
        users[name] = (role, team if team is not None or role != "manager" else "east")
    owners = st.sampled_from((*POOL, *OTHER_OWNERS))
    customers = draw(st.lists(st.tuples(owners, st.booleans(), st.booleans()), min_size=1, max_size=8))
    return World(users, customers)


CLEAR_ORDER = (
    "activity",
    "crosswalk",
    "quarantine",
    "contact_point",
    "address",
    "field_provenance",
    "customer_override",
    "merge_event",
    "customer",
    "source_record",
    "app_user",
)


def store(engine: sa.Engine, world: World) -> None:
    """Replace the store's data with ``world``."""
    tables = crm_store.Base.metadata.tables
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in CLEAR_ORDER}
    for name, (role, team) in world.users.items():
        rows["app_user"].append(
            {"name": name, "role": role, "team": team, "created_at": NOW, "created_by": "t", "updated_at": NOW}
        )
    for i, ((owner, retired, ordered), cid) in enumerate(zip(world.customers, world.ids, strict=True)):
        key = f"k{i}"
        name = f"客户{i}号"
        rows["customer"].append(
            {
                "customer_id": cid,
                "kind": "person",
                "full_name": name,
                "primary_phone": phone(i),
                "primary_email": f"kehu{i}@example.cn",
                "company": f"利隆{i}号有限公司",
                "owner": owner,
                "segment": "VIP",
                "birth_date": dt.date(1990, 1, 1 + i),
                "attributes": {"备注": f"客户{i}号 说 {phone(i)}"},
                "content_hash": "0" * 64,
                "created_at": NOW,
                "updated_at": NOW,
                "version": 1,
                "retired_at": NOW if retired else None,
            }
        )
        payload = {"name": name, "mobile": phone(i), "sales": owner, "公司": f"利隆{i}号有限公司"}
        rows["source_record"].append(record("crm", key, payload, "loaded"))
        rows["crosswalk"].append({"source": "crm", "source_key": key, "customer_id": cid, "first_run_id": "r1"})
        rows["contact_point"].append(
            {"customer_id": cid, "kind": "phone", "value": phone(i), "valid": True, "source": "crm", "source_key": key}
        )
        rows["address"].append(
            {
                "customer_id": cid,
                "source": "crm",
                "source_key": key,
                "street": f"解放路{i}号院",
                "raw": f"解放路{i}号院",
            }
        )
        for f in FIELDS:
            value = name if f == "full_name" else "VIP"
            rows["field_provenance"].append(
                {"customer_id": cid, "field": f, "source": "crm", "source_key": key, "value": value, "rule": "only"}
            )
        if i % 2 == 0:
            rows["customer_override"].append(
                {"customer_id": cid, "field": "owner", "value": owner or "-", "set_by": "t", "set_at": NOW}
            )
        rows["merge_event"].append(
            {
                "run_id": "r1",
                "customer_id": cid,
                "members": [f"crm:{key}"],
                "members_hash": hashlib.sha256(cid.encode()).hexdigest(),
                "created_at": NOW,
            }
        )
        if ordered:
            rows["source_record"].append(record("orders", f"o{i}", {"buyer": name, "amount": "¥1,200"}, "loaded"))
            rows["activity"].append(order(f"o{i}", cid, f"{name} 下单"))
    rows["source_record"].append(record("crm", "bad1", {"name": "刘悦", "mobile": "13957215608"}, "quarantined"))
    rows["quarantine"].append({"source": "crm", "source_key": "bad1", "reasons": ["bad_phone"], "first_run_id": "r1"})
    rows["source_record"].append(record("orders", "o-none", {"buyer": "无名"}, "loaded"))
    rows["activity"].append(order("o-none", None, "walk-in"))
    with engine.begin() as conn:
        for name in CLEAR_ORDER:
            conn.execute(sa.delete(tables[name]))
        for name in reversed(CLEAR_ORDER):
            if rows[name]:
                conn.execute(sa.insert(tables[name]), rows[name])


def record(source: str, key: str, payload: dict[str, Any], status: str) -> dict[str, Any]:
    text = json.dumps(payload, ensure_ascii=False)
    return {
        "source": source,
        "source_key": key,
        "row_hash": hashlib.sha256(text.encode()).hexdigest(),
        "payload": text,
        "status": status,
        "first_run_id": "r1",
    }


def order(key: str, cid: str | None, summary: str) -> dict[str, Any]:
    return {
        "customer_id": cid,
        "kind": "order",
        "occurred_at": NOW,
        "summary": summary,
        "source": "orders",
        "source_key": key,
        "details": {"amount": "¥1,200"},
    }


# ------------------------------------------------------------------------------------------------ reading


def read_everything(session: Session, world: World, p: Principal) -> dict[str, set[Any]]:
    """What ``p`` reads through every read path of crm_store (and the exports and trace built on them)."""
    got: dict[str, set[Any]] = {}
    everyone = crm_store.read_customers(session, retired=True, principal=p)
    got["customer"] = set(everyone["customer_id"])
    got["current"] = set(crm_store.read_customers(session, principal=p)["customer_id"])
    got["read_customer"] = {c for c in world.ids if crm_store.read_customer(session, c, principal=p).height}
    got["find_customer_ids"] = {c for c in world.ids if crm_store.find_customer_ids(session, c[:6], principal=p) == [c]}
    got["contact_point"] = set(crm_store.read_contact_points(session, principal=p)["customer_id"])
    got["address"] = set(crm_store.read_addresses(session, principal=p)["customer_id"])
    provenance = crm_store.read_provenance(session, principal=p)
    got["field_provenance"] = set(provenance.select("customer_id", "field").iter_rows())
    got["customer_provenance"] = {
        row
        for c in world.ids
        for row in crm_store.read_customer_provenance(session, c, principal=p).select("customer_id", "field").rows()
    }
    got["merge_event"] = set(crm_store.read_merge_events(session, principal=p)["customer_id"])
    got["merge_event_of"] = set(
        crm_store.read_merge_events(session, customer_ids=world.ids, principal=p)["customer_id"]
    )
    got["activity"] = set(crm_store.read_activities(session, principal=p)["source_key"])
    got["activity_rows"] = set(crm_store.read_activity_rows(session, world.ids, principal=p)["source_key"])
    got["crosswalk"] = set(crm_store.read_crosswalk(session, principal=p)["source_key"])
    records = crm_store.read_source_records(session, ["crm", "orders"], principal=p)
    got["source_record"] = set(records.select("source", "source_key").iter_rows())
    got["outcomes"] = set(crm_store.read_outcomes(session, principal=p).select("source", "source_key").iter_rows())
    got["quarantine"] = set(crm_store.read_quarantine(session, principal=p).select("source", "source_key").iter_rows())
    got["customer_rows"] = {
        (c, *row)
        for c in world.ids
        for row in crm_store.read_customer_rows(session, c, principal=p).select("source", "source_key").rows()
    }
    got["export_customers"] = set(export_frame(session, "customers", principal=p)["customer_id"])
    got["export_provenance"] = set(
        export_frame(session, "provenance", principal=p).select("customer_id", "field").rows()
    )
    got["export_crosswalk"] = set(export_frame(session, "crosswalk", principal=p).select("source", "source_key").rows())
    got["export_quarantine"] = set(
        export_frame(session, "quarantine", principal=p).select("source", "source_key").rows()
    )
    got["trace"] = {c for c in world.ids if trace_customer(session, c, principal=p) is not None}
    # a data-subject request whose test matches every customer's mobile: finds them all, keeps what p sees
    phones = [phone(i) for i in range(len(world.ids))]
    query = SubjectQuery("phone", phones[0], "masked", lambda cells: cells.is_in(phones))
    findings = find_subject(session, query, principal=p)
    got["subject"] = set(findings.customer_ids)
    exported = export_subject(session, findings, principal=p)
    got["subject_export"] = {r["customer_id"] for r in exported["customers"]}
    got["subject_rows"] = {(r["source"], r["source_key"]) for r in exported["source_records"]}
    return got


def strings(frame: pl.DataFrame) -> set[str]:
    return {v for c in frame.columns if frame[c].dtype == pl.String for v in frame[c].drop_nulls().to_list()}


def assert_sees_exactly(session: Session, world: World, p: Principal) -> None:
    want = world.expected(p)
    got = read_everything(session, world, p)
    same = {
        "customer": ["customer", "read_customer", "find_customer_ids", "export_customers", "trace", "subject"],
        "subject_export": ["subject_export"],
        "current": ["current"],
        "contact_point": ["contact_point"],
        "address": ["address"],
        "field_provenance": ["field_provenance", "customer_provenance", "export_provenance"],
        "merge_event": ["merge_event", "merge_event_of"],
        "activity": ["activity"],
        "crosswalk": ["crosswalk"],
        "source_record": ["source_record", "outcomes", "export_crosswalk"],
        "quarantine": ["quarantine", "export_quarantine"],
        "customer_rows": ["customer_rows"],
    }
    want["subject_export"] = want["customer"]
    for table, paths in same.items():
        for path in paths:
            assert got[path] == want[table], f"{p.user} ({p.role}, team {p.team}) through {path}"
    # an activity's raw row: the activities of customers (not o-none's) whose source rows p sees
    rows_seen = {key for source, key in want["source_record"] if source == "orders"}
    assert got["activity_rows"] == (want["activity"] & rows_seen) - {"o-none"}, f"{p.user} through activity_rows"
    # the subject's source rows: every customer's rows and orders (bad1 and o-none hold no number), as p sees them
    assert got["subject_rows"] == want["source_record"] - {("crm", "bad1"), ("orders", "o-none")}


def assert_columns(session: Session, world: World, p: Principal) -> None:
    """Service reads the non-contact columns empty; an auditor never reads a raw personal value; the others read
    the values as stored."""
    customers = crm_store.read_customers(session, retired=True, principal=p)
    frames = [
        customers,
        crm_store.read_contact_points(session, principal=p),
        crm_store.read_addresses(session, principal=p),
        crm_store.read_provenance(session, principal=p),
        crm_store.read_activities(session, principal=p),
        crm_store.read_activity_rows(session, world.ids, principal=p),
        crm_store.read_source_records(session, ["crm", "orders"], principal=p),
        crm_store.read_quarantine(session, principal=p),
        *(crm_store.read_customer_rows(session, c, principal=p) for c in world.ids),
    ]
    seen = set().union(*(strings(f) for f in frames))
    raw = raw_values(world)
    if p.role == "auditor":
        leaked = {v for v in seen for r in raw if r in v}
        assert not leaked, f"an auditor read raw values: {sorted(leaked)[:5]}"
        assert customers["birth_date"].null_count() == customers.height
        assert all(v.startswith("+86 138") and "*" in v for v in customers["primary_phone"])
    elif p.role == "service":
        for column in ("segment", "birth_date", "attributes", "content_hash"):
            assert customers[column].null_count() == customers.height, column
        assert set(customers["primary_phone"]) == {phone(world.ids.index(c)) for c in customers["customer_id"]}
    elif customers.height:
        assert raw & seen, "the other roles read the stored values"
        assert set(customers["segment"]) == {"VIP"}


# ------------------------------------------------------------------------------------------------ PostgreSQL roles


@dataclass
class PgRoles:
    """Login roles made for one test in the PostgreSQL cluster, dropped after it."""

    admin: sa.Engine
    url: str
    made: list[str] = field(default_factory=list)

    def create(self, *, login: bool = True) -> str:
        name = f"crmkit_t_{uuid.uuid4().hex[:10]}"
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE ROLE "{name}" {"LOGIN" if login else "NOLOGIN"}')
        self.made.append(name)
        return name

    def engine_as(self, role: str) -> sa.Engine:
        return sa.create_engine(sa.make_url(self.url).set(username=role))

    def drop(self) -> None:
        with self.admin.begin() as conn:
            for name in self.made:
                conn.exec_driver_sql(f'REASSIGN OWNED BY "{name}" TO CURRENT_USER')
                conn.exec_driver_sql(f'DROP OWNED BY "{name}"')
                conn.exec_driver_sql(f'DROP ROLE "{name}"')


@pytest.fixture
def app_engine(engine: sa.Engine, store_url: str) -> Iterator[sa.Engine | None]:
    """On PostgreSQL: an engine connected as a login role that does not own the tables, granted the store
    (``grant_database_role``); None on SQLite."""
    if engine.dialect.name != "postgresql":
        yield None
        return
    roles = PgRoles(engine, store_url)
    try:
        role = roles.create()
        grant_database_role(engine, role)
        app = roles.engine_as(role)
        yield app
        app.dispose()
    finally:
        roles.drop()


#: A key per protected table for raw SQL: what the RLS check compares with ``World.expected``.
RAW_KEYS = {
    "customer": "customer_id",
    "contact_point": "customer_id",
    "address": "customer_id",
    "customer_override": "customer_id",
    "field_provenance": "customer_id, field",
    "merge_event": "customer_id",
    "activity": "source_key",
    "crosswalk": "source_key",
    "source_record": "source, source_key",
    "quarantine": "source, source_key",
}


def raw_rows(conn: sa.Connection, table: str) -> set[Any]:
    """Every row of ``table`` by raw SQL (no Python filter), keyed as ``RAW_KEYS`` says."""
    found = conn.exec_driver_sql(f"SELECT {RAW_KEYS[table]} FROM {table}").all()
    return {row[0] if len(row) == 1 else tuple(row) for row in found}


def assert_rls_alone(app: sa.Engine, world: World, p: Principal) -> None:
    """Connected as a role that does not own the tables, raw SQL sees what the principal may see, nothing more."""
    want = world.expected(p)
    with Session(app) as session:
        bind_principal(session, p)
        conn = session.connection()
        for table in PROTECTED_TABLES:
            assert raw_rows(conn, table) == want[table], f"RLS: {p.user} ({p.role}) on {table}"


# ------------------------------------------------------------------------------------------------ the property


@hypothesis_settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(world=worlds())
def test_each_role_sees_exactly_its_rows_through_every_read_path(
    engine: sa.Engine, app_engine: sa.Engine | None, world: World
) -> None:
    store(engine, world)
    with Session(engine) as session:
        for name in world.users:
            assert_sees_exactly(session, world, world.principal(name))
            assert_columns(session, world, world.principal(name, masked=True))
        admin = crm_store.read_customers(session, retired=True)  # no principal: the owner sees everything
        assert set(admin["customer_id"]) == set(world.ids)
    if app_engine is not None:  # PostgreSQL: the same rows again, by row-level security alone
        for name in world.users:
            assert_rls_alone(app_engine, world, world.principal(name))


# ------------------------------------------------------------------------------------------------ PostgreSQL RLS


@pytest.mark.postgres
def test_row_level_security_alone_hides_other_owners_rows(pg_url: str) -> None:
    engine = crm_store.init_store(pg_url)
    roles = PgRoles(engine, pg_url)
    world = World(
        {
            "张三": ("sales", "east"),
            "李四": ("sales", "west"),
            "王经理": ("manager", "east"),
            "审计": ("auditor", None),
        },
        [("张三", False, True), ("李四", False, True), ("张三", True, False), (None, False, False)],
    )
    try:
        store(engine, world)
        with engine.connect() as conn:
            flags = conn.exec_driver_sql(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'"
            ).all()
        protected = {name: (enabled, forced) for name, enabled, forced in flags if name in PROTECTED_TABLES}
        assert protected == dict.fromkeys(PROTECTED_TABLES, (True, True))

        app_role = roles.create()
        statements = grant_database_role(engine, app_role)
        assert any(s.startswith("GRANT SELECT ON") for s in statements)
        app = roles.engine_as(app_role)
        try:
            with app.connect() as conn:  # no principal: a role that does not own the tables sees nothing
                assert all(raw_rows(conn, t) == set() for t in PROTECTED_TABLES)
            with Session(app) as session:
                assert crm_store.read_customers(session, retired=True).height == 0
            with app.connect() as conn:  # the settings alone, by raw SQL: only 张三's customers and their rows
                conn.exec_driver_sql(
                    "SELECT set_config('crmkit.user', '张三', true), set_config('crmkit.role', 'sales', true)"
                )
                assert raw_rows(conn, "customer") == {world.ids[0], world.ids[2]}
                assert raw_rows(conn, "source_record") == {("crm", "k0"), ("crm", "k2"), ("orders", "o0")}
                assert raw_rows(conn, "quarantine") == set()
                conn.rollback()
                assert raw_rows(conn, "customer") == set()  # SET LOCAL: gone with the transaction
            for name in world.users:
                assert_rls_alone(app, world, world.principal(name))
            with Session(app) as session:  # the readers set the settings themselves in their transaction
                mine = crm_store.read_customers(session, retired=True, principal=world.principal("王经理"))
                assert set(mine["customer_id"]) == {world.ids[0], world.ids[2]}
            with app.connect() as conn:  # read-only grant: no writes at all
                conn.exec_driver_sql("SELECT set_config('crmkit.role', 'admin', true)")
                with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                    conn.exec_driver_sql("UPDATE customer SET segment = 'X'")
                conn.rollback()
        finally:
            app.dispose()

        writer = roles.create()
        grant_database_role(engine, writer, write=True)
        app = roles.engine_as(writer)
        try:
            with app.begin() as conn:  # a salesperson's writes touch no row: only admin (or the owner) writes
                conn.exec_driver_sql(
                    "SELECT set_config('crmkit.user', '张三', true), set_config('crmkit.role', 'sales', true)"
                )
                assert conn.exec_driver_sql("UPDATE customer SET segment = 'X'").rowcount == 0
            with app.begin() as conn:
                conn.exec_driver_sql(
                    "SELECT set_config('crmkit.user', 'root', true), set_config('crmkit.role', 'admin', true)"
                )
                assert conn.exec_driver_sql("UPDATE customer SET segment = 'X'").rowcount == len(world.ids)
        finally:
            app.dispose()

        # FORCE: the tables' owner (not a superuser) is held to the policies too when it names a principal
        owner = roles.create(login=False)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'ALTER TABLE customer OWNER TO "{owner}"')
            conn.exec_driver_sql(f'GRANT SELECT ON app_user TO "{owner}"')
            conn.exec_driver_sql(
                f'GRANT USAGE ON SCHEMA "{conn.exec_driver_sql("SELECT current_schema()").scalar_one()}" TO "{owner}"'
            )
        with engine.begin() as conn:
            conn.exec_driver_sql(f'SET LOCAL ROLE "{owner}"')
            assert raw_rows(conn, "customer") == set(world.ids)  # the owner, no principal: everything
            conn.exec_driver_sql(
                "SELECT set_config('crmkit.user', '李四', true), set_config('crmkit.role', 'sales', true)"
            )
            assert raw_rows(conn, "customer") == {world.ids[1]}
    finally:
        roles.drop()
        engine.dispose()


@pytest.mark.postgres
def test_grant_refuses_a_role_that_would_bypass_the_policies(pg_url: str) -> None:
    engine = crm_store.init_store(pg_url)
    try:
        current = sa.make_url(pg_url).username
        with pytest.raises(ValueError, match="superuser or has BYPASSRLS"):
            grant_database_role(engine, str(current))
        with pytest.raises(LookupError, match="no database role 'nobody_"):
            grant_database_role(engine, f"nobody_{uuid.uuid4().hex[:8]}")
    finally:
        engine.dispose()


def test_grant_needs_postgresql(tmp_path: Any) -> None:
    engine = crm_store.init_store(f"sqlite:///{tmp_path / 'crm.db'}")
    try:
        with pytest.raises(ValueError, match="needs PostgreSQL"):
            grant_database_role(engine, "app")
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_migration_removes_its_policies_when_going_back(pg_url: str) -> None:
    from alembic import command

    from crm_store.store import migrations_config

    engine = crm_store.init_store(pg_url)

    def policies() -> int:
        with engine.connect() as conn:
            return int(
                conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_policies "
                    "WHERE schemaname = current_schema() AND policyname IN ('crmkit_admin', 'crmkit_read')"
                ).scalar_one()
            )

    try:
        assert policies() == 2 * len(PROTECTED_TABLES)
        with engine.begin() as conn:
            command.downgrade(migrations_config(conn), "0008")
        assert policies() == 0
        with engine.begin() as conn:
            command.upgrade(migrations_config(conn), "head")
        assert policies() == 2 * len(PROTECTED_TABLES)
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------------ users


def test_users_are_added_changed_and_removed_with_audit_events(session: Session) -> None:
    assert crm_store.add_user(session, "张三", "sales", "east", by="admin") == "added"
    assert crm_store.add_user(session, "张三", "sales", "east", by="admin") == "unchanged"
    assert crm_store.add_user(session, "张三", "manager", "east", by="admin") == "changed"
    crm_store.add_user(session, "审计员", "auditor", by="admin")
    session.commit()
    users = crm_store.read_users(session)
    assert users.select("name", "role", "team", "customers").rows() == [
        ("张三", "manager", "east", 0),
        ("审计员", "auditor", None, 0),
    ]
    principal = crm_store.load_principal(session, "张三")
    assert (principal.role, principal.team, principal.read_only) == ("manager", "east", True)
    with pytest.raises(UnknownUserError, match=r"no user '张3'; users: 审计员, 张三"):
        crm_store.load_principal(session, "张3")
    assert crm_store.remove_user(session, "张三", by="admin") == {"role": "manager", "team": "east"}
    session.commit()
    with pytest.raises(UnknownUserError):
        crm_store.remove_user(session, "张三", by="admin")
    trail = crm_store.read_audit_trail(session)
    assert trail["action"].to_list() == ["users.add", "users.change", "users.add", "users.remove"]
    assert json.loads(trail["details"][1]) == {
        "before": {"role": "sales", "team": "east"},
        "after": {"role": "manager", "team": "east"},
    }
    assert crm_store.verify_chain(session).intact


@pytest.mark.parametrize(
    ("name", "role", "team", "message"),
    [
        ("", "sales", None, "1 to 128 characters"),
        (" 张三", "sales", None, "outer spaces|leading or trailing"),
        ("张三", "boss", None, "unknown role 'boss'; roles: sales, manager, service, auditor, admin"),
        ("张三", "manager", None, "a manager needs a team"),
        ("张三", "sales", " ", "a team must be"),
        ("x" * 129, "sales", None, "1 to 128 characters"),
    ],
)
def test_a_bad_user_is_refused_with_the_reason(name: str, role: str, team: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Principal(name, role, team)  # type: ignore[arg-type]


def test_only_an_admin_may_write_or_review() -> None:
    require_admin(None, "unmerge")
    require_admin(Principal("root", "admin"), "unmerge")
    with pytest.raises(AccessDeniedError, match=r"审计 \(auditor\) may not unmerge a customer: only an admin may"):
        require_admin(Principal("审计", "auditor"), "unmerge a customer")


def test_an_auditor_without_a_masker_reads_every_personal_value_redacted() -> None:
    frame = pl.DataFrame(
        {
            "customer_id": ["c1"],
            "full_name": ["张伟"],
            "primary_phone": ["+8613800138000"],
            "owner": ["张三"],
            "attributes": ['{"备注":"张伟","n":3}'],
        }
    )
    shaped = shape(Principal("审计", "auditor"), "customer", frame).row(0, named=True)
    assert shaped == {
        "customer_id": "c1",
        "full_name": "***",
        "primary_phone": "***",
        "owner": "张三",
        "attributes": '{"n":3,"备注":"***"}',
    }
    masked = shape(Principal("审计", "auditor", mask=mask_value), "customer", frame).row(0, named=True)
    assert masked["full_name"] == "张*" and masked["primary_phone"] == "+86 138****8000"
    payload = pl.DataFrame({"source": ["crm"], "payload": ['{"mobile":"13800138000","sales":"张三","x":"刘悦"}']})
    mapped = Principal(
        "审计", "auditor", mask=mask_value, payload_fields={"crm": {"mobile": "phone", "sales": "owner"}}
    )
    assert json.loads(shape(mapped, "source_record", payload)["payload"][0]) == {
        "mobile": "138****8000",
        "sales": "张三",
        "x": "**",
    }
