"""``audio-dialogues evaluate``: a predictions file scored the paper's way, and optionally by a judge model."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.splits import release_options
from ..core.subsets import CONFIGS
from ..evaluation.score import evaluate
from .flags import LoadFlags

# The judge's flags; each needs --judge-model (a flag accepted and ignored would mislead).
JUDGE_FLAGS = (
    "judge_base_url",
    "judge_api_key_env",
    "judge_dir",
    "judge_max_requests",
    "judge_concurrency",
    "judge_retries",
    "judge_retry_failed",
    "dry_run",
)


def add_cli(commands, flags: LoadFlags) -> None:
    """``audio-dialogues evaluate PREDICTIONS --config CONFIG [--split test] [--output SCORES.json] [--subset]``
    ``[--judge-model MODEL [--judge-base-url URL] [--judge-api-key-env VAR] [--judge-dir DIR] ...]``."""
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
    judge = parser.add_argument_group("judge (docs/judge.md): a chat model scores each answer 1-10, asked twice")
    judge.add_argument("--judge-model", metavar="MODEL", help="the judge, on an OpenAI-compatible server")
    judge.add_argument(
        "--judge-base-url", metavar="URL", help="its server, e.g. http://localhost:8000/v1 (default: OpenAI)"
    )
    judge.add_argument(
        "--judge-api-key-env",
        metavar="VAR",
        help="environment variable holding the judge's API key (default OPENAI_API_KEY)",
    )
    judge.add_argument(
        "--judge-dir",
        metavar="DIR",
        help="the judge's ledger and settings; a rerun sends only what is not there (default: PREDICTIONS.judge)",
    )
    judge.add_argument("--judge-max-requests", type=int, metavar="N", help="send at most this many judge requests")
    judge.add_argument("--judge-concurrency", type=int, metavar="N", help="requests in flight (default 4)")
    judge.add_argument("--judge-retries", type=int, metavar="N", help="retries per request (default 5)")
    judge.add_argument(
        "--judge-retry-failed", action="store_true", help="ask again the judge requests that failed before"
    )
    judge.add_argument("--dry-run", action="store_true", help="print the judge's first prompt and the request count")
    parser.set_defaults(run=_run)


def _run(args, load_kwargs: dict) -> int:
    given = [  # a value given (0 counts: it is not the default None; --dry-run's default is False)
        f"--{name.replace('_', '-')}"
        for name in JUDGE_FLAGS
        if getattr(args, name) is not None and getattr(args, name) is not False
    ]
    if given and not args.judge_model:
        verb = "needs" if len(given) == 1 else "need"
        raise ValueError(f"{', '.join(given)} {verb} --judge-model (the judge to ask).")
    scores = evaluate(args.predictions, args.config, args.split, subset=args.subset, **release_options(load_kwargs))
    judged = _judge(args, load_kwargs) if args.judge_model else None
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


def _judge(args, load_kwargs: dict):
    from ..evaluation.judge_run import judge

    return judge(
        args.predictions,
        args.config,
        args.split,
        model=args.judge_model,
        judge_dir=args.judge_dir or f"{args.predictions}.judge",
        base_url=args.judge_base_url,
        api_key_env=args.judge_api_key_env or "OPENAI_API_KEY",
        max_requests=args.judge_max_requests,
        concurrency=4 if args.judge_concurrency is None else args.judge_concurrency,
        retries=5 if args.judge_retries is None else args.judge_retries,
        dry_run=args.dry_run,
        retry_failed=args.judge_retry_failed,
        **load_kwargs,
    )
