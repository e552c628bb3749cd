"""crmkit analytics: analysis-ready customers, KPIs, segments, churn risk and region reports.

Pure functions over polars frames (a DuckDB relation or a LazyFrame will do as input; polars DataFrames come
out), reading the store only through crm_store's readers, with no network. Start with :func:`load`::

    import analytics

    a = analytics.load("sqlite:///out/demo/crm.db")
    a.customers()                      # golden records with region codes, canonical segment/status, parsed attributes
    a.regions("district", within="聊城")  # customers per district of 聊城市, with GB/T 2260 codes and shares
    a.kpis()["retention"]              # retention by monthly cohort
    a.customers(fields=["行业"])        # with load(..., custom_fields=settings.custom_fields): typed columns
    con = a.register()                 # DuckDB views: con.sql("select province, count(*) from customers group by 1")

Every function is usable on its own frames too (``analytics.dimensions(customers, addresses)``,
``analytics.churn_risk(customers, analytics.events(activities))`` …). Code tables, classifications and churn
thresholds are YAML (``analytics/defaults.yaml``; pass your own file to :func:`load` or :func:`load_rules`).
"""

from __future__ import annotations

from analytics._churn import RISK_LEVELS, churn_risk
from analytics._custom import custom_fields
from analytics._dimensions import (
    REGION_COLUMNS,
    attribute_values,
    dimensions,
    parse_attributes,
    standardise_codes,
    standardise_regions,
    unmapped_codes,
)
from analytics._events import customer_metrics, events, parse_amount
from analytics._handover import plan_handover
from analytics._kpis import active_customers, conversion, new_customers, retention_by_cohort
from analytics._regions import activity_by_region, customers_by_region, resolve_region
from analytics._rules import AnalyticsRules, RulesError, load_rules
from analytics._segments import classify, rfm
from analytics._store import Analytics, load, read

__all__ = [
    "REGION_COLUMNS",
    "RISK_LEVELS",
    "Analytics",
    "AnalyticsRules",
    "RulesError",
    "active_customers",
    "activity_by_region",
    "attribute_values",
    "churn_risk",
    "classify",
    "conversion",
    "custom_fields",
    "customer_metrics",
    "customers_by_region",
    "dimensions",
    "events",
    "load",
    "load_rules",
    "new_customers",
    "parse_amount",
    "parse_attributes",
    "plan_handover",
    "read",
    "resolve_region",
    "retention_by_cohort",
    "rfm",
    "standardise_codes",
    "standardise_regions",
    "unmapped_codes",
]
