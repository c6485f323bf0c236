"""Where the data files shipped with the package live (``probes/``: suites and world specs; ``examples/``: the
adapter examples and model templates).

Their source is the repository's top-level ``probes/`` folder, which a source checkout or an editable
install (``pip install -e .``) reads in place; a wheel carries a copy as the package data folder
``avsprobe/_probes`` (mapped at build time in ``pyproject.toml``), so avsprobe installed as a dependency
finds them too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from avsprobe.errors import ConfigError
from avsprobe.fileio import atomic_write_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["probes_dir", "world_spec_path", "read_toml", "examples_dir", "copy_examples"]


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """Parse a TOML file; ``ConfigError`` naming ``what`` and the file when it is missing or malformed."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {p}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {p} is not valid TOML: {exc}") from None


def _shipped_folder(name: str, marker: str) -> Path:
    """``name/`` beside the package in a checkout (or an editable install), else the wheel's copy
    ``avsprobe/_name``; the one holding ``marker``."""
    package = Path(__file__).resolve().parent
    for path in (package.parent / name, package / f"_{name}"):
        if (path / marker).is_dir():
            return path
    raise ConfigError(f"the {name}/ folder was found neither at {package.parent / name} nor at "
                      f"{package / f'_{name}'}; reinstall avsprobe")


def probes_dir() -> Path:
    """The suites and world specs: ``probes/`` beside the package in a checkout, else the installed copy."""
    return _shipped_folder("probes", "worlds")


def world_spec_path(name: str = "biaslab") -> Path:
    """Path of a world spec ``probes/worlds/{name}.toml``."""
    path = probes_dir() / "worlds" / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"no world spec {path}")
    return path


def examples_dir() -> Path:
    """The adapter examples and model templates: ``examples/`` beside the package in a checkout, else the
    installed copy ``avsprobe/_examples``."""
    return _shipped_folder("examples", "models")


def copy_examples(out: str | Path) -> list[Path]:
    """Copy the examples (``*.py``, ``models/*.py``) into ``out``; return the written paths (relative to ``out``).

    Raises:
        ConfigError: a file of that name is already in ``out`` (nothing is written then).
    """
    source, target = examples_dir(), Path(out)
    files = sorted(p.relative_to(source) for p in source.rglob("*.py") if not p.name.startswith("_"))
    clashes = [str(target / f) for f in files if (target / f).exists()]
    if clashes:
        raise ConfigError(f"{clashes[0]} already exists{f' (and {len(clashes) - 1} more)' if len(clashes) > 1 else ''}; "
                          "copy the examples into another folder")
    for relative in files:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target / relative, (source / relative).read_text(encoding="utf-8"))
    return files
