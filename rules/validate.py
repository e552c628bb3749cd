"""Validation: expectations (Great Expectations' types) and polars predicates -> one failure table.

Column-level rules (``required`` and every entry of ``expectations``) are Great Expectations expectation types
(``expect_column_values_to_match_regex`` …). By default they are evaluated as vectorised polars predicates with GX's
semantics (nulls pass every check but ``not_null``; a regex is searched with Python's ``re``, as GX's pandas engine
does; lengths count characters): importing GX costs about 2.3 s and a suite run several times the polars time
(100k rows: 4.8 s against well under a second), for the same result. ``engine: great_expectations`` runs them as one
real GX suite on an ephemeral context instead (GX is imported only then). Multi-column and issue-based rules
(``require_any``, ``quarantine_issues``, invalid contact points) are polars predicates either way.

All results become one failure table with the fixed columns
``rule, code, severity, column, source, source_key, value_masked, message`` (all ``pl.String``, values
masked with :mod:`rules.mask`), one :class:`RuleResult` per rule for the quality report, and a boolean
mask of the rows that have at least one ``error`` failure (to be quarantined).

Problems in the rules themselves (a column that does not exist) raise :class:`RuleDefinitionError`:
definition errors are not data failures.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crm_store.schema import (
    CANONICAL_FIELDS,
    ERROR_CODE_COL,
    ERROR_DETAIL_COL,
    ISSUES_COL,
    SOURCE_COL,
    SOURCE_KEY_COL,
)
from rules.errors import RuleError
from rules.failures import FAILURE_COLUMNS, FAILURE_SCHEMA, empty_failures
from rules.mask import mask_expr
from rules.reasons import REASONS
from rules.spam import spam_failures

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ExpectationSpec",
    "InSetExpectation",
    "LengthBetweenExpectation",
    "NotNullExpectation",
    "RegexExpectation",
    "RuleDefinitionError",
    "RuleResult",
    "Severity",
    "ValidationResult",
    "ValidationSettings",
    "connector_failures",
    "validate",
    "validate_in_chunks",
]

Severity = Literal["error", "warning"]

#: The fixed columns of every failure table, all ``pl.String``.
_ROW: Final = "__row"
_CONTACT_FIELDS: Final = frozenset({"phone", "email", "wechat"})
_INVALID_CONTACT: Final = {"email.invalid": "invalid_email", "phone.invalid": "invalid_phone"}
_GX_WARNINGS: Final = r"module 'sre_(constants|parse)' is deprecated"


class RuleDefinitionError(RuleError, ValueError):
    """A validation rule cannot be evaluated on this frame (a definition error, not a data failure)."""


def _check_code(code: str | None) -> str | None:
    if code is not None and code not in REASONS:
        raise ValueError(f"unknown reason code {code!r}; known codes: {', '.join(REASONS)}")
    return code


class _ExpectationBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str = Field(min_length=1)
    severity: Severity = "error"
    #: Reason code recorded for failing rows; defaults per expectation type.
    code: str | None = None
    #: Rule name in reports; defaults to ``"<type>:<column>"``.
    name: str | None = None

    @field_validator("code")
    @classmethod
    def _known_code(cls, v: str | None) -> str | None:
        return _check_code(v)

    @property
    def reason_code(self) -> str:
        return self.code or _DEFAULT_CODES[self.type]  # type: ignore[attr-defined]


class RegexExpectation(_ExpectationBase):
    """Non-null values must contain a match of ``pattern`` (searched: anchor it with ``^…$`` to match all)."""

    type: Literal["regex"]
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {v!r}: {exc}") from None
        return v


class InSetExpectation(_ExpectationBase):
    """Non-null values must be one of ``values``."""

    type: Literal["in_set"]
    values: list[str] = Field(min_length=1)


class LengthBetweenExpectation(_ExpectationBase):
    """Non-null values must have between ``min`` and ``max`` characters (inclusive; either may be omitted)."""

    type: Literal["length_between"]
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> LengthBetweenExpectation:
        if self.min is None and self.max is None:
            raise ValueError("length_between needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"length_between: min ({self.min}) is greater than max ({self.max})")
        return self


class NotNullExpectation(_ExpectationBase):
    """Every value must be non-null."""

    type: Literal["not_null"]


ExpectationSpec = Annotated[
    RegexExpectation | InSetExpectation | LengthBetweenExpectation | NotNullExpectation,
    Field(discriminator="type"),
]

_DEFAULT_CODES: Final = {
    "regex": "pattern_mismatch",
    "in_set": "value_not_allowed",
    "length_between": "length_out_of_range",
    "not_null": "missing_required",
}


class ValidationSettings(BaseModel):
    """Which rules validate normalised rows. Every field has a YAML key of the same name."""

    model_config = ConfigDict(extra="forbid")

    #: Canonical fields that must be non-null after normalising (code ``missing_required``).
    required: list[str] = Field(default_factory=list)
    #: Groups of fields of which at least one must be non-null. A group made only of contact fields
    #: (phone, email, wechat) fails with ``no_contact``, any other group with ``missing_required``.
    require_any: list[Annotated[list[str], Field(min_length=1)]] = Field(default_factory=list)
    #: Normaliser issue code (``"<field>.<code>"``) -> reason code; a row with such an issue is quarantined.
    #: ``email.placeholder`` / ``phone.placeholder`` (code ``placeholder_contact``) are not in the default: legacy
    #: systems made contacts mandatory, so 13800000000 or test@test.com in a real row means "unknown"; the value
    #: is dropped and the row judged on what remains (``require_any``). Add them to quarantine such rows instead.
    quarantine_issues: dict[str, str] = Field(default_factory=lambda: {"full_name.not_a_name": "not_a_name"})
    #: Severity of the ``email.invalid`` / ``phone.invalid`` issues (codes ``invalid_email`` /
    #: ``invalid_phone``) unless ``quarantine_issues`` names them. ``warning``: a row with one bad phone but a
    #: good email is kept.
    invalid_contact_severity: Severity = "warning"
    #: Column-level expectations (Great Expectations' types).
    expectations: list[ExpectationSpec] = Field(default_factory=list)
    #: How ``required`` and ``expectations`` are evaluated: ``polars`` (vectorised, GX's semantics) or
    #: ``great_expectations`` (one real GX suite; GX is imported only then).
    engine: Literal["polars", "great_expectations"] = "polars"
    #: Longest value per field, in characters; a longer one fails with ``length_out_of_range`` (checked in polars,
    #: rule ``store_length:<field>``). ``crmkit migrate`` fills it with the store's column lengths.
    max_lengths: dict[str, int] = Field(default_factory=dict)
    #: Spam and bot rules (:mod:`rules.spam`: placeholder emails, repeated digits, markup, impossible names).
    spam: bool = True
    #: Severity per spam code, e.g. ``{spam_markup: warning}``; unlisted codes are errors (quarantined).
    spam_severity: dict[str, Severity] = Field(default_factory=dict)

    @field_validator("quarantine_issues")
    @classmethod
    def _issue_codes(cls, v: dict[str, str]) -> dict[str, str]:
        problems = []
        for issue, code in v.items():
            if "." not in issue:
                problems.append(f"{issue!r} is not an issue code of the form '<field>.<code>'")
            if code not in REASONS:
                problems.append(f"{issue!r}: unknown reason code {code!r}; known codes: {', '.join(REASONS)}")
        if problems:
            raise ValueError("; ".join(problems))
        return v


@dataclass(frozen=True, slots=True)
class RuleResult:
    """The outcome of one validation rule over the whole frame (one line of the quality report)."""

    rule: str
    expectation_type: str
    column: str | None
    success: bool
    element_count: int
    unexpected_count: int
    severity: Severity
    code: str


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """Failures (fixed columns), one result per rule, and the rows to quarantine."""

    failures: pl.DataFrame
    rule_results: list[RuleResult]
    #: Boolean, aligned with the validated frame: the row has at least one ``error`` failure.
    quarantined: pl.Series
    #: Boolean, aligned with the validated frame: the row has at least one failure of any severity.
    flagged: pl.Series = field(default_factory=lambda: pl.Series("flagged", [], dtype=pl.Boolean))


@dataclass(slots=True)
class _Rule:
    name: str
    kind: str  # GX expectation type, or "require_any" / "max_length" / "issue"
    columns: list[str]  # first one is the reported column
    severity: Severity
    code: str
    message: str
    spec: Any = None  # ExpectationSpec, "required", or the issue code


def _build_rules(settings: ValidationSettings) -> list[_Rule]:
    rules: list[_Rule] = []
    for col in settings.required:
        rules.append(
            _Rule(
                f"required:{col}",
                "expect_column_values_to_not_be_null",
                [col],
                "error",
                "missing_required",
                f"{col} is required but empty",
                "required",
            )
        )
    seen: set[str] = set()
    for spec in settings.expectations:
        base = spec.name or f"{spec.type}:{spec.column}"
        name, n = base, 1
        while name in seen or any(r.name == name for r in rules):
            n += 1
            name = f"{base}#{n}"
        seen.add(name)
        if isinstance(spec, RegexExpectation):
            kind, message = (
                "expect_column_values_to_match_regex",
                f"{spec.column} does not match {spec.pattern}",
            )
        elif isinstance(spec, InSetExpectation):
            kind = "expect_column_values_to_be_in_set"
            message = f"{spec.column} is not one of {', '.join(spec.values)}"
        elif isinstance(spec, LengthBetweenExpectation):
            kind = "expect_column_value_lengths_to_be_between"
            message = f"length of {spec.column} is not between {spec.min} and {spec.max}"
        else:
            kind, message = "expect_column_values_to_not_be_null", f"{spec.column} is empty"
        rules.append(_Rule(name, kind, [spec.column], spec.severity, spec.reason_code, message, spec))
    for group in settings.require_any:
        code = "no_contact" if set(group) <= _CONTACT_FIELDS else "missing_required"
        rules.append(
            _Rule(
                f"require_any:{'|'.join(group)}",
                "require_any",
                list(group),
                "error",
                code,
                f"none of {', '.join(group)} has a value",
            )
        )
    for col, longest in settings.max_lengths.items():
        rules.append(
            _Rule(
                f"store_length:{col}",
                "max_length",
                [col],
                "error",
                "length_out_of_range",
                f"{col} is longer than {longest} characters",
                longest,
            )
        )
    issues: dict[str, tuple[str, Severity]] = {
        issue: (code, settings.invalid_contact_severity) for issue, code in _INVALID_CONTACT.items()
    }
    issues.update({issue: (code, "error") for issue, code in settings.quarantine_issues.items()})
    for issue, (code, severity) in issues.items():
        col = issue.split(".", 1)[0]
        rules.append(_Rule(f"issue:{issue}", "issue", [col], severity, code, f"normaliser issue {issue}", issue))
    return rules


def _prepare(df: pl.DataFrame, rules: list[_Rule]) -> pl.DataFrame:
    """Check every rule's columns; add canonical-but-unmapped ones as all-null; add the row index."""
    problems: list[str] = []
    missing: set[str] = set()
    for rule in rules:
        if rule.kind == "issue":
            continue  # an issue names a field; the field itself need not be present
        for col in rule.columns:
            if col in df.columns:
                if rule.kind.startswith("expect_") and isinstance(df.schema[col], pl.List | pl.Struct | pl.Array):
                    problems.append(f"rule {rule.name!r}: column {col!r} is nested ({df.schema[col]}), not text")
            elif col in CANONICAL_FIELDS:
                missing.add(col)
            else:
                problems.append(f"rule {rule.name!r}: column {col!r} is neither in the frame nor a canonical field")
    if problems:
        raise RuleDefinitionError("invalid validation rules:\n  " + "\n  ".join(problems))
    return df.with_columns(pl.lit(None, pl.String).alias(c) for c in sorted(missing)).with_row_index(_ROW)


def _gx_expectation(rule: _Rule) -> Any:
    import great_expectations.expectations as expectations

    gxe: Any = expectations  # its classes are exported lazily, which type checkers do not see
    spec, col, meta = rule.spec, rule.columns[0], {"rule": rule.name}
    if spec == "required" or isinstance(spec, NotNullExpectation):
        return gxe.ExpectColumnValuesToNotBeNull(column=col, meta=meta)
    if isinstance(spec, RegexExpectation):
        return gxe.ExpectColumnValuesToMatchRegex(column=col, regex=spec.pattern, meta=meta)
    if isinstance(spec, InSetExpectation):
        return gxe.ExpectColumnValuesToBeInSet(column=col, value_set=list(spec.values), meta=meta)
    if isinstance(spec, LengthBetweenExpectation):
        return gxe.ExpectColumnValueLengthsToBeBetween(column=col, min_value=spec.min, max_value=spec.max, meta=meta)
    raise AssertionError(f"no expectation for rule {rule.name!r}")  # pragma: no cover


def _run_gx(pdf: pd.DataFrame, rules: list[_Rule]) -> dict[str, tuple[bool, int, int, list[int]]]:
    """Run the column rules as one GX suite.

    Returns, per rule name: success, element count, unexpected count, failing row numbers.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_GX_WARNINGS, category=DeprecationWarning)
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        context = gx.get_context(
            mode="ephemeral",
            project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False),
            ),
        )
        asset = context.data_sources.add_pandas("crmkit").add_dataframe_asset("rows")
        batch = asset.add_batch_definition_whole_dataframe("all_rows").get_batch(batch_parameters={"dataframe": pdf})
        suite = gx.ExpectationSuite(name="crmkit_validation")
        for rule in rules:
            suite.add_expectation(_gx_expectation(rule))
        # COMPLETE returns every failing row's index (the default RangeIndex = our row number).
        result = batch.validate(suite, result_format={"result_format": "COMPLETE"})

    out: dict[str, tuple[bool, int, int, list[int]]] = {}
    for res in result.results:
        config = res.expectation_config
        assert config is not None and config.meta is not None  # every expectation of the suite has its rule name
        name = str(config.meta["rule"])
        info = res.exception_info or {}
        raised = info.get("raised_exception") or any(
            isinstance(v, dict) and v.get("raised_exception") for v in info.values()
        )
        if raised:
            raise RuleDefinitionError(f"rule {name!r} could not be evaluated by Great Expectations: {info}")
        r = res.result
        indices = [int(i) for i in r.get("unexpected_index_list") or []]
        out[name] = (
            bool(res.success),
            int(r.get("element_count", len(pdf))),
            int(r.get("unexpected_count", 0)),
            indices,
        )
    return out


def _unexpected(work: pl.DataFrame, rule: _Rule) -> pl.Expr:
    """The rows a column rule fails, as a polars predicate with Great Expectations' semantics."""
    spec, value = rule.spec, pl.col(rule.columns[0]).cast(pl.String)
    if spec == "required" or isinstance(spec, NotNullExpectation):
        return value.is_null()
    if isinstance(spec, InSetExpectation):
        return value.is_not_null() & ~value.is_in(pl.Series(spec.values, dtype=pl.String).implode())
    if isinstance(spec, LengthBetweenExpectation):
        length = value.str.len_chars()
        too_short = length < spec.min if spec.min is not None else pl.lit(False)
        too_long = length > spec.max if spec.max is not None else pl.lit(False)
        return (too_short | too_long).fill_null(False)
    if isinstance(spec, RegexExpectation):
        # GX's pandas engine searches with Python's re; Rust's regex differs (no look-around, other escapes): each
        # distinct value is searched once with re, as GX would
        pattern = re.compile(spec.pattern)
        distinct = work.get_column(rule.columns[0]).cast(pl.String).drop_nulls().unique().to_list()
        failing = pl.Series([v for v in distinct if pattern.search(v) is None], dtype=pl.String)
        return value.is_in(failing.implode()).fill_null(False)
    raise AssertionError(f"no predicate for rule {rule.name!r}")  # pragma: no cover


def _run_polars(work: pl.DataFrame, rules: list[_Rule]) -> dict[str, tuple[bool, int, int, list[int]]]:
    """The column rules as polars predicates; the same answer as :func:`_run_gx`.

    Returns, per rule name: success, element count, unexpected count, failing row numbers.
    """
    masks = work.select(*(_unexpected(work, rule).alias(str(i)) for i, rule in enumerate(rules)))
    out: dict[str, tuple[bool, int, int, list[int]]] = {}
    for i, rule in enumerate(rules):
        indices = work.get_column(_ROW).filter(masks.get_column(str(i))).to_list()
        out[rule.name] = (not indices, work.height, len(indices), [int(x) for x in indices])
    return out


def _failure_rows(df: pl.DataFrame, rule: _Rule, rows: pl.Expr) -> pl.DataFrame:
    col = rule.columns[0]
    value = pl.col(col).cast(pl.String) if col in df.columns else pl.lit(None, pl.String)

    def _lineage(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.String) if name in df.columns else pl.lit(None, pl.String)

    return (
        df.filter(rows)
        .select(
            pl.col(_ROW),
            pl.lit(rule.name).alias("rule"),
            pl.lit(rule.code).alias("code"),
            pl.lit(rule.severity).alias("severity"),
            pl.lit(col).alias("column"),
            _lineage(SOURCE_COL).alias("source"),
            _lineage(SOURCE_KEY_COL).alias("source_key"),
            value.alias(col),
            pl.lit(rule.message).alias("message"),
        )
        .with_columns(mask_expr(col).alias("value_masked"))
        .select(_ROW, *FAILURE_COLUMNS)
    )


def validate(df: pl.DataFrame, settings: ValidationSettings, raw: pl.DataFrame | None = None) -> ValidationResult:
    """Validate a NORMALISED frame against the settings' rules.

    Args:
        df: normalised rows: canonical fields, ``_issues`` (list of ``"<field>.<code>"``; absent = no issues)
            and lineage (``_source``, ``_source_key``).
        settings: the rules.
        raw: the same rows before normalising (same order), for the spam rules, which look at what was typed.

    Returns:
        The failure table (fixed columns, ordered by row then rule), one :class:`RuleResult` per rule and the
        ``quarantined`` mask (rows with an ``error`` failure).

    Raises:
        RuleDefinitionError: a rule names a column that is neither in ``df`` nor a canonical field (a
            canonical field absent from ``df`` is simply unmapped here and treated as all-null), or GX could
            not evaluate it.
    """
    rules = _build_rules(settings)
    work = _prepare(df, rules)
    n = work.height
    results: list[RuleResult] = []
    parts: list[pl.DataFrame] = []

    gx_rules = [r for r in rules if r.kind.startswith("expect_")]
    if gx_rules:
        if settings.engine == "great_expectations":
            gx_cols = list(dict.fromkeys(r.columns[0] for r in gx_rules))
            pdf = work.select(pl.col(c).cast(pl.String) for c in gx_cols).to_pandas()
            gx_out = _run_gx(pdf, gx_rules)
        else:
            gx_out = _run_polars(work, gx_rules)
        for rule in gx_rules:
            success, count, unexpected, indices = gx_out[rule.name]
            results.append(
                RuleResult(
                    rule.name,
                    rule.kind,
                    rule.columns[0],
                    success,
                    count,
                    unexpected,
                    rule.severity,
                    rule.code,
                )
            )
            if indices:
                idx = pl.Series(indices, dtype=work.schema[_ROW])
                parts.append(_failure_rows(work, rule, pl.col(_ROW).is_in(idx.implode())))

    issues = pl.col(ISSUES_COL) if ISSUES_COL in work.columns else None
    for rule in rules:
        if rule.kind == "require_any":
            predicate = pl.all_horizontal(pl.col(c).is_null() for c in rule.columns)
        elif rule.kind == "max_length":
            predicate = (pl.col(rule.columns[0]).cast(pl.String).str.len_chars() > rule.spec).fill_null(False)
        elif rule.kind == "issue":
            if issues is None:
                predicate = pl.lit(False)
            else:
                predicate = issues.list.contains(pl.lit(rule.spec, pl.String)).fill_null(False)
        else:
            continue
        unexpected = int(work.select(predicate.sum()).item())
        results.append(
            RuleResult(
                rule.name,
                rule.kind,
                rule.columns[0],
                unexpected == 0,
                n,
                unexpected,
                rule.severity,
                rule.code,
            )
        )
        if unexpected:
            parts.append(_failure_rows(work, rule, predicate))

    order = {r.name: i for i, r in enumerate(rules)}
    if parts:
        failures = (
            pl.concat(parts)
            .with_columns(pl.col("rule").replace_strict(order, return_dtype=pl.Int64).alias("__order"))
            .sort(_ROW, "__order")
        )
    else:
        failures = pl.DataFrame(schema={_ROW: work.schema[_ROW], **FAILURE_SCHEMA, "__order": pl.Int64})
    if settings.spam:
        spam = spam_failures(df, raw, severities=settings.spam_severity or None)
        results.extend(_spam_results(spam, n))
        rows = work.select(
            pl.col(SOURCE_COL).cast(pl.String).alias("source"),
            pl.col(SOURCE_KEY_COL).cast(pl.String).alias("source_key"),
            _ROW,
        )
        located = spam.join(rows, on=["source", "source_key"], how="left", maintain_order="left")
        failures = pl.concat([failures.select(_ROW, *FAILURE_COLUMNS), located.select(_ROW, *FAILURE_COLUMNS)]).sort(
            _ROW, maintain_order=True
        )
    rows_error = failures.filter(pl.col("severity") == "error")[_ROW].unique()
    rows_any = failures[_ROW].unique()
    quarantined = work.select(pl.col(_ROW).is_in(rows_error.implode()).alias("quarantined")).to_series()
    flagged = work.select(pl.col(_ROW).is_in(rows_any.implode()).alias("flagged")).to_series()
    return ValidationResult(
        failures=failures.select(FAILURE_COLUMNS),
        rule_results=sorted(results, key=lambda r: order.get(r.rule, len(order))),
        quarantined=quarantined,
        flagged=flagged,
    )


def validate_in_chunks(
    df: pl.DataFrame,
    settings: ValidationSettings,
    raw: pl.DataFrame | None = None,
    *,
    chunk_rows: int = 50_000,
    progress: Callable[[int, int], None] | None = None,
) -> ValidationResult:
    """:func:`validate` ``chunk_rows`` rows at a time, calling ``progress(rows done, rows in all)`` after each
    chunk; the result is the one :func:`validate` gives for the whole frame (every rule looks at one row at a
    time, so chunks only add up).

    Raises:
        RuleDefinitionError: as :func:`validate`.
        ValueError: ``chunk_rows`` is not positive.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be positive, not {chunk_rows}")
    n = df.height
    if n <= chunk_rows:
        result = validate(df, settings, raw=raw)
        if progress is not None:
            progress(n, n)
        return result
    parts: list[ValidationResult] = []
    for offset in range(0, n, chunk_rows):
        rows = raw.slice(offset, chunk_rows) if raw is not None else None
        parts.append(validate(df.slice(offset, chunk_rows), settings, raw=rows))
        if progress is not None:
            progress(min(offset + chunk_rows, n), n)
    return _combine(parts, n)


def _combine(parts: list[ValidationResult], n: int) -> ValidationResult:
    """One result from the results of consecutive chunks of ``n`` rows in all."""
    counts: dict[tuple[str, str, str | None, str, str], int] = {}
    for part in parts:
        for r in part.rule_results:
            key = (r.rule, r.expectation_type, r.column, r.severity, r.code)
            counts[key] = counts.get(key, 0) + r.unexpected_count
    spam_fired = any(kind == "spam" and rule != "spam" for rule, kind, *_ in counts)
    results = [
        RuleResult(rule, kind, column, unexpected == 0, n, unexpected, severity, code)  # type: ignore[arg-type]
        for (rule, kind, column, severity, code), unexpected in counts.items()
        if not (spam_fired and kind == "spam" and rule == "spam")  # the "no spam" line of a chunk without any
    ]
    spam = sorted((r for r in results if r.expectation_type == "spam"), key=lambda r: r.rule)
    return ValidationResult(
        failures=pl.concat([p.failures for p in parts]),
        rule_results=[r for r in results if r.expectation_type != "spam"] + spam,
        quarantined=pl.concat([p.quarantined for p in parts]),
        flagged=pl.concat([p.flagged for p in parts]),
    )


def _spam_results(spam: pl.DataFrame, n: int) -> list[RuleResult]:
    """One report line per spam rule that fired (or one passing line when none did)."""
    if not spam.height:
        return [RuleResult("spam", "spam", None, True, n, 0, "error", "spam")]
    counted = (
        spam.group_by("rule", "code", "column", "severity", maintain_order=True)
        .agg(pl.struct("source", "source_key").n_unique().alias("rows"))
        .sort("rule")
    )
    return [
        RuleResult(rule, "spam", column, False, n, rows, severity, code)
        for rule, code, column, severity, rows in counted.iter_rows()
    ]


def connector_failures(raw: pl.DataFrame) -> pl.DataFrame:
    """Failure rows (rule ``connector``, severity ``error``) for raw rows marked with ``_error_code``.

    The message is the reason's description plus the connector's ``_error_detail``, with any phone number or
    email inside it masked.
    """
    if ERROR_CODE_COL not in raw.columns:
        return empty_failures()
    detail = pl.col(ERROR_DETAIL_COL).cast(pl.String) if ERROR_DETAIL_COL in raw.columns else pl.lit(None, pl.String)
    known = {code: r.description.rstrip(".") for code, r in REASONS.items()}

    def _lineage(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.String) if name in raw.columns else pl.lit(None, pl.String)

    rows = raw.filter(pl.col(ERROR_CODE_COL).is_not_null()).select(
        pl.col(ERROR_CODE_COL).cast(pl.String).alias("code"),
        _lineage(SOURCE_COL).alias("source"),
        _lineage(SOURCE_KEY_COL).alias("source_key"),
        detail.alias("__detail"),
    )
    if rows.height == 0:
        return empty_failures()
    return rows.with_columns(mask_expr("__detail").alias("__detail")).select(
        pl.lit("connector").alias("rule"),
        pl.col("code"),
        pl.lit("error").alias("severity"),
        pl.lit(None, pl.String).alias("column"),
        pl.col("source"),
        pl.col("source_key"),
        pl.lit(None, pl.String).alias("value_masked"),
        pl.concat_str(
            pl.col("code").replace_strict(known, default=pl.col("code"), return_dtype=pl.String),
            pl.lit(": ") + pl.col("__detail"),
            ignore_nulls=True,
        ).alias("message"),
    )
