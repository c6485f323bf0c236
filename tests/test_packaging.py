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
    assert on_disk | {"avsprobe._probes", "avsprobe._examples"} == listed
    assert config["package-dir"] == {"avsprobe._probes": "probes", "avsprobe._examples": "examples"}


def test_an_installed_copy_reads_the_packaged_suites(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import shutil

    import avsprobe.resources as resources

    package = tmp_path / "site" / "avsprobe"
    package.mkdir(parents=True)
    shutil.copytree(REPO / "probes", package / "_probes")
    monkeypatch.setattr(resources, "__file__", str(package / "resources.py"))
    assert resources.probes_dir() == package / "_probes"
    assert resources.world_spec_path().is_file()


def test_an_installed_copy_copies_out_its_examples(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import shutil

    import pytest

    import avsprobe.resources as resources
    from avsprobe.errors import ConfigError

    package = tmp_path / "site" / "avsprobe"
    package.mkdir(parents=True)
    shutil.copytree(REPO / "examples", package / "_examples", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(resources, "__file__", str(package / "resources.py"))
    assert resources.examples_dir() == package / "_examples"
    written = resources.copy_examples(tmp_path / "out")
    expected = sorted(p.relative_to(REPO / "examples") for p in (REPO / "examples").rglob("*.py"))
    assert written == expected and Path("models/gavs.py") in written
    for relative in written:
        assert (tmp_path / "out" / relative).read_bytes() == (REPO / "examples" / relative).read_bytes()
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "score_masks.py").write_text("mine")
    with pytest.raises(ConfigError, match="score_masks.py already exists"):
        resources.copy_examples(tmp_path / "again")
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == ["score_masks.py"]  # nothing written


def test_every_torch_load_refuses_pickled_code() -> None:
    """Checkpoints and feature files are loaded with ``weights_only=True`` everywhere (the package allows torch
    releases where ``torch.load`` ran pickled code by default)."""
    import re

    root = Path(__file__).resolve().parents[1]
    calls = []
    for folder in ("avsprobe", "examples", "scripts", "benchmarks"):
        for path in sorted((root / folder).rglob("*.py")):
            text = path.read_text()
            for match in re.finditer(r"torch\.load\(", text):
                depth, end = 0, match.end() - 1
                for end in range(match.end() - 1, len(text)):  # the call's closing parenthesis
                    depth += {"(": 1, ")": -1}.get(text[end], 0)
                    if depth == 0:
                        break
                call = text[match.start():end + 1]
                if "``" not in text[max(0, match.start() - 2):match.start()]:  # not a docstring mention
                    calls.append((path.relative_to(root), call))
    assert calls
    unsafe = [(str(p), c) for p, c in calls if "weights_only=True" not in c]
    assert not unsafe, unsafe
