"""The one-way import rule of ARCHITECTURE.md, checked on the source: pipelines → connectors, rules, crm_store,
synthetic; rules → crm_store.schema only; analytics → crm_store and rules, through their public APIs only;
connectors, crm_store and synthetic import nothing else of the project; nothing imports analytics (only notebooks
and tests use it), and notebooks import public APIs only."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipelines", "connectors", "rules", "crm_store", "synthetic", "analytics")
ALLOWED = {
    "pipelines": {"pipelines", "connectors", "rules", "crm_store", "synthetic"},
    "rules": {"rules", "crm_store.schema"},
    "connectors": {"connectors"},
    "crm_store": {"crm_store"},
    "synthetic": {"synthetic"},
    "analytics": {"analytics", "crm_store", "rules"},
}
#: The modules of crm_store that analytics may import: the package (its readers) and the field vocabulary.
ANALYTICS_STORE_API = {"crm_store", "crm_store.schema"}
#: Heavy imports that must stay out of module level so that `crmkit --help` starts fast.
LAZY = {"great_expectations", "prefect"}
EAGER_OK = {"pipelines/migrate.py", "pipelines/clean.py"}  # the flow modules; the CLI imports them lazily


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
            if root not in PACKAGES:
                continue
            if not any(module == a or module.startswith(a + ".") or a == root for a in ALLOWED[package]):
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
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
