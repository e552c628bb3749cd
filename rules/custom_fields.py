"""Custom fields: a project's own typed fields (行业, 员工数, 签约日 …), kept in a customer's ``attributes``.

A custom field is declared in the project file (``custom_fields:``) with a name, a type and its checks; its value is
read from the row's unmapped source columns (``attributes``: the columns the field lists, else the column of the
field's name), checked and converted, and stored in ``attributes`` under the field's name as a real JSON value:

============  =========================================  ====================  ==============================
type          accepts                                    JSON                  polars (``custom_field_values``)
============  =========================================  ====================  ==============================
text          any text (trimmed, half-width)             string                String
int           ``1200``, ``1,200``, ``１２００``, ``12.0``     number                Int64
float         ``1200.5``, ``1,200.50``, ``¥1,200``, ``3元``  number                Float64
date          every form the date normaliser reads       ``"YYYY-MM-DD"``      Date
bool          true/false, yes/no, y/n, 1/0, 是/否, 对/错     true / false          Boolean
choice        one of ``allowed`` (or an alias of one)    string                Enum(allowed)
multi_choice  several of ``allowed``: ``a, b；c、d``       array of strings      List(String)
============  =========================================  ====================  ==============================

Checks: ``required`` (an empty value fails with ``missing_required``, always an error), ``allowed`` and
``aliases`` (choice types: ``value_not_allowed``), ``min``/``max`` (int, float, date: ``invalid_value``),
``max_length`` (text: ``length_out_of_range``), and the type itself (``invalid_value``). A value that fails a check
is dropped from ``attributes`` (the source row keeps it as read); the field's ``severity`` says what happens to the
row: ``warning`` (the default) loads it without the value, ``error`` quarantines it with the reason code. Empty
cells and placeholders (``-``, ``N/A``, ``无``, ``未知``) are empty values, never invalid ones.

Everything here is a pure function over frames: :func:`apply_custom_fields` types the ``attributes`` of a batch and
returns the failure table of ``rules.validate``'s fixed columns; :func:`custom_field_values` reads typed columns back
from stored ``attributes``; :func:`check_custom_fields` finds the problems of a declaration that one field alone
does not show. Applying the fields twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crm_store.schema import ATTRIBUTES_COL, CANONICAL_FIELDS, GOLDEN_FIELDS, SOURCE_COL, SOURCE_KEY_COL
from rules.failures import FAILURE_COLUMNS, FAILURE_SCHEMA
from rules.mask import mask_value
from rules.validate import RuleResult, Severity

__all__ = [
    "FIELD_TYPES",
    "CustomField",
    "CustomFieldResult",
    "FieldType",
    "apply_custom_fields",
    "check_custom_fields",
    "custom_field_dtype",
    "custom_field_values",
]

FieldType = Literal["text", "int", "float", "date", "bool", "choice", "multi_choice"]
FIELD_TYPES: Final[tuple[str, ...]] = ("text", "int", "float", "date", "bool", "choice", "multi_choice")
DateOrder = Literal["ymd", "dmy", "mdy"]

#: Reason code of a value of the wrong type or out of its range, per type (choices: not among ``allowed``).
_INVALID_CODE: Final[dict[str, str]] = {
    "text": "length_out_of_range",
    "int": "invalid_value",
    "float": "invalid_value",
    "date": "invalid_value",
    "bool": "invalid_value",
    "choice": "value_not_allowed",
    "multi_choice": "value_not_allowed",
}
_TRUE: Final = frozenset({"true", "t", "yes", "y", "1", "on", "是", "对", "真", "√", "✓", "✔"})
_FALSE: Final = frozenset({"false", "f", "no", "n", "0", "off", "否", "错", "假", "×", "✗", "✘"})
_INT: Final = re.compile(r"[+-]?\d+(?:\.0*)?")
_GROUPED: Final = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_FLOAT: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_CURRENCY: Final = re.compile(r"^(?:[¥￥$€£]|rmb|cny|usd)\s*|\s*(?:元|rmb|cny|usd)$", re.IGNORECASE)
_ITEM_SEPARATORS: Final = re.compile(r"\s*[,，;；、|/\n]\s*")
#: Store and golden columns a custom field may not be named after (they are columns of a customer already).
RESERVED: Final = frozenset(
    {
        *CANONICAL_FIELDS,
        *GOLDEN_FIELDS,
        "customer_id",
        "kind",
        "primary_phone",
        "primary_email",
        "content_hash",
        "version",
        "retired_at",
        "merged_into",
    }
)


def _key(text: str) -> str:
    """How choices are compared: NFKC (half-width), whitespace collapsed, case-folded."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


class CustomField(BaseModel):
    """One custom field of the project file (``custom_fields:``): what it is called, its type and its checks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The key in ``attributes`` and the column name analytics gives it (行业, employees, 签约日).
    name: str = Field(min_length=1, max_length=64)
    type: FieldType = "text"
    #: Source columns holding the value, first non-empty one wins (default: the column named like the field);
    #: the columns are taken out of ``attributes``, the typed value stored under ``name``.
    columns: list[str] = Field(default_factory=list)
    #: An empty value fails with ``missing_required`` and quarantines the row.
    required: bool = False
    #: Choice types: the allowed values, in the order reports list them (compared ignoring case and width).
    allowed: list[str] | None = None
    #: Choice types: other spellings of an allowed value (``制造: 制造业``, ``manufacturing: 制造业``).
    aliases: dict[str, str] = Field(default_factory=dict)
    #: int and float: a number; date: a date. Inclusive bounds.
    min: float | dt.date | None = None
    max: float | dt.date | None = None
    #: text: the longest value, in characters.
    max_length: int | None = Field(default=None, ge=1)
    #: A value that fails a check is dropped either way; ``error`` also quarantines the row.
    severity: Severity = "warning"
    #: What the field means, for the people who read the project file.
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if name != name.strip() or name.startswith("_"):
            raise ValueError(f"{name!r}: a field name has no leading or trailing spaces and does not start with _")
        if name in RESERVED:
            raise ValueError(f"{name!r} is a field of every customer already; name the custom field otherwise")
        return name

    @model_validator(mode="after")
    def _checks_fit_the_type(self) -> CustomField:
        problems: list[str] = []
        choice = self.type in ("choice", "multi_choice")
        if choice and not self.allowed:
            problems.append(f"a {self.type} field needs allowed: [its values]")
        if not choice and (self.allowed is not None or self.aliases):
            problems.append(f"allowed and aliases are for choice and multi_choice fields, not {self.type}")
        if self.allowed:
            keys = [_key(v) for v in self.allowed]
            twice = sorted({v for v, k in zip(self.allowed, keys, strict=True) if keys.count(k) > 1})
            if twice:
                problems.append(f"allowed lists {', '.join(twice)} twice (case and width are ignored)")
            unknown = sorted({target for target in self.aliases.values() if target not in self.allowed})
            if unknown:
                problems.append(f"aliases name values that are not allowed: {', '.join(unknown)}")
        bounds = [b for b in (self.min, self.max) if b is not None]
        if bounds:
            if self.type in ("int", "float") and any(isinstance(b, dt.date) for b in bounds):
                problems.append(f"min and max of a {self.type} field are numbers")
            elif self.type == "date" and not all(isinstance(b, dt.date) for b in bounds):
                problems.append("min and max of a date field are dates (YYYY-MM-DD)")
            elif self.type not in ("int", "float", "date"):
                problems.append(f"min and max are for int, float and date fields, not {self.type}")
            elif self.min is not None and self.max is not None and self.min > self.max:  # type: ignore[operator]
                problems.append(f"min ({self.min}) is greater than max ({self.max})")
        if self.max_length is not None and self.type != "text":
            problems.append(f"max_length is for text fields, not {self.type}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def sources(self) -> list[str]:
        """The ``attributes`` keys the value is read from, in order: the listed columns, then the field's name."""
        return list(dict.fromkeys([*self.columns, self.name]))


def check_custom_fields(fields: Sequence[CustomField]) -> list[str]:
    """The problems of a list of custom fields that each field alone does not show, each
    ``custom_fields[i].<setting>: <what is wrong>``: a name used twice, a source column two fields read, a column
    named like another field."""
    problems: list[str] = []
    names: dict[str, int] = {}
    for i, field in enumerate(fields):
        if field.name in names:
            problems.append(
                f"custom_fields[{i}].name: {field.name!r} is declared twice (first custom_fields[{names[field.name]}])"
            )
        names.setdefault(field.name, i)
    readers: dict[str, int] = {}
    for i, field in enumerate(fields):
        for column in field.columns:
            other = names.get(column)
            if other is not None and other != i:
                problems.append(
                    f"custom_fields[{i}].columns: {column!r} is the name of custom_fields[{other}]: "
                    "a column feeds one field"
                )
            elif column in readers and readers[column] != i:
                problems.append(
                    f"custom_fields[{i}].columns: {column!r} is read by custom_fields[{readers[column]}] too"
                )
            readers.setdefault(column, i)
    return problems


# -------------------------------------------------------------------------------------------- one value


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        from rules.normalise import NULL_MARKERS, clean_text

        text = clean_text(value)
        return not text or text.casefold() in NULL_MARKERS
    if isinstance(value, list):
        return all(_is_empty(v) for v in value)
    return False


def _text(value: Any) -> str:
    from rules.normalise import clean_text

    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _number(value: Any, kind: str) -> int | float | None:
    """``value`` as an int or float, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number: float = float(value)
    else:
        text = _CURRENCY.sub("", _text(value).replace(" ", "")) if kind == "float" else _text(value).replace(" ", "")
        if _GROUPED.fullmatch(text):
            text = text.replace(",", "")
        pattern = _INT if kind == "int" else _FLOAT
        if not pattern.fullmatch(text):
            return None
        number = float(text)
    if not math.isfinite(number):
        return None
    if kind == "int":
        if number != int(number) or abs(number) >= 2**63:
            return None
        return int(number)
    return number


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A value checked against its field: the value to store (None: nothing stored) and why it failed, if it did."""

    value: Any = None
    code: str | None = None
    message: str = ""


_EMPTY: Final = _Outcome()


def _choice(field: CustomField) -> dict[str, str]:
    table = {_key(v): v for v in field.allowed or ()}
    table.update({_key(alias): target for alias, target in field.aliases.items()})
    return table


def _check_one(field: CustomField, value: Any, choices: Mapping[str, str], dates: Mapping[str, Any]) -> _Outcome:
    """Check and convert one non-empty value (dates come parsed in ``dates``: text → (ISO date | None, issues))."""
    kind = field.type
    invalid = _INVALID_CODE[kind]
    if kind == "text":
        text = _text(value)
        if field.max_length is not None and len(text) > field.max_length:
            return _Outcome(None, invalid, f"{field.name} is longer than {field.max_length} characters")
        return _Outcome(text)
    if kind in ("int", "float"):
        number = _number(value, kind)
        if number is None:
            return _Outcome(None, invalid, f"{field.name} is not {'a whole number' if kind == 'int' else 'a number'}")
        if (field.min is not None and number < field.min) or (field.max is not None and number > field.max):  # type: ignore[operator]
            return _Outcome(None, invalid, f"{field.name} is not between {field.min} and {field.max}")
        return _Outcome(number)
    if kind == "bool":
        if isinstance(value, bool):
            return _Outcome(value)
        word = _text(value).casefold()
        if word in _TRUE or word in _FALSE:
            return _Outcome(word in _TRUE)
        return _Outcome(None, invalid, f"{field.name} is not yes or no")
    if kind == "date":
        iso, issues = dates.get(_text(value), (None, ["unparseable"]))
        if iso is None:
            if set(issues) <= {"empty", "placeholder"}:
                return _EMPTY
            return _Outcome(None, invalid, f"{field.name} is not a date ({', '.join(issues)})")
        day = dt.date.fromisoformat(iso)
        if (field.min is not None and day < field.min) or (field.max is not None and day > field.max):  # type: ignore[operator]
            return _Outcome(None, invalid, f"{field.name} is not between {field.min} and {field.max}")
        return _Outcome(iso)
    if kind == "choice":
        found = choices.get(_key(_text(value)))
        if found is None:
            return _Outcome(None, invalid, f"{field.name} is not one of {', '.join(field.allowed or ())}")
        return _Outcome(found)
    items = value if isinstance(value, list) else _ITEM_SEPARATORS.split(_text(value))
    picked: list[str] = []
    for item in items:
        if _is_empty(item):
            continue
        found = choices.get(_key(_text(item)))
        if found is None:
            return _Outcome(
                None, invalid, f"{field.name}: {_text(item)!r} is not one of {', '.join(field.allowed or ())}"
            )
        if found not in picked:
            picked.append(found)
    return _Outcome(picked) if picked else _EMPTY


# -------------------------------------------------------------------------------------------- a batch


def _decode(text: Any) -> dict[str, Any]:
    """One row's ``attributes`` as a dict (JSON text, a dict or a struct; anything else is no attributes)."""
    if isinstance(text, dict):
        return dict(text)
    if not isinstance(text, str) or not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _hashable(value: Any) -> Any:
    return (
        value if isinstance(value, str | int | float | bool) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    )


class _Checker:
    """Checks the raw values of a batch field by field, each distinct value once (dates parsed in one call per
    date order, by the date normaliser)."""

    def __init__(
        self,
        fields: Sequence[CustomField],
        raw: list[list[Any]],
        orders: Sequence[str],
        today: dt.date | None,
    ) -> None:
        self.fields = fields
        self.choices = [_choice(f) for f in fields]
        self.dates: dict[str, dict[str, Any]] = {}
        wanted: dict[str, set[str]] = {}
        for f, values in zip(fields, raw, strict=True):
            if f.type == "date":
                for value, order in zip(values, orders, strict=True):
                    if not _is_empty(value):
                        wanted.setdefault(order, set()).add(_text(value))
        if wanted:
            from rules.normalise import normalise_date

            for order, texts in wanted.items():
                ordered = sorted(texts)
                parsed = normalise_date(
                    pl.Series(ordered, dtype=pl.String), order=order, today=today, max_age=None, allow_future=True
                )
                self.dates[order] = {
                    t: (v, list(i)) for t, v, i in zip(ordered, parsed["value"], parsed["issues"], strict=True)
                }
        self.memo: dict[tuple[int, str, Any], _Outcome] = {}

    def check(self, i: int, value: Any, order: str) -> _Outcome:
        key = (i, order, _hashable(value))
        found = self.memo.get(key)
        if found is None:
            field = self.fields[i]
            found = _EMPTY if _is_empty(value) else _check_one(field, value, self.choices[i], self.dates.get(order, {}))
            self.memo[key] = found
        return found


def _orders(frame: pl.DataFrame, date_order: str | Mapping[str, str]) -> list[str]:
    if isinstance(date_order, str) or SOURCE_COL not in frame.columns:
        default = date_order if isinstance(date_order, str) else "ymd"
        return [default] * frame.height
    return [date_order.get(s, "ymd") if s is not None else "ymd" for s in frame[SOURCE_COL].cast(pl.String)]


def _take(data: dict[str, Any], field: CustomField, *, remove: bool) -> Any:
    """The first non-empty value among the field's source keys (all of them taken out of ``data`` if ``remove``)."""
    found: Any = None
    for key in field.sources:
        value = data.pop(key, None) if remove else data.get(key)
        if found is None and not _is_empty(value):
            found = value
    return found


@dataclass(frozen=True, slots=True)
class CustomFieldResult:
    """What :func:`apply_custom_fields` made of a batch.

    Attributes:
        attributes: The rows' ``attributes`` as JSON text: each custom field's typed value under its name (first,
            in declaration order), its source columns taken out, the other columns as they were; ``"{}"`` when
            nothing is left.
        failures: One row per (row, field) that failed a check, in the fixed columns of ``rules.validate``.
        quarantined: Boolean, aligned with the batch: the row failed a check of severity ``error``.
        rule_results: One line per field (and one per required field) for the quality report.
    """

    attributes: pl.Series
    failures: pl.DataFrame
    quarantined: pl.Series
    rule_results: list[RuleResult]


def apply_custom_fields(
    frame: pl.DataFrame,
    fields: Sequence[CustomField],
    *,
    date_order: str | Mapping[str, str] = "ymd",
    today: dt.date | None = None,
) -> CustomFieldResult:
    """Check the custom fields of a batch and store their typed values in ``attributes``.

    Args:
        frame: mapped or normalised rows with ``attributes`` (JSON text of the unmapped source columns) and the
            lineage columns ``_source``, ``_source_key`` (for the failure table).
        fields: the project's custom fields.
        date_order: ``ymd``, ``dmy`` or ``mdy`` for ambiguous numeric dates, or one per source name.
        today: the reference day of two-digit years (default: today).

    Returns:
        The typed ``attributes``, the failures, the rows to quarantine and one result per rule. With no fields,
        ``attributes`` is returned as it is. Never raises on data: a malformed ``attributes`` text counts as none.
    """
    height = frame.height
    given = frame[ATTRIBUTES_COL] if ATTRIBUTES_COL in frame.columns else pl.Series([None] * height, dtype=pl.String)
    if not fields:
        return CustomFieldResult(
            given.alias(ATTRIBUTES_COL),
            pl.DataFrame(schema=FAILURE_SCHEMA),
            pl.Series("quarantined", [False] * height, dtype=pl.Boolean),
            [],
        )
    rows = [_decode(text) for text in given.to_list()]
    raw = [[_take(data, f, remove=True) for data in rows] for f in fields]
    orders = _orders(frame, date_order)
    checker = _Checker(fields, raw, orders, today)

    def lineage(name: str) -> list[Any]:
        return frame[name].cast(pl.String).to_list() if name in frame.columns else [None] * height

    sources, keys = lineage(SOURCE_COL), lineage(SOURCE_KEY_COL)
    typed: list[dict[str, Any]] = [{} for _ in range(height)]
    failed: list[tuple[Any, ...]] = []
    quarantined = [False] * height
    results: list[RuleResult] = []
    for i, field in enumerate(fields):
        missing = invalid = 0
        for r in range(height):
            value = raw[i][r]
            outcome = checker.check(i, value, orders[r])
            if outcome.value is not None:
                typed[r][field.name] = outcome.value
            elif outcome.code is not None:
                invalid += 1
                shown = mask_value(None, _text(value))
                failed.append(
                    (
                        r,
                        f"custom_field:{field.name}",
                        outcome.code,
                        field.severity,
                        field.name,
                        sources[r],
                        keys[r],
                        shown,
                        outcome.message,
                    )
                )
                quarantined[r] |= field.severity == "error"
            elif field.required:
                missing += 1
                message = f"{field.name} is required but empty"
                failed.append(
                    (
                        r,
                        f"required:{field.name}",
                        "missing_required",
                        "error",
                        field.name,
                        sources[r],
                        keys[r],
                        None,
                        message,
                    )
                )
                quarantined[r] = True
        if field.required:
            results.append(
                RuleResult(
                    f"required:{field.name}",
                    "custom_field_required",
                    field.name,
                    missing == 0,
                    height,
                    missing,
                    "error",
                    "missing_required",
                )
            )
        results.append(
            RuleResult(
                f"custom_field:{field.name}",
                f"custom_field_{field.type}",
                field.name,
                invalid == 0,
                height,
                invalid,
                field.severity,
                _INVALID_CODE[field.type],
            )
        )
    texts = [
        json.dumps({**t, **rest}, ensure_ascii=False, separators=(",", ":")) if t or rest else "{}"
        for t, rest in zip(typed, rows, strict=True)
    ]
    failed.sort(key=lambda f: f[0])
    failures = pl.DataFrame([f[1:] for f in failed], schema=FAILURE_SCHEMA, orient="row")
    return CustomFieldResult(
        pl.Series(ATTRIBUTES_COL, texts, dtype=pl.String),
        failures.select(FAILURE_COLUMNS),
        pl.Series("quarantined", quarantined, dtype=pl.Boolean),
        results,
    )


# -------------------------------------------------------------------------------------------- reading back


def custom_field_dtype(field: CustomField) -> pl.DataType:
    """The polars type of a field's column in :func:`custom_field_values`."""
    if field.type == "choice":
        return pl.Enum(field.allowed or [])
    return {
        "text": pl.String(),
        "int": pl.Int64(),
        "float": pl.Float64(),
        "date": pl.Date(),
        "bool": pl.Boolean(),
        "multi_choice": pl.List(pl.String()),
    }[field.type]


def custom_field_values(
    attributes: pl.Series | Sequence[Any],
    fields: Sequence[CustomField],
    *,
    date_order: DateOrder = "ymd",
) -> pl.DataFrame:
    """Typed columns of the custom fields, from stored ``attributes`` (JSON text, dicts or structs).

    Values stored before a field was declared (the source column's text) are read with the same checks; a value
    that fails them is null, as is a missing one.

    Returns:
        One column per field, named and typed after it (:func:`custom_field_dtype`), aligned with ``attributes``.
    """
    values = attributes.to_list() if isinstance(attributes, pl.Series) else list(attributes)
    rows = [_decode(v) for v in values]
    raw = [[_take(data, f, remove=False) for data in rows] for f in fields]
    orders = [date_order] * len(rows)
    checker = _Checker(fields, raw, orders, None)
    columns = []
    for i, field in enumerate(fields):
        cells = [checker.check(i, value, date_order).value for value in raw[i]]
        if field.type == "date":
            cells = [None if c is None else dt.date.fromisoformat(c) for c in cells]
        columns.append(pl.Series(field.name, cells, dtype=custom_field_dtype(field)))
    return pl.DataFrame(columns) if columns else pl.DataFrame(height=len(rows))
