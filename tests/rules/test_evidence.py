from __future__ import annotations

import json

import polars as pl

from rules.evidence import best_pairs, cluster_evidence, pairs_within

#: Rows 0, 1, 2 are one customer, row 3 another; the pair 2-3 was scored but not merged.
RECORDS = pl.DataFrame(
    {
        "_rid": [0, 1, 2, 3],
        "customer_id": ["c1", "c1", "c1", "c2"],
        "_source": ["crm", "crm", "web", "web"],
        "_source_key": ["1", "2", "7", "8"],
    }
)
PAIRS = pl.DataFrame({"left": [0, 0, 2, 1], "right": [1, 2, 3, 2], "match_probability": [0.91234, 0.99, 0.6, 0.99]})


def test_pairs_inside_a_customer_are_seen_from_both_rows() -> None:
    within = pairs_within(RECORDS, PAIRS).sort("_rid", "other")
    assert within.rows() == [(0, 1, 0.91234), (0, 2, 0.99), (1, 0, 0.91234), (1, 2, 0.99), (2, 0, 0.99), (2, 1, 0.99)]


def test_each_row_gets_its_strongest_pair_ties_to_the_first_row() -> None:
    best = {r["_rid"]: r for r in best_pairs(RECORDS, PAIRS).iter_rows(named=True)}
    assert set(best) == {0, 1, 2}  # row 3 is a customer of its own
    assert best[0]["match_probability"] == 0.99
    assert json.loads(best[0]["evidence"]) == {"with": "web:7", "score": 0.99}
    assert json.loads(best[2]["evidence"]) == {"with": "crm:1", "score": 0.99}  # 2-0 and 2-1 tie: row 0 first
    assert best[1]["evidence"] == '{"with":"web:7","score":0.99}'  # the stored text


def test_a_customer_lists_every_pair_inside_it_once() -> None:
    evidence = cluster_evidence(RECORDS, PAIRS)
    assert evidence["customer_id"].to_list() == ["c1"]
    pairs = sorted(evidence["evidence"][0], key=lambda p: (p["a"], p["b"]))
    assert pairs == [
        {"a": "crm:1", "b": "crm:2", "score": 0.9123},
        {"a": "crm:1", "b": "web:7", "score": 0.99},
        {"a": "crm:2", "b": "web:7", "score": 0.99},
    ]


def test_no_pairs_no_evidence() -> None:
    empty = PAIRS.clear()
    assert pairs_within(RECORDS, empty).is_empty()
    assert best_pairs(RECORDS, empty).is_empty()
    assert cluster_evidence(RECORDS, empty).is_empty()
