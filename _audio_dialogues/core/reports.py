"""Every split report, in one place: what a load found, written beside the data, read back, and logged.

A prepared split leaves, in ``<dataset cache dir>/reports/``::

    <split>.summary.json             the counts (records, audio found/missing/skipped, invalid records)
    <split>.missing.tsv              each missing clip with the records that need it (feed it to ``download``)
    <split>.invalid.tsv              records skipped by ``on_invalid="skip"``: file, position, field, problem
    <split>.musiccaps_missing.tsv    ``with_metadata=True``: YouTube ids not in MusicCaps

A missing-clip listing looks like::

    youtube_id    audio_id            records
    2oSP0SN3d2g   Y2oSP0SN3d2g.wav    train-000012,train-000440

The same lines are logged when the split is prepared, when a stream first reads it, and again on a
cache hit (read back from the files above), through the ``audio_dialogues`` logger.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from .release import ReleaseFormatError

logger = logging.getLogger("audio_dialogues")


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
    missing_clips: list[tuple[str, str, list[str]]] = field(
        default_factory=list, compare=False
    )  # (youtube_id, audio_id, example ids)
    skipped: int = 0
    ties: int = 0  # audio references where several files matched and a rule chose one
    missing_file: str | None = None
    on_invalid: str = "error"
    invalid_records: int = 0  # release records that failed validation and were skipped (counted in ``records``)
    invalid: list[tuple[str, str, str, str]] = field(
        default_factory=list, compare=False
    )  # (file, position, field, problem)
    invalid_file: str | None = None
    notices: list[str] = field(default_factory=list)  # what valid records held that users want to hear about

    def add_invalid(self, errors: Sequence[ReleaseFormatError]) -> None:
        """Count and list records skipped by ``on_invalid="skip"``; ``records`` already includes them."""
        self.invalid = [(e.file, e.position or "", e.field or "", e.problem) for e in errors]
        self.invalid_records = len(self.invalid)

    def summary(self) -> str:
        if self.text_only:
            return (
                f"{self.name}: {self.records} records, text only (no audio_dir given, every audio value is None; "
                "pass audio_dir= the folder of your downloaded clips)"
            ) + self.details()
        line = (
            f"{self.name}: {self.records} records, audio found for {self.with_audio}, missing for "
            f"{self.missing_records} ({self.missing_clip_count} distinct clips), skipped {self.skipped} "
            f"(missing_audio={self.policy!r})"
        )
        if self.ties:
            line += f", {self.ties} audio ids matched several files (first by extension preference, then path)"
        if self.missing_file and self.missing_clip_count:  # an empty listing is not worth a path
            line += f"; missing clips listed in {self.missing_file}"
        return line + self.details()

    def details(self) -> str:
        """What follows the counts: invalid records skipped, why the split is empty, what was noticed."""
        line = ""
        if self.on_invalid == "skip":
            line = f"; {self.invalid_records} invalid records skipped (on_invalid='skip')"
            if self.invalid_file:
                line += f", listed in {self.invalid_file}"
        if self.records - self.invalid_records - self.skipped == 0:
            line += f"; the split is empty: {self._why_empty()}"
        if self.notices:
            line += "; noticed: " + "; ".join(self.notices)
        return line

    def _why_empty(self) -> str:
        if self.records == 0:
            return "the release file holds no records"
        if self.invalid_records == self.records:
            return "every record is invalid (on_invalid='skip')"
        if self.invalid_records:
            return "every record is invalid (on_invalid='skip') or has no audio (missing_audio='skip')"
        return "no record has its audio (missing_audio='skip'): download the clips listed in the missing-clip file"

    def to_json(self) -> str:
        """The counts (the lists of missing clips and invalid records are the ``.missing.tsv`` and
        ``.invalid.tsv`` files)."""
        return json.dumps(
            {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("missing_clips", "invalid")},
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> "JoinReport":
        return cls(**json.loads(text))


@dataclass
class MusicCapsReport:
    """The YouTube ids of one split that are not in MusicCaps; ``summary()`` is the line the loader logs."""

    name: str  # "<config>/<split>"
    not_found: list[tuple[str, list[str]]] = field(default_factory=list)  # (youtube_id, example ids), sorted
    missing_file: str | None = None

    def summary(self) -> str:
        records = sum(len(ids) for _, ids in self.not_found)
        if not self.not_found:
            return f"{self.name}: MusicCaps metadata found for every YouTube id"
        shown = ", ".join(yid for yid, _ in self.not_found[:5])
        line = (
            f"{self.name}: {len(self.not_found)} YouTube ids not in MusicCaps ({records} records, their "
            f"musiccaps_* columns are None; first: {shown})"
        )
        return line + (f"; listed in {self.missing_file}" if self.missing_file else "")

    def to_tsv(self) -> str:
        return "\n".join(["youtube_id\trecords"] + [f"{y}\t{','.join(ids)}" for y, ids in self.not_found]) + "\n"

    @classmethod
    def from_tsv(cls, name: str, text: str, missing_file: str | None = None) -> "MusicCapsReport":
        rows = [line.split("\t") for line in text.splitlines()[1:] if line]
        return cls(name, [(y, ids.split(",")) for y, ids in rows], missing_file)


def write_join_report(report: JoinReport, directory: Path, final_directory: Path | None = None) -> None:
    """Write ``<split>.missing.tsv``, ``<split>.invalid.tsv`` (``on_invalid="skip"``) and
    ``<split>.summary.json`` into ``directory``.

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
    text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")  # a file path may hold undecodable bytes


def write_musiccaps_report(report: MusicCapsReport, directory: Path, final_directory: Path | None = None) -> None:
    """Write ``<split>.musiccaps_missing.tsv`` into ``directory`` (see :func:`write_report`)."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{report.name.rsplit('/', 1)[-1]}.musiccaps_missing.tsv"
    (directory / name).write_text(report.to_tsv(), encoding="utf-8")
    report.missing_file = str((final_directory or directory) / name)


@dataclass
class SplitReport:
    """What a load found in one split: the join, and MusicCaps' matches when ``with_metadata=True``."""

    join: JoinReport
    musiccaps: MusicCapsReport | None = None

    def lines(self) -> list[str]:
        return [self.join.summary()] + ([self.musiccaps.summary()] if self.musiccaps is not None else [])


def write_report(report: SplitReport, directory: Path, final_directory: Path | None = None) -> None:
    """Write a split's report files into ``directory`` (see the module docstring).

    ``final_directory`` is where the files will be once ``datasets`` moves its build folder into
    place; the summary names that path.
    """
    write_join_report(report.join, directory, final_directory)
    if report.musiccaps is not None:
        write_musiccaps_report(report.musiccaps, directory, final_directory)


def read_report(directory: Path, name: str, with_metadata: bool) -> SplitReport | None:
    """The report of split ``name`` (``"<config>/<split>"``) written in ``directory``; ``None`` if there is none."""
    split = name.rsplit("/", 1)[-1]
    summary = directory / f"{split}.summary.json"
    if not summary.is_file():
        return None
    report = SplitReport(JoinReport.from_json(summary.read_text(encoding="utf-8")))
    musiccaps = directory / f"{split}.musiccaps_missing.tsv"
    if with_metadata and musiccaps.is_file():
        report.musiccaps = MusicCapsReport.from_tsv(name, musiccaps.read_text(encoding="utf-8"), str(musiccaps))
    return report


def log_report(report: SplitReport) -> None:
    """Log the report's lines on the ``audio_dialogues`` logger (INFO; DEBUG in a worker process)."""
    for line in report.lines():
        log_summary(line)


def log_summary(line: str) -> None:
    """A summary line, at INFO in the user's process; a worker's copy (a DataLoader worker, re-forked each
    epoch, or a ``num_proc`` job) says the same again, so it goes to DEBUG."""
    logger.log(logging.DEBUG if in_worker_process() else logging.INFO, line)


def in_worker_process() -> bool:
    """Whether this process was started by ``multiprocessing`` (torch's DataLoader) or ``multiprocess`` (datasets)."""
    import multiprocessing
    import sys

    if multiprocessing.parent_process() is not None:
        return True
    other = sys.modules.get("multiprocess")  # datasets' dill-based twin, imported only where it is used
    return other is not None and other.parent_process() is not None
