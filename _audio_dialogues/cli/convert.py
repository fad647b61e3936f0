"""``audio-dialogues convert``: splits in a chat format for training."""

from __future__ import annotations

import argparse
from typing import Any

from ..core.subsets import CONFIGS
from ..outputs.convert import FORMATS, convert_configs


def add_cli(commands: Any, loader_options: argparse.ArgumentParser) -> None:
    """The ``convert`` subcommand."""
    p = commands.add_parser(
        "convert",
        parents=[loader_options],
        help="write splits in a chat format for training (default: the bundled sample)",
    )
    p.add_argument(
        "--format",
        required=True,
        choices=FORMATS,
        help="openai (Qwen2-Audio), llava (Audio Flamingo 3) or swift (ms-swift)",
    )
    p.add_argument("out", metavar="OUT.jsonl")
    p.add_argument(
        "--config",
        action="append",
        choices=CONFIGS,
        help=f"a config to write (repeatable, written in the order given; default {CONFIGS[0]})",
    )
    p.add_argument("--split", action="append", help="a split to write (repeatable; default train)")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace, load_kwargs: dict) -> int:
    configs, splits = args.config or [CONFIGS[0]], args.split or ["train"]
    try:
        total = convert_configs(args.out, args.format, configs, splits, **load_kwargs)
    except KeyboardInterrupt:  # stopped by the engine's stop policy: the finished parts are kept
        return 130
    if len(configs) * len(splits) > 1:
        print(f"all -> {args.out}\n{total.summary()}")
    return 0
