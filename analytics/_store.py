"""``analytics.load``: read a store once through crm_store's readers, then answer every question from memory."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy.orm import Session

import crm_store
from analytics._churn import churn_risk
from analytics._custom import FieldSpec, as_custom_fields, custom_fields
from analytics._dimensions import REGION_COLUMNS, attribute_values, dimensions, parse_attributes, unmapped_codes
from analytics._events import EVENT_SCHEMA, customer_metrics, events
from analytics._frames import Frame, to_polars, today
from analytics._handover import plan_handover
from analytics._kpis import Period, active_customers, conversion, new_customers, retention_by_cohort
from analytics._regions import Level, activity_by_region, customers_by_region
from analytics._rules import AnalyticsRules, load_rules
from analytics._segments import classify, rfm

if TYPE_CHECKING:
    from crm_store import Principal

__all__ = ["Analytics", "load", "read"]

log = logging.getLogger(__name__)

#: Dimension columns that replace the golden record's own ``province``/``city``/``district``/``segment``/``status``.
_DIMENSION_COLUMNS = (
    *REGION_COLUMNS,
    "segment",
    "segment_raw",
    "status",
    "status_raw",
    "stage",
)


def _follow_merges(activities: pl.DataFrame, all_customers: pl.DataFrame) -> pl.DataFrame:
    """Re-point activities of retired customers to the customer they were merged into (following chains)."""
    if "merged_into" not in all_customers.columns or activities.is_empty():
        return activities
    merged = dict(
        all_customers.filter(pl.col("merged_into").is_not_null()).select("customer_id", "merged_into").iter_rows()
    )
    if not merged:
        return activities

    def target(customer_id: str) -> str:
        seen = {customer_id}
        while customer_id in merged and merged[customer_id] not in seen:
            customer_id = merged[customer_id]
            seen.add(customer_id)
        return customer_id

    ids = activities["customer_id"].drop_nulls().unique().to_list()
    moves = {c: target(c) for c in ids if c in merged}
    if not moves:
        return activities
    return activities.with_columns(pl.col("customer_id").replace(moves))


class Analytics:
    """Analysis-ready views of one CRM store (see :func:`load`); every method returns a polars DataFrame.

    Frames are computed on first use and kept; ``as_of`` (the day the metrics describe) and ``rules`` are fixed
    for the object's life.
    """

    def __init__(
        self,
        customers: Frame,
        activities: Frame | None = None,
        addresses: Frame | None = None,
        contact_points: Frame | None = None,
        crosswalk: Frame | None = None,
        *,
        rules: AnalyticsRules | None = None,
        as_of: dt.date | None = None,
        custom_fields: Sequence[FieldSpec] | None = None,
    ) -> None:
        self.rules = rules or load_rules()
        self.as_of = as_of or today(self.rules.timezone)
        #: The project's custom fields (``settings.custom_fields``): typed columns of :meth:`customers`.
        self.fields = as_custom_fields(custom_fields)
        self._raw: dict[str, pl.DataFrame | None] = {
            "customers": to_polars(customers, "customers"),
            "activities": None if activities is None else to_polars(activities, "activities"),
            "addresses": None if addresses is None else to_polars(addresses, "addresses"),
            "contact_points": None if contact_points is None else to_polars(contact_points, "contact_points"),
            "crosswalk": None if crosswalk is None else to_polars(crosswalk, "crosswalk"),
        }
        self._cache: dict[Any, pl.DataFrame] = {}

    def _cached(self, key: Any, build: Any) -> pl.DataFrame:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    # ------------------------------------------------------------------------------------------- as stored

    def golden(self) -> pl.DataFrame:
        """The golden records as the store keeps them (``crm_store.read_customers``)."""
        frame = self._raw["customers"]
        assert frame is not None
        return frame

    def activities(self) -> pl.DataFrame:
        """The activities as the store keeps them (``crm_store.read_activities``; empty when none were given)."""
        frame = self._raw["activities"]
        if frame is None:
            return pl.DataFrame(
                schema={"customer_id": pl.String, "kind": pl.String, "occurred_at": EVENT_SCHEMA["occurred_at"]}
            )
        return frame

    def addresses(self) -> pl.DataFrame | None:
        """The stored addresses (``crm_store.read_addresses``), or None when not given."""
        return self._raw["addresses"]

    def contact_points(self) -> pl.DataFrame | None:
        """The stored contact points (``crm_store.read_contact_points``), or None when not given."""
        return self._raw["contact_points"]

    def crosswalk(self) -> pl.DataFrame | None:
        """The crosswalk (``crm_store.read_crosswalk``): which source row became which customer."""
        return self._raw["crosswalk"]

    # ------------------------------------------------------------------------------------ standardised

    def dimensions(self) -> pl.DataFrame:
        """:func:`analytics.dimensions` of every customer: regions with codes, canonical segment and status."""
        return self._cached(
            "dimensions",
            lambda: dimensions(self.golden(), self.addresses(), self.contact_points(), rules=self.rules),
        )

    def customers(self, fields: Sequence[str] | None = None) -> pl.DataFrame:
        """The golden records, analysis-ready: the region, segment and status columns replaced by the
        standardised ones (raw values in ``segment_raw``/``status_raw``), codes and ``stage`` added,
        ``attributes`` parsed into a Struct (:func:`analytics.parse_attributes`), and one typed column per
        custom field (:meth:`custom_fields`) after them.

        Args:
            fields: only these custom fields, in this order (default: every declared one; ``[]``: none).

        Raises:
            ValueError: ``fields`` names a field not declared, or a custom field is named like a column.
        """
        names = tuple(f.name for f in self.fields) if fields is None else tuple(fields)

        def build() -> pl.DataFrame:
            golden = self.golden()
            dims = self.dimensions()
            kept = [c for c in golden.columns if c not in _DIMENSION_COLUMNS]
            out = golden.select(kept).join(dims, on="customer_id", how="left", maintain_order="left")
            if "attributes" in out.columns:
                out = out.with_columns(parse_attributes(out["attributes"]).alias("attributes"))
            if names:
                clash = sorted(set(names) & set(out.columns))
                if clash:
                    raise ValueError(f"custom fields {clash} are named like columns of the customers; rename them")
                out = out.join(self.custom_fields(names), on="customer_id", how="left", maintain_order="left")
            return out

        if fields is not None:
            self.custom_fields(names)  # an unknown name fails here, before the frames are built
        return self._cached(("customers", names), build)

    def custom_fields(self, fields: Sequence[str] | None = None) -> pl.DataFrame:
        """:func:`analytics.custom_fields` of the golden records: ``customer_id`` and one typed column per
        declared custom field (``fields``: only these); empty of fields when none was declared."""
        names = tuple(f.name for f in self.fields) if fields is None else tuple(fields)
        return self._cached(("custom_fields", names), lambda: custom_fields(self.golden(), self.fields, names=names))

    def attribute_values(self) -> pl.DataFrame:
        """:func:`analytics.attribute_values`: custom fields in long form."""
        return self._cached("attribute_values", lambda: attribute_values(self.golden()))

    def unmapped_codes(self) -> pl.DataFrame:
        """:func:`analytics.unmapped_codes`: raw segment/status values the code tables lack."""
        return self._cached("unmapped_codes", lambda: unmapped_codes(self.golden(), rules=self.rules))

    def events(self) -> pl.DataFrame:
        """:func:`analytics.events` of the activities (:func:`load` has already moved the activities of a
        customer merged into another to the survivor)."""
        return self._cached("events", lambda: events(self.activities(), rules=self.rules))

    # ----------------------------------------------------------------------------- metrics and segments

    def metrics(self) -> pl.DataFrame:
        """:func:`analytics.customer_metrics` over :meth:`customers` (every customer column kept)."""
        return self._cached(
            "metrics", lambda: customer_metrics(self.customers(), self.events(), rules=self.rules, as_of=self.as_of)
        )

    def rfm(self, bins: int = 5) -> pl.DataFrame:
        """:func:`analytics.rfm` of the customers with activities."""
        return self._cached(("rfm", bins), lambda: rfm(self.events(), rules=self.rules, as_of=self.as_of, bins=bins))

    def segments(self) -> pl.DataFrame:
        """:meth:`metrics` with the RFM scores and every classification of the rules (``value_class``,
        ``rfm_segment`` …) as columns."""

        def build() -> pl.DataFrame:
            scores = self.rfm().select("customer_id", "r_score", "f_score", "m_score", "rfm")
            joined = self.metrics().join(scores, on="customer_id", how="left", maintain_order="left")
            return classify(joined, rules=self.rules)

        return self._cached("segments", build)

    def churn_risk(self) -> pl.DataFrame:
        """:func:`analytics.churn_risk` of every customer (with ``full_name``, ``owner`` and region kept)."""

        def build() -> pl.DataFrame:
            shown = [
                c
                for c in (
                    "customer_id",
                    "full_name",
                    "company",
                    "owner",
                    "province",
                    "city",
                    "stage",
                    "last_contact_at",
                )
                if c in self.customers().columns
            ]
            return churn_risk(self.customers().select(shown), self.events(), rules=self.rules, as_of=self.as_of)

        return self._cached("churn_risk", build)

    # ---------------------------------------------------------------------------------------------- KPIs

    def kpis(self, period: Period = "month") -> dict[str, pl.DataFrame]:
        """Every KPI frame by name: ``active_customers``, ``new_customers``, ``retention`` (by cohort),
        ``conversion`` (see the functions of the same names)."""
        ev = self.events()
        return {
            "active_customers": self._cached(("active", period), lambda: active_customers(ev, period=period)),
            "new_customers": self._cached(("new", period), lambda: new_customers(ev, period=period)),
            "retention": self._cached(("retention", period), lambda: retention_by_cohort(ev, period=period)),
            "conversion": self._cached(
                ("conversion", period),
                lambda: conversion(self.dimensions(), ev, rules=self.rules, period=period),
            ),
        }

    def regions(self, level: Level = "province", *, within: str | None = None) -> pl.DataFrame:
        """:func:`analytics.customers_by_region` (``within="聊城", level="district"``: the local drill-down)."""
        return self._cached(
            ("regions", level, within), lambda: customers_by_region(self.dimensions(), level, within=within)
        )

    def activity_by_region(self, level: Level = "province", *, within: str | None = None) -> pl.DataFrame:
        """:func:`analytics.activity_by_region`."""
        return self._cached(
            ("activity_by_region", level, within),
            lambda: activity_by_region(self.dimensions(), self.events(), level, within=within),
        )

    def plan_handover(self, from_owner: str, to_owner: str) -> pl.DataFrame:
        """:func:`analytics.plan_handover` over the golden records (nothing is written)."""
        return plan_handover(self.golden(), from_owner, to_owner)

    # ------------------------------------------------------------------------------------------ notebooks

    def tables(self) -> dict[str, pl.DataFrame]:
        """The main frames by name, as :meth:`register` names them in DuckDB."""
        out = {
            "customers": self.customers(),
            "dimensions": self.dimensions(),
            "events": self.events(),
            "segments": self.segments(),
            "churn_risk": self.churn_risk(),
            "attribute_values": self.attribute_values(),
        }
        if self.fields:
            out["custom_fields"] = self.custom_fields()
        for name in ("addresses", "contact_points", "crosswalk"):
            frame = self._raw[name]
            if frame is not None:
                out[name] = frame
        return out

    def to_pandas(self, name: str) -> Any:
        """One of :meth:`tables` as a pandas DataFrame (Arrow-backed where pandas allows)."""
        tables = self.tables()
        if name not in tables:
            raise KeyError(f"no table {name!r}; known: {sorted(tables)}")
        return tables[name].to_pandas()

    def register(self, connection: Any | None = None) -> Any:
        """Register :meth:`tables` as DuckDB views (``select * from customers``) and return the connection
        (a new in-memory one unless ``connection`` is given)."""
        import duckdb

        con = connection if connection is not None else duckdb.connect()
        for name, frame in self.tables().items():
            con.register(name, frame)
        return con


def load(
    store_url: str,
    *,
    rules: str | Path | AnalyticsRules | None = None,
    as_of: dt.date | None = None,
    custom_fields: Sequence[FieldSpec] | None = None,
) -> Analytics:
    """Read a crmkit store for analysis: the current golden records, activities, addresses, contact points and
    the crosswalk, through crm_store's readers, in one read-only session.

    Args:
        store_url: the store's SQLAlchemy URL (``sqlite:///out/demo/crm.db``). The store must exist: nothing is
            created or migrated (``crm_store.StoreNotFoundError`` otherwise).
        rules: an analytics rule file or set (default: ``analytics/defaults.yaml``).
        as_of: the day metrics describe (default: today in the rules' time zone).
        custom_fields: the project's custom fields (``pipelines.settings.load_settings(path).custom_fields``, or
            dicts of the project file's keys): typed columns of :meth:`Analytics.customers`.
    """
    engine = crm_store.open_store(store_url)
    try:
        with Session(engine) as session:
            return read(session, rules=rules, as_of=as_of, custom_fields=custom_fields)
    finally:
        engine.dispose()


def read(
    session: Session,
    *,
    principal: Principal | None = None,
    rules: str | Path | AnalyticsRules | None = None,
    as_of: dt.date | None = None,
    custom_fields: Sequence[FieldSpec] | None = None,
) -> Analytics:
    """:func:`load` in the caller's session (the caller owns it and its transaction; nothing is written), as
    ``principal`` sees the store (``crm_store.access``: a sales user only their own customers; None: all)."""
    chosen = rules if isinstance(rules, AnalyticsRules) else load_rules(rules)
    fields = as_custom_fields(custom_fields)  # a bad declaration fails before the store is read
    everyone = crm_store.read_customers(session, retired=True, principal=principal)
    activities = crm_store.read_activities(session, principal=principal)
    addresses = crm_store.read_addresses(session, principal=principal)
    contact_points = crm_store.read_contact_points(session, principal=principal)
    crosswalk = crm_store.read_crosswalk(session, principal=principal)
    current = everyone.filter(pl.col("retired_at").is_null())
    activities = _follow_merges(activities, everyone)
    log.debug("loaded %s customers and %s activities", current.height, activities.height)
    return Analytics(
        current, activities, addresses, contact_points, crosswalk, rules=chosen, as_of=as_of, custom_fields=fields
    )
