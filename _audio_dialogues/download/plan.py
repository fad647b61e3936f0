"""Which clips a download fetches: every distinct YouTube id of a config's splits, with its window.

The release names only the video, so each clip's window comes from metadata: the shipped MusicCaps CSV
for ``music_dialogues``, and for the AudioSet configs the ``--clip-times`` files, in either published
form (:func:`read_clip_times`): the AudioSet strong-label TSV (read by the one strong-label parser,
:func:`~.core.strong_labels.parse_strong_labels`) or the segments CSV. An id with no known window is not
guessed: :class:`Clip` ``.time`` is ``None`` and the run records it as ``no-clip-time``.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Container, Iterable, NamedTuple, Sequence

from ..core.audio_files import is_youtube_id
from ..core.strong_labels import StrongLabelsFormatError, parse_strong_labels

CLIP_SECONDS = 10.0  # an AudioSet strong-label segment is 10 s from its start


class ClipTimesFormatError(StrongLabelsFormatError):
    """A --clip-times file is in neither published AudioSet form; the message names the file, line and field."""

    def __init__(self, source: str | os.PathLike, line: int | None, field_name: str | None, problem: str):
        super().__init__(source, line, field_name, problem, flag="--clip-times")

    @staticmethod
    def fix(flag: str) -> str:
        return (
            "Pass the AudioSet strong-label TSV (segment_id, start_time_seconds, end_time_seconds, label) or "
            f"segments CSV (YTID, start_seconds, end_seconds, positive_labels) unmodified as {flag}."
        )


class ClipTime(NamedTuple):
    """The window of a video that is the clip, in seconds (a plan holds one per clip: named tuples, not frozen
    dataclasses, are built 3x faster)."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


# --- where each clip's window comes from -------------------------------------------------------------------------


def parse_strong_label_tsv(text: str, source: str = "<strong-label TSV>") -> dict[str, ClipTime]:
    """The clip windows of an AudioSet strong-label TSV, by YouTube id: the segment ``<id>_<start in ms>``
    is the window ``[start, start + 10 s]`` (the event times are inside it; not needed here)."""
    clips = parse_strong_labels(text, source, strict=False, error=ClipTimesFormatError)
    for youtube_id in clips:
        _check_id(youtube_id, source, None)
    return {y: ClipTime(c.start_ms / 1000, c.start_ms / 1000 + CLIP_SECONDS) for y, c in clips.items()}


def parse_segments_csv(text: str, source: str = "<segments CSV>") -> dict[str, ClipTime]:
    """The clip windows of an AudioSet segments CSV (``YTID, start_seconds, end_seconds, positive_labels``),
    by YouTube id; lines starting with ``#`` are comments."""
    times: dict[str, ClipTime] = {}
    rows = csv.reader(text.splitlines(), skipinitialspace=True)
    for row in rows:
        number = rows.line_num
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 3:
            raise ClipTimesFormatError(source, number, None, f"expected YTID, start_seconds, end_seconds, got {row!r}")
        values = []
        for name, value in (("start_seconds", row[1]), ("end_seconds", row[2])):
            try:
                values.append(float(value))
            except ValueError:
                raise ClipTimesFormatError(source, number, name, f"expected seconds, got {value!r}") from None
        start, end = values
        if end <= start:
            raise ClipTimesFormatError(source, number, "end_seconds", f"{end} is not after start_seconds {start}")
        _add(times, row[0].strip(), ClipTime(start, end), source, number)
    return times


def _check_id(youtube_id: str, source: str, line: int | None) -> None:
    """An id becomes a file name and a URL: only the YouTube form passes (``../x`` or ``-o`` never do)."""
    if not is_youtube_id(youtube_id):
        raise ClipTimesFormatError(
            source, line, "YTID", f"{youtube_id[:40]!r} is not a YouTube id (11 characters of A-Z a-z 0-9 _ -)"
        )


def _add(times: dict[str, ClipTime], youtube_id: str, time_: ClipTime, source: str, line: int) -> None:
    _check_id(youtube_id, source, line)
    known = times.setdefault(youtube_id, time_)
    if known is not time_ and known != time_:  # a new id is set to time_ itself: nothing to compare
        raise ClipTimesFormatError(source, line, None, f"{youtube_id} has two windows, {known} and {time_}")


def read_clip_times(path: str | os.PathLike, only: Container[str] | None = None) -> dict[str, ClipTime]:
    """Read one ``--clip-times`` file, in whichever of the two published forms it is (told by its first line).

    ``only``: the ids a plan needs. A line that plainly starts with another id (11 characters, then the ``,`` of a
    segments CSV or the ``_`` of a segment id) is passed over unparsed: AudioSet's unbalanced segments CSV has
    about 2 million lines, its train strong-label TSV 934,821, whatever the release. Every other line is parsed
    (a wrong file is still named), and line numbers stay those of the file.
    """
    text = Path(path).read_text(encoding="utf-8")
    if only is not None:
        text = "\n".join(
            "" if number and line[11:12] in (",", "_") and line[:11] not in only else line
            for number, line in enumerate(text.split("\n"))
        )
    first = text.lstrip().split("\n", 1)[0]
    if first.startswith("segment_id"):
        return parse_strong_label_tsv(text, str(path))
    return parse_segments_csv(text, str(path))


def musiccaps_times() -> dict[str, ClipTime]:
    """The windows of the shipped MusicCaps CSV (``start_s``, ``end_s``)."""
    from ..core.musiccaps import shipped_musiccaps

    return {ytid: ClipTime(float(clip.start_s), float(clip.end_s)) for ytid, clip in shipped_musiccaps().items()}


def read_missing_ids(path: str | os.PathLike) -> list[str]:
    """The YouTube ids of a load's ``<split>.missing.tsv`` (column ``youtube_id``)."""
    with open(path, encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file, delimiter="\t")
        if "youtube_id" not in (reader.fieldnames or ()):
            raise ValueError(
                f"{path}: no youtube_id column (header {reader.fieldnames}); pass the <split>.missing.tsv "
                "a load wrote (its summary line names it)."
            )
        ids = [(reader.line_num, row["youtube_id"]) for row in reader if row["youtube_id"]]
    for line, youtube_id in ids:
        if not is_youtube_id(youtube_id):
            raise ValueError(
                f"{path}, line {line}, field youtube_id: {youtube_id[:40]!r} is not a YouTube id (11 characters of "
                "A-Z a-z 0-9 _ -); correct or remove that line."
            )
    return [youtube_id for _, youtube_id in ids]


# --- which clips ------------------------------------------------------------------------------------------------


class Clip(NamedTuple):
    """One YouTube video to fetch a window of, and the splits that need it."""

    youtube_id: str
    splits: tuple[str, ...]
    time: ClipTime | None

    def file_name(self, audio_format: str) -> str:
        """``<id>_<start>_<end>.<format>``, seconds, e.g. ``-0Gj8-vB1q4_30_40.flac`` (the loader resolves it by id)."""
        assert self.time is not None
        return f"{self.youtube_id}_{seconds_text(self.time.start)}_{seconds_text(self.time.end)}.{audio_format}"


def seconds_text(value: float) -> str:
    """``30.0`` -> ``"30"``, ``1.5`` -> ``"1.5"``: the seconds of a file name and a ledger row."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


@dataclass
class Plan:
    """The clips of a config's splits, and what was left out of them (never silently)."""

    config: str
    clips: list[Clip]
    needed: dict[str, int]  # distinct clips per split
    not_in_release: list[str] = field(default_factory=list)  # --only-missing ids that no chosen split needs


def plan_clips(
    config: str,
    splits: Sequence[str] | None = None,
    *,
    clip_times: Iterable[str | os.PathLike] = (),
    only_missing: Iterable[str | os.PathLike] = (),
    data_dir: str | None = None,
    data_files=None,
    verification_mode: str | None = None,
    on_invalid: str = "error",
) -> Plan:
    """Every distinct YouTube id of ``config``'s splits (release order), with its window where known.

    Read with the loader's own release reader (the bundled sample without ``data_dir``/``data_files``).
    ``only_missing`` (``.missing.tsv`` files) keeps only the ids they list.
    """
    from ..core.splits import read_release

    release = read_release(
        config,
        splits,
        data_dir=data_dir,
        data_files=data_files,
        verification_mode=verification_mode,
        on_invalid=on_invalid,
    )
    wanted: set[str] | None = None
    for path in only_missing:
        wanted = (wanted or set()) | set(read_missing_ids(path))
    splits_of: dict[str, list[str]] = {}
    for split, joined in release.items():
        for item in joined:
            for youtube_id in item.record.youtube_ids:
                owners = splits_of.setdefault(youtube_id, [])
                if split not in owners:
                    owners.append(split)
    chosen = [y for y in splits_of if wanted is None or y in wanted]
    times = musiccaps_times() if config == "music_dialogues" else {}
    needed_ids = set(chosen)
    for path in clip_times:
        times.update(read_clip_times(path, only=needed_ids))
    needed = {split: sum(1 for y in chosen if split in splits_of[y]) for split in release}
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per combination of splits, not one per clip
    clips = []
    for youtube_id in chosen:
        owners = tuple(splits_of[youtube_id])
        clips.append(Clip(youtube_id, shared.setdefault(owners, owners), times.get(youtube_id)))
    return Plan(config, clips, needed, sorted(wanted - splits_of.keys()) if wanted is not None else [])
