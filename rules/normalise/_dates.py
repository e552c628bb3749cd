"""Date and datetime normalisers: many written forms to ISO 8601.

Forms read: ISO (``1985-03-05``, ``2024-03-05T10:20:30+08:00``), slashes and dots (``1985/3/5``,
``1985.3.5``, ``85.3.5``), Chinese (``1985年3月5日``, ``2024年3月5日 下午3点20分``), compact ``19850305``,
English month names (``5 Mar 1985``, ``March 5, 1985``, ``05-MAR-85``), Excel serial numbers (``31111``,
``45356.43``: the 1900 date system, including Excel's phantom 1900-02-29, serial 60, which is rejected) and,
for datetimes only, Unix epoch seconds (10 digits) and milliseconds (13 digits).

Ambiguity: with a four-digit year first the order is always year-month-day. With the year last
(``3/5/1985``) a part above 12 decides; otherwise the ``order`` parameter decides (``dmy`` or ``mdy``; the
default ``ymd`` falls back to ``mdy``, Excel's US short-date format) and the issue ``ambiguous`` is raised.
A two-digit part above 31 is the year; otherwise two-digit years (issue ``two_digit_year``) are read in
``order`` and expanded to the most recent year that is not in the future: with today in 2026, ``26`` is 2026
and ``27`` is 1927.

Speed: the common forms (ISO dates and naive ISO datetimes, ISO 8601 with ``Z`` or ``±HH:MM``, ``D/M/YYYY`` and
``YYYYMMDD``, month names) are read by vectorised polars paths that tests hold equal to the per-value reader;
only the rest is read one value at a time.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
from pydantic import BaseModel, ConfigDict, field_validator

from ._base import ISSUES_DTYPE, Schema, clean_text, map_distinct, memo_for
from ._registry import check_params, register_normaliser

Order = Literal["ymd", "dmy", "mdy"]
_SCHEMA: Schema = {"value": pl.String, "issues": ISSUES_DTYPE}


class DateParams(BaseModel):
    """Parameters of :func:`normalise_date`."""

    model_config = ConfigDict(extra="forbid")

    #: Order of day, month and year for ambiguous numeric dates.
    order: Order = "ymd"
    #: Reference day for ``future``/``implausible`` and two-digit years (default: the current date).
    today: dt.date | None = None
    #: Oldest plausible age in years (birthdays); ``None`` turns the check off.
    max_age: int | None = 120
    #: Whether dates after ``today`` are kept (False for birthdays).
    allow_future: bool = False


class DatetimeParams(BaseModel):
    """Parameters of :func:`normalise_datetime`."""

    model_config = ConfigDict(extra="forbid")

    #: IANA zone of naive values and the zone every value is expressed in.
    tz: str = "Asia/Shanghai"
    #: Order of day, month and year for ambiguous numeric dates.
    order: Order = "ymd"
    #: Reference day for two-digit years (default: the current date).
    today: dt.date | None = None

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {tz!r} (use an IANA name such as Asia/Shanghai)") from exc
        return tz


_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_CN_DATE = re.compile(r"(\d{2,4})\s*年\s*(\d{1,2})\s*月\s*(?:(\d{1,2})\s*[日号]?)?(.*)")
_NUMERIC = re.compile(r"(\d{1,4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,4})(?:(?:t|\s+)(.*))?")
_DAY_MONTH_NAME = re.compile(rf"(\d{{1,2}})(?:st|nd|rd|th)?[\s\-/]*({_MONTH_RE})\.?[\s\-/,]*(\d{{2,4}})(?:\s+(.*))?")
_MONTH_NAME_DAY = re.compile(rf"({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})(?:\s+(.*))?")
_SERIAL = re.compile(r"(\d{1,5})(?:\.(\d+))?")
_TIME = re.compile(
    r"(?P<ampm1>上午|下午|晚上|凌晨|中午|早上|am|pm)?\s*"
    r"(?P<h>\d{1,2})(?:\s*(?:[:时點点]\s*(?P<mi>\d{1,2})|[时點点]))?"
    r"(?:\s*[:分]\s*(?P<s>\d{1,2})(?:[.,](?P<frac>\d+))?)?\s*[分秒]?\s*"
    r"(?P<ampm2>am|pm|a\.m\.|p\.m\.)?\s*(?P<tz>z|utc|gmt|[+-]\d{2}(?::?\d{2})?)?"
)
_PM = {"下午", "晚上", "pm", "p.m."}
_AM = {"上午", "凌晨", "早上", "am", "a.m."}
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_PLACEHOLDER_DATES = {dt.date(1900, 1, 1), dt.date(1899, 12, 30), dt.date(1899, 12, 31)}


class _Unparseable(Exception):
    """Internal: the text is not a date; carries the issue code."""

    def __init__(self, code: str = "unparseable") -> None:
        super().__init__(code)
        self.code = code


def _year(text: str, today: dt.date, issues: list[str]) -> int:
    year = int(text)
    if len(text) <= 2:
        issues.append("two_digit_year")
        century = today.year // 100 * 100
        year = century + year if century + year <= today.year else century - 100 + year
    elif len(text) == 3:
        raise _Unparseable
    return year


def _ymd(a: str, b: str, c: str, order: Order, today: dt.date, issues: list[str]) -> dt.date:
    """Resolve three numeric parts into a date (see the module docstring)."""
    if len(a) >= 3 or int(a) > 31:
        y, m, d = _year(a, today, issues), int(b), int(c)
    elif len(c) >= 3 or int(c) > 31:
        first, second = int(a), int(b)
        if first > 12 >= second:
            d, m = first, second
        elif second > 12 >= first:
            m, d = first, second
        else:
            if first != second:
                issues.append("ambiguous")
            d, m = (first, second) if order == "dmy" else (second, first)
        y = _year(c, today, issues)
    else:
        parts = {"ymd": (a, b, c), "dmy": (c, b, a), "mdy": (c, a, b)}[order]
        y, m, d = _year(parts[0], today, issues), int(parts[1]), int(parts[2])
    try:
        return dt.date(y, m, d)
    except ValueError:
        raise _Unparseable from None


def _time(text: str | None) -> tuple[dt.time, dt.tzinfo | None] | None:
    """A time of day with its zone, ``None`` when ``text`` is empty; raises when it is not a time."""
    if not text or not text.strip():
        return None
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise _Unparseable
    hour = int(match["h"])
    ampm = match["ampm1"] or match["ampm2"]
    if ampm in _PM and hour < 12:
        hour += 12
    elif ampm in _AM and hour == 12:
        hour = 0
    elif ampm == "中午" and hour < 11:
        hour += 12
    micro = int((match["frac"] or "0")[:6].ljust(6, "0"))
    try:
        time = dt.time(hour, int(match["mi"] or 0), int(match["s"] or 0), micro)
    except ValueError:
        raise _Unparseable from None
    zone: dt.tzinfo | None = None
    tz = match["tz"]
    if tz in ("z", "utc", "gmt"):
        zone = dt.UTC
    elif tz:
        digits = tz[1:].replace(":", "").ljust(4, "0")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]))
        if offset > dt.timedelta(hours=14):
            raise _Unparseable
        zone = dt.timezone(offset if tz[0] == "+" else -offset)
    return time, zone


def _excel(serial_text: str, fraction: str | None, issues: list[str]) -> dt.datetime:
    serial = int(serial_text)
    if not 1 <= serial <= 60000 or serial == 60:  # 60 is Excel's 1900-02-29, a day that never was
        raise _Unparseable
    issues.append("excel_serial")
    day = _EXCEL_EPOCH + dt.timedelta(days=serial if serial > 60 else serial + 1)
    seconds = round(float("0." + fraction) * 86400) if fraction else 0
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)


def _parse(
    text: str, order: Order, today: dt.date, issues: list[str], *, epoch: bool
) -> tuple[dt.date, tuple[dt.time, dt.tzinfo | None] | None] | dt.datetime:
    """A date with its optional time, or a datetime for numeric forms; raises ``_Unparseable``."""
    text = text.lower().strip()
    if text.startswith(("0000-00-00", "0000/00/00", "00000000")):
        raise _Unparseable("placeholder")
    if text.isdigit() and len(text) == 8:
        try:
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:])), None
        except ValueError:
            raise _Unparseable from None
    if text.isdigit() and len(text) == 14:
        try:
            return dt.datetime.strptime(text, "%Y%m%d%H%M%S")
        except ValueError:
            raise _Unparseable from None
    if epoch and text.isdigit() and len(text) in (10, 13):
        issues.append("epoch")
        seconds = int(text) / (1000 if len(text) == 13 else 1)
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    match = _SERIAL.fullmatch(text)
    if match:
        if match[2] is None and len(match[1]) == 4 and 1900 <= int(match[1]) <= 2100:
            raise _Unparseable("incomplete")  # a bare year
        return _excel(match[1], match[2], issues)
    match = _CN_DATE.fullmatch(text)
    if match:
        if match[3] is None:
            raise _Unparseable("incomplete")
        return _ymd(match[1], match[2], match[3], "ymd", today, issues), _time(match[4])
    match = _NUMERIC.fullmatch(text)
    if match:
        return _ymd(match[1], match[2], match[3], order, today, issues), _time(match[4])
    match = _DAY_MONTH_NAME.fullmatch(text)
    if match:
        day = _ymd(match[3], str(_MONTHS[match[2]]), match[1], "ymd", today, issues)
        return day, _time(match[4])
    match = _MONTH_NAME_DAY.fullmatch(text)
    if match:
        day = _ymd(match[3], str(_MONTHS[match[1]]), match[2], "ymd", today, issues)
        return day, _time(match[4])
    raise _Unparseable


def _date_one(raw: str, params: DateParams, today: dt.date) -> tuple[str | None, list[str]]:
    text = clean_text(raw)
    issues: list[str] = []
    try:
        parsed = _parse(text, params.order, today, issues, epoch=False)
    except _Unparseable as exc:
        return None, [*issues, exc.code]
    day = parsed.date() if isinstance(parsed, dt.datetime) else parsed[0]
    if day in _PLACEHOLDER_DATES:
        return None, [*issues, "placeholder"]
    if not params.allow_future and day > today:
        return None, [*issues, "future"]
    if params.max_age is not None and _age(day, today) > params.max_age:
        return None, [*issues, "implausible"]
    return day.isoformat(), issues


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _datetime_one(raw: str, params: DatetimeParams, zone: ZoneInfo, today: dt.date) -> tuple[str | None, list[str]]:
    text = clean_text(raw)
    issues: list[str] = []
    try:
        parsed = _parse(text, params.order, today, issues, epoch=True)
    except _Unparseable as exc:
        return None, [*issues, exc.code]
    if isinstance(parsed, dt.datetime):
        moment = parsed
    else:
        day, time = parsed
        if time is None:
            issues.append("date_only")
            moment = dt.datetime.combine(day, dt.time())
        else:
            moment = dt.datetime.combine(day, time[0], tzinfo=time[1])
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(zone)
        except OverflowError:  # 9999-12-31T23:59-14:00 is in year 10000 here, 0001-01-01T00:00+14:00 in year 0
            return None, [*issues, "implausible"]
    moment = moment.replace(tzinfo=None, microsecond=0)  # the value has whole seconds: check what is kept
    if moment.date() in _PLACEHOLDER_DATES or (moment == dt.datetime(1970, 1, 1) and "epoch" not in issues):
        return None, [*issues, "placeholder"]
    if not 1900 <= moment.year <= 2200:
        return None, [*issues, "implausible"]
    return moment.isoformat(), issues


@register_normaliser("date", params=DateParams)
def normalise_date(values: pl.Series, **params: object) -> pl.DataFrame:
    """Normalise calendar dates (birthdays by default) to ISO ``YYYY-MM-DD``.

    Args:
        values: raw date cells (any dtype).
        order: ``"ymd"`` (default), ``"dmy"`` or ``"mdy"``, for ambiguous numeric dates only.
        today: reference day (default: now) for ``future``, ``implausible`` and two-digit years.
        max_age: oldest plausible age (default 120; ``None`` disables).
        allow_future: keep dates after ``today`` (default False).

    Returns:
        A frame of the same height with ``value`` and ``issues``. Issue codes: ``empty``, ``unparseable``,
        ``incomplete`` (a bare year, or year and month), ``placeholder`` (``0000-00-00``, ``1900-01-01``),
        ``future``, ``implausible`` (older than ``max_age``) — all with a null value — and ``excel_serial``,
        ``ambiguous``, ``two_digit_year`` (value kept).
    """
    checked = check_params(DateParams, params)
    today = checked.today or dt.date.today()
    # the plain ISO-like forms are parsed in polars; only dates that could be a placeholder, in the future
    # or too old (and every other form) go through Python
    earliest = dt.date(max(today.year - checked.max_age + 1, 1901), 1, 1) if checked.max_age is not None else None
    latest = None if checked.allow_future else today
    return map_distinct(
        values,
        lambda raw: _date_one(raw, checked, today),
        _SCHEMA,
        placeholder="placeholder",
        fast=lambda keys: pl.concat(
            [
                _fast_iso(keys, earliest or dt.date(1901, 1, 1), latest, with_time=False),
                _fast_year_last(keys, checked.order, earliest or dt.date(1901, 1, 1), latest),
                _fast_month_name(keys, earliest or dt.date(1901, 1, 1), latest),
            ]
        ),
        memo=memo_for("date", checked.model_dump_json(), today),
    )


@register_normaliser("datetime", params=DatetimeParams)
def normalise_datetime(values: pl.Series, **params: object) -> pl.DataFrame:
    """Normalise timestamps to local wall time ``YYYY-MM-DDTHH:MM:SS`` (no offset) in ``tz``.

    Naive values are taken to be in ``tz``; values with an offset or ``Z`` and epoch numbers are converted to
    ``tz``. The value carries no offset because the CRM stores wall time in one configured zone; fractions of
    a second are dropped.

    Args:
        values: raw timestamp cells (any dtype).
        tz: IANA zone (default ``"Asia/Shanghai"``).
        order: ``"ymd"`` (default), ``"dmy"`` or ``"mdy"``, for ambiguous numeric dates only.
        today: reference day for two-digit years (default: now).

    Returns:
        A frame with ``value`` and ``issues``. Issue codes: ``empty``, ``unparseable``, ``incomplete``,
        ``placeholder`` (``0000-00-00 00:00:00``, ``1900-01-01``, ``1970-01-01 00:00:00``), ``implausible``
        (year outside 1900-2200) — null value — and ``date_only`` (midnight assumed), ``epoch``,
        ``excel_serial``, ``ambiguous``, ``two_digit_year``.
    """
    checked = check_params(DatetimeParams, params)
    zone = ZoneInfo(checked.tz)
    today = checked.today or dt.date.today()
    return map_distinct(
        values,
        lambda raw: _datetime_one(raw, checked, zone, today),
        _SCHEMA,
        placeholder="placeholder",
        fast=lambda keys: pl.concat(
            [
                _fast_iso(keys, *_DATETIME_SPAN, with_time=True),
                _fast_iso_zoned(keys, zone, *_DATETIME_SPAN),
            ]
        ),
        memo=memo_for("datetime", checked.model_dump_json(), today),
    )


#: Datetimes the vectorised paths answer lie strictly inside these days (the Python path's year limits, 1900 and
#: 2200, and its placeholder days are left to it).
_DATETIME_SPAN = (dt.date(1901, 1, 1), dt.date(2199, 12, 31))
# ISO 8601 with a zone, as APIs and exports write it: 2023-06-01T08:47:53+08:00, 2023-06-01T02:31:26.727Z.
_ISO_ZONED = (
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(?:[.,][0-9]+)?"
    r"(Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])$"
)


def _fast_iso_zoned(keys: pl.Series, zone: ZoneInfo, earliest: dt.date, latest: dt.date) -> pl.DataFrame:
    """Distinct cells in ISO 8601 with a zone (``Z`` or ``±HH:MM``): the instant is read in polars and turned into
    the wall time of ``zone`` by ``zoneinfo``, once per distinct second (what the Python path does with it).
    Fractions of a second are dropped as there; like :func:`_fast_iso`, only days strictly inside
    ``earliest``..``latest`` and not 1970-01-01 are answered."""
    parts = pl.col("__key").str.extract_groups(_ISO_ZONED)
    field = [parts.struct.field(str(i)) for i in range(1, 8)]
    naive = pl.concat_str(*field[:3], separator="-") + " " + pl.concat_str(*field[3:6], separator=":")
    offset = field[6]
    minutes = (
        pl.when(offset == "Z")
        .then(0)
        .otherwise(
            (offset.str.slice(1, 2).cast(pl.Int64) * 60 + offset.str.slice(4, 2).cast(pl.Int64))
            * pl.when(offset.str.starts_with("-")).then(-1).otherwise(1)
        )
    )
    moment = naive.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False) - pl.duration(minutes=minutes)
    frame = (
        keys.to_frame("__key")
        .filter(pl.col("__key").str.contains(_ISO_ZONED))
        .with_columns(moment.alias("__utc"), minutes.alias("__offset"))
        # a UTC year inside the span keeps the conversion in range; the wall day decides below
        .filter(pl.col("__utc").dt.year().is_between(earliest.year + 1, latest.year - 1))
        .filter(pl.col("__offset").abs() <= 14 * 60)
        .with_columns(pl.col("__utc").dt.epoch("s").alias("__s"))
    )
    seconds = frame.get_column("__s").unique().to_list()
    local = {s: dt.datetime.fromtimestamp(s, zone).replace(tzinfo=None) for s in seconds}
    kept = {s: m for s, m in local.items() if earliest < m.date() < latest and m.date() != _EPOCH_DAY}
    walls = pl.DataFrame(
        {"__s": list(kept), "value": [m.isoformat() for m in kept.values()]},
        schema={"__s": pl.Int64, "value": pl.String},
    )
    return frame.join(walls, on="__s").select("__key", "value", pl.lit([], dtype=ISSUES_DTYPE).alias("issues"))


_EPOCH_DAY = dt.date(1970, 1, 1)


# A four-digit year first (always year-month-day), optionally a naive time with two-digit minutes/seconds.
_ISO_LIKE = r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"


def _fast_iso(keys: pl.Series, earliest: dt.date, latest: dt.date | None, *, with_time: bool) -> pl.DataFrame:
    """Distinct cells in the common ``YYYY-MM-DD[ HH:MM[:SS]]`` forms (``-``, ``/`` or ``.``), parsed in polars.

    Only values strictly inside ``earliest``..``latest`` are answered, so that every check of the Python path
    (placeholder days, ``future``, ``implausible``, the 1970-01-01 epoch placeholder) is left to it; invalid
    days and times give null here and go to Python as well.
    """
    parts = pl.col("__key").str.extract_groups(_ISO_LIKE)
    field = [parts.struct.field(str(i)) for i in range(1, 7)]
    if not with_time:
        has_time = field[3].is_not_null()
    text = pl.concat_str(
        field[0],
        pl.lit("-"),
        field[1].str.zfill(2),
        pl.lit("-"),
        field[2].str.zfill(2),
        pl.lit(" "),
        field[3].fill_null("0").str.zfill(2),
        pl.lit(":"),
        field[4].fill_null("00"),
        pl.lit(":"),
        field[5].fill_null("00"),
    )
    moment = text.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
    frame = keys.to_frame("__key").with_columns(moment.alias("__m"), field[3].is_null().alias("__date_only"))
    if not with_time:
        frame = frame.filter(~has_time)
    day = pl.col("__m").dt.date()
    ok = pl.col("__m").is_not_null() & (day > earliest) & (day < latest if latest is not None else pl.lit(True))
    if with_time:
        ok = ok & (day != dt.date(1970, 1, 1))
    frame = frame.filter(ok)
    if with_time:
        value = pl.col("__m").dt.strftime("%Y-%m-%dT%H:%M:%S")
        issues = (
            pl.when(pl.col("__date_only"))
            .then(pl.lit(["date_only"], dtype=ISSUES_DTYPE))
            .otherwise(pl.lit([], dtype=ISSUES_DTYPE))
        )
    else:
        value = day.dt.strftime("%Y-%m-%d")
        issues = pl.lit([], dtype=ISSUES_DTYPE)
    return frame.select("__key", value.alias("value"), issues.alias("issues"))


# A day and a month (either order), then a four-digit year; or the compact ``YYYYMMDD``.
_YEAR_LAST = r"^([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([0-9]{4})$"  # ASCII digits: polars' \d is Unicode
_COMPACT = r"^([0-9]{4})([0-9]{2})([0-9]{2})$"


def _fast_year_last(keys: pl.Series, order: Order, earliest: dt.date, latest: dt.date | None) -> pl.DataFrame:
    """Distinct date cells written ``D/M/YYYY`` or ``M/D/YYYY`` (``-``, ``/`` or ``.``) or ``YYYYMMDD``, parsed in
    polars as :func:`_ymd` reads them: a part above 12 is the day; when both could be, ``order`` decides and the
    issue ``ambiguous`` is raised unless they are equal. Answered only strictly inside ``earliest``..``latest``,
    like :func:`_fast_iso`; everything else goes to the Python path.
    """
    last = pl.col("__key").str.extract_groups(_YEAR_LAST)
    first, second = (last.struct.field(str(i)).cast(pl.Int32) for i in (1, 2))
    day_first = (first > 12) | ((second <= 12) & (first <= 12) & pl.lit(order == "dmy"))
    day_first = day_first & ~((second > 12) & (first <= 12))
    compact = pl.col("__key").str.extract_groups(_COMPACT)
    year = pl.coalesce(last.struct.field("3"), compact.struct.field("1")).cast(pl.Int32)
    month = pl.coalesce(pl.when(day_first).then(second).otherwise(first), compact.struct.field("2").cast(pl.Int32))
    day = pl.coalesce(pl.when(day_first).then(first).otherwise(second), compact.struct.field("3").cast(pl.Int32))
    text = pl.concat_str(
        year.cast(pl.String),
        pl.lit("-"),
        month.cast(pl.String).str.zfill(2),
        pl.lit("-"),
        day.cast(pl.String).str.zfill(2),
    )
    ambiguous = (first <= 12) & (second <= 12) & (first != second)
    frame = keys.to_frame("__key").with_columns(
        text.str.strptime(pl.Date, "%Y-%m-%d", strict=False).alias("__d"),
        ambiguous.fill_null(False).alias("__ambiguous"),
        (first <= 31).fill_null(True).alias("__plain"),  # a first part above 31 reads as a two-digit year
    )
    ok = pl.col("__d").is_not_null() & pl.col("__plain") & (pl.col("__d") > earliest)
    if latest is not None:
        ok = ok & (pl.col("__d") < latest)
    issues = (
        pl.when(pl.col("__ambiguous"))
        .then(pl.lit(["ambiguous"], dtype=ISSUES_DTYPE))
        .otherwise(pl.lit([], dtype=ISSUES_DTYPE))
    )
    return frame.filter(ok).select(
        "__key", pl.col("__d").dt.strftime("%Y-%m-%d").alias("value"), issues.alias("issues")
    )


# A day, an English month name or its abbreviation (any case), a four-digit year: ``5 Mar 1985``, ``05-MAR-1985``.
_MONTH_NAMED = rf"^([0-9]{{1,2}})[- ]({_MONTH_RE})\.?[- ]([0-9]{{4}})$"


def _fast_month_name(keys: pl.Series, earliest: dt.date, latest: dt.date | None) -> pl.DataFrame:
    """Distinct date cells written ``5 Mar 1985`` or ``05-MAR-1985``, parsed in polars as the Python path reads
    them; answered only strictly inside ``earliest``..``latest``, like :func:`_fast_iso`."""
    parts = pl.col("__key").str.to_lowercase().str.extract_groups(_MONTH_NAMED)
    month = parts.struct.field("2").replace_strict({k: f"{v:02d}" for k, v in _MONTHS.items()}, default=None)
    text = pl.concat_str(parts.struct.field("3"), pl.lit("-"), month, pl.lit("-"), parts.struct.field("1").str.zfill(2))
    frame = keys.to_frame("__key").with_columns(text.str.strptime(pl.Date, "%Y-%m-%d", strict=False).alias("__d"))
    ok = pl.col("__d").is_not_null() & (pl.col("__d") > earliest)
    if latest is not None:
        ok = ok & (pl.col("__d") < latest)
    return frame.filter(ok).select(
        "__key", pl.col("__d").dt.strftime("%Y-%m-%d").alias("value"), pl.lit([], dtype=ISSUES_DTYPE).alias("issues")
    )


def wall_time_to_utc(wall: pl.Expr, tz: str) -> pl.Expr:
    """Local wall time ``YYYY-MM-DDTHH:MM:SS`` in ``tz`` (what :func:`normalise_datetime` gives) as UTC in the same
    text form: the store keeps timestamps in UTC. A time a clock change skips is null; one it repeats, the earlier.
    """
    moment = wall.str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us", strict=False)
    return (
        moment.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.strftime("%Y-%m-%dT%H:%M:%S")
    )
