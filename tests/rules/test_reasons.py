from __future__ import annotations

import pytest

from rules.reasons import REASONS, Reason, describe


def test_every_required_code_is_present_with_its_outcome() -> None:
    skipped = {"empty_row", "total_row", "repeated_header"}
    quarantined = {
        "malformed_row",
        "bad_encoding",
        "missing_required",
        "no_contact",
        "invalid_email",
        "invalid_phone",
        "not_a_name",
        "placeholder_contact",
        "invalid_value",
        "pattern_mismatch",
        "value_not_allowed",
        "length_out_of_range",
    }
    assert skipped | quarantined <= set(REASONS)
    assert all(REASONS[c].outcome == "skipped" for c in skipped)
    assert all(REASONS[c].outcome == "quarantined" for c in quarantined)


def test_reasons_are_keyed_by_their_code_and_described_in_one_line() -> None:
    for code, reason in REASONS.items():
        assert isinstance(reason, Reason)
        assert reason.code == code
        assert reason.description and "\n" not in reason.description


def test_describe_known_and_unknown() -> None:
    assert describe("no_contact") == REASONS["no_contact"].description
    with pytest.raises(KeyError, match="known codes: empty_row"):
        describe("nope")
