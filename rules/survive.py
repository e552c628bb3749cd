"""Survivorship: one golden record per cluster, each field from its best source value, with provenance.

Every field's candidates are the cluster's non-empty values. They are ranked by **quality** first (fields with a
notion of it, see `QUALITY`), then **recency**, then **source priority**:

* ``full_name``: a real name over a surname with a title (陈总, 陈会计) or a single character; hanzi over pinyin
  or an English name (吴莉雨 over ``Liyu Wu``); then the spelling most rows of the cluster agree on (a one-off
  typo loses to the name three rows confirm).
* ``phone`` (the primary phone): a mobile over a foreign number over a landline or switchboard.
* ``email``: a personal address over a role mailbox (sales@…).
* ``company``: recency decides *which* company (people change jobs); among the values naming that company
  (same key, or one key inside the other: 光盛 in 光盛商贸) the full registered name wins: hanzi, with its legal
  form (有限公司) and its place (德州市), the spelling most rows agree on, the longest. A person's own name in
  the company field (a consumer's 客户名称) is not a company.

* ``landline``: the number most rows agree on; ``last_contact_at``: the latest.

Recency is a row's ``updated_at``, else its ``created_at``, else its source's ``_as_of`` (the date a workbook
was kept current to, a legacy system's freeze date); ISO text and datetimes both sort correctly. Ties go to
the higher ``_priority`` (a per-source setting), then to ``_source``, ``_source_key`` ascending, so the choice
is deterministic. The order of the three criteria can be set per field (the project file's ``survivorship``).
Every chosen value keeps its provenance (the source row it came from) and its ``rule``: the first criterion
that told it from the best other value (``quality:mobile``, ``recency``, ``priority``; ``only`` when no row
disagrees; ``order`` when nothing but the source and key order did).

:func:`customer_ids` keeps ids stable across runs by member overlap; :func:`id_lineage` says where the ids of
an earlier run went (``merged_into``, ``split_from``).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from crm_store.schema import SOURCE_COL, SOURCE_KEY_COL

__all__ = ["CRITERIA", "CUSTOMER_ID_NAMESPACE", "QUALITY", "SurvivorResult", "customer_ids", "id_lineage", "survive"]

#: Namespace of the uuid5 customer ids derived from a cluster's first source row. Never change it: ids must
#: stay stable across runs and releases.
CUSTOMER_ID_NAMESPACE: Final = uuid.UUID("5d0f1c2e-8f4b-5a53-9c1e-6b7a0c3f2d41")
RID: Final = "_rid"
_NAMESPACE_BYTES: Final = CUSTOMER_ID_NAMESPACE.bytes


@dataclass(frozen=True, slots=True)
class SurvivorResult:
    """``golden``: ``cluster`` + one column per field; ``provenance``: where each golden value came from."""

    golden: pl.DataFrame
    provenance: pl.DataFrame


def _with_clusters(records: pl.DataFrame, clusters: pl.DataFrame) -> pl.DataFrame:
    for col in (RID, SOURCE_COL, SOURCE_KEY_COL):
        if col not in records.columns:
            raise ValueError(f"records need a {col!r} column")
    joined = records.join(clusters.select(RID, "cluster"), on=RID, how="left")
    if joined["cluster"].null_count():
        raise ValueError("some records have no cluster (their _rid is not in clusters)")
    return joined


def _non_empty(col: str, dtype: pl.DataType) -> pl.Expr:
    expr = pl.col(col).is_not_null()
    if dtype == pl.String:
        expr &= pl.col(col).str.strip_chars().str.len_chars() > 0
    elif isinstance(dtype, pl.List):
        expr &= pl.col(col).list.len() > 0
    return expr


def _as_text(col: str, dtype: pl.DataType) -> pl.Expr:
    if dtype.is_nested():
        encoded = pl.struct(pl.col(col).alias("v")).struct.json_encode()  # {"v":...}
        return encoded.str.slice(5, encoded.str.len_chars() - 6)
    return pl.col(col).cast(pl.String)


_CJK = r"[\u3400-\u9fff]"
_RECENCY = "_recency"
_ORDER = "_order"  # a row's place in the recency order: recency, then priority, then source and key


def _has(col: str, issue: str) -> pl.Expr:
    """Whether the row's ``_issues`` list holds ``<col>.<issue>`` (false when the frame has no ``_issues``)."""
    return pl.col("_issues").list.contains(f"{col}.{issue}").fill_null(False)


def _support(col: str) -> pl.Expr:
    """How many rows of the cluster hold the same value."""
    return pl.len().over("cluster", col)


Criterion = tuple[str, pl.Expr]


def _name_quality(columns: set[str]) -> list[Criterion]:
    name = pl.col("full_name")
    real = name.str.len_chars() >= 2
    if "name_title" in columns:
        real &= pl.col("name_title").is_null()
    return [("real_name", real), ("hanzi", name.str.contains(_CJK)), ("agreed", _support("full_name"))]


def _phone_quality(columns: set[str]) -> list[Criterion]:
    if "phone_type" not in columns:
        return []
    kind = pl.col("phone_type")
    return [("mobile", pl.when(kind == "mobile").then(2).when(kind == "landline").then(0).otherwise(1))]


def _landline_quality(columns: set[str]) -> list[Criterion]:
    return [("agreed", _support("landline"))]


def _email_quality(columns: set[str]) -> list[Criterion]:
    return [("personal", ~pl.col("email_role").fill_null(False))] if "email_role" in columns else []


def _company_quality(columns: set[str]) -> list[Criterion]:
    company = pl.col("company")
    out = [("hanzi", company.str.contains(_CJK))]
    if "_issues" in columns:
        out += [("legal_suffix", _has("company", "legal_suffix")), ("region_prefix", _has("company", "region_prefix"))]
    return [*out, ("agreed", _support("company")), ("full_length", company.str.len_chars())]


def _latest_quality(columns: set[str]) -> list[Criterion]:
    return [("latest", pl.col("last_contact_at").cast(pl.String))]


#: Field -> the named criteria that rank its candidates by quality (each expression: higher is better), given
#: the columns the records have. A field without an entry has no notion of quality.
QUALITY: Final[dict[str, Callable[[set[str]], list[Criterion]]]] = {
    "full_name": _name_quality,
    "phone": _phone_quality,
    "landline": _landline_quality,
    "email": _email_quality,
    "company": _company_quality,
    "last_contact_at": _latest_quality,
}

#: The ways of ranking a field's candidates, in the default order (``survive(order=...)`` reorders them per
#: field; the source and key order breaks the last ties).
CRITERIA: Final = ("quality", "recency", "priority")


def _recency(columns: list[str]) -> pl.Expr:
    times = [pl.col(c).cast(pl.String) for c in ("updated_at", "created_at", "_as_of") if c in columns]
    return pl.coalesce(times) if times else pl.lit(None, pl.String)


def _company_candidates(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows whose company names the cluster's current company (the newest row's), not a person's own name.

    Two values name one company when their keys are equal or one holds the other (光盛 in 光盛商贸), or when
    their pinyin keys start alike (``qiming…`` for 齐铭钢管 and Qiming Steel Pipe).
    """
    rows = rows.filter(pl.col("full_name").is_null() | (pl.col("company") != pl.col("full_name")))
    if "company_key" not in rows.columns:
        return rows
    py = "company_key_pinyin" if "company_key_pinyin" in rows.columns else "company_key"
    keyed = rows.with_columns(
        pl.coalesce("company_key", "company").alias("_key"), pl.coalesce(py, "company").str.slice(0, 6).alias("_py")
    )
    current = keyed.group_by("cluster", maintain_order=True).agg(  # rows are in recency order
        pl.col("_key").first().alias("_current"), pl.col("_py").first().alias("_current_py")
    )
    key, now = pl.col("_key"), pl.col("_current")
    same = (key == now) | key.str.contains(now, literal=True) | now.str.contains(key, literal=True)
    same |= (pl.col("_py") == pl.col("_current_py")) & (pl.col("_py").str.len_chars() >= 6)
    return (
        keyed.join(current, on="cluster", maintain_order="left")
        .filter(same)
        .drop("_key", "_py", "_current", "_current_py")
    )


def _ranking(field: str, columns: set[str], order: Sequence[str]) -> list[Criterion]:
    """The named sort keys of one field, best first: its criteria in ``order`` (``recency``: newest first,
    ``priority``: highest first); the rows' recency order (``_order``) breaks the ties that remain."""
    keys: list[Criterion] = []
    for criterion in order:
        if criterion == "quality":
            quality = QUALITY.get(field)
            keys += [(f"quality:{name}", expr) for name, expr in quality(columns)] if quality is not None else []
        elif criterion == "recency":
            keys.append(("recency", pl.col(_RECENCY)))
        elif criterion == "priority":
            keys.append(("priority", pl.col("_priority")))
    return keys


def _choose(rows: pl.DataFrame, field: str, order: Sequence[str]) -> pl.DataFrame:
    """The best row per cluster for one field, and the ``rule`` that chose it: the first criterion that tells
    the chosen value from the best other value (``only``: no other value; ``order``: nothing but the source and
    key order did)."""
    dtype = rows.schema[field]
    candidates = rows.filter(_non_empty(field, dtype))
    everyone = candidates
    if field == "company" and "quality" in order:
        candidates = _company_candidates(candidates)
    keys = _ranking(field, set(candidates.columns), order)
    names = [f"_k{i}" for i in range(len(keys))]
    text = _as_text(field, dtype).alias("_text")
    ranked = candidates.with_columns(text, *(expr.alias(n) for n, (_, expr) in zip(names, keys, strict=True)))
    # the rows' recency order already ranks by recency, then priority: such trailing keys need no sort
    labels = [label for label, _ in keys]
    implied = 2 if labels[-2:] == ["recency", "priority"] else 1 if labels[-1:] == ["recency"] else 0
    sort_by = names[: len(names) - implied]
    if sort_by:
        ranked = ranked.sort(
            ["cluster", *sort_by, _ORDER], descending=[False, *[True] * len(sort_by), False], nulls_last=True
        )
    best = ranked.group_by("cluster", maintain_order=True).first()
    runner = (
        ranked.join(best.select("cluster", pl.col("_text").alias("_best")), on="cluster")
        .filter(pl.col("_text") != pl.col("_best"))
        .group_by("cluster", maintain_order=True)
        .first()
        .select("cluster", *(pl.col(n).alias(f"{n}_r") for n in names), pl.lit(True).alias("_other"))
    )
    decided = [
        pl.when(pl.col(n).ne_missing(pl.col(f"{n}_r"))).then(pl.lit(label))
        for n, (label, _) in zip(names, keys, strict=True)
    ]
    rule = pl.when(pl.col("_other").is_null()).then(pl.lit("only")).otherwise(pl.coalesce(*decided, pl.lit("order")))
    chosen = best.join(runner, on="cluster", how="left", maintain_order="left").with_columns(rule.alias("rule"))
    if everyone.height != candidates.height:  # another company than the current one: the newest row's decided
        dropped = everyone.join(candidates.select(RID), on=RID, how="anti").select("cluster").unique()
        chosen = chosen.with_columns(
            pl.when((pl.col("rule") == "only") & pl.col("cluster").is_in(dropped["cluster"].implode()))
            .then(pl.lit("recency"))
            .otherwise(pl.col("rule"))
            .alias("rule")
        )
    return chosen.select("cluster", field, SOURCE_COL, SOURCE_KEY_COL, "rule")


def survive(
    records: pl.DataFrame,
    clusters: pl.DataFrame,
    fields: list[str],
    order: Mapping[str, Sequence[str]] | None = None,
) -> SurvivorResult:
    """Build one golden record per cluster (see the module docstring for how each field's value is chosen).

    Args:
        records: normalised rows with ``_rid``, ``_source``, ``_source_key``, the fields, and optionally
            ``updated_at`` / ``created_at`` / ``_as_of`` (recency), ``_priority`` (ties), the normalisers' parts
            (``name_title``, ``phone_type``, ``email_role``, ``company_key``) and ``_issues`` (quality).
        clusters: ``_rid`` -> ``cluster`` (from :func:`rules.match.cluster`).
        fields: the fields to carry into the golden record; a field absent from ``records`` is all-null.
        order: per field, the criteria (of ``CRITERIA``) that rank its candidates, first one first; a field not
            named ranks by ``quality``, ``recency``, ``priority``. A criterion left out is not used (the rows'
            recency order still breaks the last ties).

    Returns:
        ``golden``: ``cluster`` and the fields (their dtypes kept), one row per cluster, sorted by cluster;
        ``provenance``: ``cluster, field, value, _source, _source_key, rule`` (``value`` as text, JSON for
        lists; ``rule``: what decided, see :func:`_choose`), one row per (cluster, field) that has a value.
    """
    order = order or {}
    rows = _with_clusters(records, clusters).with_columns(_recency(records.columns).alias(_RECENCY))
    priority = pl.col("_priority") if "_priority" in rows.columns else pl.lit(0)
    rows = (
        rows.with_columns(priority.fill_null(0).alias("_priority"))
        .sort(
            [_RECENCY, "_priority", SOURCE_COL, SOURCE_KEY_COL],
            descending=[True, True, False, False],
            nulls_last=True,
            maintain_order=True,
        )
        .with_row_index(_ORDER)
    )
    golden = rows.select(pl.col("cluster").unique().sort())
    provenance: list[pl.DataFrame] = []
    for field in fields:
        if field not in rows.columns:
            golden = golden.with_columns(pl.lit(None, pl.String).alias(field))
            continue
        chosen = _choose(rows, field, order.get(field, CRITERIA))
        golden = golden.join(chosen.select("cluster", field), on="cluster", how="left", maintain_order="left")
        provenance.append(
            chosen.select(
                "cluster",
                pl.lit(field).alias("field"),
                _as_text(field, rows.schema[field]).alias("value"),
                pl.col(SOURCE_COL).cast(pl.String),
                pl.col(SOURCE_KEY_COL).cast(pl.String),
                "rule",
            )
        )
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "cluster": rows.schema["cluster"],
        "field": pl.String,
        "value": pl.String,
        SOURCE_COL: pl.String,
        SOURCE_KEY_COL: pl.String,
        "rule": pl.String,
    }
    prov = pl.concat(provenance) if provenance else pl.DataFrame(schema=schema)
    field_order = {f: i for i, f in enumerate(fields)}
    prov = (
        prov.with_columns(pl.col("field").replace_strict(field_order, return_dtype=pl.Int64).alias("_f"))
        .sort("cluster", "_f")
        .drop("_f")
    )
    return SurvivorResult(golden=golden, provenance=prov)


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(CUSTOMER_ID_NAMESPACE, name))``, about 5x faster (no UUID object per call)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8"), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _derived_id(source: str, source_key: str) -> str:
    return _uuid5(f"{source}\x1f{source_key}")


def customer_ids(
    clusters: pl.DataFrame,
    records: pl.DataFrame,
    existing: pl.DataFrame | None = None,
    *,
    reserved: Collection[str] = (),
) -> pl.DataFrame:
    """A stable customer id per cluster.

    An id already held by members of the cluster (``existing``: ``_source, _source_key, customer_id``, the
    store's crosswalk) is reused: the one held by most members, ties to the smallest id. One id goes to one
    cluster only: when a former customer is split, the cluster with most of its members (ties: smallest
    cluster label) keeps the id. A cluster without a reusable id gets ``uuid5(CUSTOMER_ID_NAMESPACE,
    "<source>\\x1f<source_key>")`` of its smallest ``(source, source_key)`` member. Same input, same ids.
    ``reserved`` ids belong to customers outside ``clusters`` (a steward splitting one customer of many): a derived
    id never takes one of them.

    Returns:
        ``cluster``, ``customer_id`` (text), one row per cluster, sorted by cluster.
    """
    members = _with_clusters(records.select(RID, SOURCE_COL, SOURCE_KEY_COL), clusters).select(
        "cluster", pl.col(SOURCE_COL).cast(pl.String), pl.col(SOURCE_KEY_COL).cast(pl.String)
    )
    reused = pl.DataFrame(schema={"cluster": members.schema["cluster"], "reused": pl.String})
    if existing is not None and existing.height:
        votes = (
            members.join(
                existing.select(
                    pl.col(SOURCE_COL).cast(pl.String),
                    pl.col(SOURCE_KEY_COL).cast(pl.String),
                    pl.col("customer_id").cast(pl.String),
                ).drop_nulls("customer_id"),
                on=[SOURCE_COL, SOURCE_KEY_COL],
            )
            .group_by("cluster", "customer_id")
            .len("votes")
        )
        # each id goes to the cluster holding it most (ties: smallest cluster) ...
        winners = votes.sort(["customer_id", "votes", "cluster"], descending=[False, True, False]).unique(
            "customer_id", keep="first", maintain_order=True
        )
        # ... and each cluster keeps the best id it won (most votes, ties: smallest id)
        reused = (
            winners.sort(["cluster", "votes", "customer_id"], descending=[False, True, False])
            .unique("cluster", keep="first", maintain_order=True)
            .select("cluster", pl.col("customer_id").alias("reused"))
        )
    first = (
        members.sort("cluster", SOURCE_COL, SOURCE_KEY_COL)
        .group_by("cluster", maintain_order=True)
        .first()
        .join(reused, on="cluster", how="left")
    )
    need = first.filter(pl.col("reused").is_null())
    # uuid5 has no polars equivalent: one Python call per new cluster (about 0.2 s per 100k)
    taken = set(first["reused"].drop_nulls().to_list()) | set(reserved)
    derived: dict[object, str] = {}
    for cl, src, key in need.select("cluster", SOURCE_COL, SOURCE_KEY_COL).iter_rows():
        new_id = _derived_id(src, key)
        if new_id in taken:  # its member's old customer was split and the id stayed with the other part
            new_id = _uuid5(f"{new_id}\x1fsplit")
        derived[cl] = new_id
    out = first.with_columns(
        pl.coalesce("reused", pl.col("cluster").replace_strict(derived, default=None, return_dtype=pl.String)).alias(
            "customer_id"
        )
    )
    return out.select("cluster", "customer_id").sort("cluster")


def id_lineage(existing: pl.DataFrame | None, assigned: pl.DataFrame) -> pl.DataFrame:
    """Where the customers of an earlier run went: for each customer id of ``existing`` that no row holds any
    more, ``merged_into`` the id that took most of its rows (null when none of them is loaded now); for each new
    id, ``split_from`` the earlier id most of its rows had (null for a customer of new rows only).

    Args:
        existing: ``_source, _source_key, customer_id``: the store's crosswalk before the run (or None).
        assigned: ``_source, _source_key, customer_id``: every loaded row's customer after the run.

    Returns:
        ``customer_id``, ``merged_into``, ``split_from`` (text), one row per id that was merged away or split
        off; ties go to the smallest id.
    """
    schema = {"customer_id": pl.String, "merged_into": pl.String, "split_from": pl.String}
    if existing is None or not existing.height:
        return pl.DataFrame(schema=schema)
    key = [SOURCE_COL, SOURCE_KEY_COL]
    moves = (
        existing.select(*(pl.col(k).cast(pl.String) for k in key), pl.col("customer_id").cast(pl.String).alias("old"))
        .join(
            assigned.select(*(pl.col(k).cast(pl.String) for k in key), pl.col("customer_id").cast(pl.String)),
            on=key,
        )
        .group_by("old", "customer_id")
        .len("rows")
    )
    kept = assigned["customer_id"].cast(pl.String).unique().implode()
    before = existing["customer_id"].cast(pl.String).unique().implode()

    def most(frame: pl.DataFrame, by: str, other: str) -> pl.DataFrame:
        return (
            frame.sort([by, "rows", other], descending=[False, True, False]).unique(by, keep="first").select(by, other)
        )

    merged = most(moves.filter(~pl.col("old").is_in(kept)), "old", "customer_id").rename(
        {"old": "customer_id", "customer_id": "merged_into"}
    )
    gone = existing.select(pl.col("customer_id").cast(pl.String)).unique().filter(~pl.col("customer_id").is_in(kept))
    merged = gone.join(merged, on="customer_id", how="left")
    split = most(moves.filter(~pl.col("customer_id").is_in(before)), "customer_id", "old").rename({"old": "split_from"})
    return pl.concat([merged, split], how="diagonal").select(list(schema)).sort("customer_id")
