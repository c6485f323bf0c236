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
from avsprobe.metrics import binary as b
from avsprobe.metrics.binary import binary_frame_stats, frame_fpr, order_free_mean
from avsprobe.metrics.streaming import SemanticMetricAccumulator
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
        source: the code a protocol metric follows, as ``repository@commit:path`` (``avsprobe`` for the
            canonical definitions of this package).
    """

    id: str
    title: str
    formula: str
    kind: Literal["binary", "semantic"]
    higher_is_better: bool
    compute: Callable[[object, object], float]
    source: str = "avsprobe"


AVSBENCH_BINARY = "OpenNLPLab/AVSBench@f7414af:avs_scripts/avs_s4/utils/utility.py (mask_iou, Eval_Fmeasure)"
AVSBENCH_AVSS = "OpenNLPLab/AVSBench@f7414af:avss/utils/compute_color_metrics.py (calc_color_miou_fscore)"
ROBUST_FPR = "jiali-home/AVSBench-Robust@03e925d:training_evaluation/code/AVSegFormer/scripts/s4/test.py (calculate_FPR)"


def _check(entry: object) -> None:
    if not isinstance(entry, MetricDefinition):
        raise ConfigError(f"metric registry entries must be MetricDefinition, got {type(entry).__name__}")


METRICS: Registry[MetricDefinition] = Registry("metric", check=_check)


def _binary(fn: Callable[..., float], *, score_dtype: str = "float32", **kw: object
            ) -> Callable[[object, object], float]:
    def compute(logits: object, target: object) -> float:
        return fn(binary_frame_stats(logits, target, score_dtype=score_dtype), **kw)  # type: ignore[arg-type]

    return compute


def _semantic(key: str, **kw: object) -> Callable[[object, object], float]:
    def compute(logits: object, labels: object) -> float:
        accumulator = SemanticMetricAccumulator()
        accumulator.update(logits, labels)
        return float(accumulator.compute(**kw)[key])  # type: ignore[arg-type]

    return compute


def _fpr_mean(stats: object) -> float:
    return order_free_mean(frame_fpr(stats))  # type: ignore[arg-type]


def _mean_of(*parts: Callable[..., float], **kw: object) -> Callable[[object], float]:
    """The mean of several statistics of the same frame statistics (J&F = (J + F) / 2)."""
    def mean(stats: object) -> float:
        return sum(p(stats, **kw) for p in parts) / len(parts)  # type: ignore[arg-type]

    return mean


def _register_builtins() -> None:
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
            "binary", False, _binary(_fpr_mean), ROBUST_FPR + ", without its batches"),
        MetricDefinition(
            "miou.pooled", "IoU (pooled over the data set)",
            "sum over frames of |P∩G| / sum over frames of |P∪G| (one dataset-level IoU, as per-dataset "
            "segmentation IoU; frames weigh by their object size); P = float32 sigmoid>0.5",
            "binary", True, _binary(b.pooled_iou)),
        MetricDefinition(
            "jandf.canonical", "J&F (canonical)",
            "(miou.canonical + fscore.canonical) / 2. In AVS code J is AVSBench's mask IoU and F its F_beta "
            "(beta^2=0.3, max over 255 thresholds), not DAVIS's boundary F; papers that report J&F average the two",
            "binary", True, _binary(_mean_of(b.canonical_miou, b.canonical_fscore))),
    ]
    for bs in (1, 2, 4):
        defs += [
            MetricDefinition(
                f"miou.avsbench@bs{bs}", f"mIoU (AVSBench legacy, batch {bs})",
                "mean over batches of mean_i I_i/(U_i+1e-7); empty GT scores TN/(H*W); sigmoid in the logits' dtype",
                "binary", True, _binary(b.legacy_miou, score_dtype="native", batch_size=bs), AVSBENCH_BINARY),
            MetricDefinition(
                f"fscore.avsbench@bs{bs}", f"F-score (AVSBench legacy, batch {bs})",
                "mean over batches of max_k mean_{i: G_i nonempty} F_ik; batch-size dependent; sigmoid in the "
                "logits' dtype",
                "binary", True, _binary(b.legacy_fscore, score_dtype="native", batch_size=bs), AVSBENCH_BINARY),
            MetricDefinition(
                f"jandf.avsbench@bs{bs}", f"J&F (AVSBench legacy, batch {bs})",
                f"(miou.avsbench@bs{bs} + fscore.avsbench@bs{bs}) / 2: J and F as the AVSBench test loop computes "
                "them (GeWu-Lab/Ref-AVS@82eb688:utils/metric/utility.py computes the same two, J at sigmoid > 0.4)",
                "binary", True, _binary(_mean_of(b.legacy_miou, b.legacy_fscore, batch_size=bs), score_dtype="native"),
                AVSBENCH_BINARY),
        ]
    defs += [
        MetricDefinition(
            "miou.avss", "Semantic mIoU (AVSS legacy)",
            "per-class IoU averaged over frames where the class occurs, summed, divided by all 71 classes",
            "semantic", True, _semantic("miou"), AVSBENCH_AVSS),
        MetricDefinition(
            "fscore.avss", "Semantic F-score (AVSS legacy)",
            "per-class argmax F (beta^2=0.3) averaged over frames where the class occurs, divided by 71",
            "semantic", True, _semantic("fscore"), AVSBENCH_AVSS),
        MetricDefinition(
            "miou.avss.present", "Semantic mIoU (classes present)",
            "as miou.avss but averaged only over classes that occur",
            "semantic", True, _semantic("miou", class_average="present")),
    ]
    for d in defs:
        METRICS.register(d.id, d)
    METRICS.freeze()


_register_builtins()
