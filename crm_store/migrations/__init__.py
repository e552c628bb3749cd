"""Alembic migrations of the crm_store schema (a package so that wheels ship them)."""
