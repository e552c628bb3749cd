from __future__ import annotations

from pathlib import Path

import pytest

import analytics


def test_the_packaged_defaults_load_and_name_the_canonical_codes() -> None:
    rules = analytics.load_rules()
    assert rules.timezone == "Asia/Shanghai"
    assert rules.code_table("segment")["vip"] == "A"
    assert rules.code_table("segment")["一般客户"] == "C"
    assert rules.code_table("status")["1"] == "active"
    assert rules.stages == {"lead": "lead", "active": "customer", "dormant": "customer", "closed": "lost"}
    assert {"value_class", "rfm_segment"} <= set(rules.classifications)


def test_every_problem_of_a_rule_file_is_reported_at_once_with_its_yaml_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "timezone: Mars/Olympus\n"
        "window_months: 0\n"
        "churn: {high_after_months: 3, medium_after_months: 3}\n"
        "classifications:\n"
        "  value_class:\n"
        "    rules:\n"
        "      - {class: A, when: {monetary_12m: {min: 5, max: 1}}}\n"
        "surprise: 1\n",
        "utf-8",
    )
    with pytest.raises(analytics.RulesError) as caught:
        analytics.load_rules(path)
    message = str(caught.value)
    assert message.startswith(f"invalid analytics rules {path}:")
    for where in ("timezone", "window_months", "churn", "classifications.value_class.rules[0].when", "surprise"):
        assert f"• {where}" in message, (where, message)


def test_a_raw_code_under_two_canonical_values_is_an_error() -> None:
    with pytest.raises(analytics.RulesError, match=r"'vip' is listed under both 'A' and 'B'"):
        analytics.load_rules({"codes": {"segment": {"A": ["VIP"], "B": ["vip"]}}})


def test_stages_must_name_canonical_statuses() -> None:
    with pytest.raises(analytics.RulesError, match=r"stages: \['won'\] are not canonical statuses"):
        analytics.load_rules({"codes": {"status": {"active": ["1"]}}, "stages": {"won": "customer"}})


def test_a_rule_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("- a\n- b\n", "utf-8")
    with pytest.raises(analytics.RulesError, match="expected a mapping"):
        analytics.load_rules(path)
