"""An append-only JSON Lines ledger: what a long run has finished, so a rerun does not repeat it.

One line per finished item, written and flushed to disk as soon as the item finishes::

    {"key": "2oSP0SN3d2g", "status": "ok", "split": "train", ..., "reply": "...", "usage": {...}}

A later line for the same key replaces an earlier one (a failed clip asked again). A process killed
while writing leaves at most one partial last line: it is cut off when the ledger is next opened
(that item is simply not finished), so every complete line is always valid JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator


class LedgerError(ValueError):
    pass


class Ledger:
    """The entries of one ledger file, by key; :meth:`record` appends one."""

    def __init__(self, path: str | os.PathLike, durable: bool = True):
        self.path = Path(path)
        self.durable = durable  # fsync each entry (False for a cache whose lost entry costs only a recomputation)
        self.entries: dict[str, dict[str, Any]] = {}
        self.cut_partial_line = False  # the last run was killed mid-write; its unfinished line was removed
        self._load()
        self._file = None  # opened on the first record: reading a ledger writes nothing

    def _load(self) -> None:
        if not self.path.is_file():
            return
        raw = self.path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):  # a line without its newline: written when the process died
            with self.path.open("r+b") as file:
                file.truncate(len(complete))
            self.cut_partial_line = True
        for number, line in enumerate(complete.decode("utf-8").split("\n"), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                self.entries[entry["key"]] = entry
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise LedgerError(
                    f"{self.path}, line {number}: not a ledger entry ({err}). The ledger is written by "
                    "audio-dialogues only: restore it, or delete that line to ask for it again."
                ) from err

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def record(self, entry: dict[str, Any]) -> None:
        """Append ``entry`` (it must have a ``key``) and push it to disk before returning."""
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._file.flush()
        if self.durable:
            os.fsync(self._file.fileno())
        self.entries[entry["key"]] = entry

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OutDirLock:
    """Hold a lock file in an output folder so that two runs never write its ledger at once (POSIX ``flock``)."""

    def __init__(self, path: str | os.PathLike, command: str):
        self.path, self.command, self.file = Path(path), command, None

    def __enter__(self) -> "OutDirLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a+")
        try:
            import fcntl

            fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # not POSIX: no lock
            pass
        except BlockingIOError:
            self.file.close()
            raise RuntimeError(
                f"Another {self.command} is writing into {self.path.parent} (it holds {self.path}); "
                "wait for it to finish or stop it, then rerun."
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()
