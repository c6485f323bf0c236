"""The bias-lab world spec: a typed, validated view of ``probes/worlds/biaslab.toml``."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from avsprobe.errors import ConfigError
from avsprobe.resources import read_toml

__all__ = ["ClassSpec", "WorldSpec", "load_world_spec", "SPLITS"]

SPLITS = ("train", "val", "test")
SHAPES = ("keyboard", "figure_eight", "ring", "car", "spotted_ellipse", "person", "triangle", "bell")


@dataclass(frozen=True)
class ClassSpec:
    """One class of the world (see the TOML for the meaning of each field)."""

    name: str
    sounding_probability: float
    loudness_mean_lufs: float
    loudness_std_lu: float
    shape: str
    colour: tuple[int, int, int]
    sound: str
    pitch_hz: tuple[float, float]


@dataclass(frozen=True)
class WorldSpec:
    """The whole world: geometry, splits, the balanced test distribution and the classes."""

    name: str
    version: int
    seed: int
    image_size: int
    frames_per_clip: int
    sample_rate_hz: int
    objects_per_clip: tuple[int, int]
    object_size_frac: tuple[float, float]
    max_drift_px: float
    colour_jitter: int
    background_noise_lufs: float
    loudness_clamp_lufs: tuple[float, float]
    split_clips: dict[str, int]
    balanced_sounding_probability: float
    balanced_loudness_lufs: tuple[float, float]
    classes: tuple[ClassSpec, ...]
    ambiguous_fraction: float = 0.0
    """Share of train and val clips whose audio is only their background bed, labels kept (world v3): the
    audio then leaves whether an object sounds open, so a model does best by its class's posterior
    (``world.json``'s ``posterior_bed``). 0 in world v2."""

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    @property
    def duration_s(self) -> float:
        return float(self.frames_per_clip)

    def class_spec(self, name: str) -> ClassSpec:
        for c in self.classes:
            if c.name == name:
                return c
        raise ConfigError(f"world {self.name!r} has no class {name!r}; classes: {', '.join(self.class_names)}")

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        if not self.ambiguous_fraction:  # absent when off: world v2's spec, fingerprint and cache keep their bytes
            del out["ambiguous_fraction"]
        return out

    def fingerprint(self) -> str:
        """sha256 of the normalised spec (the cache key of built worlds)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


def _pair(raw: object, what: str, cast: type) -> tuple:
    if not isinstance(raw, list) or len(raw) != 2:
        raise ConfigError(f"{what} must be a list of two numbers, got {raw!r}")
    low, high = cast(raw[0]), cast(raw[1])
    if low > high:
        raise ConfigError(f"{what}: lower bound {low} is above upper bound {high}")
    return (low, high)


def load_world_spec(path: str | Path | None = None) -> WorldSpec:
    """Read and validate a world spec (default: ``probes/worlds/biaslab.toml``).

    Raises:
        ConfigError: the file is missing, not TOML, or a value is out of range (the message names it).
    """
    if path is None:
        from avsprobe.resources import world_spec_path

        path = world_spec_path("biaslab")
    p = Path(path)
    raw = read_toml(p, "world spec")
    _check_keys(raw, p)
    try:
        w, splits, balanced, classes = raw["world"], raw["splits"], raw["balanced"], raw["classes"]
        class_specs = []
        for name, c in classes.items():
            spec = ClassSpec(
                name=name,
                sounding_probability=float(c["sounding_probability"]),
                loudness_mean_lufs=float(c["loudness_mean_lufs"]),
                loudness_std_lu=float(c["loudness_std_lu"]),
                shape=str(c["shape"]),
                colour=tuple(int(v) for v in c["colour"]),  # type: ignore[arg-type]
                sound=str(c["sound"]),
                pitch_hz=_pair(c["pitch_hz"], f"classes.{name}.pitch_hz", float),
            )
            if not 0.0 <= spec.sounding_probability <= 1.0:
                raise ConfigError(f"{p}: classes.{name}.sounding_probability must lie in [0, 1]")
            if spec.shape not in SHAPES:
                raise ConfigError(f"{p}: classes.{name}.shape {spec.shape!r} is not one of {', '.join(SHAPES)}")
            if len(spec.colour) != 3 or not all(0 <= v <= 255 for v in spec.colour):
                raise ConfigError(f"{p}: classes.{name}.colour must be three values in 0..255")
            class_specs.append(spec)
        spec = WorldSpec(
            name=str(w["name"]),
            version=int(w["version"]),
            seed=int(w["seed"]),
            image_size=int(w["image_size"]),
            frames_per_clip=int(w["frames_per_clip"]),
            sample_rate_hz=int(w["sample_rate_hz"]),
            objects_per_clip=_pair(w["objects_per_clip"], "world.objects_per_clip", int),
            object_size_frac=_pair(w["object_size_frac"], "world.object_size_frac", float),
            max_drift_px=float(w["max_drift_px"]),
            colour_jitter=int(w["colour_jitter"]),
            background_noise_lufs=float(w["background_noise_lufs"]),
            loudness_clamp_lufs=_pair(w["loudness_clamp_lufs"], "world.loudness_clamp_lufs", float),
            split_clips={s: int(splits[s]) for s in SPLITS},
            balanced_sounding_probability=float(balanced["sounding_probability"]),
            balanced_loudness_lufs=_pair(balanced["loudness_lufs"], "balanced.loudness_lufs", float),
            classes=tuple(class_specs),
            ambiguous_fraction=float(w.get("ambiguous_fraction", 0.0)),
        )
    except KeyError as exc:
        raise ConfigError(f"world spec {p} lacks the key {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"world spec {p}: {exc}") from None
    if spec.image_size < 32 or spec.frames_per_clip < 1 or spec.objects_per_clip[0] < 1:
        raise ConfigError(f"{p}: image_size >= 32, frames_per_clip >= 1 and objects_per_clip >= 1 are required")
    if spec.objects_per_clip[1] > len(spec.classes):
        raise ConfigError(f"{p}: objects_per_clip allows more objects than there are classes")
    _check_ranges(spec, p)
    return spec


_KEYS = {
    "": {"world", "splits", "balanced", "classes"},
    "world": {"name", "version", "seed", "image_size", "frames_per_clip", "sample_rate_hz", "objects_per_clip",
              "object_size_frac", "max_drift_px", "colour_jitter", "background_noise_lufs", "loudness_clamp_lufs",
              "ambiguous_fraction"},
    "splits": set(SPLITS),
    "balanced": {"sounding_probability", "loudness_lufs"},
    "class": {"sounding_probability", "loudness_mean_lufs", "loudness_std_lu", "shape", "colour", "sound", "pitch_hz"},
}


def _check_keys(raw: dict, p: Path) -> None:
    """Unknown keys are refused by name (a typo would otherwise silently keep a default)."""
    def unknown(table: object, allowed: set[str], where: str) -> None:
        if not isinstance(table, dict):
            raise ConfigError(f"world spec {p}: {where or 'the file'} must be a table")
        extra = sorted(set(table) - allowed)
        if extra:
            raise ConfigError(f"world spec {p}: unknown key {where + '.' if where else ''}{extra[0]}; "
                              f"allowed: {', '.join(sorted(allowed))}")

    unknown(raw, _KEYS[""], "")
    for table in ("world", "splits", "balanced"):
        if table in raw:
            unknown(raw[table], _KEYS[table], table)
    classes = raw.get("classes") or {}
    if not isinstance(classes, dict):
        raise ConfigError(f"world spec {p}: classes must be a table of [classes.NAME] tables")
    for name, c in classes.items():
        unknown(c, _KEYS["class"], f"classes.{name}")


def _check_ranges(spec: WorldSpec, p: Path) -> None:
    def bad(key: str, rule: str, value: object) -> ConfigError:
        return ConfigError(f"world spec {p}: {key} must be {rule}, got {value!r}")

    if spec.sample_rate_hz != 16_000:
        raise bad("world.sample_rate_hz", "16000 (the rate of all audio in avsprobe)", spec.sample_rate_hz)
    if any(n < 0 for n in spec.split_clips.values()) or sum(spec.split_clips.values()) == 0:
        raise bad("splits", "clip counts >= 0 with at least one clip", spec.split_clips)
    if not (spec.max_drift_px >= 0 and math.isfinite(spec.max_drift_px)):
        raise bad("world.max_drift_px", "a finite number >= 0", spec.max_drift_px)
    if spec.colour_jitter < 0:
        raise bad("world.colour_jitter", ">= 0", spec.colour_jitter)
    if not 0.0 < spec.object_size_frac[0] <= spec.object_size_frac[1] <= 0.5:
        raise bad("world.object_size_frac", "within (0, 0.5]", list(spec.object_size_frac))
    if not 0.0 <= spec.ambiguous_fraction < 1.0:
        raise bad("world.ambiguous_fraction", "within [0, 1)", spec.ambiguous_fraction)
    if not 0.0 <= spec.balanced_sounding_probability <= 1.0:
        raise bad("balanced.sounding_probability", "within [0, 1]", spec.balanced_sounding_probability)
    for key, value in (("world.background_noise_lufs", spec.background_noise_lufs),
                       *(("world.loudness_clamp_lufs", v) for v in spec.loudness_clamp_lufs),
                       *(("balanced.loudness_lufs", v) for v in spec.balanced_loudness_lufs)):
        if not (math.isfinite(value) and -90.0 <= value <= 0.0):
            raise bad(key, "finite LUFS within [-90, 0]", value)
    for c in spec.classes:
        if not (math.isfinite(c.loudness_std_lu) and c.loudness_std_lu >= 0):
            raise bad(f"classes.{c.name}.loudness_std_lu", "a finite number >= 0", c.loudness_std_lu)
        if not (math.isfinite(c.loudness_mean_lufs) and -90.0 <= c.loudness_mean_lufs <= 0.0):
            raise bad(f"classes.{c.name}.loudness_mean_lufs", "finite LUFS within [-90, 0]", c.loudness_mean_lufs)
        if not (0 < c.pitch_hz[0] <= c.pitch_hz[1] < spec.sample_rate_hz / 2):
            raise bad(f"classes.{c.name}.pitch_hz", "positive and below the Nyquist frequency", list(c.pitch_hz))
