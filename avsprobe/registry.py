"""A typed name -> object registry with lazy ``"module:attr"`` entries and did-you-mean errors.

Entries may be registered as the object itself or as a ``"package.module:attr"`` string that is only
imported when the entry is first looked up, so listing names never imports heavy modules.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from avsprobe.errors import ConfigError

__all__ = ["Registry", "import_attr"]

T = TypeVar("T")


def import_attr(spec: str) -> object:
    """Import ``"package.module:attr"`` (``attr`` may be dotted) and return the attribute.

    Raises:
        ConfigError: the spec is malformed or the module or attribute does not exist.
    """
    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path:
        raise ConfigError(f"expected 'module:attr', got {spec!r}")
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import module {module_name!r} for {spec!r}: {exc}") from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"module {module_name!r} has no attribute {attr_path!r}") from None
    return obj


class Registry(Generic[T]):
    """Named entries of one kind (probes, adapters, metrics, ...).

    Args:
        kind: what the entries are, used in error messages ("probe", "model", ...).
        check: optional validator called on each entry once it is resolved; it raises ``ConfigError``
            (or returns normally) and lets a registry insist on a base class or protocol.
    """

    def __init__(self, kind: str, *, check: Callable[[object], None] | None = None) -> None:
        self.kind = kind
        self._check = check
        self._entries: dict[str, T | str] = {}
        self._aliases: dict[str, str] = {}
        self._frozen = False

    def register(self, name: str, entry: T | str, *, aliases: tuple[str, ...] = ()) -> None:
        """Add ``entry`` (an object, or a lazy ``"module:attr"`` string) under ``name`` and ``aliases``."""
        if self._frozen:
            raise ConfigError(f"the {self.kind} registry is frozen; cannot add {name!r}")
        for key in (name, *aliases):
            if key in self._entries or key in self._aliases:
                raise ConfigError(f"{self.kind} name {key!r} is already registered")
        self._entries[name] = entry
        for alias in aliases:
            self._aliases[alias] = name

    def decorator(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """``@registry.decorator("name")`` registers the decorated object and returns it unchanged."""
        def wrap(obj: T) -> T:
            self.register(name, obj, aliases=aliases)
            return obj

        return wrap

    def freeze(self) -> None:
        """Refuse further registrations (call once the built-ins are in)."""
        self._frozen = True

    def canonical(self, name: str, *, extra: list[str] | None = None) -> str:
        """The registered name behind ``name`` or one of its aliases.

        Args:
            extra: other valid names offered in the error's suggestions (they are not entries).

        Raises:
            ConfigError: unknown name, with close matches and the list of known names.
        """
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        known = sorted([*self._entries, *self._aliases, *(extra or [])])
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(known)}")

    def get(self, name: str) -> T:
        """Resolve ``name`` (importing a lazy entry once) and return the entry."""
        key = self.canonical(name)
        entry = self._entries[key]
        if isinstance(entry, str):
            entry = import_attr(entry)  # type: ignore[assignment]
            if self._check is not None:
                self._check(entry)
            self._entries[key] = entry
        return entry  # type: ignore[return-value]

    def origin(self, name: str) -> str:
        """Where an entry comes from: its ``"module:attr"`` (resolved or not)."""
        entry = self._entries[self.canonical(name)]
        if isinstance(entry, str):
            return entry
        return f"{getattr(entry, '__module__', '?')}:{getattr(entry, '__qualname__', type(entry).__name__)}"

    def names(self) -> list[str]:
        """Registered names (aliases excluded), in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._entries or name in self._aliases)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
