"""Export of probe sets in the AVSBench layouts, read back through the AVSBench readers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from avsprobe.data.avsbench import AVSSReader, MS3Reader, S4Reader, check_tree
from avsprobe.data.avsbench.pkl import load_log_mel
from avsprobe.probes.export import export_probe_set, exported_name
from avsprobe.probes.suite import ProbeSuite, load_suite


def _probed(world, suite: ProbeSuite, sample_id: str, condition_id: str):  # noqa: ANN001, ANN202
    probe = next(p for p in suite.build(bank=None) if condition_id.startswith(p.name + "/"))
    condition = probe.condition(condition_id)
    return probe.apply(world.read(sample_id), condition, suite.rng(sample_id, condition))


def test_s4_export_reads_back_through_the_s4_reader(world, tmp_path: Path) -> None:  # noqa: ANN001
    suite = ProbeSuite.single("intensity")
    reader = AVSSReader(world.root, "test")
    info = export_probe_set(tmp_path / "s4", reader, suite.build(), suite, "s4", limit=3)
    with open(tmp_path / "s4" / "manifest.csv") as f:
        rows = list(csv.DictReader(f))
    assert info["exported"] == len(rows) > 0
    assert len(rows) + len(info["not_applicable"]) == 3 * 7
    s4 = S4Reader(tmp_path / "s4" / "Single-source", "test")
    assert s4.sample_ids() == [r["name"] for r in rows]
    for row in rows[:8]:
        assert row["name"] == exported_name(row["sample_id"], row["condition_id"])
        back = s4.read(row["name"])
        probed = _probed(world, suite, row["sample_id"], row["condition_id"])
        assert np.array_equal(back.frames, probed.frames)
        assert np.array_equal(back.mask, probed.expected_mask)
        assert np.abs(back.audio - probed.audio).max() <= 1 / 32767 + 1e-7
        log_mel = load_log_mel(back.meta["log_mel_path"])
        assert log_mel.shape == (5, 1, 96, 64)
        assert json.loads(row["applied"]) == json.loads(json.dumps(probed.applied, default=float))
    assert check_tree(tmp_path / "s4").ok


def test_ms3_and_avss_exports(world, tmp_path: Path) -> None:  # noqa: ANN001
    suite = load_suite("swap")
    reader = AVSSReader(world.root, "test")
    export_probe_set(tmp_path / "ms3", reader, suite.build(), suite, "ms3", limit=8)
    ms3 = MS3Reader(tmp_path / "ms3" / "Multi-sources", "test")
    assert len(ms3) > 0 and check_tree(tmp_path / "ms3").ok
    mix = ProbeSuite.single("mix")
    export_probe_set(tmp_path / "avss", reader, mix.build(), mix, "avss", limit=4)
    avss = AVSSReader(tmp_path / "avss", "test")
    with open(tmp_path / "avss" / "manifest.csv") as f:
        row = next(r for r in csv.DictReader(f) if "+" in r["condition_id"])
    back = avss.read(row["name"])
    probed = _probed(world, mix, row["sample_id"], row["condition_id"])
    assert np.array_equal(back.semantic_mask, probed.expected_labels)
    assert np.array_equal(back.mask, probed.expected_mask)


def test_existing_output_is_refused(world, tmp_path: Path) -> None:  # noqa: ANN001
    from avsprobe.errors import DataError

    (tmp_path / "x").mkdir()
    suite = ProbeSuite.single("area")
    with pytest.raises(DataError, match="already exists"):
        export_probe_set(tmp_path / "x", AVSSReader(world.root, "test"), suite.build(), suite, "s4", limit=1)
