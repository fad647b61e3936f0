"""The lock of an output folder: one run at a time writes into it (POSIX ``flock``).

The lock file sits at the root of everything a run writes (``OUT_DIR/.<command>.lock``), so a file
shared by several runs of one command (generate's ``label_descriptions.jsonl``, shared by the AudioSet
configs) is covered too: a second run into the same folder is refused before it sends anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from .files import refuse_link


class FolderBusyError(RuntimeError):
    """Another run holds the folder's lock."""


class FolderLock:
    """``with FolderLock(out_dir, "generate", holder="music_dialogues"):`` holds ``out_dir/.generate.lock``
    (``name`` another lock file in ``folder``, e.g. one per output file)."""

    def __init__(self, folder: str | os.PathLike, command: str, holder: str = "", name: str | None = None):
        self.folder, self.command, self.holder = Path(folder), command, holder
        self.path = self.folder / (name or f".{command.split()[0]}.lock")
        self._file = None

    def __enter__(self) -> "FolderLock":
        self.folder.mkdir(parents=True, exist_ok=True)
        refuse_link(self.path)  # a link planted at the lock's name is never written through
        file = open(self.path, "a+", encoding="utf-8")
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            self._file = file
            return self
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            other = file.read().strip()
            file.close()
            raise FolderBusyError(
                f"Another {self.command} is writing into {self.folder} ({other or 'it holds ' + str(self.path)}); "
                "wait for it to finish or stop it, then rerun."
            ) from None
        file.truncate(0)
        file.write(f"pid {os.getpid()}{', ' + self.holder if self.holder else ''}\n")
        file.flush()
        self._file = file
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
