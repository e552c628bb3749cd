"""The data steward's local web page (``crmkit serve``): the review queue, one possible match at a time with its
evidence and keyboard shortcuts, and a customer page with its history and an unmerge button.

FastAPI + Jinja2 templates (``templates/``) + a vendored htmx 2.0 (``static/``): the page works offline and loads
nothing from another site. It shows real values (stewards need them), so it answers only on the machine itself
unless told otherwise; see :mod:`pipelines.web._app` for the CSRF and host checks.
"""

from __future__ import annotations

from pipelines.web._app import CSRF_HEADER, LOOPBACK_HOSTS, SESSION_COOKIE, create_app

__all__ = ["CSRF_HEADER", "LOOPBACK_HOSTS", "SESSION_COOKIE", "create_app"]
