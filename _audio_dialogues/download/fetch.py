"""Fetching one clip, whatever the audio source: the :class:`Fetcher` protocol, the statuses a try ends
with, the ledger's row of a clip and its TSV codec (:class:`StatusTsv`), and the retry loop around one clip
(the engine's backoff).

A fetcher is given a clip (a YouTube id and its window) and writes that clip's audio file into the
output folder, named ``clip.file_name(audio_format)``, through a temporary file under
``OUT_DIR/.download_tmp`` renamed into place only when complete. :mod:`.ytdlp` is the YouTube one; another
source (a Parquet or WebDataset archive of the clips, a mirror) is one more module with one class.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple, Protocol

from ..engine.retry import Backoff
from .plan import Clip, seconds_text

TEMP_DIR = ".download_tmp"  # in OUT_DIR, so the final rename is atomic; emptied at the start of every run

# What each status means (the README's table is this one).
STATUSES: dict[str, str] = {
    "ok": "downloaded; `file` is the clip",
    "not-found": "the server answered 404/410 (a wrong URL or a deleted file)",
    "unavailable": "YouTube says the video is unavailable, removed, terminated or blocked in your country",
    "private": "the video is private",
    "age-restricted": "YouTube asks to sign in to confirm your age: pass --cookies of an account that may watch it",
    "sign-in": "YouTube asks to sign in (members-only, or 'confirm you're not a bot'): pass --cookies, or slow down",
    "rate-limited": "HTTP 429 after every retry: wait, then rerun (maybe with fewer --jobs)",
    "no-clip-time": "no start/end known for this id: pass the --clip-times file that lists it",
    "empty": "the window holds no audio (the video is shorter than the clip's start)",
    "short": "the video ends inside the window: less audio than the window asks for (not kept)",
    "timeout": "yt-dlp or ffmpeg ran longer than --timeout and was stopped",
    "error": "any other failure; `detail` has the tool's last error line",
}
RETRY_IN_RUN = frozenset({"rate-limited", "timeout", "error"})  # retried with backoff, up to --retries
RETRY_ON_RERUN = RETRY_IN_RUN | {"no-clip-time"}  # tried again by a rerun (the others need --retry-failed)
NEEDS_COOKIES = frozenset({"age-restricted", "sign-in"})  # also tried again by a rerun given --cookies


@dataclass(frozen=True)
class Outcome:
    """How one try ended: a status of :data:`STATUSES` (or ``stopped``), a detail, the file written."""

    status: str
    detail: str = ""
    file: str = ""
    source: str = ""  # where the audio came from (``archive <shard>``, ``youtube yt-dlp <version>``)
    client: str = ""  # what served it, as yt-dlp tells (``youtube TVHTML5``, ``generic``); empty when unknown


class Fetcher(Protocol):
    """An audio source: given a clip, write its audio file into ``out_dir`` (one try)."""

    audio_format: str  # the extension of the files it writes
    stopping: threading.Event  # set by :meth:`stop`

    def fetch(self, clip: Clip, out_dir: Path) -> Outcome:
        """One try at ``clip`` (its ``time`` is set). ``Outcome("stopped")`` when :meth:`stop` cut it short."""
        ...

    def stop(self) -> None:
        """Stop every try in flight at once (the stop policy's first Ctrl-C); later tries end ``stopped``."""
        ...


class LedgerRow(NamedTuple):
    """What happened to one clip, so far (a named tuple: a resume builds one per line of a 120,000-clip ledger,
    three times faster than a frozen dataclass)."""

    youtube_id: str
    status: str
    attempts: int = 0
    file: str = ""
    start: str = ""
    end: str = ""
    detail: str = ""
    source: str = ""  # the fetcher's Outcome.source of the last try
    client: str = ""  # the fetcher's Outcome.client of the last try

    def to_line(self) -> str:
        values = (self.youtube_id, self.status, str(self.attempts), self.file, self.start, self.end, self.detail)
        values += (self.source, self.client)
        line = "\t".join(values)
        if line.count("\t") != len(values) - 1 or "\n" in line or "\r" in line:  # a value holds a tab or newline
            line = "\t".join(_BREAKS.sub(" ", v) for v in values)
        return line + "\n"


_BREAKS = re.compile(r"[\t\r\n]+")  # each run of them becomes one space in a ledger row


LEDGER_COLUMNS: tuple[str, ...] = ("youtube_id", "status", "attempts", "file", "start", "end", "detail", "source",
                                   "client")  # fmt: skip
_OLD_COLUMNS = (7, 8)  # ledgers written before the source column, and before the client column: still read


@dataclass(frozen=True)
class StatusTsv:
    """The row codec of ``download_status.tsv`` for the engine's :class:`~.engine.ledger.Ledger`."""

    header: str = "\t".join(LEDGER_COLUMNS)
    old_headers: tuple[str, ...] = tuple("\t".join(LEDGER_COLUMNS[:n]) for n in _OLD_COLUMNS)  # compaction rewrites

    def encode(self, row: LedgerRow) -> str:
        return row.to_line()[:-1]

    def decode(self, line: str) -> LedgerRow:
        values = _fields(line)
        return LedgerRow(values[0], values[1], int(values[2]), *values[3:])

    def line_key(self, line: str) -> str:
        """The clip of a line, checked as :meth:`decode` checks it, without building its row (a merge's fold)."""
        return _fields(line)[0]

    def key(self, row: LedgerRow) -> str:
        return row.youtube_id


def _fields(line: str) -> list[str]:
    values = line.split("\t")
    if len(values) not in (*_OLD_COLUMNS, len(LEDGER_COLUMNS)) or values[1] not in STATUSES or not values[2].isdigit():
        raise ValueError(
            f"expected {len(LEDGER_COLUMNS)} tab-separated fields, a status in {', '.join(STATUSES)} and a "
            "number of attempts (delete that line: the clip is then fetched again)"
        )
    return values


def fetch_clip(
    clip: Clip,
    fetcher: Fetcher,
    out_dir: Path,
    *,
    retries: int,
    backoff: Backoff,
    previous_attempts: int = 0,
    on_retry: Callable[[str, str], None] | None = None,
) -> LedgerRow | None:
    """Fetch one clip, retrying rate limits and transient errors (:data:`RETRY_IN_RUN`) with the engine's backoff.

    ``None`` when a stop came before any try ended (nothing to record).
    """
    assert clip.time is not None
    start, end = seconds_text(clip.time.start), seconds_text(clip.time.end)
    row = LedgerRow(clip.youtube_id, "error", previous_attempts, "", start, end)
    tried = False
    for attempt in range(retries + 1):
        if attempt:
            if on_retry:
                on_retry(clip.youtube_id, row.status)
            if fetcher.stopping.wait(backoff.delay(attempt)):
                break
        try:
            outcome = fetcher.fetch(clip, out_dir)
        except OSError as err:  # e.g. the disk is full: recorded, and retried like any transient error
            outcome = Outcome("error", f"{type(err).__name__}: {err}")
        if outcome.status == "stopped":
            break
        tried = True
        row = row._replace(
            status=outcome.status,
            attempts=row.attempts + 1,
            file=outcome.file,
            detail=outcome.detail,
            source=outcome.source,
            client=outcome.client,
        )
        if outcome.status not in RETRY_IN_RUN:
            break
    return row if tried else None
