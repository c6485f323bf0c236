"""Robustness metrics end to end on the bias lab: an oracle is unaffected by every corruption, and a
known-answer model that predicts nothing under one family has that family's relative change equal to the value
computed from the ground truth by hand; under occlusion the expected mask is the visible part."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avsprobe.adapters import ModelAdapter
from avsprobe.adapters.testing import OracleAdapter
from avsprobe.data.source import open_data
from avsprobe.probes.suite import ProbeSuite
from avsprobe.report.compute import compute_metrics, load_run
from avsprobe.results import load_records
from avsprobe.runner import run_suite


class BlindUnder(ModelAdapter):
    """Known answer: the oracle, but an empty mask under the conditions of one corruption family."""

    name = "blind-under"

    def __init__(self, family: str) -> None:
        super().__init__()
        self.family = family

    def predict(self, batch):  # noqa: ANN001, ANN201
        out = OracleAdapter().predict(batch)
        for i, condition in enumerate(batch.condition_ids):
            if condition.split("/")[-1].startswith(self.family + "@"):
                out[i] = torch.full_like(out[i], -10.0)
        return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from tests.conftest import built_world

    return built_world(tmp_path_factory, "robust-world", 30)


def test_an_oracle_is_unaffected_and_a_blind_family_drops_by_the_hand_computed_share(lab, tmp_path) -> None:  # noqa: ANN001
    source = open_data(lab)
    suite = ProbeSuite.of(["audio_corruption", "visual_corruption"])
    run_suite(OracleAdapter(), suite, source, tmp_path / "oracle", limit=3, workers=0)
    oracle = compute_metrics(load_run(tmp_path / "oracle"))
    assert oracle.headline["audio_corruption_change"].value == 0.0
    assert oracle.headline["visual_corruption_change"].value == 0.0
    assert set(oracle.groups["change_by_audio_corruption"]) == {"babble", "clipping", "lowpass", "pink_noise",
                                                                "reverb", "sample_rate", "telephone", "white_noise"}
    assert len(oracle.groups["miou_by_visual_corruption"]) == 1 + 6 * 5

    run_suite(BlindUnder("reverb"), ProbeSuite.single("audio_corruption"), source, tmp_path / "blind", limit=3,
              workers=0)
    run = load_run(tmp_path / "blind")
    groups = compute_metrics(run).groups["change_by_audio_corruption"]
    # by hand: an empty mask scores IoU 1 on frames whose expected mask is empty and 0 elsewhere; the original
    # (the oracle) scores 1 on every frame
    r = load_records(tmp_path / "blind")
    reverb = r[(r.status == "ok") & r.annotated & r.condition_label.str.startswith("reverb@")]
    per_clip = reverb.assign(hit=(reverb.expected_area == 0).astype(float)).groupby("sample_id").hit.mean()
    assert groups["reverb"].value == pytest.approx(per_clip.mean() - 1.0, abs=1e-12)
    assert groups["reverb"].value < 0 and all(groups[f].value == 0.0 for f in groups if f != "reverb")


def test_occlusion_expects_the_visible_part(lab) -> None:  # noqa: ANN001
    from avsprobe.probes.suite import make_probe
    from avsprobe.seeding import rng_for

    source = open_data(lab)
    probe = make_probe("visual_corruption")
    sample = next(s for s in map(source.reader.read, source.reader.sample_ids()) if s.mask.any())
    condition = next(c for c in probe.conditions() if c.label == "occlusion@3")
    out = probe.apply(sample, condition, rng_for(0, sample.sample_id, condition.condition_id))
    visible = out.expected_mask.sum() / sample.mask.sum()
    assert out.applied["visible_share"] == pytest.approx(visible) and visible < 1 - 0.4 + 1e-9
    assert not (out.expected_mask & ~sample.mask).any()
    assert np.array_equal(out.original_mask, out.expected_mask)


def test_the_report_draws_severity_curves_and_tables_the_change_per_family(lab, tmp_path) -> None:  # noqa: ANN001
    import pandas as pd

    from avsprobe.report.build import build_report

    source = open_data(lab)
    suite = ProbeSuite.of(["audio_corruption", "visual_corruption"])
    for model in (OracleAdapter(), BlindUnder("jpeg")):
        run_suite(model, suite, source, tmp_path / model.name, limit=4, workers=0)  # 4: silent objects among them
    content = build_report([tmp_path / "oracle", tmp_path / "blind-under"], tmp_path / "rep", formats=["json", "md"],
                           figures=["robustness_curves", "robustness_fscore_curves", "robustness_prior_curves"])
    assert content["figures"] == ["robustness_curves", "robustness_fscore_curves", "robustness_prior_curves"]
    curves = pd.read_csv(tmp_path / "rep" / "figures" / "robustness_curves.csv")
    assert curves.family.nunique() == 14 and set(curves.severity) == set(range(6))
    jpeg = curves[(curves.model == "blind-under") & (curves.family == "jpeg")].set_index("severity").miou
    fscore = pd.read_csv(tmp_path / "rep" / "figures" / "robustness_fscore_curves.csv")
    assert fscore.family.nunique() == 14 and (fscore[fscore.model == "oracle"].fscore == 1.0).all()
    prior = pd.read_csv(tmp_path / "rep" / "figures" / "robustness_prior_curves.csv")
    assert (prior[prior.model == "oracle"].silent_coverage == 0.0).all()  # the oracle covers no silent object
    assert jpeg[0] == 1.0 and (jpeg[1:] < 1.0).all()  # the clean clip scored by the oracle, JPEG by nothing
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## change by visual corruption" in md and "| jpeg |" in md
