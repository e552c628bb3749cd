"""The pre-flight check of a project file: every problem at once, with "did you mean", before any flow starts."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import Workbook
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.preflight import Problem, check_dedupe, check_project, did_you_mean

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _project(tmp_path: Path, sources: list[dict[str, Any]], **extra: Any) -> Path:
    data = {"project": "t", "store": {"url": "sqlite:///crm.db"}, "sources": sources, **extra}
    config = tmp_path / "crmkit.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return config


def _legacy_csv(tmp_path: Path) -> Path:
    """A legacy export in GB18030 with CRLF line ends and pinyin-abbreviation headers."""
    path = tmp_path / "legacy.csv"
    path.write_bytes("KHBH,KHMC,LXR,SJHM\r\n1,北京正宇科技有限公司,张伟,13800138000\r\n".encode("gb18030"))
    return path


def _by_where(problems: list[Problem]) -> dict[str, Problem]:
    return {p.where: p for p in problems}


# ------------------------------------------------------------------------------------------- no false alarms


@pytest.mark.parametrize("config", [ROOT / "config" / "demo.yaml", ROOT / "samples" / "demo" / "crmkit.yaml"])
def test_the_bundled_projects_pass_gbk_csv_and_titled_sheets_included(config: Path) -> None:
    found = check_project(config)
    assert found.ok and not found.unreadable, [str(p) for p in [*found.problems, *found.unreadable]]
    assert found.settings is not None and set(found.headers) == {"sales_workbook", "legacy_crm", "web_signups"}
    assert found.headers["legacy_crm"].columns[""][:3] == ["KHBH", "KHMC", "LXR"]  # GB18030, CRLF
    sheets = found.headers["sales_workbook"].columns
    mapping = found.settings.source("sales_workbook").mapping
    # every sheet's header is found below its title rows: each has mapped columns
    assert len(sheets) == 6 and all(set(columns) & set(mapping) for columns in sheets.values()), sheets


def test_a_generated_sample_passes(sample_dir: Path) -> None:
    found = check_project(sample_dir / "crmkit.yaml")
    assert found.ok and not found.unreadable, [str(p) for p in found.problems]
    assert len(found.headers) == len(found.settings.sources)  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------- each kind of problem


def test_a_mapped_column_absent_from_the_real_header_is_named_with_did_you_mean(tmp_path: Path) -> None:
    path = _legacy_csv(tmp_path)
    mapping = {"KHMCC": "company", "LXR": "full_name", "sjhm": "phone"}
    found = check_project(
        _project(tmp_path, [{"name": "legacy", "kind": "csv", "params": {"path": path.name}, "mapping": mapping}])
    )
    problems = _by_where(found.problems)
    assert set(problems) == {"sources[0].mapping.KHMCC", "sources[0].mapping.sjhm"}
    typo = problems["sources[0].mapping.KHMCC"]
    assert typo.source == "legacy" and "legacy.csv" in typo.message and "company would stay empty" in typo.message
    assert typo.hint == "did you mean 'KHMC'?"
    assert problems["sources[0].mapping.sjhm"].hint == "did you mean 'SJHM'?"  # case matters to the connector


def test_a_large_csv_is_checked_from_its_top(tmp_path: Path) -> None:
    """Only the first megabyte is decoded: the header, its encoding (GB18030) and delimiter are found there."""
    rows = "".join(f"{i};北京正宇科技有限公司;张伟;13800138000\r\n" for i in range(40_000))
    (tmp_path / "big.csv").write_bytes(("客户编号;客户名称;联系人;手机\r\n" + rows).encode("gb18030"))
    assert (tmp_path / "big.csv").stat().st_size > 1 << 20
    mapping = {"客户名称": "company", "联系人": "full_name", "手机号": "phone"}
    found = check_project(
        _project(tmp_path, [{"name": "b", "kind": "csv", "params": {"path": "big.csv"}, "mapping": mapping}])
    )
    assert found.headers["b"].columns == {"": ["客户编号", "客户名称", "联系人", "手机"]}
    assert [(p.where, p.hint) for p in found.problems] == [("sources[0].mapping.手机号", "did you mean '手机'?")]


def test_one_of_several_columns_listed_for_a_field_may_be_absent(tmp_path: Path) -> None:
    path = _legacy_csv(tmp_path)
    mapping = {"KHMC": "company", "公司名称": "company", "LXR": "full_name", "联系人": "full_name"}
    found = check_project(
        _project(tmp_path, [{"name": "a", "kind": "csv", "params": {"path": path.name}, "mapping": mapping}])
    )
    assert found.ok, [str(p) for p in found.problems]


def test_codecs_unknown_or_not_text_are_named_and_the_header_still_checked(tmp_path: Path) -> None:
    path = _legacy_csv(tmp_path)
    sources = [
        {
            "name": "a",
            "kind": "csv",
            "params": {"path": path.name, "encoding": "gbk2"},
            "mapping": {"KHMCC": "company"},
        },
        {
            "name": "b",
            "kind": "csv",
            "params": {"path": path.name, "encoding": "base64"},
            "mapping": {"KHMC": "company"},
        },
    ]
    problems = _by_where(check_project(_project(tmp_path, sources)).problems)
    assert problems["sources[0].params.encoding"].message == "unknown encoding 'gbk2'"
    assert problems["sources[0].params.encoding"].hint == "did you mean 'gbk'?"
    assert problems["sources[0].mapping.KHMCC"].hint == "did you mean 'KHMC'?"  # read with the detected codec
    assert "not a text encoding" in problems["sources[1].params.encoding"].message


def test_database_urls_with_a_wrong_dialect_or_driver(tmp_path: Path) -> None:
    sources = [{"name": "db", "kind": "sql", "params": {"url": "postgresql+psycopg3://u@localhost/x", "table": "t"}}]
    found = check_project(_project(tmp_path, sources, store={"url": "postgres://u@localhost/crm"}))
    problems = _by_where(found.problems)
    assert problems["store.url"].message == "'postgres' is not a database SQLAlchemy knows"
    assert problems["store.url"].hint == "did you mean 'postgresql'?"
    assert problems["sources[0].params.url"].message == "postgresql has no driver 'psycopg3'"
    assert problems["sources[0].params.url"].hint == "did you mean 'postgresql+psycopg'?"
    assert not found.unreadable  # nothing was sent to a server
    csv_source = {"name": "a", "kind": "csv", "params": {"path": _legacy_csv(tmp_path).name}}
    oracle = check_project(_project(tmp_path, [csv_source], store={"url": "oracle+oracledb://u@h/x"}))
    assert [(p.where, p.message) for p in oracle.problems] == [("store.url", "the store cannot live in oracle")]


@pytest.mark.skipif(importlib.util.find_spec("psycopg2") is not None, reason="psycopg2 is installed here")
def test_a_driver_that_is_not_installed_points_at_one_that_is(tmp_path: Path) -> None:
    path = _legacy_csv(tmp_path)
    sources = [{"name": "a", "kind": "csv", "params": {"path": path.name}}]
    found = check_project(_project(tmp_path, sources, store={"url": "postgresql://u@localhost/crm"}))
    (problem,) = found.problems
    assert problem.where == "store.url" and "psycopg2 driver is not installed" in problem.message
    assert "postgresql+psycopg://" in problem.hint


def test_sheets_keys_and_activity_columns_against_the_workbook(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "客户"
    sheet.append(["2024 年客户表"])  # a title row above the header
    sheet.append([])
    sheet.append(["编号", "姓名", "手机"])
    sheet.append(["7", "张伟", "13800138000"])
    book.create_sheet("跟进").append(["客户编号", "日期", "内容"])
    book.save(tmp_path / "book.xlsx")
    sources = [
        {
            "name": "book",
            "kind": "xlsx",
            "params": {"path": "book.xlsx", "sheets": ["客户", "客护"], "key": "编码"},
            "mapping": {"姓名": "full_name", "手机号": "phone"},
        },
        {
            "name": "follow",
            "kind": "xlsx",
            "params": {"path": "book.xlsx", "sheets": ["跟进"]},
            "activity": {"parent": "book", "parent_key": "客户编码", "occurred_at": "日期", "summary": "内容"},
        },
    ]
    found = check_project(_project(tmp_path, sources))
    assert found.headers["book"].columns == {"客户": ["编号", "姓名", "手机"]}  # the title row is not the header
    problems = _by_where(found.problems)
    assert set(problems) == {
        "sources[0].params.sheets[1]",
        "sources[0].params.key",
        "sources[0].mapping.手机号",
        "sources[1].activity.parent_key",
    }
    assert problems["sources[0].params.sheets[1]"].hint == "did you mean '客户'?"
    assert problems["sources[0].params.key"].hint == "did you mean '编号'?"
    assert problems["sources[0].mapping.手机号"].hint == "did you mean '手机'?"
    assert problems["sources[1].activity.parent_key"].hint == "did you mean '客户编号'?"


def test_sql_tables_and_queries_are_checked_by_their_columns(tmp_path: Path) -> None:
    db = tmp_path / "legacy.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table khxx (khbh integer primary key, khmc text, sjhm text)")
        conn.execute("insert into khxx values (1, '正宇', '13800138000')")
    url = f"sqlite:///{db}"
    sources = [
        {"name": "t", "kind": "sql", "params": {"url": url, "table": "khxx"}, "mapping": {"khmcc": "company"}},
        {
            "name": "q",
            "kind": "sql",
            "params": {"url": url, "query": "select khbh as id, sjhm from khxx", "key": "idd"},
            "mapping": {"sjhm": "phone", "khmc": "company"},
        },
        {"name": "n", "kind": "sql", "params": {"url": url, "table": "khxxx"}, "mapping": {"khmc": "company"}},
        {"name": "p", "kind": "sql", "params": {"url": url, "table": "khxx", "password_env": "CRMKIT_PF_UNSET_PW"}},
        {"name": "w", "kind": "sql", "params": {"url": url, "query": "delete from khxx", "key": "khbh"}},
    ]
    found = check_project(_project(tmp_path, sources))
    problems = _by_where(found.problems)
    assert problems["sources[0].mapping.khmcc"].hint == "did you mean 'khmc'?"
    assert "table 'khxx'" in problems["sources[0].mapping.khmcc"].message
    assert problems["sources[1].params.key"].hint == "did you mean 'id'?"
    assert problems["sources[1].mapping.khmc"].message.startswith("column 'khmc' is not in the headers of the query")
    # no such table: a run fails this source alone, so `crmkit migrate` goes on; `crmkit check` reports it
    assert "sources[2].params" not in problems
    (missing,) = found.unreadable
    assert missing.source == "n" and "no table named 'khxxx'" in missing.message and db.name in missing.message
    assert missing.hint == "did you mean 'khxx'?"
    assert "CRMKIT_PF_UNSET_PW" in problems["sources[3].params"].message  # settings faults stop a run
    assert "is not run: it starts with DELETE" in problems["sources[4].params"].message
    with sqlite3.connect(db) as conn:  # read on a read-only connection: nothing changed
        assert conn.execute("select count(*) from khxx").fetchone() == (1,)


def test_keys_first_used_past_the_records_read_are_not_taken_as_absent(tmp_path: Path) -> None:
    lines = [json.dumps({"name": f"p{i}"}) for i in range(50_000)]  # a full first batch: the rest is not parsed
    lines.append(json.dumps({"name": "王芳", "微信": "wf"}, ensure_ascii=True))  # "\u5fae\u4fe1"
    (tmp_path / "big.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    mapping = {"name": "full_name", "微信": "wechat", "wechat_id": "notes"}
    found = check_project(
        _project(tmp_path, [{"name": "l", "kind": "jsonl", "params": {"path": "big.jsonl"}, "mapping": mapping}])
    )
    assert not found.headers["l"].complete and found.headers["l"].found_later == {"微信"}
    assert [p.where for p in found.problems] == ["sources[0].mapping.wechat_id"]
    assert "(its first records)" in found.problems[0].message


def test_json_records_are_checked_by_their_keys(tmp_path: Path) -> None:
    (tmp_path / "web.json").write_text(json.dumps([{"name": "张伟", "mobile": "13800138000"}]), "utf-8")
    lines = [json.dumps({"name": "张伟"})] * 3 + [json.dumps({"name": "王芳", "微信": "wf"}, ensure_ascii=True)]
    (tmp_path / "web.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    sources = [
        {
            "name": "j",
            "kind": "json",
            "params": {"path": "web.json"},
            "mapping": {"name": "full_name", "mobil": "phone"},
        },
        {
            "name": "l",
            "kind": "jsonl",
            "params": {"path": "web.jsonl"},
            "mapping": {"name": "full_name", "微信": "wechat"},
        },
    ]
    found = check_project(_project(tmp_path, sources))
    assert [(p.where, p.hint) for p in found.problems] == [("sources[0].mapping.mobil", "did you mean 'mobile'?")]


def test_an_http_source_is_not_fetched(tmp_path: Path) -> None:
    api = {
        "name": "api",
        "kind": "http",
        "params": {"url": "http://127.0.0.1:9/customers"},
        "mapping": {"n": "full_name"},
    }
    found = check_project(_project(tmp_path, [api]))
    assert found.ok and not found.unreadable and found.unchecked == ["api"]
    result = runner.invoke(app, ["check", str(found.file)])
    assert result.exit_code == 0 and "api: columns not checked" in result.output, result.output


def test_rules_that_name_fields_the_rows_will_not_have(tmp_path: Path) -> None:
    path = _legacy_csv(tmp_path)
    sources = [
        {"name": "a", "kind": "csv", "params": {"path": path.name}, "mapping": {"KHMC": "company", "LXR": "full_name"}}
    ]
    rules = {
        "required": ["full_name", "birth_date", "name_pinyin"],
        "require_any": [["phone", "email"]],
        "expectations": [
            {"type": "regex", "column": "emial", "pattern": "@"},
            {"type": "not_null", "column": "phone_type"},
        ],
        "quarantine_issues": {"fullname.not_a_name": "not_a_name"},
        "spam_severity": {"spam_markupp": "warning", "spam_bot": "warning"},
    }
    match = {"blocking": [["name_kye", "birth_date"], ["company_key"]]}
    problems = _by_where(check_project(_project(tmp_path, sources, rules=rules, match=match)).problems)
    assert set(problems) == {
        "rules.required[1]",
        "rules.require_any[0]",
        "rules.expectations[0].column",
        "rules.expectations[1].column",
        "rules.quarantine_issues.fullname.not_a_name",
        "rules.spam_severity.spam_markupp",
        "match.blocking[0]",
    }  # name_pinyin is derived from the mapped full_name: fine
    assert "every row would be quarantined" in problems["rules.required[1]"].message
    assert problems["rules.expectations[0].column"].hint == "did you mean 'email'?"
    assert "derived from a field no source maps" in problems["rules.expectations[1].column"].message
    assert problems["rules.quarantine_issues.fullname.not_a_name"].hint == "did you mean 'full_name'?"
    assert problems["rules.spam_severity.spam_markupp"].hint == "did you mean 'spam_markup'?"
    assert problems["match.blocking[0]"].hint == "did you mean 'name_key'?"


def test_defaults_the_normalisers_would_refuse(tmp_path: Path) -> None:
    path = _legacy_csv(tmp_path)
    sources = [{"name": "a", "kind": "csv", "params": {"path": path.name}, "defaults": {"timezone": "Europe/Londn"}}]
    problems = _by_where(check_project(_project(tmp_path, sources, defaults={"region": "XX"})).problems)
    assert problems["defaults.region"].message == "unknown phone region 'XX'"
    assert problems["sources[0].defaults.timezone"].hint == "did you mean 'Europe/London'?"


def test_a_file_that_cannot_be_read_as_a_project_is_one_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("project: x\nsources: [\n", "utf-8")
    (problem,) = check_project(broken).problems
    assert problem.where.startswith(f"{broken}:") and problem.message.startswith("not valid YAML")
    (missing,) = check_project(tmp_path / "nope.yaml").problems
    assert "cannot read the project file" in missing.message


def test_a_source_that_cannot_be_read_now_is_apart_from_the_problems(tmp_path: Path) -> None:
    (tmp_path / "corrupt.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    found = check_project(_project(tmp_path, [{"name": "x", "kind": "xlsx", "params": {"path": "corrupt.xlsx"}}]))
    assert found.ok and [p.source for p in found.unreadable] == ["x"]
    assert found.unreadable[0].where == "sources[0].params" and "corrupt.xlsx" in found.unreadable[0].message
    result = runner.invoke(app, ["check", str(found.file)])
    assert result.exit_code == 2 and "cannot open the workbook" in result.output, result.output


# ------------------------------------------------------------------------------------------- all at once


def test_static_and_data_problems_are_reported_together(tmp_path: Path) -> None:
    path = _legacy_csv(tmp_path)
    sources = [
        {"name": "a", "kind": "csv", "params": {"path": path.name, "delimitr": ","}, "mapping": {"KHMCC": "compny"}},
        {"name": "b", "kind": "cvs", "params": {"path": path.name}},
        {"name": "c", "kind": "csv", "params": {"path": "legacy.cvs"}},
    ]
    found = check_project(
        _project(tmp_path, sources, reportz_dir="out", match={"threshhold": 0.8}, survivorship={"emial": ["priority"]})
    )
    assert [(p.where, p.hint) for p in found.problems] == [
        ("reportz_dir", "did you mean 'reports_dir'?"),
        ("sources[0].params.delimitr", "did you mean 'delimiter'?"),
        ("sources[0].mapping.KHMCC", "did you mean 'company'?"),  # the field it maps to
        ("sources[0].mapping.KHMCC", "did you mean 'KHMC'?"),  # the header, read although the file has errors
        ("sources[1].kind", "did you mean 'csv'?"),
        ("sources[2].params.path", "did you mean 'legacy.csv'?"),
        ("match.threshhold", "did you mean 'threshold'?"),
        ("survivorship", "did you mean 'email'?"),
    ]
    assert found.settings is None and [p.source for p in found.problems][1:6] == ["a", "a", "a", "b", "c"]


def test_a_connector_parameter_written_beside_params_points_under_params(tmp_path: Path) -> None:
    path = _legacy_csv(tmp_path)
    sources = [
        {"name": "a", "kind": "csv", "path": path.name, "mapping": {"KHMC": "company"}},
        {"name": "b", "kind": "csv", "params": {"path": path.name}, "encodng": "gb18030"},
        {"name": "c", "kind": "xlsx", "params": {"path": "x.xlsx"}, "Sheet": "客户"},
        {"name": "d", "kind": "csv", "params": {"path": path.name}, "mapings": {"KHMC": "company"}},
    ]
    problems = _by_where(check_project(_project(tmp_path, sources)).problems)
    assert {where: (p.source, p.message, p.hint) for where, p in problems.items() if where.count(".") == 1} == {
        "sources[0].path": ("a", "unknown setting 'path'", "did you mean params.path?"),
        "sources[1].encodng": ("b", "unknown setting 'encodng'", "did you mean params.encoding?"),
        "sources[2].Sheet": ("c", "unknown setting 'Sheet'", "did you mean params.sheets?"),  # the kind's params
        "sources[3].mapings": ("d", "unknown setting 'mapings'", "did you mean 'mapping'?"),  # a source setting
    }
    assert str(problems["sources[0].params.path"]) == (
        "sources[0].params.path: Field required (it is set at sources[0].path: move it under params)"
    )


def test_did_you_mean() -> None:
    assert did_you_mean("emial", ["email", "phone"]) == "did you mean 'email'?"
    assert did_you_mean("ＫＨＭＣ", ["KHMC"]) == "did you mean 'KHMC'?"  # full-width letters
    assert did_you_mean("cvs", ["csv", "xlsx"]) == "did you mean 'csv'?"  # swapped letters
    assert did_you_mean("手机号吗", ["手机号码", "姓名"]) == "did you mean '手机号码'?"
    assert did_you_mean("zzz", ["email", "phone"]) == ""
    assert did_you_mean("email", ["email"]) == ""


def test_dedupe_inputs_are_checked_against_the_table(tmp_path: Path) -> None:
    table = tmp_path / "people.csv"
    table.write_text("id,first_name,last_name,dob\n1,Ann,Lee,1980-01-02\n", "utf-8")
    config = tmp_path / "dedupe.yaml"
    config.write_text("columns: {frist_name: first_name, last_name: last_name, dob: birht_date}\nid_column: ID\n")
    problems = _by_where(check_dedupe(table, config, tmp_path / "out.xls"))
    assert problems["columns.frist_name"].hint == "did you mean 'first_name'?"
    assert problems["id_column"].hint == "did you mean 'id'?"
    assert problems["columns.dob"].hint == "did you mean 'birth_date'?"
    assert "--out out.xls" in problems
    args = ["dedupe", str(table), "--config", str(config), "--out", str(tmp_path / "out.xls")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "4 problem(s)" in result.output and "Traceback" not in result.output
    assert "columns.frist_name: column 'frist_name' is not in the headers of people.csv" in result.output


# ------------------------------------------------------------------------------------------- the command line


def test_check_prints_every_problem_in_one_table_and_exits_2(tmp_path: Path) -> None:
    path = _legacy_csv(tmp_path)
    sources = [{"name": "legacy", "kind": "csv", "params": {"path": path.name}, "mapping": {"KHMCC": "company"}}]
    config = _project(tmp_path, sources, match={"threshhold": 0.8})
    result = runner.invoke(app, ["check", str(config)])
    assert result.exit_code == 2, result.output
    text = result.output
    assert "2 problem(s)" in text and "Traceback" not in text
    assert "sources[0].mapping.KHMCC: column 'KHMCC' is not in the headers of legacy.csv" in text
    assert "did you mean 'KHMC'?" in text and "did you mean 'threshold'?" in text
    ok = runner.invoke(app, ["check", str(ROOT / "config" / "demo.yaml")])
    assert ok.exit_code == 0 and "no problems" in ok.output, ok.output


_RUN = textwrap.dedent(
    """
    import json, sys
    from pipelines.cli import app
    for args in json.loads(sys.argv[1]):
        print("EXIT", app(args, standalone_mode=False), flush=True)
    print("HEAVY", json.dumps(sorted({"prefect", "great_expectations"} & set(sys.modules))))
    """
)


def test_a_bad_project_file_stops_before_prefect_or_great_expectations(tmp_path: Path) -> None:
    """``crmkit check`` and ``crmkit migrate --dry-run`` on a bad file: exit 2, every problem, no traceback, and
    neither Prefect nor Great Expectations imported (a fresh process: this one has imported them already)."""
    path = _legacy_csv(tmp_path)
    source = {"name": "legacy", "kind": "csv", "params": {"path": path.name, "encoding": "gbk2"}}
    config = _project(tmp_path, [{**source, "mapping": {"KHMCC": "company"}}], store={"url": "postgres://u@h/crm"})
    commands = [["check", str(config)], ["migrate", "--dry-run", str(config)]]
    done = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(commands)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PREFECT_HOME": str(tmp_path / "prefect"), "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["EXIT 2", "EXIT 2", "HEAVY []"], (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stderr.count("3 problem(s)") == 2, done.stderr
    for hint in ("did you mean 'gbk'?", "did you mean 'KHMC'?", "did you mean 'postgresql'?"):
        assert done.stderr.count(hint) == 2, done.stderr
