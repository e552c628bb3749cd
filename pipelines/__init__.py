"""crmkit pipelines: Prefect flows, project settings, the CLI, the quality report and the ledger check.

Importing this package sets Prefect's environment defaults before Prefect itself is imported anywhere: a private
``PREFECT_HOME`` (a bare ``import prefect`` would otherwise create ``~/.prefect``), no analytics call (the only
outbound request), and quiet logs. Explicit environment settings win.
"""

from __future__ import annotations

import os
from pathlib import Path

_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crmkit" / "prefect"
os.environ.setdefault("PREFECT_HOME", str(_cache))
Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)  # Prefect does not create parents
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# The temporary API server takes ~5 s on an idle 2-core machine and far longer on a busy one (default limit: 20 s).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

__all__: list[str] = []
