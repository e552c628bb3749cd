"""Spam, bot and test-record rules: polars predicates over normalised rows -> the fixed failure table.

Reason codes (see :mod:`rules.reasons`), errors unless a project sets them otherwise:

* ``spam_fake_person``: a stand-in person (张三, 李四, 王五, John Doe, Mickey Mouse, Test User …).
* ``spam_test_record``: a test or demo row left in a legacy system (测试客户, 演示数据, "勿删", test, demo, admin).
* ``spam_advert``: an advert in a name (代开发票, 刷单兼职, SEO, 网站建设 …), or a link or a solicitation (加QQ群,
  微信同号, 日结) in the company or notes.
* ``spam_markup``: HTML tags or entities, BBCode, ``javascript:``, PHP or template markup in a text field.
* ``spam_impossible_name``: a name with a URL, with digits, over 40 characters, one repeated character or
  keyboard mash (``asdf``, ``qwer``, ``zxcv`` …).
* ``spam_bot``: typed by a bot: random capitals in the name (``BTIfyVvm``), an e-mail of dotted single letters
  (``t.d.i.k.a.c@gmail.com``), or two weaker signs together (random capitals in the company or notes, letter
  salad in the name or mailbox).

and, **warnings** by default — in a real CRM row a placeholder means "missing", not "spam" (legacy systems made
phone and e-mail mandatory, so 13800000000 and test@test.com stand in for unknown values; the normalisers drop
them, and the row is judged on what remains):

* ``spam_placeholder_email``: a placeholder or throwaway address (``test@…``, ``asdf…@…``, ``aaaa@…``,
  ``…@example.com``, disposable-mail domains).
* ``spam_repeated_digits``: a phone number holding a run of 7 or more equal digits, or a counting sequence
  of 8 (``12345678``, ``87654321``).

The normalisers null placeholders and non-names, so the predicates look at the text *before* normalising
when it is given (``raw``: the mapped frame, same rows in the same order) and at the normalised columns
otherwise; with only the normalised frame, the issues ``email.placeholder`` and ``phone.placeholder`` stand in
for a value that is gone. Rules never raise on data; absent columns are simply not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, Literal

import polars as pl

from crm_store.schema import ISSUES_COL, SOURCE_COL, SOURCE_KEY_COL
from rules.failures import FAILURE_COLUMNS, empty_failures
from rules.mask import mask_expr

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then

__all__ = [
    "FAKE_PEOPLE",
    "MARKUP_FIELDS",
    "NAME_MAX_CHARS",
    "SPAM_CODES",
    "WARNING_CODES",
    "spam_failures",
    "spam_mask",
]

Severity = Literal["error", "warning"]

#: The reason codes of this module, in the order rules are reported.
SPAM_CODES: Final = (
    "spam_placeholder_email",
    "spam_repeated_digits",
    "spam_markup",
    "spam_impossible_name",
    "spam_fake_person",
    "spam_test_record",
    "spam_advert",
    "spam_bot",
)
#: Codes that only warn unless the project says otherwise: a placeholder contact in a real row means "missing".
WARNING_CODES: Final = frozenset({"spam_placeholder_email", "spam_repeated_digits"})
#: Stand-in people: the names forms and test data use for "somebody" (compared lower-cased, spaces removed).
FAKE_PEOPLE: Final = frozenset(
    {
        "张三",
        "李四",
        "王五",
        "赵六",
        "钱七",
        "孙八",
        "周九",
        "吴十",
        "某某",
        "某某某",
        "某人",
        "无名氏",
        "匿名",
        "匿名用户",
    }
    | {"测试用户", "测试员", "用户", "客户", "顾客", "路人甲", "路人乙"}
    | {"johndoe", "janedoe", "joebloggs", "joepublic", "johnqpublic", "testuser", "usertest", "testtest", "foobar"}
    | {"mickeymouse", "minniemouse", "donaldduck", "daisyduck", "bugsbunny", "homersimpson", "bartsimpson"}
    | {"santaclaus", "peterpan", "harrypotter", "jamesbond", "loremipsum", "firstlast", "firstnamelastname"}
    | {"namesurname", "yourname", "fullname", "nobody", "anonymous", "unknown"}
)
#: Test and demo rows of legacy systems: these anywhere in a name or company.
_TEST_MARKS: Final = r"测试|演示|样例|示例|勿删|(?i:\b(?:test(?:ing)?|demo|dummy|sample|admin(?:istrator)?)\b)|^管理员$"
#: Advert words: a name holding one is an advert, not a person.
_AD_NAME: Final = (
    r"(?i)代开|发票|刷单|兼职|日结|加微|加v|微信|vx号|qq群|加群|seo|排名|推广|优化|网站建设|小程序|建站|办证|证件|"
    r"贷款|网贷|套现|博彩|赌|彩票|代孕|私服|外挂|免费领|引流|涨粉|粉丝|\bpromo|\bviagra|\bcasino|\bloan"
)
#: Solicitations in a company or notes field (a real company may be an SEO firm; it does not ask you to join a QQ
#: group, pay daily or open a link).
_AD_SOLICIT: Final = r"(?i)代开|刷单|日结|加微|微信同号|加v|qq群|加群|办证|套现|https?://|www\."
#: Name prefixes after which a capital is normal (McDonald, MacKenzie, DeShawn, LaToya, O'Brien, VanDyke).
_CAMEL_PREFIXES: Final = r"^(?:Mc|Mac|De|Di|Da|Du|La|Le|Van|Von|St|O'|D')"
#: Text fields checked for markup.
MARKUP_FIELDS: Final = ("full_name", "family_name", "given_name", "company", "job_title", "address", "notes")
#: Longest plausible person name, in characters.
NAME_MAX_CHARS: Final = 40

_ROW: Final = "__row"
_KEYBOARD_ROWS: Final = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
# Four keys in a row on a keyboard; "wert"/"erty" also occur in real names (Werther, Liberty).
_KEYBOARD_RUNS: Final = sorted(
    {row[i : i + 4] for row in _KEYBOARD_ROWS for i in range(len(row) - 3)} - {"wert", "erty"}
)
_KEYBOARD: Final = "(?i)" + "|".join(_KEYBOARD_RUNS)
_URL: Final = r"(?i)https?://|www\.|\.(?:com|cn|net|org|top|xyz|info|ru|cc)\b"
_MARKUP: Final = (
    r"(?i)<\s*/?\s*[a-z][a-z0-9]*(?:\s[^<>]*)?/?>"  # <b>, </a>, <a href=…>, <br/> (not <zhang@qq.com>)
    r"|<!--|<\?php|&(?:lt|gt|amp|quot|nbsp|#\d+|#x[0-9a-f]+);"
    r"|\[/?(?:url|img|link|b|i|u|color|size|quote)\b[^\]]*\]"
    r"|javascript:|\{\{.*\}\}|\{%.*%\}|\$\{[^}]*\}|%3c\s*/?\s*script"
)
_RUN_OF_DIGITS: Final = "|".join(f"{d}{{7,}}" for d in "0123456789")
_COUNTING: Final = "|".join([s[i : i + 8] for s in ("0123456789", "9876543210") for i in range(3)])
_PLACEHOLDER_LOCAL: Final = (
    r"(?i)^(?:test\w*|testing|fake|dummy|spam\w*|bot|noreply|no-?reply|no-?e?mail|none|null|nil|nobody|"
    r"example|sample|abc|abcd|xxx+|123\d*|1234\d*)$"
)
_THROWAWAY_DOMAIN: Final = (
    r"(?i)^(?:example\.(?:com|org|net)|test\.(?:com|cn|net)|mailinator\.com|guerrillamail\.\w+|"
    r"10minutemail\.\w+|temp-?mail\.\w+|yopmail\.\w+|trashmail\.\w+|sharklasers\.com|getnada\.com|"
    r"dispostable\.com|maildrop\.cc|throwawaymail\.com|fakeinbox\.com|spam4\.me|mailnesia\.com)$"
)


def _one_repeated_char(text: pl.Expr, min_len: int = 2) -> pl.Expr:
    """The text (whitespace removed) is one character repeated at least ``min_len`` times."""
    squeezed = text.str.replace_all(r"\s+", "")
    first = squeezed.str.slice(0, 1)
    return (squeezed.str.len_chars() >= min_len) & (
        squeezed.str.count_matches(first, literal=True) == squeezed.str.len_chars()
    )


def _email_check(value: pl.Expr, issues: pl.Expr | None, value_gone: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    local = value.str.strip_chars().str.extract(r"^(.*)@[^@]*$", 1)
    domain = value.str.strip_chars().str.extract(r"@([^@]*)$", 1)
    base = local.str.replace(r"\+.*$", "")
    placeholder = base.str.contains(_PLACEHOLDER_LOCAL)
    mash = base.str.contains(_KEYBOARD)
    repeated = _one_repeated_char(base, 3) & ~base.str.contains(r"^\d+$")  # 10000@qq.com is a QQ number
    throwaway = domain.str.contains(_THROWAWAY_DOMAIN)
    message = (
        pl.when(throwaway)
        .then(pl.lit("the email's domain is a placeholder or throwaway mail service"))
        .when(placeholder)
        .then(pl.lit("the email's mailbox is a placeholder word"))
        .when(mash)
        .then(pl.lit("the email's mailbox is keyboard mash"))
        .when(repeated)
        .then(pl.lit("the email's mailbox is one repeated character"))
    )
    if issues is not None:
        flagged = issues.list.contains(pl.lit("email.placeholder", pl.String)).fill_null(False) & value_gone
        message = message.when(flagged).then(pl.lit("the normaliser found a placeholder email"))
    return message.is_not_null(), message


def _phone_check(value: pl.Expr, issues: pl.Expr | None, value_gone: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    digits = value.str.replace_all(r"\D", "")
    message: Then | ChainedThen = pl.when(digits.str.contains(_RUN_OF_DIGITS)).then(
        pl.lit("the phone number holds a run of 7 or more equal digits")
    )
    message = message.when(digits.str.contains(_COUNTING)).then(pl.lit("the phone number holds a counting sequence"))
    if issues is not None:
        flagged = issues.list.contains(pl.lit("phone.placeholder", pl.String)).fill_null(False) & value_gone
        message = message.when(flagged).then(pl.lit("the normaliser found a placeholder phone number"))
    return message.is_not_null(), message


def _markup_check(value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    hit = value.str.contains(_MARKUP)
    return hit, pl.when(hit).then(pl.lit("the text holds markup (HTML, BBCode, script or template)"))


def _random_capitals(text: pl.Expr) -> pl.Expr:
    """A word with capitals where no name has them (``BTIfyVvm``, ``rjNSzuk``, ``EMPCRq``): a word of mixed case with
    more than one capital after its first letter, or a capital after a lower-case start. All-capital words
    (``WILLIAMS Claire``), name prefixes (``McDonald``, ``DeShawn``, ``JoAnn``) and capitalised pinyin syllables
    (``ZhangXiaoMing``) are names."""
    syllable = r"[A-Z][a-z]*(?:ang|eng|ing|ong|an|en|in|un|ao|ai|ei|ou|ui|iu|ie|ue|a|e|i|o|u|v)"
    words = text.str.split(" ").list.eval(
        pl.element().filter(~pl.element().str.contains(f"^(?:{syllable})+$")).str.replace(_CAMEL_PREFIXES, "")
    )
    odd = words.list.eval(
        pl.element().str.contains(r"[a-z]")
        & pl.element().str.contains(r"[A-Z]")
        & ((pl.element().str.slice(1).str.count_matches(r"[A-Z]") >= 2) | pl.element().str.contains(r"^[a-z]+[A-Z]"))
    )
    return text.str.contains(r"^[A-Za-z' \-]+$") & odd.list.any()


def _name_check(value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    text = value.str.strip_chars()
    message = (
        pl.when(text.str.contains(_URL))
        .then(pl.lit("the name holds a URL"))
        .when(text.str.contains(r"\d"))
        .then(pl.lit("the name holds digits"))
        .when(text.str.len_chars() > NAME_MAX_CHARS)
        .then(pl.lit(f"the name is over {NAME_MAX_CHARS} characters"))
        .when(_one_repeated_char(text))
        .then(pl.lit("the name is one repeated character"))
        .when(text.str.contains(_KEYBOARD))
        .then(pl.lit("the name is keyboard mash"))
    )
    return message.is_not_null(), message


def _gibberish(text: pl.Expr) -> pl.Expr:
    """Letters no language strings together: five consonants in a row, or a word of five letters or more without a
    vowel (``sabdqjxfbsz``, ``Vxdyjj``). A weak signal: initials and abbreviations do it too."""
    letters = text.str.to_lowercase().str.replace_all(r"[^a-z]+", " ")
    return letters.str.contains(r"[bcdfghjklmnpqrstvwxz]{5}") | letters.str.contains(
        r"(?:^| )[bcdfghjklmnpqrstvwxyz]{5,}(?: |$)"
    )


def _bot_check(columns: set[str]) -> tuple[pl.Expr, pl.Expr]:
    """Rows typed by a bot: random capitals in the name, an e-mail of dotted single letters (a Gmail trick of bot
    farms), or two weaker signs together (random capitals in the company or notes, gibberish in the name or the
    e-mail's mailbox)."""
    false = pl.lit(False)
    col = {c: pl.col(c) for c in ("full_name", "company", "notes", "email") if c in columns}
    name_caps = _random_capitals(col["full_name"]).fill_null(False) if "full_name" in col else false
    local = col["email"].str.extract(r"^([^@]*)@", 1) if "email" in col else pl.lit(None, pl.String)
    dotted = local.str.contains(r"^(?:[a-z]\.){4,}[a-z]$").fill_null(False)
    weak = [
        _random_capitals(col["company"]).fill_null(False) if "company" in col else false,
        _random_capitals(col["notes"]).fill_null(False) if "notes" in col else false,
        (_gibberish(col["full_name"]).fill_null(False) if "full_name" in col else false)
        | _gibberish(local).fill_null(False),
    ]
    signs = pl.sum_horizontal(*(w.cast(pl.Int8) for w in weak))
    message = (
        pl.when(name_caps)
        .then(pl.lit("the name has random capitals, as bots type them"))
        .when(dotted)
        .then(pl.lit("the e-mail's mailbox is single letters between dots, as bot farms write them"))
        .when(signs >= 2)
        .then(pl.lit("random capitals and letter salad in the company, notes, name or e-mail, as bots type them"))
    )
    return message.is_not_null(), message


def _fake_person_check(value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    squeezed = value.str.to_lowercase().str.replace_all(r"[\s.·,_\-]+", "")
    hit = squeezed.is_in(sorted(FAKE_PEOPLE))
    return hit, pl.when(hit).then(pl.lit("the name is a stand-in person of forms and test data"))


def _test_record_check(value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    hit = value.str.contains(_TEST_MARKS)
    return hit, pl.when(hit).then(pl.lit("a test or demo record left in the source"))


def _advert_check(value: pl.Expr, pattern: str) -> tuple[pl.Expr, pl.Expr]:
    hit = value.str.contains(pattern)
    return hit, pl.when(hit).then(pl.lit("an advert, a link or a solicitation"))


def _spam_rows(df: pl.DataFrame, raw: pl.DataFrame | None, severities: Mapping[str, Severity] | None) -> pl.DataFrame:
    """Failure rows with the row index ``__row``, ordered by row then rule."""
    if raw is not None and raw.height != df.height:
        raise ValueError(f"raw has {raw.height} rows but the normalised frame has {df.height}: pass aligned frames")
    severity = {code: "warning" if code in WARNING_CODES else "error" for code in SPAM_CODES} | dict(severities or {})
    unknown = set(severity) - set(SPAM_CODES)
    if unknown:
        raise ValueError(f"unknown spam code(s) {', '.join(sorted(unknown))}; known codes: {', '.join(SPAM_CODES)}")

    def lineage(name: str) -> pl.Series:
        if name in df.columns:
            return df.get_column(name).cast(pl.String)
        return pl.Series(name, [None] * df.height, dtype=pl.String)

    columns: dict[str, pl.Series] = {"source": lineage(SOURCE_COL), "source_key": lineage(SOURCE_KEY_COL)}
    fields = {"email", "phone", *MARKUP_FIELDS}
    present: set[str] = set()
    for field in fields:
        source = raw if raw is not None and field in raw.columns else df
        if field in source.columns:
            columns[field] = source.get_column(field).cast(pl.String)
            columns[f"__norm_{field}"] = (df.get_column(field) if field in df.columns else columns[field]).cast(
                pl.String
            )
            present.add(field)
    has_issues = ISSUES_COL in df.columns and isinstance(df.schema[ISSUES_COL], pl.List)
    if has_issues:
        columns[ISSUES_COL] = df.get_column(ISSUES_COL)
    work = pl.DataFrame(columns, height=df.height).with_row_index(_ROW)
    issues = pl.col(ISSUES_COL) if has_issues else None

    checks: list[tuple[str, str, tuple[pl.Expr, pl.Expr]]] = []
    for field, code, check in (("email", SPAM_CODES[0], _email_check), ("phone", SPAM_CODES[1], _phone_check)):
        if field in present:
            checks.append((code, field, check(pl.col(field), issues, pl.col(f"__norm_{field}").is_null())))
    for field in MARKUP_FIELDS:
        if field in present:
            checks.append((SPAM_CODES[2], field, _markup_check(pl.col(field))))
    if "full_name" in present:
        checks.append((SPAM_CODES[3], "full_name", _name_check(pl.col("full_name"))))
        checks.append((SPAM_CODES[4], "full_name", _fake_person_check(pl.col("full_name"))))
    for field in ("full_name", "company"):
        if field in present:
            checks.append((SPAM_CODES[5], field, _test_record_check(pl.col(field))))
    if "full_name" in present:
        checks.append((SPAM_CODES[6], "full_name", _advert_check(pl.col("full_name"), _AD_NAME)))
    for field in ("company", "notes", "job_title"):
        if field in present:
            checks.append((SPAM_CODES[6], field, _advert_check(pl.col(field), _AD_SOLICIT)))
    if present & {"full_name", "email", "company"}:
        field = "full_name" if "full_name" in present else sorted(present & {"email", "company"})[0]
        checks.append((SPAM_CODES[7], field, _bot_check(present)))

    parts: list[pl.DataFrame] = []
    for order, (code, field, (hit, message)) in enumerate(checks):
        rows = work.filter(hit.fill_null(False))
        if rows.height == 0:
            continue
        parts.append(
            rows.select(
                pl.col(_ROW),
                pl.lit(order).alias("__order"),
                pl.lit(f"{code}:{field}").alias("rule"),
                pl.lit(code).alias("code"),
                pl.lit(severity[code]).alias("severity"),
                pl.lit(field).alias("column"),
                pl.col("source"),
                pl.col("source_key"),
                pl.col(field),
                message.alias("message"),
            )
            .with_columns(mask_expr(field).alias("value_masked"))
            .select(_ROW, "__order", *FAILURE_COLUMNS)
        )
    if not parts:
        return empty_failures().with_columns(pl.lit(None, pl.UInt32).alias(_ROW))
    return pl.concat(parts).sort(_ROW, "__order").drop("__order")


def spam_failures(
    df: pl.DataFrame, raw: pl.DataFrame | None = None, *, severities: Mapping[str, Severity] | None = None
) -> pl.DataFrame:
    """Spam and bot failures of normalised rows, as the fixed failure table of :mod:`rules.validate`.

    Args:
        df: normalised rows (``rules.normalise.normalise_frame``): canonical columns, ``_issues``, lineage.
        raw: optional: the same rows before normalising (the mapped frame, same order and height). Its text
            is what the rules check, since the normalisers null placeholder emails, phones and non-names.
        severities: code -> ``error`` (quarantine the row) or ``warning`` (report only); the default is ``error``
            but for :data:`WARNING_CODES`.

    Returns:
        One row per (row, rule) that fired, ordered by row then rule, with the columns ``rule, code,
        severity, column, source, source_key, value_masked, message``; values are masked (:mod:`rules.mask`).

    Raises:
        ValueError: ``raw`` is not aligned with ``df``, or ``severities`` names an unknown code.
    """
    return _spam_rows(df, raw, severities).select(FAILURE_COLUMNS)


def spam_mask(
    df: pl.DataFrame, raw: pl.DataFrame | None = None, *, severities: Mapping[str, Severity] | None = None
) -> pl.Series:
    """Boolean, aligned with ``df``: the row has a spam failure of severity ``error`` (to be quarantined)."""
    rows = _spam_rows(df, raw, severities).filter(pl.col("severity") == "error").get_column(_ROW).unique()
    return pl.Series("spam", range(df.height), dtype=pl.UInt32).is_in(rows.implode())
