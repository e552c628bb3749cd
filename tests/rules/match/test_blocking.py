from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pydantic import ValidationError

from rules.match import (
    MAX_BLOCKING_RULES,
    BlockingError,
    BlockingRule,
    MatchSettings,
    candidate_pairs,
    derive_rules,
    estimate_pairs,
    prepare_records,
    with_rule_names,
)
from rules.match.blocking import estimate_recall, rule_bits, sample_pairs

from .conftest import PEOPLE_CONFIG, records

PEOPLE = [
    {"key": "a", "full_name": "John Smith", "birth_date": "1980-01-02", "address": "1 High St", "postcode": "2000"},
    {"key": "b", "full_name": "Jon Smith", "birth_date": "1980-01-02", "address": "9 Low Rd", "postcode": "3000"},
    {"key": "c", "full_name": "Mary Jones", "birth_date": "1975-05-05", "address": "1 High St", "postcode": "2000"},
]


def test_rules_are_derived_from_the_columns_a_table_has() -> None:
    people = prepare_records(records(PEOPLE, region="AU"))
    plan = derive_rules(people, MatchSettings())
    names = [r.name for r in plan.rules]
    assert plan.auto
    assert any(n.startswith("name_key+_dob") for n in names)
    assert any(n.startswith("_dob+postcode") for n in names)
    assert not any("_mobiles" in n or n.startswith("email") for n in names)  # no phone or e-mail here
    assert "_mobiles≤8" in plan.dropped and "too few values" in plan.dropped["_mobiles≤8"]
    crm = prepare_records(records([{"full_name": "王芳", "phone": "13812345678", "email": "wf@qq.com"}] * 2))
    crm_names = [r.name for r in derive_rules(crm, MatchSettings()).rules]
    assert "_mobiles≤8" in crm_names and "email≤8" in crm_names
    assert not any("_dob" in n for n in crm_names)


def test_a_table_without_phone_or_email_still_finds_its_duplicates() -> None:
    people = prepare_records(records(PEOPLE, region="AU"))
    pairs = candidate_pairs(people, list(derive_rules(people, MatchSettings()).rules))
    assert (0, 1) in pairs.select("left", "right").rows()  # same family name and birth date, other address


def test_blocks_bigger_than_max_block_are_left_out() -> None:
    df = pl.DataFrame({"_rid": list(range(12)), "name_key": ["weizhang"] * 10 + ["linli", "linli"]})
    pairs = candidate_pairs(df, [BlockingRule(on=("name_key",), max_block=5)])
    assert pairs.select("left", "right").rows() == [(10, 11)]
    assert estimate_pairs(df, [BlockingRule(on=("name_key",))]) == {"name_key": 46}
    assert estimate_pairs(df, [BlockingRule(on=("name_key",), max_block=5)]) == {"name_key≤5": 1}


def test_an_automatic_rule_is_capped_to_fit_max_pairs() -> None:
    df = prepare_records(
        pl.DataFrame({"_rid": list(range(300)), "full_name": ["张伟"] * 300, "birth_date": ["1980-01-01"] * 300})
    )
    plan = derive_rules(df, MatchSettings(max_pairs=100))
    assert all(estimate <= 100 for estimate in plan.estimates.values())


def test_listed_rules_union_and_errors_name_the_rule() -> None:
    df = pl.DataFrame({"_rid": list(range(100)), "city": ["北京"] * 100, "email": [f"{i}@x.cn" for i in range(100)]})
    # a value too common to block on (100 rows of one city) is skipped and said so; the run goes on
    settings = MatchSettings.model_validate({"blocking": [["email"], ["city"]], "max_pairs": 1000})
    capped = derive_rules(df, settings)
    assert [r.name for r in capped.rules] == ["email", "city≤62"]
    assert capped.dropped["city"].startswith("about 4,950 pairs (max_pairs 1,000): blocks of more than 62 records")
    assert "the largest: 100 records share one value" in capped.dropped["city"]
    ok = MatchSettings.model_validate({"blocking": [["email"], {"on": ["city"], "max_block": 200}, ["nope"]]})
    plan = derive_rules(df, ok)
    assert [r.name for r in plan.rules] == ["email", "city≤200"]
    assert plan.dropped == {"nope": "no column nope"}
    with pytest.raises(BlockingError, match="no blocking rule can be used"):
        derive_rules(df, MatchSettings.model_validate({"blocking": [["nope"]]}))


def test_candidate_pairs_are_unique_ordered_and_say_which_rules_proposed_them() -> None:
    df = pl.DataFrame(
        {
            "_rid": [10, 11, 12, 13],
            "_mobiles": [["+8613800138000"], ["+8613800138000"], [], ["+8613911112222"]],
            "email": ["a@x.cn", "a@x.cn", "c@x.cn", "c@x.cn"],
        }
    )
    rules = [BlockingRule(on=("_mobiles",)), BlockingRule(on=("email",))]
    pairs = candidate_pairs(df, rules)
    assert pairs.select("left", "right").rows() == [(10, 11), (12, 13)]
    assert pairs["rules"].to_list() == [["_mobiles", "email"], ["email"]]
    bits = candidate_pairs(df, rules, named=False)  # the matcher's form: bit i for rules[i]
    assert bits.rows() == [(10, 11, 0b11), (12, 13, 0b10)]
    assert_frame_equal(with_rule_names(bits, rules), pairs)


@pytest.mark.parametrize("base", [0, -(2**40), 2**33], ids=["small", "negative", "large"])
@pytest.mark.parametrize("spread", [1, 2**26, 2**33], ids=["near", "just packed", "far apart"])
def test_candidate_pairs_do_not_depend_on_the_rid_values(base: int, spread: int) -> None:
    """Pairs are sorted as one 64-bit number with their rule when the ``_rid`` values span at most 2^28 (3 * 2^26
    uses nearly all 64 bits), else grouped on both columns: either way the same pairs, sorted, each once, with
    their rules."""
    rids = [base + 3 * spread, base, base + spread, base + 2 * spread]
    df = pl.DataFrame(
        {"_rid": rids, "email": ["a@x.cn", "a@x.cn", "a@x.cn", "c@x.cn"], "name_key": ["w", "w", "q", "q"]}
    )
    pairs = candidate_pairs(df, [BlockingRule(on=("email",)), BlockingRule(on=("name_key",))])
    r = sorted(rids)
    assert pairs.rows() == [
        (r[0], r[1], ["email"]),
        (r[0], r[3], ["email", "name_key"]),
        (r[1], r[2], ["name_key"]),
        (r[1], r[3], ["email"]),
    ]
    alone = candidate_pairs(df.with_columns(pl.Series("email", ["a", "b", "c", "d"])), [BlockingRule(on=("email",))])
    assert alone.height == 0
    assert alone.schema == {
        "left": pairs.schema["left"],
        "right": pairs.schema["right"],
        "rules": pl.List(pl.Enum(["email"])),
    }


@pytest.mark.parametrize("spread", [1, 2**33], ids=["packed", "grouped"])
def test_a_pair_met_in_several_blocks_of_a_rule_names_the_rule_once(spread: int) -> None:
    """Two records sharing two numbers meet in two blocks of the number rule; rules keep their listed order
    (whether the pairs are packed into one number or, for ``_rid`` values far apart, grouped on both columns)."""
    df = pl.DataFrame(
        {
            "_rid": [0, spread, 2 * spread],
            "_mobiles": [["+8613800138000", "+8613911112222"], ["+8613911112222", "+8613800138000"], None],
            "email": ["a@x.cn", "a@x.cn", "a@x.cn"],
            "name_key": ["zhangwei", "zhangwei", "liqiang"],
        }
    )
    rules = [BlockingRule(on=("name_key",)), BlockingRule(on=("email",)), BlockingRule(on=("_mobiles",))]
    pairs = candidate_pairs(df, rules)
    assert pairs.rows() == [
        (0, spread, ["name_key", "email", "_mobiles"]),
        (0, 2 * spread, ["email"]),
        (spread, 2 * spread, ["email"]),
    ]
    too_many = [BlockingRule(on=("email",), max_block=n) for n in range(2, 2 + MAX_BLOCKING_RULES + 1)]
    with pytest.raises(ValueError, match="at most 62"):
        candidate_pairs(df, too_many)
    with pytest.raises(ValidationError):
        MatchSettings(blocking=too_many)


def test_incremental_blocking_keeps_only_pairs_with_a_new_record() -> None:
    df = prepare_records(records(PEOPLE * 2, region="AU"))
    rules = list(derive_rules(df, MatchSettings()).rules)
    new = pl.Series([1, 4])
    pairs = candidate_pairs(df, rules, new=new)
    full = candidate_pairs(df, rules)
    expected = full.filter(pl.col("left").is_in(new.implode()) | pl.col("right").is_in(new.implode()))
    assert pairs.equals(expected)


def test_recall_is_estimated_from_the_sure_pairs() -> None:
    # 100 people, two records each: every duplicate agrees on the name; half also on the birth date
    rows = []
    for i in range(100):
        name = f"name{i:03d}"
        rows.append({"_rid": 2 * i, "name_key": name, "_dob": f"1980{i % 12 + 1:02d}01"})
        rows.append({"_rid": 2 * i + 1, "name_key": name, "_dob": f"1980{i % 12 + 1:02d}01" if i % 2 else None})
    df = pl.DataFrame(rows)
    by_dob = [BlockingRule(on=("_dob",), max_block=1000)]
    both = [*by_dob, BlockingRule(on=("name_key",))]
    pairs = candidate_pairs(df, both)
    rows = pairs.select("left", "right").rows()
    sure = np.array([1.0 if (b - a == 1 and a % 2 == 0) else 0.0 for a, b in rows])
    recall = estimate_recall(df, both, pairs, sure)
    assert recall["total"] == pytest.approx(1.0)
    assert recall["name_key"] == pytest.approx(1.0)
    assert recall["_dob≤1000"] == pytest.approx(0.5, abs=0.05)


def test_each_big_set_of_pairs_is_sampled_beyond_a_limit(
    people: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    # a set: the pairs one same set of rules proposed (the pairs only loose rules propose: one set)
    prepared = prepare_records(people[0])
    rules = list(derive_rules(prepared, PEOPLE_CONFIG.match).rules)
    pairs = candidate_pairs(prepared, rules)
    names = [rule.name for rule in rules]
    trained = sum(1 << i for i, rule in enumerate(rules) if rule.train)
    bits = rule_bits(pairs["rules"], names)
    key = np.where((bits & trained) == 0, -1, bits)
    sizes = pl.Series(key).value_counts(sort=True)
    largest, second = sizes["count"][0], sizes["count"][1]
    assert sample_pairs(pairs, rules, largest, seed=7) is None  # within the limit: untouched

    limit = second // 2  # the two biggest sets over it
    sampled = sample_pairs(pairs, rules, limit, seed=7)
    assert sampled is not None
    assert pl.concat([sampled.pairs, sampled.left_out]).sort("left", "right").equals(pairs)  # nothing lost or twice
    big = sizes.filter(pl.col("count") > limit)
    assert big.height >= 2 and sampled.group.max() == big.height - 1
    for g, (rule_set, size) in enumerate(big.sort(big.columns[0]).iter_rows()):
        in_sample = sampled.group == g
        assert in_sample.sum() == limit and (sampled.left_group == g).sum() == size - limit
        assert np.allclose(sampled.weight[in_sample], size / limit)
        kept_bits = rule_bits(sampled.pairs["rules"], names)[in_sample]
        assert (np.where((kept_bits & trained) == 0, -1, kept_bits) == rule_set).all()
    assert (sampled.weight[sampled.group == -1] == 1).all()
    again = sample_pairs(pairs, rules, limit, seed=7)
    assert again is not None and again.pairs.equals(sampled.pairs)  # the same sample every run
    other = sample_pairs(pairs, rules, limit, seed=8)
    assert other is not None and not other.pairs.equals(sampled.pairs)
