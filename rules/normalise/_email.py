"""E-mail normaliser: cleaned, lower-cased, typo-corrected, syntax-checked addresses.

The whole address is lower-cased: mailbox providers treat the local part case-insensitively in practice, and
the CRM convention is one spelling per address. Syntax is checked with ``email-validator``
(``check_deliverability=False``: no DNS). The domain check is cached per distinct domain; a local part made
only of the common dot-atom characters is accepted by the same rule email-validator applies, anything else
(quoted or internationalised local parts) goes through the full validator. Cells that are one plain address
are answered by a vectorised polars path (:func:`_fast`) that a test holds equal to the per-value reader.
"""

from __future__ import annotations

import functools
import re

import polars as pl
from email_validator import EmailNotValidError, validate_email

from ._base import ISSUES_DTYPE, Schema, clean_text, map_distinct, memo_for
from ._registry import FrameSpec, register_normaliser

_SCHEMA: Schema = {"value": pl.String, "issues": ISSUES_DTYPE, "email_role": pl.Boolean}

#: Exact domain typos seen in Chinese and Western sign-up data.
DOMAIN_TYPOS: dict[str, str] = {
    "gmial.com": "gmail.com",
    "gmai.com": "gmail.com",
    "gamil.com": "gmail.com",
    "gmal.com": "gmail.com",
    "gmaill.com": "gmail.com",
    "gnail.com": "gmail.com",
    "gmail.co": "gmail.com",
    "hotmial.com": "hotmail.com",
    "hotmal.com": "hotmail.com",
    "hotmai.com": "hotmail.com",
    "hotmali.com": "hotmail.com",
    "hotnail.com": "hotmail.com",
    "outlok.com": "outlook.com",
    "outloo.com": "outlook.com",
    "yahooo.com": "yahoo.com",
    "yaho.com": "yahoo.com",
    "qq.co": "qq.com",
    "qqq.com": "qq.com",
    "163.co": "163.com",
    "136.com": "163.com",
    "126.co": "126.com",
    "foxmial.com": "foxmail.com",
    "foxmai.com": "foxmail.com",
    "sina.cn.com": "sina.com",
}
#: Mail providers whose ``.com`` ending is often mistyped (``qq.con``, ``163.cm``, ``sina.cmo``, ``@qq``).
COM_PROVIDERS: frozenset[str] = frozenset(
    {"qq", "163", "126", "139", "189", "yeah", "sina", "sohu", "foxmail", "aliyun", "gmail", "hotmail"}
    | {"outlook", "yahoo", "live", "msn", "icloud", "tom", "21cn"}
)
_TLD_TYPOS = frozenset({"con", "cmo", "cm", "comm", "coom", "ocm", "vom", "xom", "om", "c0m", "cpm", "cim", "come"})

#: Local parts of shared role mailboxes (kept, but flagged: not a person).
ROLE_LOCAL_PARTS: frozenset[str] = frozenset(
    {"info", "sales", "admin", "service", "support", "contact", "hr", "office", "marketing", "enquiries"}
    | {"enquiry", "inquiry", "hello", "help", "billing", "accounts", "finance", "webmaster", "postmaster"}
    | {"kefu", "market", "jobs", "job", "careers", "team", "business", "bd", "pr", "mail", "cs", "services"}
)
#: Local parts that are never a real person's mailbox.
_PLACEHOLDER_LOCALS = frozenset(
    {"test", "testing", "none", "null", "nil", "na", "xxx", "asdf", "qwerty", "abc", "abcd", "123", "1234"}
    | {"12345", "123456", "1234567", "12345678", "123456789", "nobody", "noreply", "no-reply", "unknown"}
    | {"noemail", "no-email", "no_email", "nomail", "no-mail", "fake", "dummy", "example", "sample", "email"}
)
_PLACEHOLDER_DOMAINS = frozenset(
    {"test.com", "example.com", "example.org", "example.net", "none.com", "noemail.com", "nomail.com"}
    | {"xxx.com", "123.com", "a.com", "aa.com", "test.cn", "email.test", "abc.abc", "mailinator.com"}
)
_DOT_ATOM = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_SEPARATORS = re.compile(r"[;,/|、]+")
_SEPARATORS_OR_SPACE = re.compile(r"[;,/|、\s]+")
_SPACED_PUNCT = re.compile(r"\s*([@.])\s*")
_ANGLE = re.compile(r"<([^<>]*@[^<>]*)>")


def _fix_domain(domain: str) -> str:
    fixed = DOMAIN_TYPOS.get(domain)
    if fixed:
        return fixed
    label, dot, tld = domain.rpartition(".")
    if not dot:
        return domain + ".com" if domain in COM_PROVIDERS else domain
    if label in COM_PROVIDERS and tld in _TLD_TYPOS:
        return label + ".com"
    return domain


def _is_placeholder(local: str, domain: str) -> bool:
    base = local.split("+", 1)[0]
    if base in _PLACEHOLDER_LOCALS or base.startswith(("noemail", "no-email", "nomail", "none")):
        return True
    if domain in _PLACEHOLDER_DOMAINS:
        return True
    if base == domain.split(".", 1)[0]:  # test@test.com, a@a.com, 123@123.com
        return True
    return len(set(base)) == 1 and not base.isdigit()  # aaa@qq.com, x@163.com (digit-only: QQ numbers)


@functools.lru_cache(maxsize=65536)
def _domain_ok(domain: str) -> bool:
    try:
        validate_email("a@" + domain, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def is_valid_address(address: str) -> bool:
    """Syntax check with email-validator (no DNS); cached per domain for the common dot-atom local parts."""
    local, _, domain = address.rpartition("@")
    if len(address) <= 254 and len(local) <= 64 and _DOT_ATOM.fullmatch(local):
        return _domain_ok(domain)
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _clean(raw: str) -> list[str]:
    text = clean_text(raw).replace("。", ".").lower()
    angle = _ANGLE.search(text) if "<" in text else None
    if angle:
        text = angle.group(1)
    text = text.removeprefix("mailto:")
    if " " in text:
        text = _SPACED_PUNCT.sub(lambda m: m.group(1), text)  # "zhang @ qq . com"
    splitter = _SEPARATORS_OR_SPACE if text.count("@") > 1 else _SEPARATORS
    parts = (part.strip(" .;:'\"()[]<>") for part in splitter.split(text))
    return [part for part in parts if part]


def _one(raw: str) -> tuple[str | None, list[str], bool | None]:
    issues: list[str] = []
    parts = _clean(raw)
    candidates = [p for p in parts if "@" in p] or parts[:1]
    chosen: str | None = None
    valid: list[str] = []
    placeholder = False
    typo = False
    for candidate in candidates:
        local, at, domain = candidate.rpartition("@")
        if not at:
            continue
        fixed = _fix_domain(domain)
        if _is_placeholder(local, fixed):
            placeholder = True
            continue
        address = f"{local}@{fixed}"
        if is_valid_address(address):
            if chosen is None:
                chosen, typo = address, fixed != domain
            valid.append(address)
    if chosen is None:
        return None, ["placeholder" if placeholder else "invalid"], None
    if typo:
        issues.append("typo_fixed")
    if len(set(valid)) > 1:
        issues.append("multiple")
    role = re.sub(r"[\d._-]+$", "", chosen.split("@", 1)[0]) in ROLE_LOCAL_PARTS
    if role:
        issues.append("role")
    return chosen, issues, role


@register_normaliser("email", frame=FrameSpec(parts=("email_role",)))
def normalise_email(values: pl.Series) -> pl.DataFrame:
    """Normalise e-mail addresses.

    Returns:
        A frame of the same height with ``value`` (lower-cased address, null when unusable), ``issues`` and
        ``email_role`` (True for shared role mailboxes such as ``info@``/``sales@``; null when ``value`` is).
        Issue codes: ``empty``, ``invalid``, ``placeholder`` (``test@test.com``, ``noemail@…``),
        ``typo_fixed`` (``qq.con`` → ``qq.com``), ``role``, ``multiple`` (the first valid address is kept).
    """
    return map_distinct(values, _one, _SCHEMA, placeholder="placeholder", fast=_fast, memo=memo_for("email"))


#: A cell that is one address in plain dot-atom form (what :func:`_clean` leaves as it is, but for its case).
_PLAIN = r"^[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*$"


def _fast(keys: pl.Series) -> pl.DataFrame:
    """Distinct cells that are one plain address, answered in polars as :func:`_one` answers them: lower-cased,
    the domain's typo fixed and its syntax checked once per distinct domain, role mailboxes flagged. Anything
    that may be a placeholder, longer than the validator's short path takes, or invalid is left to :func:`_one`."""
    frame = (
        keys.to_frame("__key")
        .filter(pl.col("__key").str.contains(_PLAIN))
        .with_columns(pl.col("__key").str.to_lowercase().str.split_exact("@", 1).alias("__p"))
        .unnest("__p")
        .rename({"field_0": "local", "field_1": "domain"})
    )
    domains = frame.get_column("domain").unique().to_list()
    fixes = {d: _fix_domain(d) for d in domains}
    checked = pl.DataFrame(
        {"domain": domains, "fixed": [fixes[d] for d in domains], "ok": [_domain_ok(fixes[d]) for d in domains]},
        schema={"domain": pl.String, "fixed": pl.String, "ok": pl.Boolean},
    )
    base = pl.col("local").str.split("+").list.first()
    one_letter = (
        base.str.count_matches(base.str.slice(0, 1), literal=True) == base.str.len_chars()
    ) & ~base.str.contains(r"^[0-9]+$")
    maybe_placeholder = (
        base.is_in(list(_PLACEHOLDER_LOCALS))
        | base.str.contains(r"^(?:noemail|no-email|nomail|none)")
        | pl.col("fixed").is_in(list(_PLACEHOLDER_DOMAINS))
        | (base == pl.col("fixed").str.split(".").list.first())
        | one_letter
    )
    address = pl.col("local") + "@" + pl.col("fixed")
    role = pl.col("local").str.replace(r"[0-9._-]+$", "").is_in(list(ROLE_LOCAL_PARTS))
    issues = pl.concat_list(
        pl.when(pl.col("fixed") != pl.col("domain"))
        .then(pl.lit(["typo_fixed"]))
        .otherwise(pl.lit([], pl.List(pl.String))),
        pl.when(role).then(pl.lit(["role"])).otherwise(pl.lit([], pl.List(pl.String))),
    )
    return (
        frame.join(checked, on="domain")
        .filter(
            pl.col("ok")
            & ~maybe_placeholder
            & (address.str.len_chars() <= 254)
            & (pl.col("local").str.len_chars() <= 64)
        )
        .select("__key", address.alias("value"), issues.cast(ISSUES_DTYPE).alias("issues"), role.alias("email_role"))
    )
