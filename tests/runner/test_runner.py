"""The run engine: records, resume after a kill, failures, the predictions round trip, the CLI."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from avsprobe.adapters import ModelAdapter, resolve_model
from avsprobe.data.biaslab.world import build_world
from avsprobe.data.source import open_data
from avsprobe.errors import ConfigError
from avsprobe.probes.suite import ProbeSuite, load_suite
from avsprobe.results import load_records
from avsprobe.runner import run_suite
from tests.cli.test_app import run_cli


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("run-world") / "w"
    build_world(root, clips=30, workers=2)
    return open_data(root)


def test_records_hold_one_row_per_clip_condition_frame(source, tmp_path: Path) -> None:  # noqa: ANN001
    summary = run_suite(resolve_model("oracle"), ProbeSuite.single("intensity"), source, tmp_path / "r", limit=4)
    records = load_records(tmp_path / "r")
    assert summary.jobs == 4 * 7 and summary.ok + summary.not_applicable == summary.jobs
    ok = records[records.status == "ok"]
    assert len(ok) == summary.ok * 5 and not records.duplicated(["job_index", "frame"]).any()
    assert (ok.iou == 1.0).all() and (ok.intersection == ok.expected_area).all()
    assert {len(v) for v in ok.tp_at} == {255}
    info = (tmp_path / "r" / "run.json").read_text()
    for key in ("model_fingerprint", "suite_fingerprint", "data_fingerprint", "git_hash", "metric_definitions"):
        assert key in info


def test_killed_run_resumes_to_identical_records(source, tmp_path: Path) -> None:  # noqa: ANN001
    suite = load_suite("negative")
    run_suite(resolve_model("audio-blind-oracle"), suite, source, tmp_path / "whole", limit=6, batch_size=4)
    calls = {"n": 0}

    def kill_after_two_batches(done: int, total: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_suite(resolve_model("audio-blind-oracle"), suite, source, tmp_path / "killed", limit=6, batch_size=4,
                  flush_jobs=4, on_progress=kill_after_two_batches)
    partial = load_records(tmp_path / "killed")
    assert 0 < partial.job_index.nunique() < 36
    summary = run_suite(resolve_model("audio-blind-oracle"), suite, source, tmp_path / "killed", limit=6, batch_size=4)
    assert summary.resumed == partial.job_index.nunique()
    pd.testing.assert_frame_equal(load_records(tmp_path / "killed"), load_records(tmp_path / "whole"))
    with pytest.raises(ConfigError, match="holds a different run"):
        run_suite(resolve_model("full"), suite, source, tmp_path / "whole", limit=6)


class Flaky(ModelAdapter):
    """NaN logits for one sample, an exception for another, fine elsewhere."""

    name = "flaky"

    def __init__(self, nan_id: str = "", raise_id: str = "") -> None:
        super().__init__()
        self.nan_id, self.raise_id = nan_id, raise_id

    def predict(self, batch):  # noqa: ANN001, ANN201
        if self.raise_id in batch.sample_ids:
            raise RuntimeError("boom")
        b, t, _, h, w = batch.frames.shape
        out = torch.zeros(b, t, h, w)
        for i, s in enumerate(batch.sample_ids):
            if s == self.nan_id:
                out[i, 0, 0, 0] = float("nan")
        return out


def test_failures_are_recorded_and_the_run_goes_on(source, tmp_path: Path) -> None:  # noqa: ANN001
    ids = source.reader.sample_ids()
    adapter = Flaky(nan_id=ids[0], raise_id=ids[1])
    summary = run_suite(adapter, ProbeSuite.single("negative"), source, tmp_path / "r", limit=3, batch_size=5)
    records = load_records(tmp_path / "r")
    failed = records[records.status == "failed"]
    assert summary.failed == 12 and summary.ok == 6  # 6 negative conditions (the bias lab has a background bed)
    assert set(failed[failed.sample_id == ids[0]].reason) == {"logits contain NaN or inf"}
    assert set(failed[failed.sample_id == ids[1]].reason) == {"predict raised RuntimeError: boom"}


class RedChannel(ModelAdapter):
    """Segments pixels whose red value exceeds 128 (what the 'external' model below also does)."""

    name = "red"

    def predict(self, batch):  # noqa: ANN001, ANN201
        return torch.where(batch.frames[:, :, 0] > 128 / 255, 10.0, -10.0)


def test_export_predict_elsewhere_and_read_back_equals_the_python_adapter(source, tmp_path: Path) -> None:  # noqa: ANN001
    from avsprobe.data.avsbench import S4Reader
    from avsprobe.probes.export import export_probe_set

    suite = ProbeSuite.single("intensity")
    export_probe_set(tmp_path / "exp", source.reader, suite.build(), suite, "s4", limit=3)
    s4 = S4Reader(tmp_path / "exp" / "Single-source", "test")
    preds = tmp_path / "preds"
    for name in s4.sample_ids():  # an "external code base": reads the exported frames, writes 0-based PNGs
        frames = s4.read(name).frames
        (preds / name).mkdir(parents=True)
        for k, frame in enumerate(frames):
            Image.fromarray(((frame[..., 0] > 128) * 255).astype(np.uint8)).save(preds / name / f"{name}_{k}.png")
    run_suite(resolve_model(f"predictions:{preds}"), suite, source, tmp_path / "from_files", limit=3)
    run_suite(RedChannel(), suite, source, tmp_path / "python", limit=3)
    a = load_records(tmp_path / "from_files").drop(columns="model")
    b = load_records(tmp_path / "python").drop(columns="model")
    assert (a.status == "ok").sum() > 0
    pd.testing.assert_frame_equal(a, b)


def test_cli_run_with_no_data_uses_the_default_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from avsprobe.data.biaslab.spec import load_world_spec

    tiny = dataclasses.replace(load_world_spec(), split_clips={"train": 3, "val": 1, "test": 2})
    monkeypatch.setenv("AVSPROBE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("avsprobe.data.biaslab.world.load_world_spec", lambda path=None: tiny)
    code, out, err = run_cli(["run", "--model", "full", "--probe", "negative", "--out", str(tmp_path / "runs")], capsys)
    assert code == 0, out + err
    assert "12 jobs: 12 ok, 0 failed, 0 not applicable" in out
    assert f"records written to {tmp_path / 'runs' / 'full' / 'negative'}" in out.replace("\n", "")
    records = load_records(tmp_path / "runs" / "full" / "negative")
    negatives = records[~records.is_baseline]
    assert (negatives.fpr == 1.0).all() and (negatives.iou == 0.0).all()
    code, _, err = run_cli(["run", "--model", "full", "--probe", "negative", "--suite", "paper"], capsys)
    assert code == 1 and "give --probe (one or more) or --suite, not both" in err


def test_loudness_gated_oracle_segments_only_loud_enough_audio(source, tmp_path: Path) -> None:  # noqa: ANN001
    run_suite(resolve_model("loudness-gated-oracle", {"gate_lufs": -38.0}), ProbeSuite.single("intensity"), source,
              tmp_path / "r", limit=8)
    records = load_records(tmp_path / "r")
    ok = records[(records.status == "ok") & ~records.is_baseline & (records.expected_area > 0)]
    by_level = ok.groupby("condition_label").iou.mean()
    assert set(by_level.index) == {"-53LUFS", "-47LUFS", "-41LUFS", "-35LUFS", "-29LUFS", "-23LUFS"}
    for label, iou in by_level.items():
        assert iou == (1.0 if float(label[:-4]) >= -38.0 else 0.0), (label, iou)


def test_training_frequency_for_avss_counts_train_clips_per_sounding_class(tmp_path: Path) -> None:
    from avsprobe.data.source import avss_train_frequency
    from tests.data.avsbench_fixtures import build_avss

    build_avss(tmp_path)
    meta = (tmp_path / "metadata.csv").read_text()
    (tmp_path / "metadata.csv").write_text(meta.replace(",train,", ",test,"))
    assert avss_train_frequency(tmp_path) is None  # no train clips
    (tmp_path / "metadata.csv").write_text(meta.replace(",test,", ",train,"))
    assert avss_train_frequency(tmp_path) == {"dog": 1 / 3, "guitar": 1 / 3, "man": 1 / 3, "piano": 1 / 3}


def test_several_models_in_one_pass_equal_separate_runs(source, tmp_path: Path) -> None:  # noqa: ANN001
    from avsprobe.runner import run_models

    suite = load_suite("paper")
    names = ["oracle", "audio-blind-oracle"]
    # one model already done: the shared pass resumes it and runs only the other
    run_suite(resolve_model("oracle"), suite, source, tmp_path / "shared" / "oracle", limit=2, flush_jobs=8,
              on_progress=lambda d, t: None)
    summaries = run_models([resolve_model(n) for n in names], suite, source, [tmp_path / "shared" / n for n in names],
                           limit=2)
    assert summaries[0].resumed == summaries[0].jobs and summaries[1].resumed == 0
    for name in names:
        run_suite(resolve_model(name), suite, source, tmp_path / "alone" / name, limit=2)
        keys = ["job_index", "frame"]
        shared = load_records(tmp_path / "shared" / name).sort_values(keys).reset_index(drop=True)
        alone = load_records(tmp_path / "alone" / name).sort_values(keys).reset_index(drop=True)
        columns = [c for c in alone.columns if c not in ("pred_thumb", "tp_at", "pp_at", "original_tp_at")]
        pd.testing.assert_frame_equal(shared[columns], alone[columns])
        assert all(np.array_equal(a, b) for a, b in zip(shared.tp_at, alone.tp_at, strict=True))
        assert all((a is None and b is None) or np.array_equal(a, b)
                   for a, b in zip(shared.original_tp_at, alone.original_tp_at, strict=True))


@pytest.mark.parametrize(("h", "w"), [(128, 128), (224, 300), (37, 50), (64, 64), (500, 17), (1, 3)])
def test_thumbnails_pick_the_pixels_nearest_interpolation_picks(h: int, w: int) -> None:
    """The records' 64x64 mask thumbnails are taken by index; they equal torch's nearest-neighbour resize of
    the binary mask, shrinking or enlarging, for any frame size."""
    from avsprobe.records import THUMB
    from avsprobe.scoring import nearest_indices as _nearest_indices

    logits = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(h * w))
    want = torch.nn.functional.interpolate((logits > 0).float(), size=(THUMB, THUMB), mode="nearest") > 0.5
    got = (logits > 0).numpy()[:, :, _nearest_indices(h, THUMB)[:, None], _nearest_indices(w, THUMB)]
    np.testing.assert_array_equal(got, want.numpy())


class BarelyPositive(ModelAdapter):
    """Logits of 3e-8 everywhere: positive, but their float32 sigmoid is exactly 0.5, so nothing is predicted."""

    name = "barely-positive"

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t, _, h, w = batch.frames.shape
        return torch.full((b, t, h, w), 3e-8)


def test_thumbnails_binarise_as_the_records_do(source, tmp_path: Path) -> None:  # noqa: ANN001
    from avsprobe.records import unpack_thumbnail

    run_suite(BarelyPositive(), ProbeSuite.single("negative"), source, tmp_path / "r", limit=1)
    records = load_records(tmp_path / "r")
    ok = records[records.status == "ok"]
    assert len(ok) > 0 and (ok.pred_area == 0).all()
    assert all(not unpack_thumbnail(t).any() for t in ok.pred_thumb)  # before: every thumbnail pixel was on


def test_predictions_in_avsbench_save_mask_layout_are_read(source, tmp_path: Path) -> None:  # noqa: ANN001
    """AVSBench's own save_mask writes {base}/{category}/{name}/{name}_{k}.png: read like the flat layout
    (before, 30 of 30 jobs failed); a missing mask names the paths tried."""
    import csv

    from avsprobe.data.avsbench import S4Reader
    from avsprobe.errors import AdapterError
    from avsprobe.probes.export import export_probe_set

    suite = ProbeSuite.single("intensity")
    export_probe_set(tmp_path / "exp", source.reader, suite.build(), suite, "s4", limit=2)
    s4 = S4Reader(tmp_path / "exp" / "Single-source", "test")
    with open(tmp_path / "exp" / "manifest.csv") as f:
        category = {row["name"]: row["category"] for row in csv.DictReader(f)}
    preds = tmp_path / "preds"
    for name in s4.sample_ids():
        folder = preds / category[name] / name
        folder.mkdir(parents=True)
        for k, frame in enumerate(s4.read(name).frames):
            Image.fromarray(((frame[..., 0] > 128) * 255).astype(np.uint8)).save(folder / f"{name}_{k}.png")
    run_suite(resolve_model(f"predictions:{preds}"), suite, source, tmp_path / "from_files", limit=2)
    run_suite(RedChannel(), suite, source, tmp_path / "python", limit=2)
    a = load_records(tmp_path / "from_files").drop(columns="model")
    assert (a.status == "ok").sum() > 0
    pd.testing.assert_frame_equal(a, load_records(tmp_path / "python").drop(columns="model"))
    with pytest.raises(AdapterError, match="tried .*missing_0.png"):
        resolve_model(f"predictions:{preds}")._mask_file("missing", 0)


def test_options_travel_as_one_object_and_unknown_ones_are_refused(source, tmp_path: Path) -> None:  # noqa: ANN001
    from avsprobe.runner import RunOptions

    options = RunOptions(limit=2, batch_size=3, keep_predictions=False, workers=0)
    run_suite(resolve_model("oracle"), ProbeSuite.single("negative"), source, tmp_path / "a", options)
    run_suite(resolve_model("oracle"), ProbeSuite.single("negative"), source, tmp_path / "b", limit=2, batch_size=3,
              keep_predictions=False, workers=0)
    pd.testing.assert_frame_equal(load_records(tmp_path / "a"), load_records(tmp_path / "b"))
    assert not (tmp_path / "a" / "predictions").exists()
    # keyword arguments override the object's fields
    run_suite(resolve_model("oracle"), ProbeSuite.single("negative"), source, tmp_path / "c", options, limit=1)
    assert load_records(tmp_path / "c").sample_id.nunique() == 1
    with pytest.raises(TypeError, match="unknown run options: batchsize"):
        run_suite(resolve_model("oracle"), ProbeSuite.single("negative"), source, tmp_path / "d", batchsize=3)
