"""``audio-dialogues stats OUT_DIR``: the numbers of a release, as stats.json and an offline index.html."""

from __future__ import annotations

from ..core.subsets import CONFIGS
from .flags import LoadFlags


def add_cli(commands, flags: LoadFlags) -> None:
    parser = commands.add_parser(
        "stats",
        parents=[flags.release, flags.events, flags.audio, flags.join, flags.build],
        help="count what a release holds (turns, lengths, question types, diversity, sound categories, missing "
        "clips) into OUT_DIR/stats.json and OUT_DIR/index.html (default: the bundled sample)",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", help="where stats.json and index.html go (created)")
    parser.add_argument("--config", action="append", choices=CONFIGS, help="only this config (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample behind the self-similarity")
    parser.set_defaults(run=_run)


def _run(args, load_kwargs: dict) -> int:
    from ..inspection.review import REVIEWS_FILE
    from ..inspection.stats import stats, write_stats_report

    result = stats(args.config, seed=args.seed, reviews=f"{args.out_dir}/{REVIEWS_FILE}", **load_kwargs)
    json_path, html_path = write_stats_report(result, args.out_dir)
    print(result.summary())
    print(f"wrote {json_path} and {html_path} ({result.seconds:.2f} s)")
    return 0
