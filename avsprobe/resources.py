"""Where the data files shipped beside the package live (``probes/``: suites and world specs).

They sit in the repository's top-level ``probes/`` folder (DESIGN.md §2), found relative to the package
source, so a source checkout or an editable install (``pip install -e .``, as the README does) sees them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from avsprobe.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["probes_dir", "world_spec_path", "read_toml"]


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """Parse a TOML file; ``ConfigError`` naming ``what`` and the file when it is missing or malformed."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {p}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {p} is not valid TOML: {exc}") from None


def probes_dir() -> Path:
    """The ``probes/`` folder next to the ``avsprobe`` package."""
    path = Path(__file__).resolve().parent.parent / "probes"
    if not path.is_dir():
        raise ConfigError(
            f"the probes/ data folder was not found at {path}; install avsprobe from a source checkout "
            "with 'pip install -e .'"
        )
    return path


def world_spec_path(name: str = "biaslab") -> Path:
    """Path of a world spec ``probes/worlds/{name}.toml``."""
    path = probes_dir() / "worlds" / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"no world spec {path}")
    return path
