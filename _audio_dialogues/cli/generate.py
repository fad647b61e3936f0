"""``audio-dialogues generate``: the dialogues, made with an OpenAI-compatible chat model."""

from __future__ import annotations

from ..generation.options import GenerateOptions
from ..generation.pipeline import generate
from .flags import LoadFlags
from .option_flags import add_option_flags, options_from_args


def add_cli(commands, flags: LoadFlags) -> None:
    """``audio-dialogues generate OUT_DIR --config CONFIG ...``: the flags come from :class:`GenerateOptions`."""
    from ..core.subsets import CONFIGS

    p = commands.add_parser(
        "generate",
        parents=[flags.audio],  # the clips, for the similarity filter and MS-CLAP neighbours
        help="make the dialogues with an OpenAI-compatible chat model (the paper's pipeline)",
    )
    p.add_argument("out_dir", metavar="OUT_DIR", help="where <config>/<split>.jsonl, the ledger and reports go")
    p.add_argument("--config", required=True, choices=CONFIGS)
    add_option_flags(p, GenerateOptions, title="generate options")
    models = p.add_argument_group("audio models (checkpoint files you give; nothing is downloaded)")
    models.add_argument(
        "--clap-checkpoint",
        metavar="FILE",
        help="LAION-CLAP checkpoint: turns the similarity filter on "
        "(needs --audio-dir and pip install 'audio-dialogues[clap]')",
    )
    models.add_argument("--clap-amodel", default="HTSAT-tiny", help="the checkpoint's audio model (default HTSAT-tiny)")
    models.add_argument(
        "--msclap-checkpoint",
        metavar="FILE",
        help="MS-CLAP checkpoint: comparison neighbours by its audio embeddings, as the paper "
        "(needs --audio-dir and pip install 'audio-dialogues[msclap]')",
    )
    models.add_argument("--msclap-version", default="2023", choices=("2022", "2023"), help="the checkpoint's version")
    p.set_defaults(run=_run)


def _run(args, load_kwargs: dict) -> int:
    scorer = neighbour_scorer = None
    if args.clap_checkpoint:
        from ..generation.filters import ClapScorer

        scorer = ClapScorer(args.clap_checkpoint, amodel=args.clap_amodel)
    if args.msclap_checkpoint:
        from ..generation.ms_clap import MsClapScorer

        neighbour_scorer = MsClapScorer(args.msclap_checkpoint, version=args.msclap_version)
    summary = generate(
        args.out_dir,
        args.config,
        scorer=scorer,
        neighbour_scorer=neighbour_scorer,
        audio_dir=load_kwargs.get("audio_dir"),
        follow_symlinks=load_kwargs.get("follow_symlinks", False),
        min_audio_bytes=load_kwargs.get("min_audio_bytes", 0),
        **options_from_args(args, GenerateOptions),
    )
    print(summary.summary())
    return 130 if summary.interrupted else 0
