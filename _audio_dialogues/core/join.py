"""Joining release records with the audio files found, and saying exactly what is missing.

About 10-20 % of YouTube clips can no longer be downloaded, so a join is never silent: every split
gets a :class:`~.reports.JoinReport` (records, audio found, missing, skipped, and each missing clip
with the records that need it), which :mod:`.reports` writes, reads back and logs.

Records that fail validation are dropped only with ``on_invalid="skip"``; they are counted in the
same report and listed there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .audio_files import AudioIndex
from .release import Record
from .reports import JoinReport

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


def join_audio(
    records: Sequence[Record],
    index: AudioIndex | None,
    *,
    name: str,
    split: str,
    policy: str,
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
