"""What is asked about: the source clips and their splits, the jobs (one dialogue, or one comparison of
an anchor clip with its neighbours), the ids to keep and the label descriptions a user gives.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..core.audio_files import AudioIndex, index_audio_dirs, is_youtube_id, parse_audio_name
from ..core.errors import printable
from ..core.musiccaps import read_musiccaps, shipped_musiccaps, shipped_musiccaps_file
from ..core.strong_labels import StrongClip, read_strong_labels, shipped_label_names
from ..core.subsets import SPLITS, subset
from .filters import AudioEmbedder
from .neighbours import choose_neighbours, comparison_limit, label_vectors, sample_anchors, unit_rows
from .prompts import clip_text, comparison_text

COMPARISON_CLIPS = (2, 4)  # clips per comparison, anchor included


def paper_test_share(config: str) -> float:
    """The share of the paper's records that are in its test split (e.g. 1,641 of 4,999 for music)."""
    published = subset(config).published
    return published["test"] / sum(published.values())


def hash_split(youtube_id: str, share: float) -> str:
    """``test`` for a stable ``share`` of YouTube ids, else ``train`` (the same id always lands the same)."""
    value = int.from_bytes(hashlib.sha256(f"split:{youtube_id}".encode()).digest()[:8], "big") / 2**64
    return "test" if value < share else "train"


@dataclass(frozen=True)
class Clip:
    """One source clip: what the model is told about it, and which split it goes to."""

    youtube_id: str
    split: str
    caption: str | None = None  # MusicCaps
    aspects: tuple[str, ...] = ()  # MusicCaps aspect list
    strong: StrongClip | None = None  # AudioSet

    @property
    def audio_id(self) -> str:
        return f"Y{self.youtube_id}.wav"


@dataclass(frozen=True)
class Job:
    """One request: a dialogue about one clip, or a comparison of an anchor clip with its neighbours."""

    key: str  # the (anchor) clip's YouTube id
    split: str
    clips: tuple[Clip, ...]
    most_similar: bool | None = None  # comparisons: top-k or bottom-k neighbours


def parse_source(value: str | os.PathLike) -> tuple[str | None, Path]:
    """``"train=file.tsv"`` -> ``("train", Path("file.tsv"))``; ``"file.tsv"`` -> ``(None, ...)``."""
    text = os.fspath(value)
    split, sep, path = text.partition("=")
    if sep and split in SPLITS:
        return split, Path(path).expanduser()
    if sep and "/" not in split and os.sep not in split and not Path(text).exists():
        raise ValueError(
            f"--source {text!r}: the split must be one of {', '.join(SPLITS)} (SPLIT=FILE), or give FILE alone"
        )
    return None, Path(text).expanduser()


def read_ids(ids: str | os.PathLike | Iterable[str]) -> list[str]:
    """YouTube ids from a file (one a line; ``Y<id>``, ``<id>_<start>`` and file names are read too;
    blank lines and ``#`` comments skipped) or from an iterable of ids."""
    if isinstance(ids, (str, os.PathLike)):
        path = Path(ids).expanduser()
        lines = [
            (f"{path}, line {n}", line.strip()) for n, line in enumerate(read_text(path, "--ids").splitlines(), start=1)
        ]
    else:
        lines = [(f"id {i + 1}", str(x).strip()) for i, x in enumerate(ids)]
    out = []
    for where, line in lines:
        if not line or line.startswith("#"):
            continue
        parsed = parse_audio_name(line)
        if parsed is None:
            raise ValueError(
                f"{where}: {line[:40]!r} is not a YouTube id (11 characters of A-Z a-z 0-9 _ -). Write one id a line."
            )
        out.append(parsed.youtube_id)
    return list(dict.fromkeys(out))


def collect_clips(config: str, sources: Sequence[str], ids, notes: list[str]) -> list[Clip]:
    """The clips of the sources (in file order), each with its split; only those of ``ids`` if given."""
    share = paper_test_share(config)
    parsed = [parse_source(s) for s in sources]
    if config == "music_dialogues":
        parsed = parsed or [(None, shipped_musiccaps_file())]

        def read(path: Path) -> dict:
            return shipped_musiccaps() if path == shipped_musiccaps_file() else read_musiccaps(path)

    else:
        if not parsed:
            raise ValueError(
                f"{config} is made from the AudioSet strong labels: pass them as --source, e.g. "
                "--source train=audioset_train_strong.tsv --source test=audioset_eval_strong.tsv "
                "(Google's AudioSet download page, 'Strong labels')."
            )
        read = read_strong_labels
    clips: dict[str, Clip] = {}
    repeated = 0
    for split, path in parsed:
        for youtube_id, item in read(path).items():
            if not is_youtube_id(youtube_id):  # it becomes a file name and a request: nothing else may pass
                raise ValueError(
                    f"{path}: the clip id {printable(youtube_id[:40])!r} is not a YouTube id (11 characters of "
                    "A-Z a-z 0-9 _ -); correct or remove that row. Nothing was sent."
                )
            if youtube_id in clips:
                repeated += 1
                continue
            clip_split = split or hash_split(youtube_id, share)
            if config == "music_dialogues":
                clips[youtube_id] = Clip(youtube_id, clip_split, caption=item.caption, aspects=item.aspects)
            else:
                clips[youtube_id] = Clip(youtube_id, clip_split, strong=item)
    if repeated:
        notes.append(f"{repeated} clips appear in more than one source: the first source's row is used")
    if not any(split for split, _ in parsed):
        notes.append(
            f"splits: a stable hash of the YouTube id puts {share:.1%} of the clips in test (the paper's share)"
        )
    labels = {event.label for clip in clips.values() if clip.strong for event in clip.strong.events}  # no sort
    unnamed = labels - set(shipped_label_names())
    if unnamed:
        notes.append(
            f"{len(unnamed)} labels are not in mid_to_display_name.tsv and are shown by their MID "
            f"(first: {', '.join(sorted(unnamed)[:3])})"
        )
    if ids is not None:
        wanted = read_ids(ids)
        missing = [y for y in wanted if y not in clips]
        if missing:
            notes.append(
                f"{len(missing)} of the {len(wanted)} ids are in no source and were not generated "
                f"(first: {', '.join(missing[:5])})"
            )
        return [clips[y] for y in wanted if y in clips]
    return list(clips.values())


def audio_index_of(audio_dir, follow_symlinks: bool = False, min_bytes: int = 0) -> AudioIndex | None:
    """The clips for the similarity filter, found as the loader finds them (the same load options)."""
    if audio_dir is None:
        return None
    dirs = [audio_dir] if isinstance(audio_dir, (str, os.PathLike)) else list(audio_dir)
    return index_audio_dirs(dirs, follow_symlinks=follow_symlinks, min_bytes=min_bytes)


def read_label_descriptions(path: str | os.PathLike) -> dict[str, str]:
    """MID -> description from a JSON object keyed by MID or label name (``{"Dog": "a dog barking"}``)."""
    path = Path(path).expanduser()
    try:
        data = json.loads(read_text(path, "--label-descriptions"))
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path}: not JSON ({err.msg}, line {err.lineno}); expected an object such as "
            '{"Dog": "a dog barking in short bursts"}'
        ) from err
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: expected a JSON object of label name or MID -> description, found {type(data).__name__}"
        )
    names = shipped_label_names()
    by_name = {name.lower(): mid for mid, name in names.items()}
    out = {}
    for key, description in data.items():
        mid = key if key in names or key.startswith("/") else by_name.get(key.lower())
        if mid is None:
            raise ValueError(
                f"{path}, key {key!r}: not an AudioSet strong-label name or MID "
                "(see data/metadata/mid_to_display_name.tsv)"
            )
        if not isinstance(description, str) or not description.strip():
            raise ValueError(f"{path}, key {key!r}: expected a non-empty description, found {description!r}")
        out[mid] = description.strip()
    return out


def job_text(job: Job, descriptions: dict[str, str], style: str = "paper") -> str:
    """What the model is told about the job's clip(s)."""
    names = shipped_label_names()
    comparison = len(job.clips) > 1 or job.most_similar is not None
    texts = [clip_text(clip, names, descriptions, style=style, comparison=comparison) for clip in job.clips]
    return comparison_text(texts) if comparison else texts[0]


def make_jobs(
    config: str,
    clips: Sequence[Clip],
    seed: int,
    *,
    pending: Callable[[str], bool],
    scorer=None,
    audio_index: AudioIndex | None = None,
    notes: list[str],
    progress: bool = False,
    comparisons: int | str | None = None,
) -> list[Job]:
    """One job per clip; for comparisons one per anchor (``comparisons``: how many anchors per split,
    see :func:`~.neighbours.comparison_limit`), the neighbours chosen only for jobs still pending."""
    if not subset(config).multi_audio:
        if comparisons not in (None, "all"):
            notes.append(f"--comparisons is not used by {config} (one dialogue per clip)")
        return [Job(clip.youtube_id, clip.split, (clip,)) for clip in clips]
    jobs: list[Job] = []
    for split in SPLITS:
        pool = [clip for clip in clips if clip.split == split]
        if len(pool) == 1:
            notes.append(f"{split}: 1 clip, no comparison possible (a comparison needs 2 clips of the same split)")
        limit = comparison_limit(comparisons, subset(config).published[split])
        anchors = sample_anchors([clip.youtube_id for clip in pool], limit, seed)
        if limit is not None and len(pool) > 1:
            notes.append(
                f"{split}: {len(anchors)} of {len(pool)} clips anchor a comparison (a sample seeded by --seed)"
            )
        todo = [i for i in anchors if pending(pool[i].youtube_id)] if len(pool) > 1 else []
        if not todo:
            jobs += [Job(pool[i].youtube_id, split, (pool[i],)) for i in anchors if len(pool) > 1]
            continue
        vectors, method = _similarity_vectors(pool, scorer, audio_index)
        notes.append(f"{split}: comparison neighbours by {method}")
        plans = {}
        for i in todo:
            rng = random.Random(f"{seed}:{pool[i].youtube_id}")
            plans[i] = (min(rng.randint(*COMPARISON_CLIPS), len(pool)), rng.random() < 0.5)
        chosen = choose_neighbours(vectors, todo, plans, seed, progress=progress)
        for i in anchors:
            clip = pool[i]
            if i in chosen:
                jobs.append(Job(clip.youtube_id, split, (clip, *(pool[j] for j in chosen[i])), plans[i][1]))
            else:  # finished: its clips are in the ledger
                jobs.append(Job(clip.youtube_id, split, (clip,), None))
    return jobs


def _similarity_vectors(pool: Sequence[Clip], scorer, audio_index: AudioIndex | None) -> tuple[np.ndarray, str]:
    """Unit vectors whose dot products are the clips' similarities: the scorer's audio embeddings when
    it has them and every clip's audio is found, otherwise the clips' label sets."""
    if scorer is not None and isinstance(scorer, AudioEmbedder) and audio_index is not None:
        paths = [audio_index.resolve(c.audio_id, c.youtube_id).path for c in pool]
        if all(paths):
            return unit_rows(scorer.audio_embeddings(paths)), f"{scorer.name} audio embeddings"
        method_note = f" ({sum(p is None for p in paths)} clips have no audio, so no audio embeddings)"
    else:
        method_note = " (no scorer with audio embeddings)"
    vectors = label_vectors([clip.strong.labels for clip in pool])
    return vectors, "the cosine similarity of their label sets" + method_note


def read_text(path: str | os.PathLike, flag: str) -> str:
    path = Path(path).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{flag} {path}: no such file") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{flag} {path}: not UTF-8 text (byte {err.start})") from err
