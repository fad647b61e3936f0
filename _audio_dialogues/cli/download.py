"""``audio-dialogues download``: the YouTube clips of a release, with yt-dlp + ffmpeg."""

from __future__ import annotations

import sys
from typing import Mapping

from ..core.splits import release_options
from ..download import run as _module
from ..download.options import DownloadOptions
from ..download.run import download
from .flags import LoadFlags
from .option_flags import add_option_flags, options_from_args


def add_cli(commands, flags: LoadFlags) -> None:
    """``audio-dialogues download OUT_DIR --config CONFIG ...``: the flags come from :class:`DownloadOptions`."""
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
    add_option_flags(p, DownloadOptions, title="download options")
    p.set_defaults(run=_run_cli)


def _run_cli(args, load_kwargs: Mapping) -> int:
    options = options_from_args(args, DownloadOptions)
    try:
        result = download(args.out_dir, args.config, args.split, **options, **release_options(load_kwargs))
    except KeyboardInterrupt:  # while reading the release, before any download started
        print("audio-dialogues download: interrupted before any download started", file=sys.stderr)
        return 130
    print(result.summary())
    return 130 if result.interrupted else 0
