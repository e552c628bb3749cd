"""Customer hand-over when a salesperson leaves: which customers move to whom (the plan; applying it is a store
write and is not done here)."""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from analytics._frames import Frame, require, to_polars

__all__ = ["plan_handover"]


def plan_handover(
    customers: Frame,
    from_owner: str,
    to_owner: str,
    *,
    customer_ids: Collection[str] | None = None,
) -> pl.DataFrame:
    """The customers of ``from_owner`` (all, or only ``customer_ids``) and the owner each moves to.

    Owners are compared as written, ends trimmed. The plan is a frame to review, export or hand to whoever
    applies it; nothing is written (the store keeps no owner history yet).

    Raises:
        ValueError: ``from_owner`` equals ``to_owner``, or ``customer_ids`` names customers that ``from_owner``
            does not own (listed).

    Returns:
        ``customer_id``, ``full_name``, ``company`` (when the input has them), ``owner`` (the current one),
        ``new_owner``; sorted by ``customer_id``.
    """
    old, new = from_owner.strip(), to_owner.strip()
    if not old or not new:
        raise ValueError("from_owner and to_owner must not be empty")
    if old == new:
        raise ValueError(f"from_owner and to_owner are the same ({old!r})")
    df = to_polars(customers, "customers")
    require(df, ("customer_id", "owner"), "customers")
    owned = df.filter(pl.col("owner").str.strip_chars() == old)
    if customer_ids is not None:
        wanted = set(customer_ids)
        not_owned = sorted(wanted - set(owned["customer_id"].to_list()))
        if not_owned:
            raise ValueError(f"{len(not_owned)} customers are not owned by {old!r}: {not_owned[:10]}")
        owned = owned.filter(pl.col("customer_id").is_in(sorted(wanted)))
    shown = [c for c in ("customer_id", "full_name", "company", "owner") if c in owned.columns]
    return owned.select(*shown, pl.lit(new, pl.String).alias("new_owner")).sort("customer_id")
