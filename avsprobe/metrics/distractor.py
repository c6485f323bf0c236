"""The silent moving distractor (the ``distractor`` probe): how much of it a model segments, and what it costs.

- ``distractor_coverage``: per clip, the mean over annotated frames of the share of the distractor's visible
  pixels predicted; then over clips (0: the model leaves the silent object out);
- ``distractor_miou_drop``: per clip, IoU on the original clip minus IoU with the distractor, paired by clip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from avsprobe.metrics import bias
from avsprobe.metrics.catalog import BiasMetric, Contribution, register
from avsprobe.records import object_values

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["distractor_coverage_per_clip", "distractor_drop_per_clip"]


def distractor_coverage_per_clip(records: pd.DataFrame) -> pd.Series:
    """Per clip: the mean coverage of the distractor over the annotated frames it is in."""
    import pandas as pd

    rows = bias._ok(records, "distractor")
    rows = rows[rows.annotated & (rows.condition_label == "distractor")]
    coverage = pd.Series([c.get("distractor") for c in object_values(rows, "coverage")], index=rows.index, dtype=float)
    return rows.assign(share=coverage).groupby("sample_id")["share"].mean().dropna()


def distractor_drop_per_clip(records: pd.DataFrame) -> pd.Series:
    """Per clip: IoU without the distractor minus IoU with it."""
    import pandas as pd

    table = bias._clip_table(bias._ok(records, "distractor"), "iou")
    if not {"original", "distractor"} <= set(table.columns):
        return pd.Series(dtype=float)
    pair = table[["original", "distractor"]].dropna()
    return pair["original"] - pair["distractor"]


def _compute(records: pd.DataFrame, info: dict[str, Any], headline: dict) -> Contribution:
    return Contribution({"distractor_coverage": bias._metric("distractor_coverage",
                                                             distractor_coverage_per_clip(records).to_numpy()),
                         "distractor_miou_drop": bias._metric("distractor_miou_drop",
                                                              distractor_drop_per_clip(records).to_numpy())})


register(BiasMetric(
    "distractor_coverage", "with a moving, visible, silent object of the class the world makes most likely to sound "
    "painted over the clip, the share of its pixels predicted (frame mean, then clip mean; 0: the model leaves the "
    "silent object out)", False, "fraction of the distractor", ("distractor",),
    per_clip=distractor_coverage_per_clip, compute=_compute, order=320.0))
register(BiasMetric(
    "distractor_miou_drop", "mIoU on the original clip minus mIoU with the silent distractor painted in, paired by "
    "clip", False, "IoU difference", ("distractor",), per_clip=distractor_drop_per_clip, compute=_compute,
    order=321.0))
