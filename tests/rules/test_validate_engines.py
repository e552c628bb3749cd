"""Column rules give the same answer in polars (the default) as in a real Great Expectations suite
(``engine: great_expectations``), and validating in chunks gives the same answer as validating all at once."""

from __future__ import annotations

import polars as pl
import pytest

from rules.validate import ValidationResult, ValidationSettings, validate, validate_in_chunks


def _rows() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_source": ["web"] * 8,
            "_source_key": [f"k{i}" for i in range(8)],
            "full_name": ["张伟", None, "李娜", "测试", "王芳", "赵敏", "", "Zoë Ann"],
            "phone": ["+8613800138000", None, "+86123", None, "+8613900139000", None, "+8613800138000\n", "138"],
            "email": [None, None, "li@qq.com", "x@test.com", "bad", "zhao@163.com", "", "zoe@example.com"],
            "gender": ["male", "x", None, "female", "male", "female", "", "MALE"],
            "_issues": [[], [], ["phone.invalid"], ["full_name.not_a_name"], ["email.invalid"], [], [], []],
        }
    )


RULES = {
    "required": ["full_name"],
    "require_any": [["phone", "email"]],
    "expectations": [
        {"type": "regex", "column": "phone", "pattern": r"^\+86\d{11}$"},  # `$` before a final newline, as re
        {"type": "regex", "column": "email", "pattern": r"^(?!x@)[\w.]+@"},  # look-ahead: Python's re only
        {"type": "in_set", "column": "gender", "values": ["male", "female"]},
        {"type": "length_between", "column": "full_name", "min": 3, "max": 4, "severity": "warning"},
        {"type": "length_between", "column": "email", "min": 4},
        {"type": "not_null", "column": "company", "severity": "warning", "name": "company_known"},
    ],
}


def _same(a: ValidationResult, b: ValidationResult) -> None:
    assert a.failures.equals(b.failures), (a.failures, b.failures)
    assert a.rule_results == b.rule_results
    assert a.quarantined.equals(b.quarantined) and a.flagged.equals(b.flagged)


def test_polars_and_great_expectations_agree_on_every_column_rule() -> None:
    polars_result = validate(_rows(), ValidationSettings.model_validate(RULES))
    gx_result = validate(_rows(), ValidationSettings.model_validate({**RULES, "engine": "great_expectations"}))
    _same(polars_result, gx_result)
    by_rule = {r.rule: r for r in polars_result.rule_results}
    # the regex is searched as Python's re searches: "+8613800138000\n" matches `…$`, the look-ahead works
    assert by_rule["regex:phone"].unexpected_count == 2  # +86123 and 138
    assert by_rule["regex:email"].unexpected_count == 3  # x@test.com, bad, "" (nulls pass)
    assert by_rule["in_set:gender"].unexpected_count == 3  # x, "", MALE
    assert by_rule["required:full_name"].unexpected_count == 1  # "" is a value, not null


def test_an_unknown_engine_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="engine"):
        ValidationSettings.model_validate({**RULES, "engine": "pandera"})


@pytest.mark.parametrize("chunk_rows", [1, 3, 8, 100])
def test_validating_in_chunks_changes_nothing(chunk_rows: int) -> None:
    settings = ValidationSettings.model_validate(RULES)
    raw = _rows().with_columns(pl.lit("test").alias("full_name"))  # the spam rules look at what was typed
    done: list[tuple[int, int]] = []
    chunked = validate_in_chunks(
        _rows(), settings, raw=raw, chunk_rows=chunk_rows, progress=lambda d, t: done.append((d, t))
    )
    _same(chunked, validate(_rows(), settings, raw=raw))
    assert done == [(min(k + chunk_rows, 8), 8) for k in range(0, 8, chunk_rows)]
