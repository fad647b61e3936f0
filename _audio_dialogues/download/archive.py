"""Clips from archives the user already has: Parquet and WebDataset shards of AudioSet audio, keyed by YouTube id.

    audio-dialogues download clips/ --config audioset_dialogues --clip-times strong.tsv --archive ~/audioset
    audio-dialogues download clips/ --config music_dialogues --archive ~/audioset --no-youtube

Two layouts, as the public mirrors publish them (found by walking each ``--archive`` folder):

- **Parquet** (``*.parquet``, e.g. the Hub's ``agkphysics/AudioSet``): one row per clip, an id column
  (``video_id``, ``youtube_id``, ``ytid`` or ``id``: a bare id, ``Y<id>`` or ``<id>_<start>``) and an
  ``audio`` column as ``datasets`` stores Audio, a struct ``{bytes, path}`` (FLAC bytes in that mirror).
- **WebDataset** (``*.tar``, e.g. ``confit/audioset-16khz-wds``): members ``<key>.<ext>``, where the key is
  any name the loader resolves (:func:`~.core.audio_files.parse_audio_name`: ``Y<id>``, ``<id>``,
  ``<id>_<start>``, ``<id>_<start>_<end>``) and ``<ext>`` an audio extension; other members (``.json``,
  ``.cls``) are ignored.

An archive clip is the 10-second AudioSet segment of its video, and a MusicCaps clip is such a segment, so
a needed window is cut relative to it: at ``window start - archive start`` when the archive's name says
where it starts, else the archive clip is taken to be the segment the window starts (cut to the window's
length). A window the archive clip does not hold is left to the next source. The cut is made by the same
ffmpeg, to the same format and rate, under the same file name as a YouTube download, so the two mix in
one folder and the loader cannot tell them apart; the ledger's ``source`` column says where each came from.

The archives are indexed once into ``OUT_DIR/.archive_index.jsonl`` (one line per shard: its path, size,
mtime and the ids it holds); a shard whose size or mtime changed is indexed again, the others are not read.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from ..core.audio_files import AUDIO_EXTENSIONS, AudioName, parse_audio_name
from .fetch import TEMP_DIR, Fetcher, Outcome
from .plan import CLIP_SECONDS, Clip
from .ytdlp import FetchOptions, _Processes, convert_clip

INDEX_FILE = ".archive_index.jsonl"  # in OUT_DIR, beside the ledger
ID_COLUMNS = ("video_id", "youtube_id", "ytid", "YTID", "id")  # the first one a Parquet shard has is its id
START_COLUMNS = ("start_seconds", "start_time_seconds", "start_time", "start")  # optional, in seconds
AUDIO_COLUMN = "audio"


class ArchiveFormatError(ValueError):
    """An archive shard is not in a layout this module reads; the message names the shard and the fix."""


@dataclass(frozen=True)
class ArchiveClip:
    """Where one clip is: the shard, the place in it, and the second of the video it starts at (if named)."""

    shard: str  # the shard's path
    place: tuple  # Parquet: (row group, row); WebDataset: (data offset, size, extension)
    start: float | None


@dataclass
class ArchiveIndex:
    """Every clip of some archive folders, by YouTube id (the first shard, in sorted order, that holds it)."""

    clips: dict[str, ArchiveClip] = field(default_factory=dict)
    shards: int = 0
    indexed: int = 0  # shards read this time (new or changed); the others came from the index file
    duplicates: int = 0  # ids held by more than one shard (the first is used)

    @classmethod
    def build(cls, folders: tuple[str, ...] | list[str], index_file: Path) -> ArchiveIndex:
        """Index ``folders`` (walked for ``*.parquet`` and ``*.tar``), reusing ``index_file``'s unchanged shards.

        Raises:
            ValueError: a folder that is not one, or holds no shard; a shard in neither layout.
        """
        known = _read_index(index_file)
        index, lines = cls(), []
        for folder in folders:
            root = Path(folder).expanduser()
            if not root.is_dir():
                raise ValueError(f"--archive {folder}: not a folder; pass a folder of .parquet or .tar shards.")
            shards = sorted(p for p in root.rglob("*") if p.suffix in (".parquet", ".tar") and p.is_file())
            if not shards:
                raise ValueError(
                    f"--archive {folder}: no .parquet or .tar shard in it (or under it); pass the folder the "
                    "archive's shards were downloaded into."
                )
            for shard in shards:
                stat, path = shard.stat(), str(shard.resolve())
                entry = known.get(path)
                if entry is None or (entry["size"], entry["mtime_ns"]) != (stat.st_size, stat.st_mtime_ns):
                    entries = list(_parquet_entries(shard) if shard.suffix == ".parquet" else _tar_entries(shard))
                    entry = {"shard": path, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "clips": entries}
                    index.indexed += 1
                lines.append(json.dumps(entry, separators=(",", ":")))
                index.shards += 1
                for youtube_id, place, start in entry["clips"]:
                    if youtube_id in index.clips:
                        index.duplicates += 1
                    else:
                        index.clips[youtube_id] = ArchiveClip(path, tuple(place), start)
        if index.indexed or len(lines) != len(known):
            temporary = index_file.with_name(index_file.name + ".partial")
            temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            os.replace(temporary, index_file)
        return index


def _read_index(index_file: Path) -> dict[str, dict]:
    """The index file's shards by path; an unreadable index is rebuilt (it holds nothing of the user's)."""
    known: dict[str, dict] = {}
    try:
        for line in index_file.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            known[entry["shard"]] = entry
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return known


def _start_seconds(name: AudioName) -> float | None:
    """Where a named archive clip starts: ``_30`` / ``_30_40`` are seconds, a strong-label ``_30000`` milliseconds."""
    if name.start is None:
        return None
    value = float(name.start)
    if name.end is None and "." not in name.start and value >= 1000:
        return value / 1000  # <id>_<start in ms>, the strong-label segment id
    return value


# --- reading the two layouts ----------------------------------------------------------------------------------


def _parquet_entries(shard: Path) -> Iterator[list]:
    """``[youtube id, [row group, row], start]`` per row of a Parquet shard (only the id columns are read)."""
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(shard)
    except Exception as err:  # pyarrow raises its own error types for a file that is not Parquet
        raise ArchiveFormatError(f"--archive: {shard} is not a readable Parquet file ({err}).") from err
    columns = file.schema_arrow.names
    id_column = next((c for c in ID_COLUMNS if c in columns), None)
    if id_column is None or AUDIO_COLUMN not in columns:
        raise ArchiveFormatError(
            f"--archive: {shard} has columns {columns}; expected an id column (one of {', '.join(ID_COLUMNS)}) "
            f"and an {AUDIO_COLUMN!r} column of {{bytes, path}}, as the Hub's AudioSet mirrors have."
        )
    start_column = next((c for c in START_COLUMNS if c in columns), None)
    for group in range(file.num_row_groups):
        table = file.read_row_group(group, columns=[id_column] + ([start_column] if start_column else []))
        ids = table.column(id_column).to_pylist()
        starts = table.column(start_column).to_pylist() if start_column else [None] * len(ids)
        for row, (value, start) in enumerate(zip(ids, starts)):
            name = parse_audio_name(str(value))
            if name is None:
                raise ArchiveFormatError(
                    f"--archive: {shard}, row group {group}, row {row}, column {id_column!r}: {value!r} is not a "
                    "YouTube id (11 characters, optionally 'Y' before and '_<start>' after)."
                )
            yield [name.youtube_id, [group, row], float(start) if start is not None else _start_seconds(name)]


def _tar_entries(shard: Path) -> Iterator[list]:
    """``[youtube id, [data offset, size, extension], start]`` per audio member of a WebDataset tar shard."""
    try:
        with tarfile.open(shard) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                base = member.name.rsplit("/", 1)[-1]  # <key>.<ext>; the key may hold dots (a start of 2.5 s)
                extension = base.rpartition(".")[2].lower()
                if extension not in AUDIO_EXTENSIONS:
                    continue
                name = parse_audio_name(base)
                if name is None:
                    raise ArchiveFormatError(
                        f"--archive: {shard}, member {member.name!r}: its name is not a YouTube id "
                        "(11 characters, optionally 'Y' before and '_<start>' after)."
                    )
                yield [name.youtube_id, [member.offset_data, member.size, extension], _start_seconds(name)]
    except tarfile.TarError as err:
        raise ArchiveFormatError(f"--archive: {shard} is not a readable tar file ({err}).") from err


class _RowGroups:
    """The audio column of the last few Parquet row groups read (clips of one group are asked for together)."""

    def __init__(self, size: int = 4) -> None:
        self._lock, self._groups, self._size = threading.Lock(), {}, size

    def audio(self, shard: str, group: int, row: int) -> tuple[bytes, str]:
        import pyarrow.parquet as pq

        with self._lock:
            column = self._groups.get((shard, group))
        if column is None:
            column = pq.ParquetFile(shard).read_row_group(group, columns=[AUDIO_COLUMN]).column(AUDIO_COLUMN)
            with self._lock:
                if len(self._groups) >= self._size:
                    self._groups.pop(next(iter(self._groups)))
                self._groups[(shard, group)] = column
        value = column[row].as_py()
        if not isinstance(value, dict) or not value.get("bytes"):
            raise ArchiveFormatError(
                f"--archive: {shard}, row group {group}, row {row}: the {AUDIO_COLUMN!r} value holds no bytes "
                "(a mirror that stores only paths is not an archive of the audio)."
            )
        return value["bytes"], value.get("path") or ""


# --- the fetcher --------------------------------------------------------------------------------------------------


class ArchiveFetcher:
    """The :class:`~.fetch.Fetcher` of clips in local archives; what they lack goes to ``fallback`` (YouTube).

    Without a fallback a clip the archives lack is recorded ``not-found`` (a rerun with YouTube tries it).
    """

    def __init__(
        self,
        index: ArchiveIndex,
        *,
        audio_format: str,
        sampling_rate: int | None,
        ffmpeg: str,
        timeout: float = 300.0,
        fallback: Fetcher | None = None,
    ) -> None:
        self.index, self.fallback = index, fallback
        self.audio_format = audio_format
        self.options = FetchOptions(
            audio_format=audio_format, sampling_rate=sampling_rate, timeout=timeout, ffmpeg=ffmpeg
        )
        self.processes = _Processes()
        self.stopping = self.processes.stopping
        self.notes: list[str] = list(getattr(fallback, "notes", []))
        self._row_groups = _RowGroups()

    @property
    def settings_source(self) -> str:
        """The source recorded in the settings: the same files as the YouTube fetcher's, so they mix in one folder."""
        return type(self.fallback).__name__ if self.fallback is not None else "YtDlpFetcher"

    def fetch(self, clip: Clip, out_dir: Path) -> Outcome:
        assert clip.time is not None
        found = self.index.clips.get(clip.youtube_id)
        offset = None
        if found is not None:
            offset = clip.time.start - (found.start if found.start is not None else clip.time.start)
            if offset < 0 or offset + clip.time.seconds > CLIP_SECONDS + 0.5:
                offset = None  # the archive holds another window of this video
        if offset is None:
            if self.fallback is not None:
                return self.fallback.fetch(clip, out_dir)
            why = "no archive holds this id" if found is None else f"{found.shard} holds another window of it"
            return Outcome("not-found", f"{why} (and --no-youtube)", source="archive")
        cut = self._cut(clip, found, offset, out_dir)
        if cut.status in ("short", "empty", "error") and self.fallback is not None:  # the archive's copy fails it
            fetched = self.fallback.fetch(clip, out_dir)
            return (
                fetched if fetched.status == "ok" else replace(fetched, detail=f"{fetched.detail} (and {cut.detail})")
            )
        return cut

    def stop(self) -> None:
        self.processes.stop_all()
        if self.fallback is not None:
            self.fallback.stop()

    def _read(self, found: ArchiveClip) -> tuple[bytes, str]:
        if found.shard.endswith(".parquet"):
            return self._row_groups.audio(found.shard, *found.place)
        offset, size, extension = found.place
        with open(found.shard, "rb") as file:
            file.seek(offset)
            return file.read(size), f"clip.{extension}"

    def _cut(self, clip: Clip, found: ArchiveClip, offset: float, out_dir: Path) -> Outcome:
        assert clip.time is not None
        source = f"archive {Path(found.shard).name}"
        work = out_dir / TEMP_DIR / f"{os.getpid()}-archive-{clip.youtube_id}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            data, path = self._read(found)
            original = work / ("source" + (Path(path).suffix or ".audio"))
            original.write_bytes(data)
            outcome = convert_clip(clip, original, work, out_dir, self.options, self.processes, offset=offset)
            if outcome.status in ("error", "empty", "short"):  # the archive file is the one to look at
                outcome = replace(outcome, detail=f"{found.shard} at {offset:g} s: {outcome.detail}")
            return outcome if outcome.status == "stopped" else replace(outcome, source=source)
        finally:
            shutil.rmtree(work, ignore_errors=True)
