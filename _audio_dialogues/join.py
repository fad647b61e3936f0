"""Joining release records with the audio files found, and saying exactly what is missing.

About 10-20 % of YouTube clips can no longer be downloaded, so a join is never silent: every split
gets one summary (records, audio found, missing, skipped) and a tab-separated file listing each
missing clip with the records that need it, ready to feed a downloader::

    youtube_id    audio_id            records
    2oSP0SN3d2g   Y2oSP0SN3d2g.wav    train-000012,train-000440

Records that fail validation are dropped only with ``on_invalid="skip"``; they are counted in the
same summary and listed, one a line, in ``<split>.invalid.tsv``::

    file                         position  field           problem
    /data/music/train.jsonl      line 13   dialogue        expected 1 to 4 turn(s), found 5
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Sequence

from .audio_files import AudioIndex
from .release import Record, ReleaseFormatError

MISSING_AUDIO_POLICIES: tuple[str, ...] = ("keep", "skip", "error")
INVALID_RECORD_POLICIES: tuple[str, ...] = ("error", "skip")


class MissingAudioError(FileNotFoundError):
    """``missing_audio="error"`` and some records have no audio file."""


@dataclass(slots=True)  # built per record: not frozen, which costs 4x to construct
class JoinedRecord:
    """A record, its stable example id, and one audio path (or ``None``) per audio id."""

    id: str
    record: Record
    audio_paths: tuple[str | None, ...]


@dataclass
class JoinReport:
    """What one split's join found; ``summary()`` is the line the loader logs."""

    name: str  # "<config>/<split>"
    policy: str
    records: int
    text_only: bool = False
    with_audio: int = 0  # records whose every audio was found
    missing_records: int = 0  # records with at least one audio missing
    missing_clip_count: int = 0  # distinct clips missing
    missing_clips: list[tuple[str, str, list[str]]] = field(default_factory=list, compare=False)  # (youtube_id, audio_id, example ids)
    skipped: int = 0
    ties: int = 0  # audio references where several files matched and a rule chose one
    missing_file: str | None = None
    on_invalid: str = "error"
    invalid_records: int = 0  # release records that failed validation and were skipped (counted in ``records``)
    invalid: list[tuple[str, str, str, str]] = field(default_factory=list, compare=False)  # (file, position, field, problem)
    invalid_file: str | None = None

    def add_invalid(self, errors: Sequence[ReleaseFormatError]) -> None:
        """Count and list records skipped by ``on_invalid="skip"``; ``records`` already includes them."""
        self.invalid = [(e.file, e.position or "", e.field or "", e.problem) for e in errors]
        self.invalid_records = len(self.invalid)

    def summary(self) -> str:
        if self.text_only:
            return (
                f"{self.name}: {self.records} records, text only (no audio_dir given, every audio value is None; "
                "pass audio_dir= the folder of your downloaded clips)"
            ) + self._invalid_summary()
        line = (
            f"{self.name}: {self.records} records, audio found for {self.with_audio}, missing for "
            f"{self.missing_records} ({self.missing_clip_count} distinct clips), skipped {self.skipped} "
            f"(missing_audio={self.policy!r})"
        )
        if self.ties:
            line += f", {self.ties} audio ids matched several files (first by extension preference, then path)"
        if self.missing_file:
            line += f"; missing clips listed in {self.missing_file}"
        return line + self._invalid_summary()

    def _invalid_summary(self) -> str:
        if self.on_invalid != "skip":
            return ""
        line = f"; {self.invalid_records} invalid records skipped (on_invalid='skip')"
        if self.invalid_file:
            line += f", listed in {self.invalid_file}"
        return line

    def to_json(self) -> str:
        """The counts (the lists of missing clips and invalid records are the ``.missing.tsv`` and ``.invalid.tsv`` files)."""
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("missing_clips", "invalid")}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "JoinReport":
        return cls(**json.loads(text))


def join_audio(
    records: Sequence[Record], index: AudioIndex | None, *, name: str, split: str, policy: str,
    positions: Sequence[int] | None = None,
) -> tuple[list[JoinedRecord], JoinReport]:
    """Resolve every record's audio, apply the missing-audio policy, and count everything.

    Example ids are ``<split>-<position in the split, 6 digits>``: stable across runs and
    unchanged by skipping. ``positions`` gives each record's position in the release when some
    (invalid) records were left out before the join; by default it is the index in ``records``.

    Raises:
        MissingAudioError: ``policy == "error"`` and some audio is missing.
    """
    if policy not in MISSING_AUDIO_POLICIES:
        raise ValueError(f"missing_audio={policy!r}: expected one of {MISSING_AUDIO_POLICIES}")
    report = JoinReport(name=name, policy=policy, records=len(records), text_only=index is None)
    joined: list[JoinedRecord] = []
    missing: dict[str, tuple[str, list[str]]] = {}
    ties = 0
    for position, record in zip(positions if positions is not None else range(len(records)), records):
        example_id = f"{split}-{position:06d}"
        if index is None:
            joined.append(JoinedRecord(example_id, record, (None,) * len(record.audio_ids)))
            continue
        paths = []
        for audio_id, youtube_id in zip(record.audio_ids, record.youtube_ids):
            found = index.resolve(audio_id, youtube_id)
            ties += found.tie
            paths.append(found.path)
            if found.path is None:
                if youtube_id not in missing:
                    missing[youtube_id] = (audio_id, [])
                missing[youtube_id][1].append(example_id)
        if None in paths:
            report.missing_records += 1
            if policy == "skip":
                report.skipped += 1
                continue
        else:
            report.with_audio += 1
        joined.append(JoinedRecord(example_id, record, tuple(paths)))
    report.ties = ties
    report.missing_clips = sorted((yid, audio_id, ids) for yid, (audio_id, ids) in missing.items())
    report.missing_clip_count = len(report.missing_clips)
    if policy == "error" and report.missing_records:
        shown = ", ".join(yid for yid, _, _ in report.missing_clips[:5])
        raise MissingAudioError(
            f"{name}: {report.missing_records} of {report.records} records have no audio file "
            f"({len(report.missing_clips)} clips, first: {shown}). Download them into the audio_dir, or pass "
            "missing_audio='keep' (audio None) or 'skip' (drop those records)."
        )
    return joined, report


def write_report(report: JoinReport, directory: Path, final_directory: Path | None = None) -> None:
    """Write ``<split>.missing.tsv``, ``<split>.invalid.tsv`` (``on_invalid="skip"``) and ``<split>.summary.json`` into ``directory``.

    ``final_directory`` is where the files will be once ``datasets`` moves its build folder into
    place; the summary names that path.
    """
    directory.mkdir(parents=True, exist_ok=True)
    split = report.name.rsplit("/", 1)[-1]
    if not report.text_only:
        lines = ["youtube_id\taudio_id\trecords"] + [f"{y}\t{a}\t{','.join(ids)}" for y, a, ids in report.missing_clips]
        (directory / f"{split}.missing.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        report.missing_file = str((final_directory or directory) / f"{split}.missing.tsv")
    if report.on_invalid == "skip":
        lines = ["file\tposition\tfield\tproblem"] + ["\t".join(_tsv_cell(c) for c in row) for row in report.invalid]
        (directory / f"{split}.invalid.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        report.invalid_file = str((final_directory or directory) / f"{split}.invalid.tsv")
    (directory / f"{split}.summary.json").write_text(report.to_json(), encoding="utf-8")


def _tsv_cell(text: str) -> str:
    """A problem can quote record text: keep each invalid record on one line of the TSV."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")
