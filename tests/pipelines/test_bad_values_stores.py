"""Bad values through the load step of every store (#11): the fuzz corpus (tests/fuzz) loads SQLite only; these
few values are the ones a server may refuse where SQLite does not (NUL, 4-byte characters, control characters,
overlong text).

PostgreSQL and MariaDB are those of tests/conftest.py (skipped without a server, unless CRMKIT_REQUIRE_SERVICES).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipelines.migrate import run_steps
from pipelines.settings import load_settings

GOOD = "name,mobile,email\n张伟,13800138000,zhangwei@example.com\n李娜,13800138001,lina@example.com\n"
#: Values a server may refuse: 4-byte characters, a bidi override, zero-width and control characters, CJK
#: extension B, an overlong company, quotes and backslashes.
WEIRD = (
    "name,mobile,company,note\n"
    "张伟👍,13900000001,\U00020000科技,\u202eevil\u202c\n"
    "\u200bZoë\u200d,13900000002," + "长" * 300 + ",\x01\x02\x1f\x7f\n"
    "O'Brien \\ \"x\",13900000003,'; drop table customer;--,\U0001f468\u200d\U0001f469\u200d\U0001f467\n"
)
#: A NUL character in values (a CSV's NUL byte, a JSON ``\u0000``).
NUL_CSV = b"name,mobile,note\n\xe5\xbc\xa0\x00\xe4\xb8\x89,13900000004,n\x00ote\n"
NUL_JSONL = b'{"name": "a\\u0000b", "mobile": "13900000005", "extra": "x\\u0000"}\n'


def store_url(store: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if store == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.db'}"
    url: str = request.getfixturevalue("pg_url" if store == "postgres" else "mariadb_url")
    return url


def migrate(tmp_path: Path, url: str, bad: dict[str, bytes]) -> tuple[str, dict[str, dict[str, object]], str | None]:
    """(status, ledger by source, error) of a run of the good source beside the bad files."""
    (tmp_path / "good.csv").write_text(GOOD, "utf-8")
    sources = [
        {
            "name": "good",
            "kind": "csv",
            "params": {"path": str(tmp_path / "good.csv")},
            "mapping": {"name": "full_name", "mobile": "phone", "email": "email"},
        }
    ]
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        sources.append(
            {
                "name": name.replace(".", "_"),
                "kind": name.rsplit(".", 1)[1],
                "params": {"path": str(tmp_path / name)},
                "mapping": {"name": "full_name", "mobile": "phone", "company": "company", "note": "notes"},
            }
        )
    project = {"project": "stores", "store": {"url": url}, "reports_dir": str(tmp_path / "reports"), "sources": sources}
    config = tmp_path / "crmkit.yaml"
    config.write_text(yaml.safe_dump(project, allow_unicode=True, sort_keys=False), "utf-8")
    result = run_steps(load_settings(config), "stores-1", dry_run=False)
    return result.status, {row["source"]: row for row in result.ledger}, result.error


@pytest.mark.parametrize("store", ["sqlite", "postgres", "mariadb"])
def test_weird_values_load_into_every_store(store: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    status, ledger, error = migrate(tmp_path, store_url(store, request, tmp_path), {"weird.csv": WEIRD.encode()})
    assert status != "failed", error
    assert ledger["good"]["loaded"] == 2
    assert ledger["weird_csv"]["read"] == 3 and ledger["weird_csv"]["balanced"]


@pytest.mark.parametrize(
    "store",
    ["sqlite", "postgres", "mariadb"],
)
def test_a_nul_character_in_a_value_does_not_stop_the_load(
    store: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = store_url(store, request, tmp_path)
    status, ledger, error = migrate(tmp_path, url, {"nul.csv": NUL_CSV, "nul.jsonl": NUL_JSONL})
    assert status != "failed", error
    assert ledger["good"]["loaded"] == 2
    assert all(ledger[s]["read"] == 1 and ledger[s]["balanced"] for s in ("nul_csv", "nul_jsonl"))
