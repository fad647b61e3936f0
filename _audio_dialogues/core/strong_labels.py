"""AudioSet strong labels: which sound events each 10 s clip holds, and when (the input of AudioSet Dialogues).

Google publishes the labels as TSV files (``audioset_train_strong.tsv``, ``audioset_eval_strong.tsv``,
CC BY 4.0), one event a line, times relative to the 10 s clip, the label an AudioSet MID::

    segment_id	start_time_seconds	end_time_seconds	label
    s9d-2nhuJCQ_30000	0.406	9.237	/m/04rlf

``segment_id`` is ``<youtube id>_<clip start in ms>``, cut at its last underscore (YouTube ids may
hold ``_``). The label names come from ``mid_to_display_name.tsv`` (``/m/0bt9lr<TAB>Dog``, no
header), shipped in ``data/metadata/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .bundled import bundled_file

HEADER: tuple[str, ...] = ("segment_id", "start_time_seconds", "end_time_seconds", "label")
LABEL_NAMES_FILE = "mid_to_display_name.tsv"


def split_segment_id(segment_id: str) -> tuple[str, int] | None:
    """``"s9d-2nhuJCQ_30000"`` -> ``("s9d-2nhuJCQ", 30000)``: cut at the *last* underscore, since YouTube
    ids may hold ``_``; ``None`` when it is not ``<id>_<start in ms>``. Used by ``generate`` and ``download``."""
    youtube_id, sep, start_ms = segment_id.rpartition("_")
    if not sep or not youtube_id or not start_ms.isdigit():
        return None
    return youtube_id, int(start_ms)


class StrongLabelsFormatError(ValueError):
    """A strong-label or label-name TSV is not in the expected format; ``flag`` is the option it was given to."""

    def __init__(
        self, file: str | os.PathLike, line: int | None, field_name: str | None, problem: str, flag: str = "--source"
    ):
        self.file, self.line, self.field = str(file), line, field_name
        where = ", ".join(
            p
            for p in (self.file, f"line {line}" if line else None, f"field '{field_name}'" if field_name else None)
            if p
        )
        super().__init__(f"{where}: {problem}. {self.fix(flag)}")

    @staticmethod
    def fix(flag: str) -> str:
        return (
            "Pass the unmodified AudioSet strong-label TSV (audioset_train_strong.tsv or audioset_eval_strong.tsv) "
            f"as {flag}."
        )


@dataclass(frozen=True)
class Event:
    """One labelled sound event of a clip, in seconds from the clip's start."""

    label: str  # an AudioSet MID, e.g. /m/0bt9lr
    start: float
    end: float


@dataclass
class StrongClip:
    """The events of one 10 s AudioSet clip."""

    youtube_id: str
    start_ms: int
    events: list[Event] = field(default_factory=list)

    @property
    def labels(self) -> tuple[str, ...]:
        """The clip's distinct MIDs, in order of first onset."""
        ordered = sorted(self.events, key=lambda e: (e.start, e.end, e.label))
        return tuple(dict.fromkeys(e.label for e in ordered))


def read_strong_labels(path: str | os.PathLike) -> dict[str, StrongClip]:
    """Every clip of one strong-label TSV, by YouTube id, with its events in file order (``generate --source``).

    Raises:
        StrongLabelsFormatError: a wrong header, a malformed line, or one YouTube id with two
            different segments, naming the line and field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"Strong-label file {path} does not exist: download audioset_train_strong.tsv "
            "and audioset_eval_strong.tsv from the AudioSet site; pass them as --source."
        ) from err
    return parse_strong_labels(text, path)


def parse_strong_labels(
    text: str,
    source: str | os.PathLike = "<strong-label TSV>",
    *,
    strict: bool = True,
    error: type[StrongLabelsFormatError] = StrongLabelsFormatError,
) -> dict[str, StrongClip]:
    """The one parser of the strong-label TSV (``generate --source`` and ``download --clip-times`` both use it).

    The header is optional. ``strict`` (generate, which shows the events to a model) also requires
    11-character YouTube ids, seconds for the event times and MIDs for the labels; without it (download,
    which needs only each clip's window) only the segment id is read. ``error`` is the class raised
    (a :class:`StrongLabelsFormatError`, whose message names the option the file was given to).
    """
    clips: dict[str, StrongClip] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        columns = line.split("\t")
        if number == 1 and columns[0] == HEADER[0]:
            if strict and tuple(columns) != HEADER:
                raise error(source, 1, None, f"expected the header {' '.join(HEADER)}, found {line!r}")
            continue
        if strict and len(columns) != len(HEADER):
            raise error(
                source,
                number,
                None,
                f"expected {len(HEADER)} tab-separated columns, found {len(columns)}: {line[:80]!r}",
            )
        segment_id = columns[0].strip()
        parsed = split_segment_id(segment_id)
        if parsed is None or (strict and len(parsed[0]) != 11):
            id_form = "11-character YouTube id" if strict else "youtube id"
            raise error(source, number, "segment_id", f"expected <{id_form}>_<start in ms>, got {segment_id!r}")
        youtube_id, start_ms = parsed
        clip = clips.setdefault(youtube_id, StrongClip(youtube_id, start_ms))
        if clip.start_ms != start_ms:
            raise error(
                source,
                number,
                None,
                f"{youtube_id} has two windows: clip starts {clip.start_ms} and {start_ms} ms",
            )
        if not strict:
            continue
        times = []
        for name, value in (("start_time_seconds", columns[1]), ("end_time_seconds", columns[2])):
            try:
                times.append(float(value))
            except ValueError as err:
                raise error(source, number, name, f"expected seconds, found {value!r}") from err
        label = columns[3]
        if not label.startswith("/"):
            raise error(source, number, "label", f"expected an AudioSet MID such as /m/0bt9lr, found {label!r}")
        clip.events.append(Event(label, times[0], times[1]))
    return clips


def read_label_names(path: str | os.PathLike) -> dict[str, str]:
    """MID -> display name, from a ``mid_to_display_name.tsv`` (two columns, no header)."""
    path = Path(path)
    names: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        mid, sep, name = line.partition("\t")
        if not sep or not name.strip():
            raise StrongLabelsFormatError(path, number, None, f"expected MID<TAB>display name, found {line[:80]!r}")
        names[mid] = name.strip()
    return names


def shipped_label_names_file() -> Path:
    """The shipped ``mid_to_display_name.tsv`` (``data/metadata``; package data when installed)."""
    return bundled_file("metadata", LABEL_NAMES_FILE)


@lru_cache(maxsize=1)
def shipped_label_names() -> dict[str, str]:
    """The shipped label names (456 MIDs of the strong labels), read once per process."""
    return read_label_names(shipped_label_names_file())
