from __future__ import annotations

import sys

import pytest

from avsprobe.errors import ConfigError
from avsprobe.registry import Registry, import_attr


def test_lazy_entries_are_imported_on_first_lookup() -> None:
    reg: Registry[object] = Registry("thing")
    reg.register("dumps", "json:dumps", aliases=("to-json",))
    reg.register("direct", len)
    assert reg.origin("dumps") == "json:dumps"
    import json

    assert reg.get("to-json") is json.dumps
    assert reg.get("direct") is len
    assert reg.names() == ["dumps", "direct"]
    assert "to-json" in reg and "nope" not in reg


def test_lazy_entry_not_imported_by_listing() -> None:
    reg: Registry[object] = Registry("thing")
    reg.register("heavy", "tests.unit._lazy_target:VALUE")
    assert reg.names() == ["heavy"]
    assert "tests.unit._lazy_target" not in sys.modules


def test_unknown_name_suggests_close_matches() -> None:
    reg: Registry[object] = Registry("probe")
    for name in ("intensity", "semantic", "negative"):
        reg.register(name, object())
    with pytest.raises(ConfigError, match=r"unknown probe 'intensty'\. Did you mean 'intensity'\?"):
        reg.get("intensty")
    with pytest.raises(ConfigError, match="Known: intensity, negative, semantic"):
        reg.get("zzz")


def test_duplicates_and_frozen_registry_are_refused() -> None:
    reg: Registry[object] = Registry("model")
    reg.register("a", 1, aliases=("b",))
    with pytest.raises(ConfigError, match="already registered"):
        reg.register("b", 2)
    reg.freeze()
    with pytest.raises(ConfigError, match="frozen"):
        reg.register("c", 3)


def test_check_runs_on_resolved_lazy_entries() -> None:
    def only_callables(entry: object) -> None:
        if not callable(entry):
            raise ConfigError("not callable")

    reg: Registry[object] = Registry("hook", check=only_callables)
    reg.register("pi", "math:pi")
    with pytest.raises(ConfigError, match="not callable"):
        reg.get("pi")


@pytest.mark.parametrize("spec", ["nocolon", "json:", ":x", "no_such_module_xyz:a", "json:no_such_attr"])
def test_import_attr_errors(spec: str) -> None:
    with pytest.raises(ConfigError):
        import_attr(spec)


def test_device_auto_is_cuda_when_present_else_cpu(monkeypatch) -> None:  # noqa: ANN001
    import torch

    from avsprobe.devices import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_device("cuda:1") == "cuda:1"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
