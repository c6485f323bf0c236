"""AVS metrics: legacy AVSBench modes and canonical batch-invariant variants over per-frame statistics."""

from avsprobe.metrics.binary import (
    BinaryFrameStats,
    binarize,
    binary_frame_stats,
    canonical_fscore,
    canonical_miou,
    frame_fpr,
    frame_fscore_curves,
    frame_iou,
    legacy_fpr,
    legacy_fscore,
    legacy_miou,
    object_coverage,
)
from avsprobe.metrics.semantic import SemanticFrameStats, avss_scores, semantic_frame_stats
from avsprobe.metrics.streaming import BinaryMetricAccumulator, SemanticMetricAccumulator

__all__ = [
    "BinaryFrameStats",
    "BinaryMetricAccumulator",
    "SemanticFrameStats",
    "SemanticMetricAccumulator",
    "avss_scores",
    "binarize",
    "binary_frame_stats",
    "canonical_fscore",
    "canonical_miou",
    "frame_fpr",
    "frame_fscore_curves",
    "frame_iou",
    "legacy_fpr",
    "legacy_fscore",
    "legacy_miou",
    "object_coverage",
    "semantic_frame_stats",
]
