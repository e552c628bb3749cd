from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from synthetic.sample import generate_sample

ROOT = Path(__file__).resolve().parents[2]


def retarget(config: Path, out: Path, *, store_url: str | None = None, name: str = "crmkit.yaml") -> Path:
    """Copy a project file into ``out`` with absolute source paths and the store and reports under ``out``."""
    data: dict[str, Any] = yaml.safe_load(config.read_text("utf-8"))
    for source in data["sources"]:
        path = Path(source["params"]["path"])
        if not path.is_absolute():
            source["params"]["path"] = str((config.parent / path).resolve())
    data["store"] = {"url": store_url or f"sqlite:///{out / 'crm.db'}"}
    data["reports_dir"] = str(out / "reports")
    target = out / name
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return target


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated sample (80 customers) shared by the pipeline tests; tests copy it before changing it."""
    out = tmp_path_factory.mktemp("sample")
    generate_sample(80, out, seed=7)
    return out


@pytest.fixture
def project(sample_dir: Path, tmp_path: Path) -> Path:
    """A project file over the shared sample, with its own store and reports folder."""
    return retarget(sample_dir / "crmkit.yaml", tmp_path)
