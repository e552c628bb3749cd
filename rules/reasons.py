"""Stable reason codes: why a source row was skipped or quarantined, or why a validation rule flagged it.

The codes are part of the public contract: they are stored with quarantined rows, counted in the ledger and
shown in the quality report, so a code is never renamed or reused for another meaning. Add new codes at the
end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["REASONS", "Outcome", "Reason", "describe"]

Outcome = Literal["quarantined", "skipped"]


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason code: what happens to a row that has it, and a one-line description for reports."""

    code: str
    outcome: Outcome
    description: str


def _table(*reasons: Reason) -> dict[str, Reason]:
    table: dict[str, Reason] = {}
    for reason in reasons:
        if reason.code in table:
            raise ValueError(f"duplicate reason code {reason.code!r}")
        table[reason.code] = reason
    return table


#: Every reason code, keyed by code. Connector codes first, then validation codes.
REASONS: Final[dict[str, Reason]] = _table(
    # connectors: rows that are read but are not records
    Reason("empty_row", "skipped", "Every cell of the row is empty."),
    Reason("total_row", "skipped", "A totals/summary row (e.g. 合计, Total) rather than a customer."),
    Reason("repeated_header", "skipped", "The header row repeated inside the data (e.g. a pasted second sheet)."),
    # connectors: rows that are structurally broken
    Reason(
        "malformed_row",
        "quarantined",
        "The row could not be parsed (wrong number of fields, broken quoting).",
    ),
    Reason("bad_encoding", "quarantined", "The row's bytes could not be decoded in the source's encoding."),
    # validation
    Reason("missing_required", "quarantined", "A required field is empty after normalising."),
    Reason("no_contact", "quarantined", "None of the contact fields of a group (e.g. phone, email) has a value."),
    Reason("invalid_email", "quarantined", "The email address is not a valid, deliverable-looking address."),
    Reason("invalid_phone", "quarantined", "The phone number is not a valid number for its region."),
    Reason("not_a_name", "quarantined", "The name field holds something that is not a person's name."),
    Reason(
        "placeholder_contact",
        "quarantined",
        "A contact field holds a placeholder instead of a real contact (a test address, one digit repeated).",
    ),
    Reason("invalid_value", "quarantined", "A value failed a configured expectation."),
    Reason("pattern_mismatch", "quarantined", "A value does not match the configured pattern."),
    Reason("value_not_allowed", "quarantined", "A value is not in the configured set of allowed values."),
    Reason("length_out_of_range", "quarantined", "A value is shorter or longer than the configured bounds."),
    # spam and bot sign-ups (rules.spam)
    Reason(
        "spam_placeholder_email",
        "quarantined",
        "The email address is a placeholder, throwaway or keyboard-mash address (a warning unless set to error).",
    ),
    Reason(
        "spam_repeated_digits",
        "quarantined",
        "The phone number is a run of one digit or a counting sequence (a warning unless set to error).",
    ),
    Reason("spam_markup", "quarantined", "A text field holds HTML, BBCode, script or template markup."),
    Reason(
        "spam_impossible_name",
        "quarantined",
        "The name is keyboard mash, one repeated character, has digits or a URL, or is over 40 characters.",
    ),
    # skip rules of the project file (sources[].skip)
    Reason(
        "spam_fake_person",
        "quarantined",
        "The name is a stand-in person (张三, 李四, John Doe, Mickey Mouse, Test User).",
    ),
    Reason(
        "spam_test_record",
        "quarantined",
        "A test or demo row left in a source system (测试客户, 演示数据, 勿删, test, demo, admin).",
    ),
    Reason(
        "spam_advert",
        "quarantined",
        "An advert in the name (代开发票, 刷单兼职, SEO), or a link or solicitation (加QQ群, 日结) elsewhere.",
    ),
    Reason(
        "spam_bot",
        "quarantined",
        "Typed by a bot: random capitals (BTIfyVvm), an e-mail of dotted single letters, letter salad.",
    ),
    Reason("deleted", "skipped", "The source system marks the record as deleted."),
    Reason("excluded", "skipped", "A skip rule of the project file excludes the row."),
    # child rows (rules.activity)
    Reason(
        "orphan_activity",
        "quarantined",
        "A child row (follow-up, order) whose customer row did not load (a child of a skipped customer row is"
        " skipped with that row's reason instead).",
    ),
    # connectors: keys (connectors._keys)
    Reason(
        "duplicate_key",
        "quarantined",
        "The row's key (the source's key columns) repeats an earlier row of the same read; the first row is kept.",
    ),
    # data-subject requests (crm_store.subject)
    Reason(
        "erased",
        "skipped",
        "The person asked to be erased (crmkit subject erase): the row is skipped and its content not kept.",
    ),
)


def describe(code: str) -> str:
    """Return the one-line description of a reason code.

    Raises:
        KeyError: the code is unknown; the message lists the known codes.
    """
    try:
        return REASONS[code].description
    except KeyError:
        raise KeyError(f"unknown reason code {code!r}; known codes: {', '.join(REASONS)}") from None
