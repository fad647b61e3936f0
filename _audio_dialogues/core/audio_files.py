"""Finding a record's audio file by its YouTube id, whatever the download tool called it.

Download tools name the same clip differently; all of these hold the clip of YouTube id
``2oSP0SN3d2g`` and are found for a record whose ``audio_id`` is ``Y2oSP0SN3d2g.wav``:

    Y2oSP0SN3d2g.wav                 AudioSet convention (``Y`` + id)
    2oSP0SN3d2g.flac                 MusicCaps downloaders
    2oSP0SN3d2g_30000.wav            ``<id>_<start>``, start in ms (AudioSet strong-label segment id)
    2oSP0SN3d2g_30.000_40.000.mp3    ``<id>_<start>_<end>``, in seconds or ms

The folders are listed once per load (:func:`index_audio_dirs`), never one filesystem call per
record. An entry the listing cannot use never aborts it and is never dropped silently: a sub-folder
it cannot read (``lost+found`` on a clip drive), a symbolic-link loop, a broken link, and anything
that is not a regular file (a named pipe would block a read forever, a device would never end) are
skipped, counted and named in the listing line, as is a path that is not UTF-8.

When several files hold the same id, a file named exactly like the record's ``audio_id`` wins;
otherwise the first by (extension preference, path) is taken and the tie is counted.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

# In order of preference when one clip exists in several formats: lossless first, and formats
# soundfile decodes before m4a (which needs FFmpeg).
AUDIO_EXTENSIONS: tuple[str, ...] = ("wav", "flac", "ogg", "opus", "mp3", "m4a")
_EXTENSION_RANK = {ext: rank for rank, ext in enumerate(AUDIO_EXTENSIONS)}

_YOUTUBE_ID = r"[A-Za-z0-9_-]{11}"
_TIME = r"\d+(?:\.\d+)?"
# A 12-character stem starting with "Y" is the AudioSet form; an 11-character stem is a bare id
# (which may itself start with "Y"). Alternation order makes the parse unique. The extension is
# matched loosely here (any run of letters and digits) and checked against AUDIO_EXTENSIONS after.
_NAME = re.compile(
    rf"(?:Y(?P<prefixed>{_YOUTUBE_ID})|(?P<bare>{_YOUTUBE_ID}))(?:_(?P<start>{_TIME})(?:_(?P<end>{_TIME}))?)?"
    r"(?:\.(?P<extension>[A-Za-z0-9]*))?"
)


@dataclass(slots=True)  # built per record: not frozen, which costs 4x to construct
class AudioName:
    """What a file name says about the clip it holds."""

    youtube_id: str
    start: str | None = None
    end: str | None = None
    extension: str | None = None


def parse_audio_name(name: str) -> AudioName | None:
    """Parse a bare file name (no folders) in one of the recognised forms, or return ``None``.

    The extension is optional but, when present, must be one of :data:`AUDIO_EXTENSIONS`
    (any case). ``"../x.wav"``, ``"a/b.wav"`` and ``"clip.txt"`` are not audio names.
    """
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        return None
    extension = match["extension"]
    if extension is not None:
        extension = extension.lower()
        if extension not in _EXTENSION_RANK:
            return None
    return AudioName(match["prefixed"] or match["bare"], match["start"], match["end"], extension)


@dataclass(slots=True)  # built per record: not frozen, which costs 4x to construct
class Resolution:
    """Where a record's audio id was found (``path`` is ``None`` when it was not)."""

    path: str | None
    tie: bool = False  # several files matched and a rule chose one


_NOT_FOUND = Resolution(None)


@dataclass
class AudioIndex:
    """Every audio file under some folders, by the YouTube id its name holds."""

    roots: tuple[str, ...]
    follow_symlinks: bool = False  # also use symbolic links that point outside the roots
    min_bytes: int = 0  # smaller audio files are treated as missing
    by_youtube_id: dict[str, list[str]] = field(default_factory=dict)  # best candidate first
    num_files: int = 0
    other_files: int = 0  # files without an audio extension
    unrecognized: list[str] = field(default_factory=list)  # audio files whose name holds no YouTube id
    outside_links: list[str] = field(default_factory=list)  # symlinks to files outside the roots, not used
    too_small: list[str] = field(default_factory=list)  # audio files under min_bytes, treated as missing
    folder_links: list[str] = field(default_factory=list)  # symlinks to folders, not descended
    unusable: list[tuple[str, str]] = field(default_factory=list)  # (path, why): unreadable, loops, pipes, devices

    def resolve(self, audio_id: str, youtube_id: str) -> Resolution:
        """Find the file for one audio reference of a record."""
        candidates = self.by_youtube_id.get(youtube_id)
        if not candidates:
            return _NOT_FOUND
        if len(candidates) == 1:
            return Resolution(candidates[0])
        exact = [path for path in candidates if os.path.basename(path) == audio_id] or candidates
        return Resolution(exact[0], tie=len(exact) > 1)

    def needs_a_word(self) -> bool:
        """Whether the listing left out anything the user may want to hear about (see :meth:`summary`)."""
        skipped = (self.unrecognized, self.outside_links, self.too_small, self.folder_links, self.unusable)
        return bool(self.other_files or any(skipped))

    def summary(self) -> str:
        """One line on what the listing found, naming files it could not use."""
        line = (
            f"audio_dir {', '.join(self.roots)}: {self.num_files} audio files for {len(self.by_youtube_id)} YouTube ids"
        )
        if self.other_files:
            line += f", {self.other_files} other files ignored (extension not one of {', '.join(AUDIO_EXTENSIONS)})"
        if self.unrecognized:
            shown = ", ".join(os.path.basename(p) for p in self.unrecognized[:3])
            line += (
                f", {len(self.unrecognized)} audio files ignored because their name holds no YouTube id "
                f"(e.g. {shown}; rename them <id>.wav or Y<id>.wav)"
            )
        if self.outside_links:
            line += (
                f", {len(self.outside_links)} symbolic links to files outside the audio folders not used "
                f"(e.g. {self.outside_links[0]}; pass follow_symlinks=True to use them)"
            )
        if self.folder_links:
            line += (
                f", {len(self.folder_links)} symbolic links to folders not searched "
                f"(e.g. {self.folder_links[0]}; pass the folder itself in audio_dir=[...])"
            )
        if self.too_small:
            line += (
                f", {len(self.too_small)} audio files under {self.min_bytes} bytes treated as missing "
                f"(e.g. {self.too_small[0]}; min_audio_bytes={self.min_bytes})"
            )
        if self.unusable:
            shown = "; ".join(f"{path}: {why}" for path, why in self.unusable[:3])
            line += f", {len(self.unusable)} entries skipped because they cannot be used (e.g. {shown})"
        return line

    @property
    def fingerprint(self) -> str:
        """Changes whenever a file is added, removed or renamed under the roots."""
        listing = sorted(path for paths in self.by_youtube_id.values() for path in paths)
        return hashlib.sha256("\0".join(["roots", *self.roots, "files", *listing]).encode()).hexdigest()[:16]


# What `audio-dialogues download` keeps beside the clips (download.run's LEDGER and SETTINGS_FILE, the engine's
# lock and the ledger's torn side file, download.fetch's TEMP_DIR, download.archive's INDEX_FILE): in a folder
# holding its ledger they are passed over, neither audio nor "other files". A sharded run's own copies of them
# (``download_status.shard-2-of-4.tsv``, ...) are the same files: :data:`SHARD_PART` is taken out of a name first.
DOWNLOAD_FOLDER_FILES: tuple[str, ...] = (
    "download_status.tsv",
    ".download.lock",
    ".download_tmp",
    ".download_settings.json",
    "download_status.tsv.torn",
    ".archive_index.jsonl",
)

# The part of a file name that makes it one shard's (``ledger.shard-2-of-4.jsonl``); the engine's shards name
# their files with it (engine/shard.py).
SHARD_PART = re.compile(r"\.shard-(\d+)-of-(\d+)(?=\.|$)")


def is_download_file(name: str) -> bool:
    """``name`` is one of download's own files, or a shard's copy of one."""
    return SHARD_PART.sub("", name) in DOWNLOAD_FOLDER_FILES


def _walk_files(root: str, folder_links: list[str], unusable: list[tuple[str, str]]) -> Iterable[os.DirEntry]:
    """Every regular file under ``root``, recursively: symbolic links to files included; links to
    folders are not followed, and are added to ``folder_links``; what cannot be used (an unreadable
    folder, a link loop or a broken link, a pipe, a device, a socket) is added to ``unusable``."""
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)
        except OSError as err:
            if directory == root:
                raise
            unusable.append((directory, f"folder not readable ({err.strerror or err})"))
            continue
        ledger = DOWNLOAD_FOLDER_FILES[0]  # a folder holding download's ledger, or a shard's, is download's
        stem = ledger.split(".")[0]  # a cheap test first: this runs for every file of a clip folder
        own = any(e.name.startswith(stem) and SHARD_PART.sub("", e.name) == ledger for e in entries)
        for entry in entries:
            if own and is_download_file(entry.name):  # `download`'s ledger, lock, index and work folder
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if _is_utf8(entry.path):
                        stack.append(entry.path)
                    else:
                        unusable.append((_printable(entry.path), "folder path not valid UTF-8 (rename it)"))
                elif entry.is_file():
                    if _is_utf8(entry.path):
                        yield entry
                    else:  # a name of bytes that are not UTF-8: it could be neither stored nor opened again
                        unusable.append((_printable(entry.path), "path not valid UTF-8 (rename it)"))
                elif entry.is_symlink() and entry.is_dir():
                    folder_links.append(entry.path)
                elif entry.is_symlink() and not os.path.exists(entry.path):
                    unusable.append((entry.path, "broken symbolic link"))
                else:
                    from .decoding import describe_file_type

                    what = describe_file_type(os.stat(entry.path).st_mode)
                    unusable.append((entry.path, f"{what}, not a regular file"))
            except OSError as err:  # a symbolic-link loop (ELOOP), a file gone or unreadable while listing
                unusable.append((entry.path, err.strerror or str(err)))


def _is_utf8(path: str) -> bool:
    """Whether a path can be written as UTF-8 (Python keeps undecodable file-name bytes as lone surrogates)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(path: str) -> str:
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


def index_audio_dirs(
    dirs: Sequence[str | os.PathLike], *, follow_symlinks: bool = False, min_bytes: int = 0
) -> AudioIndex:
    """List the audio files under ``dirs`` (each searched recursively) once.

    Audio is only ever read from inside ``dirs``: a symbolic link to a file outside them is left out
    (and counted) unless ``follow_symlinks``; links to folders are never descended. Audio files
    smaller than ``min_bytes`` are left out and counted, so their records count as missing (the
    paper's authors dropped clips under 16,000 bytes, mostly failed downloads).

    Entries that cannot be used are skipped and named (see the module docstring).

    Raises:
        FileNotFoundError: a folder does not exist (the message names it).
        PermissionError: a folder given cannot be read (the message names it).
    """
    roots = tuple(str(Path(d).expanduser().resolve()) for d in dirs)
    for root in roots:
        if not os.path.isdir(root):
            raise FileNotFoundError(
                f"audio_dir {root!r} is not a folder. Pass audio_dir= the folder (or a list of folders) "
                "holding the clips you downloaded; it is searched recursively."
            )
    index = AudioIndex(roots=roots, follow_symlinks=follow_symlinks, min_bytes=min_bytes)
    by_youtube_id = index.by_youtube_id
    for root in roots:
        if not _is_utf8(root):
            raise ValueError(
                f"audio_dir {_printable(root)!r}: its path is not valid UTF-8, so the clips' paths could "
                "not be stored; rename the folder."
            )
        if not os.access(root, os.R_OK | os.X_OK):
            raise PermissionError(
                f"audio_dir {root!r} cannot be read by this user: fix its permissions, or pass another folder."
            )
    for root in roots:
        for entry in _walk_files(root, index.folder_links, index.unusable):
            path, name = entry.path, entry.name
            parsed = parse_audio_name(name)
            if parsed is None or parsed.extension is None:  # a file on disk is audio only with an audio extension
                if "." in name and name.rpartition(".")[2].lower() in _EXTENSION_RANK:
                    index.unrecognized.append(path)
                else:
                    index.other_files += 1
                continue
            if not follow_symlinks and entry.is_symlink() and not _inside(os.path.realpath(path), roots):
                index.outside_links.append(path)
                continue
            if min_bytes and entry.stat().st_size < min_bytes:
                index.too_small.append(path)
                continue
            index.num_files += 1
            by_youtube_id.setdefault(parsed.youtube_id, []).append(path)
    for skipped in (index.unrecognized, index.outside_links, index.too_small, index.folder_links, index.unusable):
        skipped.sort()
    for paths in by_youtube_id.values():
        if len(paths) > 1:
            paths.sort(key=lambda p: (_EXTENSION_RANK[p.rpartition(".")[2].lower()], p))
    return index


def _inside(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def is_youtube_id(text: str) -> bool:
    """Whether ``text`` is a YouTube id (11 characters of A-Z a-z 0-9 _ -): the only form an id read from a
    data file may take before it names a file or reaches a request or a command line."""
    return isinstance(text, str) and _YOUTUBE_ID_ONLY.fullmatch(text) is not None


_YOUTUBE_ID_ONLY = re.compile(_YOUTUBE_ID)  # compiled once: a plan checks every id of a 120,000-clip file
