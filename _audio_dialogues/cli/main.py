"""The ``audio-dialogues`` command: a thin layer over the library, one function per subcommand.

Every subcommand that loads takes every load option (``--data-dir``, ``--audio-dir``,
``--missing-audio``, ...), declared once from the options table (:data:`.options.OPTIONS`), plus
``--verification-mode``, ``--cache-dir`` and ``--num-proc``. A command module registers itself
with ``add_cli(commands, loader_options)``: it adds its subparser (``parents=[loader_options]`` when
it loads) and sets ``run=function(args, load_kwargs) -> exit code``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, Sequence

from ..loading.options import OPTIONS, VERIFICATION_MODES

# The modules that add subcommands of their own (each has ``add_cli``).
# The commands with a module of their own in this folder (each has ``add_cli``), in the order of the work.
COMMAND_MODULES: tuple[str, ...] = ("demo", "generate", "download", "stats", "review", "export", "convert", "evaluate")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audio-dialogues", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    loader = loader_options()

    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").add_cli(commands, loader)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args, load_kwargs(args)) or 0


if __name__ == "__main__":
    sys.exit(main())
