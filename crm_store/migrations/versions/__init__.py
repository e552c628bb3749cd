"""Alembic revisions of the crm_store schema, written by hand to match ``crm_store.models``."""
