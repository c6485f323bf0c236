"""Where the data files shipped beside the package live (``probes/``: suites and world specs).

They sit in the repository's top-level ``probes/`` folder (DESIGN.md §2), found relative to the package
source, so a source checkout or an editable install (``pip install -e .``, as the README does) sees them.
"""

from __future__ import annotations

from pathlib import Path

from avsprobe.errors import ConfigError

__all__ = ["probes_dir", "world_spec_path"]


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
