from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from crm_store.schema import CANONICAL_FIELDS, ISSUES_COL
from rules.normalise import NORMALISERS, PART_COLUMNS, frame_spec, normalise_frame

TODAY = dt.date(2026, 11, 23)


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_source": ["crm", "crm", "xls"],
            "_source_key": ["1", "2", "3"],
            "full_name": ["張偉先生", "asdf", None],
            "family_name": [None, "李", None],
            "phone": ["138 0013 8000/13900139000", "11111111111", None],
            "email": ["Info@Huaxing.COM", "zs@qq.con", ""],
            "company": ["聊城华兴科技有限公司", "Liaocheng Huaxing Co., Ltd.", None],
            "birth_date": ["1985年3月5日", "3/5/1985", "2030-01-01"],
            "gender": ["男", "2", "?x"],
            "created_at": ["2024-03-05 10:20", "1709605230", None],
            "notes": ["  VIP\u3000客户 ", "N/A", None],
            "unmapped_extra": ["keep", "me", "as is"],
        }
    )


def test_normalise_frame_values_parts_and_issues() -> None:
    out = normalise_frame(_frame(), today=TODAY)
    assert out.height == 3
    assert out.get_column("_source_key").to_list() == ["1", "2", "3"]
    assert out.get_column("unmapped_extra").to_list() == ["keep", "me", "as is"]
    assert out.get_column("full_name").to_list() == ["张伟", None, None]
    assert out.get_column("family_name").to_list() == ["张", "李", None]
    assert out.get_column("given_name").to_list() == ["伟", None, None]
    assert out.get_column("name_title").to_list() == ["先生", None, None]
    assert out.get_column("name_key").to_list() == ["weizhang", None, None]
    assert out.get_column("phone").to_list() == ["+8613800138000", None, None]
    assert out.get_column("phones").to_list() == [["+8613800138000", "+8613900139000"], None, None]
    assert out.get_column("phone_type").to_list() == ["mobile", None, None]
    assert out.get_column("email").to_list() == ["info@huaxing.com", "zs@qq.com", None]
    assert out.get_column("email_role").to_list() == [True, False, None]
    assert out.get_column("company_key_pinyin").to_list() == ["huaxingkeji", "huaxing", None]
    assert out.get_column("birth_date").to_list() == ["1985-03-05", "1985-03-05", None]
    assert out.get_column("gender").to_list() == ["male", "female", None]
    assert out.get_column("created_at").to_list() == ["2024-03-05T10:20:00", "2024-03-05T10:20:30", None]
    assert out.get_column("notes").to_list() == ["VIP 客户", None, None]
    assert out.schema[ISSUES_COL] == pl.List(pl.String)
    issues = out.get_column(ISSUES_COL).to_list()
    assert issues[0] == [
        "phone.multiple",
        "email.role",
        "company.legal_suffix",
        "company.region_prefix",
        "full_name.traditional",
    ]
    assert set(issues[1]) == {
        "phone.placeholder",
        "email.typo_fixed",
        "company.legal_suffix",
        "company.region_prefix",
        "birth_date.ambiguous",
        "notes.placeholder",
        "full_name.not_a_name",
        "created_at.epoch",
    }
    assert set(issues[2]) == {"birth_date.future", "gender.unknown"}
    assert not any(code.endswith(".empty") for row in issues for code in row)


def test_without_issues_the_values_and_parts_are_the_same() -> None:
    """Matching asks for no issue list (``issues=False``): every other column is what a full run makes."""
    full = normalise_frame(_frame(), today=TODAY)
    bare = normalise_frame(_frame(), today=TODAY, issues=False)
    assert ISSUES_COL not in bare.columns
    assert bare.equals(full.drop(ISSUES_COL))


def test_parts_added_for_every_kind_present() -> None:
    out = normalise_frame(_frame(), today=TODAY)
    for kind, parts in PART_COLUMNS.items():
        if any(CANONICAL_FIELDS.get(field) == kind for field in _frame().columns):
            for part in parts:
                assert part in out.columns


@pytest.mark.parametrize("kind", sorted(NORMALISERS))
def test_a_kind_is_normalised_after_the_columns_it_reads_or_fills(kind: str) -> None:
    spec = frame_spec(kind)
    read = [c for source in spec.reads.values() for c in ((source,) if isinstance(source, str) else source)]
    columns = {*read, *spec.fills, *spec.overrides}
    assert {CANONICAL_FIELDS[c] or "text" for c in columns if c in CANONICAL_FIELDS} <= set(spec.after)


def test_only_present_fields_are_touched() -> None:
    df = pl.DataFrame({"phone": ["13800138000"], "other": [" x "]})
    out = normalise_frame(df)
    assert out.columns == ["phone", "other", "phone_type", "phones", "phone_extension", ISSUES_COL]
    assert out.get_column("other").to_list() == [" x "]


def test_empty_frame() -> None:
    df = pl.DataFrame(schema={"full_name": pl.String, "phone": pl.String, "email": pl.String})
    out = normalise_frame(df)
    assert out.height == 0
    assert out.schema[ISSUES_COL] == pl.List(pl.String)
    assert "name_key" in out.columns
    assert "family_name" in out.columns


def test_frame_without_canonical_fields() -> None:
    out = normalise_frame(pl.DataFrame({"a": [1, 2]}))
    assert out.get_column(ISSUES_COL).to_list() == [[], []]


def test_entirely_null_columns() -> None:
    df = pl.DataFrame(
        {"full_name": [None, None], "phone": [None, None], "birth_date": [None, None]},
        schema={"full_name": pl.Null, "phone": pl.Null, "birth_date": pl.String},
    )
    out = normalise_frame(df)
    assert out.get_column("phone").to_list() == [None, None]
    assert out.schema["phone"] == pl.String
    assert out.get_column(ISSUES_COL).to_list() == [[], []]
    assert out.get_column("family_name").to_list() == [None, None]


def test_parameters_are_passed_through() -> None:
    df = pl.DataFrame({"phone": ["(415) 555-0100"], "birth_date": ["3/5/1985"], "updated_at": ["2024-03-05Z"]})
    out = normalise_frame(df, region="US", date_order="dmy", today=TODAY, tz="UTC")
    assert out.row(0, named=True)["phone"] == "+14155550100"
    assert out.row(0, named=True)["birth_date"] == "1985-05-03"


def test_rerun_changes_nothing() -> None:
    once = normalise_frame(_frame(), today=TODAY)
    twice = normalise_frame(once, today=TODAY)
    assert twice.columns == once.columns
    for column in once.columns:
        if column == ISSUES_COL:
            continue
        assert twice.get_column(column).to_list() == once.get_column(column).to_list(), column


@pytest.mark.parametrize("rows", [1, 1000])
def test_duplicated_values_are_consistent(rows: int) -> None:
    df = pl.DataFrame({"email": ["ZS@qq.con"] * rows})
    out = normalise_frame(df)
    assert out.get_column("email").unique().to_list() == ["zs@qq.com"]


def test_a_consumers_name_in_the_company_field_moves_to_the_name() -> None:
    df = pl.DataFrame(
        {
            "full_name": [None, "陈芳", None, None],
            "company": ["刘悦", "刘悦", "泰安市正宇钢管有限公司", "个人"],
            "phone": ["13812345678", None, None, "13912345678"],
        },
        schema={"full_name": pl.String, "company": pl.String, "phone": pl.String},
    )
    out = normalise_frame(df)
    assert out["full_name"].to_list() == ["刘悦", "陈芳", None, None]
    assert out["company"].to_list() == [None, "刘悦", "泰安市正宇钢管有限公司", None]
    assert out["family_name"][0] == "刘" and out["name_key"][0] == "liuyue"
    assert "full_name.from_company" in out["_issues"][0]
    assert all("full_name.from_company" not in issues for issues in out["_issues"].to_list()[1:])
