"""Prefect's temporary API server, started so that it cannot outlive crmkit.

Without ``PREFECT_API_URL``, Prefect starts a temporary API server (a ``uvicorn`` child process) at the first flow
run and stops it from an ``atexit`` hook. A process that ends without running its exit hooks (``kill -9``, the
OOM killer, an abort in native code) used to leave that server running. On Linux the server is now started here,
from the main thread, with ``PR_SET_PDEATHSIG``: the kernel sends it SIGTERM when crmkit dies, in any way.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
from typing import Any

__all__ = ["start_temporary_server"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def start_temporary_server() -> None:
    """Start Prefect's temporary API server now, as a child that dies with this process (Linux).

    Call it from the main thread (the kernel signals the child when the thread that started it ends). Nothing
    happens when ``PREFECT_API_URL`` names a server or the temporary server already runs; elsewhere than Linux
    the server starts as Prefect starts it, stopped at a normal exit only.
    """
    from prefect.server.api import server as prefect_server
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return
    server = prefect_server.SubprocessASGIServer()
    if server.running:
        return
    libc = _libc()
    if libc is None:
        server.start()
        return
    original = prefect_server.subprocess
    prefect_server.subprocess = _DyingWithParent(libc, os.getpid())  # type: ignore[assignment]
    try:
        server.start()
    finally:
        prefect_server.subprocess = original


def _libc() -> Any:
    """The C library with ``prctl`` (Linux only), or ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc if hasattr(libc, "prctl") else None
    except OSError:  # pragma: no cover - no C library to load
        return None


class _DyingWithParent:
    """Stands in for the ``subprocess`` module inside Prefect's server module: its ``Popen`` children get
    SIGTERM when this process dies."""

    def __init__(self, libc: Any, parent: int) -> None:
        self._libc = libc
        self._parent = parent

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    def Popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen[Any]:  # the name it stands in for
        libc, parent = self._libc, self._parent

        def die_with_parent() -> None:  # runs in the child, between fork and exec
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)

        return subprocess.Popen(*args, preexec_fn=die_with_parent, **kwargs)
