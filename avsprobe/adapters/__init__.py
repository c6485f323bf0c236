"""Model adapters: the registry and how a ``--model`` string becomes an adapter.

``--model`` accepts:

* a registered name (``avsprobe models`` lists them): ``empty``, ``full``, ``oracle``, ...;
* ``audio-blind:NAME``: any adapter with the audio zeroed;
* ``predictions:DIR``: masks predicted elsewhere, named as an ``avsprobe export`` manifest says;
* ``package.module:Class`` or ``path/to/file.py:Class``: your own ``ModelAdapter`` subclass;
* a name registered by an installed package under the entry-point group ``avsprobe.adapters``.

``--debias contrastive:alpha=1`` wraps the result in the contrastive wrapper.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from avsprobe.adapters.base import InputSpec, ModelAdapter
from avsprobe.errors import AdapterError, ConfigError
from avsprobe.registry import Registry, import_attr

__all__ = ["MODELS", "InputSpec", "ModelAdapter", "resolve_model", "ENTRY_POINT_GROUP", "entry_point_adapters",
           "accepted_options"]

ENTRY_POINT_GROUP = "avsprobe.adapters"


def _check(entry: object) -> None:
    if not (isinstance(entry, type) and issubclass(entry, ModelAdapter)):
        raise ConfigError(f"model registry entries must be ModelAdapter subclasses, got {entry!r}")


MODELS: Registry[type[ModelAdapter]] = Registry("model", check=_check)
MODELS.register("empty", "avsprobe.adapters.builtin:EmptyAdapter")
MODELS.register("full", "avsprobe.adapters.builtin:FullAdapter")
MODELS.register("oracle", "avsprobe.adapters.testing:OracleAdapter")
MODELS.register("audio-blind-oracle", "avsprobe.adapters.testing:AudioBlindOracleAdapter")
MODELS.register("loudness-gated-oracle", "avsprobe.adapters.testing:LoudnessGatedOracleAdapter")
MODELS.register("semantic-oracle", "avsprobe.adapters.testing:SemanticOracleAdapter")
MODELS.register("piano-everywhere", "avsprobe.adapters.testing:PianoEverywhereAdapter")
MODELS.register("vanilla", "avsprobe.adapters.reference:VanillaAdapter")
MODELS.register("ours-nodebias", "avsprobe.adapters.reference:OursNoDebiasAdapter")
MODELS.register("ours", "avsprobe.adapters.reference:OursAdapter")
MODELS.register("vanilla-debias", "avsprobe.adapters.reference:VanillaDebiasAdapter")
MODELS.register("visual-only", "avsprobe.adapters.reference:VisualOnlyAdapter")
MODELS.freeze()


def _load_class(spec: str) -> type:
    path_part, _, attr = spec.rpartition(":")
    if path_part.endswith(".py"):
        path = Path(path_part)
        if not path.is_file():
            raise ConfigError(f"adapter file not found: {path}")
        module_spec = importlib.util.spec_from_file_location(f"avsprobe_user_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise ConfigError(f"cannot import {path}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        try:
            return getattr(module, attr)
        except AttributeError:
            raise ConfigError(f"{path} has no class {attr!r}") from None
    _working_folder_importable(path_part)
    return import_attr(spec)  # type: ignore[return-value]


def _working_folder_importable(module: str) -> None:
    """Let ``module:Class`` name a module in the working folder, as ``python -m`` would: the ``avsprobe``
    command's own folder is on ``sys.path``, the user's is not."""
    top = module.split(".")[0]
    cwd = Path.cwd()
    if (top and importlib.util.find_spec(top) is None and ((cwd / f"{top}.py").is_file() or (cwd / top).is_dir())
            and str(cwd) not in sys.path):
        sys.path.insert(0, str(cwd))


def entry_point_adapters() -> dict[str, str]:
    """``name -> "module:Class"`` of the adapters installed packages register (not imported)."""
    return {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _entry_point(name: str) -> type | None:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.load()
    return None


def accepted_options(cls: type) -> list[str]:
    """The ``--model-opt`` keys an adapter class takes (its ``__init__`` keyword parameters)."""
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _build(cls: type, options: dict[str, Any]) -> ModelAdapter:
    if not (isinstance(cls, type) and issubclass(cls, ModelAdapter)):
        raise ConfigError(f"{cls!r} is not a ModelAdapter subclass")
    params = inspect.signature(cls.__init__).parameters.values()
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params)
    unknown = sorted(set(options) - set(accepted_options(cls)))
    if unknown and not takes_any:
        valid = accepted_options(cls)
        raise AdapterError(f"model {getattr(cls, 'name', '') or cls.__name__!r} has no option "
                           f"{', '.join(unknown)}; it takes {', '.join(valid) if valid else 'no options'}")
    try:
        return cls.from_options(**options)
    except (TypeError, ValueError) as exc:  # a value of the wrong kind (alpha=abc) is a user's error, not a crash
        raise AdapterError(f"cannot build {getattr(cls, 'name', '') or cls.__name__} with options {options}: {exc}"
                           ) from None


def resolve_model(spec: str, options: dict[str, Any] | None = None, *, debias: str | None = None) -> ModelAdapter:
    """The adapter a ``--model`` string names (see the module docstring), built with ``options``."""
    options = dict(options or {})
    if spec.startswith("audio-blind:"):
        from avsprobe.adapters.builtin import AudioBlind

        adapter: ModelAdapter = AudioBlind(resolve_model(spec[len("audio-blind:"):], options))
    elif spec.startswith("predictions:"):
        from avsprobe.adapters.builtin import PredictionsAdapter

        adapter = PredictionsAdapter(spec[len("predictions:"):])
    elif spec in MODELS:
        adapter = _build(MODELS.get(spec), options)
    elif ":" in spec:
        adapter = _build(_load_class(spec), options)
    else:
        cls = _entry_point(spec)
        if cls is None:
            MODELS.canonical(spec)  # raises the did-you-mean error
        adapter = _build(cls, options)  # type: ignore[arg-type]
    if debias:
        kind, _, args = debias.partition(":")
        if kind != "contrastive":
            raise ConfigError(f"unknown debias {kind!r}; use contrastive:alpha=A")
        from avsprobe.adapters.builtin import Contrastive, parse_options

        extra = parse_options([a for a in args.split(",") if a]) if args else {}
        unknown = sorted(set(extra) - {"alpha", "noise_lufs"})
        if unknown:
            raise ConfigError(f"--debias contrastive takes alpha=A and noise_lufs=L only, not {', '.join(unknown)}")
        try:
            adapter = Contrastive(adapter, **extra)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"--debias {debias!r}: {exc}") from None
    return adapter
