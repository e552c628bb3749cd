from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from rules.match import BlockingError, MatchSettings, candidate_pairs, cluster, match, score_pairs

COLUMNS = [
    "key",
    "full_name",
    "name_pinyin",
    "name_key",
    "phone",
    "email",
    "company_key",
    "birth_date",
    "city",
]


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    full = [{c: r.get(c) for c in COLUMNS} for r in rows]
    df = pl.DataFrame(full, schema=dict.fromkeys(COLUMNS, pl.String))
    return df.with_row_index("_rid").with_columns(pl.col("_rid").cast(pl.Int64))


def _groups(df: pl.DataFrame, clusters: pl.DataFrame) -> set[frozenset[str]]:
    joined = df.join(clusters, on="_rid").group_by("cluster").agg(pl.col("key"))
    return {frozenset(keys) for keys in joined["key"].to_list()}


def _person(key: str, name: str, pinyin: str, **kw: str) -> dict[str, Any]:
    return {"key": key, "full_name": name, "name_pinyin": pinyin, "name_key": pinyin.replace(" ", ""), **kw}


ROWS = [
    # one person written three ways, same mobile
    _person("zw1", "张伟", "zhang wei", phone="+8613800138000", city="北京"),
    _person("zw2", "張偉", "zhang wei", phone="+8613800138000", email="zw@qq.com"),
    _person("zw3", "Zhang Wei", "zhang wei", phone="+8613800138000", email="zw@qq.com"),
    # same common name, other city, other phone, same company (blocked together, must not merge)
    _person("zw4", "张伟", "zhang wei", phone="+8613911112222", city="上海", company_key="acme"),
    _person("zw5", "张伟", "zhang wei", phone="+8613933334444", city="广州", company_key="acme"),
    # a family sharing a landline
    _person("wf", "王芳", "wang fang", phone="+866358123456", city="聊城"),
    _person("wq", "王强", "wang qiang", phone="+866358123456", city="聊城"),
    # father and son, same name, address and landline, different birth dates
    _person("lj1", "李建国", "li jian guo", phone="+866358000001", birth_date="1955-03-01", city="聊城"),
    _person("lj2", "李建国", "li jian guo", phone="+866358000001", birth_date="1982-07-15", city="聊城"),
]


def test_known_pairs_merge_and_hard_negatives_do_not() -> None:
    df = _frame(ROWS)
    result = match(df, MatchSettings())
    groups = _groups(df, result.clusters)
    assert frozenset({"zw1", "zw2", "zw3"}) in groups
    for key in ("zw4", "zw5", "wf", "wq", "lj1", "lj2"):
        assert frozenset({key}) in groups, key
    scores = {(r["left"], r["right"]): r["score"] for r in result.pairs.iter_rows(named=True)}
    assert scores[(5, 6)] < 0.5  # 王芳 / 王强: shared landline only
    assert scores[(7, 8)] < 0.5  # 李建国 father / son
    assert scores[(3, 4)] < 0.8  # 张伟 / 张伟 in different cities with different phones


def test_candidate_pairs_union_rules() -> None:
    df = _frame(ROWS)
    pairs = candidate_pairs(df, MatchSettings())
    assert pairs.columns == ["left", "right", "rules"]
    assert (pairs["left"] < pairs["right"]).all()
    assert pairs.select("left", "right").is_duplicated().sum() == 0
    rules = {(r["left"], r["right"]): r["rules"] for r in pairs.iter_rows(named=True)}
    assert rules[(1, 2)] == ["phone", "email"]
    assert rules[(3, 4)] == ["name_key+company_key"]
    assert (0, 3) not in rules  # same name only: not a candidate


def test_phones_list_is_exploded_and_compared_by_overlap() -> None:
    df = pl.DataFrame(
        {
            "_rid": [10, 11],
            "full_name": ["陈静", "陈静"],
            "phones": [["+8613800138000", "+8601012345678"], ["+8601012345678"]],
        }
    )
    settings = MatchSettings(blocking=[["phones"]])
    pairs = candidate_pairs(df, settings)
    assert pairs.select("left", "right").rows() == [(10, 11)]
    scored = score_pairs(df, pairs, settings)
    assert scored["sim_phone"].to_list() == [1.0]
    assert scored["sim_email"].to_list() == [None]  # absent column: unknown, not different
    assert scored["score"].to_list() == [1.0]


def test_chain_merges_but_a_shared_switchboard_does_not() -> None:
    rows = [
        _person("a", "刘洋", "liu yang", phone="+8613700001111", email="liuyang@qq.com"),
        _person("b", "刘洋", "liu yang", phone="+8613700001111", email="ly@163.com"),
        _person("c", "刘洋", "liu yang", phone="+8601088889999", email="ly@163.com"),
        _person("d", "孙丽", "sun li", phone="+8601088889999", email="sunli@corp.cn"),
    ]
    df = _frame(rows)
    groups = _groups(df, match(df, MatchSettings()).clusters)
    assert groups == {frozenset({"a", "b", "c"}), frozenset({"d"})}


def test_shuffled_input_gives_the_same_clusters() -> None:
    df = _frame(ROWS)
    expected = _groups(df, match(df, MatchSettings()).clusters)
    for seed in (1, 2, 3):
        shuffled = df.drop("_rid").sample(fraction=1.0, shuffle=True, seed=seed)
        shuffled = shuffled.with_row_index("_rid").with_columns(pl.col("_rid").cast(pl.Int64) * 7 + 100)
        assert _groups(shuffled, match(shuffled, MatchSettings()).clusters) == expected


def test_cluster_labels_are_the_smallest_rid() -> None:
    scored = pl.DataFrame({"left": [5, 1, 30], "right": [9, 5, 40], "score": [0.9, 0.95, 0.5]})
    out = cluster([40, 30, 9, 5, 1, 2], scored, threshold=0.8)
    assert out.rows() == [(1, 1), (2, 2), (5, 1), (9, 1), (30, 30), (40, 40)]
    with pytest.raises(ValueError, match="not among rids"):
        cluster([1, 5], scored, threshold=0.8)


def test_blocking_error_names_the_rule_and_estimate() -> None:
    df = pl.DataFrame({"_rid": list(range(100)), "city": ["北京"] * 100})
    with pytest.raises(BlockingError, match=r"'city' would produce about 4,950 candidate pairs"):
        candidate_pairs(df, MatchSettings(blocking=[["city"]], max_pairs=1000))


def test_rid_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        candidate_pairs(pl.DataFrame({"_rid": [1, 1], "phone": ["x", "x"]}), MatchSettings())
