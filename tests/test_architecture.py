"""The one-way import rule of ARCHITECTURE.md, checked on the source: pipelines → connectors, rules, crm_store,
synthetic; rules → crm_store.schema (and crm_store._lazy, the packages' lazy exports) only; analytics → crm_store
and rules, through their public APIs only; connectors, crm_store and synthetic import nothing else of the project;
nothing imports analytics but ``crmkit report`` (``pipelines/cli_report.py``; notebooks and tests use it too), and
notebooks import public APIs only. Inside pipelines, ``stages`` imports none of the modules that use it, and only
the runner (``migrate``) opens database sessions. Every error a package defines belongs to its error family."""

from __future__ import annotations

import ast
import json
from pathlib import Path

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
