"""Probe suites: named, versioned, seeded sets of probes read from TOML files in ``probes/``.

A suite file::

    name = "intensity"
    version = 1
    seed = 0
    [[probes]]
    probe = "intensity"
    levels_lufs = [-53, -47, -41, -35, -29, -23]

Every random choice of a job comes from ``rng_for(seed, sample_id, condition_id)``, so any probed clip
regenerates alone, in any order or subset of jobs.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from avsprobe.errors import ConfigError
from avsprobe.fileio import check_path_component
from avsprobe.probes import PROBES
from avsprobe.probes.base import Condition, Probe
from avsprobe.resources import probes_dir, read_toml
from avsprobe.seeding import rng_for

__all__ = ["ProbeSpec", "ProbeSuite", "Job", "load_suite", "list_suites", "make_probe"]

# Probes may take these from the data source rather than from the suite file.


@dataclass(frozen=True)
class ProbeSpec:
    """One probe of a suite: its registry name and keyword parameters."""

    probe: str
    params: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Job:
    """One (probe, sample, condition) to run."""

    probe: Probe
    sample_id: str
    condition: Condition


def make_probe(name: str, params: dict[str, Any] | None = None, **context: Any) -> Probe:
    """Build a registered probe from suite parameters, adding context values (``bank``, ``classes``) it accepts.

    Raises:
        ConfigError: unknown probe (with did-you-mean) or parameter (with the accepted ones).
    """
    cls = PROBES.get(name)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    params = dict(params or {})
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ConfigError(f"probe {name!r} has no parameter {', '.join(unknown)}; it takes {', '.join(sorted(accepted))}")
    for key, value in context.items():
        if key in accepted and key not in params and value is not None:
            params[key] = value
    try:
        return cls(**params)
    except ConfigError as exc:
        raise ConfigError(f"probe {name!r}: {exc}") from None
    except (TypeError, ValueError) as exc:  # a string where a number or list belongs, and the like
        given = ", ".join(f"{k} = {v!r}" for k, v in params.items() if k in (set(params) - set(context)))
        raise ConfigError(f"probe {name!r}: bad parameter value ({given}): {exc}") from None


@dataclass(frozen=True)
class ProbeSuite:
    """A named, versioned, seeded list of probes."""

    name: str
    version: int
    seed: int
    probes: tuple[ProbeSpec, ...]
    description: str = ""

    def __post_init__(self) -> None:
        check_path_component(self.name, "suite name")  # it becomes the run folder OUT/<model>/<suite>
        names = [s.probe for s in self.probes]
        if len(set(names)) != len(names):
            raise ConfigError(f"suite {self.name!r} lists a probe twice ({', '.join(names)}); their conditions would "
                              "share ids")

    @classmethod
    def from_file(cls, path: str | Path) -> ProbeSuite:
        p = Path(path)
        raw = read_toml(p, "suite file")
        if not isinstance(raw.get("probes"), list) or not all(isinstance(e, dict) for e in raw["probes"]):
            raise ConfigError(f"suite {p}: 'probes' must be a list of [[probes]] tables")
        try:
            specs = tuple(ProbeSpec(str(e["probe"]), {k: v for k, v in e.items() if k != "probe"}) for e in raw["probes"])
            suite = cls(str(raw["name"]), int(raw["version"]), int(raw["seed"]), specs, str(raw.get("description", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"suite {p} needs name, version, seed and [[probes]] with a 'probe' key ({exc})") from None
        for spec in suite.probes:
            make_probe(spec.probe, spec.params, bank=None)  # validate names and parameters now
        return suite

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ProbeSuite:
        """The inverse of ``to_dict`` (what ``run.json`` stores)."""
        specs = tuple(ProbeSpec(str(e["probe"]), {k: v for k, v in e.items() if k != "probe"}) for e in raw["probes"])
        return cls(str(raw["name"]), int(raw["version"]), int(raw["seed"]), specs)

    @classmethod
    def single(cls, probe: str, *, seed: int = 0) -> ProbeSuite:
        """The suite of one probe with its defaults (``run --probe P``)."""
        return cls(probe, 1, seed, (ProbeSpec(PROBES.canonical(probe)),))

    @classmethod
    def of(cls, probes: list[str] | tuple[str, ...], *, seed: int = 0) -> ProbeSuite:
        """The suite of several probes with their defaults, named after them (``run --probe A --probe B`` is
        the suite ``A-B``); one probe gives :meth:`single`'s suite."""
        names = list(dict.fromkeys(PROBES.canonical(p) for p in probes))
        if len(names) == 1:
            return cls.single(names[0], seed=seed)
        return cls("-".join(names), 1, seed, tuple(ProbeSpec(n) for n in names))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "seed": self.seed,
                "probes": [{"probe": s.probe, **s.params} for s in self.probes]}

    def fingerprint(self) -> str:
        """sha256 of the normalised suite (name, version, seed, probes and their parameters)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def build(self, **context: Any) -> list[Probe]:
        """The probes, with context (``bank=``, ``classes=``) passed to those that take it."""
        return [make_probe(s.probe, s.params, **context) for s in self.probes]

    def jobs(self, sample_ids: Sequence[str], probes: Sequence[Probe]) -> Iterator[Job]:
        """Every (probe, sample, condition), probe by probe, sample by sample, conditions in order."""
        for probe in probes:
            conditions = probe.conditions()
            for sample_id in sample_ids:
                for condition in conditions:
                    yield Job(probe, sample_id, condition)

    def rng(self, sample_id: str, condition: Condition) -> np.random.Generator:
        """The generator of one job: keyed by (suite seed, sample id, condition id) only."""
        return rng_for(self.seed, sample_id, condition.condition_id)


def _suites_dir() -> Path:
    return probes_dir()


def list_suites() -> list[str]:
    """Names of the suite files in ``probes/``."""
    return sorted(p.stem for p in _suites_dir().glob("*.toml"))


def load_suite(name_or_path: str | Path) -> ProbeSuite:
    """A suite by name (``probes/{name}.toml``) or by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return ProbeSuite.from_file(path)
    names = list_suites()
    if str(name_or_path) not in names:
        import difflib

        close = difflib.get_close_matches(str(name_or_path), names, n=2)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(f"unknown suite {str(name_or_path)!r}.{hint} Known: {', '.join(names)}")
    return ProbeSuite.from_file(_suites_dir() / f"{name_or_path}.toml")
