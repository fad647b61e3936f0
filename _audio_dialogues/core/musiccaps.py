"""MusicCaps metadata (caption, aspect list, clip start/end) for ``music_dialogues``, by YouTube id.

The repository ships Google's ``musiccaps-public.csv`` unmodified (CC BY-SA 4.0; attribution in
``data/metadata/LICENSE.md``). One row a clip; ``aspect_list`` is a Python list literal::

    ytid,start_s,end_s,audioset_positive_labels,aspect_list,caption,author_id,is_balanced_subset,is_audioset_eval
    -0Gj8-vB1q4,30,40,"/m/0140xf,/m/04rlf","['low quality', 'sad']","The low quality recording ...",4,False,True

``load_dataset("music_dialogues", with_metadata=True)`` adds the columns of :func:`musiccaps_columns`
to every row, ``None`` for a record whose YouTube id is not in MusicCaps. Those ids are never
dropped silently: :class:`MusicCapsReport` counts them, and :func:`write_musiccaps_report` lists them.
"""

from __future__ import annotations

import ast
import csv
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from .bundled import bundled_file
from .join import JoinedRecord
from .reports import MusicCapsReport

MUSICCAPS_FILE = "musiccaps-public.csv"
MUSICCAPS_COLUMNS: tuple[str, ...] = (
    "ytid",
    "start_s",
    "end_s",
    "audioset_positive_labels",
    "aspect_list",
    "caption",
    "author_id",
    "is_balanced_subset",
    "is_audioset_eval",
)


class MusicCapsFormatError(ValueError):
    """The MusicCaps CSV is not in the expected format."""

    def __init__(self, file: str | os.PathLike, line: int | None, field_name: str | None, problem: str):
        self.file, self.line, self.field, self.problem = str(file), line, field_name, problem
        where = ", ".join(
            p
            for p in (self.file, f"line {line}" if line else None, f"field '{field_name}'" if field_name else None)
            if p
        )
        super().__init__(f"{where}: {problem}. Use the unmodified musiccaps-public.csv shipped in data/metadata/.")


@dataclass(frozen=True)
class MusicCapsClip:
    """One row of ``musiccaps-public.csv``."""

    ytid: str
    start_s: int
    end_s: int
    audioset_positive_labels: tuple[str, ...]
    aspects: tuple[str, ...]  # the parsed aspect_list
    caption: str
    author_id: int
    is_balanced_subset: bool
    is_audioset_eval: bool


def read_musiccaps(path: str | os.PathLike) -> dict[str, MusicCapsClip]:
    """Read and validate every row of a MusicCaps CSV, by YouTube id.

    Raises:
        MusicCapsFormatError: a missing column, a malformed value or a repeated ytid, naming the line and field.
    """
    path = Path(path)
    clips: dict[str, MusicCapsClip] = {}
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        missing = [c for c in MUSICCAPS_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise MusicCapsFormatError(
                path, 1, None, f"missing column(s) {', '.join(missing)}; the header is {reader.fieldnames}"
            )
        for row in reader:
            line = reader.line_num  # the line the row ends on (captions hold no newlines in the real file)
            clip = _parse_row(row, path, line)
            if clip.ytid in clips:
                raise MusicCapsFormatError(path, line, "ytid", f"{clip.ytid!r} appears twice")
            clips[clip.ytid] = clip
    return clips


def _parse_row(row: dict, path: Path, line: int) -> MusicCapsClip:
    def value(name: str) -> str:
        text = row.get(name)
        if text is None:
            raise MusicCapsFormatError(path, line, name, "the row is too short")
        return text

    def integer(name: str) -> int:
        try:
            return int(value(name))
        except ValueError as err:
            raise MusicCapsFormatError(path, line, name, f"expected an integer, got {value(name)!r}") from err

    def boolean(name: str) -> bool:
        if value(name) not in ("True", "False"):
            raise MusicCapsFormatError(path, line, name, f"expected True or False, got {value(name)!r}")
        return value(name) == "True"

    try:
        aspects = ast.literal_eval(value("aspect_list"))
    except (ValueError, SyntaxError) as err:
        raise MusicCapsFormatError(
            path, line, "aspect_list", f"not a Python list literal: {value('aspect_list')[:80]!r}"
        ) from err
    if not isinstance(aspects, list) or not all(isinstance(a, str) for a in aspects):
        raise MusicCapsFormatError(
            path, line, "aspect_list", f"expected a list of strings, got {value('aspect_list')[:80]!r}"
        )
    ytid = value("ytid")
    if not ytid:
        raise MusicCapsFormatError(path, line, "ytid", "empty")
    labels = value("audioset_positive_labels")
    return MusicCapsClip(
        ytid=ytid,
        start_s=integer("start_s"),
        end_s=integer("end_s"),
        audioset_positive_labels=tuple(labels.split(",")) if labels else (),
        aspects=tuple(aspects),
        caption=value("caption"),
        author_id=integer("author_id"),
        is_balanced_subset=boolean("is_balanced_subset"),
        is_audioset_eval=boolean("is_audioset_eval"),
    )


def shipped_musiccaps_file() -> Path:
    """The shipped CSV (``data/metadata`` in a checkout, package data ``_audio_dialogues.metadata`` when installed)."""
    return bundled_file("metadata", MUSICCAPS_FILE)


@lru_cache(maxsize=1)
def shipped_musiccaps() -> dict[str, MusicCapsClip]:
    """The shipped CSV, read once per process."""
    return read_musiccaps(shipped_musiccaps_file())


# The columns with_metadata=True adds (their features are in features.dataset_features).
MUSICCAPS_COLUMN_NAMES: tuple[str, ...] = (
    "musiccaps_caption",
    "musiccaps_aspects",
    "musiccaps_start_s",
    "musiccaps_end_s",
)


def musiccaps_columns(clip: MusicCapsClip | None) -> dict:
    """A row's MusicCaps columns, as plain ``str``/``list``/``int`` (storage form); all ``None`` without a clip."""
    if clip is None:
        return dict.fromkeys(MUSICCAPS_COLUMN_NAMES)
    return {
        "musiccaps_caption": clip.caption,
        "musiccaps_aspects": list(clip.aspects),
        "musiccaps_start_s": clip.start_s,
        "musiccaps_end_s": clip.end_s,
    }


def match_musiccaps(
    joined: Sequence[JoinedRecord], clips: Mapping[str, MusicCapsClip], *, name: str
) -> MusicCapsReport:
    """Which records' YouTube ids (the first of each record) have no MusicCaps row."""
    not_found: dict[str, list[str]] = {}
    for item in joined:
        youtube_id = item.record.youtube_ids[0]
        if youtube_id not in clips:
            not_found.setdefault(youtube_id, []).append(item.id)
    return MusicCapsReport(name, sorted(not_found.items()))
