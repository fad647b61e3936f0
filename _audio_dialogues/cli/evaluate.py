"""``audio-dialogues evaluate``: a predictions file scored the paper's way."""

from __future__ import annotations

from pathlib import Path

from ..core.splits import release_options
from ..core.subsets import CONFIGS
from ..evaluation.score import evaluate
from .flags import LoadFlags


def add_cli(commands, flags: LoadFlags) -> None:
    """``audio-dialogues evaluate PREDICTIONS --config CONFIG [--split test] [--output SCORES.json] [--subset]``."""
    parser = commands.add_parser(
        "evaluate",
        parents=[flags.release],
        help="score a predictions file (JSON Lines: id, answers) with BLEU-4, ROUGE-L and CIDEr, as in the paper",
    )
    parser.add_argument(
        "predictions",
        metavar="PREDICTIONS",
        help='JSON Lines, one dialogue a line: {"id": "test-000012", "answers": [...]}',
    )
    parser.add_argument("--config", required=True, choices=CONFIGS)
    parser.add_argument("--split", default="test", help="the split to score (default test)")
    parser.add_argument("--output", metavar="SCORES.json", help="also write the scores as JSON here")
    parser.add_argument(
        "--subset",
        action="store_true",
        help="score only the dialogues predicted (default: every dialogue of the split must be)",
    )
    parser.set_defaults(run=_run)


def _run(args, load_kwargs: dict) -> int:
    scores = evaluate(args.predictions, args.config, args.split, subset=args.subset, **release_options(load_kwargs))
    print(scores.table())
    if args.output:
        Path(args.output).write_text(scores.to_json() + "\n", encoding="utf-8")
        print(f"scores written to {args.output}")
    return 0
