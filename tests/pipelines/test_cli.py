from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.migrate import run_steps
from pipelines.settings import load_settings

runner = CliRunner()


def test_an_invalid_project_file_exits_2_naming_the_yaml_path(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("project: demo\nsources:\n  - {name: a, kind: xls, params: {path: x.csv}}\n", "utf-8")
    result = runner.invoke(app, ["migrate", str(config)])
    assert result.exit_code == 2
    assert "sources[0].kind: 'xls' is not a connector" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow  # through Prefect (a temporary server, a flow run)
def test_migrate_dry_run_through_the_cli(project: Path) -> None:
    result = runner.invoke(app, ["migrate", str(project), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "balanced" in result.output
    assert "Report:" in result.output
    # the blocking rules chosen for this project's columns, their pairs and the estimated recall
    assert "Blocking rules" in result.output and "_mobiles" in result.output
    assert "estimated blocking recall" in result.output
    assert not (project.parent / "crm.db").exists()


def test_export_crosswalk_has_one_row_per_source_row(project: Path, tmp_path: Path) -> None:
    outcome = run_steps(load_settings(project), "run-x", False)
    out = tmp_path / "audit" / "crosswalk.csv"
    result = runner.invoke(app, ["export", "crosswalk", "--config", str(project), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["source", "source_key", "status", "customer_id", "reason"]
    assert len(rows) == sum(row["read"] for row in outcome.ledger)
    for row in rows:
        assert row["status"] in {"loaded", "quarantined", "skipped"}
        assert bool(row["customer_id"]) == (row["status"] == "loaded")
        assert bool(row["reason"]) == (row["status"] != "loaded")


def test_export_from_a_store_that_does_not_exist_creates_nothing(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "crosswalk.csv"
    store = project.parent / "crm.db"  # the project's store: never migrated
    assert not store.exists()
    result = runner.invoke(app, ["export", "crosswalk", "--config", str(project), "--out", str(out)])
    assert result.exit_code == 1
    assert "no crmkit store at" in result.output and "run crmkit migrate" in result.output
    assert not store.exists() and not out.exists()


def test_sample_writes_the_sources_truth_and_a_project_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample", "--entities", "20", "--out", str(tmp_path / "s"), "--seed", "3"])
    assert result.exit_code == 0, result.output
    names = {p.name for p in (tmp_path / "s").iterdir()}
    assert {"sales.xlsx", "legacy_crm.csv", "signups.jsonl", "truth.csv", "crmkit.yaml"} <= names
    load_settings(tmp_path / "s" / "crmkit.yaml")


def test_normalise_prints_one_json_object_per_input_line() -> None:
    import json

    result = runner.invoke(app, ["normalise", "phone"], input="０６３５-８１２３４５６\n1.3800138e+10\nhello\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["input"], r["value"]) for r in lines] == [
        ("０６３５-８１２３４５６", "+866358123456"),
        ("1.3800138e+10", "+8613800138000"),
        ("hello", None),
    ]
    assert lines[0]["parts"]["type"] == "landline" and lines[1]["parts"]["type"] == "mobile"
    assert lines[2]["issues"] and set(lines[0]) == {"input", "value", "issues", "parts"}

    names = runner.invoke(app, ["normalise", "name"], input="張偉先生\n")
    parts = json.loads(names.output)["parts"]
    assert json.loads(names.output)["value"] == "张伟"
    assert (parts["family"], parts["given"], parts["title"], parts["pinyin"]) == ("张", "伟", "先生", "zhang wei")


def test_normalise_options_reach_the_normaliser() -> None:
    import json

    us = runner.invoke(app, ["normalise", "phone", "--region", "us"], input="(415) 555-0123\n")
    assert us.exit_code == 0, us.output
    assert json.loads(us.output)["value"] == "+14155550123"
    day_first = runner.invoke(app, ["normalise", "date", "--date-order", "dmy"], input="03/05/1985\n")
    assert json.loads(day_first.output)["value"] == "1985-05-03"
    month_first = runner.invoke(app, ["normalise", "date", "--date-order", "mdy"], input="03/05/1985\n")
    assert json.loads(month_first.output)["value"] == "1985-03-05"


def test_normalise_rejects_bad_options_without_a_traceback() -> None:
    for args, message in (
        (["phone", "--region", "XX"], "--region: unknown phone region 'XX'"),
        (["date", "--date-order", "ydm"], "--date-order"),
        (["email", "--region", "US"], "--region does not apply to email"),
        (["name", "--encoding", "klingon"], "unknown encoding 'klingon'"),
    ):
        result = runner.invoke(app, ["normalise", *args], input="x\n")
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output


def test_normalise_reads_gb18030_and_reports_undecodable_bytes() -> None:
    import json

    gbk = runner.invoke(app, ["normalise", "name"], input="张伟\r\n王芳先生\r\n".encode("gb18030"))
    assert gbk.exit_code == 0, gbk.output
    assert [json.loads(line)["value"] for line in gbk.output.splitlines()] == ["张伟", "王芳"]
    truncated = "芳".encode()[:2]  # a UTF-8 character cut in half
    broken = runner.invoke(app, ["normalise", "name"], input="张伟\n".encode() + truncated + "\n王芳\n".encode())
    assert broken.exit_code == 0, broken.output
    assert "undecodable bytes" in broken.output and "line 2" in broken.output
    values = [json.loads(line)["value"] for line in broken.output.splitlines() if line.startswith("{")]
    assert values == ["张伟", None, "王芳"]


def test_normalise_rejects_an_unknown_kind_listing_the_known_ones() -> None:
    result = runner.invoke(app, ["normalise", "shoe-size"], input="42\n")
    assert result.exit_code == 2
    assert "phone" in result.output and "email" in result.output


def test_map_proposes_a_mapping_for_a_legacy_csv_and_a_database_table(tmp_path: Path) -> None:
    import sqlite3

    import yaml

    legacy = tmp_path / "khxx.csv"
    legacy.write_bytes(
        "KHBH,KHMC,LXR,SJHM,DZYX\r\n1,聊城华兴机械有限公司,张伟,13800138000,zw@qq.com\r\n".encode("gb18030")
    )
    result = runner.invoke(app, ["map", str(legacy)])
    assert result.exit_code == 0, result.output
    (entry,) = yaml.safe_load(result.output)
    assert entry["kind"] == "csv" and entry["name"] == "khxx"
    assert entry["mapping"] == {"KHMC": "company", "LXR": "full_name", "SJHM": "phone", "DZYX": "email"}
    assert entry["params"]["key"] == "KHBH"  # an identifier column, present and unique: the source's key
    assert "0.85" in result.output  # a confidence per column
    assert runner.invoke(app, ["map", str(legacy), "--key", "LXR"]).output.count("key: LXR") == 1
    result = runner.invoke(app, ["map", str(legacy), "--key", "nope"])
    assert result.exit_code == 2 and "--key 'nope' is not a column" in result.output

    db = tmp_path / "legacy.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table KHXX (KHBH integer primary key, column_a text, column_b text)")
        conn.executemany(
            "insert into KHXX values (?, ?, ?)",
            [(i, f"1390013{i:04d}", f"user{i}@163.com") for i in range(1, 30)],
        )
    out = tmp_path / "proposal.yaml"
    result = runner.invoke(app, ["map", f"sqlite:///{db}", "--table", "KHXX", "--out", str(out)])
    assert result.exit_code == 0, result.output
    (entry,) = yaml.safe_load(out.read_text("utf-8"))
    assert entry["kind"] == "sql" and entry["params"]["table"] == "KHXX"
    assert entry["mapping"] == {"column_a": "phone", "column_b": "email"}


def test_map_needs_a_table_with_a_database_url() -> None:
    result = runner.invoke(app, ["map", "sqlite:///x.db"])
    assert result.exit_code == 2 and "--table or --query" in result.output


MATCH_YAML = """
columns:                 # input column -> canonical field
  id: null
  first_name: first_name
  surname: last_name
  dob: birth_date
  street: street
  city: city
  postcode: postcode
  phone: phone
  email: email
id_column: id
region: GB
date_order: dmy
"""


def test_dedupe_clusters_a_plain_person_table(tmp_path: Path) -> None:
    import random

    import polars as pl
    import yaml

    rng = random.Random(3)
    first = ["Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Mia", "Noah", "Emily", "Leo", "Grace"]
    last = ["Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Thomas", "Roberts", "Walker", "Wright"]
    people = []
    for i in range(60):
        f, s = first[i % len(first)], last[(i * 7) % len(last)]
        people.append(
            {
                "id": f"p{i}",
                "first_name": f,
                "surname": s,
                "dob": f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1950, 2000)}",
                "street": f"{rng.randint(1, 200)} {rng.choice(['High St', 'Church Rd', 'Mill Lane'])}",
                "city": rng.choice(["Leeds", "York", "Bath"]),
                "postcode": f"LS{rng.randint(1, 20)} {rng.randint(1, 9)}AB",
                "phone": f"+44 7700 9{i:05d}",
                "email": f"{f.lower()}.{s.lower()}{i}@example.org",
            }
        )
    dupes = []
    for i in range(0, 60, 6):  # ten people appear twice: a typo, a nickname-free copy, another phone format
        row = dict(people[i], id=f"d{i}")
        row["surname"] = row["surname"][:-1] + row["surname"][-1].upper()
        row["phone"] = row["phone"].replace("+44 ", "0").replace(" ", "")
        dupes.append(row)
    table = tmp_path / "people.csv"
    pl.DataFrame(people + dupes).write_csv(table)
    config = tmp_path / "match.yaml"
    config.write_text(MATCH_YAML.replace("  id: null\n", ""), "utf-8")
    out = tmp_path / "clusters.csv"

    result = runner.invoke(app, ["dedupe", str(table), "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    clusters = pl.read_csv(out, infer_schema=False)
    assert clusters.columns == ["record_id", "cluster_id", "match_probability"]
    cluster_of = dict(zip(clusters["record_id"], clusters["cluster_id"], strict=True))
    for i in range(0, 60, 6):
        assert cluster_of[f"d{i}"] == cluster_of[f"p{i}"], i
    assert clusters["cluster_id"].n_unique() == 60
    assert yaml.safe_load(MATCH_YAML)["id_column"] == "id"
    # the blocking rules chosen for the columns this table has, with their pairs and estimated recall
    assert "Blocking rules" in result.output and "name_key+_dob" in result.output
    assert "candidate pairs" in result.output
    # keeping only the probable pairs: the same clusters, and still every candidate pair counted
    config.write_text(config.read_text("utf-8") + "match: {keep_pairs_above: 0.01}\n", "utf-8")
    kept = runner.invoke(app, ["dedupe", str(table), "--config", str(config), "--out", str(out)])
    assert kept.exit_code == 0, kept.output
    assert pl.read_csv(out, infer_schema=False).equals(clusters)
    counted = [re.search(r"([\d,]+) candidate pairs", r.output) for r in (result, kept)]
    assert counted[0] and counted[1] and counted[0][1] == counted[1][1]


def test_dedupe_saves_a_model_and_matches_new_records_against_earlier_clusters(tmp_path: Path) -> None:
    import polars as pl

    from synthetic.people import generate_people

    table = generate_people(1500, seed=4)
    first, later = tmp_path / "first.csv", tmp_path / "later.csv"
    table.records.head(1300).write_csv(first)
    table.records.slice(1300).write_csv(later)
    config = tmp_path / "match.yaml"
    config.write_text(
        "columns: {given_name: first_name, surname: last_name, date_of_birth: birth_date, street_number: street,"
        " street: street, suburb: city, postcode: postcode}\nid_column: id\nregion: AU\ndate_order: dmy\n",
        "utf-8",
    )
    model, state, out = tmp_path / "model.json", tmp_path / "clusters.parquet", tmp_path / "new.csv"
    args = ["dedupe", str(first), "--config", str(config), "--out", str(state), "--model", str(model)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert model.exists() and "trained a model" in result.output
    assert "estimated blocking recall" in result.output
    earlier = pl.read_parquet(state)
    assert {"record_id", "cluster_id", "full_name", "birth_date"} <= set(earlier.columns)
    args = ["dedupe", str(later), "--config", str(config), "--out", str(out), "--model", str(model)]
    result = runner.invoke(app, [*args, "--against", str(state)])
    assert result.exit_code == 0, result.output
    assert "trained" not in result.output
    clusters = pl.read_csv(out, infer_schema=False)
    assert clusters.height == 1500
    before = dict(zip(earlier["record_id"], earlier["cluster_id"], strict=True))
    after = dict(zip(clusters["record_id"], clusters["cluster_id"], strict=True))
    assert all(after[k] == v for k, v in before.items())
    missing = runner.invoke(app, [*args[:-2], "--against", str(state)])
    assert missing.exit_code == 2 and "--model" in missing.output


def test_dedupe_reports_a_bad_config_with_its_path(tmp_path: Path) -> None:
    table = tmp_path / "people.csv"
    table.write_text("name,phone\nAnn,123\n", "utf-8")
    config = tmp_path / "match.yaml"
    config.write_text("columns: {name: full_name}\nmatch: {threshold: 2}\n", "utf-8")
    result = runner.invoke(app, ["dedupe", str(table), "--config", str(config), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "match.threshold" in result.output
