"""The download run: the clips of a config, one file each, resumable, every clip accounted for.

    audio-dialogues download clips/ --config music_dialogues
    audio-dialogues download clips/ --config audioset_dialogues --clip-times audioset_eval_strong.tsv

:mod:`.plan` says which clips and their windows; a :class:`~.fetch.Fetcher` (:mod:`.ytdlp` for YouTube)
writes each clip; this module runs them on the engine (:mod:`..engine`): the folder's lock, the
settings record (another audio format, output rate or URL template is refused on resume), the job
runner with its stop policy, and the ledger.

``OUT_DIR/download_status.tsv`` is the ledger: one row per clip (the last row of an id wins; rows
are appended as clips finish and the file is rewritten compactly at the end of a run), so a run
killed at any moment loses at most the clips in flight. A rerun skips every clip whose row is
``ok`` and whose file is there, and tries again what may succeed now (:data:`RETRY_ON_RERUN`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

from ..core.decoding import AudioDecodeError, audio_seconds
from ..core.errors import mask_url
from ..engine.files import refuse_link
from ..engine.ledger import Ledger
from ..engine.options import flags, options_from, shaping
from ..engine.retry import Backoff
from ..engine.runner import run_jobs
from ..engine.settings import check_settings
from ..engine.shard import Shard, check_no_shard_running, fold_others, owner, run_lock, shard_files, status_lines
from ..engine.stop import StopPolicy
from .archive import INDEX_FILE, ArchiveFetcher, ArchiveIndex
from .fetch import (
    LEDGER_COLUMNS,  # noqa: F401  (the ledger's columns, imported from here by users and tests)
    NEEDS_COOKIES,
    RETRY_ON_RERUN,
    STATUSES,
    TEMP_DIR,
    Fetcher,
    LedgerRow,
    StatusTsv,
    fetch_clip,
)
from .options import DownloadOptions
from .plan import Clip, Plan, plan_clips, seconds_text
from .ytdlp import FetchOptions, YtDlpFetcher, find_ffmpeg, find_js_runtime

LEDGER = "download_status.tsv"
SETTINGS_FILE = ".download_settings.json"  # the output-shaping settings of the clips in OUT_DIR


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
    ledger_file: str = LEDGER  # this run's ledger: the folder's, or a shard's own
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
            f"{self.plan.config} -> {self.out_dir} (ledger {self.ledger_file}): {len(self.plan.clips)} clips; this run "
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


def _to_fetch(clip: Clip, row: LedgerRow | None, out_dir: Path, options, retry_failed: bool) -> str:
    """``fetch``, ``done`` (ok, file there) or ``final`` (a recorded failure not to retry now)."""
    if row is None:
        return "fetch"
    if row.status == "ok":
        return "done" if row.file and _nonempty(out_dir / row.file) else "fetch"
    if retry_failed or row.status in RETRY_ON_RERUN or (row.status in NEEDS_COOKIES and options.cookies):
        return "fetch"
    return "final"


def download(
    out_dir: str | os.PathLike,
    config: str,
    splits: Sequence[str] | None = None,
    *,
    data_dir: str | None = None,
    data_files=None,
    verification_mode: str | None = None,
    on_invalid: str = "error",
    fetcher: Fetcher | None = None,
    **options: Any,
) -> DownloadResult:
    """Download the clips of ``config``'s ``splits`` (default: all) into ``out_dir``; see the module docstring.

    ``options`` are those of :class:`~.options.DownloadOptions` (``jobs=``, ``audio_format=``,
    ``sampling_rate=`` the output rate, ...); the release is read with the load options ``data_dir``,
    ``data_files``, ``verification_mode`` and ``on_invalid``. ``fetcher`` is the audio source (a
    :class:`~.fetch.Fetcher`; default the YouTube one, :class:`~.ytdlp.YtDlpFetcher`). Resumable: what
    the ledger records as finished is not fetched again, and a resume with another audio format,
    output rate, URL template or fetcher is refused. ``limit`` fetches at most that many clips this
    run. The engine's stop policy (Ctrl-C, SIGTERM) stops the running downloads, keeps the ledger and
    returns a result with ``interrupted=True``.

    Raises:
        TypeError: an unknown option.
        ValueError: a bad option, release file, ``--clip-times`` file or ledger (the message names it),
            or settings other than those of the clips already in ``out_dir``.
        RuntimeError: no ffmpeg, or another download is running into ``out_dir``.
    """
    chosen = options_from(DownloadOptions, options, command="download")
    clip_times, only_missing, url_template = chosen.clip_times, chosen.only_missing, chosen.url_template
    cookies, jobs, retries, backoff, limit = chosen.cookies, chosen.jobs, chosen.retries, chosen.backoff, chosen.limit
    if "{youtube_id}" not in url_template:
        raise ValueError(f"url_template={url_template!r} has no {{youtube_id}} to substitute.")
    if cookies is not None and not Path(cookies).is_file():
        raise ValueError(
            f"cookies={str(cookies)!r} is not a file: export your browser's cookies in the Netscape "
            "format (yt-dlp's FAQ explains how)."
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
    shard = Shard.parse(chosen.shard)
    if shard is not None:  # this shard's part of the clips; the others' are left to them
        mine = [clip for clip in plan.clips if shard.owns(clip.youtube_id)]
        plan = replace(plan, clips=mine, needed={s: sum(s in c.splits for c in mine) for s in plan.needed})
    if chosen.status:
        return download_status(Path(out_dir), plan)
    if not chosen.youtube and not chosen.archive:
        raise ValueError("--no-youtube leaves no source of audio: pass --archive DIR (repeatable) too.")
    if fetcher is None and chosen.youtube:
        fetcher = youtube_fetcher(chosen)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if shard is None:
        check_no_shard_running(out, "download")
    own = shard.path if shard else Path  # this run's own files: the folder's, or the shard's
    with run_lock(out, "download", shard, holder=config):
        if chosen.archive:
            fetcher = archive_fetcher(chosen, own(out / INDEX_FILE), plan, fallback=fetcher if chosen.youtube else None)
        assert fetcher is not None
        settings = {**shaping(chosen), "source": getattr(fetcher, "settings_source", type(fetcher).__name__)}
        if settings.get("url_template"):  # a password is never stored in OUT
            settings["url_template"] = mask_url(settings["url_template"])
        for path in [out / SETTINGS_FILE, *shard_files(out / SETTINGS_FILE)]:  # every part was made alike
            if path != own(out / SETTINGS_FILE):
                check_settings(path, settings, what=str(out), names=flags(DownloadOptions), record=False)
        check_settings(own(out / SETTINGS_FILE), settings, what=str(out), names=flags(DownloadOptions))
        _clear_temp(out, plan, shard)  # what a killed run left
        refuse_link(out / TEMP_DIR)  # a link planted there would take every try's files out of OUT
        ledger = Ledger(own(out / LEDGER), StatusTsv())
        folded = fold_others(ledger, out / LEDGER, shard, _better, keep=_in(plan), final=_finished)
        result = DownloadResult(str(out), plan, ledger.rows, torn_lines=ledger.torn_lines, ledger_file=ledger.path.name)
        result.notes += getattr(fetcher, "notes", [])
        if shard is not None:
            result.notes.append(f"shard {shard}: {len(plan.clips)} clips (ledger {ledger.path.name})")
        elif merged := len(shard_files(out / LEDGER)):
            result.notes.append(f"merged {merged} shard ledgers: {folded} rows taken")
        todo, rewritten = _triage(plan, ledger, out, chosen, chosen.retry_failed, result)
        if limit is not None and len(todo) > limit:
            result.not_attempted, todo = len(todo) - limit, todo[:limit]
        try:
            _run(todo, out, fetcher, ledger, result, jobs, retries, Backoff(backoff), chosen.progress)
        finally:
            if folded or rewritten or result.adopted or result.tried or not ledger.is_compact:
                ledger.compact()
            else:  # nothing changed and the file is already one row per clip: not rewritten
                ledger.close()
            _clear_temp(out, plan, shard)
    return result


def download_status(out: Path, plan: Plan) -> DownloadResult:
    """``--status``: every ledger in ``out`` folded (read only, while shards may run) into one result, whose
    summary is the counts a merge would start from, with one note per ledger saying how far it got."""
    ledger = Ledger(out / LEDGER, StatusTsv())  # reading writes nothing
    fold_others(ledger, out / LEDGER, None, _better, keep=_in(plan), final=_finished)
    result = DownloadResult(str(out), plan, ledger.rows)
    result.not_attempted = sum(1 for clip in plan.clips if clip.youtube_id not in ledger.rows)
    result.notes += status_lines(out / LEDGER, ledger.codec, lambda row: row.status == "ok", _part_sizes(plan), "clips")
    return result


def _part_sizes(plan: Plan):
    """How many of the planned clips each shard owns (each id hashed once per shard count, not once per shard)."""
    sizes: dict[int, Counter] = {}

    def size(part: Shard) -> int:
        if part.count not in sizes:
            sizes[part.count] = Counter(owner(clip.youtube_id, part.count) for clip in plan.clips)
        return sizes[part.count][part.index]

    return size


def _better(new: LedgerRow, old: LedgerRow) -> bool:
    """In a merge, a finished clip wins over a failure (the last row of a shard is its latest)."""
    return new.status == "ok" and old.status != "ok"


def _finished(row: LedgerRow) -> bool:
    """No row of another ledger is better than a finished one (:func:`_better`)."""
    return row.status == "ok"


def _in(plan: Plan):
    """Only the planned clips' rows are folded from other ledgers (a shard's own part)."""
    ids = {clip.youtube_id for clip in plan.clips}
    return ids.__contains__


def _clear_temp(out: Path, plan: Plan, shard: Shard | None) -> None:
    """Remove what a killed run left in ``OUT_DIR/.download_tmp``: all of it, or a shard's own clips only
    (the other shards may be fetching into it now). Work folders end with the clip's 11-character id."""
    if shard is None:
        shutil.rmtree(out / TEMP_DIR, ignore_errors=True)
        return
    mine = {clip.youtube_id for clip in plan.clips}
    if (out / TEMP_DIR).is_dir():
        for work in (out / TEMP_DIR).iterdir():
            if work.name[-11:] in mine:
                shutil.rmtree(work, ignore_errors=True)


def youtube_fetcher(chosen: DownloadOptions) -> YtDlpFetcher:
    """The default audio source: YouTube with yt-dlp and ffmpeg (both checked here)."""
    if importlib.util.find_spec("yt_dlp") is None:
        raise RuntimeError(
            "yt-dlp is not installed: reinstall audio-dialogues (it requires yt-dlp with the "
            "JavaScript runtime YouTube needs, and an ffmpeg)."
        )
    youtube = "youtube" in chosen.url_template
    fetcher = YtDlpFetcher(
        FetchOptions(
            chosen.url_template,
            chosen.audio_format,
            chosen.sampling_rate,
            chosen.retries,
            chosen.backoff,
            timeout=chosen.timeout,
            cookies=chosen.cookies,
            rate_limit=chosen.rate_limit,
            sleep=chosen.sleep,
            ffmpeg=find_ffmpeg(),
            js_runtime=find_js_runtime() if youtube else None,
        )
    )
    if youtube and fetcher.options.js_runtime is None:
        fetcher.notes.append(
            "no JavaScript runtime (deno) found: yt-dlp may fail on YouTube; "
            "pip install 'yt-dlp[default,deno]' brings one"
        )
    return fetcher


def _nonempty(path: str | os.PathLike) -> bool:
    """A regular file with at least one byte (one ``stat``: a resume asks it of every finished clip)."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):  # absent, or a name no file can have
        return False
    return stat.S_ISREG(status.st_mode) and status.st_size > 0


def _plays(path: Path) -> bool:
    """A file at a clip's final name is trusted only if its audio can be read and is not empty."""
    if not _nonempty(path):
        return False
    try:
        return audio_seconds(path) > 0
    except AudioDecodeError:
        return False


def archive_fetcher(chosen: DownloadOptions, index_file: Path, plan: Plan, fallback: Fetcher | None) -> ArchiveFetcher:
    """The ``--archive`` folders' clips first (indexed into ``index_file``, ``OUT_DIR/.archive_index.jsonl`` or
    a shard's own), then ``fallback``."""
    index = ArchiveIndex.build(chosen.archive, index_file)
    fetcher = ArchiveFetcher(
        index,
        audio_format=chosen.audio_format,
        sampling_rate=chosen.sampling_rate,
        ffmpeg=find_ffmpeg(),
        timeout=chosen.timeout,
        fallback=fallback,
    )
    held = sum(1 for clip in plan.clips if clip.youtube_id in index.clips)
    fetcher.notes.append(
        f"the archives hold {held} of the {len(plan.clips)} clips ({len(index.clips)} ids in {index.shards} files, "
        f"{index.indexed} indexed now, the others from {index_file.name})"
        + (f"; {index.duplicates} ids are in more than one shard (the first is used)" if index.duplicates else "")
        + ("" if fallback else "; --no-youtube: the others are recorded not-found")
    )
    return fetcher


def _triage(
    plan: Plan, ledger: Ledger, out: Path, options: DownloadOptions, retry_failed: bool, result: DownloadResult
) -> tuple[list[Clip], int]:
    """The clips to fetch now, and how many rows were changed in memory (clips without a window recorded);
    the others are counted in ``result``."""
    todo: list[Clip] = []
    rewritten = 0
    folder = str(out)
    for clip in plan.clips:
        row = ledger.rows.get(clip.youtube_id)
        if row is not None and row.status == "ok" and row.file and _nonempty(os.path.join(folder, row.file)):
            result.skipped_done += 1  # finished: kept even when this run has no window for it
            continue
        if clip.time is None:
            where = (
                "the MusicCaps CSV nor any --clip-times file"
                if plan.config == "music_dialogues"
                else "any --clip-times file"
            )
            unknown = LedgerRow(clip.youtube_id, "no-clip-time", row.attempts if row else 0, detail=f"not in {where}")
            if unknown != row:
                ledger.rows[clip.youtube_id] = unknown
                rewritten += 1
            result.no_time += 1
            continue
        if row is None or row.status != "ok":
            name = clip.file_name(options.audio_format)
            if _plays(out / name):  # renamed complete, then killed before its row was written
                ledger.record(
                    LedgerRow(
                        clip.youtube_id,
                        "ok",
                        row.attempts if row else 1,
                        name,
                        seconds_text(clip.time.start),
                        seconds_text(clip.time.end),
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
    return todo, rewritten


def _run(
    todo: list[Clip],
    out: Path,
    fetcher: Fetcher,
    ledger: Ledger,
    result: DownloadResult,
    jobs: int,
    retries: int,
    backoff: Backoff,
    progress: bool,
) -> None:
    """Fetch ``todo`` on the run engine, ``jobs`` clips at once; the ledger is written in this thread only.

    The stop policy's first Ctrl-C stops the fetches in flight (half a clip is worth nothing) and
    starts no other; those clips stay pending for the next run.
    """
    counts: Counter = Counter()
    retried: list[str] = []  # list.append is atomic: the worker threads call on_retry

    def on_retry(youtube_id: str, status: str) -> None:
        retried.append(status)

    def fetch(clip: Clip) -> LedgerRow | None:
        previous = ledger.rows.get(clip.youtube_id)
        attempts = previous.attempts if previous else 0
        return fetch_clip(
            clip, fetcher, out, retries=retries, backoff=backoff, previous_attempts=attempts, on_retry=on_retry
        )

    def record(clip: Clip, row: LedgerRow | None) -> str | None:
        if row is None:  # stopped before a try ended
            return None
        ledger.record(row)
        result.tried += 1
        counts[row.status] += 1
        return ", ".join(f"{s} {n}" for s, n in sorted(counts.items(), key=_status_order))

    stop = StopPolicy(
        "the downloads in flight are stopped, to be redone by a rerun",
        on_stop=[fetcher.stop],
        on_abandon=[fetcher.stop],
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
