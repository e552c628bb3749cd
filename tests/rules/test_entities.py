from __future__ import annotations

import polars as pl

from rules.entities import with_kind


def test_a_record_with_a_name_is_a_person_one_without_an_organisation() -> None:
    golden = pl.DataFrame({"full_name": ["张伟", None], "company": ["瑞丰机械", "北京瑞丰机械有限公司"]})
    assert with_kind(golden)["kind"].to_list() == ["person", "organisation"]


def test_records_of_a_table_without_names_are_organisations() -> None:
    golden = pl.DataFrame({"company": ["瑞丰机械"]})
    assert with_kind(golden).columns == ["company", "kind"]
    assert with_kind(golden)["kind"].to_list() == ["organisation"]
