"""``audio-dialogues review OUT_DIR``: rate a seeded sample of a release in the browser, into OUT_DIR/reviews.jsonl."""

from __future__ import annotations

from ..core.subsets import CONFIGS
from .flags import LoadFlags

# The load options that choose the records and clips; the others (decoding, cache) concern a load only.
SAMPLE_OPTIONS = (
    "data_dir",
    "data_files",
    "audio_dir",
    "strong_labels",
    "follow_symlinks",
    "min_audio_bytes",
    "verification_mode",
)


def add_cli(commands, flags: LoadFlags) -> None:
    parser = commands.add_parser(
        "review",
        parents=[flags.release, flags.events, flags.audio],
        help="serve a page on 127.0.0.1 to rate a seeded random sample of a release, turn by turn; every click is "
        "appended to OUT_DIR/reviews.jsonl (default: the bundled sample)",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", help="where reviews.jsonl is (created; reopening resumes)")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free one; default 8765)")
    parser.add_argument("--per-config", type=int, default=10, metavar="N", help="dialogues sampled per config")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (the same seed, the same sample)")
    parser.add_argument("--config", action="append", choices=CONFIGS, help="only this config (repeatable)")
    parser.set_defaults(run=_run)


def _run(args, load_kwargs: dict) -> int:
    from ..inspection.review import start_review

    unused = sorted(set(load_kwargs) - set(SAMPLE_OPTIONS))
    if unused:
        raise ValueError(f"{', '.join(unused)}: review plays the clips as they are; leave it out")
    server = start_review(
        args.out_dir, port=args.port, configs=args.config, per_config=args.per_config, seed=args.seed, **load_kwargs
    )
    print(server.url, flush=True)
    print(f"{len(server.items)} dialogues; ratings go to {server.log.path}; Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
