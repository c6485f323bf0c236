"""The AVSBench-Robust and negative-audio SSL protocols on known-answer adapters, against values computed by
hand from the clips themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avsprobe.adapters import resolve_model
from avsprobe.data.biaslab.world import build_world
from avsprobe.data.source import open_data
from avsprobe.metrics.protocols import AOC_THRESHOLDS, aoc, robust_protocol, ssl_protocol
from avsprobe.probes.suite import ProbeSuite
from avsprobe.report.build import build_report
from avsprobe.results import load_records
from avsprobe.runner import run_suite

CLIPS = 8


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("protocol-world") / "w"
    build_world(root, clips=40, workers=2)
    source = open_data(root, split="test")
    out = tmp_path_factory.mktemp("protocol-runs")
    for model in ("oracle", "audio-blind-oracle"):
        run_suite(resolve_model(model), ProbeSuite.single("negative"), source, out / model, limit=CLIPS)
    return {"source": source, "dirs": {m: out / m for m in ("oracle", "audio-blind-oracle")},
            **{m: load_records(out / m) for m in ("oracle", "audio-blind-oracle")}}


def _original_masks(source, ids) -> dict:  # noqa: ANN001
    """Each clip's annotated sounding masks, read from the data (independent of the records)."""
    out = {}
    for sample_id in ids:
        sample = source.reader.read(sample_id)
        out[sample_id] = sample.mask[sample.annotated]
    return out


def test_the_oracle_segments_nothing_under_negative_audio(runs: dict) -> None:
    r = runs["oracle"]
    masks = _original_masks(runs["source"], r.sample_id.unique())
    robust = robust_protocol(r)
    assert set(robust) == {"silence", "background", "white", "pink", "offscreen"}
    # empty predictions against the original masks: IoU 1 on frames where nothing sounded, else 0
    per_clip = [np.mean([float(not m.any()) for m in frames]) for frames in masks.values()]
    for values in robust.values():
        assert values["miou"].value == pytest.approx(float(np.mean(per_clip)), abs=1e-12)
        assert values["fpr"].value == 0.0
    ssl = ssl_protocol(r, positive_miou=1.0)
    for values in ssl.values():
        assert values["pia"].value == 0.0 and values["aoc"].value == 0.0
        assert values["hm"].value == 100.0  # 2 * 100 * 100 / (100 + 100)


def test_the_audio_blind_oracle_keeps_the_original_masks(runs: dict) -> None:
    r = runs["audio-blind-oracle"]
    masks = _original_masks(runs["source"], r.sample_id.unique())
    robust = robust_protocol(r)
    frames = [m for clip in masks.values() for m in clip]
    expected_fpr = float(np.mean([m.mean() for m in frames]))  # pooled over frames, as AVSBench-Robust
    pia = {c: 100 * float(np.mean([m.mean() for m in clip])) for c, clip in masks.items()}
    for label, values in robust.items():
        assert values["miou"].value == 1.0, label  # the prediction is the original mask itself
        assert values["fscore"].value == pytest.approx(1.0, abs=1e-9)
        assert values["fpr"].value == pytest.approx(expected_fpr, abs=1e-12) and expected_fpr > 0
        assert values["fpr"].ci_low <= values["fpr"].value <= values["fpr"].ci_high
    ssl = ssl_protocol(r, positive_miou=0.8)
    fractions = np.array(list(pia.values())) / 100
    # AOC by hand: 1 - (share of clips at or below each threshold), trapezoids of width 0.05
    above = [1 - np.mean(fractions <= t + 1e-12) for t in np.arange(21) * 0.05]
    by_hand = sum((above[i] + above[i + 1]) / 2 * 0.05 for i in range(20))
    for values in ssl.values():
        assert values["pia"].value == pytest.approx(float(np.mean(list(pia.values()))), abs=1e-9)
        assert values["aoc"].value == pytest.approx(by_hand, abs=1e-12) and by_hand > 0
        rest = 100 - values["pia"].value
        assert values["hm"].value == pytest.approx(2 * 80 * rest / (80 + rest), abs=1e-9)


def test_aoc_by_hand() -> None:
    assert AOC_THRESHOLDS[0] == 0.0 and AOC_THRESHOLDS[-1] == 1.0 and len(AOC_THRESHOLDS) == 21
    # nothing predicted: 0; the whole frame everywhere: 1 - y is 1 up to t = 0.95 and 0 at t = 1, so the last
    # trapezoid counts half: 0.975
    assert aoc(np.zeros(4)) == 0.0 and aoc(np.ones(3)) == pytest.approx(0.975)
    # one clip at pIA 0.5: 1 - y is 1 for t = 0 ... 0.45 and 0 from 0.5: 9 full trapezoids and a half one
    assert aoc(np.array([0.5])) == pytest.approx(0.45 + 0.025)
    # half the clips at 0, half at 0.1: 1 - y is 0.5 at t = 0 and 0.05, then 0
    assert aoc(np.array([0.0, 0.1])) == pytest.approx(0.5 * 0.05 + (0.5 + 0.0) / 2 * 0.05)


def test_the_report_has_a_section_per_protocol(runs: dict, tmp_path: Path) -> None:
    content = build_report(list(runs["dirs"].values()), tmp_path / "rep")
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "## AVSBench-Robust protocol" in text and "## Negative-audio sound-source-localisation metrics" in text
    assert "| audio-blind-oracle | silence | 1.000" in text
    assert content["runs"][0]["protocols"]["avsbench_robust"]["silence"]["fpr"]["value"] == 0.0
    assert "avsbench_robust" in content["metric_definitions"] and "G-mIoU" in content["metric_definitions"]["avsbench_robust"]
    assert "AVSBench-Robust protocol" in (tmp_path / "rep" / "report.html").read_text()
