"""Probes: controlled audio and visual interventions, and their registry.

Probe classes register by name as lazy ``"module:Class"`` entries, so listing them imports nothing heavy.
"""

from avsprobe.probes.base import Condition, Probe, ProbedSample
from avsprobe.registry import Registry

__all__ = ["PROBES", "Condition", "Probe", "ProbedSample"]

PROBES: Registry[type[Probe]] = Registry("probe")
for _name, _cls in [("intensity", "IntensityProbe"), ("semantic", "SemanticProbe"), ("mix", "MixProbe"),
                    ("negative", "NegativeProbe"), ("swap", "SwapProbe")]:
    PROBES.register(_name, f"avsprobe.probes.audio_probes:{_cls}")
PROBES.register("area", "avsprobe.probes.area:AreaProbe")
PROBES.register("audio_corruption", "avsprobe.probes.corruption:AudioCorruptionProbe")
PROBES.register("visual_corruption", "avsprobe.probes.corruption:VisualCorruptionProbe")
PROBES.register("temporal", "avsprobe.probes.temporal:TemporalProbe")
PROBES.register("distractor", "avsprobe.probes.distractor:DistractorProbe")
PROBES.freeze()
