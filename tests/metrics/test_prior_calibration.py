"""``prior_calibration`` on hand-made records, and end to end on a world v3 run."""

from __future__ import annotations

import pandas as pd
import pytest

from avsprobe.metrics.prior_calibration import prior_calibration
from tests.metrics.records_fixtures import negative_records

POSTERIOR = {"piano": 0.62, "guitar": 0.61, "drum": 0.47, "car": 0.35, "bell": 0.11}


def _background_records(coverage_by_class: dict[str, float], clips: int = 5) -> pd.DataFrame:
    return negative_records(coverage_by_class, condition="background", clips=clips)


def test_coverage_in_the_posteriors_order_is_calibrated() -> None:
    follows = prior_calibration(_background_records({k: v / 2 for k, v in POSTERIOR.items()}), POSTERIOR)
    assert follows.value == pytest.approx(1.0) and follows.ci_low == pytest.approx(1.0)
    reversed_order = prior_calibration(_background_records({k: 1 - v for k, v in POSTERIOR.items()}), POSTERIOR)
    assert reversed_order.value == pytest.approx(-1.0)
    # by hand: ranks of coverage (1, 3, 2, 4, 5) against ranks of the posterior (1, 2, 3, 4, 5): rho = 0.9
    swapped = {"piano": 0.9, "guitar": 0.5, "drum": 0.6, "car": 0.3, "bell": 0.1}
    assert prior_calibration(_background_records(swapped), POSTERIOR).value == pytest.approx(0.9)


def test_nothing_covered_has_no_correlation() -> None:
    assert prior_calibration(_background_records({k: 0.0 for k in POSTERIOR}), POSTERIOR).n_clips == 5
    assert pd.isna(prior_calibration(_background_records({k: 0.0 for k in POSTERIOR}), POSTERIOR).value)


def test_a_world_v3_run_records_the_posterior_and_reports_the_metric(tmp_path) -> None:  # noqa: ANN001
    import dataclasses

    from avsprobe.adapters import resolve_model
    from avsprobe.data.biaslab.spec import load_world_spec
    from avsprobe.data.biaslab.world import build_world
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import ProbeSuite
    from avsprobe.report.compute import compute_metrics, load_run
    from avsprobe.runner import run_suite

    spec = dataclasses.replace(load_world_spec(), ambiguous_fraction=0.4)
    world = build_world(tmp_path / "w3", spec=spec, clips=40, workers=2)
    run_suite(resolve_model("full"), ProbeSuite.single("negative"), open_data(tmp_path / "w3"), tmp_path / "r",
              limit=6, workers=0)
    run = load_run(tmp_path / "r")
    assert run.info["posterior_bed"] == world["posterior_bed"]
    # "full" covers every object entirely: a flat profile, no correlation to compute
    value = compute_metrics(run).headline["prior_calibration"]
    assert value.n_clips > 0 and pd.isna(value.value)


def test_a_model_covering_the_classes_the_bed_makes_likely_has_the_known_calibration_and_slope(tmp_path) -> None:  # noqa: ANN001
    """End to end on a world v3: a known-answer model covers every visible object of the classes whose
    posterior under the bed is above the median (the default world's: piano 0.60 and guitar 0.59 exceed 0.5;
    this small world's train split draws its own), and nothing else, whatever the audio. Per class its coverage is then
    1 or 0 under the bed and under the original audio alike, so ``prior_calibration`` is Spearman's rho of that
    0/1 profile with the posterior (tied ranks averaged) and ``prior_slope`` the least-squares slope of the
    profile on the training frequency; both computed here by hand."""
    import numpy as np

    from avsprobe.data.biaslab.world import build_world
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import ProbeSuite
    from avsprobe.report.compute import compute_metrics, load_run
    from avsprobe.runner import run_suite
    from tests.metrics.test_bias import VisibleObjects

    world = build_world(tmp_path / "w3", clips=60, workers=2)
    posterior = world["posterior_bed"]
    likely = {c for c, p in posterior.items() if p > float(np.median(list(posterior.values())))}
    assert 0 < len(likely) < len(posterior)
    run_suite(VisibleObjects(likely), ProbeSuite.single("negative"), open_data(tmp_path / "w3"), tmp_path / "r",
              limit=24, workers=0)
    run = load_run(tmp_path / "r")
    headline = compute_metrics(run).headline
    classes = sorted(posterior)  # the balanced test split shows every class
    profile = np.array([1.0 if c in likely else 0.0 for c in classes])

    def ranks(values: np.ndarray) -> np.ndarray:  # average ranks of ties, by hand
        order = values.argsort(kind="stable")
        out = np.empty(len(values))
        out[order] = np.arange(1, len(values) + 1)
        return np.array([out[values == v].mean() for v in values])

    rx, ry = ranks(profile), ranks(np.array([posterior[c] for c in classes]))
    rho = ((rx - rx.mean()) * (ry - ry.mean())).sum() / np.sqrt(((rx - rx.mean()) ** 2).sum()
                                                                * ((ry - ry.mean()) ** 2).sum())
    assert headline["prior_calibration"].value == pytest.approx(rho, abs=1e-12)
    frequency = np.array([run.info["train_sounding_frequency"][c] for c in classes])
    slope = ((frequency - frequency.mean()) * (profile - profile.mean())).sum() / ((frequency - frequency.mean()) ** 2).sum()
    assert headline["prior_slope"].value == pytest.approx(slope, abs=1e-12)
