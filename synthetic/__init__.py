"""Synthetic data with ground truth, for the demo, the tests and the benchmarks.

- ``synthetic.sample``: the messy three-source sample behind ``crmkit sample`` and ``crmkit demo``.
- ``synthetic.handover``: a Chinese SME's hand-over (SQLite CRM, reps' workbook, sign-ups), truth, hard negatives.
- ``synthetic.people``: a Western (Australian) person table with no phone or e-mail, truth, hard negatives.

The package imports nothing else of the project: it writes files and truth tables, and the flow reads them like
any customer's data.
"""

from __future__ import annotations

__all__: list[str] = []  # the subpackages and `synthetic.people` are the API; nothing is re-exported here
