"""The ``audio-dialogues`` command: a thin layer over the library, one function per subcommand.

Every subcommand that loads takes every load option (``--data-dir``, ``--audio-dir``,
``--missing-audio``, ...), declared once from the options table (:data:`.options.OPTIONS`), plus
``--verification-mode``, ``--cache-dir`` and ``--num-proc``. A command module registers itself
with ``add_cli(commands, loader_options)``: it adds its subparser (``parents=[loader_options]`` when
it loads) and sets ``run=function(args, load_kwargs) -> exit code``.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import sys
from typing import Any, Sequence

from ..core.subsets import CONFIGS
from ..loading.options import OPTIONS, VERIFICATION_MODES

# The modules that add subcommands of their own (each has ``add_cli``).
# The commands with a module of their own in this folder (each has ``add_cli``), in the order of the work.
COMMAND_MODULES: tuple[str, ...] = ("generate", "download", "convert", "evaluate")


def loader_options() -> argparse.ArgumentParser:
    """A parent parser with one flag per load option; a flag not given leaves the option's default."""
    parser = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)  # not given: not set
    group = parser.add_argument_group("load options (as in load_dataset)")
    for name, option in OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        if option.rule == "bool":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, help=option.help)
        elif option.rule == "size":
            group.add_argument(flag, type=int, metavar="BYTES", help=option.help)
        elif option.rule == "rate":
            group.add_argument(flag, type=_rate, metavar="HZ", help=option.help + " (none: keep)")
        elif option.rule == "seconds":
            group.add_argument(flag, type=_seconds, metavar="S", help=option.help)
        elif option.rule == "choice":
            group.add_argument(flag, choices=option.choices(name), help=option.help)
        elif option.rule == "paths":
            group.add_argument(flag, action="append", metavar="DIR", help=option.help + " (repeatable)")
        elif option.rule == "data_files":
            group.add_argument(
                flag,
                action="append",
                metavar="SPLIT=FILE",
                help=option.help + " (repeatable)",
            )
        else:
            group.add_argument(flag, metavar="DIR", help=option.help)
    group.add_argument(
        "--verification-mode",
        choices=VERIFICATION_MODES,
        help="no_checks: load a partial or edited release (default: check the published sizes)",
    )
    group.add_argument("--cache-dir", help="datasets' cache folder (default: datasets' own)")
    group.add_argument("--num-proc", type=int, help="prepare splits with this many processes")
    return parser


def load_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The load options given on the command line, as ``load_dataset`` keyword arguments."""
    given = vars(args)  # the flags default to SUPPRESS: only those given are attributes
    kwargs = {name: given[name] for name in (*OPTIONS, "verification_mode", "cache_dir", "num_proc") if name in given}
    if "data_files" in kwargs:
        kwargs["data_files"] = _data_files(kwargs["data_files"])
    return kwargs


def _rate(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def _seconds(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def _data_files(values: list[str]) -> dict[str, list[str]]:
    files: dict[str, list[str]] = {}
    for value in values:
        split, sep, path = value.partition("=")
        if not sep:
            raise SystemExit(f"--data-files {value!r}: expected SPLIT=FILE, e.g. --data-files test=test.jsonl")
        files.setdefault(split, []).append(path)
    return files


def demo(configs: Sequence[str] = CONFIGS, **load_kwargs) -> None:
    """Load each config through the public API and print what a user first wants to see."""
    from ..loading.load import load_dataset

    for config in configs:
        dataset_dict = load_dataset(config, **load_kwargs)
        for split, ds in dataset_dict.items():
            print(f"\n=== {config} / {split} ===")
            print(describe_split(ds))


def describe_split(ds) -> str:
    """Dialogues, turn histogram, audio found/missing, one dialogue as a transcript, the first clip."""
    audio_column = "audios" if "audios" in ds.column_names else "audio"
    stored = ds.data.column(audio_column).to_pylist()  # undecoded: no file is read for the counts
    has_audio = [
        all(v is not None for v in value) if isinstance(value, list) else value is not None for value in stored
    ]
    turns = collections.Counter(ds["num_turns"])
    lines = [
        f"dialogues: {len(ds)}",
        "turns: " + ", ".join(f"{n} turn{'s' if n > 1 else ''}: {turns[n]}" for n in sorted(turns)),
        f"audio: found for {sum(has_audio)}, missing for {len(ds) - sum(has_audio)}",
    ]
    if len(ds):
        example = ds.remove_columns(audio_column)[0]  # the transcript needs no audio decoded
        lines.append(f"example {example['id']} ({', '.join(example.get('audio_ids') or [example.get('audio_id')])}):")
        for turn in example["dialogue"]:
            lines += [f"  user:      {turn['user']}", f"  assistant: {turn['assistant']}"]
    if any(has_audio):
        first = ds[has_audio.index(True)]
        audio = first["audios"][0] if audio_column == "audios" else first["audio"]
        if audio is not None:
            duration = len(audio["array"]) / audio["sampling_rate"]
            lines.append(
                f"first clip: {audio['path']}: {duration:.2f} s at {audio['sampling_rate']} Hz (decoded, mono float32)"
            )
    return "\n".join(lines)


def export(
    out_dir: str,
    configs: Sequence[str] = CONFIGS,
    push_to_hub: str | None = None,
    private: bool = False,
    **export_kwargs,
) -> None:
    """Write configs as Parquet + dataset card (see :mod:`.export`), and maybe upload them."""
    from ..outputs.export import export as export_dataset
    from ..outputs.export import push_to_hub as push

    result = export_dataset(out_dir, configs, **export_kwargs)
    print(result.summary())
    if push_to_hub:
        print(f"uploaded to {push(out_dir, push_to_hub, private=True if private else None)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audio-dialogues", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    loader = loader_options()

    demo_parser = commands.add_parser(
        "demo", parents=[loader], help="load every config (default: the bundled sample) and describe it"
    )
    demo_parser.add_argument("--config", action="append", choices=CONFIGS, help="only this config (repeatable)")
    demo_parser.set_defaults(run=lambda args, kw: demo(args.config or CONFIGS, **kw))

    export_parser = commands.add_parser(
        "export",
        parents=[loader],
        help="write configs as Parquet + a dataset card, loadable without this package (default: the bundled sample)",
    )
    export_parser.add_argument("out_dir", metavar="OUT_DIR")
    export_parser.add_argument(
        "--config", action="append", choices=CONFIGS, help="only this config (repeatable; the first is the default)"
    )
    export_parser.add_argument(
        "--embed-audio", action="store_true", help="embed the clips' bytes (private or local use only)"
    )
    export_parser.add_argument(
        "--max-shard-size", default="500MB", help="bytes per Parquet file before compression (default 500MB)"
    )
    export_parser.add_argument("--overwrite", action="store_true", help="replace a previous export in OUT_DIR")
    export_parser.add_argument(
        "--push-to-hub", metavar="REPO_ID", help="then upload OUT_DIR as a Hub dataset repository"
    )
    export_parser.add_argument(
        "--private", action="store_true", help="make that repository private (always so with --embed-audio)"
    )
    export_parser.set_defaults(
        run=lambda args, kw: export(
            args.out_dir,
            args.config or CONFIGS,
            args.push_to_hub,
            args.private,
            embed_audio=args.embed_audio,
            max_shard_size=args.max_shard_size,
            overwrite=args.overwrite,
            **kw,
        )
    )

    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").add_cli(commands, loader)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args, load_kwargs(args)) or 0


if __name__ == "__main__":
    sys.exit(main())
