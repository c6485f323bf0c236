"""Atomic file writes: write to a temporary file beside the target, then rename over it.

A reader never sees a half-written file, and an interrupted write leaves the old file (or none). The
result gets the permissions a plain ``open``/``mkdir`` would give under the process umask (``mkstemp`` and
``mkdtemp`` make 0600/0700 files, which other users of a shared probe set could not read).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from avsprobe.errors import ConfigError, DataError

__all__ = ["atomic_path", "atomic_dir", "atomic_write_bytes", "atomic_write_text", "current_umask",
           "check_path_component"]

_COMPONENT = re.compile(r"[A-Za-z0-9._-]+")


def check_path_component(name: str, what: str) -> str:
    """``name`` if it is safe as one folder or file name (``[A-Za-z0-9._-]+``, not ``.`` or ``..``).

    Raises:
        ConfigError: naming ``what`` and the rule (a name like ``../../x`` would write outside the output).
    """
    if not isinstance(name, str) or not _COMPONENT.fullmatch(name) or name in (".", ".."):
        raise ConfigError(f"{what} {name!r} cannot be used as a folder name: use letters, digits, '.', '_' and '-' "
                          "only (not '.' or '..')")
    return name


def current_umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _apply_umask(path: Path, mode: int) -> None:
    os.chmod(path, mode & ~current_umask())


def _tree_with_umask(root: Path) -> None:
    """Give ``root`` and every folder below it the umask's permissions (files were written with ``open``)."""
    _apply_umask(root, 0o777)
    for folder, dirs, _ in os.walk(root):
        for d in dirs:
            _apply_umask(Path(folder) / d, 0o777)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path (same folder, same suffix) that is renamed to ``path`` on success.

    The temporary file is removed if the block raises.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _apply_umask(tmp, 0o666)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path`` that replaces ``path`` when the block succeeds.

    On failure the temporary folder is removed and ``path`` is left as it was.

    Raises:
        DataError: ``path`` exists and ``overwrite`` is False.
    """
    target = Path(path)
    if target.is_symlink():
        raise DataError(f"{target} is a symbolic link; refusing to replace it (give --out a real folder)")
    if target.exists() and not overwrite:
        raise DataError(f"{target} already exists; choose another --out or pass --force to replace it")
    if target.exists() and not target.is_dir():
        raise DataError(f"{target} is a file, not a folder; choose another --out")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        yield tmp
        _tree_with_umask(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
