from __future__ import annotations

import uuid

import polars as pl

from rules.survive import CUSTOMER_ID_NAMESPACE, customer_ids, survive


def _records() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_rid": [1, 2, 3, 4],
            "_source": ["crm", "web", "xls", "crm"],
            "_source_key": ["c1", "w1", "x1", "c2"],
            "updated_at": ["2024-05-01T10:00:00", "2025-01-02T08:00:00", None, "2023-01-01T00:00:00"],
            "created_at": ["2020-01-01", "2024-12-31", "2025-06-01", "2023-01-01"],
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
    # web (newest) has a blank name, so the name comes from crm (next by updated_at); xls has no updated_at
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
    assert result.provenance.columns == ["cluster", "field", "value", "_source", "_source_key"]


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
