"""Custom fields as typed columns: the project file's ``custom_fields`` read back from the customers' ``attributes``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from analytics._frames import Frame, require, to_polars
from rules.custom_fields import CustomField, check_custom_fields, custom_field_values

__all__ = ["FieldSpec", "as_custom_fields", "custom_fields"]

#: A custom field as the project file declares it: a ``CustomField`` (``settings.custom_fields``) or its dict.
FieldSpec = CustomField | Mapping[str, Any]


def as_custom_fields(fields: Sequence[FieldSpec] | None) -> list[CustomField]:
    """Validated custom fields from ``CustomField`` objects or dicts of the project file's keys.

    Raises:
        ValueError: a field is invalid, or two clash (each problem named).
    """
    out = [f if isinstance(f, CustomField) else CustomField.model_validate(dict(f)) for f in fields or ()]
    problems = check_custom_fields(out)
    if problems:
        raise ValueError("invalid custom fields: " + "; ".join(problems))
    return out


def custom_fields(
    customers: Frame,
    fields: Sequence[FieldSpec],
    *,
    names: Sequence[str] | None = None,
    date_order: str = "ymd",
) -> pl.DataFrame:
    """The custom fields of every customer as typed columns.

    Args:
        customers: ``customer_id`` and ``attributes`` (JSON text as the store keeps it; ``crm_store.read_customers``).
        fields: the project's custom fields (``load_settings(path).custom_fields``, or dicts of the same keys).
        names: only these fields, in this order (default: every field, in declaration order).
        date_order: how to read an ambiguous numeric date stored before the field was declared (a stored value of
            a declared date field is ISO already).

    Returns:
        ``customer_id`` then one column per field, typed as declared: text → String, int → Int64, float →
        Float64, date → Date, bool → Boolean, choice → Enum of the allowed values, multi_choice → List(String).
        A value missing, or failing the field's checks, is null.

    Raises:
        ValueError: ``names`` names a field not declared (the message lists the declared ones).
    """
    declared = as_custom_fields(fields)
    by_name = {f.name: f for f in declared}
    chosen = list(names) if names is not None else list(by_name)
    unknown = [n for n in chosen if n not in by_name]
    if unknown:
        raise ValueError(f"no custom field {', '.join(map(repr, unknown))}; declared: {sorted(by_name) or 'none'}")
    df = to_polars(customers, "customers")
    require(df, ("customer_id", "attributes"), "customers")
    attributes = df["attributes"]
    stored = attributes.to_list() if isinstance(attributes.dtype, pl.Struct) else attributes  # parsed: dicts
    values = custom_field_values(stored, [by_name[n] for n in chosen], date_order=date_order)  # type: ignore[arg-type]
    return pl.concat([df.select("customer_id"), values], how="horizontal")
