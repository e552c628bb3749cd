"""analytics.load over the demo store (config/demo.yaml, plus legacy orders and follow-ups): dimensions cover every
customer the store can place (cities written in pinyin too), and the KPIs match the activities by hand. A headless
chromium takes the README's picture of what the analyst's notebook shows."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest

import analytics
import crm_store
from pipelines.migrate import run_steps
from pipelines.settings import load_settings

from ..pipelines.web.test_browser import chromium  # noqa: F401  (the fixture: Debian's chromium, never downloaded)
from .conftest import ROOT, demo_project

D = dt.date
AS_OF = D(2024, 4, 1)
HAN = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> analytics.Analytics:
    out = tmp_path_factory.mktemp("analytics-demo")
    result = run_steps(load_settings(demo_project(out)), "run-1", False)
    assert result.status == "succeeded", result.ledger
    return analytics.load(f"sqlite:///{out / 'crm.db'}", as_of=AS_OF)


def _ids(store: analytics.Analytics) -> dict[str, str]:
    """Legacy customer number (KHBH) → golden customer id."""
    crosswalk = store.crosswalk()
    assert crosswalk is not None
    legacy = crosswalk.filter(pl.col("source") == "legacy_crm")
    return dict(legacy.select("source_key", "customer_id").iter_rows())


def _placeable(store: analytics.Analytics) -> set[str]:
    """Customers with a Chinese place name in the record or an address, or a Chinese landline with an area code,
    and no foreign place (a city such as London, an address abroad)."""
    import phonenumbers

    golden = store.golden()
    named = golden.filter(
        pl.any_horizontal(pl.col(c).str.contains(HAN.pattern) for c in ("province", "city", "district"))
    )["customer_id"]  # fmt: skip
    parts = ("province", "city", "district")
    foreign = set(golden.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in parts))["customer_id"]) - set(named)
    addresses = store.addresses()
    assert addresses is not None
    foreign |= set(addresses.filter(pl.col("country").is_not_null() & (pl.col("country") != "CN"))["customer_id"])
    with_address = set(addresses.filter(pl.col("admin_code").is_not_null())["customer_id"])
    contact_points = store.contact_points()
    assert contact_points is not None
    numbers = pl.concat(
        [
            golden.select("customer_id", pl.col("landline").alias("value")),
            contact_points.filter(pl.col("kind") == "phone").select("customer_id", "value"),
        ]
    ).drop_nulls()
    with_area = set()
    for customer_id, number in numbers.iter_rows():
        parsed = phonenumbers.parse(number)
        if parsed.country_code == 86 and phonenumbers.length_of_geographical_area_code(parsed) > 0:
            with_area.add(customer_id)
    return (set(named) | with_address | with_area) - (foreign - set(named) - with_address)


def test_every_customer_the_store_can_place_has_a_province_and_none_lost_one(store: analytics.Analytics) -> None:
    golden, dims = store.golden(), store.dimensions()
    before = golden["province"].drop_nulls().len()
    after = dims["province"].drop_nulls().len()
    placed = set(dims.filter(pl.col("province").is_not_null())["customer_id"])
    missing = _placeable(store) - placed
    assert not missing, golden.filter(pl.col("customer_id").is_in(sorted(missing))).select("province", "city")
    had = set(
        golden.filter(pl.col("province").is_not_null() & pl.col("province").str.contains(HAN.pattern))["customer_id"]
    )
    assert had <= placed
    assert after > before
    # every name has its code, and codes are those of GB/T 2260
    assert dims.filter(pl.col("province").is_not_null() & pl.col("province_code").is_null()).is_empty()
    assert dims.filter(pl.col("city").is_not_null() & pl.col("city_code").is_null()).is_empty()
    assert dims.filter(pl.col("district").is_not_null() & pl.col("district_code").is_null()).is_empty()
    assert dims["admin_code"].drop_nulls().str.contains(r"^\d{6}$").all()
    # the flow wrote the sign-ups' 聊城 as 聊城市 already, and the dimensions keep it
    assert golden.filter(pl.col("city") == "聊城").is_empty() and dims.filter(pl.col("city") == "聊城").is_empty()
    assert golden.filter(pl.col("city") == "聊城市").height


def test_cities_the_demo_writes_in_pinyin_are_placed_like_their_chinese_names(store: analytics.Analytics) -> None:
    """The sign-ups' free-text city: ``liaocheng``, ``Jinan``, ``Wuhan`` are 聊城市, 济南市, 武汉市 with their codes
    (the flow's normaliser wrote them so; the dimensions read them as they read any Chinese name); the cities
    abroad (London, New York …) stay without a province."""
    golden, dims = store.golden(), store.dimensions()
    joined = golden.select("customer_id", pl.col("city").alias("raw")).join(dims, on="customer_id")
    assert joined.filter(pl.col("raw").is_in(["liaocheng", "Jinan", "Wuhan"])).is_empty()
    signups = (ROOT / "samples" / "demo" / "signups.jsonl").read_text("utf-8")  # one line is broken on purpose
    assert all(f'"city": "{city}"' in signups for city in ("liaocheng", "Jinan", "Wuhan"))
    cities = {"聊城市": "371500", "济南市": "370100", "武汉市": "420100"}
    found = joined.filter(pl.col("raw").is_in(list(cities)))
    assert set(found["raw"]) == set(cities)
    for raw, city, code, source in found.select("raw", "city", "city_code", "region_source").iter_rows():
        assert (city, code, source) == (raw, cities[raw], "record")
    abroad = joined.filter(pl.col("raw").is_in(["London", "New York", "Edinburgh", "Chicago", "San Francisco"]))
    assert abroad.height and abroad["province"].null_count() == abroad.height


def test_customers_are_analysis_ready(store: analytics.Analytics) -> None:
    customers = store.customers()
    assert customers.height == store.golden().height
    assert isinstance(customers.schema["attributes"], pl.Struct)
    assert {"province_code", "city_code", "segment_raw", "status_raw", "stage"} <= set(customers.columns)
    # the demo mixes A/B/C/VIP/一般客户 and raw 1/2/9 statuses: all are canonical now
    assert set(customers["segment"].drop_nulls()) <= {"A", "B", "C"}
    assert set(customers["status"].drop_nulls()) <= {"lead", "active", "dormant", "closed"}
    assert store.unmapped_codes().is_empty()
    assert customers.filter(pl.col("segment_raw") == "VIP")["segment"].unique().to_list() == ["A"]


def test_kpis_of_the_demo_activities_by_hand(store: analytics.Analytics) -> None:
    kpis = store.kpis()
    # Dec: KH100020; Jan: KH100003, KH100005, KH100008; Feb: KH100003; Mar: KH100019 (00:30 local), KH100008, KH100003
    assert kpis["active_customers"].rows() == [
        (D(2023, 12, 1), 1, 1),
        (D(2024, 1, 1), 3, 3),
        (D(2024, 2, 1), 1, 1),
        (D(2024, 3, 1), 3, 3),
    ]
    assert kpis["new_customers"]["new_customers"].to_list() == [1, 3, 0, 1]
    january = kpis["retention"].filter(pl.col("cohort") == D(2024, 1, 1))
    assert january.select("periods_since", "retained").rows() == [(0, 3), (1, 1), (2, 2)]
    ids = _ids(store)
    metrics = store.metrics().filter(pl.col("customer_id") == ids["KH100003"]).row(0, named=True)
    assert (metrics["activities"], metrics["monetary_12m"], metrics["last_contact"]) == (3, 2000.0, D(2024, 3, 5))
    churn = dict(store.churn_risk().select("customer_id", "churn_risk").iter_rows())
    assert churn[ids["KH100020"]] == "medium"  # last contact 1 Dec 2023: four months
    assert churn[ids["KH100003"]] == "low"
    rfm = store.rfm()
    assert rfm.height == 5 and rfm.filter(pl.col("customer_id") == ids["KH100005"])["m_score"].to_list() == [5]
    assert {"value_class", "rfm_segment"} <= set(store.segments().columns)
    conversion = kpis["conversion"]
    assert conversion["leads"].sum() == conversion["converted"].sum() + conversion["open_leads"].sum()


def test_region_reports_of_the_demo(store: analytics.Analytics) -> None:
    provinces = store.regions()
    assert provinces["customers"].sum() == store.golden().height
    assert provinces["share"].sum() == pytest.approx(1.0)
    assert provinces.row(0, named=True)["province"] == "山东省"
    liaocheng = store.regions("district", within="聊城")
    assert set(liaocheng["city_code"]) == {"371500"} and liaocheng["district_code"].null_count() <= 1
    assert store.regions("district", within="Liaocheng").equals(liaocheng)
    activity = store.activity_by_region("city")
    assert activity["activities"].sum() == store.events().height


def test_notebook_helpers(store: analytics.Analytics) -> None:
    con = store.register()
    counted = con.sql("select count(*) from customers where province_code = '370000'").fetchall()[0]
    assert counted is not None and counted[0] == store.customers().filter(pl.col("province_code") == "370000").height
    assert con.sql("select count(*) from events").fetchall() == [(8,)]
    assert store.to_pandas("dimensions").shape == store.dimensions().shape
    with pytest.raises(KeyError, match="known:"):
        store.to_pandas("nope")


def test_loading_a_store_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(crm_store.StoreNotFoundError):
        analytics.load(f"sqlite:///{tmp_path / 'none.db'}")
    assert not (tmp_path / "none.db").exists()


def test_analytics_over_frames_without_activities() -> None:
    customers = pl.DataFrame(
        {
            "customer_id": ["a", "b"],
            "province": [None, None],
            "city": ["聊城", None],
            "district": [None, None],
            "segment": ["VIP", None],
            "status": ["2", None],
            "attributes": ['{"KHBH": "K1"}', None],
        },
        schema_overrides={"province": pl.String, "district": pl.String},
    )
    a = analytics.Analytics(customers, as_of=AS_OF)
    assert a.customers().select("city_code", "segment", "stage").rows() == [
        ("371500", "A", "customer"),
        (None, None, None),
    ]
    assert a.customers()["attributes"].to_list() == [{"KHBH": "K1"}, None]
    assert all(frame.is_empty() for name, frame in a.kpis().items() if name != "conversion")
    assert a.churn_risk()["churn_risk"].to_list() == ["unknown", "unknown"]
    assert set(a.tables()) == {"customers", "dimensions", "events", "segments", "churn_risk", "attribute_values"}


def test_the_readme_picture_of_an_analysts_notebook(
    store: analytics.Analytics,
    chromium: str,  # noqa: F811
    screenshots: Path,
) -> None:
    """The frames an analyst looks at first, as a notebook shows them (polars' HTML): customers per province, the
    聊城 drill-down by district and the monthly KPIs; saved as ``docs/img/analytics-regions.png`` by
    ``make screenshots``."""
    from playwright.sync_api import sync_playwright

    provinces = store.regions("province").head(6)
    districts = store.regions("district", within="Liaocheng").drop("province_code", "province")
    kpis = store.kpis()
    monthly = kpis["active_customers"].join(kpis["new_customers"], on="period")
    cells = [
        ('a.regions("province").head(6)', provinces),
        ('a.regions("district", within="Liaocheng")', districts),
        ('a.kpis()["active_customers"] ⋈ ["new_customers"]', monthly),
    ]
    style = (
        "body{font:13px system-ui,'WenQuanYi Micro Hei',sans-serif;margin:16px;background:#fff;color:#1d2330}"
        "code{display:block;margin:14px 0 6px;color:#3e7bfa}table{border-collapse:collapse}"
        "td,th{padding:2px 8px;border-bottom:1px solid #eceff3;text-align:right}"
    )
    body = "".join(f"<code>In: {title}</code>{frame._repr_html_()}" for title, frame in cells)
    picture = screenshots / "analytics-regions.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 400})
            page.set_content(f"<!doctype html><meta charset=utf-8><style>{style}</style><body>{body}</body>")
            text = page.inner_text("body")
            assert "山东省" in text and "371502" in text and "东昌府区" in text and "370000" in text
            page.screenshot(path=picture, full_page=True)
        finally:
            browser.close()
    assert 10_000 < picture.stat().st_size < 200_000
