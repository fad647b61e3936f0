"""The load options: one table that validates them, says which ones change the rows, and makes the CLI flags.

Every option is a field of :class:`LoadOptions`, which :class:`~..loading.options.AudioDialoguesConfig` (the
``datasets.BuilderConfig``) inherits, so ``load_dataset("audio_dialogues", "music_dialogues", sampling_rate=22050)``
sets it the way ``datasets`` sets any config field. The table :data:`OPTIONS` holds, per option, its rule (the same
check for every option of a kind), whether it changes the rows (only those are in the cache key: the others are
applied when rows are read, so changing them reuses the prepared split) and its help text (the docstring of the
config and the ``--help`` of every command that loads).

This module imports no ``datasets``: the command line builds its flags from it without paying for that import.
Adding an option is one field on :class:`LoadOptions` and one row in :data:`OPTIONS`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence, Union

from .errors import did_you_mean

AudioDirs = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]


@dataclass
class LoadOptions:
    """Every option of a load; see :data:`OPTIONS` for what each does.

    ``data_dir`` and ``data_files`` are ``datasets.BuilderConfig``'s own fields (see the config class).
    """

    audio_dir: AudioDirs | None = None
    sampling_rate: int | None = 16000
    missing_audio: Literal["keep", "skip", "error"] = "keep"
    decode: bool = True
    on_decode_error: Literal["error", "none"] = "error"
    with_metadata: bool = False
    on_invalid: Literal["error", "skip"] = "error"
    follow_symlinks: bool = False
    min_audio_bytes: int = 0
    max_audio_seconds: float | None = 600.0  # decoding.DEFAULT_MAX_SECONDS
    strong_labels: AudioDirs | None = None  # AudioSet strong-label TSV files: the events column (core/events.py)


@dataclass(frozen=True)
class Option:
    """One load option: how it is checked, whether it changes the rows, what it does."""

    rule: str  # "bool", "size" (int >= 0), "rate" (int > 0 or None), "seconds" (number > 0 or None), "choice",
    # "path", "paths", "data_files"
    rows: bool  # part of the cache key; False: applied when rows are read
    help: str

    def choices(self, name: str) -> tuple[str, ...]:
        """The allowed values of a ``choice`` option, read from its ``Literal[...]`` field type."""
        return _literal_values(name)


OPTIONS: dict[str, Option] = {
    "data_dir": Option(
        "path", True, "folder holding <config>/<split>.json or .jsonl (optionally .gz); default: the bundled sample"
    ),
    "data_files": Option(
        "data_files", True, "the release files by split ({'train': ..., 'test': ...}), instead of data_dir's layout"
    ),
    "audio_dir": Option(
        "paths",
        True,
        "folder(s) of downloaded clips, searched recursively; default: the sample's clips for the sample, "
        "otherwise none (text only)",
    ),
    "missing_audio": Option(
        "choice", True, "a record whose clip is missing: keep it with audio None, skip it, or raise an error"
    ),
    "with_metadata": Option("bool", True, "music_dialogues only: add MusicCaps' caption, aspects and clip start/end"),
    "on_invalid": Option(
        "choice", True, "a record that fails validation: raise an error naming it, or skip it (counted and listed)"
    ),
    "follow_symlinks": Option("bool", True, "also use symbolic links in audio_dir that point to files outside it"),
    "min_audio_bytes": Option("size", True, "audio files smaller than this many bytes count as missing (0: off)"),
    "strong_labels": Option(
        "paths",
        True,
        "audioset configs: AudioSet strong-label TSV file(s) (audioset_train_strong.tsv ...), joined by YouTube id "
        "into the events column of records that carry none",
    ),
    "sampling_rate": Option("rate", False, "rate decoded audio is resampled to; None keeps each file's rate"),
    "decode": Option("bool", False, "decode audio to arrays; False gives {'path', 'bytes': None}"),
    "max_audio_seconds": Option(
        "seconds",
        False,
        "refuse, from its header and before reading it, a clip longer than this many seconds; None: no limit",
    ),
    "on_decode_error": Option(
        "choice", False, "a clip that cannot be decoded: raise an error naming it, or give None (counted)"
    ),
}


def _literal_values(name: str) -> tuple[str, ...]:
    field_type = {f.name: f.type for f in dataclasses.fields(LoadOptions)}[name]
    inside = field_type[field_type.index("[") + 1 : field_type.rindex("]")]  # annotations are strings here
    return tuple(part.strip().strip("'\"") for part in inside.split(","))


def defaults() -> dict[str, Any]:
    """Each option's default, from the config's fields."""
    fields = {f.name: f.default for f in dataclasses.fields(LoadOptions)}
    return {name: fields.get(name) for name in OPTIONS}  # data_dir, data_files: BuilderConfig's, None


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check every given option by its rule; return them with paths made plain strings.

    Raises:
        TypeError: an unknown option (with the list of valid ones and a did-you-mean), or a value of
            the wrong type (``follow_symlinks="no"``, ``sampling_rate=True``).
        ValueError: a value of the right type out of range, or not one of the choices.
    """
    checked = {}
    for name, value in options.items():
        if name not in OPTIONS:
            raise TypeError(
                f"Unknown option {name!r}.{did_you_mean(name, OPTIONS)} The options are: {', '.join(OPTIONS)}."
            )
        checked[name] = _check(name, OPTIONS[name], value)
    return checked


def _check(name: str, option: Option, value: Any) -> Any:
    rule = option.rule
    if rule == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"{name}={value!r}: expected True or False.")
    elif rule == "size":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _error(value, f"{name}={value!r}: expected a size in bytes, an int >= 0 (0 turns the check off).")
    elif rule == "rate":
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            raise _error(value, f"{name}={value!r}: expected a positive int in Hz, or None to keep each file's rate.")
    elif rule == "seconds":
        if value is not None and (
            not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0
        ):
            message = f"{name}={value!r}: expected a positive number of seconds, or None for no limit."
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            raise ValueError(message) if number else TypeError(message)
    elif rule == "choice":
        choices = option.choices(name)
        if value not in choices:
            raise ValueError(f"{name}={value!r}: choose one of {', '.join(choices)}.{did_you_mean(value, choices)}")
    elif rule == "path":
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"{name}={value!r}: expected a folder path (str or os.PathLike).")
        value = None if value is None else os.fspath(value)
    elif rule == "paths":
        if value is None:
            return None
        folders = [value] if isinstance(value, (str, os.PathLike)) else value
        if not isinstance(folders, (list, tuple)) or not all(isinstance(v, (str, os.PathLike)) for v in folders):
            raise TypeError(f"{name}={value!r}: expected a folder path or a list of folder paths.")
        if not folders:
            raise ValueError(f"{name}=[]: expected at least one folder; leave {name} out (None) to load text only.")
        value = [os.fspath(v) for v in folders]
    elif rule == "data_files" and value is not None:
        expected = "expected a path, a non-empty list of paths, or {'train': ..., 'test': ...} of those"
        by_split = value if isinstance(value, Mapping) else {"train": value}
        if not isinstance(value, (str, os.PathLike, list, tuple, Mapping)) or not by_split:
            raise TypeError(f"{name}={value!r}: {expected}.")
        for split, paths in by_split.items():
            if not isinstance(split, str):
                raise TypeError(f"{name}: the split name {split!r} is not a string: {expected}.")
            listed = [paths] if isinstance(paths, (str, os.PathLike)) else paths
            if not isinstance(listed, (list, tuple)) or not all(isinstance(p, (str, os.PathLike)) for p in listed):
                raise TypeError(f"{name}[{split!r}]={paths!r}: {expected}.")
            if not listed:
                raise ValueError(f"{name}[{split!r}] is an empty list: {expected}.")
    return value


VERIFICATION_MODES: tuple[str, ...] = ("basic_checks", "all_checks", "no_checks")


def check_builder_arguments(verification_mode: Any = None, cache_dir: Any = None, num_proc: Any = None) -> None:
    """The load arguments that are not config fields, checked as the options are (named, with what to pass)."""
    mode = getattr(verification_mode, "value", verification_mode)  # a datasets.VerificationMode, or its value
    if verification_mode is not None and str(mode) not in VERIFICATION_MODES:
        raise ValueError(
            f"verification_mode={verification_mode!r}: choose one of {', '.join(VERIFICATION_MODES)}."
            f"{did_you_mean(verification_mode, VERIFICATION_MODES)}"
        )
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir={cache_dir!r}: expected a folder path (str or os.PathLike).")
    if num_proc is not None and (not isinstance(num_proc, int) or isinstance(num_proc, bool) or num_proc < 1):
        raise _error(num_proc, f"num_proc={num_proc!r}: expected a positive int (processes), or None.")


def _error(value: Any, message: str) -> Exception:
    """A wrong type is a TypeError, a right type with a wrong value a ValueError."""
    return ValueError(message) if isinstance(value, int) and not isinstance(value, bool) else TypeError(message)
