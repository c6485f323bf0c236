"""The wheel's package list covers every package of the source tree (it is listed by hand in pyproject.toml
so that probes/ can be mapped into the wheel), and an installed copy finds its suites without probes/."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(p.relative_to(REPO).parts) for p in [REPO / "avsprobe", *(REPO / "avsprobe").rglob("*")]
               if p.is_dir() and p.name != "__pycache__" and any(p.glob("*.py"))}
    assert on_disk | {"avsprobe._probes"} == listed
    assert config["package-dir"] == {"avsprobe._probes": "probes"}


def test_an_installed_copy_reads_the_packaged_suites(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import shutil

    import avsprobe.resources as resources

    package = tmp_path / "site" / "avsprobe"
    package.mkdir(parents=True)
    shutil.copytree(REPO / "probes", package / "_probes")
    monkeypatch.setattr(resources, "__file__", str(package / "resources.py"))
    assert resources.probes_dir() == package / "_probes"
    assert resources.world_spec_path().is_file()
