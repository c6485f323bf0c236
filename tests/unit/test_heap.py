"""Freed memory kept for reuse: a large block freed and allocated again faults its pages in once, not every time."""

from __future__ import annotations

import ctypes
import resource

import pytest

from avsprobe.heap import MMAP_THRESHOLD_BYTES, keep_freed_memory


def _page_faults(cycles: int, size: int) -> int:
    """Minor page faults of ``cycles`` rounds of malloc, write every byte, free."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(cycles):
        block = libc.malloc(size)
        assert block, "malloc failed"
        ctypes.memset(block, 1, size)
        libc.free(block)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_a_freed_block_is_reused_without_faulting_its_pages_again() -> None:
    if not keep_freed_memory():
        pytest.skip("not glibc: the C library's own policy applies")
    size = 48 << 20  # above glibc's own largest mmap threshold (32 MiB), below ours
    assert size < MMAP_THRESHOLD_BYTES
    pages = size // resource.getpagesize()
    _page_faults(1, size)  # the heap grows to hold it once
    # glibc's default maps and unmaps such a block each time: 10 rounds would fault about 10 * pages
    assert _page_faults(10, size) < pages


def test_only_the_command_line_changes_the_process_malloc_policy(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """run_models called from a notebook or a script leaves glibc's settings alone; ``avsprobe run`` sets them."""
    calls: list[str] = []
    monkeypatch.setattr("avsprobe.heap.keep_freed_memory", lambda: calls.append("set") or True)
    from avsprobe.adapters import resolve_model
    from avsprobe.data.biaslab.world import build_world
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import ProbeSuite
    from avsprobe.runner import run_suite

    build_world(tmp_path / "w", clips=6, workers=1)
    run_suite(resolve_model("empty"), ProbeSuite.single("negative"), open_data(tmp_path / "w"), tmp_path / "r",
              limit=1, workers=0)
    assert calls == []
    from typer.testing import CliRunner

    from avsprobe.cli.app import app

    result = CliRunner().invoke(app, ["run", "--model", "empty", "--probe", "negative", "--data", str(tmp_path / "w"),
                                      "--limit", "1", "--workers", "0", "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert calls == ["set"]
