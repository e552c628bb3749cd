from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.normalise import (
    NORMALISERS,
    STRICT_ENV,
    FrameSpec,
    Memo,
    UnknownNormaliserError,
    clean_text,
    collapse_whitespace,
    get_normaliser,
    has_fullwidth,
    map_distinct,
    register_normaliser,
    to_halfwidth,
    to_simplified,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１３８００１３８０００", "13800138000"),
        ("ＡＢＣｘｙｚ", "ABCxyz"),
        ("zhang＠qq．com", "zhang@qq.com"),
        ("（０６３５）８１２３４５６", "(0635)8123456"),
        ("张\u3000伟", "张 伟"),
        ("a，b；c：d！", "a,b;c:d!"),
        ("＋８６－１３８", "+86-138"),
        ("a\u200bb\ufeff", "ab"),
        ("plain ascii", "plain ascii"),
        ("中文不变", "中文不变"),
    ],
)
def test_to_halfwidth(raw: str, expected: str) -> None:
    assert to_halfwidth(raw) == expected


def test_has_fullwidth() -> None:
    assert has_fullwidth("１")
    assert has_fullwidth("a\u3000b")
    assert not has_fullwidth("张伟 abc 123")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  a   b\t\nc  ", "a b c"),
        ("\u3000张\u3000\u3000伟\u3000", "张 伟"),
        ("a\u00a0b", "a b"),
        ("", ""),
        ("x\x00y\x07", "xy"),
        ("Ｔｅｓｔ  ＣＯ", "Test CO"),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_collapse_whitespace() -> None:
    assert collapse_whitespace(" a \n\n b ") == "a b"


@given(st.text())
def test_clean_text_is_idempotent(raw: str) -> None:
    once = clean_text(raw)
    assert clean_text(once) == once
    assert once == once.strip()
    assert "  " not in once


def test_to_simplified() -> None:
    assert to_simplified("張偉") == "张伟"
    assert to_simplified("华兴 abc") == "华兴 abc"


def test_registry_has_every_kind_of_the_schema() -> None:
    from crm_store.schema import CANONICAL_FIELDS

    kinds = {kind for kind in CANONICAL_FIELDS.values() if kind} | {"text"}
    assert kinds <= set(NORMALISERS)
    for kind in kinds:
        assert get_normaliser(kind) is NORMALISERS[kind]


def test_unknown_kind_lists_known_kinds() -> None:
    with pytest.raises(UnknownNormaliserError, match=r"unknown normaliser kind 'fax'.*email.*phone"):
        get_normaliser("fax")


def test_duplicate_registration_raises() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_normaliser("phone")(lambda values: values.to_frame())
    assert "phone" in NORMALISERS


def test_map_distinct_computes_each_distinct_value_once() -> None:
    calls: list[str | None] = []

    def compute(raw: str | None) -> tuple[str | None, list[str]]:
        calls.append(raw)
        return (raw.upper() if raw else None), ([] if raw else ["empty"])

    values = pl.Series(["a", "b", "a", None, "b", None, "a"])
    out = map_distinct(values, compute, {"value": pl.String, "issues": pl.List(pl.String)})
    assert sorted(calls, key=str) == sorted(["a", "b", None], key=str)
    assert out.get_column("value").to_list() == ["A", "B", "A", None, "B", None, "A"]
    assert out.get_column("issues").to_list() == [[], [], [], ["empty"], [], ["empty"], []]


def test_map_distinct_reports_a_crashing_value_as_invalid(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a run a normaliser's bug costs one value (``invalid``, logged); strict (these tests) it is raised."""

    def compute(raw: str | None) -> tuple[str | None, list[str]]:
        if raw == "boom":
            raise RuntimeError("bug")
        return raw, []

    schema = {"value": pl.String, "issues": pl.List(pl.String)}
    with pytest.raises(RuntimeError, match="bug"):
        map_distinct(pl.Series(["ok", "boom"]), compute, schema)
    monkeypatch.delenv(STRICT_ENV)
    out = map_distinct(pl.Series(["ok", "boom"]), compute, schema)
    assert out.rows() == [("ok", []), (None, ["invalid"])]
    assert "normaliser failed" in caplog.text


def test_map_distinct_answers_cells_without_a_value_itself() -> None:
    """With ``placeholder``, null, blank and null-marker cells never reach ``compute``."""
    calls: list[str] = []

    def compute(raw: str) -> tuple[str | None, list[str]]:
        calls.append(raw)
        return raw.upper(), []

    values = pl.Series(["a", None, "", " \u3000", "N/A", "无", "a"])
    out = map_distinct(values, compute, {"value": pl.String, "issues": pl.List(pl.String)}, placeholder="odd")
    assert calls == ["a"]
    assert out.get_column("value").to_list() == ["A", None, None, None, None, None, "A"]
    assert out.get_column("issues").to_list() == [[], ["empty"], ["empty"], ["empty"], ["odd"], ["odd"], []]


def test_a_frame_spec_keeps_value_lists_among_its_parts() -> None:
    assert FrameSpec(parts=("phones",), value_lists=("phones",)).value_lists == ("phones",)
    with pytest.raises(ValueError, match="value_lists"):
        FrameSpec(value_lists=("phones",))


@pytest.mark.parametrize("kind", sorted(NORMALISERS))
def test_every_normaliser_handles_empty_and_all_null_and_non_string_input(kind: str) -> None:
    normaliser = NORMALISERS[kind]
    empty = normaliser(pl.Series("x", [], dtype=pl.String))
    assert empty.height == 0
    assert empty.schema["value"] == pl.String
    nulls = normaliser(pl.Series("x", [None, None], dtype=pl.Null))
    assert nulls.get_column("value").to_list() == [None, None]
    assert nulls.get_column("issues").to_list() == [["empty"], ["empty"]]
    numbers = normaliser(pl.Series("x", [13800138000, None], dtype=pl.Int64))
    assert numbers.height == 2


def test_memo_reuses_results_across_calls_and_stays_bounded() -> None:
    calls: list[str | None] = []

    def compute(raw: str | None) -> tuple[str | None, list[str]]:
        calls.append(raw)
        return raw, []

    memo = Memo(capacity=3)
    schema = {"value": pl.String, "issues": pl.List(pl.String)}
    first = map_distinct(pl.Series(["a", "b", "a"]), compute, schema, memo=memo)
    second = map_distinct(pl.Series(["b", "a", "c", "d"]), compute, schema, memo=memo)
    assert first.get_column("value").to_list() == ["a", "b", "a"]
    assert second.get_column("value").to_list() == ["b", "a", "c", "d"]
    assert calls == ["a", "b", "c", "d"]
    assert len(memo) == 3
    memo.clear()
    assert len(memo) == 0
