"""The command-line flags of an options table (``engine/options.py``): one flag per field, from its row."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from ..engine.options import field_types, flag_of


def add_option_flags(parser: argparse.ArgumentParser | Any, table: type, *, title: str | None = None) -> None:
    """Add one flag per field of the options dataclass ``table`` (fields with ``cli=False`` are left out).

    The field decides the flag: ``bool`` -> a switch (``--no-X`` when the default is True), a ``tuple``
    -> repeatable, ``X | None`` -> ``none`` also accepted for a number; the help ends with the default
    and, for an option that shapes the output, that a resume must keep it. Every flag's dest is the
    field's name and its default is ``SUPPRESS``, so :func:`options_from_args` passes only what was given.
    """
    group = parser.add_argument_group(title) if title else parser
    types = field_types(table)
    for field in dataclasses.fields(table):
        if not field.metadata.get("cli", True):
            continue
        kind, meta = types[field.name], field.metadata
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        optional = type(None) in typing.get_args(kind)
        base = next((a for a in typing.get_args(kind) if a is not type(None)), kind) if optional else kind
        help_text = meta["help"]
        kwargs: dict[str, Any] = {"dest": field.name, "default": argparse.SUPPRESS}
        if base is bool:
            kwargs["action"] = "store_false" if default else "store_true"
        else:
            if typing.get_origin(base) is tuple:
                kwargs["action"] = "append"
            elif base in (int, float):
                kwargs["type"] = _number(base, optional)
            if meta.get("choices"):
                kwargs["choices"] = meta["choices"]
            if meta.get("metavar"):
                kwargs["metavar"] = meta["metavar"]
            if default not in (None, (), ""):
                help_text += f" (default {default})"
        if meta.get("shapes"):
            help_text += "; shapes the output: a resume must keep it"
        group.add_argument(flag_of(field), help=help_text, **kwargs)


def options_from_args(args: argparse.Namespace, table: type) -> dict[str, Any]:
    """The options given on the command line, as keyword arguments of the command's function."""
    given = vars(args)
    return {f.name: given[f.name] for f in dataclasses.fields(table) if f.name in given}


def _number(base: type, optional: bool):
    def parse(text: str):
        if optional and text.lower() == "none":
            return None
        try:
            return base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {'whole ' if base is int else ''}number, got {text!r}")

    parse.__name__ = base.__name__
    return parse
