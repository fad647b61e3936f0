"""The options table of a long command: each option declared once, as a field of a frozen dataclass.

A field's type, default and ``metadata`` say everything the rest needs: its help, whether it
**shapes** the output (recorded in the run's settings, so a resume with another value is refused) or
only paces the run (jobs, retries, timeouts: free to change), and how it is spelled on the command
line. From that row follow the Python keyword (the field's name), the check (:func:`options_from`,
by type) and the CLI flag (``cli/option_flags.py``: :func:`~.cli.option_flags.add_option_flags`)::

    @dataclass(frozen=True)
    class DownloadOptions:
        jobs: int = option(3, "parallel downloads", minimum=1)
        audio_format: str = option("flac", "the clips' format", shapes=True, choices=AUDIO_FORMATS)
"""

from __future__ import annotations

import dataclasses
import os
import typing
from typing import Any, Mapping, Sequence, TypeVar

from ..core.errors import did_you_mean

T = TypeVar("T")


def option(
    default: Any,
    help: str,
    *,
    shapes: bool = False,
    flag: str | None = None,
    metavar: str | None = None,
    choices: Sequence[str] | None = None,
    minimum: float | None = None,
    cli: bool = True,
) -> Any:
    """One row of an options table (a dataclass field). ``flag`` overrides ``--<name>``; ``cli=False`` keeps
    the option out of the command line (a Python-only option); ``minimum`` is checked with the type."""
    metadata = {
        "help": help,
        "shapes": shapes,
        "flag": flag,
        "metavar": metavar,
        "choices": tuple(choices) if choices is not None else None,
        "minimum": minimum,
        "cli": cli,
    }
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default_factory=lambda: tuple(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def flag_of(field: dataclasses.Field) -> str:
    """How the user spells the option on the command line (``--audio-format``)."""
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def field_types(table: type) -> dict[str, Any]:
    """The fields' types, resolved (the tables use ``from __future__ import annotations``)."""
    return typing.get_type_hints(table)


def options_from(table: type[T], keywords: Mapping[str, Any], *, command: str) -> T:
    """An instance of ``table`` from keyword arguments, every value checked by its field's type.

    Raises:
        TypeError: an unknown keyword (the message lists the known ones, and the nearest).
        ValueError: a value of the wrong type, out of range or not among the choices.
    """
    known = {f.name: f for f in dataclasses.fields(table)}
    unknown = [name for name in keywords if name not in known]
    if unknown:
        raise TypeError(
            f"{command}() got an unexpected keyword {unknown[0]!r}.{did_you_mean(unknown[0], known)} "
            f"Its options are: {', '.join(known)}."
        )
    types = field_types(table)
    values = {}
    for name, value in keywords.items():
        values[name] = check_value(known[name], types[name], value, command)
    return table(**values)


def check_value(field: dataclasses.Field, kind: Any, value: Any, command: str) -> Any:
    """``value`` checked against the field's type (``int``, ``float``, ``str``, ``bool``, ``X | None``,
    ``tuple[str, ...]``), its ``minimum`` and its ``choices``; returned normalised (a path as ``str``, a
    list as a tuple)."""
    where = f"{command}: {field.name}={value!r} ({flag_of(field)})"
    optional = type(None) in typing.get_args(kind)
    if value is None:
        if optional:
            return None
        raise ValueError(f"{where}: a value is required; {field.metadata['help']}.")
    arms = [a for a in typing.get_args(kind) if a is not type(None)] if typing.get_args(kind) else [kind]
    if len(arms) > 1 and typing.get_origin(kind) is not tuple:  # e.g. str | tuple[str, ...]: the first arm that fits
        for arm in arms:
            try:
                return check_value(field, arm, value, command)
            except ValueError:
                continue
        raise ValueError(f"{where}: expected {' or '.join(getattr(a, '__name__', str(a)) for a in arms)}.")
    base = arms[0] if optional else kind
    origin = typing.get_origin(base)
    if origin is tuple:
        if isinstance(value, (str, os.PathLike)) or not isinstance(value, typing.Iterable):
            raise ValueError(f"{where}: expected a list of values.")
        items = list(value)
        return tuple(os.fspath(item) if isinstance(item, os.PathLike) else item for item in items)
    if base is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected True or False.")
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected a whole number.")
    elif base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number.")
        value = float(value)
    elif base is str:
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected text, got {type(value).__name__}.")
    minimum = field.metadata.get("minimum")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: expected at least {minimum:g}.")
    choices = field.metadata.get("choices")
    if choices is not None and value not in choices:
        raise ValueError(f"{where}: choose one of {', '.join(choices)}.{did_you_mean(str(value), choices)}")
    return value


def shaping(options: Any) -> dict[str, Any]:
    """The values of the options that shape the output (the run's settings record), by name."""
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options) if f.metadata.get("shapes")}


def flags(table: type) -> dict[str, str]:
    """Option name -> its flag, for messages (the settings record names a setting as the user spells it)."""
    return {f.name: flag_of(f) for f in dataclasses.fields(table)}
