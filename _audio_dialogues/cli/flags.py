"""The load flags, made from the load options' table and offered in groups, each only to the commands that use it.

A command that reads only the release (``download``) takes the release group; one that looks for clips without
decoding them (``generate``) takes the audio-folder group; ``evaluate`` the release, the clips' events (for the
judge) and the build; ``stats`` all but decoding; the commands that load rows (``demo``, ``convert``,
``export``) take them all. A flag a command does not use is refused as unrecognized, so
``evaluate --sampling-rate 8000`` is an error instead of a flag silently ignored.

The flags default to ``SUPPRESS``: a flag not given is not set, and the option keeps its default in the library.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from ..core.load_options import OPTIONS, VERIFICATION_MODES

# The load options by group, in the order the help pages show them. Every row of OPTIONS is in exactly one group
# (tests/test_cli.py checks it); verification_mode, cache_dir and num_proc are load_dataset's own arguments.
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "release": ("the release files", ("data_dir", "data_files", "on_invalid", "verification_mode")),
    "events": ("what is in each clip", ("strong_labels",)),
    "audio": ("the audio folders", ("audio_dir", "follow_symlinks", "min_audio_bytes")),
    "join": ("the rows", ("missing_audio", "with_metadata")),
    "decoding": ("decoding", ("sampling_rate", "decode", "max_audio_seconds", "on_decode_error")),
    "build": ("the build", ("cache_dir", "num_proc")),
}
_EXTRA = {
    "verification_mode": dict(
        choices=VERIFICATION_MODES,
        metavar="MODE",
        help="no_checks: load a partial or edited release (default: basic_checks, the release's sizes checked)",
    ),
    "cache_dir": dict(metavar="DIR", help="datasets' cache folder (default: datasets' own)"),
    "num_proc": dict(type=int, metavar="N", help="prepare splits with this many processes"),
}
LOAD_ARGUMENTS: tuple[str, ...] = tuple(name for _, names in GROUPS.values() for name in names)


@dataclass(frozen=True)
class LoadFlags:
    """One parent parser per group, for ``commands.add_parser(..., parents=[flags.release, ...])``."""

    release: argparse.ArgumentParser
    events: argparse.ArgumentParser
    audio: argparse.ArgumentParser
    join: argparse.ArgumentParser
    decoding: argparse.ArgumentParser
    build: argparse.ArgumentParser

    @property
    def all(self) -> list[argparse.ArgumentParser]:
        return [self.release, self.events, self.audio, self.join, self.decoding, self.build]


def load_flags() -> LoadFlags:
    return LoadFlags(**{key: _group_parser(title, names) for key, (title, names) in GROUPS.items()})


def _group_parser(title: str, names: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)  # not given: not set
    group = parser.add_argument_group(f"load options: {title}")
    for name in names:
        flag = "--" + name.replace("_", "-")
        if name in _EXTRA:
            group.add_argument(flag, **_EXTRA[name])
        else:
            group.add_argument(flag, **_argument(name))
    return parser


def _argument(name: str) -> dict[str, Any]:
    """argparse's keywords for one load option, from its rule; help in a shell user's words (``none``)."""
    option = OPTIONS[name]
    text = option.help.replace("None", "none")
    rule = option.rule
    if rule == "bool":
        return dict(action=argparse.BooleanOptionalAction, help=text.replace("False", "--no-" + name.replace("_", "-")))
    if rule == "size":
        return dict(type=int, metavar="BYTES", help=text)
    if rule == "rate":
        return dict(type=hz_or_none, metavar="HZ", help=text)
    if rule == "seconds":
        return dict(type=seconds_or_none, metavar="SECONDS", help=text)
    if rule == "choice":
        return dict(choices=option.choices(name), help=text)
    if rule == "paths":
        return dict(action="append", metavar="DIR", help=text + " (repeatable)")
    if rule == "data_files":
        return dict(action="append", metavar="SPLIT=FILE", help=text + " (repeatable)")
    return dict(metavar="DIR", help=text)


def load_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The load options given on the command line, as ``load_dataset`` keyword arguments."""
    given = vars(args)  # the flags default to SUPPRESS: only those given are attributes
    kwargs = {name: given[name] for name in LOAD_ARGUMENTS if name in given}
    if "data_files" in kwargs:
        kwargs["data_files"] = _data_files(kwargs["data_files"])
    return kwargs


def hz_or_none(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def seconds_or_none(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def _data_files(values: list[str]) -> dict[str, list[str]]:
    files: dict[str, list[str]] = {}
    for value in values:
        split, sep, path = value.partition("=")
        if not sep:
            raise ValueError(f"--data-files {value!r}: expected SPLIT=FILE, e.g. --data-files test=test.jsonl")
        files.setdefault(split, []).append(path)
    return files
