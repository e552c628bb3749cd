from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.normalise import fold_ascii, normalise_name, soundex

from ._helpers import (
    batches,
    check_contract,
    check_table,
    check_table_idempotent,
    idempotent,
    inputs,
    run_one,
    table,
    text_series,
)

NAME_TABLE = table("name")


def test_name_table() -> None:
    check_table("name.jsonl", NAME_TABLE)


def test_name_table_is_idempotent() -> None:
    check_table_idempotent("name.jsonl", NAME_TABLE)


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


@settings(max_examples=60, deadline=None)
@given(batches(st.text()))
def test_never_raises_on_arbitrary_text(raws: list[str]) -> None:
    check_contract(normalise_name(text_series(*raws, None)), len(raws) + 1)


name_like = st.lists(
    st.one_of(
        st.sampled_from(["张", "王", "欧阳", "單", "偉", "明", "先生", "总", "（经理）", "·"]),
        st.sampled_from(["Zhang", "wei", "JOHN", "smith", "Dr.", "Mr", "van", "O'Brien", ",", "Jr."]),
        st.sampled_from([" ", "\u3000"]),
    ),
    min_size=1,
    max_size=6,
).map("".join)


@settings(max_examples=80, deadline=None)
@given(batches(name_like))
def test_idempotent(raws: list[str]) -> None:
    idempotent(normalise_name, raws)


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

    keys = [*dict.fromkeys([*_han_names(), *_latin_names(), *inputs(NAME_TABLE)])]
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


def _name_parts() -> list[str]:
    """Name parts as person tables hold them in their own columns, with those that only look like one word."""
    from synthetic.people import generate_people

    people = generate_people(3_000, seed=5).records
    return [
        *people["given_name"].drop_nulls().to_list(),
        *people["surname"].drop_nulls().to_list(),
        *["MCDONALD", "mcdonald", "McDonald", "MC", "mc", "Mcx", "mCDonald", "jOHN", "NA", "n/a", "None", "Unknown"],
        *["O'Brien", "van der Berg", "Mr John", "Smith Jr", "Müller", "Иван", "J.", "  Anna ", "Ann-Marie", "x"],
    ]


@pytest.mark.parametrize("given_part", [True, False])
def test_the_vectorised_name_parts_agree_with_the_python_path(given_part: bool) -> None:
    from rules.normalise._name import _latin_part, _latin_table

    values = list(dict.fromkeys(_name_parts()))
    table = _latin_table(pl.Series(values, dtype=pl.String), given=given_part)
    assert set(table) == set(values)
    for value in values:
        assert table[value] == _latin_part(value, given=given_part), value


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aAmMcCzZ '-.", max_size=6), st.booleans())
def test_the_vectorised_name_parts_agree_on_any_text(raw: str, given_part: bool) -> None:
    from rules.normalise._name import _latin_part, _latin_table

    assert _latin_table(pl.Series([raw], dtype=pl.String), given=given_part)[raw] == _latin_part(raw, given=given_part)


def test_syllables_of_a_column_agree_with_one_word_at_a_time() -> None:
    from rules.normalise import split_syllables, split_syllables_of

    words = [*_name_parts(), "zhangwei", "xi'an", "xian", "Zhang", "lvxiaoming", "liu", "smith", "ng", "a" * 31]
    words = [w.lower() if i % 2 else w for i, w in enumerate(words)] + [""]
    split = split_syllables_of(pl.Series(words, dtype=pl.String)).to_list()
    assert split[words.index("zhangwei")] == ["zhang", "wei"]
    for word, syllables in zip(words, split, strict=True):
        expected = split_syllables(word)
        assert syllables == (list(expected) if expected is not None else None), word


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aeginouhzx'", max_size=12))
def test_syllables_of_a_column_agree_on_any_text(word: str) -> None:
    from rules.normalise import split_syllables, split_syllables_of

    expected = split_syllables(word)
    assert split_syllables_of(pl.Series([word])).to_list() == [list(expected) if expected is not None else None]


PINYIN_PIECES = ["zhang", "wei", "xi'an", "Li", "smith", "ng", "a", "", " ", "lü", "x" * 31]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PINYIN_PIECES), max_size=4))
def test_a_text_is_all_pinyin_when_each_word_splits(words: list[str]) -> None:
    from rules.normalise import all_words_pinyin, split_syllables

    text = " ".join(words)
    each = text.lower().split()
    expected = bool(each) and all(split_syllables(w) is not None for w in each)
    assert all_words_pinyin(pl.Series([text])).to_list() == [expected], text


def test_the_syllable_list_is_every_reading_pypinyin_knows() -> None:
    """``SYLLABLES`` is a constant so that Western names never load pypinyin; it must stay what pypinyin reads."""
    import re

    from pypinyin.pinyin_dict import pinyin_dict

    from rules.normalise._pinyin import SYLLABLES, strip_tones

    readings = {strip_tones(r) for r in ",".join(pinyin_dict.values()).split(",")}
    assert {r for r in readings if r.isascii() and r.isalpha() and re.search("[aeiouv]", r)} == SYLLABLES


def test_western_names_are_normalised_without_loading_pypinyin() -> None:
    """pypinyin's dictionaries take 55 MB: a table of Western names (Febrl) must not pay for them; a Chinese name
    loads them."""
    import subprocess
    import sys

    code = (
        "import sys, polars as pl\n"
        "from rules.match import DedupeConfig, dedupe_table\n"
        "config = DedupeConfig(columns={'given': 'first_name', 'surname': 'last_name', 'dob': 'birth_date'})\n"
        "def run(given, surname):\n"
        "    table = pl.DataFrame({'given': given, 'surname': surname, 'dob': ['1980-01-02'] * len(given)})\n"
        "    dedupe_table(table, config)\n"
        "    print('pypinyin' in sys.modules)\n"
        "run(['John', 'Jon', 'Wei', 'Mary'], ['Smith', 'Smith', 'Zhang', \"O'Brien\"])\n"
        "run(['伟', '伟'], ['张', '张'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
