from __future__ import annotations

import uuid

import polars as pl

from rules.survive import CUSTOMER_ID_NAMESPACE, customer_ids, id_lineage, survive


def _records() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_rid": [1, 2, 3, 4],
            "_source": ["crm", "web", "xls", "crm"],
            "_source_key": ["c1", "w1", "x1", "c2"],
            "updated_at": ["2024-05-01T10:00:00", "2025-01-02T08:00:00", None, "2023-01-01T00:00:00"],
            "created_at": ["2020-01-01", "2024-12-31", "2019-06-01", "2023-01-01"],
            "full_name": ["张伟", "  ", "張偉", "王芳"],
            "email": ["zw@qq.com", "zhang.wei@163.com", None, None],
            "city": [None, None, "北京", "聊城"],
        }
    )


CLUSTERS = pl.DataFrame({"_rid": [1, 2, 3, 4], "cluster": [1, 1, 1, 4]})


def test_newest_non_empty_value_wins_with_provenance() -> None:
    result = survive(_records(), CLUSTERS, ["full_name", "email", "city", "segment"])
    golden = {r["cluster"]: r for r in result.golden.iter_rows(named=True)}
    assert result.golden.columns == ["cluster", "full_name", "email", "city", "segment"]
    # web (newest) has a blank name, so the name comes from crm (next); xls has no updated_at: created in 2019
    assert golden[1] == {
        "cluster": 1,
        "full_name": "张伟",
        "email": "zhang.wei@163.com",
        "city": "北京",
        "segment": None,
    }
    assert golden[4]["full_name"] == "王芳" and golden[4]["email"] is None
    prov = {(r["cluster"], r["field"]): r for r in result.provenance.iter_rows(named=True)}
    assert (prov[(1, "full_name")]["_source"], prov[(1, "full_name")]["_source_key"]) == ("crm", "c1")
    assert (prov[(1, "email")]["_source"], prov[(1, "email")]["value"]) == ("web", "zhang.wei@163.com")
    assert prov[(1, "city")]["_source_key"] == "x1"
    assert (4, "email") not in prov
    assert result.provenance.columns == ["cluster", "field", "value", "_source", "_source_key", "rule"]


def test_ties_are_broken_by_source_then_key() -> None:
    records = pl.DataFrame(
        {
            "_rid": [1, 2, 3],
            "_source": ["web", "crm", "crm"],
            "_source_key": ["1", "9", "2"],
            "updated_at": ["2024-01-01"] * 3,
            "phone": ["+861", "+869", "+862"],
        }
    )
    clusters = pl.DataFrame({"_rid": [1, 2, 3], "cluster": [1, 1, 1]})
    for frame in (records, records.reverse()):
        result = survive(frame, clusters, ["phone"])
        assert result.golden["phone"].to_list() == ["+862"]


def test_customer_ids_are_derived_and_stable() -> None:
    first = customer_ids(CLUSTERS, _records())
    again = customer_ids(CLUSTERS.reverse(), _records().reverse())
    assert first.equals(again)
    ids = dict(first.rows())
    assert ids[1] == str(uuid.uuid5(CUSTOMER_ID_NAMESPACE, "crm\x1fc1"))  # smallest (source, key) member
    assert ids[4] == str(uuid.uuid5(CUSTOMER_ID_NAMESPACE, "crm\x1fc2"))


def test_existing_ids_are_reused_by_majority() -> None:
    existing = pl.DataFrame(
        {
            "_source": ["web", "xls", "crm", "crm"],
            "_source_key": ["w1", "x1", "c1", "c2"],
            "customer_id": ["id-B", "id-B", "id-A", "id-C"],
        }
    )
    ids = dict(customer_ids(CLUSTERS, _records(), existing).rows())
    assert ids == {1: "id-B", 4: "id-C"}
    # a tie goes to the smallest id
    tie = existing.with_columns(pl.Series("customer_id", ["id-Z", "id-A", "id-Q", "id-C"]))
    assert dict(customer_ids(CLUSTERS, _records(), tie).rows())[1] == "id-A"


def test_a_split_customer_keeps_its_id_in_one_cluster_only() -> None:
    existing = pl.DataFrame({"_source": ["crm", "web"], "_source_key": ["c1", "w1"], "customer_id": ["id-A", "id-A"]})
    clusters = pl.DataFrame({"_rid": [1, 2, 3, 4], "cluster": [1, 2, 2, 4]})
    ids = dict(customer_ids(clusters, _records(), existing).rows())
    assert ids[1] == "id-A"
    assert ids[2] != "id-A" and len(set(ids.values())) == 3


def _cluster(**columns: list[object]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame(
        {"_rid": list(range(n)), "_source": ["s"] * n, "_source_key": [str(i) for i in range(n)], **columns}
    )


def _one(records: pl.DataFrame, field: str) -> object:
    clusters = pl.DataFrame({"_rid": records["_rid"], "cluster": [1] * records.height})
    return survive(records, clusters, [field]).golden[field].item()


def test_recency_is_updated_then_created_then_the_sources_as_of() -> None:
    records = _cluster(
        updated_at=[None, "2020-01-01", None],
        created_at=[None, None, "2021-01-01"],
        _as_of=["2024-06-30", None, None],  # a workbook kept current to mid-2024, rows without dates
        city=["聊城", "济南", "泰安"],
    )
    assert _one(records, "city") == "聊城"
    assert _one(records.with_columns(pl.lit(None, pl.String).alias("_as_of")), "city") == "泰安"


def test_priority_breaks_ties_of_recency() -> None:
    records = _cluster(updated_at=["2024-01-01"] * 2, _priority=[0, 5], city=["聊城", "济南"])
    assert _one(records, "city") == "济南"


def test_a_real_hanzi_name_confirmed_by_rows_wins_over_titles_pinyin_and_typos() -> None:
    records = _cluster(
        updated_at=["2024-05-01", "2024-04-01", "2023-01-01", "2022-01-01", "2021-01-01"],
        full_name=["陈", "Fang Chen", "陈芳", "陈方", "陈芳"],
        name_title=["会计", None, None, None, None],
    )
    assert _one(records, "full_name") == "陈芳"


def test_a_mobile_wins_over_a_newer_landline_and_a_personal_address_over_a_role_mailbox() -> None:
    records = _cluster(
        updated_at=["2024-05-01", "2023-01-01", "2022-01-01"],
        phone=["+866358123456", "+8613800138000", "+8613900139000"],
        phone_type=["landline", "mobile", "mobile"],
        email=["sales@gs.cn", "chenfang@gs.cn", None],
        email_role=[True, False, None],
    )
    assert _one(records, "phone") == "+8613800138000"  # the newest mobile
    assert _one(records, "email") == "chenfang@gs.cn"


def test_the_current_company_by_its_full_registered_name() -> None:
    records = _cluster(
        updated_at=["2024-05-01", "2023-01-01", "2015-01-01", "2012-01-01"],
        full_name=["陈芳"] * 4,
        company=["光盛公司", "德州市光盛商贸有限公司", "Guangsheng Trading Co., Ltd.", "聊城市华兴机械有限公司"],
        company_key=["光盛", "光盛商贸", "guangsheng trading", "华兴机械"],
        _issues=[
            ["company.legal_suffix"],
            ["company.legal_suffix", "company.region_prefix"],
            ["company.legal_suffix"],
            ["company.legal_suffix", "company.region_prefix"],
        ],
    )
    assert _one(records, "company") == "德州市光盛商贸有限公司"  # not the old employer 华兴 (a job change)
    consumer = _cluster(full_name=["刘悦", "刘悦"], company=["刘悦", None], company_key=["刘悦", None])
    assert _one(consumer, "company") is None  # a consumer's own name in 客户名称 is not a company


def _rules(records: pl.DataFrame, fields: list[str], order: dict[str, list[str]] | None = None) -> dict[str, str]:
    clusters = pl.DataFrame({"_rid": records["_rid"], "cluster": [1] * records.height})
    provenance = survive(records, clusters, fields, order).provenance
    return dict(zip(provenance["field"], provenance["rule"], strict=True))


def test_every_choice_names_the_rule_that_decided_it() -> None:
    records = _cluster(
        updated_at=["2024-05-01", "2023-01-01", "2022-01-01"],
        _priority=[0, 0, 0],
        phone=["+866358123456", "+8613800138000", "+8613800138000"],
        phone_type=["landline", "mobile", "mobile"],
        city=["聊城", "济南", None],
        gender=["F", "F", None],
        segment=[None, None, "VIP"],
    )
    assert _rules(records, ["phone", "city", "gender", "segment"]) == {
        "phone": "quality:mobile",  # the newer landline loses to a mobile
        "city": "recency",
        "gender": "only",  # every row says F
        "segment": "only",
    }
    ties = _cluster(updated_at=["2024-01-01"] * 2, _priority=[0, 5], city=["聊城", "济南"])
    assert _rules(ties, ["city"]) == {"city": "priority"}
    same = _cluster(city=["聊城", "济南"])
    assert _rules(same, ["city"]) == {"city": "order"}  # nothing but the source and key order told them apart


def test_the_criteria_of_a_field_can_be_reordered() -> None:
    records = _cluster(
        updated_at=["2024-05-01", "2020-01-01"],
        _priority=[0, 9],
        email=["sales@gs.cn", "chenfang@gs.cn"],
        email_role=[True, False],
        city=["聊城", "济南"],
    )
    clusters = pl.DataFrame({"_rid": records["_rid"], "cluster": [1, 1]})
    default = survive(records, clusters, ["email", "city"]).golden.row(0, named=True)
    assert (default["email"], default["city"]) == ("chenfang@gs.cn", "聊城")
    trusted = survive(records, clusters, ["email", "city"], {"city": ["priority", "recency"]}).golden.row(0, named=True)
    assert trusted["city"] == "济南"  # the priority source wins over the newer row
    newest = survive(records, clusters, ["email"], {"email": ["recency"]})
    assert newest.golden["email"].item() == "sales@gs.cn"  # quality left out: the newest address, role or not
    assert newest.provenance["rule"].item() == "recency"


def test_the_landline_and_the_last_contact() -> None:
    records = _cluster(
        updated_at=["2024-05-01", "2023-01-01", "2022-01-01"],
        landline=["+866358123456", "+866358123456", "+8653188887777"],
        last_contact_at=["2023-03-01T10:00:00", "2024-11-30T09:00:00", None],
    )
    golden = survive(records, pl.DataFrame({"_rid": [0, 1, 2], "cluster": [1] * 3}), ["landline", "last_contact_at"])
    assert golden.golden.row(0, named=True) == {
        "cluster": 1,
        "landline": "+866358123456",
        "last_contact_at": "2024-11-30T09:00:00",  # the latest contact, not the newest row's
    }


def test_id_lineage_says_where_customers_went() -> None:
    existing = pl.DataFrame(
        {
            "_source": ["s"] * 5,
            "_source_key": ["1", "2", "3", "4", "5"],
            "customer_id": ["A", "A", "B", "C", "C"],
        }
    )
    # B's row joins A; C is split (4 keeps C, 5 becomes D); E is new
    assigned = pl.DataFrame(
        {
            "_source": ["s"] * 6,
            "_source_key": ["1", "2", "3", "4", "5", "6"],
            "customer_id": ["A", "A", "A", "C", "D", "E"],
        }
    )
    lineage = id_lineage(existing, assigned)
    assert lineage.rows() == [("B", "A", None), ("D", None, "C")]
    assert id_lineage(None, assigned).height == 0
    gone = id_lineage(existing, assigned.filter(~pl.col("customer_id").is_in(["C", "D"])))
    assert ("C", None, None) in gone.rows()  # no row of C is loaded now: retired, merged into no one
