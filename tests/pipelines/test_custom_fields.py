"""Custom fields through a project: declared in the project file and checked before a run, their values checked in
the validate step (a bad value dropped, or its row quarantined with a reason code), stored in ``attributes`` as
real JSON, and read back typed by ``analytics``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import analytics
import crm_store
from pipelines.cli import app
from pipelines.migrate import run_steps
from pipelines.preflight import check_project
from pipelines.settings import SettingsError, load_settings

ROWS = (
    "id,name,mobile,行业,员工人数,签约日,VIP\n"
    'C1,张伟,13800138000,制造,"1,200",2024/3/1,是\n'  # every value good; 制造 is an alias of 制造业
    "C2,李娜,13800138001,农业,50,2024-02-30,否\n"  # 行业 not allowed, 签约日 no date: both dropped (warning)
    "C3,王芳,13800138002,零售,about 20,2024-01-05,是\n"  # 员工数 no number: an error, quarantined
    "C4,赵磊,13800138003,零售,10,2023-12-01,\n"  # VIP required and empty: quarantined
)
FIELDS: list[dict[str, Any]] = [
    {"name": "行业", "type": "choice", "allowed": ["制造业", "零售", "物流"], "aliases": {"制造": "制造业"}},
    {"name": "员工数", "type": "int", "columns": ["员工人数"], "min": 0, "severity": "error"},
    {"name": "签约日", "type": "date"},
    {"name": "VIP", "type": "bool", "required": True},
]


def write_project(folder: Path, fields: list[dict[str, Any]] | None = None, **extra: Any) -> Path:
    (folder / "customers.csv").write_text(ROWS, "utf-8")
    data = {
        "project": "custom",
        "store": {"url": f"sqlite:///{folder / 'crm.db'}"},
        "reports_dir": str(folder / "reports"),
        "run": {"max_quarantine_share": 0.9},
        "sources": [
            {
                "name": "crm",
                "kind": "csv",
                "params": {"path": str(folder / "customers.csv"), "key": "id"},
                "mapping": {"name": "full_name", "mobile": "phone"},
            }
        ],
        "custom_fields": FIELDS if fields is None else fields,
        **extra,
    }
    path = folder / "crmkit.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return path


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("custom")
    config = write_project(folder)
    result = run_steps(load_settings(config), "run-1", False)
    assert result.status == "succeeded", result.error
    return config


def stored_attributes(config: Path) -> dict[str, Any]:
    """The stored ``attributes`` of each loaded row's customer, by source key, as the database holds them."""
    engine = crm_store.open_store(load_settings(config).store_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select w.source_key, c.attributes from crosswalk w join customer c using (customer_id) "
                    "where w.customer_id is not null"
                )
            ).all()
    finally:
        engine.dispose()
    return {key: None if text is None else json.loads(text) for key, text in rows}


def test_values_are_stored_as_real_json_and_bad_ones_dropped(migrated: Path) -> None:
    assert stored_attributes(migrated) == {
        "C1": {"行业": "制造业", "员工数": 1200, "签约日": "2024-03-01", "VIP": True, "id": "C1"},
        "C2": {"员工数": 50, "VIP": False, "id": "C2"},  # the key column, unmapped, is kept as it was
    }


def test_rows_with_an_error_are_quarantined_with_their_reason_and_the_ledger_balances(migrated: Path) -> None:
    engine = crm_store.open_store(load_settings(migrated).store_url)
    with Session(engine) as session:
        outcomes = crm_store.read_outcomes(session).sort("source_key")
        quarantine = crm_store.read_quarantine(session).sort("source_key")
        payload = crm_store.read_source_records(session, ["crm"]).filter(pl.col("source_key") == "C2")["payload"][0]
    engine.dispose()
    assert outcomes.select("source_key", "status", "reason").rows() == [
        ("C1", "loaded", None),
        ("C2", "loaded", None),
        ("C3", "quarantined", "invalid_value"),
        ("C4", "quarantined", "missing_required"),
    ]
    details = [json.loads(d)[0] for d in quarantine["details"]]
    assert [(d["rule"], d["column"]) for d in details] == [("custom_field:员工数", "员工数"), ("required:VIP", "VIP")]
    assert json.loads(payload)["行业"] == "农业"  # a dropped value is still in the row as read
    report = json.loads((migrated.parent / "reports" / "run-1" / "report.json").read_text("utf-8"))
    assert report["totals"]["balanced"] is True
    rules = {r["rule"]: (r["success"], r["unexpected_count"], r["severity"]) for r in report["rules"]}
    assert rules["custom_field:行业"] == (False, 1, "warning")
    assert rules["custom_field:签约日"] == (False, 1, "warning")
    assert rules["custom_field:员工数"] == (False, 1, "error")
    assert rules["required:VIP"] == (False, 1, "error")
    assert rules["custom_field:VIP"] == (True, 0, "warning")


def test_a_second_run_changes_no_customer(migrated: Path) -> None:
    def customers() -> pl.DataFrame:
        engine = crm_store.open_store(load_settings(migrated).store_url)
        with Session(engine) as session:
            frame = crm_store.read_customers(session).select("customer_id", "version", "content_hash", "attributes")
        engine.dispose()
        return frame.sort("customer_id")

    before = customers()
    assert run_steps(load_settings(migrated), "run-2", False).status == "succeeded"
    assert customers().equals(before)


def test_analytics_gives_the_fields_as_typed_columns(migrated: Path) -> None:
    settings = load_settings(migrated)
    a = analytics.load(settings.store_url, custom_fields=settings.custom_fields)
    typed = a.customers(fields=["员工数", "签约日", "行业"]).sort("员工数")
    assert typed.schema["员工数"] == pl.Int64 and typed.schema["签约日"] == pl.Date
    assert typed.schema["行业"] == pl.Enum(["制造业", "零售", "物流"])
    assert typed.select("员工数", "签约日", "行业").rows() == [(50, None, None), (1200, dt.date(2024, 3, 1), "制造业")]
    assert a.customers().columns[-4:] == ["行业", "员工数", "签约日", "VIP"]  # every declared field by default
    assert "custom_fields" in a.tables()
    assert a.register().sql("select count(*) from custom_fields where VIP").fetchall() == [(1,)]
    with pytest.raises(ValueError, match=r"no custom field '行当'; declared: \['VIP', '员工数', '签约日', '行业'\]"):
        a.customers(fields=["行当"])
    # the pure function on the store's own frame, the fields given as the project file's dicts
    frame = analytics.custom_fields(a.golden(), FIELDS, names=["VIP"])
    assert sorted(frame["VIP"].to_list()) == [False, True]


def test_a_field_declared_after_the_data_was_loaded_is_read_typed_from_the_raw_columns(tmp_path: Path) -> None:
    config = write_project(tmp_path, fields=[])
    assert run_steps(load_settings(config), "run-1", False).status == "succeeded"
    assert stored_attributes(config)["C1"] == {
        "id": "C1",
        "行业": "制造",
        "员工人数": "1,200",
        "签约日": "2024/3/1",
        "VIP": "是",
    }
    a = analytics.load(load_settings(config).store_url, custom_fields=FIELDS)
    rows = a.custom_fields().sort("员工数").select("员工数", "行业", "VIP").rows()
    # every row loaded (nothing was declared to check them); a value that fails the declaration reads as null
    assert rows == [(None, "零售", True), (10, "零售", None), (50, None, False), (1200, "制造业", True)]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ([{"name": "行业", "type": "choice"}], "custom_fields[0]: Value error, a choice field needs allowed"),
        ([{"name": "status"}], "custom_fields[0].name: Value error, 'status' is a field of every customer already"),
        (
            [{"name": "x", "type": "number"}],
            "custom_fields[0].type: Input should be 'text', 'int', 'float', 'date', 'bool', 'choice' or 'multi_choice'",
        ),
        ([{"name": "a"}, {"name": "a"}], "custom_fields[1].name: 'a' is declared twice"),
        (
            [{"name": "手机号", "columns": ["mobile"]}],
            "custom_fields[0].columns: sources[0].mapping maps 'mobile' to phone, so it never reaches 手机号",
        ),
    ],
)
def test_a_bad_declaration_is_a_problem_of_the_project_file(
    tmp_path: Path, fields: list[dict[str, Any]], problem: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(write_project(tmp_path, fields))
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_the_preflight_finds_a_field_no_source_has_with_the_column_meant(tmp_path: Path) -> None:
    fields = [{"name": "industry", "columns": ["行 业"], "required": True}, {"name": "签约日", "type": "date"}]
    found = check_project(write_project(tmp_path, fields))
    assert [(p.where, p.message, p.hint) for p in found.problems] == [
        (
            "custom_fields[0].columns",
            "no customer source has a column '行 业', 'industry': every row would be quarantined (missing_required)",
            "did you mean '行业'?",
        )
    ]
    result = CliRunner().invoke(app, ["check", str(tmp_path / "crmkit.yaml")])
    assert result.exit_code == 2 and "custom_fields[0].columns" in result.output
