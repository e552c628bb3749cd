from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import polars as pl
import pytest

from rules.match import Compared, Comparer, MatchSettings, build_comparisons, prepare_records, side_table

from .conftest import records


def _levels(left: dict[str, Any], right: dict[str, Any], comparison: str, **norm: str) -> str:
    """The level label of one comparison for one pair of inline rows."""
    df = prepare_records(records([left, right], **norm))
    comparer = Comparer(df, MatchSettings())
    compared = comparer.compare(np.array([0]), np.array([1]))
    spec = next(c for c in comparer.comparisons if c.name == comparison)
    index = int(compared.levels[comparison][0])
    return "null" if index == 0 else spec.labels[index - 1]


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("张伟", "张伟", "exact"),
        ("张伟", "張偉", "exact"),  # simplified by the normaliser
        ("Zhang Wei", "Wei Zhang", "same_key"),
        ("张伟", "Wei Zhang", "same_key"),
        ("唐艳琳", "Tang Yan Lin", "same_key"),
        ("Bob Smith", "Robert Smith", "same_key"),
        ("Jonathan Smith", "Jonahtan Smith", "typo"),
        ("Eliza Smith", "Bess Smith", "same_key"),  # two nicknames of Elizabeth (the nicknames dataset)
        ("Smith, Jonathan", "Jonatan Smith", "typo"),
        ("Jonathan Smith", "Jonathon Smyth", "fuzzy"),
        ("欧阳晓明", "欧阳晓敏", "typo"),  # one hanzi of a long name, same sound
        ("J. Smith", "John Smith", "initial"),
        ("Cass Evans", "Cassandra Evans", "initial"),  # a short form no nickname list has
        ("Sam Evans", "Samantha Evans", "same_key"),  # a nickname
        ("Topher Evans", "Christopher Evans", "initial"),  # a short form cut from the end
        ("Lotte Evans", "Charlotte Evans", "initial"),  # … or from the middle
        ("Ian Evans", "Brian Evans", "other_given"),  # three letters inside another name: siblings, not a short form
        ("Jane Evans", "Sarah-Jane Evans", "initial"),  # one part of a double given name
        ("陈总", "陈芳", "family_only"),
        ("Burworth", "Catherine Burwotrh", "family_only"),  # no given name on one side, the family name mistyped
        ("Smith", "John Jones", "else"),
        ("王芳", "王强", "same_family"),  # siblings, colleagues of one surname: not a typo
        ("Emma Brown", "Liam Brown", "other_given"),  # twins, siblings: given names start differently
        ("Fheo Murray", "Theo Murray", "same_family"),  # a slip of the first letter is not another given name
        ("Aaron Smith", "Veronica Smith", "other_given"),  # they only share the nickname Ron
        ("Chloe Blenford", "Carl Blenford", "same_family"),  # a long shared surname is not a fuzzy name
        ("Mary Brown", "Mary Jones", "same_given"),  # a married name
        ("张伟", "李伟", "else"),  # other surname in hanzi: another person
        ("王芳", "李娜", "else"),
    ],
)
def test_name_levels(a: str, b: str, level: str) -> None:
    assert _levels({"full_name": a}, {"full_name": b}, "name") == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("John Smith Jr", "John Smith Sr", "other_generation"),
        ("John Smith Jnr", "John Smith", "same_key"),  # a suffix on one side only says nothing
    ],
)
def test_generations_of_one_name(a: str, b: str, level: str) -> None:
    assert _levels({"full_name": a}, {"full_name": b}, "name") == level


def test_a_missing_name_is_null_not_different() -> None:
    assert _levels({"full_name": "张伟"}, {"phone": "13812345678"}, "name") == "null"


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("1985-03-05", "1985-03-05", "exact"),
        ("1985-03-05", "1985-05-03", "day_month_swapped"),
        ("1985-03-05", "1985-03-06", "one_edit"),
        ("1985-03-05", "1958-03-05", "one_edit"),  # two digits transposed
        ("1985-03-05", "1986-03-05", "one_edit"),
        ("1985-03-05", "1984-11-20", "within_1_year"),
        ("1985-03-05", "1982-01-01", "within_5_years"),
        ("1985-03-05", "1975-01-01", "within_15_years"),
        ("1955-03-01", "1982-07-15", "else"),  # father and son
    ],
)
def test_birth_date_levels(a: str, b: str, level: str) -> None:
    assert _levels({"birth_date": a}, {"birth_date": b}, "birth_date") == level


def test_one_edit_is_the_optimal_string_alignment_distance_of_the_dates() -> None:
    # one_edit is computed digit by digit on the dates as numbers: it must say what OSA distance 1 on the YYYYMMDD
    # text says, for every kind of slip (a digit, two neighbours swapped, two digits, a date moved)
    from datetime import date, timedelta

    from rapidfuzz.distance import OSA

    rng = np.random.default_rng(7)
    left, right = [], []
    while len(left) < 3000:
        a = (date(1930, 1, 1) + timedelta(days=int(rng.integers(0, 30_000)))).strftime("%Y%m%d")
        digits = list(a)
        kind = rng.integers(0, 4)
        k = int(rng.integers(0, 7))
        if kind == 0:
            digits[k] = str(rng.integers(0, 10))
        elif kind == 1:
            digits[k], digits[k + 1] = digits[k + 1], digits[k]
        elif kind == 2:
            for j in rng.choice(8, size=2, replace=False):
                digits[j] = str(rng.integers(0, 10))
        else:
            digits = list(
                (date.fromisoformat(f"{a[:4]}-{a[4:6]}-{a[6:]}") + timedelta(days=int(rng.integers(1, 900)))).strftime(
                    "%Y%m%d"
                )
            )
        b = "".join(digits)
        try:
            date(int(b[:4]), int(b[4:6]), int(b[6:]))
        except ValueError:
            continue
        if not 1920 <= int(b[:4]) <= 2020:  # a birth date the normaliser would reject as implausible
            continue
        left.append(a)
        right.append(b)
    df = prepare_records(records([{"birth_date": d} for d in left + right]))
    comparer = Comparer(df, MatchSettings())
    labels = next(c for c in comparer.comparisons if c.name == "birth_date").labels
    n = len(left)
    found = [labels[i - 1] for i in comparer.compare(np.arange(n), np.arange(n) + n).levels["birth_date"]]
    wrong = [
        (a, b, level)
        for a, b, level in zip(left, right, found, strict=True)
        if level not in ("exact", "day_month_swapped") and (level == "one_edit") != (OSA.distance(a, b) == 1)
    ]
    assert not wrong, wrong[:10]
    assert found.count("one_edit") > 500


def test_phone_levels_tell_a_personal_mobile_from_a_shared_line() -> None:
    rows = [
        {"key": "a", "full_name": "王芳", "phone": "13812345678"},
        {"key": "b", "full_name": "王芳", "phone": "138 1234 5678"},
        # a switchboard on four records of four names
        *(
            {"key": f"s{i}", "full_name": n, "phone": "0635-8123456"}
            for i, n in enumerate(["孙丽", "刘洋", "周杰", "吴敏"])
        ),
        {"key": "c", "full_name": "李娜", "phone": "0635-8999999"},
        {"key": "d", "full_name": "李娜", "phone": "0635-8999999"},
    ]
    df = prepare_records(records(rows))
    comparer = Comparer(df, MatchSettings())
    labels = next(c for c in comparer.comparisons if c.name == "phone").labels
    pairs = {(0, 1): "same_mobile", (2, 3): "shared", (6, 7): "same_line", (0, 6): "else"}
    compared = comparer.compare(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
    found = [labels[i - 1] for i in compared.levels["phone"]]
    assert found == list(pairs.values())


def test_a_wrong_country_code_still_agrees_on_the_national_number() -> None:
    assert _levels({"phone": "+1 212 517 1640"}, {"phone": "+86 21 2517 1640"}, "phone") == "same_national"


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("15901558279", "15901558297", "mobile_typo"),  # two neighbouring digits swapped
        ("13918796285", "13918706285", "mobile_typo"),  # one digit mistyped
        ("13912345678", "13912345679", "else"),  # the last digit alone: numbers bought together (a family's)
        ("13918796285", "13918706284", "else"),  # two slips: another number
        ("0635-8123456", "0635-8123465", "else"),  # landlines: the direct lines of one office are neighbours
    ],
)
def test_a_mistyped_mobile_is_its_own_level(a: str, b: str, level: str) -> None:
    assert _levels({"phone": a}, {"phone": b}, "phone") == level


def test_email_levels() -> None:
    assert _levels({"email": "lixin1985@qq.com"}, {"email": "lixin1985@qq.com"}, "email") == "exact"
    assert _levels({"email": "sales@acme.cn"}, {"email": "sales@acme.cn"}, "email") == "shared"  # a role mailbox
    assert _levels({"email": "kx8812@qq.com"}, {"email": "kx8812@163.com"}, "email") == "same_local"
    assert _levels({"email": "liwei88@qq.com"}, {"email": "zhangfang@163.com"}, "email") == "else"


def test_company_levels_see_a_brand_inside_the_full_name() -> None:
    full = {"company": "泰安市正宇钢管有限公司"}
    assert _levels(full, {"company": "正宇钢管"}, "company") == "exact"  # region and legal form dropped
    assert _levels(full, {"company": "正宇"}, "company") == "contains"
    assert _levels(full, {"company": "Zhengyu Steel Pipe Co., Ltd."}, "company") == "exact"  # same pinyin key
    assert _levels({"company": "Acme Group Ltd"}, {"company": "Acme Grp"}, "company") in ("fuzzy", "contains")
    assert _levels(full, {"company": "华兴科技"}, "company") == "else"


def test_a_company_in_hanzi_and_in_english_agree_on_the_brand() -> None:
    hanzi = {"company": "聊城汇盛商贸有限公司"}
    assert _levels(hanzi, {"company": "Huisheng Trading Company Limited"}, "company") == "contains"
    assert _levels({"company": "济南巨隆阀门有限公司"}, {"company": "Julong Valve Co., Ltd"}, "company") == "contains"
    assert _levels(hanzi, {"company": "Haizhong Technology Co., Ltd"}, "company") == "else"
    assert _levels(hanzi, {"company": "Huiyuan Trading Ltd"}, "company") == "else"  # one syllable alike is not enough


def test_address_levels() -> None:
    base = {"address": "12 High St", "city": "Bristol", "postcode": "BS1 4DJ"}
    assert _levels(base, {"address": "12 High Street", "city": "Bristol"}, "address", region="GB") == "same_street"
    other_number = {"address": "40 High Street", "city": "Bristol"}
    assert _levels(base, other_number, "address", region="GB") == "same_street_name"
    assert _levels(base, {"address": "1 Low Road", "postcode": "BS1 4DJ"}, "address", region="GB") == "same_postcode"
    assert _levels(base, {"address": "1 Low Road", "city": "Bath"}, "address", region="GB") == "else"


def test_every_level_owns_label_condition_and_starting_values() -> None:
    for comparison in build_comparisons(MatchSettings()):
        assert comparison.labels[-1] in ("else", "different")
        assert len(set(comparison.labels)) == len(comparison.labels)
        assert comparison.m_start.sum() == pytest.approx(1.0)
        assert comparison.r_start.sum() == pytest.approx(1.0)
        assert comparison.m_start.max() > comparison.m_start[-1]  # matches mostly agree
    identity = {c.name for c in build_comparisons(MatchSettings()) if c.identity}
    assert identity == {"name", "birth_date", "gender"}


@pytest.mark.parametrize("rids", [[0, 1, 2], [3, 7, 9]])
def test_pairs_must_reference_known_records(rids: list[int]) -> None:
    df = records([{"full_name": "张伟"}, {"full_name": "张伟"}, {"full_name": "李娜"}]).with_columns(
        pl.Series("_rid", rids, dtype=pl.Int64)
    )
    comparer = Comparer(prepare_records(df), MatchSettings())
    name = comparer.comparisons[0]
    assert name.labels[comparer.compare(np.array([rids[0]]), np.array([rids[1]])).levels["name"][0] - 1] == "exact"
    with pytest.raises(ValueError, match="not among the records"):
        comparer.compare(np.array([rids[0]]), np.array([100]))


def _mixed_records() -> pl.DataFrame:
    """Sixty prepared records mixing scripts, spellings, shared numbers, e-mails, companies and missing values."""
    names = ["张伟", "張偉", "张 伟", "Zhang Wei", "王芳", "王方", "李娜", "Li Na", "John Smith", "Jon Smith", None]
    phones = ["13800138000", "138-0013-8000", "0635-8211111", "13900139000", None]
    streets = ["东昌路1号", "东昌路 1 号", "Main St 5", None]
    emails = ["zhangwei@163.com", "sales@acme.cn", "li.na@qq.com", None, None]
    companies = ["聊城华信科技有限公司", "华信科技", "Acme Ltd", None]
    rows = [
        {
            "key": str(i),
            "full_name": names[i % len(names)],
            "phone": phones[i % len(phones)],
            "email": emails[i % len(emails)],
            "company": companies[i % len(companies)],
            "address": streets[i % len(streets)],
            "birth_date": f"1980-0{1 + i % 9}-1{i % 10}" if i % 3 else None,
        }
        for i in range(60)
    ]
    return prepare_records(records(rows))


def _assert_same(whole: Compared, other: Compared) -> None:
    assert whole.levels.keys() == other.levels.keys() and whole.tf.keys() == other.tf.keys()
    for name in whole.levels:
        np.testing.assert_array_equal(whole.levels[name], other.levels[name])
    for name in whole.tf:
        np.testing.assert_array_equal(whole.tf[name], other.tf[name])
    np.testing.assert_array_equal(whole.veto, other.veto)


def test_pairs_compared_in_threaded_chunks_get_the_levels_of_one_pass() -> None:
    """Chunks are compared two at a time in threads: whatever the chunk size, every pair keeps its own levels and
    term frequencies, in the order of the pairs (and a column's value codes are made once, under a lock)."""
    df = _mixed_records()
    left, right = np.triu_indices(df.height, k=1)
    whole = Comparer(df, MatchSettings()).compare(left, right, chunk=len(left))
    _assert_same(whole, Comparer(df, MatchSettings()).compare(left, right, chunk=7))
    assert len({int(v) for v in whole.levels["name"]}) > 3  # the pairs reach several levels


def test_a_subset_of_the_side_table_compares_its_pairs_as_the_whole_table() -> None:
    """A Dask task carries only its pairs' records (``SideTable.subset``, pickled as a worker receives it):
    frequencies, e-mail holders and the statistics of the numbers those records hold stay the whole population's,
    so every pair gets the levels and term frequencies the whole table gives it."""
    df = _mixed_records()
    settings = MatchSettings(training={"tf_min_records": 10})
    table = side_table(df, settings)
    left, right = np.triu_indices(df.height, k=1)
    order = np.random.default_rng(7).permutation(len(left))  # chunks of pairs scattered over the records
    left, right = left[order], right[order]
    whole = Comparer.of(table, settings).compare(left, right)
    parts = []
    for start in range(0, len(left), 60):
        lpart, rpart = left[start : start + 60], right[start : start + 60]
        subset = table.subset(np.unique(np.concatenate([lpart, rpart])))
        assert subset.side.height < table.side.height and subset.numbers.height <= table.numbers.height
        sent = pickle.loads(pickle.dumps(subset))  # as a worker receives it (Arrow IPC)
        assert sent.side.schema == subset.side.schema and sent.numbers.equals(subset.numbers)
        parts.append(Comparer.of(sent, settings).compare(lpart, rpart))
    _assert_same(whole, Compared.concat(parts))
    assert whole.tf and len({int(v) for v in whole.levels["phone"]}) > 2  # frequencies and number levels in play
