"""Writing in an output folder without following a link someone planted there (issue 20).

An output folder may hold a symbolic link at a name the engine writes (a ledger, a temporary file): opening
it would write through the link into any file its owner may write. :func:`open_append` refuses a link at
the name itself; :func:`replace_atomically` writes a new, uniquely named temporary file, then renames it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Callable, Iterator

_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


def refuse_link(path: Path) -> None:
    """An :class:`OSError` naming ``path`` if it is a symbolic link."""
    if path.is_symlink():
        raise OSError(
            f"{path} is a symbolic link (to {os.readlink(path)}): the run writes only files it owns; "
            "remove the link, or write into another folder."
        )


def open_append(path: Path, binary: bool = False) -> IO:
    """``path`` opened to append (created if absent), never through a link."""
    refuse_link(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NO_FOLLOW, 0o644)
    return os.fdopen(fd, "ab") if binary else os.fdopen(fd, "a", encoding="utf-8")


def replace_atomically(path: Path, write: Callable[[IO], None], *, sync: bool = False) -> None:
    """Write ``path`` whole: ``write(file)`` into a new temporary file beside it, then a rename over ``path``."""
    with replacing(path, sync=sync) as file:
        write(file)


@contextlib.contextmanager
def replacing(path: Path, *, sync: bool = False) -> Iterator[IO]:
    """:func:`replace_atomically` as a ``with`` block: the file is renamed over ``path`` when the block ends
    without an error (several may be open at once, each written a line at a time); on an error it is removed."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            yield file
            file.flush()
            if sync:
                os.fsync(file.fileno())
        os.chmod(name, 0o644)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)  # our own temporary file, never the user's
        raise
