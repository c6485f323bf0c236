"""Data identity: a run folder must never mix records of two different data trees.

Two fingerprints, both over the folder of the chosen layout:

* ``data_fingerprint``: sha256 of the metadata files' bytes (``world.json``, ``metadata.csv``, ``coavs.json``,
  the S4/MS3 metadata CSVs). It depends only on content, so it is the same on every machine and is what
  reports show.
* ``data_files_fingerprint``: sha256 over every file's relative path, size and modification time. It is cheap
  (no file is read) and changes whenever audio, frames or masks are replaced under the same metadata, so a
  resume into a changed tree is refused. Copying a tree (new modification times) changes it too.

A full content hash, for comparing trees between machines, is ``avsprobe data check --hash``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["METADATA_FILES", "data_fingerprint", "data_files_fingerprint", "content_hash", "path_identity"]

METADATA_FILES = ("world.json", "metadata.csv", "coavs.json", "s4_meta_data.csv", "ms3_meta_data.csv")


def data_fingerprint(root: str | Path) -> str:
    """sha256 of the bytes of the metadata files directly in ``root``, in a fixed order."""
    base = Path(root)
    digest = hashlib.sha256()
    for name in METADATA_FILES:
        if (base / name).is_file():
            digest.update((base / name).read_bytes())
    return digest.hexdigest()


def _entries(folder: str, prefix: str, seen: frozenset[tuple[int, int]] = frozenset()) -> list[tuple[str, os.stat_result]]:
    """``(relative path, stat)`` of every non-hidden file below ``folder``, in sorted order (os.scandir: a
    20,000-file tree in about 0.1 s, where pathlib took most of a second). Symlinked folders are followed
    (a data tree often links its audio or frames from elsewhere), each folder once along a path, so a link
    cycle ends."""
    here = os.stat(folder)
    seen = seen | {(here.st_dev, here.st_ino)}
    out: list[tuple[str, os.stat_result]] = []
    with os.scandir(folder) as listing:
        entries = sorted((e for e in listing if not e.name.startswith(".")), key=lambda e: e.name)
    for entry in entries:
        relative = f"{prefix}{entry.name}"
        if entry.is_dir():
            target = entry.stat()
            if (target.st_dev, target.st_ino) not in seen:
                out += _entries(entry.path, relative + "/", seen)
        elif entry.is_file():
            out.append((relative, entry.stat()))
    return out


def data_files_fingerprint(root: str | Path) -> str:
    """sha256 over every (non-hidden) file's relative path, size and mtime (ns) below ``root``."""
    digest = hashlib.sha256()
    for relative, st in _entries(str(root), ""):
        digest.update(f"{relative}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def content_hash(root: str | Path, *, exclude: tuple[str, ...] = ()) -> str:
    """sha256 over every file's relative path and sha256, in sorted path order (reads every byte)."""
    base = Path(root)
    digest = hashlib.sha256()
    for path in sorted(p for p in base.rglob("*") if p.is_file() and p.name not in exclude):
        digest.update(str(path.relative_to(base)).encode())
        file_digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                file_digest.update(block)
        digest.update(file_digest.digest())
    return digest.hexdigest()


_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def path_identity(path: str | Path) -> str:
    """What a model option naming a file or folder contributes to the model's identity: a file's size and
    sha256 (the weights themselves: retraining into the same path changes it, a copy elsewhere does not),
    a folder's :func:`data_files_fingerprint` (paths, sizes, mtimes: a checkpoint folder rewritten in place
    changes it). A file's digest is computed once per (path, size, mtime) in a process."""
    p = Path(path)
    if p.is_dir():
        return f"folder:{data_files_fingerprint(p)}"
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _FILE_DIGESTS:
        digest = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _FILE_DIGESTS[key] = digest.hexdigest()
    return f"file:{st.st_size}:{_FILE_DIGESTS[key]}"
