"""Getting the audio: the 10-second YouTube clips of a config, one file each, resumable, every clip accounted for.

    audio-dialogues download clips/ --config music_dialogues
    audio-dialogues download clips/ --config audioset_dialogues --clip-times audioset_eval_strong.tsv

The release names only the video, so each clip's window comes from metadata: the shipped MusicCaps
CSV for ``music_dialogues``, and for the AudioSet configs the ``--clip-times`` files (the AudioSet
strong-label TSV or segments CSV, :func:`read_clip_times`). An id with no known window is not
guessed: it is recorded as ``no-clip-time``.

Each clip is one ``yt-dlp`` process that fetches only the window (``--download-sections``), then
one ``ffmpeg`` process that makes it mono at the chosen rate and format. Processes, not the
``yt_dlp.YoutubeDL`` class in threads, because a process can be timed out and killed (with its
own ffmpeg) when a video hangs, its exit status and stderr say per clip what went wrong, and a
crash in one cannot take the run down. The result is written under a temporary name and renamed to
``<youtube id>_<start>_<end>.<format>`` (a name the loader resolves by id) only when complete.

``OUT_DIR/download_status.tsv`` is the ledger: one row per clip (the last row of an id wins; rows
are appended as clips finish and the file is rewritten compactly at the end of a run), so a run
killed at any moment loses at most the clips in flight. A rerun skips every clip whose row is
``ok`` and whose file is there, and tries again what may succeed now (:data:`RETRY_ON_RERUN`).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..core.decoding import AudioDecodeError, audio_seconds
from ..core.errors import did_you_mean
from ..core.strong_labels import split_segment_id
from ..engine.ledger import Ledger
from ..engine.lock import FolderLock
from ..engine.retry import Backoff
from ..engine.runner import run_jobs
from ..engine.settings import check_settings
from ..engine.stop import StopPolicy
from ..loading.options import check_options

LEDGER = "download_status.tsv"
LEDGER_COLUMNS: tuple[str, ...] = ("youtube_id", "status", "attempts", "file", "start", "end", "detail")
TEMP_DIR = ".download_tmp"  # in OUT_DIR, so the final rename is atomic; emptied at the start of every run
SETTINGS_FILE = ".download_settings.json"  # the output-shaping settings of the clips in OUT_DIR
YOUTUBE_URL = "https://www.youtube.com/watch?v={youtube_id}"
CLIP_SECONDS = 10.0  # an AudioSet strong-label segment is 10 s from its start

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
    "timeout": "yt-dlp or ffmpeg ran longer than --timeout and was stopped",
    "error": "any other failure; `detail` has the tool's last error line",
}
RETRY_IN_RUN = frozenset({"rate-limited", "timeout", "error"})  # retried with backoff, up to --retries
RETRY_ON_RERUN = RETRY_IN_RUN | {"no-clip-time"}  # tried again by a rerun (the others need --retry-failed)
NEEDS_COOKIES = frozenset({"age-restricted", "sign-in"})  # also tried again by a rerun given --cookies

# The tool's error message -> status; the first pattern that matches wins.
_ERROR_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple(
    (status, re.compile(pattern, re.I))
    for status, pattern in (
        ("rate-limited", r"HTTP Error 429|Too Many Requests"),
        ("private", r"private video|video is private"),
        ("age-restricted", r"confirm your age|age[- ]restricted|inappropriate for some users"),
        ("sign-in", r"sign in to confirm|sign in|members[- ]only|join this channel"),
        ("not-found", r"HTTP Error (404|410)"),
        (
            "unavailable",
            r"video unavailable|has been removed|no longer available|account .*terminated|"
            r"not available in your country|blocked it",
        ),
    )
)

# --audio-format -> (ffmpeg encoder, ffmpeg muxer); every extension is one the loader reads.
AUDIO_FORMATS: dict[str, tuple[str, str]] = {
    "flac": ("flac", "flac"),
    "wav": ("pcm_s16le", "wav"),
    "mp3": ("libmp3lame", "mp3"),
    "ogg": ("libvorbis", "ogg"),
    "opus": ("libopus", "opus"),
}


class ClipTimesFormatError(ValueError):
    """A --clip-times file is in neither published AudioSet form; the message names the file, line and field."""

    def __init__(self, source: str, line: int | None, field_name: str | None, problem: str):
        self.source, self.line, self.field = source, line, field_name
        where = ", ".join(
            p for p in (source, f"line {line}" if line else None, f"field '{field_name}'" if field_name else None) if p
        )
        super().__init__(
            f"{where}: {problem}. Pass the AudioSet strong-label TSV (segment_id, start_time_seconds, "
            "end_time_seconds, label) or segments CSV (YTID, start_seconds, end_seconds, positive_labels) "
            "unmodified."
        )


@dataclass(frozen=True)
class ClipTime:
    """The window of a video that is the clip, in seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


# --- where each clip's window comes from -------------------------------------------------------------------------


def parse_strong_label_tsv(text: str, source: str = "<strong-label TSV>") -> dict[str, ClipTime]:
    """The clip windows of an AudioSet strong-label TSV, by YouTube id.

    A row is ``<youtube id>_<start in ms><TAB>event start<TAB>event end<TAB>label``: the segment's
    window is ``[start, start + 10 s]`` (the event times are inside it). YouTube ids hold underscores,
    so the segment id is split on its *last* underscore. An id is listed once per event; two
    different starts for one id are an error.
    """
    lines = text.splitlines()
    if not lines or lines[0].split("\t")[0].strip() != "segment_id":
        raise ClipTimesFormatError(source, 1, None, "expected the header segment_id<TAB>start_time_seconds<TAB>...")
    times: dict[str, ClipTime] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        segment_id = line.split("\t")[0].strip()
        parsed = split_segment_id(segment_id)
        if parsed is None:
            raise ClipTimesFormatError(
                source, number, "segment_id", f"expected <youtube id>_<start in ms>, got {segment_id!r}"
            )
        youtube_id, start_ms = parsed
        start = start_ms / 1000
        _add(times, youtube_id, ClipTime(start, start + CLIP_SECONDS), source, number)
    return times


def parse_segments_csv(text: str, source: str = "<segments CSV>") -> dict[str, ClipTime]:
    """The clip windows of an AudioSet segments CSV (``YTID, start_seconds, end_seconds, positive_labels``),
    by YouTube id; lines starting with ``#`` are comments."""
    times: dict[str, ClipTime] = {}
    rows = csv.reader(text.splitlines(), skipinitialspace=True)
    for row in rows:
        number = rows.line_num
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 3:
            raise ClipTimesFormatError(source, number, None, f"expected YTID, start_seconds, end_seconds, got {row!r}")
        values = []
        for name, value in (("start_seconds", row[1]), ("end_seconds", row[2])):
            try:
                values.append(float(value))
            except ValueError:
                raise ClipTimesFormatError(source, number, name, f"expected seconds, got {value!r}") from None
        start, end = values
        if end <= start:
            raise ClipTimesFormatError(source, number, "end_seconds", f"{end} is not after start_seconds {start}")
        _add(times, row[0].strip(), ClipTime(start, end), source, number)
    return times


def _add(times: dict[str, ClipTime], youtube_id: str, time_: ClipTime, source: str, line: int) -> None:
    known = times.setdefault(youtube_id, time_)
    if known != time_:
        raise ClipTimesFormatError(source, line, None, f"{youtube_id} has two windows, {known} and {time_}")


def read_clip_times(path: str | os.PathLike) -> dict[str, ClipTime]:
    """Read one ``--clip-times`` file, in whichever of the two published forms it is (told by its first line)."""
    text = Path(path).read_text(encoding="utf-8")
    first = text.lstrip().split("\n", 1)[0]
    if first.startswith("segment_id"):
        return parse_strong_label_tsv(text, str(path))
    return parse_segments_csv(text, str(path))


def musiccaps_times() -> dict[str, ClipTime]:
    """The windows of the shipped MusicCaps CSV (``start_s``, ``end_s``)."""
    from ..core.musiccaps import shipped_musiccaps

    return {ytid: ClipTime(float(clip.start_s), float(clip.end_s)) for ytid, clip in shipped_musiccaps().items()}


def read_missing_ids(path: str | os.PathLike) -> list[str]:
    """The YouTube ids of a load's ``<split>.missing.tsv`` (column ``youtube_id``)."""
    with open(path, encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file, delimiter="\t")
        if "youtube_id" not in (reader.fieldnames or ()):
            raise ValueError(
                f"{path}: no youtube_id column (header {reader.fieldnames}); pass the <split>.missing.tsv "
                "a load wrote (its summary line names it)."
            )
        return [row["youtube_id"] for row in reader if row["youtube_id"]]


# --- which clips ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """One YouTube video to fetch a window of, and the splits that need it."""

    youtube_id: str
    splits: tuple[str, ...]
    time: ClipTime | None

    def file_name(self, audio_format: str) -> str:
        """``<id>_<start>_<end>.<format>``, seconds, e.g. ``-0Gj8-vB1q4_30_40.flac`` (the loader resolves it by id)."""
        assert self.time is not None
        return f"{self.youtube_id}_{_seconds(self.time.start)}_{_seconds(self.time.end)}.{audio_format}"


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


@dataclass
class Plan:
    """The clips of a config's splits, and what was left out of them (never silently)."""

    config: str
    clips: list[Clip]
    needed: dict[str, int]  # distinct clips per split
    not_in_release: list[str] = field(default_factory=list)  # --only-missing ids that no chosen split needs


def plan_clips(
    config: str,
    splits: Sequence[str] | None = None,
    *,
    clip_times: Iterable[str | os.PathLike] = (),
    only_missing: Iterable[str | os.PathLike] = (),
    data_dir: str | None = None,
    data_files=None,
    verification_mode: str | None = None,
    on_invalid: str = "error",
) -> Plan:
    """Every distinct YouTube id of ``config``'s splits (release order), with its window where known.

    Read with the loader's own release reader (the bundled sample without ``data_dir``/``data_files``).
    ``only_missing`` (``.missing.tsv`` files) keeps only the ids they list.
    """
    from ..core.splits import read_release

    release = read_release(
        config,
        splits,
        data_dir=data_dir,
        data_files=data_files,
        verification_mode=verification_mode,
        on_invalid=on_invalid,
    )
    times = musiccaps_times() if config == "music_dialogues" else {}
    for path in clip_times:
        times.update(read_clip_times(path))
    wanted: set[str] | None = None
    for path in only_missing:
        wanted = (wanted or set()) | set(read_missing_ids(path))
    splits_of: dict[str, list[str]] = {}
    for split, joined in release.items():
        for item in joined:
            for youtube_id in item.record.youtube_ids:
                owners = splits_of.setdefault(youtube_id, [])
                if split not in owners:
                    owners.append(split)
    chosen = [y for y in splits_of if wanted is None or y in wanted]
    needed = {split: sum(1 for y in chosen if split in splits_of[y]) for split in release}
    clips = [Clip(y, tuple(splits_of[y]), times.get(y)) for y in chosen]
    return Plan(config, clips, needed, sorted(wanted - splits_of.keys()) if wanted is not None else [])


# --- the ledger ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    """What happened to one clip, so far."""

    youtube_id: str
    status: str
    attempts: int = 0
    file: str = ""
    start: str = ""
    end: str = ""
    detail: str = ""

    def to_line(self) -> str:
        values = (self.youtube_id, self.status, str(self.attempts), self.file, self.start, self.end, self.detail)
        return "\t".join(re.sub(r"[\t\r\n]+", " ", v) for v in values) + "\n"


@dataclass(frozen=True)
class StatusTsv:
    """The row codec of ``download_status.tsv`` for the engine's :class:`~.engine.ledger.Ledger`."""

    header: str = "\t".join(LEDGER_COLUMNS)

    def encode(self, row: LedgerRow) -> str:
        return row.to_line()[:-1]

    def decode(self, line: str) -> LedgerRow:
        values = line.split("\t")
        if len(values) != len(LEDGER_COLUMNS) or values[1] not in STATUSES or not values[2].isdigit():
            raise ValueError(
                f"expected {len(LEDGER_COLUMNS)} tab-separated fields, a status in {', '.join(STATUSES)} and a "
                "number of attempts (delete that line: the clip is then fetched again)"
            )
        return LedgerRow(values[0], values[1], int(values[2]), *values[3:])

    def key(self, row: LedgerRow) -> str:
        return row.youtube_id


# --- fetching one clip --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchOptions:
    """How each clip is fetched (the command's flags)."""

    url_template: str = YOUTUBE_URL
    audio_format: str = "flac"
    sampling_rate: int | None = 16000  # None: keep the source's rate
    retries: int = 3  # further attempts after a retryable failure
    backoff: float = 10.0  # seconds before the first retry; doubled each retry, with jitter
    max_backoff: float = 600.0
    timeout: float = 300.0  # seconds for one yt-dlp or ffmpeg process
    cookies: str | None = None
    rate_limit: str | None = None  # yt-dlp --limit-rate, e.g. 2M
    sleep: float = 0.0  # seconds between two downloads' starts, all jobs together
    ffmpeg: str = "ffmpeg"
    js_runtime: str | None = None  # deno's path, for YouTube's player JavaScript


@dataclass(frozen=True)
class Outcome:
    status: str
    detail: str = ""
    file: str = ""


def find_ffmpeg() -> str:
    """The ffmpeg of the imageio-ffmpeg package (a static build in its wheel), else ``ffmpeg`` on PATH."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
        if found:
            return found
    raise RuntimeError(
        "No ffmpeg found: reinstall audio-dialogues (it brings imageio-ffmpeg, which "
        "ships one), or install ffmpeg on PATH."
    )


def find_js_runtime() -> str | None:
    """deno from the ``deno`` package (yt-dlp's ``deno`` extra) or PATH: yt-dlp needs a JavaScript runtime
    for YouTube."""
    try:
        import deno

        return deno.find_deno_bin()
    except (ImportError, FileNotFoundError, RuntimeError):
        return shutil.which("deno")


def classify(message: str) -> str:
    """The status a failed download's error message means (``error`` when no pattern matches)."""
    for status, pattern in _ERROR_PATTERNS:
        if pattern.search(message):
            return status
    return "error"


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["(no message)"])[-1][:300]


class _Processes:
    """The processes running now, so that an interrupt can stop them all; and the pace at which downloads start."""

    def __init__(self, interval: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self.stopping = threading.Event()
        self.interval = interval  # seconds between two downloads' starts, all jobs together
        self._next_start = 0.0

    def pace(self) -> bool:
        """Wait for this download's turn (``--sleep``); False when stopping."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self.interval
        return not self.stopping.wait(start - now) if start > now else not self.stopping.is_set()

    def run(self, command: Sequence[str], timeout: float) -> tuple[int | None, str]:
        """Run ``command`` in its own process group; ``(None, stderr)`` when it timed out or was stopped."""
        if self.stopping.is_set():
            return None, "stopped"
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        with self._lock:
            self._running.add(process)
            if self.stopping.is_set():  # stop_all ran between the check above and the Popen
                _kill(process)
        try:
            _, stderr = process.communicate(timeout=timeout)
            return (None if self.stopping.is_set() else process.returncode), stderr
        except subprocess.TimeoutExpired:
            _kill(process)
            _, stderr = process.communicate()
            return None, stderr
        finally:
            with self._lock:
                self._running.discard(process)

    def stop_all(self) -> None:
        self.stopping.set()
        with self._lock:
            for process in self._running:
                _kill(process)


def _kill(process: subprocess.Popen) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)  # yt-dlp and the ffmpeg it started
        else:  # Windows: no process groups
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass


def fetch_clip(
    clip: Clip,
    out_dir: Path,
    options: FetchOptions,
    processes: _Processes,
    previous_attempts: int = 0,
    on_retry: Callable[[str, str], None] | None = None,
) -> LedgerRow | None:
    """Fetch one clip, retrying rate limits and transient errors with exponential backoff and jitter.

    ``None`` when an interrupt stopped it before any try ended (nothing to record).
    """
    assert clip.time is not None
    row = LedgerRow(clip.youtube_id, "error", previous_attempts, "", _seconds(clip.time.start), _seconds(clip.time.end))
    tried = False
    for attempt in range(options.retries + 1):
        if attempt:
            delay = Backoff(options.backoff, options.max_backoff).delay(attempt)
            if on_retry:
                on_retry(clip.youtube_id, row.status)
            if processes.stopping.wait(delay):
                break
        try:
            outcome = _attempt(clip, out_dir, options, processes)
        except OSError as err:  # e.g. the disk is full: recorded, and retried like any transient error
            outcome = Outcome("error", f"{type(err).__name__}: {err}")
        if outcome.status == "stopped":
            break
        tried = True
        row = replace(row, status=outcome.status, attempts=row.attempts + 1, file=outcome.file, detail=outcome.detail)
        if outcome.status not in RETRY_IN_RUN:
            break
    return row if tried else None


def _attempt(clip: Clip, out_dir: Path, options: FetchOptions, processes: _Processes) -> Outcome:
    """One try: yt-dlp fetches the window into a temporary folder, ffmpeg converts, the result is renamed."""
    assert clip.time is not None
    work = out_dir / TEMP_DIR / f"{os.getpid()}-{clip.youtube_id}"  # apart from a killed run's orphaned yt-dlp
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        url = options.url_template.format(youtube_id=clip.youtube_id)
        command = [
            sys.executable,
            "-m",
            "yt_dlp",
            "--ignore-config",
            "--no-cache-dir",
            "--no-playlist",
            "--no-progress",
            "--no-mtime",
            "--retries",
            "0",
            "--extractor-retries",
            "0",
            "--socket-timeout",
            "30",
            "--ffmpeg-location",
            options.ffmpeg,
            "-f",
            "bestaudio/best",
            "--download-sections",
            f"*{clip.time.start}-{clip.time.end}",
            "-o",
            str(work / "source.%(ext)s.part"),
        ]
        if options.cookies:
            command += ["--cookies", options.cookies]
        if options.rate_limit:
            command += ["--limit-rate", options.rate_limit]
        if options.js_runtime:
            command += ["--js-runtimes", f"deno:{options.js_runtime}"]
        if not processes.pace():
            return Outcome("stopped")
        code, stderr = processes.run([*command, "--", url], options.timeout)
        if processes.stopping.is_set():
            return Outcome("stopped")
        if code is None:
            return Outcome("timeout", f"yt-dlp ran over {options.timeout:g} s")
        if code != 0:
            message = _last_error(stderr)
            return Outcome(classify(message), message)
        sources = [p for p in work.iterdir() if p.name.startswith("source.") and not p.name.endswith(".part.part")]
        if not sources:
            return Outcome("error", f"yt-dlp exited 0 but wrote no file ({_last_error(stderr)})")
        return _convert(clip, sources[0], work, out_dir, options, processes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _convert(
    clip: Clip, source: Path, work: Path, out_dir: Path, options: FetchOptions, processes: _Processes
) -> Outcome:
    assert clip.time is not None
    encoder, muxer = AUDIO_FORMATS[options.audio_format]
    converted = work / "clip.partial"
    command = [
        options.ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-i",
        str(source),
        "-t",
        f"{clip.time.seconds:.3f}",
        "-vn",
        "-ac",
        "1",
    ]
    if options.sampling_rate:
        command += ["-ar", str(options.sampling_rate)]
    command += ["-c:a", encoder, "-f", muxer, str(converted)]
    code, stderr = processes.run(command, options.timeout)
    if processes.stopping.is_set():
        return Outcome("stopped")
    if code is None:
        return Outcome("timeout", f"ffmpeg ran over {options.timeout:g} s")
    if code != 0:
        return Outcome("error", f"ffmpeg: {_last_error(stderr)}")
    try:
        seconds: float | None = audio_seconds(converted)
    except AudioDecodeError:  # a format soundfile cannot read: the clip is kept, and the detail says so
        seconds = None
    if seconds == 0:
        return Outcome("empty", f"the window {clip.time.start:g}-{clip.time.end:g} s holds no audio")
    name = clip.file_name(options.audio_format)
    os.replace(converted, out_dir / name)
    detail = (
        f"{seconds:.2f} s"
        if seconds is not None
        else f"duration not checked (soundfile cannot read .{options.audio_format})"
    )
    return Outcome("ok", detail, name)


# --- the run --------------------------------------------------------------------------------------------------------


@dataclass
class DownloadResult:
    """What a run did and where the clips stand; :meth:`summary` is the closing report."""

    out_dir: str
    plan: Plan
    rows: dict[str, LedgerRow]  # the ledger's rows of the planned clips
    tried: int = 0  # clips tried in this run
    no_time: int = 0  # clips without a window (status no-clip-time), not tried
    skipped_done: int = 0  # ok in the ledger and the file is there
    skipped_final: int = 0  # a failure recorded earlier and not retried (see RETRY_ON_RERUN)
    not_attempted: int = 0  # left for a later run by --limit or an interrupt
    retries: int = 0  # retries after a rate limit or transient error
    adopted: int = 0  # complete files found without an ok row (a kill between rename and ledger), recorded ok
    interrupted: bool = False
    torn_lines: int = 0
    notes: list[str] = field(default_factory=list)  # warnings about the tools, printed in the summary

    @property
    def counts(self) -> Counter:
        """Clips per status; ``pending`` for clips that have no status yet."""
        return Counter(
            self.rows[c.youtube_id].status if c.youtube_id in self.rows else "pending" for c in self.plan.clips
        )

    @property
    def complete(self) -> bool:
        """Every planned clip has a final status (finished, or a recorded failure)."""
        return not self.interrupted and self.counts.get("pending", 0) == 0

    def summary(self) -> str:
        ok = {c.youtube_id for c in self.plan.clips if self.rows.get(c.youtube_id, LedgerRow("", "")).status == "ok"}
        lines = [
            f"{self.plan.config} -> {self.out_dir} (ledger {LEDGER}): {len(self.plan.clips)} clips; this run "
            f"tried {self.tried}, retried {self.retries} times, skipped {self.skipped_done} already "
            f"downloaded and {self.skipped_final} recorded failures"
            + (f", found no window for {self.no_time}" if self.no_time else "")
            + (f", left {self.not_attempted} for a later run" if self.not_attempted else "")
            + (f", recorded {self.adopted} complete files found without a row" if self.adopted else "")
        ]
        for split, needed in self.plan.needed.items():
            have = sum(1 for c in self.plan.clips if split in c.splits and c.youtube_id in ok)
            share = f" ({100 * have / needed:.1f}%)" if needed else ""
            lines.append(f"  {self.plan.config}/{split}: {have} of {needed} clips ok{share}")
        lines.append("  status: " + ", ".join(f"{s} {n}" for s, n in sorted(self.counts.items(), key=_status_order)))
        if self.plan.not_in_release:
            lines.append(
                f"  {len(self.plan.not_in_release)} ids of the .missing.tsv files are not needed by the "
                f"chosen splits, not fetched (first: {', '.join(self.plan.not_in_release[:3])})"
            )
        if self.no_time:
            lines.append(
                f"  {self.no_time} clips have no window (status no-clip-time): pass --clip-times with the "
                "AudioSet strong-label TSV or segments CSV that lists them"
            )
        if self.torn_lines:
            lines.append(
                f"  the ledger's last line was cut short by an earlier kill: set aside in {LEDGER}.torn, "
                "that clip is done again"
            )
        lines += [f"  note: {note}" for note in self.notes]
        if self.interrupted:
            lines.append("  interrupted: the ledger holds every finished clip; rerun the same command to go on")
        return "\n".join(lines)


def _status_order(item: tuple[str, int]) -> tuple[int, str]:
    order = [*STATUSES, "pending"]
    return order.index(item[0]), item[0]


def _to_fetch(clip: Clip, row: LedgerRow | None, out_dir: Path, options: FetchOptions, retry_failed: bool) -> str:
    """``fetch``, ``done`` (ok, file there) or ``final`` (a recorded failure not to retry now)."""
    if row is None:
        return "fetch"
    if row.status == "ok":
        return "done" if row.file and (out_dir / row.file).is_file() else "fetch"
    if retry_failed or row.status in RETRY_ON_RERUN or (row.status in NEEDS_COOKIES and options.cookies):
        return "fetch"
    return "final"


def download(
    out_dir: str | os.PathLike,
    config: str,
    splits: Sequence[str] | None = None,
    *,
    clip_times: Iterable[str | os.PathLike] = (),
    only_missing: Iterable[str | os.PathLike] = (),
    data_dir: str | None = None,
    data_files=None,
    verification_mode: str | None = None,
    on_invalid: str = "error",
    url_template: str = YOUTUBE_URL,
    jobs: int = 3,
    retries: int = 3,
    backoff: float = 10.0,
    timeout: float = 300.0,
    audio_format: str = "flac",
    sampling_rate: int | None = 16000,
    cookies: str | os.PathLike | None = None,
    rate_limit: str | None = None,
    sleep: float = 0.0,
    limit: int | None = None,
    retry_failed: bool = False,
    progress: bool = True,
) -> DownloadResult:
    """Download the clips of ``config``'s ``splits`` (default: all) into ``out_dir``; see the module docstring.

    Resumable: what the ledger records as finished is not fetched again. ``limit`` fetches at most
    that many clips this run. A ``KeyboardInterrupt`` stops the running downloads, keeps the ledger
    and returns a result with ``interrupted=True``.

    Raises:
        ValueError: a bad option, release file, ``--clip-times`` file or ledger (the message names it).
        RuntimeError: no ffmpeg, or another download is running into ``out_dir``.
    """
    if audio_format not in AUDIO_FORMATS:
        raise ValueError(
            f"audio_format={audio_format!r}: choose one of {', '.join(AUDIO_FORMATS)}."
            f"{did_you_mean(audio_format, AUDIO_FORMATS)}"
        )
    check_options({"sampling_rate": sampling_rate})  # the loader's rule: a positive int, or None to keep the rate
    if "{youtube_id}" not in url_template:
        raise ValueError(f"url_template={url_template!r} has no {{youtube_id}} to substitute.")
    if jobs < 1 or retries < 0 or (limit is not None and limit < 0):
        raise ValueError(f"jobs={jobs}, retries={retries}, limit={limit}: need jobs >= 1, retries >= 0, limit >= 0.")
    if cookies is not None and not Path(cookies).is_file():
        raise ValueError(
            f"cookies={str(cookies)!r} is not a file: export your browser's cookies in the Netscape "
            "format (yt-dlp's FAQ explains how)."
        )
    if importlib.util.find_spec("yt_dlp") is None:
        raise RuntimeError(
            "yt-dlp is not installed: reinstall audio-dialogues (it requires yt-dlp with the "
            "JavaScript runtime YouTube needs, and an ffmpeg)."
        )
    plan = plan_clips(
        config,
        splits,
        clip_times=clip_times,
        only_missing=only_missing,
        data_dir=data_dir,
        data_files=data_files,
        verification_mode=verification_mode,
        on_invalid=on_invalid,
    )
    options = FetchOptions(
        url_template,
        audio_format,
        sampling_rate,
        retries,
        backoff,
        timeout=timeout,
        cookies=str(cookies) if cookies else None,
        rate_limit=rate_limit,
        sleep=sleep,
        ffmpeg=find_ffmpeg(),
        js_runtime=find_js_runtime() if "youtube" in url_template else None,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with FolderLock(out, "download", holder=config):
        check_settings(
            out / SETTINGS_FILE,
            {"audio_format": audio_format, "output_rate": sampling_rate, "url_template": url_template},
            what=str(out),
            names={"audio_format": "--audio-format", "output_rate": "--output-rate", "url_template": "--url-template"},
        )
        shutil.rmtree(out / TEMP_DIR, ignore_errors=True)  # what a killed run left
        ledger = Ledger(out / LEDGER, StatusTsv())
        result = DownloadResult(str(out), plan, ledger.rows, torn_lines=ledger.torn_lines)
        if "youtube" in url_template and options.js_runtime is None:
            result.notes.append(
                "no JavaScript runtime (deno) found: yt-dlp may fail on YouTube; "
                "pip install 'yt-dlp[default,deno]' brings one"
            )
        todo = _triage(plan, ledger, out, options, retry_failed, result)
        if limit is not None and len(todo) > limit:
            result.not_attempted, todo = len(todo) - limit, todo[:limit]
        try:
            _run(todo, out, options, ledger, result, jobs, progress)
        finally:
            ledger.compact()
            shutil.rmtree(out / TEMP_DIR, ignore_errors=True)
    return result


def _triage(
    plan: Plan, ledger: Ledger, out: Path, options: FetchOptions, retry_failed: bool, result: DownloadResult
) -> list[Clip]:
    """The clips to fetch now; the others are counted in ``result`` (and clips without a window recorded)."""
    todo: list[Clip] = []
    for clip in plan.clips:
        row = ledger.rows.get(clip.youtube_id)
        if row is not None and row.status == "ok" and row.file and (out / row.file).is_file():
            result.skipped_done += 1  # finished: kept even when this run has no window for it
            continue
        if clip.time is None:
            where = (
                "the MusicCaps CSV nor any --clip-times file"
                if plan.config == "music_dialogues"
                else "any --clip-times file"
            )
            ledger.rows[clip.youtube_id] = LedgerRow(
                clip.youtube_id, "no-clip-time", row.attempts if row else 0, detail=f"not in {where}"
            )
            result.no_time += 1
            continue
        if row is None or row.status != "ok":
            name = clip.file_name(options.audio_format)
            if (out / name).is_file():  # renamed complete, then killed before its row was written
                ledger.record(
                    LedgerRow(
                        clip.youtube_id,
                        "ok",
                        row.attempts if row else 1,
                        name,
                        _seconds(clip.time.start),
                        _seconds(clip.time.end),
                        "complete file found from an earlier run",
                    )
                )
                result.adopted += 1
                row = ledger.rows[clip.youtube_id]
        decision = _to_fetch(clip, row, out, options, retry_failed)
        if decision == "done":
            result.skipped_done += 1
        elif decision == "final":
            result.skipped_final += 1
        else:
            todo.append(clip)
    return todo


def _run(
    todo: list[Clip],
    out: Path,
    options: FetchOptions,
    ledger: Ledger,
    result: DownloadResult,
    jobs: int,
    progress: bool,
) -> None:
    """Fetch ``todo`` on the run engine, ``jobs`` clips at once; the ledger is written in this thread only.

    The stop policy's first Ctrl-C kills the downloads in flight (half a clip is worth nothing) and
    starts no other; those clips stay pending for the next run.
    """
    processes = _Processes(options.sleep)
    counts: Counter = Counter()
    retried: list[str] = []  # list.append is atomic: the worker threads call on_retry

    def on_retry(youtube_id: str, status: str) -> None:
        retried.append(status)

    def fetch(clip: Clip) -> LedgerRow | None:
        previous = ledger.rows.get(clip.youtube_id)
        return fetch_clip(clip, out, options, processes, previous.attempts if previous else 0, on_retry)

    def record(clip: Clip, row: LedgerRow | None) -> str | None:
        if row is None:  # stopped before a try ended
            return None
        ledger.record(row)
        result.tried += 1
        counts[row.status] += 1
        return ", ".join(f"{s} {n}" for s, n in sorted(counts.items(), key=_status_order))

    stop = StopPolicy(
        "the downloads in flight are stopped, to be redone by a rerun",
        on_stop=[processes.stop_all],
        on_abandon=[processes.stop_all],
    )
    try:
        with stop:
            run_jobs(
                todo,
                fetch,
                record,
                workers=jobs,
                stop=stop.event,
                commit=ledger.commit,
                total=len(todo),
                label="download",
                unit="clip",
                progress=progress and bool(todo),
            )
    finally:
        result.retries = len(retried)
        if stop.stopped:
            result.interrupted = True
            result.not_attempted += len(todo) - result.tried


# --- the command ---------------------------------------------------------------------------------------------------
