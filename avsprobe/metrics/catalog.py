"""The bias metrics of reports, each registered once: what it means, which way is better, what it needs and
how it is computed.

``avsprobe report`` computes a run's metrics by walking :data:`CATALOG` in order; its definitions list, the
LaTeX tables' families, the per-clip metrics that seeds and paired differences use, ``avsprobe metrics`` and the
README's metric table all read the catalog. Adding a metric is one :func:`register` call (in its own module
under ``avsprobe/metrics/``, imported by :func:`catalog`) and its test.

A metric's ``compute(records, info, headline)`` returns a :class:`Contribution`: headline values, grouped
values (per level, class, condition) and protocol sections. Metrics that come out of one computation (``miou``
and ``fscore``; the four ``fpr_*``) share the function, which runs once per run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from avsprobe.errors import ConfigError
from avsprobe.metrics.bias import MetricValue, _metric

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BiasMetric", "Contribution", "FAMILIES", "from_info", "register", "catalog", "get", "direction",
           "with_arrow", "per_clip_metrics",
           "paired_difference", "markdown_table"]

FAMILIES = {
    "overall": "Segmentation with the original audio",
    "audio": "Audio priming and mixing",
    "prior": "Visual prior, in distribution",
    "ood": "Out-of-distribution robustness (negative audio no training clip resembles)",
}
"""The LaTeX table families, in the order the tables come."""

PROBES = ("intensity", "semantic", "mix", "negative", "swap", "area", "audio_corruption", "visual_corruption",
          "temporal", "distractor")


@dataclass
class Contribution:
    """What one computation adds to a run's metrics."""

    headline: dict[str, MetricValue] = field(default_factory=dict)
    groups: dict[str, dict[str, MetricValue]] = field(default_factory=dict)
    protocols: dict[str, dict[str, dict[str, MetricValue]]] = field(default_factory=dict)
    missed_levels: dict[str, int] = field(default_factory=dict)


Compute = Callable[["pd.DataFrame", dict[str, Any], dict[str, MetricValue]], Contribution]


def from_info(name: str, key: str, value: Callable[[pd.DataFrame, Any], MetricValue]) -> Compute:
    """The computation of one headline metric ``value(records, info[key])`` from a ``run.json`` entry (the
    metric's ``needs_info`` holds ``key``, so it runs only where the entry is there)."""
    return lambda records, info, headline: Contribution({name: value(records, info[key])})


@dataclass(frozen=True)
class BiasMetric:
    """One reported metric.

    Attributes:
        name: the report's name (``intensity_gap``).
        definition: one sentence, printed in every report.
        higher_is_better: the direction of improvement; None where neither is (a correlation, a difference).
        unit: what the number is (``IoU``, ``fraction of the frame``, ``Spearman rho`` ...).
        probes: the probes that must have run (all of them).
        semantic_only: only for semantic (class-logit) models.
        needs_info: ``run.json`` keys it needs (``train_sounding_frequency``, ``posterior_bed``).
        needs_columns: record columns only some models write (``phi_marks``: models with a perception module).
        family: the LaTeX table it belongs to (a key of :data:`FAMILIES`) and its row there, or None.
        per_clip: per-clip values (``Series`` by ``sample_id``) where the metric is their mean, so seeds and
            models compare clip by clip; None otherwise.
        compute: the computation that gives it (None: computed across runs by the report, as ``coavs_drop``).
        source: the code it follows (``avsprobe``: our own definition).
        order: its place in reports (ascending).
    """

    name: str
    definition: str
    higher_is_better: bool | None
    unit: str
    probes: tuple[str, ...] = ()
    semantic_only: bool = False
    needs_info: tuple[str, ...] = ()
    needs_columns: tuple[str, ...] = ()
    family: tuple[str, int] | None = None
    per_clip: Callable[[pd.DataFrame], pd.Series] | None = None
    compute: Compute | None = None
    source: str = "avsprobe"
    order: float = 0.0

    def applies(self, probes: set[str], output: str, info: dict[str, Any] | None = None,
                columns: set[str] | None = None) -> bool:
        """Whether a run with these probes, output kind, ``run.json`` and (where given) record columns supports
        the metric."""
        return (set(self.probes) <= probes and (not self.semantic_only or output == "semantic")
                and all((info or {}).get(key) for key in self.needs_info)
                and (columns is None or set(self.needs_columns) <= columns))


_REGISTERED: dict[str, BiasMetric] = {}
_MODULES = ("avsprobe.metrics.catalog_builtin", "avsprobe.metrics.prior_slope", "avsprobe.metrics.prior_calibration",
            "avsprobe.metrics.prior_score_calibration", "avsprobe.metrics.threshold_free", "avsprobe.metrics.phi_marks",
            "avsprobe.metrics.robustness", "avsprobe.metrics.temporal", "avsprobe.metrics.distractor")
"""Modules whose import registers metrics (a new metric's module joins this list)."""


def _check(metric: BiasMetric) -> None:
    if not metric.name or not metric.definition or not metric.unit:
        raise ConfigError(f"bias metric {metric.name!r} needs a name, a definition and a unit")
    if metric.higher_is_better not in (True, False, None):
        raise ConfigError(f"bias metric {metric.name!r}: higher_is_better must be True, False or None")
    unknown = set(metric.probes) - set(PROBES)
    if unknown:
        raise ConfigError(f"bias metric {metric.name!r} needs unknown probes {sorted(unknown)}")
    if metric.family is not None and metric.family[0] not in FAMILIES:
        raise ConfigError(f"bias metric {metric.name!r}: family {metric.family[0]!r} is not one of {sorted(FAMILIES)}")


def register(metric: BiasMetric) -> BiasMetric:
    """Add a metric (once: a second registration of a name is an error)."""
    _check(metric)
    if metric.name in _REGISTERED:
        raise ConfigError(f"bias metric {metric.name!r} is registered twice")
    _REGISTERED[metric.name] = metric
    return metric


def catalog() -> list[BiasMetric]:
    """Every registered metric, in report order."""
    for module in _MODULES:
        importlib.import_module(module)
    return sorted(_REGISTERED.values(), key=lambda m: m.order)


def get(name: str) -> BiasMetric:
    """One metric by name."""
    for metric in catalog():
        if metric.name == name:
            return metric
    raise ConfigError(f"unknown bias metric {name!r}")


def direction(name: str) -> bool | None:
    """Whether higher is better for the metric ``name`` (None where neither is, or for a name the catalog does
    not know, such as a metric of a newer report)."""
    for metric in catalog():
        if metric.name == name:
            return metric.higher_is_better
    return None


def with_arrow(name: str) -> str:
    """``name`` followed by its direction, `` ↑`` (higher is better) or `` ↓`` (lower), where it has one."""
    return name + {True: " ↑", False: " ↓", None: ""}[direction(name)]


def per_clip_metrics() -> dict[str, Callable[[pd.DataFrame], pd.Series]]:
    """The metrics that are means of per-clip values, in report order: name -> per-clip function."""
    return {m.name: m.per_clip for m in catalog() if m.per_clip is not None}


def paired_difference(name: str, records_a: pd.DataFrame, records_b: pd.DataFrame) -> MetricValue:
    """Model A minus model B on the per-clip metric ``name`` over the clips both saw, with a paired bootstrap
    interval (the same clips resampled for both)."""
    per_clip = get(name).per_clip
    if per_clip is None:
        raise ConfigError(f"bias metric {name!r} is not a mean of per-clip values; it cannot be paired clip by clip")
    a, b = per_clip(records_a), per_clip(records_b)
    shared = a.index.intersection(b.index)
    return _metric(f"{name} (A - B)", (a[shared] - b[shared]).to_numpy())


def markdown_table() -> str:
    """The catalog as a Markdown table (the README's metric table is this text)."""
    arrow = {True: "higher", False: "lower", None: "–"}
    lines = ["| metric | better | unit | needs | definition |", "|---|---|---|---|---|"]
    for m in catalog():
        needs = ", ".join([*m.probes, *(f"`{key}`" for key in m.needs_info),
                           *(f"records' `{c}`" for c in m.needs_columns)]) or "any run"
        if m.semantic_only:
            needs += " (semantic models)"
        text = m.definition.replace("|", "\\|")
        lines.append(f"| `{m.name}` | {arrow[m.higher_is_better]} | {m.unit} | {needs} | {text} |")
    return "\n".join(lines)
