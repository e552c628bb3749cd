"""Synthetic data with ground truth, for the demo, the tests and the benchmarks.

- ``synthetic.sample``: the messy three-source sample behind ``crmkit sample`` and ``crmkit demo``.

The package imports nothing else of the project: it writes files and truth tables, and the flow reads them like
any customer's data.
"""
