"""The options of ``download``, declared once: the Python keywords of :func:`~.run.download`, their checks,
the flags of ``audio-dialogues download`` and which of them shape the clips (a resume must keep those)."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.options import option
from .ytdlp import AUDIO_FORMATS, YOUTUBE_URL


@dataclass(frozen=True)
class DownloadOptions:
    clip_times: tuple[str, ...] = option(
        (), "AudioSet strong-label TSV or segments CSV giving each clip's window (repeatable)", metavar="FILE"
    )
    only_missing: tuple[str, ...] = option(
        (), "only the clips listed in a load's <split>.missing.tsv (repeatable)", metavar="MISSING_TSV"
    )
    archive: tuple[str, ...] = option(
        (), "a folder of Parquet or WebDataset shards of the clips, used before YouTube (repeatable)", metavar="DIR"
    )
    youtube: bool = option(
        True, "only the --archive folders: what they lack is recorded not-found", flag="--no-youtube"
    )
    url_template: str = option(YOUTUBE_URL, "where a clip's video is, {youtube_id} substituted", shapes=True)
    audio_format: str = option("flac", "the clips' audio format", shapes=True, choices=tuple(AUDIO_FORMATS))
    sampling_rate: int | None = option(
        16000, "the clips' sampling rate in Hz (none: keep the source's)", shapes=True, flag="--output-rate",
        metavar="HZ", minimum=1,
    )  # fmt: skip
    shard: str | None = option(
        None, "fetch only part K of N of the clips (a stable split by id); a run without it merges", metavar="K/N"
    )
    status: bool = option(False, "say how far each shard's ledger and the merged one got, and fetch nothing")
    jobs: int = option(3, "parallel downloads", metavar="N", minimum=1)
    retries: int = option(3, "retries of a rate-limited or failed clip", metavar="N", minimum=0)
    backoff: float = option(
        10.0, "seconds before the first retry, doubled each retry, with jitter", metavar="SECONDS", minimum=0
    )
    timeout: float = option(300.0, "stop a clip's yt-dlp or ffmpeg after this long", metavar="SECONDS", minimum=0)
    cookies: str | None = option(None, "cookies.txt passed to yt-dlp, for sign-in and age checks", metavar="FILE")
    rate_limit: str | None = option(None, "yt-dlp's --limit-rate per download, e.g. 1M", metavar="RATE")
    sleep: float = option(
        0.0, "at least this long between two downloads' starts, all jobs together", metavar="SECONDS", minimum=0
    )
    limit: int | None = option(None, "fetch at most N clips this run", metavar="N", minimum=0)
    retry_failed: bool = option(
        False, "also retry clips recorded unavailable, private, not-found, empty, sign-in or age-restricted"
    )
    progress: bool = option(True, "no progress bar", flag="--no-progress")
