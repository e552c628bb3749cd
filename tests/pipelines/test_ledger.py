from __future__ import annotations

import polars as pl

from pipelines.ledger import LedgerError, ledger_rows


def keys(source: str, *ks: str) -> pl.DataFrame:
    return pl.DataFrame({"_source": [source] * len(ks), "_source_key": list(ks)})


def test_every_row_in_one_place_balances() -> None:
    read = pl.concat([keys("a", "2", "3", "4", "5"), keys("b", "1")])
    rows = ledger_rows(
        read,
        {
            "loaded": keys("a", "2", "3"),
            "quarantined": keys("a", "4"),
            "skipped": pl.concat([keys("a", "5"), keys("b", "1")]),
        },
    )
    assert rows == [
        {
            "source": "a",
            "read": 4,
            "loaded": 2,
            "quarantined": 1,
            "skipped": 1,
            "missing": 0,
            "duplicated": 0,
            "balanced": True,
        },
        {
            "source": "b",
            "read": 1,
            "loaded": 0,
            "quarantined": 0,
            "skipped": 1,
            "missing": 0,
            "duplicated": 0,
            "balanced": True,
        },
    ]


def test_a_lost_row_unbalances() -> None:
    rows = ledger_rows(keys("a", "2", "3"), {"loaded": keys("a", "2"), "quarantined": None, "skipped": None})
    assert rows[0]["balanced"] is False and rows[0]["missing"] == 1


def test_a_row_in_two_places_unbalances_even_when_counts_add_up() -> None:
    # 2 rows read, 2 placed -- but one of them twice and the other never.
    rows = ledger_rows(keys("a", "2", "3"), {"loaded": keys("a", "2"), "quarantined": keys("a", "2"), "skipped": None})
    assert rows[0]["read"] == rows[0]["loaded"] + rows[0]["quarantined"]
    assert rows[0]["balanced"] is False
    assert rows[0]["duplicated"] == 1 and rows[0]["missing"] == 1


def test_a_row_that_was_never_read_unbalances() -> None:
    rows = ledger_rows(keys("a", "2"), {"loaded": keys("a", "2", "99"), "quarantined": None, "skipped": None})
    assert rows[0]["balanced"] is False and rows[0]["missing"] == 1


def test_ledger_error_names_the_source() -> None:
    rows = ledger_rows(keys("legacy", "2", "3"), {"loaded": keys("legacy", "2"), "quarantined": None, "skipped": None})
    message = str(LedgerError(rows))
    assert "legacy: read 2" in message and "missing 1" in message
