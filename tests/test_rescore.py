"""Re-scoring from kept predictions: byte-identical records without the model, a tampered part restored,
clear refusals."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from avsprobe.adapters import ModelAdapter, resolve_model
from avsprobe.data.source import open_data
from avsprobe.errors import ConfigError, DataError
from avsprobe.predictions import PREDICTIONS_DIR
from avsprobe.probes.suite import ProbeSuite, load_suite
from avsprobe.rescore import rescore_run, runs_under
from avsprobe.results import PARTS_DIR, load_records, read_part
from avsprobe.runner import run_suite
from tests.cli.test_app import run_cli
from tests.metrics.test_class_aware import RandomSemantic


@pytest.fixture(scope="module")
def source(world30: Path):  # noqa: ANN201
    return open_data(world30)


def _seed(sample_id: str) -> int:
    return int(hashlib.sha256(sample_id.encode()).hexdigest()[:8], 16)


class SmoothRandom(ModelAdapter):
    """Smooth random logits at half the frame size (so scoring resizes them), with probabilities spread over
    the whole threshold grid; the audio's loudness shifts them, so every condition differs."""

    name = "smooth-random"

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t, _, h, w = batch.frames.shape
        out = []
        for i, s in enumerate(batch.sample_ids):
            g = torch.Generator().manual_seed(_seed(s))
            coarse = torch.randn(t, 1, 6, 6, generator=g) * 4
            loud = float(batch.audio[i].abs().mean()) * 50
            out.append(torch.nn.functional.interpolate(coarse + loud, size=(h // 2, w // 2), mode="bilinear",
                                                       align_corners=False)[:, 0])
        return torch.stack(out)


def _part_bytes(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run_dir / PARTS_DIR).glob("*.parquet"))}


@pytest.mark.parametrize(("model", "suite"), [
    ("smooth", "paper"),          # every probe of the paper suite, resized logits
    ("ours", "negative"),         # adapter notes (phi_marks) and the negative probe's per-object curves
    ("semantic", "intensity"),    # class maps and the semantic columns
])
def test_rescore_gives_the_run_back_byte_for_byte(source, tmp_path: Path, model: str, suite: str) -> None:  # noqa: ANN001
    adapter = {"smooth": SmoothRandom, "semantic": RandomSemantic}.get(model, lambda: resolve_model(model))()
    run_dir = tmp_path / "r"
    summary = run_suite(adapter, load_suite(suite), source, run_dir, limit=2, flush_jobs=8, batch_size=4)
    assert summary.kept_bytes > 0 and len(list((run_dir / PREDICTIONS_DIR).glob("*.npz"))) == len(_part_bytes(run_dir))
    before = _part_bytes(run_dir)
    records = load_records(run_dir)
    assert (records.status == "ok").any()
    result = rescore_run(run_dir)
    assert (result.parts, result.changed) == (len(before), 0)
    assert result.jobs == records[records.status == "ok"].job_index.nunique()
    assert _part_bytes(run_dir) == before


def test_rescore_recomputes_rather_than_copies(source, tmp_path: Path) -> None:  # noqa: ANN001
    run_dir = tmp_path / "r"
    run_suite(SmoothRandom(), ProbeSuite.single("intensity"), source, run_dir, limit=2, flush_jobs=4, batch_size=4)
    fresh = load_records(run_dir)
    part = sorted((run_dir / PARTS_DIR).glob("*.parquet"))[1]
    damaged = read_part(part)
    damaged["iou"] = 0.123
    damaged["tp_at"] = [np.zeros(255, np.int32)] * len(damaged)
    damaged["object_score"] = [[]] * len(damaged)
    damaged.to_parquet(part, index=False)
    assert not load_records(run_dir).equals(fresh)
    result = rescore_run(run_dir)
    assert result.changed == 1
    pd.testing.assert_frame_equal(load_records(run_dir), fresh)


def test_keeping_predictions_leaves_the_records_as_they_were(source, tmp_path: Path) -> None:  # noqa: ANN001
    suite = load_suite("negative")
    run_suite(resolve_model("ours"), suite, source, tmp_path / "kept", limit=2)
    run_suite(resolve_model("ours"), suite, source, tmp_path / "not", limit=2, keep_predictions=False)
    pd.testing.assert_frame_equal(load_records(tmp_path / "kept"), load_records(tmp_path / "not"))
    assert not (tmp_path / "not" / PREDICTIONS_DIR).exists()
    with pytest.raises(DataError, match="did not keep its predictions"):
        rescore_run(tmp_path / "not")


def test_refusals_name_what_is_wrong(source, tmp_path: Path) -> None:  # noqa: ANN001
    run_dir = tmp_path / "r"
    run_suite(SmoothRandom(), ProbeSuite.single("intensity"), source, run_dir, limit=2, flush_jobs=4)
    kept = sorted((run_dir / PREDICTIONS_DIR).glob("*.npz"))
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    kept[0].unlink()
    with pytest.raises(DataError, match=f"{kept[0].name} is missing"):
        rescore_run(run_dir)
    # predictions of another part: the jobs do not match the records
    other = sorted((copy / PREDICTIONS_DIR).glob("*.npz"))
    other[1].replace(other[0])
    with pytest.raises(DataError, match="does not match its records part"):
        rescore_run(copy)
    with pytest.raises(ConfigError, match="holds no run"):
        runs_under([tmp_path / "copy" / PARTS_DIR])


def test_cli_rescores_every_run_below_a_folder(source, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    for name in ("a", "b"):
        run_suite(SmoothRandom(), ProbeSuite.single("negative"), source, tmp_path / "runs" / name / "negative", limit=1)
    code, out, err = run_cli(["rescore", str(tmp_path / "runs")], capsys)
    assert code == 0, err
    assert out.count("0 parts changed") == 2 and "a/negative" in out and "b/negative" in out
