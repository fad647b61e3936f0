"""``audio-dialogues evaluate``: a predictions file scored the paper's way, and optionally by a judge model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..core.splits import release_options
from ..core.subsets import CONFIGS
from ..engine.options import flag_of
from ..evaluation.judge_run import JudgeOptions
from ..evaluation.score import evaluate
from .flags import LoadFlags
from .option_flags import add_option_flags, options_from_args


def add_cli(commands, flags: LoadFlags) -> None:
    """``audio-dialogues evaluate PREDICTIONS --config CONFIG [--split test] [--output SCORES.json] [--subset]``
    ``[--judge-model MODEL [--judge-base-url URL] [--judge-api-key-env VAR] [--judge-dir DIR] [--shard K/N] ...]``.

    With ``--shard K/N`` only the judge runs, on part K of N of the dialogues; the same command without it (the
    merge) asks only what no shard judged, and prints every score."""
    parser = commands.add_parser(
        "evaluate",
        parents=[flags.release, flags.events, flags.build],  # the judge loads the rows: events, cache
        help="score a predictions file (JSON Lines: id, answers) with BLEU-4, ROUGE-L and CIDEr, as in the paper, "
        "and optionally with a judge model told what is in the audio",
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
    add_option_flags(parser, JudgeOptions, title="judge (docs/judge.md): a chat model scores each answer 1-10, twice")
    parser.set_defaults(run=_run)


def _run(args, load_kwargs: dict) -> int:
    judging = options_from_args(args, JudgeOptions)
    if judging and "model" not in judging:  # a judge flag accepted and ignored would mislead
        given = [flag_of(f) for f in dataclasses.fields(JudgeOptions) if f.name in judging]
        raise ValueError(
            f"{', '.join(given)} {'needs' if len(given) == 1 else 'need'} --judge-model (the judge to ask)."
        )
    if judging.get("shard") or judging.get("status"):  # the judge's part, or how far it got: the merge scores
        if args.output:
            raise ValueError(
                f"--output is written by the run without {'--shard' if judging.get('shard') else '--status'} "
                "(the merge), which scores every turn: drop --output here, or pass it to that run."
            )
        judged = _judge(args, judging, load_kwargs)
        print(judged.summary())
        return 130 if judged.interrupted else 0
    scores = evaluate(args.predictions, args.config, args.split, subset=args.subset, **release_options(load_kwargs))
    judged = _judge(args, judging, load_kwargs) if judging else None
    if judged is None:
        print(scores.table())
    else:
        from ..evaluation.judge import table_beside

        print(table_beside(scores, judged))
    if args.output:
        out = scores.to_dict() if judged is None else {**scores.to_dict(), "judge": judged.to_dict()}
        Path(args.output).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"scores written to {args.output}")
    return 130 if judged is not None and judged.interrupted else 0


def _judge(args, judging: dict, load_kwargs: dict):
    from ..evaluation.judge_run import judge

    return judge(args.predictions, args.config, args.split, **judging, **load_kwargs)
