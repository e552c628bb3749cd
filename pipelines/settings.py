"""The project file: one YAML document that says what to read, how to map it, which rules apply and where to load.

The whole file is validated before any flow starts. Every problem is collected and raised once, each naming the YAML
path, the bad value and what is allowed (Splink's "collect, then raise once"; dlt's "say where you looked").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors import CONNECTORS, capabilities, params_model
from crm_store import crypto
from crm_store.schema import CANONICAL_FIELDS, GOLDEN_FIELDS
from pipelines.errors import PipelineError
from rules.activity import ActivitySpec
from rules.clean import CleanSettings
from rules.custom_fields import CustomField, check_custom_fields
from rules.mapping import check_mapping
from rules.mask import SECRET_MARK, is_secret_name, redact_secrets, redact_url
from rules.match import MatchSettings
from rules.reasons import REASONS
from rules.validate import ValidationSettings

__all__ = [
    "Defaults",
    "EngineSettings",
    "ProjectSettings",
    "RunSettings",
    "SecuritySettings",
    "SettingsError",
    "SourceSettings",
    "StoreSettings",
    "check_settings",
    "describe_error",
    "expand_url",
    "load_settings",
]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SettingsError(PipelineError, ValueError):
    """The project file is invalid; ``problems`` lists every problem as ``<yaml path>: <what is wrong>``."""

    def __init__(self, file: Path, problems: list[str]) -> None:
        self.file = file
        self.problems = problems
        super().__init__(f"{file}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreSettings(_Strict):
    """Where the canonical store lives: any SQLAlchemy URL; ``${VAR}`` is read from the environment.

    A ``${VAR}`` in the user info (``crm:${CRM_DB_PASSWORD}@db``) or in a query value is the value itself, which
    crmkit percent-encodes so that a password holding ``@ # / : %`` still parses (as ``URL.create`` would);
    elsewhere (host, port, database, or a whole ``${STORE_URL}``) the value is used as written.
    """

    url: str = "sqlite:///crm.db"


class SecuritySettings(_Strict):
    """Encryption of personal data at rest (``crm_store.crypto``): ``key_file`` is a keyring file that
    ``crmkit keys init`` writes (relative to the project file). ``CRMKIT_KEY_FILE`` or ``CRMKIT_KEY`` in the
    environment win over it. With no key anywhere the store keeps plain text."""

    key_file: Path | None = None


class Defaults(_Strict):
    """Defaults the normalisers use when a value does not say."""

    region: str = Field("CN", pattern=r"^[A-Z]{2}$", description="default phone region (ISO 3166 alpha-2)")
    date_order: Literal["ymd", "dmy", "mdy"] = "ymd"
    timezone: str = "Asia/Shanghai"


class RunSettings(_Strict):
    """How a run judges its own outcome and shares the store with other runs."""

    #: A run that quarantined more than this share of the rows it read ends ``partial`` (exit code 3).
    max_quarantine_share: float = Field(0.2, ge=0, le=1)
    #: How long a run waits for another run holding the store's run lock (0: refuse at once, exit code 1).
    lock_wait_seconds: float = Field(0.0, ge=0)
    #: A lock whose heartbeat is older than this counts as abandoned (its process on another host, or hung).
    stale_lock_seconds: float = Field(900.0, gt=0)


class EngineSettings(_Strict):
    """Where matching runs: in this process (``kind: local``, the default) or on a Dask cluster (``kind: dask``):
    the one at ``address`` (``tcp://scheduler:8786``), or a local cluster of ``workers`` processes started for the
    run (``crmkit migrate --workers N``). The answer is the same either way."""

    kind: Literal["local", "dask"] = "local"
    address: str | None = Field(None, pattern=r"^(tcp|tls|inproc|ucx|ws|wss)://\S+$")
    workers: int | None = Field(None, ge=1, le=256)
    #: Where a migrate run reads its sources: a task per source on the ``workers`` (every worker must see the
    #: source's files at the same path and reach its database, with the same environment variables), or the
    #: ``driver``, the process running the flow (a cluster that cannot see the driver's files).
    extract_on: Literal["workers", "driver"] = "workers"


class SourceDefaults(_Strict):
    """A source's own normaliser defaults, where they differ from the project's (a US branch's export)."""

    region: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="phone region of this source")
    date_order: Literal["ymd", "dmy", "mdy"] | None = None
    timezone: str | None = None


class SourceSettings(_Strict):
    """One source: a connector kind, its parameters, the column mapping onto canonical fields, code tables and
    skip rules."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    mapping: dict[str, str] = Field(default_factory=dict)
    #: canonical field -> {code -> value}, e.g. ``status: {1: active, 2: inactive, 9: deleted}``
    codes: dict[str, dict[str, str]] = Field(default_factory=dict)
    #: reason code -> {canonical field -> values}: rows to skip, e.g. ``deleted: {status: [deleted]}``
    skip: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    #: A changed set of source columns (new, missing, renamed) fails the run instead of only being reported.
    strict: bool = False
    #: Read only what is new since the last run: rows past the saved ``cursor_column`` value (sql), or nothing
    #: when the file is unchanged (files). ``crmkit migrate --full-refresh`` starts over.
    incremental: bool = False
    #: A child source (follow-ups, orders): its rows become activities of the customers of its parent source.
    activity: ActivitySpec | None = None
    #: Survivorship: the date this source's rows are current to when they carry no updated_at/created_at (a
    #: workbook kept up to date, a legacy system's freeze date), and its rank when recency ties (higher wins).
    as_of: dt.date | None = None
    priority: int = 0
    #: This source's own ``region``, ``date_order`` or ``timezone`` (unset ones come from the project's ``defaults``).
    defaults: SourceDefaults = Field(default_factory=SourceDefaults)

    def connector_params(self) -> BaseModel:
        """The validated parameter model of this source's connector."""
        return params_model(self.kind).model_validate(self.params)


class ProjectSettings(_Strict):
    """A whole project file."""

    project: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    store: StoreSettings = Field(default_factory=StoreSettings)
    reports_dir: Path = Path("reports")
    run: RunSettings = Field(default_factory=RunSettings)
    #: Where matching runs (``engine: {kind: dask, address: tcp://scheduler:8786}``; default: this process).
    engine: EngineSettings = Field(default_factory=EngineSettings)
    defaults: Defaults = Field(default_factory=Defaults)
    sources: list[SourceSettings] = Field(min_length=1)
    rules: ValidationSettings = Field(default_factory=ValidationSettings)
    match: MatchSettings = Field(default_factory=MatchSettings)
    #: Survivorship per golden field: the criteria that rank its candidate values, first one first (default
    #: ``[quality, recency, priority]``), e.g. ``email: [priority, recency]`` to trust the highest-priority source.
    survivorship: dict[str, list[Literal["quality", "recency", "priority"]]] = Field(default_factory=dict)
    #: The clean flow's checks (``crmkit clean``, ``crmkit schedule``): stale records, required fields per segment.
    clean: CleanSettings = Field(default_factory=CleanSettings)
    #: Encryption at rest: where the key is (``security: {key_file: keys/crm.keys}``).
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    #: The project's own typed fields (行业, 员工数 …), read from unmapped source columns into ``attributes``
    #: (``rules.custom_fields``).
    custom_fields: list[CustomField] = Field(default_factory=list)

    #: Folder of the YAML file; relative paths resolve against it. Set by ``load_settings``.
    base_dir: Path = Field(default=Path("."), exclude=True)
    #: sha256 of the file's bytes: the report's config hash.
    config_hash: str = Field(default="", exclude=True)

    @field_validator("survivorship")
    @classmethod
    def _golden_fields_only(
        cls, value: dict[str, list[Literal["quality", "recency", "priority"]]]
    ) -> dict[str, list[Literal["quality", "recency", "priority"]]]:
        for field, criteria in value.items():
            if field not in GOLDEN_FIELDS:
                raise ValueError(f"{field!r} is not a golden field; golden fields: {', '.join(GOLDEN_FIELDS)}")
            if not criteria or len(set(criteria)) != len(criteria):
                raise ValueError(f"{field}: name each of quality, recency, priority at most once, at least one")
        return value

    def defaults_of(self, source: str) -> Defaults:
        """The normaliser defaults of one source: its own settings over the project's."""
        own = self.source(source).defaults.model_dump(exclude_none=True)
        return self.defaults.model_copy(update=own)

    def source(self, name: str) -> SourceSettings:
        """The source called ``name``."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(f"no source {name!r}; sources: {', '.join(s.name for s in self.sources)}")

    @property
    def store_url(self) -> str:
        """The store URL with ``${VAR}`` expanded and a relative SQLite path resolved against the YAML folder."""
        return _resolve_url(self.store.url, self.base_dir)

    @property
    def key_file(self) -> Path | None:
        """The project's keyring file (``security.key_file`` resolved against the YAML folder), if set."""
        key_file = self.security.key_file
        return None if key_file is None else (self.base_dir / key_file.expanduser()).resolve()

    def keyring(self) -> crypto.Keyring | None:
        """The keyring that encrypts the store (``CRMKIT_KEY_FILE``, ``CRMKIT_KEY``, then ``security.key_file``),
        or ``None`` (plain text).

        Raises:
            crm_store.crypto.CryptoError: the key file is missing, readable by others or not a keyring.
        """
        return crypto.resolve_keyring(self.key_file)

    @property
    def reports_path(self) -> Path:
        """Absolute folder of the quality reports."""
        return (self.base_dir / self.reports_dir).resolve()


def read_yaml(text: str) -> Any:
    """``yaml.safe_load`` by libyaml's parser where PyYAML has it (ten times faster than the Python one: a project
    file of many sources took 25 ms), the same documents and errors."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_settings(path: str | Path) -> ProjectSettings:
    """Read and validate a project file.

    Args:
        path: the YAML project file.

    Returns:
        The validated settings, with relative paths resolved against the file's folder.

    Raises:
        SettingsError: listing every problem found, each with its YAML path.
    """
    file = Path(path)
    try:
        raw_bytes = file.read_bytes()
    except OSError as exc:
        raise SettingsError(file, [f"cannot read the project file: {exc.strerror or exc}"]) from None
    try:
        data = read_yaml(raw_bytes.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SettingsError(file, [f"not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise SettingsError(file, ["the top level must be a mapping (project, store, sources, ...)"])

    base_dir = file.resolve().parent
    problems: list[str] = []
    try:
        settings = ProjectSettings.model_validate(data)
    except ValidationError as exc:
        problems.extend(_describe(error) for error in exc.errors())
        raise SettingsError(file, problems) from None

    settings.base_dir = base_dir
    settings.config_hash = hashlib.sha256(raw_bytes).hexdigest()
    problems.extend(check_settings(settings))
    if problems:
        raise SettingsError(file, problems)
    crypto.register_store(settings.store_url, settings.keyring)  # engines opened on the store use its keyring
    return settings


def check_settings(settings: ProjectSettings) -> list[str]:
    """The problems of validated settings that their models alone do not see, each ``<yaml path>: <what is
    wrong>``: unknown connector kinds, bad connector params, missing files, mapping targets, code and skip
    fields, activity parents, the store URL. Relative source paths are first resolved against ``base_dir``.
    """
    problems = _check_sources(settings)
    problems.extend(_check_custom_fields(settings))
    try:
        sa.make_url(_resolve_url(settings.store.url, settings.base_dir))
    except KeyError as exc:
        problems.append(f"store.url: environment variable {exc.args[0]} is not set")
    except (sa.exc.ArgumentError, ValueError):  # their messages quote the URL: never repeat them
        problems.append(f"store.url: not a valid SQLAlchemy URL: {redact_url(settings.store.url)}")
    return problems


def _check_sources(settings: ProjectSettings) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for i, source in enumerate(settings.sources):
        where = f"sources[{i}]"
        if source.name in seen:
            problems.append(f"{where}.name: {source.name!r} is used twice; source names must be unique")
        seen.add(source.name)
        if source.kind not in CONNECTORS:
            problems.append(
                f"{where}.kind: {source.kind!r} is not a connector; allowed: {', '.join(sorted(CONNECTORS))}"
            )
            continue
        source.params = _resolve_paths(source.params, settings.base_dir)
        try:
            source.connector_params()
        except ValidationError as exc:
            problems.extend(_describe(error, prefix=f"{where}.params") for error in exc.errors())
        else:
            path = source.params.get("path")
            if path is not None and not Path(path).exists():
                problems.append(f"{where}.params.path: file not found: {path}")
            url = source.params.get("url")
            if isinstance(url, str) and url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                db = Path(url[len("sqlite:///") :].split("?", 1)[0])
                if not db.exists():  # SQLite would create an empty database and the source would read nothing
                    problems.append(f"{where}.params.url: SQLite database not found: {db}")
        problems.extend(f"{where}.mapping: {problem}" for problem in check_mapping(source.mapping))
        if source.incremental:
            problems.extend(_incremental_problems(source.kind, source.params, where))
        if source.activity is not None:
            parents = [s.name for s in settings.sources if s.activity is None]
            if source.activity.parent not in parents:
                problems.append(
                    f"{where}.activity.parent: {source.activity.parent!r} is not a customer source; "
                    f"allowed: {', '.join(parents) or '(none)'}"
                )
            if source.mapping:
                problems.append(f"{where}.mapping: an activity source has no mapping (use activity: ...)")
        for field in source.codes:
            if field not in CANONICAL_FIELDS:
                problems.append(f"{where}.codes.{field}: not a canonical field; allowed: {', '.join(CANONICAL_FIELDS)}")
        skip_codes = sorted(code for code, reason in REASONS.items() if reason.outcome == "skipped")
        for code, conditions in source.skip.items():
            if code not in skip_codes:
                problems.append(f"{where}.skip.{code}: not a skip reason code; allowed: {', '.join(skip_codes)}")
            problems.extend(
                f"{where}.skip.{code}.{field}: not a canonical field"
                for field in conditions
                if field not in CANONICAL_FIELDS
            )
    return problems


def _incremental_problems(kind: str, params: Mapping[str, Any], where: str) -> list[str]:
    """Why a ``kind`` source with ``params`` cannot read incrementally, as its connector declared (none: it can)."""
    can = capabilities(kind)
    if can.incremental is None:
        able = sorted(k for k in CONNECTORS if capabilities(k).incremental is not None)
        return [f"{where}.incremental: not supported for {kind} sources; allowed for {', '.join(able)}"]
    if can.cursor_param and not params.get(can.cursor_param):
        return [f"{where}.incremental: an incremental {kind} source needs params.{can.cursor_param}"]
    return []


def _check_custom_fields(settings: ProjectSettings) -> list[str]:
    """A name or column used twice, and a custom field's column that a customer source maps onto a canonical
    field (its value would never reach ``attributes``)."""
    problems = check_custom_fields(settings.custom_fields)
    for i, field in enumerate(settings.custom_fields):
        for k, source in enumerate(settings.sources):
            taken = [c for c in field.sources if source.activity is None and c in source.mapping]
            problems.extend(
                f"custom_fields[{i}].columns: sources[{k}].mapping maps {column!r} to {source.mapping[column]}, "
                f"so it never reaches {field.name}; leave it unmapped or read the field from another column"
                for column in taken
            )
    return problems


def _resolve_paths(params: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """A source's relative ``path`` and relative SQLite ``url`` resolved against the project file's folder."""
    resolved = dict(params)
    path = resolved.get("path")
    if isinstance(path, str) and path and not Path(path).is_absolute():
        resolved["path"] = str((base_dir / path).resolve())
    url = resolved.get("url")
    prefix = "sqlite:///"
    if isinstance(url, str) and url.startswith(prefix) and url != "sqlite:///:memory:":
        rest = url[len(prefix) :]
        if not rest.startswith("/"):
            resolved["url"] = prefix + str((base_dir / rest).resolve())
    return resolved


def _resolve_url(url: str, base_dir: Path) -> str:
    url = expand_url(url)
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != "sqlite:///:memory:":
        rest = url[len(prefix) :]
        if not rest.startswith("/"):
            url = prefix + str((base_dir / rest).resolve())
    return url


def expand_url(template: str, environ: Mapping[str, str] | None = None) -> str:
    """A URL with each ``${VAR}`` replaced by the environment variable's value, encoded for where it lands.

    In the user info (``user:${PASSWORD}@host``) and in query values the value is percent-encoded, so it is read
    back exactly (``p@ss#w/rd:%`` stays one password and the host stays the host), the way SQLAlchemy's
    ``URL.create`` and dlt's credentials build a URL from parts. Elsewhere (scheme, host, port, database path) and
    in text that is not ``scheme://…`` (a whole ``${STORE_URL}``) the value is inserted as written.

    Raises:
        KeyError: a variable is not set (its name is the error's argument).
    """
    env = os.environ if environ is None else environ
    encoded = _encoded_spans(template)

    def value(match: re.Match[str]) -> str:
        found = env[match.group(1)]
        if any(start <= match.start() < end for start, end in encoded):
            return quote(found, safe="")
        return found

    return _ENV_REF.sub(value, template)


def _encoded_spans(template: str) -> list[tuple[int, int]]:
    """Where in a URL template a value must be percent-encoded: the user info and the query string."""
    scheme = re.match(r"[A-Za-z][A-Za-z0-9+.\-]*://", template)
    if scheme is None:
        return []
    start = scheme.end()
    ends = [i for i in (template.find("/", start), template.find("?", start)) if i >= 0]
    authority_end = min(ends, default=len(template))
    spans = []
    at = template.rfind("@", start, authority_end)
    if at >= 0:
        spans.append((start, at))
    query = template.find("?", start)
    if query >= 0:
        spans.append((query + 1, len(template)))
    return spans


#: Settings whose values are URLs or secrets: a problem with one shows it redacted, or not at all.
_URL_FIELDS = ("url", "uri", "dsn")


def _shown_input(loc: tuple[Any, ...], got: object) -> str:
    """The bad value as a problem shows it: never a credential."""
    name = next((str(part) for part in reversed(loc) if isinstance(part, str)), "")
    if is_secret_name(name):
        return f" (got {SECRET_MARK})"
    if name.lower().endswith(_URL_FIELDS):
        # not a URL at all: it might be a password pasted in the wrong place
        return f" (got {redact_url(got)!r})" if isinstance(got, str) and "://" in got else ""
    return f" (got {redact_secrets(repr(got))})"


def _describe(error: Any, prefix: str = "") -> str:
    where, what = describe_error(error, prefix)
    return f"{where}: {what}"


def describe_error(error: Any, prefix: str = "") -> tuple[str, str]:
    """One pydantic error as (YAML path, what is wrong): the bad value is shown unless it may be a credential."""
    loc = prefix
    for part in error["loc"]:
        if isinstance(part, int):
            loc += f"[{part}]"
        else:
            loc += f".{part}" if loc else str(part)
    got = error.get("input")
    shown = "" if error["type"] == "missing" or isinstance(got, dict | list) else _shown_input(error["loc"], got)
    return loc or "<top>", f"{redact_secrets(error['msg'])}{shown}"
