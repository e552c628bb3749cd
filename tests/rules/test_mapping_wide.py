"""A wide source (thousands of columns) maps in linear time and memory, with the same ``attributes`` (#11).

Found by the fuzz suite: a 100 KB CSV or workbook with Excel's 16,384 columns spent 20 s and 3 GB in
``apply_mapping`` (one polars expression per unmapped column), and under a 2 GB cap the process aborted.
"""

from __future__ import annotations

import json
import random
import time

import polars as pl
import pytest

import rules.mapping
from crm_store.schema import (
    ATTRIBUTES_COL,
    ERROR_CODE_COL,
    ERROR_DETAIL_COL,
    ROW_HASH_COL,
    SKIP_REASON_COL,
    SOURCE_COL,
    SOURCE_KEY_COL,
)
from rules.mapping import apply_mapping


def batch(columns: dict[str, list[str | None]]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    lineage = {
        SOURCE_COL: ["s"] * n,
        SOURCE_KEY_COL: [str(i) for i in range(1, n + 1)],
        ROW_HASH_COL: ["h"] * n,
        SKIP_REASON_COL: [None] * n,
        ERROR_CODE_COL: [None] * n,
        ERROR_DETAIL_COL: [None] * n,
    }
    data = {**columns, **lineage}
    return pl.DataFrame(data, schema=dict.fromkeys(data, pl.String))


def test_the_wide_path_writes_the_same_attributes_as_the_narrow_one(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    values = [None, "", " ", " x ", 'a"b', "\\", "张\u2028", "\x00", "e\u0301", "{}", "null", "  \t", "1", "👍"]
    names = [f"h{k}" for k in range(40)] + ["__row", "我 的", '"q"', "a\\b", "\u202e", "h5_2"]
    columns = {c: [rng.choice(values) for _ in range(9)] for c in names}
    columns["h7"] = [None] * 9  # a column with no value at all
    raw = batch(columns)
    mapping = {"h1": "full_name", "h2": "phone"}
    monkeypatch.setattr(rules.mapping, "WIDE_COLUMNS", 1000)
    narrow = apply_mapping(raw, mapping)
    monkeypatch.setattr(rules.mapping, "WIDE_COLUMNS", 8)  # 44 unmapped columns: the wide path, in 6 slices
    wide = apply_mapping(raw, mapping)
    assert wide.equals(narrow)
    assert [list(json.loads(a)) for a in wide[ATTRIBUTES_COL]] == [
        [c for c in names if c not in mapping and (v := columns[c][i]) is not None and v.strip()] for i in range(9)
    ]


def test_excels_widest_sheet_maps_in_well_under_a_second() -> None:
    width = 16_384
    raw = batch({f"c{k}": ["1", None, None] for k in range(width)} | {"name": ["张伟", "李娜", None]})
    started = time.perf_counter()
    mapped = apply_mapping(raw, {"name": "full_name"})
    seconds = time.perf_counter() - started
    assert mapped[ATTRIBUTES_COL][1] == "{}" and len(json.loads(mapped[ATTRIBUTES_COL][0])) == width
    assert mapped["full_name"].to_list() == ["张伟", "李娜", None]
    assert seconds < 5, f"{seconds:.1f} s to map {width} columns (was 20 s)"
