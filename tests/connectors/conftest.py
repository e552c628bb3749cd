from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa


@pytest.fixture
def mariadb_user_url(mariadb_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The test database's URL with a fresh user (all rights on the database) whose password is the test
    module's ``PASSWORD``, so the test can check the password never shows."""
    password: str = request.module.PASSWORD
    admin = sa.create_engine(mariadb_url)
    user = f"crm_{uuid.uuid4().hex[:8]}"
    url = sa.make_url(mariadb_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"create user '{user}'@'%' identified by '{password}'"))
        conn.execute(sa.text(f"grant all on `{url.database}`.* to '{user}'@'%'"))
    try:
        yield url.set(username=user, password=password).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"drop user '{user}'@'%'"))
        admin.dispose()
