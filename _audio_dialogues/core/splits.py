"""Reading one split (parse, check the count, join the audio) and cutting it into shards.

A split's shards are contiguous record ranges, so release order is kept and each shard is a fair
share of the work: ``num_proc`` prepares shards in parallel, and a streamed split divides evenly
among ``split_dataset_by_node`` ranks and ``DataLoader`` workers whenever ``NUM_SHARDS`` is a
multiple of ranks x workers (64 serves 1, 2, 4 or 8 ranks with up to 8 workers each).

A prepare reads every split up front (the record count is checked and the missing-audio report
written before anything is built). A stream reads nothing until its first example is asked for,
and then only the split being iterated.

A streamed JSON Lines split (uncompressed ``.jsonl`` files, with the default ``missing_audio="keep"``,
``on_invalid="error"`` and no ``with_metadata``: the policies under which no record is dropped) is
read by line ranges instead: each process makes one pass over the files' bytes to count the records
(checked against the published size, nothing parsed) and to find where each shard's lines start,
then parses only the lines of the shards it iterates. A rank or ``DataLoader`` worker thus holds its
own records, not the whole split (see BENCHMARKS.md). Its summary line says so; the split's
missing-clip report is that of a prepared load. Every other split is read whole, as below.

A shard is a :class:`LazyShard`: a record range of a :class:`SplitSource`, which reads its split
once per process. Shards travel to ``num_proc`` jobs and ``DataLoader`` workers by pickling, which
``datasets`` does with dill, a pure-Python pickler: 40k records took ~7 s. So a pickled source
carries no records and no audio listing, only what to read. A process forked after the split was
read finds the records in :data:`_READ` (inherited memory, no copy); any other process (spawned, or
forked before the first read) reads the split file itself, listing the audio folders again.
"""

from __future__ import annotations

import gc
import logging
import os
import uuid
import weakref
from array import array
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from .audio_files import AudioIndex, index_audio_dirs
from .join import JoinedRecord, join_audio
from .musiccaps import match_musiccaps, shipped_musiccaps
from .release import (
    Notices,
    Record,
    RecordRules,
    ReleaseFormatError,
    is_record_line,
    iter_release_file,
    parse_json_line,
)
from .reports import SplitReport, log_report, log_summary
from .sources import ReleaseSource, verify_record_count

NUM_SHARDS = 64  # per split
logger = logging.getLogger("audio_dialogues")


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cycle collector while hundreds of thousands of records are built.

    Each collection scans every live container, and a split is ~10 live containers per record, so
    the collector's repeated passes over the growing heap took about half of parsing and joining
    (measured: the 64,085-record comparison join fell from ~1.8 s to ~0.8 s). Records, dicts and lists
    hold no reference cycles; reference counting still frees everything, so nothing leaks.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Records(list):
    """A list that :data:`_READ` can refer to weakly."""

    __slots__ = ("__weakref__",)


# Splits read in this process, by SplitSource.token; an entry lives as long as its SplitSource.
_READ: "weakref.WeakValueDictionary[str, _Records]" = weakref.WeakValueDictionary()


@dataclass
class SplitSource:
    """What one split is read from and how it is joined; :meth:`joined` reads it once per process."""

    name: str  # "<config>/<split>"
    split: str
    files: Sequence[str]
    rules: RecordRules
    expected_records: int
    audio_index: AudioIndex | None
    missing_audio: str
    verification_mode: str | None
    on_invalid: str = "error"  # "skip": drop records that fail validation, listing them in the report
    with_metadata: bool = False  # music_dialogues: match the records with MusicCaps (reported)
    notices: Sequence[str] = ()  # about the split's files (e.g. the same content as another split's), for the report
    expected_from: str = "the published size"  # what expected_records is (ReleaseSource.expected_from)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    _joined: _Records | None = field(default=None, repr=False)

    def read(self) -> tuple[list[JoinedRecord], SplitReport]:
        """Parse and validate every record, check the published count, then join the audio.

        An invalid record raises :class:`ReleaseFormatError`, or with ``on_invalid="skip"`` is left
        out after the count is checked: it is still a record of the release, so it counts towards
        the published size, and the records after it keep their example ids.
        """
        with paused_gc():
            records: list[Record] = []
            positions: list[int] = []
            invalid: list[ReleaseFormatError] = []
            notices = Notices()
            position = 0
            for path in self.files:
                for item in iter_release_file(path, self.rules, notices):
                    if isinstance(item, ReleaseFormatError):
                        if self.on_invalid != "skip":
                            raise item
                        invalid.append(item)
                    else:
                        records.append(item)
                        positions.append(position)
                    position += 1
            verify_record_count(
                self.name, self.files, position, self.expected_records, self.verification_mode, self.expected_from
            )
            joined, report = join_audio(
                records,
                self.audio_index,
                name=self.name,
                split=self.split,
                policy=self.missing_audio,
                positions=positions if invalid else None,
            )
            report.records, report.on_invalid = position, self.on_invalid
            report.add_invalid(invalid)
            report.notices = notices.lines() + list(self.notices)
            musiccaps = match_musiccaps(joined, shipped_musiccaps(), name=self.name) if self.with_metadata else None
            return joined, SplitReport(report, musiccaps)

    def joined(self) -> list[JoinedRecord]:
        """The joined records, read on the first call in this process (the join summary is logged then)."""
        if self._joined is None:
            self._joined = _READ.get(self.token)
        if self._joined is None:
            joined, report = self.read()
            log_report(report)
            self.keep(joined)
        return self._joined

    def reads_by_line(self) -> bool:
        """Whether a process that has not read the split reads only its shards' lines (module docstring)."""
        return (
            self._joined is None
            and self.token not in _READ
            and self.missing_audio == "keep"
            and self.on_invalid == "error"
            and not self.with_metadata
            and all(str(path).lower().endswith(".jsonl") for path in self.files)
        )

    def line_shard(self, index: int, num_shards: int) -> list[JoinedRecord]:
        """The joined records of shard ``index``, parsed from its lines only (see :func:`line_shards`)."""
        shards = _LINE_SHARDS.get((self.token, num_shards))
        if shards is None:
            shards = _LINE_SHARDS[(self.token, num_shards)] = line_shards(self.files, num_shards)
            records = shards[-1].position + shards[-1].records
            verify_record_count(
                self.name, self.files, records, self.expected_records, self.verification_mode, self.expected_from
            )
            log_summary(
                f"{self.name}: {records} records (JSON Lines); this process parses only the lines of the "
                "shards it reads, so missing clips are only seen as audio None here: the split's missing-"
                "clip report is that of a prepared load (load_dataset without streaming=True)"
            )
        shard = shards[index]
        records, positions = [], []
        notices = Notices()
        position = shard.position
        base = 0
        for path in self.files:
            size = os.path.getsize(path)
            if base + size > shard.start and base < shard.stop:
                offset = max(shard.start - base, 0)
                number = shard.line if shard.start >= base else 1
                with open(path, "rb") as file:
                    file.seek(offset)
                    for raw in file:
                        if base + offset >= shard.stop:
                            break
                        item = parse_json_line(path, raw, number, offset, self.rules, notices)
                        offset, number = offset + len(raw), number + 1
                        if item is None:
                            continue
                        if isinstance(item, ReleaseFormatError):
                            raise item
                        records.append(item)
                        positions.append(position)
                        position += 1
            base += size
        joined, _ = join_audio(
            records, self.audio_index, name=self.name, split=self.split, policy="keep", positions=positions
        )
        noticed = _NOTICED.setdefault(self.token, set())
        for what, line in zip(notices.counts, notices.lines()):
            if what not in noticed:  # each kind once per process: these shards hold records worth a word
                noticed.add(what)
                log_summary(
                    f"{self.name}: noticed in the lines read here: {line} (a prepared load counts the whole split)"
                )
        return joined

    def keep(self, joined: list[JoinedRecord]) -> None:
        """Hold records read by :meth:`read`, for :meth:`joined` here and in processes forked from here."""
        self._joined = _READ[self.token] = _Records(joined)

    def __getstate__(self) -> dict:
        state = {**self.__dict__, "_joined": None, "audio_index": None}
        index = self.audio_index
        state["audio_listing"] = None if index is None else (index.roots, index.follow_symlinks, index.min_bytes)
        return state

    def __setstate__(self, state: dict) -> None:
        listing = state.pop("audio_listing")
        self.__dict__.update(state)
        if listing is not None and self.token not in _READ:  # not forked from a process that read the split
            roots, follow_symlinks, min_bytes = listing
            self.audio_index = index_audio_dirs(roots, follow_symlinks=follow_symlinks, min_bytes=min_bytes)


@dataclass(frozen=True)
class LineShard:
    """The lines of one shard of a JSON Lines split: bytes ``[start, stop)`` of the files laid end to end."""

    start: int  # where its first record's line starts (== stop for an empty shard)
    stop: int
    line: int  # the number of that line in its file (1-based)
    position: int  # the split position of its first record
    records: int  # how many records it holds


# Line shards of the JSON Lines splits streamed in this process, by (SplitSource.token, num_shards).
_LINE_SHARDS: dict[tuple[str, int], list[LineShard]] = {}
_NOTICED: dict[str, set[str]] = {}  # the notice kinds logged, by SplitSource.token


def line_shards(files: Sequence[str], num_shards: int = NUM_SHARDS) -> list[LineShard]:
    """Cut JSON Lines files into the record ranges of :func:`shard_bounds`, located by byte offset.

    One pass over the bytes, line by line, nothing parsed, keeping each record's offset and line
    number (16 bytes a record, freed on return), so that a shard is read by seeking to it.
    """
    offsets, lines = array("q"), array("q")  # of each record: its first byte (the files laid end to end), its line
    base = 0
    for path in files:
        offset = base
        with open(path, "rb") as file:
            for number, raw in enumerate(file, start=1):
                if is_record_line(raw, first=number == 1):
                    offsets.append(offset)
                    lines.append(number)
                offset += len(raw)
        base = offset
    count = len(offsets)

    def at(position: int) -> tuple[int, int]:
        return (offsets[position], lines[position]) if position < count else (base, 1)

    return [
        LineShard(at(start)[0], at(stop)[0], at(start)[1], start, stop - start)
        for start, stop in shard_bounds(count, num_shards)
    ]


def shard_bounds(count: int, num_shards: int = NUM_SHARDS) -> list[tuple[int, int]]:
    """``num_shards`` contiguous ``(start, stop)`` ranges covering ``range(count)``, sizes differing by at most 1."""
    cuts = [count * i // num_shards for i in range(num_shards + 1)]
    return list(zip(cuts, cuts[1:]))


@dataclass
class LazyShard:
    """Shard ``index`` of a split, whose records are read when first needed."""

    source: SplitSource
    index: int
    num_shards: int = NUM_SHARDS

    def __iter__(self) -> Iterator[JoinedRecord]:
        if self.source.reads_by_line():
            yield from self.source.line_shard(self.index, self.num_shards)
            return
        joined = self.source.joined()
        start, stop = shard_bounds(len(joined), self.num_shards)[self.index]
        for position in range(start, stop):
            yield joined[position]


def shards_of(source: SplitSource, num_shards: int = NUM_SHARDS) -> list[LazyShard]:
    """The split's shards (the ``gen_kwargs`` list that ``num_proc`` and streaming divide)."""
    return [LazyShard(source, index, num_shards) for index in range(num_shards)]


def split_sources(
    config: str,
    release: ReleaseSource,
    audio_index: AudioIndex | None,
    *,
    missing_audio: str = "keep",
    verification_mode: str | None = None,
    on_invalid: str = "error",
    with_metadata: bool = False,
) -> dict[str, SplitSource]:
    """What each split of ``release`` is read from and how it is joined (the builder's and
    :func:`read_release`'s one way to make them); files shared between splits are noticed."""
    from .subsets import subset

    rules, shared = subset(config).rules, release.shared_content()
    return {
        split: SplitSource(
            f"{config}/{split}",
            split,
            files,
            rules,
            release.expected_records[split],
            audio_index,
            missing_audio,
            verification_mode,
            on_invalid,
            with_metadata,
            notices=tuple(shared.get(split, ())),
            expected_from=release.expected_from,
        )
        for split, files in release.files.items()
    }


# The load options read_release takes (the others concern audio and decoding).
RELEASE_OPTIONS: tuple[str, ...] = ("data_dir", "data_files", "verification_mode", "on_invalid")


def release_options(load_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a command's load options that :func:`read_release` takes."""
    return {name: value for name, value in load_kwargs.items() if name in RELEASE_OPTIONS}


def read_release(
    config: str,
    splits: Sequence[str] | None = None,
    *,
    data_dir: str | None = None,
    data_files=None,
    verification_mode: str | None = None,
    on_invalid: str = "error",
) -> dict[str, list[JoinedRecord]]:
    """The release records of ``config``, per split, as the loader reads them, without audio or cache.

    Each item has the loader's example ``id`` (``<split>-<position>``) and the validated ``record``
    (``record.youtube_ids``, ``record.audio_ids``, ``record.dialogue``). The published record
    counts are checked as in a load (``verification_mode="no_checks"`` accepts a partial release).
    Without ``data_dir``/``data_files`` the bundled sample is read. This is what the ``download``,
    ``evaluate`` and ``generate`` commands use to know a split's clips and dialogues.
    """
    from .sources import locate_release
    from .subsets import subset

    release = locate_release(config, subset(config).published, data_dir, data_files)
    chosen = list(release.files) if splits is None else list(splits)
    for split in chosen:
        if split not in release.files:
            raise ValueError(f"{config} has no split {split!r}: choose one of {', '.join(release.files)}.")
    sources = split_sources(config, release, None, verification_mode=verification_mode, on_invalid=on_invalid)
    out = {}
    for split in chosen:
        source = sources[split]
        out[split], report = source.read()
        if report.join.notices or report.join.invalid_records:  # what would otherwise pass without a word
            logger.info(f"{source.name}: {report.join.records} records" + report.join.details())
    return out
