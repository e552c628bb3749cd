"""Files crmkit writes that hold customer data (reports, exports, match models) are private to their owner.

Whatever the process umask, such a file is created ``0600`` and a folder crmkit creates for them ``0700``: the mode
is set explicitly, not left to the umask (which can only take bits away, and is often ``022``: world-readable).
A folder that already existed keeps its mode (it may be the user's project folder); a file crmkit (re)writes is
made private even when it already existed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "copy_private_tree",
    "open_private",
    "private_dir",
    "private_file",
    "private_opener",
    "private_tree",
    "write_private_bytes",
    "write_private_text",
]

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def _chmod(path: str | Path, mode: int) -> None:
    with contextlib.suppress(NotImplementedError):  # a platform without POSIX modes
        os.chmod(path, mode)


def private_dir(path: str | Path) -> Path:
    """Create ``path`` (and its missing parents) as folders only the owner can enter (``0700``).

    Folders that already exist are left as they are. Returns the path.
    """
    folder = Path(path)
    missing: list[Path] = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            if not created.is_dir():
                raise
            continue  # created meanwhile by someone else: theirs, left alone
        _chmod(created, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask
    return folder


def private_opener(path: str, flags: int) -> int:
    """An ``opener`` for :func:`open` that creates the file ``0600`` and makes an existing one ``0600``.

    ``open(path, "w", newline="", encoding="utf-8", opener=private_opener)`` writes a CSV only the owner can read.
    """
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, PRIVATE_FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_private(path: str | Path, mode: str = "w", **kwargs: Any) -> IO[Any]:
    """:func:`open` for a file only the owner can read and write (``0600``); its folder is created ``0700``.

    Args:
        path: the file.
        mode: as for :func:`open` (``"w"``, ``"wb"``, ``"a"``, ...).
        **kwargs: passed to :func:`open` (``encoding``, ``newline``, ...).
    """
    target = Path(path)
    private_dir(target.parent)
    return open(target, mode, opener=private_opener, **kwargs)  # the caller closes it


def write_private_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to a ``0600`` file (its folder created ``0700``). Returns the path."""
    with open_private(path, "w", encoding=encoding) as handle:
        handle.write(text)
    return Path(path)


def write_private_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a ``0600`` file (its folder created ``0700``). Returns the path."""
    with open_private(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def private_file(path: str | Path) -> Path:
    """Make ``path`` a file only the owner can read and write (``0600``), creating it empty when missing.

    For files another library writes (``DataFrame.write_parquet(path)``): call it before the write (a new file is
    then never readable by others, not even for a moment) and after it (the library may have replaced the file).
    Its folder is created ``0700`` when missing.
    """
    target = Path(path)
    private_dir(target.parent)
    os.close(private_opener(str(target), os.O_WRONLY | os.O_CREAT))
    return target


def private_tree(root: str | Path) -> Path:
    """Make every folder under ``root`` (``root`` included) ``0700`` and every file ``0600``. Returns ``root``."""
    top = Path(root)
    _chmod(top, PRIVATE_DIR_MODE)
    for folder, dirs, files in os.walk(top):
        for name in dirs:
            _chmod(Path(folder) / name, PRIVATE_DIR_MODE)
        for name in files:
            _chmod(Path(folder) / name, PRIVATE_FILE_MODE)
    return top


def copy_private_tree(source: str | Path, target: str | Path) -> Path:
    """Copy a folder like :func:`shutil.copytree`, every copy private (``0700`` folders, ``0600`` files).

    Files are created private, never copied readable and fixed afterwards. ``target`` must not exist.
    """
    copier: Callable[[str, str], object] = _copy_private
    shutil.copytree(source, target, copy_function=copier)
    return private_tree(target)


def _copy_private(src: str, dst: str) -> str:
    with open(src, "rb") as reader, open(dst, "wb", opener=private_opener) as writer:
        shutil.copyfileobj(reader, writer)
    return dst
