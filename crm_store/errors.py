"""The store's error family: every error ``crm_store`` raises on purpose is a :class:`StoreError`."""

from __future__ import annotations


class StoreError(Exception):
    """A store operation that cannot go on: no store, a held lock, a refused restore, an unknown user.

    ``retryable`` says whether the same call may succeed later unchanged (another run holds the lock) or only
    after the user changes something (a wrong URL, a bad key).
    """

    retryable: bool = False
