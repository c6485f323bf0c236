"""Hand-made negative-probe records for metric tests: one object per class, covered as given."""

from __future__ import annotations

import json

import pandas as pd


def negative_records(coverage_by_class: dict[str, float], *, condition: str, clips: int,
                     score_by_class: dict[str, float] | None = None) -> pd.DataFrame:
    """``clips`` clips, each one annotated frame of the negative probe's ``condition`` with one object per class
    covered as given (under ``original``, every object is silent: what ``silent_object_coverage`` scores), and
    with ``score_by_class`` its mean predicted probability (``object_score``)."""
    baseline = condition == "original"
    rows = []
    for c in range(clips):
        classes = {f"o-{name}": name for name in coverage_by_class}
        coverage = {f"o-{name}": value for name, value in coverage_by_class.items()}
        applied = {"object_classes": classes, **({"silent_objects": sorted(classes)} if baseline else {})}
        rows.append({"sample_id": f"c{c}", "probe": "negative", "condition_label": condition, "status": "ok",
                     "annotated": True, "is_baseline": baseline, "frame": 0, "coverage": json.dumps(coverage),
                     "applied": json.dumps(applied),
                     **({"object_score": json.dumps({f"o-{k}": v for k, v in score_by_class.items()})}
                        if score_by_class is not None else {})})
    return pd.DataFrame(rows)
