"""``phi_marks``: how often a model's perception module (Phi) switches class queries on where nothing sounds.

Active-query models segment through the queries Phi marks from the audio. Where Phi marks a class under
digital silence, the bed alone or noise, the mask that follows is Phi's doing, not a visual prior, and the
prior metrics under those conditions measure Phi. Runs of such models record Phi's marks per frame (the
adapter's ``frame_notes``: ``phi_marks``, a JSON list of class names); this metric is the share of frames of
the negative probe's no-source conditions where Phi marks any class, per condition in the groups and per
class in each group's ``by_group``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.metrics import bias
from avsprobe.metrics.catalog import BiasMetric, Contribution, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NO_SOURCE_CONDITIONS", "phi_mark_rates"]

NO_SOURCE_CONDITIONS = ("silence", "background", "white", "pink")
"""Negative conditions where no class sounds, so Phi should mark nothing (off-screen audio names a class)."""


def _per_clip_any(rows: pd.DataFrame) -> pd.Series:
    marked = rows.phi_marks.map(lambda text: bool(json.loads(text)))
    return marked.groupby(rows.sample_id).mean()


def phi_mark_rates(records: pd.DataFrame) -> dict[str, bias.MetricValue]:
    """``{"headline": ..., condition: ...}``: the share of frames where Phi marks any class, over the no-source
    conditions together and per negative condition (``by_group``: per class), clip-bootstrap intervals; empty
    where the records carry no marks."""
    rows = bias.ok_rows(records, "negative")
    if "phi_marks" not in rows.columns:
        return {}
    rows = rows[rows.phi_marks.notna()]
    if rows.empty:
        return {}
    out = {}
    quiet = rows[rows.condition_label.isin(NO_SOURCE_CONDITIONS)]
    if not quiet.empty:
        out["headline"] = bias._metric("phi_marks", _per_clip_any(quiet).to_numpy())
    for label, part in rows.groupby("condition_label", sort=False):
        lists = [json.loads(text) for text in part.phi_marks]
        classes = sorted({c for marks in lists for c in marks})
        per_class = {c: float(np.mean([c in marks for marks in lists])) for c in classes}
        out[str(label)] = bias._metric(f"phi_marks@{label}", _per_clip_any(part).to_numpy(), by_group=per_class)
    return out


def _compute(records: pd.DataFrame, info: dict[str, Any], headline: dict[str, bias.MetricValue]) -> Contribution:
    rates = phi_mark_rates(records)
    if not rates:
        return Contribution()
    top = rates.pop("headline", None)
    return Contribution({} if top is None else {"phi_marks": top}, {"phi_marks": rates})


register(BiasMetric(
    "phi_marks", "models with a perception module (active queries): the share of frames under digital silence, the "
    "bed alone and white or pink noise where Phi marks any class (per condition, and per class in report.json); "
    "where it is high, prior metrics under those conditions measure Phi, not a visual prior", False,
    "fraction of frames", ("negative",), needs_columns=("phi_marks",), compute=_compute, order=138.0))
