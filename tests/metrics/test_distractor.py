"""The silent moving distractor against known answers: it moves, it is of the class the world makes most likely to
sound, the audio is untouched; an oracle leaves it out (coverage 0, no mIoU drop); a model painting every visible
object covers it all, and loses the mIoU computed here by hand from the probed masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avsprobe.adapters import ModelAdapter
from avsprobe.adapters.testing import OracleAdapter
from avsprobe.data.biaslab.spec import load_world_spec
from avsprobe.data.source import open_data
from avsprobe.probes.suite import ProbeSuite, make_probe
from avsprobe.report.compute import compute_metrics, load_run
from avsprobe.runner import run_suite
from avsprobe.seeding import rng_for


class PaintsWhatItSees(ModelAdapter):
    """Known answer: every object mask the probe lists (the sounding objects, and the distractor where there
    is one), whatever the audio."""

    name = "paints-what-it-sees"

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t, _, h, w = batch.frames.shape
        out = torch.full((b, t, h, w), -10.0)
        for i, probed in enumerate(batch.truth):
            for mask in probed.object_masks.values():
                out[i][torch.from_numpy(mask.copy())] = 10.0
        return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from tests.conftest import built_world

    return built_world(tmp_path_factory, "distractor-world", 30)


def test_the_distractor_moves_is_likely_to_sound_and_is_silent(lab) -> None:  # noqa: ANN001
    source = open_data(lab)
    probe = make_probe("distractor")
    sample = next(s for s in map(source.reader.read, source.reader.sample_ids()) if s.mask.any())
    condition = probe.conditions()[1]
    out = probe.apply(sample, condition, rng_for(0, sample.sample_id, condition.condition_id))
    spec = load_world_spec()
    present = {o.class_name for o in sample.objects}
    likely = max((c for c in spec.classes if c.name not in present), key=lambda c: c.sounding_probability)
    assert out.applied["distractor_class"] == likely.name
    d = out.object_masks["distractor"]
    centres = [np.argwhere(d[t]).mean(axis=0)[1] for t in range(len(d))]
    assert all(b > a for a, b in zip(centres, centres[1:], strict=False))  # crossing left to right
    assert np.array_equal(out.audio, sample.audio)  # silent: the audio is the clip's own
    assert np.array_equal(out.expected_mask, sample.mask & ~d)


def test_an_oracle_leaves_it_out_and_a_painter_pays_the_hand_computed_drop(lab, tmp_path) -> None:  # noqa: ANN001
    source = open_data(lab)
    suite = ProbeSuite.single("distractor")
    run_suite(OracleAdapter(), suite, source, tmp_path / "oracle", limit=6, workers=0)
    oracle = compute_metrics(load_run(tmp_path / "oracle")).headline
    assert oracle["distractor_coverage"].value == 0.0 and oracle["distractor_miou_drop"].value == 0.0
    run_suite(PaintsWhatItSees(), suite, source, tmp_path / "painter", limit=6, workers=0)
    painter = compute_metrics(load_run(tmp_path / "painter")).headline
    assert painter["distractor_coverage"].value == 1.0
    # by hand: on the original clip it paints exactly the sounding objects (IoU 1); with the distractor it paints
    # it too, so a frame scores |E| / |E u D| (an empty E: 0 where D is visible, 1 where nothing is)
    probe, drops = make_probe("distractor"), []
    for sample_id in source.reader.sample_ids()[:6]:
        sample = source.reader.read(sample_id)
        condition = probe.conditions()[1]
        out = probe.apply(sample, condition, rng_for(0, sample_id, condition.condition_id))
        ious = []
        for t in np.flatnonzero(sample.annotated):
            e, d = out.expected_mask[t], out.object_masks["distractor"][t]
            union = (e | d).sum()
            ious.append(e.sum() / union if union else 1.0)
        drops.append(1.0 - float(np.mean(ious)))
    assert painter["distractor_miou_drop"].value == pytest.approx(float(np.mean(drops)), abs=1e-9)
    assert painter["distractor_miou_drop"].value > 0
