"""Fixtures shared across the test packages."""

from __future__ import annotations

from pathlib import Path

import pytest


def built_world(factory: pytest.TempPathFactory, name: str, clips: int) -> Path:
    """A small bias-lab world of ``clips`` clips in its own temporary folder (seeded: the same every time)."""
    from avsprobe.data.biaslab.world import build_world

    root = factory.mktemp(name) / "w"
    build_world(root, clips=clips, workers=2)
    return root
