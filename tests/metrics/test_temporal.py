"""Temporal metrics against known-answer models: a model that follows the audio with a fixed lag has that
lag as ``best_lag``; the hand-computed agreement at lag 0; shifts with silent padding expect nothing there."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avsprobe.adapters import ModelAdapter
from avsprobe.adapters.testing import OracleAdapter
from avsprobe.data.source import open_data
from avsprobe.probes.suite import ProbeSuite
from avsprobe.probes.temporal import shift_audio, switch_frame
from avsprobe.report.compute import compute_metrics, load_run
from avsprobe.runner import run_suite


class LaggedFollower(ModelAdapter):
    """Known answer: under the switch, frame t shows the object that sounded ``lag`` seconds earlier (before
    the clip: the first object; after it: the second); elsewhere the oracle."""

    name = "lagged-follower"

    def __init__(self, lag: int) -> None:
        super().__init__()
        self.lag = lag

    def predict(self, batch):  # noqa: ANN001, ANN201
        out = OracleAdapter().predict(batch)
        for i, probed in enumerate(batch.truth):
            if not probed.condition_id.endswith("/switch"):
                continue
            cut, frames = probed.applied["switch_frame"], probed.expected_mask.shape[0]
            for t in range(frames):
                mask = probed.object_masks["A" if t - self.lag < cut else "B"][t]
                shown = torch.nn.functional.interpolate(torch.from_numpy(mask.copy())[None, None].float(),
                                                        size=out.shape[-2:], mode="nearest")[0, 0] > 0.5
                out[i, t] = torch.where(shown, 10.0, -10.0)
        return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from tests.conftest import built_world

    return built_world(tmp_path_factory, "temporal-world", 40)


@pytest.mark.parametrize("lag", [0, 1, -1])
def test_a_model_lagging_by_l_seconds_has_best_lag_l(lab, tmp_path, lag: int) -> None:  # noqa: ANN001
    run_suite(LaggedFollower(lag), ProbeSuite.single("temporal"), open_data(lab), tmp_path / "r", limit=12,
              workers=0)
    metrics = compute_metrics(load_run(tmp_path / "r"))
    assert metrics.headline["best_lag"].value == lag
    by_lag = metrics.groups["switch_agreement_by_lag"]
    assert by_lag[f"{lag:+d}s"].value == 1.0
    # by hand at lag 0, 5 frames, switch at frame 3: a one-second lag shows the first object one frame too long
    # (frame 3), a one-second lead one frame too early (frame 2): 4 of 5 frames agree
    assert metrics.headline["switch_follow"].value == pytest.approx(1.0 if lag == 0 else 0.8)
    follow = metrics.groups["follow_by_shift"]
    assert all(v.value == 1.0 for v in follow.values())  # the oracle elsewhere: every shift matched


def test_shifts_pad_with_silence_and_the_switch_cuts_at_the_middle() -> None:
    audio = np.arange(1, 11, dtype=np.float32)
    assert shift_audio(audio, 3).tolist() == [0, 0, 0, 1, 2, 3, 4, 5, 6, 7]
    assert shift_audio(audio, -3).tolist() == [4, 5, 6, 7, 8, 9, 10, 0, 0, 0]
    assert switch_frame(5) == 3 and switch_frame(10) == 5


@pytest.mark.parametrize("shift_s", [-2, -1, 1, 2])
def test_a_shift_moves_the_clip_audio_by_exactly_k_frames_of_one_second(lab, shift_s: int) -> None:  # noqa: ANN001
    from avsprobe.probes.suite import make_probe
    from avsprobe.seeding import rng_for

    source = open_data(lab)
    sample = next(s for s in map(source.reader.read, source.reader.sample_ids()) if s.mask.any())
    probe = make_probe("temporal")
    condition = next(c for c in probe.conditions() if c.label == f"shift{shift_s:+d}s")
    out = probe.apply(sample, condition, rng_for(0, sample.sample_id, condition.condition_id))
    k = shift_s * sample.sample_rate_hz
    if k > 0:
        assert np.array_equal(out.audio[k:], sample.audio[:-k]) and not out.audio[:k].any()
    else:
        assert np.array_equal(out.audio[:k], sample.audio[-k:]) and not out.audio[k:].any()
    silent = list(range(shift_s)) if shift_s > 0 else list(range(5 + shift_s, 5))
    assert out.applied["silent_frames"] == silent and not out.expected_mask[silent].any()
    assert np.array_equal(np.delete(out.expected_mask, silent, axis=0), np.delete(sample.mask, silent, axis=0))
