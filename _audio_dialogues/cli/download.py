"""``audio-dialogues download``: the YouTube clips of a release, with yt-dlp + ffmpeg."""

from __future__ import annotations

import signal
import sys
from typing import Mapping

from ..core.splits import release_options
from ..download import run as _module
from ..download.run import AUDIO_FORMATS, YOUTUBE_URL, download
from .flags import LoadFlags, hz_or_none


def add_cli(commands, flags: LoadFlags) -> None:
    """``audio-dialogues download OUT_DIR --config CONFIG ...``"""
    from ..core.subsets import CONFIGS, SPLITS

    p = commands.add_parser(
        "download",
        parents=[flags.release],
        help="download the YouTube clips of a config with yt-dlp + ffmpeg (resumable)",
        description=_module.__doc__.split("\n\n")[0],
    )
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder for the clips and download_status.tsv")
    p.add_argument("--config", required=True, choices=CONFIGS)
    p.add_argument("--split", action="append", choices=SPLITS, help="only this split (repeatable; default: all)")
    p.add_argument(
        "--clip-times",
        action="append",
        default=[],
        metavar="FILE",
        help="AudioSet strong-label TSV or segments CSV giving each clip's window (repeatable)",
    )
    p.add_argument(
        "--only-missing",
        action="append",
        default=[],
        metavar="MISSING_TSV",
        help="only the clips listed in a load's <split>.missing.tsv (repeatable)",
    )
    p.add_argument("--url-template", default=YOUTUBE_URL, help="where a clip's video is, {youtube_id} substituted")
    p.add_argument("--jobs", type=int, default=3, help="parallel downloads (default 3)")
    p.add_argument("--retries", type=int, default=3, help="retries of a rate-limited or failed clip (default 3)")
    p.add_argument(
        "--backoff",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="wait before the first retry, doubled each retry, with jitter (default 10)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="stop a clip's yt-dlp or ffmpeg after this long (default 300)",
    )
    p.add_argument("--audio-format", choices=AUDIO_FORMATS, default="flac", help="(default flac)")
    p.add_argument(
        "--output-rate",
        type=hz_or_none,
        default=16000,
        metavar="HZ",
        help="the rate ffmpeg writes the clips at (default 16000; none: the source's rate)",
    )
    p.add_argument("--cookies", metavar="FILE", help="cookies.txt passed to yt-dlp, for sign-in and age checks")
    p.add_argument("--rate-limit", metavar="RATE", help="yt-dlp's --limit-rate per download, e.g. 1M")
    p.add_argument(
        "--sleep",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="at least this long between two downloads' starts, all jobs together (default 0)",
    )
    p.add_argument("--limit", type=int, metavar="N", help="fetch at most N clips this run")
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="also retry clips recorded unavailable, private, not-found, empty, sign-in or age-restricted",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_cli)


def _run_cli(args, load_kwargs: Mapping) -> int:
    previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops as cleanly as Ctrl-C
    try:
        result = download(
            args.out_dir,
            args.config,
            args.split,
            clip_times=args.clip_times,
            only_missing=args.only_missing,
            url_template=args.url_template,
            jobs=args.jobs,
            retries=args.retries,
            backoff=args.backoff,
            timeout=args.timeout,
            audio_format=args.audio_format,
            sampling_rate=args.output_rate,
            cookies=args.cookies,
            rate_limit=args.rate_limit,
            sleep=args.sleep,
            limit=args.limit,
            retry_failed=args.retry_failed,
            progress=not args.no_progress,
            **release_options(load_kwargs),
        )
    except KeyboardInterrupt:  # while reading the release, before any download started
        print("audio-dialogues download: interrupted before any download started", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(result.summary())
    return 130 if result.interrupted else 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
