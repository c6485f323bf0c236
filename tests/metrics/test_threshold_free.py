"""``sounding_auroc`` and the matched-recall comparison: by hand, against scikit-learn, and end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from avsprobe.metrics.binary import OBJECT_THRESHOLDS
from avsprobe.metrics.threshold_free import (
    matched_recall,
    operating_curve,
    sounding_auroc,
    weighted_auroc,
)
from avsprobe.records import object_values


def test_weighted_auroc_equals_scikit_learn_with_ties_and_weights() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    scores = rng.integers(0, 6, 80) / 5.0  # many ties
    positive = rng.random(80) < 0.4
    weights = rng.integers(0, 4, 80).astype(float)
    assert weighted_auroc(scores, positive) == pytest.approx(roc_auc_score(positive, scores))
    assert weighted_auroc(scores, positive, weights) == pytest.approx(
        roc_auc_score(positive, scores, sample_weight=weights))
    assert math.isnan(weighted_auroc(scores, np.zeros(80, bool)))


def _baseline(objects: list[tuple[str, str, bool, float]], *, curves: dict[str, list[int]] | None = None,
              areas: dict[str, int] | None = None) -> pd.DataFrame:
    """Negative-probe original-audio rows: ``(clip, class, sounding, score)`` per object, one frame a clip."""
    rows = []
    for clip in sorted({o[0] for o in objects}):
        mine = [o for o in objects if o[0] == clip]
        names = {f"{clip}-{i}": o[1] for i, o in enumerate(mine)}
        applied = {"object_classes": names, "silent_objects": [f"{clip}-{i}" for i, o in enumerate(mine) if not o[2]]}
        rows.append({"sample_id": clip, "probe": "negative", "condition_label": "original", "status": "ok",
                     "annotated": True, "is_baseline": True, "frame": 0, "applied": json.dumps(applied),
                     "object_score": json.dumps({f"{clip}-{i}": o[3] for i, o in enumerate(mine)}),
                     "object_covered_at": json.dumps({n: (curves or {}).get(n, []) for n in names}),
                     "object_area": json.dumps({n: (areas or {}).get(n, 0) for n in names})})
    return pd.DataFrame(rows)


def test_sounding_auroc_by_hand() -> None:
    # piano: sounding 0.9, 0.8; silent 0.1, 0.85 -> pairs won 3 of 4 = 0.75; bell: one tie -> 0.5
    records = _baseline([("a", "piano", True, 0.9), ("a", "piano", False, 0.1), ("b", "piano", True, 0.8),
                         ("b", "piano", False, 0.85), ("c", "bell", True, 0.3), ("d", "bell", False, 0.3),
                         ("d", "car", True, 0.7)])  # car has no silent object: left out
    value = sounding_auroc(records)
    assert value.by_group == {"piano": pytest.approx(0.75), "bell": pytest.approx(0.5)}
    assert value.value == pytest.approx(0.625) and value.n_clips == 4
    assert value.ci_low <= value.value <= value.ci_high


def test_sounding_auroc_is_threshold_free() -> None:
    """Squashing every probability (a model that predicts less) leaves the AUROC unchanged."""
    objects = [(f"c{i}", "dog", i % 2 == 0, 0.2 + 0.07 * i) for i in range(10)]
    squashed = [(c, k, s, score ** 3 / 4) for c, k, s, score in objects]
    assert sounding_auroc(_baseline(objects)).value == pytest.approx(sounding_auroc(_baseline(squashed)).value)


def _curve(start_pixels: int, slope: int) -> list[int]:
    return [max(start_pixels - slope * i, 0) for i in range(len(OBJECT_THRESHOLDS))]


def test_matched_recall_moves_each_model_to_the_lower_recall() -> None:
    half = OBJECT_THRESHOLDS.index(0.5)
    # model A: sounding object of 100 px covered 100 - 2 i at threshold i, silent 100 px covered 60 - i;
    # model B: sounding covered 100 - 3 i (recall 0.28 at 0.5), silent 40 - i (0.16 at 0.5)
    areas = {"x-0": 100, "x-1": 100}
    a = _baseline([("x", "dog", True, 0.0), ("x", "dog", False, 0.0)],
                  curves={"x-0": _curve(100, 2), "x-1": _curve(60, 1)}, areas=areas)
    b = _baseline([("x", "dog", True, 0.0), ("x", "dog", False, 0.0)],
                  curves={"x-0": _curve(100, 3), "x-1": _curve(40, 1)}, areas=areas)
    target, points = matched_recall({"A": operating_curve(a), "B": operating_curve(b)})
    assert target == pytest.approx((100 - 3 * half) / 100)  # B's recall at 0.5: 0.28
    by_model = {p.model: p for p in points}
    # A reaches 0.28 where 100 - 2 i = 28: i = 36, threshold 0.74; its silent coverage there (60 - 36) / 100
    assert by_model["A"].threshold == pytest.approx(OBJECT_THRESHOLDS[36])
    assert by_model["A"].silent_at_matched.value == pytest.approx(0.24)
    assert by_model["A"].recall_at_half == pytest.approx(0.52) and by_model["A"].silent_at_half == pytest.approx(0.36)
    assert by_model["B"].threshold == pytest.approx(0.5)
    assert by_model["B"].silent_at_matched.value == pytest.approx((40 - half) / 100)
    # a constant output (nothing predicted: recall 0 at every threshold) cannot move; it does not set the target
    empty = _baseline([("x", "dog", True, 0.0), ("x", "dog", False, 0.0)],
                      curves={"x-0": [0] * len(OBJECT_THRESHOLDS), "x-1": [0] * len(OBJECT_THRESHOLDS)}, areas=areas)
    again, points = matched_recall({"A": operating_curve(a), "B": operating_curve(b), "empty": operating_curve(empty)})
    assert again == pytest.approx(target) and {p.model for p in points} == {"A", "B"}
    # a model that hears almost nothing: recall 0.80 -> 0.32 at 0.5 -> 0; another that never comes below 0.60
    # (100 - i px, floored at 60): 0.32 is reached by one model, floor's 0.76 by both, so 0.76 is shared
    deaf = _baseline([("x", "dog", True, 0.0), ("x", "dog", False, 0.0)],
                     curves={"x-0": _curve(80, 2), "x-1": _curve(20, 0)}, areas=areas)
    floor = _baseline([("x", "dog", True, 0.0), ("x", "dog", False, 0.0)],
                      curves={"x-0": [max(100 - i, 60) for i in range(len(OBJECT_THRESHOLDS))], "x-1": _curve(40, 0)},
                      areas=areas)
    target, points = matched_recall({"deaf": operating_curve(deaf), "floor": operating_curve(floor)})
    assert target == pytest.approx(0.76)
    by_model = {p.model: p for p in points}
    assert by_model["deaf"].threshold == pytest.approx(OBJECT_THRESHOLDS[2])  # 80 - 2 i = 76
    assert by_model["floor"].threshold == pytest.approx(0.5)  # 100 - i = 76 at i = 24
    assert by_model["deaf"].silent_at_matched.value == pytest.approx(0.20)
    # with a second model like floor, 0.76 is reached by three models and a much deafer one's 0.06 by two: the
    # deafer model is left out rather than pull the target down
    deafer = _baseline([("x", "dog", True, 0.0), ("x", "dog", False, 0.0)],
                       curves={"x-0": _curve(30, 1), "x-1": _curve(20, 0)}, areas=areas)
    target, points = matched_recall({"deaf": operating_curve(deaf), "floor": operating_curve(floor),
                                     "floor again": operating_curve(floor), "deafer": operating_curve(deafer)})
    assert target == pytest.approx(0.76) and {p.model for p in points} == {"deaf", "floor", "floor again"}
    # clips without a silent object (Co-AVS: every object sounds) give no comparison
    all_sounding = _baseline([("x", "dog", True, 0.0)], curves={"x-0": _curve(100, 2)}, areas={"x-0": 100})
    assert matched_recall({"A": operating_curve(all_sounding), "B": operating_curve(all_sounding)})[1] == []


def test_records_carry_object_scores_and_curves_end_to_end(tmp_path) -> None:  # noqa: ANN001
    from avsprobe.adapters import resolve_model
    from avsprobe.data.biaslab.world import build_world
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import ProbeSuite
    from avsprobe.report.compute import compute_metrics, load_run
    from avsprobe.results import load_records
    from avsprobe.runner import run_suite

    build_world(tmp_path / "w", clips=30, workers=1)
    for model in ("oracle", "full"):
        run_suite(resolve_model(model), ProbeSuite.single("negative"), open_data(tmp_path / "w"),
                  tmp_path / model, limit=10, workers=0)
    oracle, full = (compute_metrics(load_run(tmp_path / m)).headline["sounding_auroc"] for m in ("oracle", "full"))
    assert oracle.value == pytest.approx(1.0) and full.value == pytest.approx(0.5)
    records = load_records(tmp_path / "oracle")
    rows = records[(records.status == "ok") & (records.object_names.map(len) > 0)]
    half = OBJECT_THRESHOLDS.index(0.5)
    checked = 0
    for coverage, area, curves in zip(*(object_values(rows, c) for c in ("coverage", "object_area", "object_covered_at")),
                                      strict=True):
        for name, counts in curves.items():
            checked += 1
            if area[name]:  # the curve at 0.5 is the coverage the records score
                assert counts[half] / area[name] == pytest.approx(coverage[name])
    assert checked > 0 and operating_curve(records) is not None
