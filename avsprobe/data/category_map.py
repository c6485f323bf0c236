"""The S4 category -> AVSS class table (which class an S4 clip's category names), shipped as
``s4_categories.toml`` and overridable by the user's own file.

Its own module so the readers (S4's ``visible_classes``) and the audio bank (S4 clips grouped by class) both
read it without importing each other.
"""

from __future__ import annotations

from pathlib import Path

from avsprobe.data.palette import AVSS_CLASSES
from avsprobe.errors import ConfigError
from avsprobe.resources import read_toml

__all__ = ["DEFAULT_MAP", "load_category_map"]

DEFAULT_MAP = Path(__file__).with_name("s4_categories.toml")


def load_category_map(path: str | Path | None = None) -> dict[str, str]:
    """S4 category -> AVSS class name, from ``path`` (default: the table shipped with avsprobe)."""
    p = Path(path) if path else DEFAULT_MAP
    raw = read_toml(p, "category map")
    if not isinstance(raw.get("s4_to_avss"), dict):
        raise ConfigError(f"category map {p} must have a [s4_to_avss] table")
    table = raw["s4_to_avss"]

    unknown = sorted(v for v in table.values() if v not in AVSS_CLASSES)
    if unknown:
        raise ConfigError(f"category map {p} names classes that are not AVSS classes: {', '.join(unknown)}")
    return {str(k): str(v) for k, v in table.items()}
