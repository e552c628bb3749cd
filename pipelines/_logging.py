"""Log records never carry a credential: a filter that redacts messages and exception texts on their way out.

Exceptions are the other route out: Prefect stores a failed task's exception text as its state message (in its
database and its events). :func:`redacting` wraps a task function so that the exception it raises carries no
credential (:func:`redact_exception`).

``install_redaction()`` puts :class:`RedactingFilter` on every handler that exists when it is called (crmkit's,
Prefect's console and API handlers: the API handler is how logs reach Prefect's database) and wraps the log record
factory, so that records are also redacted for handlers added later (Prefect configures its handlers when it is
imported, and again when its settings change). Redaction is ``rules.mask.redact_secrets``: URL passwords,
query-string tokens, ``Authorization``/``Bearer`` values, ``password=`` pairs.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from rules.mask import redact_secrets

__all__ = ["RedactedError", "RedactingFilter", "install_redaction", "redact_exception", "redact_record", "redacting"]

P = ParamSpec("P")
R = TypeVar("R")

#: Loggers whose handlers get the filter even when nothing has logged through them yet.
LOGGER_NAMES = ("", "pipelines", "connectors", "crm_store", "rules", "synthetic", "prefect", "uvicorn", "fastapi")

_lock = threading.Lock()
_factory_installed = False


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a record in place: its message (formatted with its arguments), exception text and stack text.

    When the message held a credential it is replaced by its redacted text and the arguments are dropped, so no
    handler formats the raw arguments again (other records keep their arguments: some formatters read them). A
    record already redacted is left as it is.
    """
    if getattr(record, "_crmkit_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: let the handler report it as logging does
        return record
    redacted = redact_secrets(message) or ""
    if redacted != message:
        record.msg, record.args = redacted, None
    if record.exc_info and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = redact_secrets(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_secrets(record.stack_info)
    record._crmkit_redacted = True
    return record


class RedactingFilter(logging.Filter):
    """A handler (or logger) filter that redacts credentials from every record it passes; it drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_FILTER = RedactingFilter()


def _has_filter(filterer: logging.Filterer) -> bool:
    return any(isinstance(f, RedactingFilter) for f in filterer.filters)


def _handlers() -> list[logging.Handler]:
    found: dict[int, logging.Handler] = {}
    loggers: list[logging.Logger] = [logging.getLogger(name) for name in LOGGER_NAMES]
    loggers += [item for item in logging.Logger.manager.loggerDict.values() if isinstance(item, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            found[id(handler)] = handler
    return list(found.values())


def install_redaction() -> None:
    """Redact credentials from every log record of this process, whichever handler writes it.

    Call it after Prefect has been imported (``pipelines.migrate`` imports it) and before a flow runs; calling it
    again adds the filter to handlers created since, and nothing twice.
    """
    global _factory_installed
    with _lock:
        for handler in _handlers():
            if not _has_filter(handler):
                handler.addFilter(_FILTER)
        if not _factory_installed:
            previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                return redact_record(previous(*args, **kwargs))

            logging.setLogRecordFactory(factory)
            _factory_installed = True


class RedactedError(RuntimeError):
    """Stands in for an exception whose text held a credential that could not be removed from the exception
    itself; its message is the original type and redacted text (``RuntimeError: cannot reach …:***@db``)."""


def redact_exception(exc: BaseException) -> BaseException:
    """The exception to let out: ``exc`` itself with credentials removed from its text, or a `RedactedError`.

    String arguments of ``exc`` are redacted in place (so ``str(exc)`` is, for the usual exceptions); an exception
    whose text still holds a credential after that (one that builds its message from other attributes) is
    replaced by a `RedactedError` carrying the redacted text, its cause kept out (``__cause__`` is ``None`` and
    ``__suppress_context__`` set, so no traceback shows the original).
    """
    text = str(exc)
    if redact_secrets(text) == text:
        return exc
    with contextlib.suppress(AttributeError, TypeError):  # an exception with read-only args
        exc.args = tuple(redact_secrets(a) if isinstance(a, str) else a for a in exc.args)
    now = str(exc)
    if redact_secrets(now) == now:
        return exc
    replacement = RedactedError(f"{type(exc).__name__}: {redact_secrets(text)}")
    replacement.__cause__ = None
    replacement.__suppress_context__ = True
    return replacement


def redacting(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a (task) function so that whatever it raises carries no credential (see :func:`redact_exception`).

    ``task(redacting(fn), name=...)``: Prefect then records the redacted text as the task's state message. The
    signature is kept (``functools.wraps``), so Prefect sees the same parameters.
    """

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            redacted = redact_exception(exc)
            if redacted is exc:
                raise
            raise redacted from None

    return call
