"""The Prefect API a run talks to: a running server (``PREFECT_API_URL``) or a temporary one started here.

Without ``PREFECT_API_URL``, Prefect starts a temporary API server (a ``uvicorn`` child process) at the first flow
run, waits for it, and stops it from an ``atexit`` hook. crmkit starts that server itself, for two reasons:

- **Speed.** The server takes seconds to start (it imports Prefect's whole server and checks its database).
  :func:`launch_server` starts it without importing Prefect and returns at once, so the CLI imports the flow, the
  report's chart library and checks the project while the server boots; :func:`wait_until_ready` then waits for its
  health check. The flow runs against it as against any server (``PREFECT_API_URL`` is set for this process when
  Prefect is not imported yet; otherwise the server is handed to Prefect as its own temporary server).
- **No orphans.** A process that ends without running its exit hooks (``kill -9``, the OOM killer, an abort in
  native code) used to leave the server running. On Linux it starts with ``PR_SET_PDEATHSIG``: the kernel sends it
  SIGTERM when crmkit dies, in any way.

When ``PREFECT_API_URL`` names a server (in the environment or the active Prefect profile), nothing is started.
"""

from __future__ import annotations

import atexit
import ctypes
import http.client
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pipelines.errors import PipelineError

__all__ = ["PrefectServer", "PrefectStartError", "launch_server", "start_temporary_server", "wait_until_ready"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_ADDRESS_IN_USE = 3  # uvicorn's exit code when its port is taken
_DEFAULT_TIMEOUT = 120.0


class PrefectStartError(PipelineError, RuntimeError):
    """Prefect's temporary API server did not start (its last output is in the message)."""

    retryable = True


@dataclass
class PrefectServer:
    """The Prefect API of this process: ``temporary`` when crmkit started it, else the one ``PREFECT_API_URL``
    names."""

    url: str
    temporary: bool
    process: subprocess.Popen[bytes] | None = None
    #: ``time.monotonic()`` when it was launched (temporary) or found (running)
    launched: float = field(default_factory=time.monotonic)
    port: int | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)
    _ready: bool = False
    _via_environment: bool = False

    def stop(self) -> None:
        """Stop a temporary server (SIGTERM, then SIGKILL after 5 s); nothing for a running one."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


#: The server this process launched (one per process, as Prefect's own temporary server).
_current: PrefectServer | None = None


def configured_api_url() -> str | None:
    """The ``PREFECT_API_URL`` Prefect will use without crmkit: the environment's, else the active profile's
    (``PREFECT_PROFILES_PATH``, default ``$PREFECT_HOME/profiles.toml``), read without importing Prefect."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        profiles = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    settings = (profiles.get("profiles") or {}).get(active) or {}
    url = settings.get("PREFECT_API_URL") if isinstance(settings, dict) else None
    return str(url) if url else None


def launch_server() -> PrefectServer:
    """Start Prefect's temporary API server in the background and return at once (``PREFECT_API_URL`` set: the
    server it names, nothing started). Call it from the main thread, before :func:`wait_until_ready`.

    Prefect is not imported here: the server's start overlaps with whatever the caller does next.
    """
    global _current
    if _current is not None and _current.process is not None and _current.process.poll() is None:
        return _current
    url = configured_api_url()
    if url:
        return PrefectServer(url.rstrip("/"), temporary=False)
    running = _prefect_server_url()
    if running is not None:  # Prefect was imported and started its own temporary server already
        return PrefectServer(running, temporary=True, _ready=True)
    port = _free_port()
    server = PrefectServer(f"http://127.0.0.1:{port}/api", temporary=True, port=port)
    server._log = tempfile.TemporaryFile(prefix="crmkit-prefect-")  # noqa: SIM115 - closed by server.stop()
    server.process = _popen_uvicorn(port, server._log)
    atexit.register(server.stop)  # registered before Prefect's exit hooks, so it runs after they flushed
    if "prefect.context" not in sys.modules:
        # Prefect reads its settings when first imported: it will talk to this server as to any server and never
        # import its own server module here (about 2 s). The flow runs only after wait_until_ready.
        os.environ["PREFECT_API_URL"] = server.url
        server._via_environment = True
    _current = server
    return server


def wait_until_ready(server: PrefectServer, timeout: float | None = None) -> float:
    """Wait until ``server`` answers its health check and make it the API of this process's flow runs.

    Returns:
        The seconds since the server was launched (or found).

    Raises:
        PrefectStartError: a temporary server exited or did not answer within ``timeout`` seconds (default
            ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``, else 120).
    """
    if not server.temporary or server._ready:
        return time.monotonic() - server.launched
    limit = timeout if timeout is not None else _startup_timeout()
    deadline = server.launched + limit
    while True:
        process = server.process
        assert process is not None and server.port is not None
        code = process.poll()
        if code == _ADDRESS_IN_USE:  # another process took the port between our check and uvicorn's bind
            server.port = _free_port()
            server.url = f"http://127.0.0.1:{server.port}/api"
            assert server._log is not None
            server.process = _popen_uvicorn(server.port, server._log)
            if server._via_environment:
                os.environ["PREFECT_API_URL"] = server.url
                if "prefect.context" in sys.modules:  # Prefect read the old port meanwhile
                    sys.modules["prefect.context"].refresh_global_settings_context()
            continue
        if code is not None:
            raise PrefectStartError(f"Prefect's temporary server exited with code {code}: {_tail(server)}")
        if _healthy(server.url):
            break
        if time.monotonic() > deadline:
            server.stop()
            raise PrefectStartError(
                f"Prefect's temporary server did not answer within {limit:.0f} s (a busy machine? set "
                f"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or PREFECT_API_URL to a running server): "
                f"{_tail(server)}"
            )
        time.sleep(0.05)
    _hand_to_prefect(server)
    server._ready = True
    return time.monotonic() - server.launched


def start_temporary_server() -> None:
    """Start Prefect's temporary API server now and wait for it (nothing when ``PREFECT_API_URL`` names one)."""
    wait_until_ready(launch_server())


# --------------------------------------------------------------------------------------------------- internals


def _prefect_server_url() -> str | None:
    """The API of Prefect's own temporary server of this process, when one is up (started by a flow run before
    crmkit's)."""
    module = sys.modules.get("prefect.server.api.server")
    if module is None:
        return None
    instance = module.SubprocessASGIServer._instances.get(None)
    return str(instance.api_url) if instance is not None and _alive(instance) else None


def _alive(instance: Any) -> bool:
    """Whether Prefect's temporary server ``instance`` runs. Prefect keeps ``running`` true after its process died
    (a server crmkit handed to Prefect and stopped, a killed child): such an instance is marked stopped, so that
    neither crmkit nor Prefect sends a flow run to a port nobody listens on."""
    process = getattr(instance, "server_process", None)
    if instance.running and process is not None and process.poll() is not None:
        instance.running = False
    return bool(instance.running)


def _hand_to_prefect(server: PrefectServer) -> None:
    """Make ``server`` the API of this process's flow runs.

    Launched before Prefect's settings were loaded, ``PREFECT_API_URL`` in the environment did it already. Once
    they are loaded (a test process, a library caller), the server becomes Prefect's own temporary server instead:
    ``prefect.server.api.server.SubprocessASGIServer``, which Prefect asks for whenever no API URL is set.
    """
    if server._via_environment:
        return
    from prefect.server.api import server as prefect_server

    instance = prefect_server.SubprocessASGIServer()
    if _alive(instance):  # Prefect started one meanwhile: ours is not needed
        server.stop()
        server.url = instance.api_url
        return
    instance.port = server.port
    instance.server_process = server.process
    instance.running = True
    atexit.register(instance.stop)


def _popen_uvicorn(port: int, log_file: IO[bytes]) -> subprocess.Popen[bytes]:
    """Prefect's temporary server on ``port``, started as Prefect starts it (``SubprocessASGIServer``), as a child
    that gets SIGTERM when this process dies (Linux)."""
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        raise PrefectStartError("Prefect is not installed")
    app_dir = Path(next(iter(spec.submodule_search_locations))).parent
    env = {
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
    }
    env.pop("PREFECT_API_URL", None)
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(app_dir),
        "--factory",
        "prefect.server.api.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--lifespan",
        "on",
    ]
    libc = _libc()
    preexec = None
    if libc is not None:
        parent = os.getpid()

        def die_with_parent() -> None:  # runs in the child, between fork and exec
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)

        preexec = die_with_parent
    log.debug("starting Prefect's temporary server on 127.0.0.1:%s", port)
    return subprocess.Popen(
        args, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, preexec_fn=preexec
    )


def _healthy(url: str) -> bool:
    """Whether our server answers at ``url``. Whatever else answers there is not it: between the free-port check
    and uvicorn's bind another process may take the port (a Dask scheduler answered the health check with its own
    handshake, ``BadStatusLine``); uvicorn then exits with "address in use" and the caller moves to a new port."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:  # our own server on 127.0.0.1
            return int(answer.status) == 200
    except (OSError, urllib.error.URLError, http.client.HTTPException):
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _startup_timeout() -> float:
    try:
        return float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") or _DEFAULT_TIMEOUT)
    except ValueError:
        return _DEFAULT_TIMEOUT


def _tail(server: PrefectServer, chars: int = 2000) -> str:
    """The end of the server's output (for an error message)."""
    if server._log is None:
        return "(no output)"
    server._log.flush()
    server._log.seek(0)
    text = server._log.read().decode("utf-8", errors="replace").strip()
    return text[-chars:] or "(no output)"


def _libc() -> Any:
    """The C library with ``prctl`` (Linux only), or ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc if hasattr(libc, "prctl") else None
    except OSError:  # pragma: no cover - no C library to load
        return None
