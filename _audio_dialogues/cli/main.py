"""The ``audio-dialogues`` command: a thin layer over the library, one file per subcommand.

Each command module in this folder has ``add_cli(commands, flags)``: it adds its subparser, with the load-flag
groups it uses (:mod:`.flags`) as parents, and sets ``run=function(args, load_kwargs) -> exit code``. This module
puts them together in the order of the work and is the one error handler: a user's error (a wrong path, a bad
release, a refused resume, a missing extra, ...) prints ``audio-dialogues <command>: error: <message>`` on one line
and exits 2; Ctrl-C exits 130; the traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from typing import Sequence

from .. import __version__
from ..core.errors import command_line
from .flags import load_flags, load_kwargs

# The commands, each a module of this folder with ``add_cli``, in the order of the work.
COMMAND_MODULES: tuple[str, ...] = ("demo", "generate", "download", "stats", "review", "export", "convert", "evaluate")

# What a user can cause and fix: a bad value or file (ValueError and its kin: the release, predictions and option
# errors), a path or permission (OSError), a missing extra (ImportError), a refused or failed run (RuntimeError:
# a held lock, an unreachable server, no Java). Anything else is a bug of ours, reported as one.
USER_ERRORS = (ValueError, OSError, ImportError, RuntimeError)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class _HelpFormatter(argparse.HelpFormatter):
    """Help pages for a shell user: the usage line names what is required (positionals first), then ``[options]``."""

    def add_usage(self, usage, actions, groups, prefix=None):
        if usage is None and actions:
            required = [a for a in actions if not a.option_strings] + [
                a for a in actions if a.option_strings and a.required
            ]
            parts = [self._usage_part(a) for a in required if a.help is not argparse.SUPPRESS]
            if any(a.option_strings and not a.required for a in actions):
                parts.append("[options]")
            usage = " ".join(["%(prog)s", *parts])
        return super().add_usage(usage, actions, groups, prefix)

    def _usage_part(self, action: argparse.Action) -> str:
        metavar = self._metavar_formatter(action, action.dest.upper())(1)[0]
        return f"{action.option_strings[0]} {metavar}" if action.option_strings else metavar


class _Parser(argparse.ArgumentParser):
    """A subcommand's parser: a long list of choices is shown as a name, with the choices in the help text; a
    wrong argument is one line (``audio-dialogues convert: error: ... (see audio-dialogues convert --help)``)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def add_argument(self, *names, **kwargs):
        choices = kwargs.get("choices")
        if choices and "metavar" not in kwargs and names and names[0].startswith("--"):
            listed = ", ".join(str(c) for c in choices)
            if len(listed) > 24:
                kwargs["metavar"] = names[0][2:].replace("-", "_").upper()
                kwargs["help"] = (f"{kwargs['help']}; " if kwargs.get("help") else "") + f"one of {listed}"
        return super().add_argument(*names, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="audio-dialogues",
        description="Make, get, load, convert and score the Audio Dialogues data (arXiv 2404.07616).",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"audio-dialogues {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    flags = load_flags()
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").add_cli(_Commands(commands), flags)
    return parser


class _Commands:
    """``add_subparsers``' action, handing every subcommand the house help formatter and ``--debug``."""

    def __init__(self, commands):
        self._commands = commands

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs.setdefault("description", kwargs.get("help"))
        parser = self._commands.add_parser(name, **kwargs)
        parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the command, which is where the user looks for its options
        command = parser._subparsers._group_actions[0].choices[args.command]
        flag = next((u for u in unknown if u.startswith("-")), None)
        command.error(f"{flag} is not an option of this command" if flag else f"unexpected {' '.join(unknown)!r}")
    try:
        with command_line():  # errors spell their fixes as flags
            return args.run(args, load_kwargs(args)) or 0
    except KeyboardInterrupt:
        print(f"audio-dialogues {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            raise
        cause = _user_error(err)
        if cause is None:
            print(
                f"audio-dialogues {args.command}: internal error: {type(err).__name__}: {one_line(err)} "
                "(rerun with --debug for the traceback, and please report it)",
                file=sys.stderr,
            )
            return 1
        print(f"audio-dialogues {args.command}: error: {one_line(cause)}", file=sys.stderr)
        return 2


def _user_error(err: BaseException) -> BaseException | None:
    """The error to show the user, or None for a bug. ``datasets`` wraps what a builder raises in its own
    ``DatasetGenerationError``: the message worth reading is the cause's."""
    while type(err).__name__ == "DatasetGenerationError" and err.__cause__ is not None:
        err = err.__cause__
    if isinstance(err, USER_ERRORS) or type(err).__module__.split(".")[0] == "datasets":
        return err
    return None


def one_line(err: BaseException) -> str:
    """An error's message on one line, control characters escaped (a message may quote a file or a server)."""
    text = " ".join(part.strip() for part in str(err).splitlines() if part.strip()) or type(err).__name__
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


if __name__ == "__main__":
    sys.exit(main())
