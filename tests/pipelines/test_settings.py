from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.settings import SettingsError, load_settings

from .conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "people.csv").write_text("name,phone\n张伟,13800138000\n", "utf-8")
    path = tmp_path / "project.yaml"
    path.write_text(text, "utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    return info.value.problems


def test_the_demo_project_file_is_valid() -> None:
    settings = load_settings(ROOT / "config" / "demo.yaml")
    assert [s.name for s in settings.sources] == ["sales_workbook", "legacy_crm", "web_signups"]
    assert settings.store_url == f"sqlite:///{(ROOT / 'out' / 'demo' / 'crm.db').resolve()}"
    assert len(settings.config_hash) == 64
    assert all(Path(s.params["path"]).is_absolute() for s in settings.sources)


def test_every_problem_is_reported_once_with_its_yaml_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
project: demo
defaults: {date_order: yyyy}
sources:
  - {name: people, kind: xls, params: {path: people.csv}}
  - name: people
    kind: csv
    params: {path: missing.csv, delimiter: ";;"}
    mapping: {name: fullname}
""",
    )
    found = problems(path)
    assert any(p.startswith("defaults.date_order:") and "'ymd', 'dmy' or 'mdy'" in p and "yyyy" in p for p in found)
    # the pydantic pass fails first: model-level problems are reported before source checks run
    assert len(found) == 1


def test_source_problems_name_the_source_index(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
project: demo
sources:
  - {name: people, kind: xls, params: {path: people.csv}}
  - name: people
    kind: csv
    params: {path: missing.csv, delimiter: ";;", colour: blue}
    mapping: {name: fullname}
""",
    )
    found = problems(path)
    assert any(p.startswith("sources[0].kind: 'xls' is not a connector; allowed: csv") for p in found)
    assert any(p.startswith("sources[1].name: 'people' is used twice") for p in found)
    assert any(p.startswith("sources[1].params.delimiter:") for p in found)
    assert any(p.startswith("sources[1].params.colour:") for p in found)
    assert any(p.startswith("sources[1].mapping:") and "fullname" in p and "full_name" in p for p in found)


def test_a_missing_file_and_a_missing_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMKIT_TEST_DB_PASSWORD", raising=False)
    path = write(
        tmp_path,
        """
project: demo
store: {url: "postgresql+psycopg://crm:${CRMKIT_TEST_DB_PASSWORD}@db/crm"}
sources:
  - {name: people, kind: csv, params: {path: nowhere.csv}}
""",
    )
    found = problems(path)
    assert any(p.startswith("sources[0].params.path: file not found:") and "nowhere.csv" in p for p in found)
    assert "store.url: environment variable CRMKIT_TEST_DB_PASSWORD is not set" in found


def test_environment_variables_fill_the_store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMKIT_TEST_DB_PASSWORD", "s3cret")
    path = write(
        tmp_path,
        """
project: demo
store: {url: "postgresql+psycopg://crm:${CRMKIT_TEST_DB_PASSWORD}@db/crm"}
sources:
  - {name: people, kind: csv, params: {path: people.csv}, mapping: {name: full_name, phone: phone}}
""",
    )
    settings = load_settings(path)
    assert settings.store_url == "postgresql+psycopg://crm:s3cret@db/crm"
    assert "s3cret" not in repr(settings)


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    assert problems(write(tmp_path, "project: [unclosed"))[0].startswith("not valid YAML")
    assert "top level must be a mapping" in problems(write(tmp_path, "- a\n- b\n"))[0]
    missing = tmp_path / "absent.yaml"
    assert problems(missing)[0].startswith("cannot read the project file")


def test_codes_and_skip_rules_are_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
project: demo
sources:
  - name: people
    kind: csv
    params: {path: people.csv}
    codes: {state: {1: active}}
    skip: {gone: {status: [deleted]}, deleted: {flag: [x]}}
""",
    )
    found = problems(path)
    assert any(p.startswith("sources[0].codes.state: not a canonical field") for p in found)
    assert any(p.startswith("sources[0].skip.gone: not a skip reason code; allowed:") and "deleted" in p for p in found)
    assert "sources[0].skip.deleted.flag: not a canonical field" in found


def test_a_relative_sqlite_source_resolves_against_the_project_folder(tmp_path: Path) -> None:
    import sqlite3

    sqlite3.connect(tmp_path / "legacy.db").close()
    text = """
project: demo
sources:
  - {name: legacy, kind: sql, params: {url: "sqlite:///legacy.db", table: KHXX}}
  - {name: gone, kind: sql, params: {url: "sqlite:///nowhere.db", table: KHXX}}
"""
    found = problems(write(tmp_path, text))
    assert found == [f"sources[1].params.url: SQLite database not found: {(tmp_path / 'nowhere.db').resolve()}"]
    settings = load_settings(write(tmp_path, text.split("  - {name: gone")[0]))
    assert settings.sources[0].params["url"] == f"sqlite:///{(tmp_path / 'legacy.db').resolve()}"


def test_a_source_can_have_its_own_normaliser_defaults(tmp_path: Path) -> None:
    settings = load_settings(
        write(
            tmp_path,
            """
project: demo
defaults: {region: CN, date_order: ymd}
sources:
  - {name: people, kind: csv, params: {path: people.csv}, defaults: {region: US}}
  - {name: more, kind: csv, params: {path: people.csv}}
""",
        )
    )
    assert settings.defaults_of("people").region == "US" and settings.defaults_of("people").date_order == "ymd"
    assert settings.defaults_of("more").region == "CN"


def test_incremental_sources_follow_what_their_connector_declares(tmp_path: Path) -> None:
    """A file is incremental by fingerprint, a SQL source needs its cursor column, an HTTP source cannot be."""
    (tmp_path / "legacy.db").write_bytes(b"")
    path = write(
        tmp_path,
        """
project: demo
sources:
  - {name: people, kind: csv, incremental: true, params: {path: people.csv}}
  - {name: legacy, kind: sql, incremental: true, params: {url: "sqlite:///legacy.db", table: customers, key: id}}
  - {name: api, kind: http, incremental: true, params: {url: "https://example.com/customers"}}
""",
    )
    found = problems(path)
    assert not [p for p in found if p.startswith("sources[0]")]
    assert "sources[1].incremental: an incremental sql source needs params.cursor_column" in found
    assert "sources[2].incremental: not supported for http sources; allowed for csv, json, jsonl, sql, xlsx" in found
