"""What a steward's merge or unmerge does to clusters (``rules.steward``): pure functions, small inline cases."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rules.steward import (
    HistoryEvent,
    derived_ids,
    earlier_parts,
    merge_decisions,
    merge_keeper,
    merged_evidence,
    parse_row,
    split_decisions,
    unmerged_evidence,
)
from rules.survive import customer_ids


def test_earlier_parts_come_from_a_stewards_merge_then_earlier_events_then_single_rows() -> None:
    rows = ["a:1", "a:2", "b:1", "b:2", "b:3"]
    latest = HistoryEvent(9, "C", frozenset(rows))
    earlier = [HistoryEvent(3, "C", frozenset({"a:1", "a:2", "b:2"})), HistoryEvent(5, "B", frozenset({"b:2", "x:9"}))]
    # the newest earlier event claims its rows first, then single-row customers; the rest stay together
    assert earlier_parts(rows, latest, earlier, {"b:1": "S"}) == [
        (["a:1", "a:2"], "C"),
        (["b:1"], "S"),
        (["b:2"], "B"),
        (["b:3"], None),
    ]
    merged = HistoryEvent(9, "C", frozenset(rows), (("C", frozenset({"a:1", "b:1"})), ("D", frozenset({"a:2"}))))
    assert earlier_parts(rows, merged) == [(["a:1", "b:1"], "C"), (["a:2"], "D"), (["b:2", "b:3"], None)]
    assert earlier_parts(rows, latest) == []  # no history: nothing to restore


def test_split_decisions_keep_parts_apart_and_together_and_redecide_contradictions() -> None:
    parts = [["a:1", "a:2", "a:3"], ["b:1"]]
    newest = {("a:1", "b:1"): ("match", True), ("a:1", "a:2"): ("match", True), ("a:2", "a:3"): ("no_match", False)}
    plan = split_decisions(parts, newest)
    assert plan.no_match == [("a:1", "b:1"), ("a:2", "b:1"), ("a:3", "b:1")] and plan.crossing == 3
    assert plan.match == [("a:2", "a:3")]  # a:1-a:2 already binds; a:2-a:3's no_match is decided again
    big = [[f"a:{i}" for i in range(60)], [f"b:{i}" for i in range(100)]]
    bounded = split_decisions(big, {}, max_pairs=1000)
    assert bounded.bounded and bounded.crossing == 6000 and len(bounded.no_match) == 60 * 16


def test_merge_decisions_keeper_and_evidence() -> None:
    plan = merge_decisions([["a:1", "a:2"], ["b:1"], ["c:1"]], {("a:2", "b:1"): ("no_match", True)})
    assert plan.match == [("a:1", "b:1"), ("a:1", "c:1"), ("a:2", "b:1")]
    t0, t1 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    assert merge_keeper([("z", 2, t1), ("y", 1, t0), ("x", 2, t1)]) == "x"
    assert merge_keeper([("z", 2, t0), ("x", 2, t1)]) == "z"  # the oldest of the biggest

    evidence = json.dumps({"score": 0.9871, "with": "b:1"})
    rows = [
        {"source": "a", "source_key": "1", "customer_id": "C", "match_probability": 0.9871, "evidence": evidence},
        {"source": "b", "source_key": "1", "customer_id": "N", "match_probability": None, "evidence": None},
    ]
    (split, _) = unmerged_evidence(rows)
    assert split[0] is None and json.loads(split[1]) == {"score": 0.9871, "with": "b:1", "unmerged": True}
    back = [{**rows[0], "match_probability": None, "evidence": split[1]}, {**rows[1], "customer_id": "C"}]
    pairs = [{"a": "a:1", "b": "b:1", "score": 0.9871}]
    assert merged_evidence(back, pairs) == [
        (0.9871, '{"score":0.9871,"with":"b:1"}'),
        (0.9871, '{"score":0.9871,"with":"a:1"}'),
    ]


def test_derived_ids_are_the_ids_customer_ids_derives() -> None:
    import polars as pl

    records = pl.DataFrame({"_rid": [0], "_source": ["crm"], "_source_key": ["K:1"]})
    clusters = pl.DataFrame({"_rid": [0], "cluster": [0]})
    assert customer_ids(clusters, records)["customer_id"][0] == derived_ids("crm", "K:1")[0]
    assert parse_row("crm:K:1") == ("crm", "K:1")
    with pytest.raises(ValueError, match="source:key"):
        parse_row("K001")
