"""The ledger of a long run: one line per finished item, appended as soon as it finishes, so a rerun does not
repeat it. A codec turns a row into a line and back: :data:`JSON_LINES` (generate, the evaluation protocol)
or a command's own (download keeps its documented ``download_status.tsv``)::

    {"key": "2oSP0SN3d2g", "status": "ok", "split": "train", ..., "reply": "...", "usage": {...}}

A later line for the same key replaces an earlier one (a failed item done again).

Durability is by group commit: each line is written and flushed to the operating system at once (a
killed process loses nothing it recorded), and :meth:`Ledger.commit` pushes a whole batch to the disk
with one ``fsync`` (the run engine calls it after each batch of answers received), so the disk is not
the bottleneck of a fast server.

A process killed while writing may leave a last line without its newline. If that line is complete
(the codec reads it), it is kept and its newline added; otherwise it is a truly partial line: its bytes
are moved to ``<ledger>.torn`` (never deleted) and that item is simply not finished.

A large ledger need not be held whole: ``slim`` keeps in memory only what a row says of itself that the
run needs (a key's status, say) and the byte offset of its line; :meth:`Ledger.whole_rows` reads the
whole rows again from the file, one at a time, when they are written out.
"""

from __future__ import annotations

import json
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, Iterable, Iterator, Protocol, TypeVar

from .files import open_append, refuse_link, replace_atomically

R = TypeVar("R")


class LedgerError(ValueError):
    pass


def headers_of(codec: "RowCodec") -> tuple[str | None, ...]:
    """The first lines a ledger of ``codec`` may begin with: its header, then the older ones it still reads."""
    return (codec.header, *getattr(codec, "old_headers", ()))


def not_a_header(path: Path, codec: "RowCodec") -> LedgerError:
    return LedgerError(
        f"{path}: line 1 is not the ledger header {codec.header!r}; move the file away to start a new ledger."
    )


def not_a_row(path: Path, number: int, err: Exception, line: bytes) -> LedgerError:
    return LedgerError(
        f"{path}, line {number}: not a ledger row ({err}): {line[:120]!r}. The ledger is written by audio-dialogues "
        "only: restore it, or delete that line to do that item again."
    )


class RowCodec(Protocol[R]):
    """How one row is written as one line (without its newline) and read back."""

    header: str | None  # the file's first line, or None

    def encode(self, row: R) -> str: ...

    def decode(self, line: str) -> R: ...  # raises ValueError saying what is wrong

    def key(self, row: R) -> str: ...


@dataclass(frozen=True)
class JsonLinesCodec:
    """A row is a JSON object; ``key_field`` names it (later rows of a key replace earlier ones)."""

    key_field: str = "key"
    header: str | None = None

    def encode(self, row: dict[str, Any]) -> str:
        return json.dumps(row, ensure_ascii=False)

    def decode(self, line: str) -> dict[str, Any]:
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"not JSON ({err.msg}, column {err.colno})") from None
        if not isinstance(row, dict) or self.key_field not in row:
            raise ValueError(f"not a JSON object with a {self.key_field!r}")
        return row

    def key(self, row: dict[str, Any]) -> str:
        return str(row[self.key_field])


JSON_LINES = JsonLinesCodec()


class Ledger(Generic[R]):
    """The rows of one ledger file, by key: :meth:`record` appends one, :meth:`commit` makes a batch durable."""

    def __init__(
        self,
        path: str | os.PathLike,
        codec: RowCodec = JSON_LINES,
        *,
        durable: bool = True,
        slim: Callable[[R], Any] | None = None,
        start: int = 0,
    ):
        """``slim``: keep ``slim(row)`` in :attr:`rows` instead of the row, and each key's line offset (its
        whole row: :meth:`whole_rows`); a slim ledger is never compacted. ``start``: read only the lines from
        that byte offset on (the end of lines read before, :attr:`end`; a header is not looked for)."""
        self.path = Path(path)
        self.codec = codec
        self.durable = durable  # False for a cache whose lost row costs only a recomputation
        self.slim = slim
        self.start = start
        self.rows: dict[str, R] = {}
        self.offsets: dict[str, int] = {}  # a slim ledger's: the byte offset of each key's last line
        self.end = start  # the byte offset after the last whole line read or written
        self.torn: bytes = b""  # a truly partial last line (set aside into :attr:`torn_path` on the first write)
        self._unterminated = False  # a complete last line without its newline (the newline is added on first write)
        self._file = None  # opened on the first record: reading a ledger writes nothing
        self._uncommitted = False
        self._torn_moved = False
        self._lines_read: int | None = None  # lines after the header (blank ones too); None: no file was read
        self._current_header = False  # the file began with the codec's header of today (not an older one)
        self._read()

    @property
    def is_compact(self) -> bool:
        """Whether the file, as read, is what :meth:`compact` would write: today's header, then one whole line per
        row (no older row of a key, no blank, cut or unterminated line). Such a ledger need not be rewritten."""
        return (
            self._lines_read == len(self.rows)
            and self.start == 0
            and (self._current_header or self.codec.header is None)
            and not self.torn
            and not self._unterminated
        )

    @property
    def torn_path(self) -> Path:
        return self.path.with_name(self.path.name + ".torn")

    @property
    def torn_lines(self) -> int:
        return 1 if self.torn else 0

    def _read(self) -> None:
        """Read the file line by line (a large ledger is never held whole as bytes)."""
        refuse_link(self.path)
        if not self.path.is_file():
            return
        header = self.codec.header if self.start == 0 else None
        headers = headers_of(self.codec)  # a codec may read older files
        slim, offsets, rows, codec = self.slim, self.offsets, self.rows, self.codec
        offset, lines_read = self.start, 0
        with self.path.open("rb") as file:
            file.seek(self.start)
            for number, line in enumerate(file, start=1):
                at, offset = offset, offset + len(line)
                whole = line.endswith(b"\n")  # only the last line may lack its newline
                line = line[:-1] if whole else line
                if number == 1 and header is not None:
                    if line.decode("utf-8", "replace") not in headers:
                        raise not_a_header(self.path, codec)
                    self._current_header, self._unterminated = line.decode("utf-8", "replace") == header, not whole
                    continue
                lines_read += 1
                if not line.strip():
                    continue
                try:
                    row = codec.decode(line.decode("utf-8"))
                except (ValueError, UnicodeDecodeError) as err:
                    if not whole:  # a truly partial last line: set aside on the first write
                        self.torn, offset = line, at
                        break
                    raise not_a_row(self.path, number, err, line) from None
                self._unterminated = not whole
                key = codec.key(row)
                if slim is None:
                    rows[key] = row
                else:
                    rows[key] = slim(row)
                    offsets[key] = at
        self.end, self._lines_read = offset, lines_read

    def whole_rows(self, keys: Iterable[str]) -> Iterator[R]:
        """The whole row of each of ``keys`` (a slim ledger's, read again from its file, in the order given)."""
        if self.slim is None:
            yield from (self.rows[key] for key in keys)
            return
        yield from (self.codec.decode(line) for _, line in self.lines(keys))

    def lines(self, keys: Iterable[str]) -> Iterator[tuple[str, str]]:
        """``(key, line)``: a slim ledger's line of each of ``keys`` (without its newline), as its file holds it."""
        if not self.offsets:  # nothing to find (and an empty file cannot be mapped)
            return
        if self._file is not None:
            self._file.flush()
        with self.path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for key in keys:  # in any order: a line is found by its offset, nothing read before it
                start = self.offsets[key]
                end = data.find(b"\n", start)
                yield key, data[start : end if end >= 0 else len(data)].decode("utf-8")

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def get(self, key: str) -> R | None:
        return self.rows.get(key)

    def __iter__(self) -> Iterator[R]:
        return iter(self.rows.values())

    def __len__(self) -> int:
        return len(self.rows)

    def record(self, row: R, *, flush: bool = True, line: str | None = None) -> None:
        """Append ``row`` and flush it to the operating system (durable on disk at the next :meth:`commit`).

        ``flush=False``: left in the file's buffer until the next :meth:`commit` (many rows written at once).
        ``line``: the row's line as another ledger of this codec holds it, copied rather than encoded again;
        ``row`` may then be that ledger's slim row (``slim`` takes its own rows back unchanged)."""
        file = self._open()
        line = (self.codec.encode(row) if line is None else line) + "\n"
        try:
            file.write(line)
            if flush:
                file.flush()
        except OSError as err:  # a full disk or a file-size limit: one line, naming what was kept
            self._file = None
            try:
                file.close()  # the fd is closed even when the flush of what is left fails again
            except OSError:
                pass
            raise OSError(
                err.errno,
                f"{self.path}: {err.strerror or err} while recording {self.codec.key(row)!r}; every entry before "
                "it is kept (a cut line is set aside on the next run). Free space, then rerun the same command",
            ) from err
        self._uncommitted = True
        key = self.codec.key(row)
        if self.slim is None:
            self.rows[key] = row
        else:
            self.rows[key] = self.slim(row)
            self.offsets[key] = self.end
        self.end += len(line) if line.isascii() else len(line.encode("utf-8"))

    def commit(self) -> None:
        """One ``fsync`` for every row recorded since the last commit."""
        if self._file is not None and self._uncommitted:
            self._file.flush()
            if self.durable:
                os.fsync(self._file.fileno())
        self._uncommitted = False

    def compact(self) -> None:
        """Rewrite the file with one row per key (a temporary file, then a rename)."""
        if self.slim is not None:
            raise LedgerError(f"{self.path}: a slim ledger holds only part of each row; it is never compacted")
        self.close()
        self._set_aside_torn()
        self.path.parent.mkdir(parents=True, exist_ok=True)

        def write(file) -> None:
            if self.codec.header is not None:
                file.write(self.codec.header + "\n")
            file.writelines(self.codec.encode(row) + "\n" for row in self.rows.values())

        replace_atomically(self.path, write, sync=self.durable)
        self._unterminated = False

    def _open(self):
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._set_aside_torn()
            new = not self.path.is_file() or self.path.stat().st_size == 0
            self._file = open_append(self.path)
            self.end = os.fstat(self._file.fileno()).st_size
            if self._unterminated:
                self._file.write("\n")
                self._unterminated = False
                self.end += 1
            if new and self.codec.header is not None:
                self._file.write(self.codec.header + "\n")
                self.end += len((self.codec.header + "\n").encode("utf-8"))
        return self._file

    def repair(self) -> None:
        """Make the file whole now (a run calls it under its lock): a partial last line set aside, a newline added."""
        if self.torn:
            self._set_aside_torn()
        elif self._unterminated:
            self._open()

    def _set_aside_torn(self) -> None:
        """Move a partial last line's bytes into ``<ledger>.torn`` (appended; never deleted), then cut it off."""
        if not self.torn or self._torn_moved or not self.path.is_file():
            return
        size = self.path.stat().st_size
        self._torn_moved = True
        with open_append(self.torn_path, binary=True) as side:
            side.write(self.torn + b"\n")
            side.flush()
            os.fsync(side.fileno())
        with self.path.open("r+b") as file:
            file.truncate(size - len(self.torn))

    def close(self) -> None:
        if self._file is not None:
            self.commit()
            self._file.close()
            self._file = None

    def __enter__(self) -> "Ledger[R]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
