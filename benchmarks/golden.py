"""How often the golden record holds the truth: name, mobile, e-mail and company of each person of a hand-over.

Generates a hand-over package (`synthetic.handover`, whose ``entities.csv`` carries each person's name, mobile,
own e-mail addresses and company as of their newest record row), runs crmkit's steps in process (extract, map,
normalise, validate, match and survive; nothing is written to a store) and scores, for every person whose rows
were loaded, the golden record of the customer holding most of them. A field counts only where the truth is in
the rows of the person's customer (the golden record cannot invent it, and a row matched elsewhere is a matching
error, scored by benchmarks/match.py): "right where the truth is in the rows", as issue #10 asks. Also counts
the rows kept out (spam, test, fake people) and real rows quarantined.

    python benchmarks/golden.py --people 20000 --seed 1
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.settings import load_settings  # noqa: E402
from pipelines.steps import check, extract, map_rows, normalise, resolve  # noqa: E402
from synthetic.handover import generate_handover  # noqa: E402

FIELDS = ("name", "mobile", "email", "company")


def _records(out: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(loaded rows with customer_id and normalised fields, golden customers, quarantined rows)."""
    settings = load_settings(out / "crmkit.yaml")
    extracted = extract(settings, {})
    stage = map_rows(settings, extracted)
    validated = check(settings, stage, normalise(settings, stage.candidates))
    golden = resolve(settings, validated.records, None)
    return golden.records, golden.customers, validated.quarantined


def _truth(out: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    truth = pl.read_csv(out / "truth.csv", infer_schema=False)
    entities = pl.read_csv(out / "entities.csv", infer_schema=False).with_columns(
        pl.col("name").str.replace_all(r"\s+", " "),
        pl.when(pl.col("mobile_now").str.len_chars() > 0).then("+86" + pl.col("mobile_now")).alias("mobile_now"),
        pl.col("emails").str.to_lowercase().str.split(" | "),
        pl.when(pl.col("company_now").str.len_chars() > 0).then(pl.col("company_now")).alias("company_now"),
    )
    return truth, entities


def score(out: Path) -> dict[str, object]:
    """Per field: persons with the truth in their rows, how many golden records hold it, and the share."""
    records, customers, quarantined = _records(out)
    truth, entities = _truth(out)
    rows = records.join(truth, left_on=["_source", "_source_key"], right_on=["source", "source_key"], how="left")
    owner = (
        rows.filter(pl.col("entity_id").is_not_null())
        .group_by("entity_id", "customer_id")
        .len()
        .sort("len", "customer_id", descending=[True, False])
        .unique("entity_id", keep="first")
        .select("entity_id", "customer_id")
    )
    # what the golden record could choose from: the rows of the person's customer (matching is scored elsewhere)
    shown = (
        rows.join(owner, on="customer_id", suffix="_owner")
        .group_by("entity_id_owner")
        .agg(
            pl.col("full_name").alias("names"),
            pl.col("phones").list.explode(keep_nulls=False, empty_as_null=False).alias("phones"),
            pl.col("email").str.to_lowercase().alias("emails_shown"),
            pl.col("company").alias("companies_shown"),
        )
    )
    golden = customers.select(
        "customer_id",
        pl.col("full_name").alias("g_name"),
        pl.col("phone").alias("g_mobile"),
        pl.col("email").str.to_lowercase().alias("g_email"),
        pl.col("company").alias("g_company"),
    )
    shown = shown.rename({"entity_id_owner": "entity_id"})
    judged = entities.join(owner, on="entity_id").join(shown, on="entity_id").join(golden, on="customer_id")
    checks = {
        "name": (pl.col("names").list.contains(pl.col("name")), pl.col("g_name") == pl.col("name")),
        "mobile": (pl.col("phones").list.contains(pl.col("mobile_now")), pl.col("g_mobile") == pl.col("mobile_now")),
        "email": (
            pl.col("emails_shown").list.set_intersection("emails").list.len() > 0,
            pl.col("emails").list.contains(pl.col("g_email")),
        ),
        "company": (
            pl.col("companies_shown").list.contains(pl.col("company_now")),
            pl.col("g_company") == pl.col("company_now"),
        ),
    }
    result: dict[str, object] = {}
    for field, (in_rows, right) in checks.items():
        truth_col = {"name": "name", "mobile": "mobile_now", "email": "emails", "company": "company_now"}[field]
        counted = judged.filter(pl.col(truth_col).is_not_null() & in_rows.fill_null(False))
        hits = counted.select(right.fill_null(False).sum()).item()
        result[field] = {"in_rows": counted.height, "right": hits, "share": round(hits / max(counted.height, 1), 4)}
    kinds = truth.group_by("row_kind").len()
    quarantined_kinds = (
        quarantined.join(truth, left_on=["_source", "_source_key"], right_on=["source", "source_key"])
        .group_by("row_kind")
        .len()
    )
    result["rows"] = dict(kinds.iter_rows())
    result["quarantined"] = dict(quarantined_kinds.iter_rows())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="keep the generated package here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        generate_handover(args.people, out, seed=args.seed)
        started = time.perf_counter()
        result = score(out)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
