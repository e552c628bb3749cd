"""The pre-flight check of a project file: every problem at once, before Prefect or Great Expectations start.

`load_settings` stops at the first section pydantic refuses, and a run finds the problems that need the data
(a mapped column the file does not have, a codec or database driver that does not exist, a rule naming a field the
rows will not have) one at a time, deep inside the flow. `check_project` collects all of them into one list of
`Problem` (source, YAML path, what is wrong, "did you mean …?"), reading only the top of each source: the header
row of a CSV file, the title and header rows of each sheet, the first records of a JSON file, a table's reflected
columns or a query run with ``WHERE 1 = 0`` on a read-only connection. ``crmkit check``, ``crmkit migrate`` (and
``--dry-run``) and ``crmkit demo`` run it first and exit with code 2 listing every problem; `check_dedupe` does the
same for ``crmkit dedupe``.

What counts as a problem of the file, not of the data: a run would fail on it (an unknown codec, driver or rule
column), or would quietly do the wrong thing (a mapped column absent from every header, so its field stays
empty; a ``required`` field no source provides, so every row is quarantined). A source that cannot be read at
the moment (a database that does not answer, a corrupt workbook) is listed apart in `Preflight.unreadable`: a run
fails that source alone and loads the others, so ``crmkit migrate`` goes ahead while ``crmkit check`` reports it.

A mapping may list several columns for one field, for exports whose headers vary (one sheet per salesperson): a
listed column that no sheet has is a problem only when its field gets no column at all from that source, or when
a header differs from it only in case, spaces or full-width letters.
"""

from __future__ import annotations

import ast
import copy
import difflib
import encodings.aliases
import logging
import re
import types
import unicodedata
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ValidationError
from rapidfuzz.distance import Levenshtein

from connectors import CONNECTORS, Headers, SourceError, SqlParams, decode_text, params_model, read_headers
from crm_store.schema import CANONICAL_FIELDS, GOLDEN_FIELDS, LINEAGE_COLS
from pipelines.settings import ProjectSettings, SourceSettings, check_settings, describe_error, read_yaml
from rules.mask import redact_url
from rules.reasons import REASONS

__all__ = ["Preflight", "Problem", "check_dedupe", "check_project", "did_you_mean"]

log = logging.getLogger(__name__)

#: Backends the canonical store can live in (``crm_store`` has upserts and locks for these).
STORE_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb")
#: Kinds of data file `crmkit dedupe` reads.
_DEDUPE_INPUTS = (".csv", ".txt", ".tsv", ".parquet")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a project file.

    Attributes:
        source: The name of the source it concerns; ``""`` for the project as a whole.
        where: Where to fix it: a YAML path (``sources[1].mapping.KHMCC``), or the file (and line) when the file
            itself cannot be read.
        message: What is wrong.
        hint: What was probably meant (``did you mean 'KHMC'?``) or what is allowed; ``""`` when nothing helps.
    """

    source: str
    where: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" + (f" ({self.hint})" if self.hint else "")


@dataclass
class Preflight:
    """What `check_project` found.

    Attributes:
        file: The project file.
        problems: Problems of the file: a run would fail on them or quietly do the wrong thing.
        unreadable: Sources that cannot be read now (the server does not answer, the workbook is corrupt); a run
            would fail each of them alone. Their columns are not checked.
        settings: The validated settings, or ``None`` when the file does not validate.
        headers: Source name → the columns read from its top (only sources that were read).
        unchecked: Names of sources whose columns are known only by fetching records (``http``): not checked.
    """

    file: Path
    problems: list[Problem] = field(default_factory=list)
    unreadable: list[Problem] = field(default_factory=list)
    settings: ProjectSettings | None = None
    headers: dict[str, Headers] = field(default_factory=dict)
    unchecked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the file has no problem (unreadable sources aside)."""
        return not self.problems


def did_you_mean(word: str, candidates: Iterable[str], *, cutoff: float = 0.7) -> str:
    """``did you mean 'X'?`` for the candidate closest to ``word``, or ``""`` when none is close.

    Case, spaces, ``-``/``_`` and full-width letters are ignored first (``khmc`` → ``KHMC``, ``utf8`` →
    ``utf_8``); then swapped letters (``cvs`` → ``csv``); then one letter more, less or different in a word of
    three letters or more, or of two Chinese characters (``客护`` → ``客户``); then the closest by `difflib`
    similarity of at least ``cutoff``.
    """
    found = _closest(word, candidates, cutoff=cutoff)
    return "" if found is None or found == word else f"did you mean {found!r}?"


def _closest(word: str, candidates: Iterable[str], *, cutoff: float = 0.7, fuzzy: bool = True) -> str | None:
    """The candidate `did_you_mean` names (``word`` itself when it is one), or ``None``; without ``fuzzy``, only
    one that differs from ``word`` in case, spaces, ``-``/``_`` or full width at most."""
    folded: dict[str, str] = {}
    for name in candidates:
        folded.setdefault(_fold(name), name)
    key = _fold(word)
    if key in folded:
        return folded[key]
    if not fuzzy:
        return None
    swapped = [name for folded_name, name in folded.items() if sorted(folded_name) == sorted(key)]
    if swapped:
        return swapped[0]
    if len(key) >= 3 or (len(key) == 2 and not key.isascii()):
        one_off = [name for folded_name, name in folded.items() if Levenshtein.distance(key, folded_name) == 1]
        if one_off:
            return one_off[0]
    close = difflib.get_close_matches(key, list(folded), n=1, cutoff=cutoff)
    return folded[close[0]] if close else None


def _fold(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", text).casefold())


def check_project(path: str | Path) -> Preflight:
    """Check a project file and the headers of its sources; every problem at once, nothing run or written.

    Args:
        path: The YAML project file.

    Returns:
        The problems found (none: the file is fine), the sources that could not be read, and the settings when
        the file validates.
    """
    result = Preflight(Path(path))
    data = _read_yaml(result)
    if data is None:
        return result
    settings, index, blocked = _static(data, result)
    if settings is None:
        return result
    _check_defaults(settings, index, result)
    custom = [c for f in settings.custom_fields for c in f.sources]
    for position, source in enumerate(settings.sources):
        if index[position] not in blocked:
            _check_source(index[position], source, result, also=custom if source.activity is None else [])
    _check_rules(settings, result)
    _check_custom_fields(settings, index, blocked, result)
    if not any(p.where.startswith("store.url") for p in result.problems):
        found = _url_problem(settings.store_url, STORE_BACKENDS)  # ${VAR}s are set: check_settings said so
        if found is not None:
            result.problems.append(Problem("", "store.url", *found))
    result.problems.sort(key=_place)
    return result


#: Sections after the sources in the order a project file is usually written.
_LATER = ("rules", "match", "survivorship", "clean", "custom_fields")


def _place(problem: Problem) -> tuple[int, int]:
    """Where a problem sorts: project settings, then each source in file order, then rules and matching."""
    found = re.match(r"sources\[(\d+)\]", problem.where)
    if found is not None:
        return 1, int(found[1])
    return (2 if problem.where.startswith(_LATER) else 0), 0


# ------------------------------------------------------------------------------------------ the file and its model


def _read_yaml(result: Preflight) -> dict[str, Any] | None:
    file = result.file
    where = str(file)
    try:
        text = file.read_bytes().decode("utf-8")
    except OSError as exc:
        result.problems.append(Problem("", where, f"cannot read the project file: {exc.strerror or exc}"))
        return None
    except UnicodeDecodeError as exc:
        result.problems.append(Problem("", where, f"not UTF-8 text (byte {exc.start}): save the file as UTF-8"))
        return None
    try:
        data = read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark is not None else where
        what = " ".join(str(getattr(exc, "problem", None) or exc).split())
        result.problems.append(Problem("", at, f"not valid YAML: {what}"))
        return None
    if not isinstance(data, dict):
        result.problems.append(Problem("", where, "the top level must be a mapping (project, store, sources, ...)"))
        return None
    return data


def _static(data: dict[str, Any], result: Preflight) -> tuple[ProjectSettings | None, list[int], set[int]]:
    """The settings (what validates of them), the YAML index of each of their sources, and the indexes of the
    sources whose kind or params are wrong (not read); every static problem added to ``result``."""
    raw_sources: Any = data.get("sources")  # as written in the YAML: any shape
    names = [s.get("name", "") if isinstance(s, dict) else "" for s in raw_sources or ()]

    def name_of(i: int) -> str:
        return str(names[i]) if 0 <= i < len(names) else ""

    settings: ProjectSettings | None
    try:
        settings = ProjectSettings.model_validate(data)
        index = list(range(len(settings.sources)))
        result.settings = settings
    except ValidationError as exc:
        errors = exc.errors()
        for error in errors:
            loc = tuple(error["loc"])
            where, message = describe_error(error)
            message = message.removeprefix("Value error, ")
            source = name_of(loc[1]) if loc[:1] == ("sources",) and len(loc) > 1 and isinstance(loc[1], int) else ""
            message, hint = _pydantic_hint(ProjectSettings, error, message)
            if error["type"] == "extra_forbidden" and len(loc) == 3 and loc[0] == "sources" and isinstance(loc[1], int):
                hint = _source_key_hint(raw_sources[loc[1]], str(loc[2])) or hint  # a source's key: maybe a param
            result.problems.append(Problem(source, where, message, hint))
        settings, index = _salvage(data, errors)
    if settings is None:
        return None, [], set()
    settings.base_dir = result.file.resolve().parent
    blocked: set[int] = set()
    for text in check_settings(settings):
        where, _, message = text.partition(": ")
        found = re.match(r"sources\[(\d+)\]", where)
        source = ""
        if found is not None:
            position = int(found[1])
            source = settings.sources[position].name
            where = f"sources[{index[position]}]{where[found.end() :]}"
            unusable = (".kind", ".params.path", ".params.url")  # other params are left to their defaults
            if where[found.end() :].startswith(unusable):
                blocked.add(index[position])
            if "Extra inputs are not permitted" in message and re.fullmatch(r"sources\[\d+\]\.params\.\w+", where):
                model = params_model(settings.sources[position].kind)
                unknown = where.rsplit(".", 1)[1]
                hint = did_you_mean(unknown, model.model_fields) or f"allowed: {', '.join(model.model_fields)}"
                result.problems.append(Problem(source, where, f"unknown setting {unknown!r}", hint))
                continue
        if where.endswith(".params.path") and message.startswith("file not found") and found is not None:
            missing = Path(str(settings.sources[int(found[1])].params["path"]))
            nearby = [p.name for p in missing.parent.iterdir()] if missing.parent.is_dir() else []
            result.problems.append(Problem(source, where, message, did_you_mean(missing.name, nearby)))
            continue
        required = re.fullmatch(r"sources\[(\d+)\]\.params\.(\w+)", where) if message == "Field required" else None
        raw = raw_sources[int(required[1])] if required is not None else None
        if required is not None and isinstance(raw, dict) and required[2] in raw:  # written beside params
            hint = f"it is set at sources[{required[1]}].{required[2]}: move it under params"
            result.problems.append(Problem(source, where, message, hint))
            continue
        mapped = _MAPPING_KEY.match(message)
        if mapped is not None and where.endswith(".mapping"):
            where += _key_path(ast.literal_eval(mapped[1]))
            message = mapped[2]
        result.problems.append(Problem(source, where, *_text_hint(where, message)))
    return settings, index, blocked


def _salvage(data: dict[str, Any], errors: list[Any]) -> tuple[ProjectSettings | None, list[int]]:
    """The settings without what pydantic refused (each refused setting left to its default, a source that still
    does not validate left out), so that the rest can be checked against the data; and the YAML index of each
    source kept."""
    data = copy.deepcopy(data)
    raw = data.get("sources")
    if not isinstance(raw, list):
        return None, []
    keep = list(range(len(raw)))
    for _ in range(5):
        dropped: set[int] = set()
        for error in errors:
            loc = tuple(error["loc"])
            if loc[:1] != ("sources",):
                _forget(data, loc)
            elif len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(keep):
                i = keep[loc[1]]
                if len(loc) > 2 and isinstance(raw[i], dict) and _forget(raw[i], loc[2:]):
                    continue
                dropped.add(i)
            else:
                return None, []  # the list itself: nothing to check against
        keep = [i for i in keep if i not in dropped]
        if not keep:
            return None, []
        data.setdefault("project", "preflight")
        try:
            return ProjectSettings.model_validate({**data, "sources": [raw[i] for i in keep]}), keep
        except ValidationError as exc:
            errors = exc.errors()
    return None, []


def _without_refused(model: type[BaseModel], data: dict[str, Any], errors: list[Any]) -> Any:
    """The model validated without the settings it refused (left to their defaults), or ``None``."""
    data = copy.deepcopy(data)
    for _ in range(5):
        if not any([_forget(data, tuple(error["loc"])) for error in errors]):
            return None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors()
    return None


def _forget(node: Any, loc: tuple[Any, ...]) -> bool:
    """Delete the setting at ``loc``, or the nearest mapping key above it (a list is forgotten whole); whether
    something was deleted."""
    parent: dict[Any, Any] | None = None
    key: Any = None
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            break
        parent, key, node = node, part, node[part]
    if parent is None:
        return False
    del parent[key]
    return True


# ---------------------------------------------------------------------------------------------------------- hints

_QUOTED = re.compile(r"'([^']*)'")
#: ``mapping['KHMC']: …``: a problem of one mapping key.
_MAPPING_KEY = re.compile(r"""mapping\[('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]: (.*)""", re.S)
#: The tail of a message that lists what is allowed: dropped when a close match says it better.
_ALLOWED = re.compile(r";?\s*(?:allowed(?: fields)?|golden fields|known codes|known kinds|tables)\s*:\s*(.+)$")


def _pydantic_hint(model: type[BaseModel], error: Any, message: str) -> tuple[str, str]:
    """(message, hint) of a pydantic error: the field meant by an unknown key, the value meant by a wrong one."""
    loc = tuple(error["loc"])
    kind = error["type"]
    got = error.get("input")
    if kind == "extra_forbidden" and loc:
        fields = _fields_at(model, loc[:-1])
        hint = did_you_mean(str(loc[-1]), fields)
        if not hint and fields:
            hint = f"allowed: {', '.join(fields)}"
        return f"unknown setting {str(loc[-1])!r}", hint
    if kind in ("literal_error", "enum") and isinstance(got, str):
        allowed = _QUOTED.findall(str((error.get("ctx") or {}).get("expected", "")))
        return message, did_you_mean(got, allowed)
    return _text_hint(".".join(str(p) for p in loc), message)


def _source_key_hint(source: Any, key: str) -> str:
    """``did you mean …?`` for an unknown key of a source: a setting of the source, or a parameter of its connector
    written beside ``params`` instead of under it (``path:`` → ``did you mean params.path?``); ``""`` when neither
    is close. A name equal but for case or spaces wins over a close one, a source setting over a parameter."""
    kind = source.get("kind") if isinstance(source, dict) else None
    kinds = [kind] if isinstance(kind, str) and kind in CONNECTORS else sorted(CONNECTORS)
    parameters = list(dict.fromkeys(name for k in kinds for name in params_model(k).model_fields))
    for fuzzy in (False, True):
        found = _closest(key, SourceSettings.model_fields, fuzzy=fuzzy)
        if found is not None:
            return f"did you mean {found!r}?"
        found = _closest(key, parameters, fuzzy=fuzzy)
        if found is not None:
            return f"did you mean params.{found}?"
    return ""


def _text_hint(where: str, message: str) -> tuple[str, str]:
    """(message, hint) of a problem given in words: the closest allowed value to the one named."""
    listed = _ALLOWED.search(message)
    vocabulary: list[str] = []
    if listed is not None:
        vocabulary = [v.strip() for v in re.sub(r"\s*\(.*\)\s*$", "", listed[1]).split(",") if v.strip()]
    elif "canonical field" in message:
        vocabulary = list(CANONICAL_FIELDS)
    elif "golden field" in message:
        vocabulary = list(GOLDEN_FIELDS)
    elif "reason code" in message:
        vocabulary = list(REASONS)
    elif "connector" in message:
        vocabulary = sorted(CONNECTORS)
    if not vocabulary:
        return message, ""
    quoted = [q for q in _QUOTED.findall(message) if q not in vocabulary]
    word = quoted[-1] if quoted else re.split(r"[.\[\]]", where.rstrip("]"))[-1].strip("'\"")
    hint = did_you_mean(word, vocabulary)
    if hint and listed is not None:
        message = message[: listed.start()].rstrip(" ;")
    return message, hint


def _fields_at(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at ``loc`` (a pydantic error location) under ``model``."""
    node: Any = model
    for part in loc:
        node = _step(node, part)
        if node is None:
            return []
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _step(tp: Any, part: Any) -> Any:
    tp = _unwrap(tp)
    origin = get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        found = tp.model_fields.get(part) if isinstance(part, str) else None
        return None if found is None else found.annotation
    if origin in (list, tuple, set, frozenset):
        return get_args(tp)[0] if isinstance(part, int) else None
    if origin is dict:
        return get_args(tp)[1]
    if origin in (Union, types.UnionType):
        members = [_unwrap(m) for m in get_args(tp)]
        for member in members:  # a discriminated union puts the tag in the location
            if isinstance(member, type) and issubclass(member, BaseModel):
                tags = [f.annotation for f in member.model_fields.values() if get_origin(f.annotation) is Literal]
                if any(part in get_args(tag) for tag in tags):
                    return member
        for member in members:
            found = _step(member, part)
            if found is not None:
                return found
        return tp if isinstance(part, str) else None  # pydantic names the union member tried: stay here
    return None


# ------------------------------------------------------------------------------------------------ sources' data


def _check_defaults(settings: ProjectSettings, index: list[int], result: Preflight) -> None:
    """Phone regions and time zones the normalisers would refuse halfway through a run."""
    import phonenumbers

    places: list[tuple[str, str, Any]] = [("", "defaults", settings.defaults)]
    places += [(s.name, f"sources[{index[i]}].defaults", s.defaults) for i, s in enumerate(settings.sources)]
    for source, where, defaults in places:
        region = defaults.region
        if region is not None and region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            hint = did_you_mean(region, sorted(phonenumbers.SUPPORTED_REGIONS)) or "an ISO 3166 code: CN, US, GB, ..."
            result.problems.append(Problem(source, f"{where}.region", f"unknown phone region {region!r}", hint))
        zone = defaults.timezone
        if zone is not None:
            try:
                zoneinfo.ZoneInfo(zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                hint = did_you_mean(zone, zoneinfo.available_timezones()) or "an IANA name such as Asia/Shanghai"
                result.problems.append(Problem(source, f"{where}.timezone", f"unknown time zone {zone!r}", hint))


def _check_source(i: int, source: SourceSettings, result: Preflight, *, also: list[str] | None = None) -> None:
    """Codec and database URL first (a source that cannot even be opened is not read), then the real headers
    against the mapping, the key columns and the activity columns (``also``: more columns to look for in a file
    read only in part, the custom fields')."""
    where = f"sources[{i}]"
    params = _usable_params(source)
    if params is None:
        return
    encoding = getattr(params, "encoding", None)
    if isinstance(encoding, str):
        found = _codec_problem(encoding)
        if found is not None:
            result.problems.append(Problem(source.name, f"{where}.params.encoding", *found))
            default = type(params).model_fields["encoding"].default  # read on as if it were not set
            params = params.model_copy(update={"encoding": default})
    if isinstance(params, SqlParams):
        found = _url_problem(params.url, None)
        if found is not None:
            result.problems.append(Problem(source.name, f"{where}.params.url", *found))
            return
    spec = source.activity
    wanted = [*source.mapping, *(getattr(params, "key", None) or ()), *(also or ())]
    if spec is not None:
        wanted += [c for c in (spec.parent_key, spec.occurred_at, spec.summary) if c]
    try:
        headers = read_headers(source.kind, params, source=source.name, expect=wanted)
    except SourceError as exc:
        message, hint = _text_hint(where, exc.problem)
        if _SETTINGS_FAULT.match(exc.problem):  # known without reading anything: the settings are wrong
            result.problems.append(Problem(source.name, f"{where}.params", message, hint))
        else:
            at = exc.path + (f", row {exc.row}" if exc.row is not None else "")
            result.unreadable.append(Problem(source.name, f"{where}.params", f"{at}: {message}", hint))
        return
    if headers is None:
        result.unchecked.append(source.name)
        return
    result.headers[source.name] = headers
    log.debug("%s: columns %s", source.name, headers.columns)
    check = _SourceCheck(source, where, params, headers, result)
    check.sheets()
    check.mapping()
    check.keys()
    check.activity()


def _usable_params(source: SourceSettings) -> BaseModel | None:
    """The source's connector params, the ones the model refuses (reported already) left to their defaults;
    ``None`` when they cannot do without them."""
    given = dict(source.params)
    for _ in range(5):
        try:
            return params_model(source.kind).model_validate(given)
        except ValidationError as exc:
            refused = {e["loc"][0] for e in exc.errors() if e["loc"] and e["loc"][0] in given}
            if not refused:
                return None
            for name in refused:
                del given[name]
    return None


#: Columns a hint lists at most.
_LISTED = 15


@dataclass
class _SourceCheck:
    source: SourceSettings
    where: str
    params: Any
    headers: Headers
    result: Preflight

    def add(self, where: str, message: str, hint: str = "") -> None:
        self.result.problems.append(Problem(self.source.name, where, message, hint))

    @property
    def what(self) -> str:
        """The place the columns were read from, for messages."""
        path = getattr(self.params, "path", None)
        if self.headers.sheets is not None:
            assert path is not None  # sheets are read from a workbook file
            return f"any sheet of {Path(path).name}" if len(self.headers.columns) > 1 else f"{Path(path).name}"
        if path is not None:
            first = "" if self.headers.complete else " (its first records)"
            return f"{Path(path).name}{first}"
        table = getattr(self.params, "table", None)
        return f"table {table!r}" if table else "the query's result"

    @property
    def ordered(self) -> list[str]:
        """Every column read, in order (sheet by sheet), then those found later in the text."""
        first = [c for columns in self.headers.columns.values() for c in columns]
        return list(dict.fromkeys([*first, *sorted(self.headers.found_later)]))

    def columns_hint(self, name: str, columns: Iterable[str]) -> str:
        """The column meant, or the columns there are (the first `_LISTED` of them)."""
        columns = list(dict.fromkeys(columns))
        if not columns:
            return "it has no columns"
        more = f" … ({len(columns) - _LISTED} more)" if len(columns) > _LISTED else ""
        return did_you_mean(name, columns) or f"columns: {', '.join(columns[:_LISTED])}{more}"

    def sheets(self) -> None:
        wanted = getattr(self.params, "sheets", None)
        available = self.headers.sheets
        if available is None or not wanted:
            return
        for k, sheet in enumerate(wanted):
            if sheet not in available:
                hint = did_you_mean(sheet, available) or f"sheets: {', '.join(available)}"
                self.add(
                    f"{self.where}.params.sheets[{k}]",
                    f"no sheet named {sheet!r} in {Path(self.params.path).name}",
                    hint,
                )

    def mapping(self) -> None:
        present = self.headers.names
        fields_present = {f for column, f in self.source.mapping.items() if column in present}
        for column, target in self.source.mapping.items():
            if column in present or not column.strip():
                continue
            # a header written differently (case, spaces, full width) that is not mapped itself
            loose = [c for c in present if _fold(c) == _fold(column) and c not in self.source.mapping]
            if not loose and target in fields_present:
                continue  # one of several columns listed for a field: another one is there
            where = f"{self.where}.mapping{_key_path(column)}"
            message = f"column {column!r} is not in the headers of {self.what}"
            if not loose:
                message += f": {target} would stay empty"
            self.add(
                where, message, f"did you mean {loose[0]!r}?" if loose else self.columns_hint(column, self.ordered)
            )

    def keys(self) -> None:
        key: list[str] = getattr(self.params, "key", None) or []
        if self.headers.key is not None and not self.headers.key:
            self.add(
                f"{self.where}.params.key",
                f"{self.what} has no primary key",
                "set key: the column(s) that identify a row",
            )
        parts = self.headers.columns.items() if self.headers.sheets is not None else [("", self.ordered)]
        for part, columns in parts:
            for k, column in enumerate(key):
                if column not in columns:
                    in_sheet = f" (sheet {part!r})" if part else ""
                    self.add(
                        f"{self.where}.params.key" + (f"[{k}]" if len(key) > 1 else ""),
                        f"key column {column!r} is not in the headers of {self.what}{in_sheet}",
                        self.columns_hint(column, columns),
                    )
        cursor = getattr(self.params, "cursor_column", None)
        if cursor and cursor not in self.headers.names:
            self.add(
                f"{self.where}.params.cursor_column",
                f"column {cursor!r} is not in {self.what}",
                self.columns_hint(cursor, self.ordered),
            )

    def activity(self) -> None:
        spec = self.source.activity
        if spec is None:
            return
        for name in ("parent_key", "occurred_at", "summary"):
            column = getattr(spec, name)
            if column and column not in self.headers.names:
                self.add(
                    f"{self.where}.activity.{name}",
                    f"column {column!r} is not in the headers of {self.what}",
                    self.columns_hint(column, self.ordered),
                )


#: Connector errors that the settings alone cause (a query that is not one reading statement, an unset password
#: variable). Others (no such table, a header row left empty, a server that does not answer) depend on the data
#: or the server at the moment: a run fails that source alone, as ``crmkit check`` warns.
_SETTINGS_FAULT = re.compile(r"the query of source |environment variable ")


def _key_path(column: str) -> str:
    """A mapping key as a YAML path step: ``.KHMC``, or ``['Office Phone']`` when it is not one word."""
    return f".{column}" if re.fullmatch(r"\w+", column) else f"[{column!r}]"


def _codec_problem(name: str) -> tuple[str, str] | None:
    """(message, hint) when ``name`` is no text codec the connectors can decode with, else ``None``."""
    try:
        decode_text(b"crmkit", name)
    except LookupError as exc:
        if str(exc).startswith("unknown encoding"):
            names = {*encodings.aliases.aliases, *encodings.aliases.aliases.values()}
            hint = did_you_mean(name, sorted(names)) or "a Python codec name: utf-8, gb18030, big5, utf-16, cp1252"
            return f"unknown encoding {name!r}", hint
        return f"{name!r} is not a text encoding", "a text encoding such as utf-8 or gb18030"
    except UnicodeError:
        return f"{name!r} cannot decode any text", "a text encoding such as utf-8 or gb18030"
    return None


# --------------------------------------------------------------------------------------------- database URLs


def _url_problem(text: str, supported: tuple[str, ...] | None) -> tuple[str, str] | None:
    """(message, hint) when a SQLAlchemy URL names a database or driver that cannot be used, else ``None``.

    Args:
        text: The URL (``${VAR}`` already expanded; a password in it is never shown).
        supported: The backends allowed here (the store's), or ``None`` for any SQLAlchemy database.
    """
    try:
        url = sa.make_url(text)
    except (sa.exc.ArgumentError, ValueError):
        return f"not a valid SQLAlchemy URL: {redact_url(text)}", "dialect+driver://user@host/database"
    backend, _, driver = url.drivername.partition("+")  # get_driver_name() loads the dialect
    backends = _backends()
    if backend not in backends:
        hint = did_you_mean(backend, backends) or f"databases: {', '.join(backends)}"
        return f"{backend!r} is not a database SQLAlchemy knows", hint
    if supported is not None and backend not in supported:
        return f"the store cannot live in {backend}", f"use one of: {', '.join(supported)}"
    drivers = _drivers(backend)
    try:
        dialect = url.get_dialect()
    except sa.exc.NoSuchModuleError:
        hint = did_you_mean(driver, drivers) or f"drivers of {backend}: {', '.join(drivers)}"
        return f"{backend} has no driver {driver!r}", hint.replace("'", f"'{backend}+", 1) if "mean" in hint else hint
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        installed = [d for d in drivers if _installed(backend, d)]
        hint = f"installed: {', '.join(f'{backend}+{d}://' for d in installed)}" if installed else "install it"
        return f"the {backend}+{dialect.driver} driver is not installed (no module {exc.name!r})", hint
    return None


@cache
def _backends() -> list[str]:
    import sqlalchemy.dialects

    return sorted({*sqlalchemy.dialects.__all__, "mariadb"})


@cache
def _drivers(backend: str) -> list[str]:
    """The synchronous drivers SQLAlchemy has for a backend (installed or not)."""
    import importlib

    package = importlib.import_module(f"sqlalchemy.dialects.{'mysql' if backend == 'mariadb' else backend}")
    found = []
    for name, module in vars(package).items():
        dialect = getattr(module, "dialect", None) if isinstance(module, types.ModuleType) else None
        if dialect is not None and name != "base" and not getattr(dialect, "is_async", False):
            found.append(name)
    return sorted(found)


def _installed(backend: str, driver: str) -> bool:
    try:
        sa.make_url(f"{backend}+{driver}://").get_dialect().import_dbapi()
    except (ImportError, sa.exc.NoSuchModuleError):
        return False
    return True


# -------------------------------------------------------------------------------------------------- custom fields


def _check_custom_fields(settings: ProjectSettings, index: list[int], blocked: set[int], result: Preflight) -> None:
    """A custom field whose columns no customer source has: it would stay empty, or (``required``) quarantine every
    row. Decided only when every customer source's headers were read."""
    customers = [(index[k], s) for k, s in enumerate(settings.sources) if s.activity is None]
    if any(i in blocked or s.name not in result.headers for i, s in customers):
        return  # a source not read (unreadable, http, refused settings) may have the column
    present = {c for _, s in customers for c in result.headers[s.name].names}
    for i, custom in enumerate(settings.custom_fields):
        if present & set(custom.sources):
            continue
        wanted = ", ".join(repr(c) for c in custom.sources)
        what = "every row would be quarantined (missing_required)" if custom.required else "it would stay empty"
        hint = next((h for h in (did_you_mean(c, sorted(present)) for c in custom.sources) if h), "")
        result.problems.append(
            Problem(
                "",
                f"custom_fields[{i}].columns" if custom.columns else f"custom_fields[{i}].name",
                f"no customer source has a column {wanted}: {what}",
                hint or "list the source column(s) under columns:",
            )
        )


# ---------------------------------------------------------------------------------------------------------- rules


def _check_rules(settings: ProjectSettings, result: Preflight) -> None:
    """Fields named by the validation rules, spam severities and blocking rules, against the fields the rows
    will have (the mapped ones and what the normalisers derive from them)."""
    from rules.spam import SPAM_CODES

    rules = settings.rules
    columns = _Columns(settings)
    for k, name in enumerate(rules.required):
        columns.check(result, f"rules.required[{k}]", name, needed=True)
    for k, group in enumerate(rules.require_any):
        unknown = [n for n in group if not columns.known(n)]
        for n in unknown:
            columns.check(result, f"rules.require_any[{k}]", n)
        if not unknown and not any(columns.available(n) for n in group):
            result.problems.append(
                Problem(
                    "",
                    f"rules.require_any[{k}]",
                    f"no source provides any of {', '.join(group)}: every row would be quarantined",
                    "map a column to one of them, or remove the group",
                )
            )
    for k, expectation in enumerate(rules.expectations):
        columns.check(result, f"rules.expectations[{k}].column", expectation.column, present=True)
    for name in rules.max_lengths:
        columns.check(result, f"rules.max_lengths.{name}", name, present=True)
    for issue in rules.quarantine_issues:
        target = issue.split(".", 1)[0]
        if "." in issue and target not in CANONICAL_FIELDS:
            result.problems.append(
                Problem(
                    "",
                    f"rules.quarantine_issues.{issue}",
                    f"{target!r} is not a canonical field",
                    did_you_mean(target, CANONICAL_FIELDS),
                )
            )
    for code in rules.spam_severity:
        if code not in SPAM_CODES:
            hint = did_you_mean(code, SPAM_CODES) or f"spam codes: {', '.join(SPAM_CODES)}"
            result.problems.append(Problem("", f"rules.spam_severity.{code}", f"{code!r} is not a spam code", hint))
    if settings.match.blocking != "auto":
        for k, rule in enumerate(settings.match.blocking):
            for column in rule.on:
                if column not in columns.prepared():
                    hint = did_you_mean(column, columns.prepared())
                    result.problems.append(
                        Problem("", f"match.blocking[{k}]", f"{column!r} is not a column of the matched records", hint)
                    )


class _Columns:
    """The columns validated rows can have: every canonical field, and what the normalisers add to the mapped
    ones (a name's pinyin, a phone's type, the city read from an address …), found by normalising one empty row."""

    def __init__(self, settings: ProjectSettings) -> None:
        self.mapped = {f for s in settings.sources if s.activity is None for f in s.mapping.values()}

    def known(self, name: str) -> bool:
        return name in CANONICAL_FIELDS or name in _normalised(tuple(CANONICAL_FIELDS))

    def available(self, name: str) -> bool:
        return name in self.mapped or name in _normalised(tuple(sorted(self.mapped & set(CANONICAL_FIELDS))))

    def prepared(self) -> list[str]:
        return _prepared()

    def check(self, result: Preflight, where: str, name: str, *, needed: bool = False, present: bool = False) -> None:
        """A problem when ``name`` is no field at all, or (``needed``) no source provides it, or (``present``) it
        is a derived column its rows will lack (the rule cannot be evaluated)."""
        if not self.known(name):
            hint = did_you_mean(name, [*CANONICAL_FIELDS, *_normalised(tuple(CANONICAL_FIELDS))])
            result.problems.append(Problem("", where, f"{name!r} is not a field of the validated rows", hint))
        elif needed and not self.available(name):
            result.problems.append(
                Problem(
                    "", where, f"no source provides {name}: every row would be quarantined", f"map a column to {name}"
                )
            )
        elif present and name not in CANONICAL_FIELDS and not self.available(name):
            result.problems.append(
                Problem("", where, f"{name!r} is derived from a field no source maps: the rule cannot run", "")
            )


@cache
def _normalised(fields: tuple[str, ...]) -> frozenset[str]:
    """The columns `normalise_frame` gives a frame of these canonical fields (one empty row)."""
    import polars as pl

    from rules.normalise import normalise_frame

    frame = pl.DataFrame({f: [None] for f in fields}, schema=dict.fromkeys(fields, pl.String))
    return frozenset(normalise_frame(frame).columns) | set(LINEAGE_COLS)


@cache
def _prepared() -> list[str]:
    """The columns of matched records: every normalised column and the matcher's derived keys."""
    import polars as pl

    from rules.match import prepare_records
    from rules.normalise import normalise_frame

    fields = tuple(CANONICAL_FIELDS)
    frame = pl.DataFrame({f: [None] for f in fields}, schema=dict.fromkeys(fields, pl.String))
    normalised = normalise_frame(frame).with_row_index("_rid").with_columns(pl.col("_rid").cast(pl.Int64))
    return sorted({*prepare_records(normalised).columns, *LINEAGE_COLS})


# --------------------------------------------------------------------------------------------------------- dedupe


def check_dedupe(input_path: Path, config: Path, out: Path | None = None) -> list[Problem]:
    """Every problem of a ``crmkit dedupe`` call at once: its YAML file, the input table's real headers against
    the columns it names (did you mean …?), and the output file's kind.

    Args:
        input_path: The table of people (.csv or .parquet).
        config: The dedupe YAML file (``columns``, ``id_column``, ``match`` …).
        out: The file the clusters go to.
    """
    from rules.match import DedupeConfig

    problems: list[Problem] = []
    settings: Any = None
    holder = Preflight(config)
    data = _read_yaml(holder)
    problems += holder.problems
    if data is not None:
        try:
            settings = DedupeConfig.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                where, message = describe_error(error)
                message = message.removeprefix("Value error, ")
                problems.append(Problem("", where, *_pydantic_hint(DedupeConfig, error, message)))
            settings = _without_refused(DedupeConfig, data, exc.errors())
    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        problems.append(Problem("", f"--out {out.name}", "expected a .csv or .parquet file", ""))
    columns = _table_columns(input_path, problems)
    if settings is not None and columns is not None:
        for name in [*settings.columns, *([settings.id_column] if settings.id_column else [])]:
            if name not in columns:
                where = "id_column" if name == settings.id_column else f"columns{_key_path(name)}"
                hint = did_you_mean(name, columns) or f"columns: {', '.join(columns)}"
                problems.append(Problem("", where, f"column {name!r} is not in the headers of {input_path.name}", hint))
    return problems


def _table_columns(path: Path, problems: list[Problem]) -> list[str] | None:
    """The columns of a dedupe input (CSV header, Parquet schema), or ``None`` with the problem added."""
    suffix = path.suffix.lower()
    if suffix not in _DEDUPE_INPUTS:
        problems.append(Problem("", str(path), "expected a .csv or .parquet file", ""))
        return None
    if not path.is_file():
        problems.append(Problem("", str(path), "file not found" if not path.exists() else "not a file", ""))
        return None
    if suffix == ".parquet":
        import polars as pl

        try:
            return list(pl.read_parquet_schema(path))
        except (OSError, pl.exceptions.PolarsError) as exc:
            problems.append(Problem("", str(path), f"cannot read the Parquet schema: {exc}", ""))
            return None
    from connectors import CsvParams

    try:
        headers = read_headers("csv", CsvParams(path=path), source=path.stem)
    except SourceError as exc:
        problems.append(Problem("", str(path) + (f", row {exc.row}" if exc.row is not None else ""), exc.problem))
        return None
    assert headers is not None
    return [c for c in headers.columns[""] if not c.startswith("_")]
