"""The analytics rule set: code tables, stages, classifications and churn thresholds, read from YAML.

The defaults ship as ``analytics/defaults.yaml``; a project passes its own file (same keys). Every problem of a
file is reported at once with its YAML path, as the project file's are.
"""

from __future__ import annotations

import unicodedata
import zoneinfo
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "AnalyticsRules",
    "ChurnRules",
    "ClassRule",
    "Classification",
    "Range",
    "RegionRules",
    "RulesError",
    "code_key",
    "load_rules",
]

Stage = Literal["lead", "customer", "lost"]
Scalar = str | int | float | bool


class RulesError(ValueError):
    """An analytics rule file that cannot be used: every problem with its YAML path."""


def code_key(value: str) -> str:
    """How raw codes are compared: NFKC (half-width), trimmed, inner whitespace collapsed, case-folded."""
    return " ".join(unicodedata.normalize("NFKC", value).split()).casefold()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Model):
    """A numeric condition: ``min <= value < max`` (either bound may be left out), or a null test."""

    min: float | None = None
    max: float | None = None
    null: bool | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> Range:
        if self.min is None and self.max is None and self.null is None:
            raise ValueError("a condition needs min, max or null")
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self


class ClassRule(_Model):
    """One rule of a classification: the class, given when every condition holds."""

    class_: str = Field(alias="class")
    when: dict[str, Range | list[Scalar]]

    @field_validator("when")
    @classmethod
    def _not_empty(cls, when: dict[str, Range | list[Scalar]]) -> dict[str, Range | list[Scalar]]:
        if not when:
            raise ValueError("a rule needs at least one condition (use `default` for the rest)")
        return when


class Classification(_Model):
    """Ordered rules (first match wins) and the class of everything else."""

    rules: list[ClassRule]
    default: str | None = None


class ChurnRules(_Model):
    """Thresholds of :func:`analytics.churn_risk`."""

    high_after_months: int = Field(6, ge=1)
    medium_after_months: int = Field(3, ge=1)
    overdue_factor: float = Field(2.0, gt=1.0)
    min_gaps: int = Field(2, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> ChurnRules:
        if self.medium_after_months >= self.high_after_months:
            raise ValueError("medium_after_months must be below high_after_months")
        return self


class RegionRules(_Model):
    """Fallback sources of a customer's region."""

    phone_area: bool = True
    mobile_prefix: bool = False


class AnalyticsRules(_Model):
    """The whole rule set (``analytics/defaults.yaml`` documents every key)."""

    timezone: str = "Asia/Shanghai"
    codes: dict[Literal["segment", "status"], dict[str, list[Scalar]]] = Field(default_factory=dict)
    stages: dict[str, Stage] = Field(default_factory=dict)
    converting_kinds: list[str] = Field(default_factory=lambda: ["order", "contract"])
    amount_keys: list[str] = Field(default_factory=lambda: ["amount"])
    window_months: int = Field(12, ge=1)
    regions: RegionRules = Field(default_factory=RegionRules)
    classifications: dict[str, Classification] = Field(default_factory=dict)
    churn: ChurnRules = Field(default_factory=ChurnRules)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Asia/Shanghai)") from None
        return name

    @field_validator("codes")
    @classmethod
    def _one_meaning(cls, codes: dict[str, dict[str, list[Scalar]]]) -> dict[str, dict[str, list[Scalar]]]:
        problems = []
        for field, table in codes.items():
            seen: dict[str, str] = {}
            for canonical, raws in table.items():
                for raw in raws:
                    key = code_key(str(raw))
                    if key in seen and seen[key] != canonical:
                        problems.append(f"{field}: {raw!r} is listed under both {seen[key]!r} and {canonical!r}")
                    seen[key] = canonical
        if problems:
            raise ValueError("; ".join(problems))
        return codes

    @model_validator(mode="after")
    def _stages_name_statuses(self) -> AnalyticsRules:
        statuses = set(self.codes.get("status", {}))
        unknown = sorted(set(self.stages) - statuses)
        if statuses and unknown:
            raise ValueError(f"stages: {unknown} are not canonical statuses; known: {sorted(statuses)}")
        return self

    def code_table(self, field: Literal["segment", "status"]) -> dict[str, str]:
        """Raw value (as :func:`code_key` gives it) → canonical value, for one field."""
        return {code_key(str(raw)): canonical for canonical, raws in self.codes.get(field, {}).items() for raw in raws}


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_rules(source: str | Path | dict[str, Any] | None = None) -> AnalyticsRules:
    """Read an analytics rule set.

    Args:
        source: a YAML file, an already parsed mapping, or ``None`` for the packaged defaults
            (``analytics/defaults.yaml``).

    Raises:
        RulesError: the file is not a YAML mapping or breaks the schema; the message lists every problem with
            its YAML path.
    """
    where = "analytics/defaults.yaml"
    if source is None:
        data: Any = yaml.safe_load((resources.files(__package__) / "defaults.yaml").read_text("utf-8"))
    elif isinstance(source, dict):
        data, where = source, "rules"
    else:
        where = str(source)
        data = yaml.safe_load(Path(source).read_text("utf-8"))
    if not isinstance(data, dict):
        raise RulesError(f"invalid analytics rules {where}: expected a mapping at the top level")
    try:
        return AnalyticsRules.model_validate(data)
    except ValidationError as exc:
        lines = [f"  • {_where(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise RulesError(f"invalid analytics rules {where}:\n" + "\n".join(lines)) from None
