"""Masking of personal data for reports, logs and failure tables (invariant 6: reports never echo raw PII).

Every function returns a masked form that keeps just enough to recognise a value (``138****8000``,
``z***@qq.com``, ``张*``) and never the raw value of a PII field: when a value is too short to keep anything,
everything is masked. ``None`` and ``""`` are returned unchanged (there is nothing to hide).
"""

from __future__ import annotations

import re
from typing import Final, overload
from urllib.parse import unquote

import polars as pl

from crm_store.schema import CANONICAL_FIELDS

__all__ = [
    "NAME_FIELDS",
    "PII_FIELDS",
    "SECRET_MARK",
    "SECRET_PARAMS",
    "is_secret_name",
    "mask_email",
    "mask_expr",
    "mask_id",
    "mask_name",
    "mask_phone",
    "mask_text",
    "mask_value",
    "redact_secrets",
    "redact_url",
]

NAME_FIELDS: Final = frozenset({"full_name", "family_name", "given_name"})
_GENERIC_FIELDS: Final = frozenset({"id_number", "address", "wechat"})
#: Canonical fields whose values are personal data and are masked by :func:`mask_value`.
PII_FIELDS: Final = frozenset({"phone", "email"}) | NAME_FIELDS | _GENERIC_FIELDS

_EMAIL_RE: Final = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
# 7 or more digits, optionally with a leading + and single spaces/dashes/dots between digits.
_PHONE_RUN_RE: Final = re.compile(r"(?<![\d])\+?\d(?:[\s\-.]?\d){6,}(?![\d])")


def _stars(n: int) -> str:
    return "*" * max(n, 1)


def mask_phone(value: str | None) -> str | None:
    """Mask a phone number: keep the first 3 and last 4 digits (``13800138000`` -> ``138****8000``).

    Only the digits are kept (separators are dropped). A Chinese E.164 number keeps its ``+86`` prefix
    (``+8613800138000`` -> ``+86 138****8000``). Numbers with fewer than 9 digits keep only their last 2
    digits; a value without digits is masked entirely.
    """
    if not value:
        return value
    digits = re.sub(r"\D", "", value)
    if not digits:
        return _stars(len(value))
    prefix = ""
    if value.lstrip().startswith("+86") and len(digits) == 13:
        prefix, digits = "+86 ", digits[2:]
    if len(digits) >= 9:
        return f"{prefix}{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
    if len(digits) <= 2:
        return prefix + _stars(len(digits))
    return f"{prefix}{'*' * (len(digits) - 2)}{digits[-2:]}"


def mask_email(value: str | None) -> str | None:
    """Mask an email address: keep the first character of the local part and the domain (``z***@qq.com``).

    A value without ``@`` is masked like an identifier (:func:`mask_id`).
    """
    if not value:
        return value
    local, sep, domain = value.strip().rpartition("@")
    if not sep:
        return mask_id(value)
    if not local:
        return f"***@{domain}"
    return f"{local[0]}***@{domain}"


def mask_name(value: str | None) -> str | None:
    """Mask a person's name: keep the first character of each word.

    ``张伟`` -> ``张*``, ``Zhang Wei`` -> ``Z**** W**``.

    A one-character name is masked entirely.
    """
    if not value:
        return value
    words = value.split()
    if not words:
        return value
    if len(words) == 1 and len(words[0]) == 1:
        return "*"
    return " ".join(w[0] + "*" * (len(w) - 1) if len(w) > 1 else w for w in words)


def mask_id(value: str | None, keep: int = 2) -> str | None:
    """Mask an identifier, address or handle: keep the first ``keep`` characters (``11****************``).

    Values of at most ``2 * keep`` characters are masked entirely.
    """
    if not value:
        return value
    if len(value) <= 2 * keep:
        return "*" * len(value)
    return value[:keep] + "*" * (len(value) - keep)


def mask_value(column: str | None, value: object) -> str | None:
    """Mask a value by the canonical field it belongs to.

    ``phone``/``email`` use their own masks, name fields :func:`mask_name`,
    ``id_number``/``address``/``wechat`` :func:`mask_id`; a value of any other field is returned as text,
    unchanged (it is not personal data). A column that is not a canonical field (``None`` included) is
    treated as free text: :func:`mask_text`.
    """
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if column == "phone":
        return mask_phone(text)
    if column == "email":
        return mask_email(text)
    if column in NAME_FIELDS:
        return mask_name(text)
    if column in _GENERIC_FIELDS:
        return mask_id(text)
    if column in CANONICAL_FIELDS:
        return text
    return mask_text(text)


def mask_text(text: str | None) -> str | None:
    """Mask every email address and every phone-like run of 7 or more digits inside free text.

    Secrets go first: URL passwords, query-string tokens and ``Authorization``/``Bearer`` values are replaced by
    ``***`` (:func:`redact_secrets`), so masked text never carries a credential either.
    """
    if not text:
        return text
    text = redact_secrets(text) or ""
    text = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)) or "", text)
    return _PHONE_RUN_RE.sub(lambda m: mask_phone(m.group(0)) or "", text)


def mask_expr(column: str) -> pl.Expr:
    """Polars expression masking ``column`` with :func:`mask_value` (by its canonical field name).

    Masking runs in Python once per *distinct* value of each batch (``map_batches`` over the unique values,
    then a vectorised replace), so it is cheap for repetitive data but not free for 1M distinct values: use it
    on samples and failure rows, not on whole tables. The result is always ``pl.String``.
    """

    def _mask(s: pl.Series) -> pl.Series:
        s = s.cast(pl.String)
        uniques = s.drop_nulls().unique()
        masked = pl.Series([mask_value(column, v) for v in uniques.to_list()], dtype=pl.String)
        return s.replace_strict(uniques, masked, default=None, return_dtype=pl.String)

    return pl.col(column).map_batches(_mask, return_dtype=pl.String)


# --------------------------------------------------------------------------------------------------- secrets

#: What a hidden secret is shown as.
SECRET_MARK: Final = "***"
#: Query-string (and ``key=value``) names whose values are secrets, lower case; see :func:`is_secret_name`.
SECRET_PARAMS: Final = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth_token",
        "api_key",
        "apikey",
        "api-key",
        "key",
        "secret",
        "client_secret",
        "sig",
        "signature",
        "authorization",
        "x-amz-signature",
        "x-amz-security-token",
        "x-goog-signature",
    }
)
#: Name endings that make a parameter secret too (``sslpassword``, ``private_token``, ``aws_secret``).
_SECRET_SUFFIXES: Final = ("password", "passwd", "token", "secret", "apikey", "api_key", "signature")
#: Names that are secret in ``name=value`` pairs of free text (outside URLs): ``key`` and ``sig`` are too
#: common a word there to hide every value they precede.
_TEXT_SECRET_NAMES: Final = r"[\w.-]*(?:password|passwd|pwd|secret|token|api_?key)"

_SCHEME_RE: Final = re.compile(r"(?<![A-Za-z0-9+.\-])([A-Za-z][A-Za-z0-9+.\-]*)://")
# a URL in free text runs to the next blank (or the end); a quote or bracket right after it, and punctuation that
# ends it (``…/db?password=x: no table``), are not part of it
_URL_IN_TEXT_RE: Final = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"'`]*[^\s<>\"'`.,:;!?)\]}]")
_QUERY_PAIR_RE: Final = re.compile(r"(?P<lead>[?&;#])(?P<name>[^=&;#?]+)=(?P<value>[^&;#]*)")
_PORT_THEN_PATH_RE: Final = re.compile(r"^\d{1,5}(?:[/?#]|$)")
_AUTH_HEADER_RE: Final = re.compile(
    r"(?i)(?P<head>\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(?P<scheme>bearer|basic|token|digest|negotiate|apikey)\s+)?(?P<value>[^\s\"',;}]+)"
)
_BEARER_RE: Final = re.compile(r"(?i)\b(?P<head>bearer\s+)(?P<value>[A-Za-z0-9\-._~+/]+=*)")
_TEXT_PAIR_RE: Final = re.compile(
    r"(?i)(?P<head>(?<![\w-])[\"']?" + _TEXT_SECRET_NAMES + r"[\"']?\s*(?:=|:(?=\s*[\"']))\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s&,;)}\]]*[^\s&,;)}\].:!?])"
)


def is_secret_name(name: str) -> bool:
    """Whether a query-string parameter (or ``key=value`` name) holds a secret: one of `SECRET_PARAMS`, or a name
    ending in ``password``, ``token``, ``secret``, ``apikey`` or ``signature`` (case-insensitive, percent-decoded)."""
    lowered = unquote(name).strip().lower()
    return lowered in SECRET_PARAMS or lowered.endswith(_SECRET_SUFFIXES)


def redact_url(url: str | None) -> str | None:
    """A URL with its credentials hidden: the only form of a URL that may appear in a message, log or report.

    ``postgresql://crm:s3cret@db/crm`` -> ``postgresql://crm:***@db/crm``; ``https://api/x?token=abc&page=2``
    -> ``https://api/x?token=***&page=2``. Hidden: the password of the user info (all of the user info of an
    ``http(s)`` URL without a password: a token is often given as the user name), and the value of every
    query-string or fragment parameter named in `SECRET_PARAMS` (or ending like one: see `is_secret_name`).

    The URL does not have to parse: a password holding unencoded ``@``, ``#``, ``/`` or ``?`` is hidden whole (the
    user info runs to the *last* ``@``), so a broken URL never shows part of its password as the host. Where it is
    unclear whether a ``:`` starts a password or a port, the password is assumed. Text that is not a URL is
    returned unchanged (``None`` and ``""`` too); use :func:`redact_secrets` on free text.
    """
    if not url:
        return url
    found = _SCHEME_RE.match(url)
    if found is None:
        return _redact_pairs(url) if "?" in url else url
    scheme, start = found.group(1).lower(), found.end()
    rest = url[start:]
    userinfo_end = _userinfo_end(rest, http=scheme in ("http", "https", "ws", "wss"))
    head = url[:start]
    if userinfo_end is not None:
        userinfo, rest = rest[:userinfo_end], rest[userinfo_end:]  # rest starts with the "@"
        user, colon, _password = userinfo.partition(":")
        if colon:
            head += f"{user}:{SECRET_MARK}"
        elif scheme in ("http", "https", "ws", "wss"):
            head += SECRET_MARK
        else:
            head += user
    return head + _redact_pairs(rest)


def _userinfo_end(rest: str, *, http: bool) -> int | None:
    """Where the user info of ``rest`` (a URL after ``scheme://``) ends (the index of its ``@``), or ``None``."""
    last = rest.rfind("@")
    if last < 0:
        return None
    candidate = rest[:last]
    user, colon, password = candidate.partition(":")
    if colon and not any(c in user for c in "/?#"):
        # user:password, the password running to the last "@" (it may hold "@", "#", "/", "?" unencoded) ...
        plain = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        if not (http and "@" not in plain and _PORT_THEN_PATH_RE.match(password)):
            return last  # ... unless, in a web URL, it is host:port followed by a path holding an "@"
    plain_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, plain_end)
    return at if at >= 0 else None


def _redact_pairs(rest: str) -> str:
    """``rest`` with the values of secret query-string and fragment parameters hidden."""

    def hide(found: re.Match[str]) -> str:
        if not is_secret_name(found.group("name")) or not found.group("value"):
            return found.group(0)
        return f"{found.group('lead')}{found.group('name')}={SECRET_MARK}"

    return _QUERY_PAIR_RE.sub(hide, rest)


@overload
def redact_secrets(text: str) -> str: ...
@overload
def redact_secrets(text: None) -> None: ...
def redact_secrets(text: str | None) -> str | None:
    """Free text with every credential hidden: run it over any message before it leaves the process.

    Hidden: every URL's credentials (:func:`redact_url`: user-info passwords, secret query parameters),
    ``Authorization:``/``Bearer`` values (``Authorization: Bearer ***``), and the values of ``password=``,
    ``pwd=``, ``secret=``, ``token=``, ``api_key=`` pairs outside URLs (a libpq DSN, a dict's repr). Personal data
    is not touched here (see :func:`mask_text`, which calls this first).
    """
    if not text:
        return text
    text = _URL_IN_TEXT_RE.sub(lambda m: redact_url(m.group(0)) or "", text)
    text = _AUTH_HEADER_RE.sub(_hide_header, text)
    text = _BEARER_RE.sub(lambda m: m.group("head") + SECRET_MARK, text)
    return _TEXT_PAIR_RE.sub(_hide_pair, text)


def _hide_header(found: re.Match[str]) -> str:
    scheme = found.group("scheme")
    return found.group("head") + (f"{scheme} " if scheme else "") + SECRET_MARK


def _hide_pair(found: re.Match[str]) -> str:
    value = found.group("value")
    if value.strip("\"'") == SECRET_MARK:
        return found.group(0)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{found.group('head')}{quote}{SECRET_MARK}{quote}"
