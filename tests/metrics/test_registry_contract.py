"""Contract tests over every registered metric definition."""

from __future__ import annotations

import math

import pytest
import torch

from avsprobe.metrics.definitions import METRICS, MetricDefinition


@pytest.mark.parametrize("metric_id", METRICS.names())
def test_every_metric_definition_computes_a_bounded_value(metric_id: str) -> None:
    d = METRICS.get(metric_id)
    assert isinstance(d, MetricDefinition) and d.id == metric_id and d.formula
    g = torch.Generator().manual_seed(0)
    if d.kind == "binary":
        target = (torch.rand(10, 8, 8, generator=g) > 0.5).float()
        logits = torch.randn(10, 8, 8, generator=g)
        perfect = (target * 2 - 1) * 30
    else:
        target = torch.randint(0, 71, (4, 8, 8), generator=g)
        logits = torch.randn(4, 71, 8, 8, generator=g)
        perfect = torch.nn.functional.one_hot(target, 71).permute(0, 3, 1, 2).float() * 30
    value = d.compute(logits, target)
    assert math.isfinite(value) and 0.0 <= value <= 1.0
    best = d.compute(perfect, target)
    if d.higher_is_better:
        assert best >= value
    else:
        assert best <= value


def test_registry_is_frozen() -> None:
    from avsprobe.errors import ConfigError

    with pytest.raises(ConfigError):
        METRICS.register("x", "y:z")
