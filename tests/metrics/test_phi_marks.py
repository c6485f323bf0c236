"""``phi_marks``: by hand on records, and recorded end to end by a reference model with active queries."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from avsprobe.metrics.phi_marks import phi_mark_rates


def _rows(marks_by_clip: dict[str, dict[str, list[list[str]]]]) -> pd.DataFrame:
    rows = []
    for clip, by_condition in marks_by_clip.items():
        for condition, frames in by_condition.items():
            rows += [{"sample_id": clip, "probe": "negative", "condition_label": condition, "status": "ok",
                      "annotated": True, "is_baseline": condition == "original", "frame": k,
                      "phi_marks": json.dumps(marks)} for k, marks in enumerate(frames)]
    return pd.DataFrame(rows)


def test_phi_mark_rates_by_hand() -> None:
    records = _rows({
        "a": {"silence": [["guitar"], ["guitar"]], "white": [[], ["piano", "bell"]], "offscreen": [["dog"], ["dog"]]},
        "b": {"silence": [[], []], "white": [[], []], "offscreen": [["dog"], []]},
    })
    rates = phi_mark_rates(records)
    # no-source frames (silence, white): clip a marks in 3 of 4, clip b in 0 of 4 -> mean over clips 0.375
    assert rates["headline"].value == pytest.approx(0.375)
    assert rates["silence"].value == pytest.approx(0.5) and rates["silence"].by_group == {"guitar": 0.5}
    assert rates["white"].by_group == {"bell": 0.25, "piano": 0.25}
    # off-screen audio names a class: reported, but not in the headline
    assert rates["offscreen"].value == pytest.approx(0.75)


def test_records_without_marks_have_no_metric() -> None:
    records = _rows({"a": {"silence": [[]]}}).drop(columns="phi_marks")
    assert phi_mark_rates(records) == {}


def test_a_model_with_active_queries_records_what_phi_marks(tmp_path: Path) -> None:
    from avsprobe.adapters import resolve_model
    from avsprobe.audio.vggish import vggish_examples
    from avsprobe.data.biaslab.world import build_world
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import ProbeSuite
    from avsprobe.reference.audio import log_mel_descriptor
    from avsprobe.reference.train import TrainSettings, train
    from avsprobe.report.compute import compute_metrics, load_run
    from avsprobe.results import load_records
    from avsprobe.runner import run_suite

    world = tmp_path / "w"
    build_world(world, clips=12, workers=1)
    ckpt = tmp_path / "ck"
    train(TrainSettings(model="ours-nodebias", epochs=1, batch_size=8, data=str(world), seed=0,
                        overrides={"frame_size": 64}), ckpt, max_steps=1, workers=1)
    adapter = resolve_model("ours-nodebias", {"checkpoint": str(ckpt)})
    source = open_data(world)
    run_suite(adapter, ProbeSuite.single("negative"), source, tmp_path / "r", limit=2, workers=0)
    records = load_records(tmp_path / "r")
    ok = records[records.status == "ok"]
    assert ok.phi_marks.notna().all()
    # one clip's frames under silence, recomputed from Phi directly
    row = ok[ok.condition_label == "original"].iloc[0]
    sample = source.reader.read(row.sample_id)  # the original audio, as the baseline condition plays it
    import torch

    audio = torch.from_numpy(sample.audio).float()[None]
    log_mel = vggish_examples(audio, num_examples=sample.frames.shape[0], device="cpu", precision="float32")[0, :, 0]
    active = adapter.model.perception.activity(log_mel_descriptor(log_mel).float())
    names = adapter.record["classes"]
    expected = [json.dumps([names[k] for k, on in enumerate(frame) if on]) for frame in active.tolist()]
    recorded = ok[(ok.sample_id == row.sample_id) & (ok.condition_label == "original")].sort_values("frame").phi_marks
    assert recorded.tolist() == expected
    assert "phi_marks" in compute_metrics(load_run(tmp_path / "r")).groups
