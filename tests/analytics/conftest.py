"""The demo store with activities: the bundled demo sample (config/demo.yaml) plus a legacy order table and a
follow-up table of a few legacy customers, loaded by the pipeline's own steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]

#: Orders of legacy customers (KHBH): order number, customer, local time (Asia/Shanghai), amount as written.
ORDERS = [
    ("O1", "KH100003", "2024-01-15 10:00:00", "¥1,200"),
    ("O2", "KH100003", "2024-02-20 10:00:00", "800"),
    ("O3", "KH100005", "2024-01-05 09:00:00", "50000"),
    ("O4", "KH100019", "2024-03-01 00:30:00", "300"),  # still 29 February in UTC: a March order locally
]
#: Follow-ups of legacy customers: record number, customer, local time, what happened.
FOLLOW_UPS = [
    ("F1", "KH100008", "2024-01-10 14:00:00", "电话回访"),
    ("F2", "KH100008", "2024-03-12 14:00:00", "上门拜访"),
    ("F3", "KH100020", "2023-12-01 09:00:00", "发送产品目录"),
    ("F4", "KH100003", "2024-03-05 11:00:00", "回访，客户满意"),
]


def demo_project(out: Path) -> Path:
    """config/demo.yaml with absolute source paths, its store and reports under ``out``, the legacy export keyed
    by its customer number KHBH, and two activity sources whose rows belong to legacy customers."""
    config = ROOT / "config" / "demo.yaml"
    data: dict[str, Any] = yaml.safe_load(config.read_text("utf-8"))
    for source in data["sources"]:
        path = Path(source["params"]["path"])
        if not path.is_absolute():
            source["params"]["path"] = str((config.parent / path).resolve())
        if source["name"] == "legacy_crm":
            source["params"]["key"] = "KHBH"
    (out / "orders.csv").write_text(
        "DDBH,KHBH,XDSJ,JE\n" + "".join(f'{a},{b},{c},"{d}"\n' for a, b, c, d in ORDERS), "utf-8"
    )
    (out / "followups.csv").write_text(
        "JLBH,KHBH,GJSJ,GJNR\n" + "".join(f"{a},{b},{c},{d}\n" for a, b, c, d in FOLLOW_UPS), "utf-8"
    )
    data["sources"] += [
        {
            "name": "legacy_orders",
            "kind": "csv",
            "params": {"path": str(out / "orders.csv"), "key": "DDBH"},
            "activity": {"parent": "legacy_crm", "parent_key": "KHBH", "kind": "order", "occurred_at": "XDSJ"},
        },
        {
            "name": "legacy_followups",
            "kind": "csv",
            "params": {"path": str(out / "followups.csv"), "key": "JLBH"},
            "activity": {
                "parent": "legacy_crm",
                "parent_key": "KHBH",
                "kind": "follow_up",
                "occurred_at": "GJSJ",
                "summary": "GJNR",
            },
        },
    ]
    data["store"] = {"url": f"sqlite:///{out / 'crm.db'}"}
    data["reports_dir"] = str(out / "reports")
    target = out / "crmkit.yaml"
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return target
