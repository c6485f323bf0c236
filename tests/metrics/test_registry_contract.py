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


def test_every_metric_names_its_source() -> None:
    import re

    pinned = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{7,40}:\S+")
    for metric_id in METRICS.names():
        d = METRICS.get(metric_id)
        assert d.source == "avsprobe" or pinned.match(d.source), (metric_id, d.source)


def test_every_protocol_column_is_catalogued_with_a_direction_and_a_source() -> None:
    import re

    from avsprobe.metrics.protocols import PROTOCOL_METRICS
    from avsprobe.report.build import PROTOCOL_TITLES

    catalogued = {m.id: m for m in PROTOCOL_METRICS}
    for protocol, (_, _, columns) in PROTOCOL_TITLES.items():
        for column in columns:
            m = catalogued[f"{protocol}.{column}"]
            assert isinstance(m.higher_is_better, bool) and m.definition
            assert m.source == "avsprobe" or re.match(r"^[\w.-]+/[\w.-]+@[0-9a-f]{7,40}:\S+", m.source), m.id
    assert len(catalogued) == sum(len(c) for _, _, c in PROTOCOL_TITLES.values())


def test_pooled_iou_and_jandf_by_hand() -> None:
    target = torch.zeros(2, 4, 4)
    target[0, :2] = 1  # 8 pixels
    target[1, 0, 0] = 1  # 1 pixel
    logits = torch.full((2, 4, 4), -10.0)
    logits[0, :1] = 10  # 4 of the 8
    logits[1, :2] = 10  # 8 predicted, 1 right
    # pooled: (4 + 1) / (8 + 8) ; per frame: 0.5 and 1/8
    assert METRICS.get("miou.pooled").compute(logits, target) == pytest.approx(5 / 16)
    assert METRICS.get("miou.canonical").compute(logits, target) == pytest.approx((0.5 + 0.125) / 2)
    for mode in ("canonical", "avsbench@bs1"):
        j = METRICS.get(f"miou.{mode}").compute(logits, target)
        f = METRICS.get(f"fscore.{mode}").compute(logits, target)
        assert METRICS.get(f"jandf.{mode}").compute(logits, target) == pytest.approx((j + f) / 2, abs=1e-12)
