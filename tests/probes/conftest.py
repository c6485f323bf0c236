from __future__ import annotations

from pathlib import Path

import pytest

from avsprobe.data.audio_bank import biaslab_audio_bank
from avsprobe.data.biaslab.reader import BiasLabWorld
from avsprobe.data.biaslab.world import build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> BiasLabWorld:
    root: Path = tmp_path_factory.mktemp("probe-world") / "w"
    build_world(root, clips=30, workers=2)
    return BiasLabWorld(root)


@pytest.fixture(scope="session")
def samples(world: BiasLabWorld) -> list:
    return [world.read(uid) for uid in world.uids()]


@pytest.fixture(scope="session")
def bank(world: BiasLabWorld):  # noqa: ANN201
    return biaslab_audio_bank(world.root, "train")
