"""The one-way import rule of ARCHITECTURE.md, checked on the source: pipelines → connectors, rules, crm_store,
synthetic; rules → crm_store.schema (and crm_store._lazy, the packages' lazy exports) only; analytics → crm_store
and rules, through their public APIs only; connectors, crm_store and synthetic import nothing else of the project;
nothing imports analytics but ``crmkit report`` (``pipelines/cli_report.py``; notebooks and tests use it too), and
notebooks and tests import public APIs only (each package has a curated ``__all__``). Inside pipelines, ``stages``
imports none of the modules that use it, and only the runner (``migrate``) opens database sessions. Every error a
package defines belongs to its error family."""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipelines", "connectors", "rules", "crm_store", "synthetic", "analytics")
ALLOWED = {
    "pipelines": {"pipelines", "connectors", "rules", "crm_store", "synthetic"},
    "rules": {"rules", "crm_store.schema", "crm_store._lazy"},
    "connectors": {"connectors"},
    "crm_store": {"crm_store"},
    "synthetic": {"synthetic"},
    "analytics": {"analytics", "crm_store", "rules"},
}
#: The modules of crm_store that analytics may import: the package (its readers) and the field vocabulary.
ANALYTICS_STORE_API = {"crm_store", "crm_store.schema"}
#: The one module of pipelines that imports analytics: ``crmkit report`` shows the analytics package's numbers.
ANALYTICS_USERS = {"pipelines/cli_report.py"}
#: Heavy imports that must stay out of module level so that `crmkit --help` starts fast.
LAZY = {"great_expectations", "prefect"}
EAGER_OK = {"pipelines/migrate.py", "pipelines/clean.py"}  # the flow modules; the CLI imports them lazily
#: The modules that make or read a run's stages: ``pipelines.stages`` must not import them, directly or through
#: another module, or their types would import each other again.
STAGE_USERS = ("pipelines.ledger", "pipelines.report", "pipelines.migrate", "pipelines.steps", "pipelines.tables")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at module level) for every import in a file."""
    return _imports_of(ast.parse(path.read_text("utf-8")))


def _imports_of(tree: ast.Module) -> list[tuple[str, bool]]:
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
    return found


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_go_one_way(package: str) -> None:
    wrong = []
    for path in _files(package):
        for module, _ in _imports(path):
            root = module.split(".")[0]
            if root not in PACKAGES or (root == "analytics" and str(path.relative_to(ROOT)) in ANALYTICS_USERS):
                continue
            if not any(module == a or module.startswith(a + ".") or a == root for a in ALLOWED[package]):
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "\n".join(wrong)


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_imports(path: Path) -> set[str]:
    """The project modules a file imports, relative imports resolved (``from pipelines import _run_index`` counts
    as ``pipelines._run_index`` too)."""
    tree = ast.parse(path.read_text("utf-8"))
    package = _module_of(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            parent = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*parent, *([node.module] if node.module else [])])
            found |= {module, *(f"{module}.{alias.name}" for alias in node.names)}
    return {module for module in found if module.split(".")[0] in PACKAGES}


def _imported_by(start: str) -> set[str]:
    """Every project module ``start`` imports, directly or through other modules."""
    files = {_module_of(path): path for package in PACKAGES for path in _files(package)}
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        for imported in _project_imports(files[module]) if module in files else ():
            if imported in files and imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def test_the_stages_import_none_of_the_modules_that_use_them() -> None:
    imported = _imported_by("pipelines.stages")
    assert "pipelines.stages" not in imported, "pipelines.stages imports itself through another module"
    wrong = sorted(imported & set(STAGE_USERS))
    assert not wrong, f"pipelines.stages imports {wrong}"


def test_the_steps_open_no_session_the_runner_opens_them() -> None:
    """``pipelines.migrate`` opens every session of a run; the steps take what it read, or its session."""
    wrong = []
    for name in ("steps", "tables", "stages"):
        path = ROOT / "pipelines" / f"{name}.py"
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
                called = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                if called in {"Session", "sessionmaker", "connect", "begin"}:
                    wrong.append(f"pipelines/{name}.py:{node.lineno} calls {called}")
    assert not wrong, "\n".join(wrong)


def _private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split("."))


def test_analytics_uses_the_store_and_the_rules_through_their_public_apis() -> None:
    wrong = []
    for path in _files("analytics"):
        for module, _ in _imports(path):
            root = module.split(".")[0]
            if root == "crm_store" and module not in ANALYTICS_STORE_API:
                wrong.append(f"{path.relative_to(ROOT)} imports {module} (use crm_store's readers)")
            elif root == "rules" and _private(module):
                wrong.append(f"{path.relative_to(ROOT)} imports the private module {module}")
    assert not wrong, "\n".join(wrong)


# ------------------------------------------------------------------------------------------ tests use public APIs
#
# A name is public when a user may rely on it: it is in the ``__all__`` of a public module (a package, or a module
# no part of whose dotted name starts with ``_``), or it is a public submodule of one. A public module without an
# ``__all__`` (a few modules of constants or of one error class: ``crm_store.schema``, ``connectors.lineage``,
# ``pipelines.errors`` …, and ``pipelines.cli``) exports what ``from module import *`` gives: its names that do not
# start with ``_``. Tests reach the packages through public names only: ``import`` and ``from … import``, the
# attributes of an imported project module (``connectors._csv.BATCH_ROWS``), and the targets of
# ``monkeypatch.setattr`` / ``delattr`` (a dotted string, or a module and a name).

#: Internal units that tests check directly because no public function shows them whole: module -> the names
#: tests may use (importing the module itself is allowed too). Keep it short; each entry says why.
INTERNAL_UNITS: dict[str, frozenset[str]] = {
    # Two implementations of one normaliser: the vectorised polars path checked against the per-value reference
    # on thousands of values (through the public normaliser only one of them runs).
    "rules.normalise._name": frozenset({"_SCHEMA", "_fast", "_latin_part", "_latin_table", "_one"}),
    "rules.normalise._id_number": frozenset({"_fast", "_one", "check_character"}),
    # _phone: and phonenumbers' number types (VECTORISED_FROM: tests read every calling code's numbers in polars)
    "rules.normalise._phone": frozenset({"_check", "_one", "cn_number_type", "VECTORISED_FROM"}),
    "rules.normalise._address": frozenset({"_SCHEMA", "_fast", "_one"}),
    # The pinyin syllable list is a constant (Western names never load pypinyin), checked against pypinyin's readings.
    "rules.normalise._pinyin": frozenset({"SYLLABLES", "strip_tones"}),
    # The bundled GB/T 2260 division table, checked whole (its completeness shows in no single address).
    "rules.normalise._divisions": frozenset({"CITY", "COUNTY", "PROVINCE", "divisions", "name_index"}),
    # The SQL connector's read-only query check and its value-to-text rules, per dialect, without a server.
    "connectors._sql": frozenset({"query_refusal", "value_text"}),
    # Batch sizes and cell budgets made small, so that a few rows cross a batch boundary or a bound; retry waits
    # recorded instead of slept.
    "connectors._csv": frozenset({"BATCH_ROWS"}),
    "connectors._xlsx": frozenset({"BATCH_ROWS", "CELL_BUDGET", "MAX_CELLS", "MAX_STRAY_CELLS"}),
    "connectors._http": frozenset({"_sleep"}),
    "rules.mapping": frozenset({"WIDE_COLUMNS"}),  # the column slices of very wide sources
    # pairs scored at once when only the probable ones are kept; pairs kept before a run says how to keep fewer
    "rules.match.engine": frozenset({"MANY_PAIRS", "SCORE_CHUNK"}),
    # EM on hand-made pattern counts: a bound holds whatever the data (no data set shows it without 330k records)
    "rules.match.model": frozenset({"_em"}),
    # the temporary Prefect server's health check against a port another process took (no server to start)
    "pipelines._prefect": frozenset({"_healthy"}),
    # two task streams at once and Dask's process-wide configuration (their interleaving, without a cluster)
    "pipelines.dask_engine": frozenset({"_carrying_data"}),
    # The report's charts, drawn from given data (deterministic bytes, lazily imported matplotlib).
    "pipelines._charts": frozenset(
        {
            "completeness_heatmap",
            "match_histogram",
            "match_weights",
            "quarantine_reasons",
            "reconciliation_funnel",
            "waterfall",
        }
    ),
    # Secrets: private file modes and log redaction, the units every command relies on.
    "pipelines._files": frozenset(
        {
            "copy_private_tree",
            "open_private",
            "private_dir",
            "private_file",
            "write_private_bytes",
            "write_private_text",
        }
    ),
    "pipelines._logging": frozenset(
        {
            "RedactedError",
            "RedactingFilter",
            "_factory_installed",
            "_handlers",
            "install_redaction",
            "redact_exception",
            "redacting",
        }
    ),
    # Where a public module looks up a public function of another (``pipelines.steps.resolve``, the charts of
    # ``pipelines._charts``), replaced there: a run stopped at a chosen step; the fuzz runner draws no charts.
    "pipelines.migrate": frozenset({"resolve"}),
    "pipelines.report": frozenset({"report_charts"}),
}


def _module_file(module: str) -> Path | None:
    """The file of a project module (``rules.match`` -> ``rules/match/__init__.py``), or ``None``."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _assigned(tree: ast.Module, name: str) -> Any:
    """The literal a module assigns to ``name`` at its top level (``__all__``, ``_EXPORTS``), or ``None``."""
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return ast.literal_eval(node.value)
    return None


def _declared_all(tree: ast.Module) -> list[str] | None:
    declared = _assigned(tree, "__all__")
    return None if declared is None else list(declared)


def _top_level_names(tree: ast.Module) -> set[str]:
    """The names a module binds at its top level: what it defines, assigns and imports."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _lazy_exports(tree: ast.Module) -> set[str]:
    """The names of a package's ``_EXPORTS`` (submodule -> names imported on first use), if it has one."""
    return {name for names in (_assigned(tree, "_EXPORTS") or {}).values() for name in names}


@cache
def _exports(module: str) -> frozenset[str]:
    """The public names of a project module: its ``__all__``, else its names not starting with ``_``."""
    path = _module_file(module)
    assert path is not None, module
    tree = ast.parse(path.read_text("utf-8"))
    declared = _declared_all(tree)
    if declared is not None:
        return frozenset(declared)
    return frozenset(name for name in _top_level_names(tree) if not name.startswith("_"))


def _name_problem(module: str, name: str) -> str | None:
    """Why ``module.name`` is not for tests, or ``None`` when it is (``__file__`` and the like always are)."""
    if _private(module) and module not in INTERNAL_UNITS:
        return f"private module {module}"
    if name.startswith("__") and name.endswith("__"):
        return None
    submodule = f"{module}.{name}"
    if _module_file(submodule) is not None and "." not in name:
        return _module_problem(submodule)
    if (name in _exports(module) and not _private(module)) or name in INTERNAL_UNITS.get(module, ()):
        return None
    if _private(module):
        return f"{name} is not among the INTERNAL_UNITS names of {module}"
    return f"{name} is not in the __all__ of {module}"


def _module_problem(module: str) -> str | None:
    return f"private module {module}" if _private(module) and module not in INTERNAL_UNITS else None


def _dotted_problem(dotted: str) -> str | None:
    """Why a dotted name (``connectors._csv.BATCH_ROWS``) is not for tests: its module, then its first name."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        module = ".".join(parts[:end])
        if _module_file(module) is not None:
            return _name_problem(module, parts[end]) if end < len(parts) else _module_problem(module)
    return None


def _attribute_chain(node: ast.Attribute) -> tuple[str, list[str]] | None:
    """(root name, attributes) of ``a.b.c``, or ``None`` when it does not start at a plain name."""
    attrs: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        attrs.insert(0, current.attr)
        current = current.value
    return (current.id, attrs) if isinstance(current, ast.Name) else None


def public_api_violations(path: Path) -> list[str]:
    """Every use of a non-public name of the packages in one test file, as ``file:line: name (why)``."""
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    tree = ast.parse(path.read_text("utf-8"))
    _set_parents(tree)
    found: list[tuple[int, str, str | None]] = []
    modules: dict[str, str] = {}  # local name -> the project module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _module_file(alias.name) is None:
                    continue
                found.append((node.lineno, alias.name, _module_problem(alias.name)))
                if alias.asname:
                    modules[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    modules[root] = root
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _module_file(node.module) is None:
                continue
            for alias in node.names:
                found.append((node.lineno, f"{node.module}.{alias.name}", _name_problem(node.module, alias.name)))
                if _module_file(f"{node.module}.{alias.name}") is not None:
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and not isinstance(getattr(node, "parent", None), ast.Attribute):
            chain = _attribute_chain(node)
            if chain is not None and chain[0] in modules:
                dotted = ".".join([modules[chain[0]], *chain[1]])
                found.append((node.lineno, dotted, _dotted_problem(dotted)))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr not in ("setattr", "delattr") or not node.args:
                continue
            first, name = node.args[0], node.args[1] if len(node.args) > 1 else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and "." in first.value:
                if _module_file(first.value.split(".")[0]) is not None:
                    found.append((node.lineno, first.value, _dotted_problem(first.value)))
            elif isinstance(name, ast.Constant) and isinstance(name.value, str):
                chain = _attribute_chain(first) if isinstance(first, ast.Attribute) else None
                root, attrs = chain if chain is not None else (getattr(first, "id", ""), [])
                if root in modules:  # monkeypatch.setattr(module, "name", …)
                    dotted = ".".join([modules[root], *attrs, name.value])
                    found.append((node.lineno, dotted, _dotted_problem(dotted)))
    return sorted({f"{rel}:{line}: {name} ({why})" for line, name, why in found if why is not None})


def _set_parents(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.parent = node  # type: ignore[attr-defined]


def test_tests_use_public_apis_only() -> None:
    """Tests exercise what users use: every import, module attribute and monkeypatch target of the packages in
    ``tests/`` is public (or an `INTERNAL_UNITS` entry). The list names every use that is not, file and line."""
    wrong = [v for path in sorted((ROOT / "tests").rglob("*.py")) for v in public_api_violations(path)]
    assert not wrong, f"{len(wrong)} uses of non-public names:\n" + "\n".join(wrong)


def test_the_check_of_public_apis_would_see_a_private_name(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "import connectors._encoding\n"
        "import pipelines.migrate as m\n"
        "from rules.normalise._base import clean_text\n"
        "from pipelines.report import _mask\n"
        "from rules import match, normalise_frame\n"
        "def f(monkeypatch):\n"
        "    monkeypatch.setattr('connectors._csv.BATCH_ROWS', 1)\n"
        "    monkeypatch.setattr(m, '_secret', 1)\n"
        "    m.migrate, m._hidden\n",
        "utf-8",
    )
    found = public_api_violations(probe)
    assert [v.split(": ", 1)[1] for v in found] == [
        "connectors._encoding (private module connectors._encoding)",
        "rules.normalise._base.clean_text (private module rules.normalise._base)",
        "pipelines.report._mask (_mask is not in the __all__ of pipelines.report)",
        "pipelines.migrate._secret (_secret is not in the __all__ of pipelines.migrate)",
        "pipelines.migrate._hidden (_hidden is not in the __all__ of pipelines.migrate)",
    ]


#: Packages that hold no importable API: Alembic's scripts, data files.
NOT_API_PACKAGES = {"crm_store.migrations", "crm_store.migrations.versions", "rules.normalise.data"}


def test_every_package_has_a_curated_all() -> None:
    """Each package says what it exports: an ``__all__`` without repeats, each name bound in the package (imported,
    defined, or one of its lazy ``_EXPORTS``)."""
    wrong = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("__init__.py")):
            module = _module_of(path)
            if module in NOT_API_PACKAGES:
                continue
            tree = ast.parse(path.read_text("utf-8"))
            declared = _declared_all(tree)
            if declared is None:
                wrong.append(f"{path.relative_to(ROOT)}: no __all__")
                continue
            bound = _top_level_names(tree) | _lazy_exports(tree)
            where = path.relative_to(ROOT)
            wrong += [f"{where}: {name} twice in __all__" for name in sorted(set(declared)) if declared.count(name) > 1]
            wrong += [f"{where}: {name} in __all__ but not bound" for name in declared if name not in bound]
    assert not wrong, "\n".join(wrong)


def _notebook_imports(path: Path) -> list[str]:
    """Modules imported by the code cells of a notebook (IPython magics and shell lines left out)."""
    found = []
    for cell in json.loads(path.read_text("utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        found += [module for module, _ in _imports_of(ast.parse(code))]
    return found


def test_notebooks_import_only_public_apis() -> None:
    wrong = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for module in _notebook_imports(path):
            if module.split(".")[0] in PACKAGES and (_private(module) or module.startswith("analytics.")):
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", PACKAGES)
def test_heavy_libraries_are_imported_lazily(package: str) -> None:
    wrong = []
    for path in _files(package):
        rel = str(path.relative_to(ROOT))
        for module, at_top in _imports(path):
            if at_top and module.split(".")[0] in LAZY and rel not in EAGER_OK:
                wrong.append(f"{rel} imports {module} at module level")
    assert not wrong, "\n".join(wrong)


def test_the_readme_documents_every_reason_code() -> None:
    from rules.reasons import REASONS

    readme = (ROOT / "README.md").read_text("utf-8")
    missing = [code for code in REASONS if f"| `{code}` |" not in readme]
    assert not missing, f"README reason-code table lacks: {missing}"


def test_no_lazy_export_shadows_a_submodule() -> None:
    """A package's lazily imported public name must not be one of its modules' names: once the module is imported,
    the package attribute would be the module, not the exported function (``rules.match.cluster`` was both)."""
    import importlib
    import pkgutil

    for package in ("rules", "rules.match", "crm_store"):
        module = importlib.import_module(package)
        submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
        exported = {name for names in module._EXPORTS.values() for name in names}
        assert not exported & submodules, (package, exported & submodules)
        assert set(module.__all__) == exported, package
        for name in module.__all__:  # every name resolves, to the object its module defines
            value = getattr(module, name)
            assert not isinstance(value, type(module)), (package, name)


#: The error family of each package: everything it raises on purpose derives from it (the CLI catches these).
FAMILIES = {
    "crm_store": "StoreError",
    "rules": "RuleError",
    "pipelines": "PipelineError",
    "connectors": "ConnectorError",
}
#: Exceptions that are not errors of their package: control flow inside one module, or a wrapper of another error.
NOT_FAMILY = {"_Unparseable", "RedactedError"}


def test_every_error_a_package_defines_belongs_to_its_family() -> None:
    import importlib
    import inspect

    wrong = []
    for package, family in FAMILIES.items():
        base = next(
            getattr(importlib.import_module(f"{package}.{m}"), family)
            for m in ("errors", "_errors")
            if (ROOT / package / f"{m}.py").exists()
        )
        assert getattr(base, "retryable", None) is False, family  # the marker, off by default
        for path in _files(package):
            tree = ast.parse(path.read_text("utf-8"))
            names = [
                n.name
                for n in tree.body
                if isinstance(n, ast.ClassDef) and (n.name.endswith("Error") or n.name in NOT_FAMILY)
            ]
            if not names:
                continue
            module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
            for name in names:
                cls = getattr(module, name)
                exception = inspect.isclass(cls) and issubclass(cls, BaseException) and name not in NOT_FAMILY
                if exception and not issubclass(cls, base):
                    wrong.append(f"{path.relative_to(ROOT)}: {name} is not a {family}")
    assert not wrong, "\n".join(wrong)
