from __future__ import annotations

import polars as pl
import pytest
from pydantic import ValidationError

from rules.failures import FAILURE_COLUMNS
from rules.validate import (
    RuleDefinitionError,
    ValidationResult,
    ValidationSettings,
    connector_failures,
    validate,
)


def _rows() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_source": ["web"] * 6,
            "_source_key": ["k0", "k1", "k2", "k3", "k4", "k5"],
            "full_name": ["张伟", None, "李娜", "测试", "王芳", "赵敏"],
            "phone": ["+8613800138000", None, "+86123", None, "+8613900139000", None],
            "email": [None, None, "li@qq.com", "x@test.com", "bad", "zhao@163.com"],
            "gender": ["male", "x", None, "female", "male", "female"],
            "_issues": [
                [],
                [],
                ["phone.invalid"],
                ["full_name.not_a_name", "email.placeholder"],
                ["email.invalid"],
                [],
            ],
        }
    )


SETTINGS = ValidationSettings.model_validate(
    {
        "required": ["full_name"],
        "require_any": [["phone", "email"]],
        # placeholders only warn by default (a placeholder in a real row means "missing"); quarantined here
        "quarantine_issues": {
            "full_name.not_a_name": "not_a_name",
            "email.placeholder": "placeholder_contact",
            "phone.placeholder": "placeholder_contact",
        },
        "expectations": [
            {"type": "regex", "column": "phone", "pattern": r"^\+86\d{11}$"},
            {"type": "in_set", "column": "gender", "values": ["male", "female"]},
            {"type": "length_between", "column": "full_name", "min": 3, "max": 4, "severity": "warning"},
            {"type": "not_null", "column": "company", "severity": "warning", "name": "company_known"},
        ],
    }
)


@pytest.fixture(scope="module")
def result() -> ValidationResult:
    """One real Great Expectations run (the GX import costs about 2-4 s, so it is shared)."""
    return validate(_rows(), SETTINGS)


def _by_key(res: ValidationResult) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in res.failures.iter_rows(named=True):
        out.setdefault(row["source_key"], set()).add(f"{row['rule']}/{row['code']}/{row['severity']}")
    return out


def test_failure_table_has_the_fixed_string_columns(result: ValidationResult) -> None:
    assert result.failures.columns == list(FAILURE_COLUMNS)
    assert all(dtype == pl.String for dtype in result.failures.dtypes)


def test_failures_per_row(result: ValidationResult) -> None:
    by_key = _by_key(result)
    assert by_key["k0"] == {
        "length_between:full_name/length_out_of_range/warning",
        "company_known/missing_required/warning",
    }
    assert by_key["k1"] == {
        "required:full_name/missing_required/error",
        "in_set:gender/value_not_allowed/error",
        "require_any:phone|email/no_contact/error",
        "company_known/missing_required/warning",
    }
    assert {"regex:phone/pattern_mismatch/error", "issue:phone.invalid/invalid_phone/warning"} <= by_key["k2"]
    assert {
        "issue:full_name.not_a_name/not_a_name/error",
        "issue:email.placeholder/placeholder_contact/error",
    } <= (by_key["k3"])
    assert "issue:email.invalid/invalid_email/warning" in by_key["k4"]
    assert result.quarantined.to_list() == [False, True, True, True, False, False]
    assert result.flagged.to_list() == [True] * 6


def test_values_are_masked(result: ValidationResult) -> None:
    values = dict(((r["rule"], r["source_key"]), r["value_masked"]) for r in result.failures.iter_rows(named=True))
    assert values[("regex:phone", "k2")] == "***23"
    assert values[("issue:email.placeholder", "k3")] == "x***@test.com"
    assert values[("issue:full_name.not_a_name", "k3")] == "测*"
    assert values[("in_set:gender", "k1")] == "x"  # not personal data
    rendered = result.failures.write_csv()
    for raw in ("+8613800138000", "+86123", "x@test.com", "张伟", "测试"):
        assert raw not in rendered


def test_rule_results_come_from_great_expectations(result: ValidationResult) -> None:
    by_rule = {r.rule: r for r in result.rule_results}
    assert by_rule["required:full_name"].expectation_type == "expect_column_values_to_not_be_null"
    assert by_rule["regex:phone"].expectation_type == "expect_column_values_to_match_regex"
    assert by_rule["in_set:gender"].expectation_type == "expect_column_values_to_be_in_set"
    assert by_rule["length_between:full_name"].expectation_type == "expect_column_value_lengths_to_be_between"
    assert (by_rule["regex:phone"].success, by_rule["regex:phone"].unexpected_count) == (False, 1)
    assert by_rule["regex:phone"].element_count == 6
    # company is canonical but unmapped here: all-null, so every row fails the not_null rule
    assert by_rule["company_known"].unexpected_count == 6
    assert by_rule["issue:phone.placeholder"].success
    assert [r.rule for r in result.rule_results][:2] == ["required:full_name", "regex:phone"]


def test_row_order_does_not_matter() -> None:
    rows = _rows()
    shuffled = rows.reverse()
    fast = ValidationSettings(expectations=[{"type": "regex", "column": "phone", "pattern": r"^\+86\d{11}$"}])
    a = _by_key(validate(rows, fast))
    b = _by_key(validate(shuffled, fast))
    assert a == b and set(a) >= {"k2"}


def test_unknown_column_is_a_definition_error() -> None:
    settings = ValidationSettings(
        expectations=[{"type": "regex", "column": "fax", "pattern": "x"}], require_any=[["phone", "pager"]]
    )
    with pytest.raises(RuleDefinitionError) as info:
        validate(_rows(), settings)
    assert "regex:fax" in str(info.value) and "require_any:phone|pager" in str(info.value)


def test_settings_errors_point_at_the_field() -> None:
    with pytest.raises(ValidationError, match=r"expectations\.0\.regex\.pattern"):
        ValidationSettings.model_validate({"expectations": [{"type": "regex", "column": "phone", "pattern": "("}]})
    with pytest.raises(ValidationError, match=r"expectations\.0\.regex\.colour"):
        ValidationSettings.model_validate(
            {"expectations": [{"type": "regex", "column": "phone", "pattern": "x", "colour": 1}]}
        )
    with pytest.raises(ValidationError, match="unknown reason code 'nope'"):
        ValidationSettings.model_validate({"quarantine_issues": {"email.bad": "nope"}})
    with pytest.raises(ValidationError, match="min \\(5\\) is greater than max"):
        ValidationSettings.model_validate(
            {"expectations": [{"type": "length_between", "column": "phone", "min": 5, "max": 1}]}
        )
    with pytest.raises(ValidationError, match="unknown reason code 'oops'"):
        ValidationSettings.model_validate({"expectations": [{"type": "not_null", "column": "phone", "code": "oops"}]})
    with pytest.raises(ValidationError, match="extra"):
        ValidationSettings.model_validate({"requird": ["full_name"]})


def test_predicates_only_and_invalid_contact_severity() -> None:
    settings = ValidationSettings(invalid_contact_severity="error", spam=False)
    res = validate(_rows(), settings)  # no column expectations: GX is not needed
    assert res.quarantined.to_list() == [False, False, True, True, True, False]
    codes = set(res.failures["code"])
    assert codes == {"invalid_phone", "invalid_email", "not_a_name"}  # a placeholder alone is not quarantined


def test_a_placeholder_contact_means_missing_not_spam() -> None:
    rows = pl.DataFrame(
        {
            "_source": ["legacy"] * 2,
            "_source_key": ["1", "2"],
            "full_name": ["刘天宇", "曹秀兰"],
            "phone": [None, None],
            "email": ["liuty@bofeng.cn", None],
            "_issues": [["phone.placeholder"], ["phone.placeholder"]],
        },
        schema_overrides={"_issues": pl.List(pl.String)},
    )
    raw = rows.with_columns(pl.Series("phone", ["13800000000", "13888888888"]))
    res = validate(rows, ValidationSettings(require_any=[["phone", "email"]]), raw=raw)
    # a real customer with a placeholder phone and a real e-mail loads; without any real contact: no_contact
    assert res.quarantined.to_list() == [False, True]
    assert set(res.failures.filter(pl.col("severity") == "error")["code"]) == {"no_contact"}
    warned = res.failures.filter(pl.col("severity") == "warning")
    assert set(warned["code"]) == {"spam_repeated_digits"}


def test_missing_issues_column_means_no_issues() -> None:
    res = validate(_rows().drop("_issues"), ValidationSettings(spam=False))
    assert res.failures.height == 0 and res.failures.columns == list(FAILURE_COLUMNS)
    assert not res.quarantined.any()


def test_connector_failures() -> None:
    raw = pl.DataFrame(
        {
            "_source": ["s", "s", "s"],
            "_source_key": ["1", "2", "3"],
            "_error_code": [None, "malformed_row", "bad_encoding"],
            "_error_detail": [None, "expected 5 fields, got 3: 13800138000,张三", None],
        }
    )
    out = connector_failures(raw)
    assert out.columns == list(FAILURE_COLUMNS)
    assert out.select("rule", "code", "severity", "source_key").rows() == [
        ("connector", "malformed_row", "error", "2"),
        ("connector", "bad_encoding", "error", "3"),
    ]
    assert "138****8000" in out["message"][0] and "13800138000" not in out["message"][0]
    assert connector_failures(raw.drop("_error_code", "_error_detail")).height == 0


def test_spam_rules_join_the_failure_table_and_quarantine() -> None:
    rows = pl.DataFrame(
        {
            "_source": ["web"] * 3,
            "_source_key": ["1", "2", "3"],
            "full_name": ["张伟", "asdfgh", "李娜"],
            "email": ["zhang.wei@163.com", None, "lina@qq.com"],
            "phone": ["+8613800138000", "+8613900139000", None],
            "_issues": [[], [], []],
        },
        schema_overrides={"_issues": pl.List(pl.String)},
    )
    res = validate(rows, ValidationSettings())
    assert res.quarantined.to_list() == [False, True, False]
    spam = res.failures.filter(pl.col("code").str.starts_with("spam_"))
    assert spam["source_key"].to_list() == ["2"] and spam["value_masked"][0] != "asdfgh"
    assert any(r.expectation_type == "spam" and not r.success for r in res.rule_results)
    off = validate(rows, ValidationSettings(spam=False))
    assert not off.quarantined.any()


def test_max_lengths_quarantine_overlong_values_in_polars() -> None:
    df = pl.DataFrame(
        {
            "_source": ["web"] * 3,
            "_source_key": ["a", "b", "c"],
            "company": ["华兴科技", "华" * 256, None],
            "city": ["聊城", "聊城", "城" * 65],
        }
    )
    out = validate(df, ValidationSettings(spam=False, max_lengths={"company": 255, "city": 64}))
    assert out.quarantined.to_list() == [False, True, True]
    assert out.failures.select("source_key", "rule", "code").rows() == [
        ("b", "store_length:company", "length_out_of_range"),
        ("c", "store_length:city", "length_out_of_range"),
    ]
