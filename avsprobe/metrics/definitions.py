"""Named metric definitions: the id printed beside every number, and a pure function computing it.

Each definition's ``compute(logits, target) -> float`` takes logits and ground truth as the metric
expects (binary ``[N, H, W]``; semantic ``[N, K, H, W]`` with labels ``[N, H, W]``). Ids are stable data
keys: changing a definition means a new id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from avsprobe.errors import ConfigError
from avsprobe.registry import Registry

__all__ = ["MetricDefinition", "METRICS"]


@dataclass(frozen=True)
class MetricDefinition:
    """What a metric id means.

    Attributes:
        id: stable id (``"miou.canonical"``, ``"fscore.avsbench@bs4"``, ...).
        title: short human name.
        formula: one-line definition, printed in reports.
        kind: ``"binary"`` or ``"semantic"`` inputs.
        higher_is_better: direction of improvement.
        compute: ``(logits, target) -> float``.
    """

    id: str
    title: str
    formula: str
    kind: Literal["binary", "semantic"]
    higher_is_better: bool
    compute: Callable[[object, object], float]


def _check(entry: object) -> None:
    if not isinstance(entry, MetricDefinition):
        raise ConfigError(f"metric registry entries must be MetricDefinition, got {type(entry).__name__}")


METRICS: Registry[MetricDefinition] = Registry("metric", check=_check)


def _binary(fn: Callable[..., float], *, score_dtype: str = "float32", **kw: object
            ) -> Callable[[object, object], float]:
    def compute(logits: object, target: object) -> float:
        from avsprobe.metrics.binary import binary_frame_stats

        return fn(binary_frame_stats(logits, target, score_dtype=score_dtype), **kw)  # type: ignore[arg-type]

    return compute


def _semantic(key: str, **kw: object) -> Callable[[object, object], float]:
    def compute(logits: object, labels: object) -> float:
        from avsprobe.metrics.streaming import SemanticMetricAccumulator

        accumulator = SemanticMetricAccumulator()
        accumulator.update(logits, labels)
        return float(accumulator.compute(**kw)[key])  # type: ignore[arg-type]

    return compute


def _fpr_mean(stats: object) -> float:
    from avsprobe.metrics.binary import frame_fpr, order_free_mean

    return order_free_mean(frame_fpr(stats))  # type: ignore[arg-type]


def _register_builtins() -> None:
    from avsprobe.metrics import binary as b

    defs = [
        MetricDefinition(
            "miou.canonical", "mIoU (canonical)",
            "mean over frames of |P∩G|/|P∪G|; empty GT: 1 if P empty else 0; P = float32 sigmoid>0.5 "
            "whatever the logits' dtype",
            "binary", True, _binary(b.canonical_miou, empty_policy="strict")),
        MetricDefinition(
            "fscore.canonical", "F-score (canonical)",
            "max over 255 thresholds of the dataset-mean F_beta curve (beta^2=0.3), empty-GT frames skipped",
            "binary", True, _binary(b.canonical_fscore)),
        MetricDefinition(
            "fpr", "False-positive rate",
            "mean over frames of |P|/(H*W), ground truth taken as empty (AVSBench-Robust)",
            "binary", False, _binary(_fpr_mean)),
    ]
    for bs in (1, 2, 4):
        defs += [
            MetricDefinition(
                f"miou.avsbench@bs{bs}", f"mIoU (AVSBench legacy, batch {bs})",
                "mean over batches of mean_i I_i/(U_i+1e-7); empty GT scores TN/(H*W); sigmoid in the logits' dtype",
                "binary", True, _binary(b.legacy_miou, score_dtype="native", batch_size=bs)),
            MetricDefinition(
                f"fscore.avsbench@bs{bs}", f"F-score (AVSBench legacy, batch {bs})",
                "mean over batches of max_k mean_{i: G_i nonempty} F_ik; batch-size dependent; sigmoid in the "
                "logits' dtype",
                "binary", True, _binary(b.legacy_fscore, score_dtype="native", batch_size=bs)),
        ]
    defs += [
        MetricDefinition(
            "miou.avss", "Semantic mIoU (AVSS legacy)",
            "per-class IoU averaged over frames where the class occurs, summed, divided by all 71 classes",
            "semantic", True, _semantic("miou")),
        MetricDefinition(
            "fscore.avss", "Semantic F-score (AVSS legacy)",
            "per-class argmax F (beta^2=0.3) averaged over frames where the class occurs, divided by 71",
            "semantic", True, _semantic("fscore")),
        MetricDefinition(
            "miou.avss.present", "Semantic mIoU (classes present)",
            "as miou.avss but averaged only over classes that occur",
            "semantic", True, _semantic("miou", class_average="present")),
    ]
    for d in defs:
        METRICS.register(d.id, d)
    METRICS.freeze()


_register_builtins()
