"""Keeping freed memory for reuse during a run, instead of handing it back to the kernel.

glibc returns every freed block above its mmap threshold (128 KiB, rising with use to at most 32 MiB) to
the kernel, and trims the heap once 128 KiB of it are free. A run allocates and frees blocks of a few MB for
every chunk (logits, threshold keys, masks, probed audio, a model's activations), so each chunk faulted in
fresh pages again: about 4,000 page faults per scored model call on the bias lab, 40 % of scoring's CPU
time. Raising both thresholds keeps those blocks in the heap, and growing the heap 64 MB at a time stops a
model's activations from faulting in new pages at the top of the heap call after call. Measured on 2 cores
(``avsprobe run --model vanilla --suite paper --limit 32 --workers 0``): 21.2-24.0 s over six runs instead
of 26.5 s, and a peak resident memory of 609-636 MB instead of 617 MB (it is set by the largest chunk).
Up to :data:`TRIM_THRESHOLD_BYTES` of free heap stays held after a run.
"""

from __future__ import annotations

import ctypes
import functools

__all__ = ["MMAP_THRESHOLD_BYTES", "TOP_PAD_BYTES", "TRIM_THRESHOLD_BYTES", "keep_freed_memory"]

_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, from glibc's malloc.h
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 64 << 20
"""Blocks up to this size come from the heap (a chunk's largest temporaries are a few MB)."""
TRIM_THRESHOLD_BYTES = 256 << 20
"""Free heap kept before glibc returns some to the kernel."""
TOP_PAD_BYTES = 64 << 20
"""How far the heap grows at a time: a model's activations between a run's other allocations otherwise
grew it, and faulted in new pages, call after call."""


@functools.cache
def keep_freed_memory() -> bool:
    """Ask glibc to serve blocks of up to :data:`MMAP_THRESHOLD_BYTES` from the heap, to keep up to
    :data:`TRIM_THRESHOLD_BYTES` of it free, and to grow it :data:`TOP_PAD_BYTES` at a time (once per
    process; forked workers inherit it). False where the C library is not glibc or refuses."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter is linked with
    except (OSError, AttributeError):  # one without mallopt (musl, macOS)
        return False
    settings = ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
                (_M_TOP_PAD, TOP_PAD_BYTES))
    return all([bool(mallopt(parameter, value)) for parameter, value in settings])
