"""Reading a release for a look at it (stats, review): its records streamed one at a time, and its clips' index."""

from __future__ import annotations

from typing import Iterator, Sequence

from ..core.audio_files import AudioIndex, index_audio_dirs
from ..core.bundled import sample_audio_dir
from ..core.release import Notices, Record, ReleaseFormatError, iter_release_file, parse_json_line


def audio_index_for(options: dict, is_sample: bool) -> AudioIndex | None:
    """The clips' index of a stats or review run (the sample's clips for the sample); None: text only."""
    dirs = options["audio_dir"] or ([str(sample_audio_dir())] if is_sample else None)
    if not dirs:
        if options["missing_audio"] != "keep":
            raise ValueError(f"missing_audio={options['missing_audio']!r} needs audio_dir= (the folder of your clips).")
        return None
    return index_audio_dirs(dirs, follow_symlinks=options["follow_symlinks"], min_bytes=options["min_audio_bytes"])


def stream_records(files: Sequence[str], rules, notices: Notices) -> Iterator[Record | ReleaseFormatError]:
    """Every record of the split's files; an uncompressed JSON Lines file one line at a time."""
    for path in files:
        if not str(path).lower().endswith(".jsonl"):
            yield from iter_release_file(path, rules, notices)
            continue
        with open(path, "rb") as file:
            offset = 0
            for number, raw in enumerate(file, start=1):
                item = parse_json_line(path, raw, number, offset, rules, notices)
                offset += len(raw)
                if item is not None:
                    yield item
