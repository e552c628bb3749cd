"""Readers the analytics package needs beyond the repository's: the customers' postal addresses.

Like the repository's readers they take the caller's ``Session``, never write and return polars frames with a
fixed schema, so an empty store still gives typed, empty frames.
"""

from __future__ import annotations

from typing import cast

import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store.access import Principal, scoped, shape
from crm_store.models import Address

__all__ = ["ADDRESS_COLUMNS", "read_addresses"]

#: Columns of :func:`read_addresses`, all text.
ADDRESS_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "source",
    "source_key",
    "province",
    "city",
    "district",
    "street",
    "admin_code",
    "postcode",
    "country",
    "raw",
)


def read_addresses(session: Session, *, principal: Principal | None = None) -> pl.DataFrame:
    """Every stored address, one row per customer and source row that gave it.

    Columns (``pl.String``): ``customer_id``, ``source``, ``source_key``, ``province``, ``city``, ``district``,
    ``street``, ``admin_code`` (GB/T 2260 code of the most specific unit the address normaliser found),
    ``postcode``, ``country`` (ISO-2), ``raw`` (the address as written). A source row without an address may
    still have a row here with every part null. Ordered by ``customer_id``, ``source``, ``source_key``.
    ``principal``: only the addresses of the customers that user sees, masked for an auditor (``crm_store.access``).
    """
    table = cast(sa.Table, Address.__table__)
    stmt = sa.select(*(table.c[c] for c in ADDRESS_COLUMNS)).order_by(
        table.c.customer_id, table.c.source, table.c.source_key
    )
    schema = dict.fromkeys(ADDRESS_COLUMNS, pl.String())
    rows = [tuple(row) for row in session.execute(scoped(session, principal, stmt, table))]
    return shape(principal, "address", pl.DataFrame(rows, schema=schema, orient="row"))
