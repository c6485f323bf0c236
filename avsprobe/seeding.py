"""Seeding: every random choice comes from a ``numpy.random.Generator`` keyed by stable values.

``rng_for(seed, "train_00012", "intensity/-23LUFS")`` gives the same stream on every machine, in every
process, in any order of jobs, so a single clip or probed sample can be regenerated alone.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["stable_hash", "rng_for"]


def stable_hash(value: str | int) -> int:
    """A 63-bit hash of ``value`` that never changes between runs (unlike ``hash()``)."""
    if isinstance(value, int):
        return value & ((1 << 63) - 1)
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def rng_for(*keys: str | int) -> np.random.Generator:
    """A generator seeded by the stable hashes of ``keys`` (ints are used as they are)."""
    return np.random.default_rng([stable_hash(k) for k in keys])
