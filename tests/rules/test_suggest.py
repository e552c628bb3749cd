"""Mapping assistant: header synonyms, pinyin abbreviations, value patterns, one column per field, YAML."""

from __future__ import annotations

import polars as pl
import yaml

from crm_store.schema import CANONICAL_FIELDS
from rules.mapping import check_mapping
from rules.suggest import (
    KeySuggestion,
    Suggestion,
    render_mapping_yaml,
    suggest_from_frame,
    suggest_key,
    suggest_mapping,
)

LEGACY = ["KHBH", "KHMC", "LXR", "SJHM", "GDDH", "DZYX", "DZ", "SR", "XB", "ZT", "GXSJ", "BZ"]


def fields(suggestions: list[Suggestion]) -> dict[str, str | None]:
    return {s.column: s.field for s in suggestions}


def test_legacy_pinyin_columns() -> None:
    suggestions = suggest_mapping(LEGACY, {"SJHM": ["13800138000"], "KHBH": ["KH0001"]})
    assert fields(suggestions) == {
        "KHBH": None,
        "KHMC": "company",
        "LXR": "full_name",
        "SJHM": "phone",
        "GDDH": "landline",  # a landline column of its own
        "DZYX": "email",
        "DZ": "address",
        "SR": "birth_date",
        "XB": "gender",
        "ZT": "status",
        "GXSJ": "updated_at",
        "BZ": "notes",
    }
    by_column = {s.column: s for s in suggestions}
    assert by_column["KHMC"].confidence == 0.85 and "客户名称" in by_column["KHMC"].reason
    assert by_column["KHBH"].confidence == 0.0 and "identifier" in by_column["KHBH"].reason
    assert not check_mapping({s.column: s.field for s in suggestions if s.field})


def test_chinese_and_english_synonyms() -> None:
    columns = ["客户名称", "联系人", "手机号码", "固定电话", "电子邮件", "出生日期", "性别", "身份证号", "微信", "省份"]
    columns += ["Last Contact", "E-mail", "created_at", "备注", "序号", "客户手机", "Hotel Name"]
    got = {s.column: (s.field, s.confidence) for s in suggest_mapping(columns, {})}
    assert got["客户名称"] == ("company", 0.95)
    assert got["联系人"] == ("full_name", 0.95)
    assert got["手机号码"] == ("phone", 0.95) and got["固定电话"] == ("landline", 0.95)
    assert got["电子邮件"] == ("email", 0.95)
    assert got["E-mail"] == (None, 0.0)  # email is taken by 电子邮件 (first of equals)
    assert got["出生日期"][0] == "birth_date" and got["性别"][0] == "gender"
    assert got["身份证号"][0] == "id_number" and got["微信"][0] == "wechat" and got["省份"][0] == "province"
    assert got["Last Contact"] == ("updated_at", 0.95) and got["created_at"] == ("created_at", 0.95)
    assert got["备注"][0] == "notes" and got["序号"] == (None, 0.0)
    assert got["客户手机"] == ("phone", 0.7)  # keyword inside the header, the phone wins over 客户
    assert got["Hotel Name"][0] is None  # "name" is taken by 联系人; "tel" inside "hotel" is not a phone


def test_values_decide_when_headers_say_nothing() -> None:
    samples = {
        "column_1": ["13800138000", "139 1234 5678", "+86 137 0000 1111", "15011112222", "18600001111"],
        "column_2": ["zhang@qq.com", "li@163.com", "w@x.cn", "a.b@gmail.com", "not an email"],
        "column_3": ["张伟", "李娜", "王芳", "欧阳娜娜", "刘洋"],
        "column_4": [
            "深圳市腾达科技有限公司",
            "北京华信商贸有限公司",
            "Acme Co., Ltd.",
            "上海星辰集团",
            "广州云帆有限公司",
        ],
        "column_5": ["1985-03-05", "1990/12/01", "1978.6.9", "19660101", "1965-07-20"],
        "column_6": ["2024-05-01 10:30:00", "2023-11-20 08:00:00", "2022-01-15T17:45:30", "2024-01-01 00:00", None],
        "column_7": ["110101198503051234", "44030119900101123X", "310101197806091111", "110101200101011234"],
        "column_8": ["男", "女", "女", "男", "男"],
        "column_9": ["0755-86001234", "010-62345678", "021 6234 5678", "0755-1234567", "020-88889999"],
        "column_10": ["老客户", "需回访", "VIP", "", "  "],
        "column_11": ["13800138000", "x", "y", "z", "w"],  # 20% mobiles: not enough
        "column_12": ["李雷", "韩梅梅", "张三", "李四", "王五"],  # names again: full_name is taken
    }
    columns = list(samples)
    got = {s.column: s for s in suggest_mapping(columns, samples)}
    assert {c: got[c].field for c in columns} == {
        "column_1": "phone",
        "column_2": "email",
        "column_3": "full_name",
        "column_4": "company",
        "column_5": "birth_date",
        "column_6": "updated_at",
        "column_7": "id_number",
        "column_8": "gender",
        "column_9": "landline",
        "column_10": None,
        "column_11": None,
        "column_12": None,
    }
    assert got["column_1"].reason == "5 of 5 samples look like Chinese mobile numbers"
    assert got["column_2"].reason == "4 of 5 samples look like email addresses"
    assert "column_3" in got["column_12"].reason and "full_name" in got["column_12"].reason
    assert all(0.6 <= got[c].confidence <= 0.8 for c in columns if got[c].field)
    for s in got.values():  # reasons never quote sample values
        assert not any(v and v.strip() and v in s.reason for vs in samples.values() for v in vs if v and len(v) > 1)


def test_header_beats_values_and_one_column_per_field() -> None:
    samples = {"手机": ["13800138000"] * 5, "column_2": ["13900139000"] * 5, "姓名": ["张伟"], "column_4": ["李娜"] * 5}
    got = fields(suggest_mapping(list(samples), samples))
    assert got == {"手机": "phone", "column_2": "phone", "姓名": "full_name", "column_4": None}


def test_render_yaml_round_trips_and_comments_every_column() -> None:
    suggestions = suggest_mapping([*LEGACY, "Last: Contact"], {})
    text = render_mapping_yaml(
        "legacy_crm", "sql", {"url": "mysql+pymysql://crm:s3cr3t@db/crm", "table": "KHXX", "key": ["KHBH"]}, suggestions
    )
    assert "s3cr3t" not in text and "crm:***@db" in text
    [source] = yaml.safe_load(text)
    assert source["name"] == "legacy_crm" and source["kind"] == "sql"
    assert source["params"] == {"url": "mysql+pymysql://crm:***@db/crm", "table": "KHXX", "key": ["KHBH"]}
    assert source["mapping"] == {s.column: s.field for s in suggestions if s.field}
    assert source["mapping"]["Last: Contact"] == "updated_at"
    assert set(source["mapping"].values()) <= set(CANONICAL_FIELDS)
    lines = text.splitlines()
    assert any(line.strip().startswith("# KHBH:") and "unmapped" in line for line in lines)
    assert any(line.strip().startswith("SJHM:") and "# 0.85 " in line for line in lines)
    assert sum("#" in line for line in lines if line.startswith("    ")) == len(suggestions)


def test_render_yaml_with_nothing_mapped() -> None:
    text = render_mapping_yaml("x", "csv", {}, [Suggestion("a", None, 0.0, "nothing fits")])
    assert yaml.safe_load(text) == [{"name": "x", "kind": "csv", "params": {}, "mapping": {}}]


def test_suggest_from_a_raw_frame() -> None:
    raw = pl.DataFrame(
        {
            "column_1": ["13800138000", "13900139000", "手机号", None],
            "column_2": ["张伟", "李娜", "联系人", "王芳"],
            "_source": ["s"] * 4,
            "_source_key": ["1", "2", "3", "4"],
            "_skip_reason": [None, None, "repeated_header", None],
            "_error_code": [None, None, None, None],
            "_raw_line": [None] * 4,
        },
        schema_overrides={"_raw_line": pl.String, "_error_code": pl.String},
    )
    assert fields(suggest_from_frame(raw)) == {"column_1": "phone", "column_2": "full_name"}


def _raw(**columns: list[str | None]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return (
        pl.DataFrame(columns)
        .with_columns(pl.lit(None, pl.String).alias("_skip_reason"), pl.lit(None, pl.String).alias("_error_code"))
        .with_columns(pl.Series("_source_key", [str(i) for i in range(n)]))
    )


def test_suggest_key_takes_an_identifier_that_is_present_and_unique() -> None:
    raw = _raw(序号=["1", "2", "3"], 客户编号=["K1", "K2", "K3"], 姓名=["张伟", "李娜", "王芳"])
    proposed = suggest_key(raw)
    assert proposed is not None and proposed.columns == ("客户编号",)
    assert suggest_key(_raw(KHBH=["a", "b"], KHMC=["x", "y"])) == KeySuggestion(
        ("KHBH",), "header 'KHBH' is an identifier, present and unique in all 2 rows read"
    )


def test_suggest_key_leaves_row_numbers_gaps_and_repeats_alone() -> None:
    assert suggest_key(_raw(序号=["1", "2"], 姓名=["张伟", "李娜"])) is None  # renumbered by every export
    assert suggest_key(_raw(customer_id=["1", None], name=["a", "b"])) is None
    assert suggest_key(_raw(customer_id=["1", "1"], name=["a", "b"])) is None
    assert suggest_key(_raw(email=["a@b.cn", "c@d.cn"])) is None  # unique, but not an identifier


def test_render_yaml_puts_the_proposed_key_under_params() -> None:
    key = KeySuggestion(("客户编号",), "header '客户编号' is an identifier")
    text = render_mapping_yaml("x", "csv", {"path": "a.csv"}, [Suggestion("a", None, 0.0, "nothing fits")], key)
    assert yaml.safe_load(text)[0]["params"] == {"path": "a.csv", "key": "客户编号"}
    assert "# header '客户编号' is an identifier; ids stay put when rows move" in text
    bare = render_mapping_yaml("x", "csv", {}, [], key)
    assert yaml.safe_load(bare)[0]["params"] == {"key": "客户编号"}
