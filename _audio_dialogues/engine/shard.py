"""Sharded runs: ``--shard K/N`` does the K-th of N parts of the work, and an unsharded run is the merge.

As NeMo Curator and datatrove run a step as N ranks, the work of a command is split by a stable hash of each
item's key (a YouTube id, a dialogue's key), so the same N always gives the same parts, on any machine.
Nothing is shared between shards but the output folder, and no file is written by two of them: each shard
has its own ledger, settings record and lock, named after its part::

    download_status.tsv           the unsharded (merged) ledger
    download_status.shard-2-of-4.tsv   shard 2 of 4's ledger

so shards may run at once on several machines over a network file system (no lock is shared). Each shard
also reads the other ledgers (never writing them), so it does not redo what the merge or another shard
already finished. An unsharded run over the same folder is the merge: it folds every shard's ledger into
its own (a finished row wins over a failure), asks only for what is still missing, and writes the one
release, ledger and summary. The shard ledgers are kept (nothing of the user's is deleted).

A merge remembers what it folded (:class:`FoldRecord`, ``ledger.folded.json`` beside ``ledger.jsonl``: each
shard ledger's size, mtime and how far it was read), so a rerun does not read an unchanged shard ledger again,
and reads only the new lines of one that grew since.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..core.audio_files import SHARD_PART
from .files import refuse_link, replace_atomically
from .ledger import Ledger, LedgerError, RowCodec, headers_of, not_a_header, not_a_row
from .lock import FolderBusyError, FolderLock


@dataclass(frozen=True)
class Shard:
    """Part ``index`` (1-based) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str | None, flag: str = "--shard") -> Shard | None:
        """``"2/4"`` -> ``Shard(2, 4)``; ``None`` -> ``None`` (an unsharded run, the merge)."""
        if text is None:
            return None
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
        if match is None or not 1 <= int(match[1]) <= int(match[2]):
            raise ValueError(
                f"{flag} {text!r}: expected K/N with 1 <= K <= N, e.g. {flag} 2/4 for the second of four parts "
                "(a Slurm array passes $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)."
            )
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, key: str) -> bool:
        """Whether ``key`` is in this part: a stable hash of the key, the same on every machine and run."""
        return owner(key, self.count) == self.index

    def path(self, path: str | os.PathLike) -> Path:
        """This shard's own file of ``path``: ``ledger.jsonl`` -> ``ledger.shard-2-of-4.jsonl``."""
        path = Path(path)
        return path.with_name(f"{path.stem}.shard-{self.index}-of-{self.count}{path.suffix}")


def owner(key: str, count: int) -> int:
    """The part (1-based) of ``count`` that ``key`` belongs to."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") % count + 1


def fold_others(
    ledger: Ledger,
    path: Path,
    shard: Shard | None,
    better: Callable[[Any, Any], bool],
    keep: Callable[[str], bool] = lambda key: True,
    final: Callable[[Any], bool] = lambda row: False,
) -> int:
    """``fold(ledger, other_rows(path, ledger.codec, shard), better, keep)``, the same rows taken, but
    streamed: no other ledger is held as a :class:`Ledger`, and a line's row is built only when its key is kept
    and ``ledger``'s row for it is not ``final`` (no row can be better: a resume over a finished folder builds
    none). The codec's ``line_key(line)``, when it has one, gives a line's key checked as ``decode`` would
    check it, without building the row; a bad line is refused as :class:`Ledger` refuses it (a truly partial
    last line is passed over: its shard sets it aside). Returns how many rows were taken (in memory only)."""
    codec = ledger.codec
    taken = 0
    for _, file in _others(path, shard):
        latest: dict[str, str] = {}  # the last line of each key that may be taken (the last line of a key wins)
        for key, line in _ledger_lines(file, codec):
            if keep(key):
                old = ledger.rows.get(key)
                if old is None or not final(old):
                    latest[key] = line
        for key, line in latest.items():
            row, old = codec.decode(line), ledger.rows.get(key)
            if old is None or better(row, old):
                ledger.rows[key] = row
                taken += 1
    return taken


def _others(path: Path, shard: Shard | None) -> Iterator[tuple[Shard | None, Path]]:
    """The ledgers of ``path`` a run of ``shard`` reads but never writes: the unsharded one and the other shards'
    (an unsharded run's own is ``path``), with the shard each belongs to."""
    for file in [path, *shard_files(path)]:
        which = shard_of(file)
        if file.is_file() and not ((which == shard and shard is not None) or (file == path and shard is None)):
            yield which, file


def _ledger_lines(file: Path, codec: RowCodec) -> Iterable[tuple[str, str]]:
    """The key and line of each row of another run's ledger ``file``, read one at a time, never written; its header is
    checked, blank lines and a truly partial last line (one without its newline that is not a row) are passed
    over, and any other line that is not a row raises the :class:`LedgerError` that :class:`Ledger` would."""
    refuse_link(file)
    headers = headers_of(codec) if codec.header is not None else None
    line_key = getattr(codec, "line_key", None) or (lambda line: codec.key(codec.decode(line)))
    with file.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            whole = raw.endswith(b"\n")
            try:
                text = (raw[:-1] if whole else raw).decode("utf-8")
                if number == 1 and headers is not None:
                    if text not in headers:
                        raise not_a_header(file, codec)
                    continue
                if not text.strip():
                    continue
                key = line_key(text)
            except (ValueError, UnicodeDecodeError) as err:
                if isinstance(err, LedgerError):
                    raise
                if not whole:  # a truly partial last line
                    return
                raise not_a_row(file, number, err, raw) from None
            yield key, text


def shard_of(path: Path) -> Shard | None:
    """The shard whose file ``path`` is (``ledger.shard-2-of-4.jsonl`` -> 2/4), ``None`` for an unsharded file."""
    match = SHARD_PART.search(Path(path).name)
    return Shard(int(match[1]), int(match[2])) if match else None


def shard_files(path: str | os.PathLike) -> list[Path]:
    """Every shard's file of ``path`` in its folder (any N), in order of N then K."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    prefix, suffix = f"{path.stem}.shard-", path.suffix  # compared before the pattern: a folder of 120,000 clips
    with os.scandir(path.parent) as entries:
        names = [entry.name for entry in entries if entry.name.startswith(prefix) and entry.name.endswith(suffix)]
    found = [path.parent / name for name in names if shard_of(path.parent / name) is not None]
    return sorted(found, key=lambda p: (shard_of(p).count, shard_of(p).index))  # type: ignore[union-attr]


def run_lock(folder: Path, command: str, shard: Shard | None, holder: str = "") -> FolderLock:
    """The lock of one run: the folder's (``.download.lock``), or the shard's own (``.download.shard-2-of-4.lock``)."""
    name = f".{command.split()[0]}.lock"
    return FolderLock(folder, command, holder=holder, name=shard.path(name).name if shard else name)


def check_no_shard_running(folder: Path, command: str, lock_files: Iterable[Path] | None = None) -> None:
    """Before a merge: refuse while a shard of ``command`` still runs on this machine (its lock is held).

    ``lock_files``: the shards' lock files, when they are not ``folder/.<command>.shard-K-of-N.lock``.

    Raises:
        FolderBusyError: naming the shard.
    """
    if lock_files is None:
        lock_files = shard_files(folder / f".{command.split()[0]}.lock")
    for lock_file in lock_files:
        if not lock_file.is_file():
            continue
        try:
            with FolderLock(folder, command, name=lock_file.name):
                pass
        except FolderBusyError as err:
            raise FolderBusyError(
                f"shard {shard_of(lock_file)} is still running ({err}); merge when every shard has finished."
            ) from None


def other_rows(
    path: Path,
    codec: RowCodec,
    shard: Shard | None,
    folded: FoldRecord | None = None,
    slim: Callable[[Any], Any] | None = None,
    lines: bool = False,
) -> Iterable[tuple]:
    """Rows of every ledger of ``path`` other than ``shard``'s own: the unsharded one and the other shards'.

    ``folded`` (a merge's): a shard ledger's lines already folded into ``path`` are not read again; how far
    each was read is noted in it (:meth:`FoldRecord.save` keeps that for the next run). ``slim``: the rows
    are ``slim(row)`` (see engine/ledger.py); with ``lines`` each comes as ``(shard, row, line)``, its line as the
    file holds it, for a merge to copy (:func:`fold`) rather than hold every whole row."""
    for which, file in _others(path, shard):
        start = folded.start(file) if folded is not None else 0
        if start is None:  # unchanged since the last merge
            continue
        ledger = Ledger(file, codec, start=start, slim=slim)  # read only: nothing is written to another's ledger
        if lines and slim is not None:
            yield from ((which, ledger.rows[key], line) for key, line in ledger.lines(list(ledger.rows)))
        else:
            yield from ((which, row) for row in ledger.rows.values())
        if folded is not None:
            folded.note(file, ledger.end)


class FoldRecord:
    """How far a merge has read each shard ledger of ``path`` (``<stem>.folded.json``): a shard ledger whose
    size and mtime are those recorded is not read again; one that grew (the bytes before the recorded end
    unchanged: a digest of their last 4 KiB) is read from there on; any other is read whole. The record holds
    only while ``path`` (the merged ledger, append-only) still begins with what it had when it was saved.
    Reading again is always correct (folding is idempotent), never wrong, only slower."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.file = self.path.with_name(f"{self.path.stem}.folded.json")
        self.marks: dict[str, dict] = {}
        try:
            saved = json.loads(self.file.read_text(encoding="utf-8"))
            merged = saved["merged"]
            if self.path.is_file() and _tail(self.path, merged["end"]) == merged["tail"]:
                self.marks = dict(saved["shards"])
        except (OSError, ValueError, KeyError, TypeError):  # absent or unreadable: every shard ledger is read
            self.marks = {}

    def start(self, file: Path) -> int | None:
        """Where to read ``file`` from: 0 (whole), the end of what was folded, or ``None`` (nothing new)."""
        mark = self.marks.get(file.name)
        if mark is None:
            return 0
        stat = file.stat()
        if stat.st_size == mark["size"] and stat.st_mtime_ns == mark["mtime_ns"]:
            return None
        if stat.st_size >= mark["end"] and _tail(file, mark["end"]) == mark["tail"]:
            return mark["end"]
        return 0

    def note(self, file: Path, end: int) -> None:
        stat = file.stat()
        self.marks[file.name] = {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "end": end,
            "tail": _tail(file, end),
        }

    def save(self, merged: Ledger) -> None:
        """Keep the marks (none: no file), every row folded being in ``merged``'s file (committed here)."""
        if not self.marks:
            return
        merged.commit()
        merged_mark = {"end": merged.end, "tail": _tail(merged.path, merged.end)}
        text = json.dumps({"merged": merged_mark, "shards": self.marks}, indent=1, sort_keys=True) + "\n"
        replace_atomically(self.file, lambda out: out.write(text), sync=True)


def _tail(file: Path, end: int) -> str:
    """A digest of the 4 KiB before byte ``end`` of ``file`` (and of ``end``): what a growing file keeps."""
    if not file.is_file():
        return ""
    with file.open("rb") as data:
        data.seek(max(end - 4096, 0))
        chunk = data.read(min(end, 4096))
    return (
        hashlib.blake2b(chunk + str(end).encode(), digest_size=16).hexdigest() if len(chunk) == min(end, 4096) else ""
    )


def fold(ledger: Ledger, rows: Iterable[tuple[Shard | None, Any]], better: Callable[[Any, Any], bool],
         keep: Callable[[str], bool] = lambda key: True, record: bool = False) -> int:  # fmt: skip
    """Fold ``rows`` into ``ledger``: a row is taken when its key is not there yet, or ``better(new, old)``.

    ``keep`` chooses the keys (a shard folds only its own part); ``record`` appends them to the ledger's file
    (the merge of a ledger that is not rewritten at the end; written in blocks, one commit at the end), else
    they join only its rows in memory. Of a slim ledger (engine/ledger.py), ``better`` is given the slim row as
    ``old``. Returns how many rows were taken.
    """
    taken = 0
    for _, row, *line in rows:  # a row, or a row and its line to copy (other_rows(lines=True))
        key = ledger.codec.key(row)
        if not keep(key):
            continue
        old = ledger.rows.get(key)
        if old is None or better(row, old):
            if record:
                ledger.record(row, flush=False, line=line[0] if line else None)  # one commit, below
            elif ledger.slim is not None:  # in memory only: its whole row is not in the ledger's file
                ledger.rows[key] = ledger.slim(row)
                ledger.offsets.pop(key, None)
            else:
                ledger.rows[key] = row
            taken += 1
    if record:
        ledger.commit()
    return taken


def ledger_states(
    path: Path, codec: RowCodec, finished: Callable[[Any], bool], skipped: collections.Counter | None = None
) -> list[tuple[Path, dict[str, bool]]]:
    """Each ledger of ``path`` (the merged one, then each shard's) with whether each of its keys is finished
    (its last row); read only, one line at a time, safe while the shards run. A line that is not a row (a torn
    last line, or one the run itself will name) is passed over, and counted by file name in ``skipped``."""
    found = []
    for file in [path, *shard_files(path)]:
        if not file.is_file():
            continue
        state: dict[str, bool] = {}  # the last row of a key wins; only a flag per key is kept
        with file.open(encoding="utf-8", errors="replace") as lines_of_file:
            if codec.header is not None:
                next(lines_of_file, None)
            for line in lines_of_file:
                try:
                    row = codec.decode(line.rstrip("\n"))
                except ValueError:
                    if skipped is not None:
                        skipped[file.name] += 1
                    continue
                state[codec.key(row)] = finished(row)
        found.append((file, state))
    return found


def status_lines(
    path: Path,
    codec: RowCodec,
    finished: Callable[[Any], bool],
    part_size: Callable[[Shard], int] | None = None,
    what: str = "items",
    states: list[tuple[Path, dict[str, bool]]] | None = None,
) -> list[str]:
    """How far each ledger of ``path`` got (the merged one, then each shard's): read only, safe while they run.

    ``finished`` says whether a row is done (else it is a recorded failure); ``part_size`` how many items a
    shard's part has, when the caller knows; ``states``: :func:`ledger_states`, when the caller has read them.
    """
    lines = []
    for file, state in states if states is not None else ledger_states(path, codec, finished):
        done = sum(state.values())
        which = shard_of(file)
        of = f" of {part_size(which)}" if which is not None and part_size is not None else ""
        name = f"shard {which}" if which is not None else "merged"
        lines.append(f"{name} ({file.name}): {done}{of} {what} finished, {len(state) - done} failed")
    return lines or [f"no ledger yet ({path.name}): nothing has run"]
