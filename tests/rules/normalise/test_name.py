from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.normalise import fold_ascii, normalise_name, soundex

from ._helpers import check_case, check_contract, idempotent, load_table, run_one

# raw, value, family, given, title, pinyin, key
CASES: list[tuple[str, str | None, str | None, str | None, str | None, str | None, str | None]] = [
    ("张伟", "张伟", "张", "伟", None, "zhang wei", "weizhang"),
    ("張偉", "张伟", "张", "伟", None, "zhang wei", "weizhang"),
    ("  张　伟 ", "张伟", "张", "伟", None, "zhang wei", "weizhang"),
    ("王 小 明", "王小明", "王", "小明", None, "wang xiaoming", "wangxiaoming"),
    ("Zhang Wei", "Zhang Wei", "Zhang", "Wei", None, "zhang wei", "weizhang"),
    ("Wei Zhang", "Wei Zhang", "Zhang", "Wei", None, "zhang wei", "weizhang"),
    ("ZHANG Wei", "ZHANG Wei", "ZHANG", "Wei", None, "zhang wei", "weizhang"),
    ("Wei ZHANG", "Wei ZHANG", "ZHANG", "Wei", None, "zhang wei", "weizhang"),
    ("zhangwei", "Zhangwei", "Zhang", "wei", None, "zhang wei", "weizhang"),
    ("ZHANG WEI", "Zhang Wei", "Zhang", "Wei", None, "zhang wei", "weizhang"),
    ("Xiao Ming Zhang", "Xiao Ming Zhang", "Zhang", "Xiao Ming", None, "zhang xiaoming", "xiaomingzhang"),
    ("Li Na", "Li Na", "Li", "Na", None, "li na", "lina"),
    ("Ouyang Feng", "Ouyang Feng", "Ouyang", "Feng", None, "ouyang feng", "fengouyang"),
    ("Feng Ouyang", "Feng Ouyang", "Ouyang", "Feng", None, "ouyang feng", "fengouyang"),
    ("欧阳锋", "欧阳锋", "欧阳", "锋", None, "ouyang feng", "fengouyang"),
    ("司马光", "司马光", "司马", "光", None, "sima guang", "guangsima"),
    ("诸葛亮", "诸葛亮", "诸葛", "亮", None, "zhuge liang", "liangzhuge"),
    ("上官婉儿", "上官婉儿", "上官", "婉儿", None, "shangguan waner", "shangguanwaner"),
    ("尉迟恭", "尉迟恭", "尉迟", "恭", None, "yuchi gong", "gongyuchi"),
    ("单田芳", "单田芳", "单", "田芳", None, "shan tianfang", "shantianfang"),
    ("曾国藩", "曾国藩", "曾", "国藩", None, "zeng guofan", "guofanzeng"),
    ("解缙", "解缙", "解", "缙", None, "xie jin", "jinxie"),
    ("仇英", "仇英", "仇", "英", None, "qiu ying", "qiuying"),
    ("朴槿惠", "朴槿惠", "朴", "槿惠", None, "piao jinhui", "jinhuipiao"),
    ("翟志刚", "翟志刚", "翟", "志刚", None, "zhai zhigang", "zhaizhigang"),
    ("吕布", "吕布", "吕", "布", None, "lv bu", "bulv"),
    ("王先生", "王", "王", None, "先生", "wang", "wang"),
    ("李女士", "李", "李", None, "女士", "li", "li"),
    ("张总", "张", "张", None, "总", "zhang", "zhang"),
    ("王总经理", "王", "王", None, "总经理", "wang", "wang"),
    ("刘老师", "刘", "刘", None, "老师", "liu", "liu"),
    ("陈博士", "陈", "陈", None, "博士", "chen", "chen"),
    ("张伟经理", "张伟", "张", "伟", "经理", "zhang wei", "weizhang"),
    ("张伟 先生", "张伟", "张", "伟", "先生", "zhang wei", "weizhang"),
    ("张伟（经理）", "张伟", "张", "伟", "经理", "zhang wei", "weizhang"),
    ("马董事长", "马", "马", None, "董事长", "ma", "ma"),
    ("Dr. John Smith", "John Smith", "Smith", "John", "Dr", "smith john", "johnsmith"),
    ("Mr John Smith", "John Smith", "Smith", "John", "Mr", "smith john", "johnsmith"),
    ("Mrs. Jane Doe", "Jane Doe", "Doe", "Jane", "Mrs", "doe jane", "doejane"),
    ("John Smith, PhD", "John Smith", "Smith", "John", "PhD", "smith john", "johnsmith"),
    ("Prof. Dr. Hans Müller", "Hans Müller", "Müller", "Hans", "Prof Dr", "muller hans", "hansmuller"),
    ("Ms. Li Na", "Li Na", "Li", "Na", "Ms", "li na", "lina"),
    ("Smith, John", "Smith, John", "Smith", "John", None, "smith john", "johnsmith"),
    ("Smith, John A.", "Smith, John A.", "Smith", "John A.", None, "smith john a", "johnsmith"),
    ("John A. Smith", "John A. Smith", "Smith", "John A.", None, "smith john a", "johnsmith"),
    ("Bob Smith", "Bob Smith", "Smith", "Bob", None, "smith bob", "robertsmith"),
    ("Robert Smith", "Robert Smith", "Smith", "Robert", None, "smith robert", "robertsmith"),
    ("Kate Brown", "Kate Brown", "Brown", "Kate", None, "brown kate", "brownkatherine"),
    ("john smith", "John Smith", "Smith", "John", None, "smith john", "johnsmith"),
    ("JOHN SMITH", "John Smith", "Smith", "John", None, "smith john", "johnsmith"),
    ("Ludwig van Beethoven", "Ludwig van Beethoven", "van Beethoven", "Ludwig", None, None, None),
    ("MARY O'BRIEN", "Mary O'Brien", "O'Brien", "Mary", None, "obrien mary", "maryobrien"),
    ("José García", "José García", "García", "José", None, "garcia jose", "garciajose"),
    ("Joann Ann", "Joann Ann", "Ann", "Joann", None, "ann joann", "annjoann"),
    ("JOANN ANN", "Joann Ann", "Ann", "Joann", None, "ann joann", "annjoann"),
    ("Martin Luther King Jr.", "Martin Luther King Jr.", "King", "Martin Luther", None, None, None),
    ("张伟 David", "张伟 David", "张", "伟", None, "zhang wei", "weizhang"),
    ("阿卜杜·热合曼", "阿卜杜·热合曼", None, None, None, None, None),
]


@pytest.mark.parametrize(("raw", "value", "family", "given", "title", "pinyin", "key"), CASES)
def test_name_cases(
    raw: str,
    value: str | None,
    family: str | None,
    given: str | None,
    title: str | None,
    pinyin: str | None,
    key: str | None,
) -> None:
    row = run_one(normalise_name, raw)
    assert row["value"] == value
    assert row["family_name"] == family
    assert row["given_name"] == given
    assert row["name_title"] == title
    if pinyin is not None:
        assert row["name_pinyin"] == pinyin
    if key is not None:
        assert row["name_key"] == key


@pytest.mark.parametrize(
    "raw",
    [
        "asdf",
        "test",
        "Test",
        "测试",
        "xxx",
        "123",
        "N/A",
        "n/a",
        "-",
        "<script>alert(1)</script>",
        "<b>x</b>",
        "http://example.com",
        "www.example.com",
        "zs@qq.com",
        "aaaa",
        "啊啊啊",
        "x",
        "先生",
        "Mr.",
        "qwerty",
        "张伟123",
        "北京华兴科技有限公司",
        "Acme Co., Ltd.",
        "某某",
        "匿名",
        "客户",
        "...",
        "?",
    ],
)
def test_not_a_name(raw: str) -> None:
    row = run_one(normalise_name, raw)
    assert row["value"] is None
    assert row["issues"] == ["not_a_name"]
    assert row["name_key"] is None


@pytest.mark.parametrize("raw", ["", "  ", None])
def test_empty(raw: str | None) -> None:
    assert run_one(normalise_name, raw)["issues"] == ["empty"]


def test_issue_codes() -> None:
    assert run_one(normalise_name, "張偉")["issues"] == ["traditional"]
    assert run_one(normalise_name, "张伟 David")["issues"] == ["mixed_script"]
    assert run_one(normalise_name, "张伟")["issues"] == []


def test_same_person_same_key() -> None:
    spellings = [
        "张伟",
        "張偉",
        "Zhang Wei",
        "Wei Zhang",
        "ZHANG Wei",
        "zhangwei",
        "张伟先生",
        "Mr. Zhang Wei",
    ]
    keys = normalise_name(pl.Series(spellings)).get_column("name_key").to_list()
    assert set(keys) == {"weizhang"}


def test_western_order_variants_share_a_key() -> None:
    spellings = ["John Smith", "Smith, John", "John A. Smith", "JOHN SMITH", "Dr. John Smith", "Jack Smith"]
    keys = normalise_name(pl.Series(spellings)).get_column("name_key").to_list()
    assert set(keys) == {"johnsmith"}


def test_phonetic() -> None:
    out = normalise_name(pl.Series(["Smith, John", "Jane Smyth", "张伟", "Zhang Wei", "王先生"]))
    assert out.get_column("name_phonetic").to_list() == ["S530", "S530", "Z520", "Z520", "W520"]


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("Robert", "R163"),
        ("Rupert", "R163"),
        ("Ashcraft", "A261"),
        ("Tymczak", "T522"),
        ("Pfister", "P236"),
        ("Honeyman", "H555"),
        ("Lee", "L000"),
        ("", None),
    ],
)
def test_soundex(word: str, code: str | None) -> None:
    assert soundex(word) == code


def test_fold_ascii() -> None:
    assert fold_ascii("Müller-Lüdenscheidt") == "mullerludenscheidt"
    assert fold_ascii("Straße") == "strasse"


def test_output_contract() -> None:
    out = normalise_name(pl.Series(["张伟", None, "asdf", "张伟"]))
    parts = ["family_name", "given_name", "name_title", "name_pinyin", "name_key", "name_phonetic"]
    check_contract(out, 4, dict.fromkeys(parts, pl.String))
    assert out.get_column("value").to_list() == ["张伟", None, None, "张伟"]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_arbitrary_text(raw: str) -> None:
    check_contract(normalise_name(pl.Series([raw, None])), 2)


name_like = st.lists(
    st.one_of(
        st.sampled_from(["张", "王", "欧阳", "單", "偉", "明", "先生", "总", "（经理）", "·"]),
        st.sampled_from(["Zhang", "wei", "JOHN", "smith", "Dr.", "Mr", "van", "O'Brien", ",", "Jr."]),
        st.sampled_from([" ", "\u3000"]),
    ),
    min_size=1,
    max_size=6,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(name_like, st.sampled_from([c[0] for c in CASES])))
def test_idempotent(raw: str) -> None:
    idempotent(normalise_name, raw)


NAME_TABLE = load_table("name")


@pytest.mark.parametrize("case", NAME_TABLE)
def test_name_table(case: dict[str, Any]) -> None:
    check_case(normalise_name, case)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([p.values[0]["input"] for p in NAME_TABLE if p.values[0]["input"]]))
def test_name_table_idempotent(raw: str) -> None:
    idempotent(normalise_name, raw)


def _han_names() -> list[str]:
    """Chinese names shaped like real exports: spaced, compound and rare surnames, titles, traditional forms."""
    import random

    from synthetic.sample import names as vocab

    rng = random.Random(3)
    surnames = [s for s, _ in vocab.SURNAMES] + ["欧阳", "司马", "单", "曾", "尉迟", "万俟", "张张", "測"]
    chars = vocab.GIVEN_CHARS_MALE + vocab.GIVEN_CHARS_FEMALE + "偉麗先生总工公司有限银行"
    out = ["测试", "某某", "客户", "张张", "张张张", "欧阳", "王总", "张 张", "有限", "先生", "欧阳 ", "亖亖"]
    for _ in range(4000):
        given = "".join(rng.choice(chars) for _ in range(rng.choice([0, 1, 2, 2, 3])))
        name = rng.choice(surnames) + given
        out.append(rng.choice([name, name, " ".join(name), f" {name} ", name.replace(name[0], name[0] + "\u3000", 1)]))
    return out


def _latin_names() -> list[str]:
    """Western and pinyin names: plain, titled, initials, nicknames, placeholders, company words, keyboard runs."""
    import random

    from synthetic.sample import names as vocab

    rng = random.Random(4)
    firsts = [f[0] for f in vocab.WESTERN_FIRST] + ["Bob", "Li", "Wei", "Dr", "Mr", "Test", "Asdf", "Aaa", "Van", "Ann"]
    lasts = [*vocab.WESTERN_LAST, "Zhang", "Na", "Corp", "Jr", "Phd", "User", "Qwer", "Bbb", "Ann", "Joann", "Mac"]
    out = [
        "Full Name",
        "No Name",
        "Sdfg Hjkl",
        "Mmm Mmmm",
        "Joann Ann",
        "Ann Joann",
        "Li Na",
        "Na Li",
        "Zhang Wei",
        "Wei Zhang",
    ]
    for _ in range(3000):
        first, last = rng.choice(firsts), rng.choice(lasts)
        out.append(rng.choice([f"{first} {last}", f"{first} {last}", f"{last}, {first}", f"{first.upper()} {last}"]))
    return out


def test_the_vectorised_path_agrees_with_the_python_path() -> None:
    from rules.normalise._name import _SCHEMA, _fast, _one

    keys = [*dict.fromkeys([*_han_names(), *_latin_names(), *(c[0] for c in CASES)])]
    fast = _fast(pl.Series(keys, dtype=pl.String))
    assert fast.height > len(keys) // 2  # most of them take the fast path
    assert fast.height < len(keys)  # and the rest is left to the Python path
    for row in fast.iter_rows(named=True):
        assert tuple(row[c] for c in _SCHEMA) == tuple(_one(row["__key"])), row["__key"]


HAN_PIECES = ["张", "欧阳", "单", "伟", "偉", "总", "公司", "测试", " ", "\u3000", "亖"]
LATIN_PIECES = ["John", "Smith", "Ann", "Joann", "Li", "Na", "Dr", "Jr", "Bob", "Test", "Corp", "Aa", " ", "."]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(HAN_PIECES), max_size=6) | st.lists(st.sampled_from(LATIN_PIECES), max_size=4))
def test_the_vectorised_path_agrees_on_any_text(parts: list[str]) -> None:
    from rules.normalise._name import _SCHEMA, _fast, _one

    raw = "".join(parts)
    for row in _fast(pl.Series([raw], dtype=pl.String)).iter_rows(named=True):
        assert tuple(row[c] for c in _SCHEMA) == tuple(_one(raw)), raw


@pytest.mark.parametrize(
    ("raw", "value", "family", "given"),
    [
        ("Иван Петров", "Иван Петров", "Петров", "Иван"),
        ("Γιώργος Παπαδόπουλος", "Γιώργος Παπαδόπουλος", "Παπαδόπουλος", "Γιώργος"),
        ("김민준", "김민준", "김", "민준"),  # Hangul: the first syllable is the family name
        ("דוד כהן", "דוד כהן", "כהן", "דוד"),
        ("محمد علي", "محمد علي", "علي", "محمد"),
    ],
)
def test_names_in_other_alphabets_are_names(raw: str, value: str, family: str, given: str) -> None:
    row = run_one(normalise_name, raw)
    assert (row["value"], row["family_name"], row["given_name"]) == (value, family, given)
    assert row["issues"] == [] and row["name_key"]


@pytest.mark.parametrize(
    ("raw", "value", "issues"),
    [
        ("../../../../etc/passwd", None, ["not_a_name"]),
        ("\u202eevil", "Evil", []),  # a right-to-left override never reaches the store
        ("张\u2066伟", "张伟", []),
        ("张伟👍", "张伟", ["symbols_removed"]),
        ("Lily🌸 Chen", "Lily Chen", ["symbols_removed"]),
        ("👍", None, ["not_a_name"]),
    ],
)
def test_paths_bidi_controls_and_emoji_are_not_part_of_a_name(raw: str, value: str | None, issues: list[str]) -> None:
    row = run_one(normalise_name, raw)
    assert (row["value"], row["issues"]) == (value, issues)
