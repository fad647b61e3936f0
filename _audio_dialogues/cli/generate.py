"""``audio-dialogues generate``: the dialogues, made with an OpenAI-compatible chat model."""

from __future__ import annotations

import sys

from ..generation.chat import BackendError
from ..generation.options import GenerateOptions
from ..generation.pipeline import generate
from .option_flags import add_option_flags, options_from_args


def add_cli(commands, loader_options) -> None:
    """``audio-dialogues generate OUT_DIR --config CONFIG ...``: the flags come from :class:`GenerateOptions`."""
    from ..core.subsets import CONFIGS

    p = commands.add_parser(
        "generate",
        parents=[loader_options],
        help="make the dialogues with an OpenAI-compatible chat model (the paper's pipeline)",
    )
    p.add_argument("out_dir", metavar="OUT_DIR", help="where <config>/<split>.jsonl, the ledger and reports go")
    p.add_argument("--config", required=True, choices=CONFIGS)
    add_option_flags(p, GenerateOptions, title="generate options")
    p.add_argument(
        "--clap-checkpoint",
        metavar="FILE",
        help="LAION-CLAP checkpoint: turns the similarity filter on "
        "(needs --audio-dir and pip install 'audio-dialogues[clap]')",
    )
    p.add_argument("--clap-amodel", default="HTSAT-tiny", help="the checkpoint's audio model (default HTSAT-tiny)")
    p.set_defaults(run=_run)


def _run(args, load_kwargs: dict) -> int:
    scorer = None
    try:
        if args.clap_checkpoint:
            from ..generation.filters import ClapScorer

            scorer = ClapScorer(args.clap_checkpoint, amodel=args.clap_amodel)
        summary = generate(
            args.out_dir,
            args.config,
            scorer=scorer,
            audio_dir=load_kwargs.get("audio_dir"),
            follow_symlinks=load_kwargs.get("follow_symlinks", False),
            min_audio_bytes=load_kwargs.get("min_audio_bytes", 0),
            **options_from_args(args, GenerateOptions),
        )
    except (BackendError, ValueError, FileNotFoundError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(summary.summary())
    return 130 if summary.interrupted else 0
