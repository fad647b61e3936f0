"""Writing a synthetic release of any size, and an audio folder to go with it, for tests and benchmarks.

    paths = write_release(tmp_path / "release", {"music_dialogues": {"train": 100, "test": 20}}, fmt="jsonl", gzip=True)
    # -> {"music_dialogues": {"train": tmp_path/"release/music_dialogues/train.jsonl.gz", "test": ...}}
    summary = write_audio(tmp_path / "clips", paths, n_files=100, missing=0.15)
    print(summary.describe())

    python tests/synthetic.py OUT --size audioset_dialogues/train=76642 [--fmt jsonl] [--gzip]
        [--audio-dir DIR --audio-files N [--missing 0.15] [--seconds 10]]

Records have the schema of the real files (see :mod:`.release`): random valid 11-character YouTube
ids (``Y<id>.wav`` for the AudioSet configs, ``<id>.wav`` for Music Dialogues) and short template
texts. Turns and audios per record follow the paper's statistics: 1-4 turns with mean 2.21
(AudioSet Dialogues) and 1.67 (Music Dialogues); comparisons have one turn and 2-4 audios, mean 3.00.
The same seed gives the same bytes; each file has its own random stream, so changing one size leaves
the other files unchanged.

The audio folder (:func:`write_audio`) holds real clips in the formats users really have: wav, flac
and mp3 at 16, 22.05, 44.1 and 48 kHz, mono and stereo (:data:`CLIP_FORMATS`, 24 combinations), each
synthesized once (seeded tones and noise) into a pool folder beside ``audio_dir``. Each YouTube id of
the release that "was downloaded" gets a hard link to one pool clip, named in one of the forms the
loader resolves (``Y<id>.wav``, ``<id>.flac``, ``<id>_30000.mp3``, ``<id>_30.000_40.000.wav``), so
120,000 files take seconds and almost no disk. About ``missing`` of the ids get no file, like
downloads that failed.

One clip is written by :func:`write_clip` (the sound comes from :func:`synthesize`; same seed, same
bytes, Ogg included) in any :class:`ClipFormat` (also ogg vorbis and other wav subtypes), and named
by :func:`audio_file_name` in one of :data:`NAME_FORMS`; ``scripts/make_sample.py`` writes the
bundled sample's clips with them.
"""

from __future__ import annotations

import argparse
import base64
import gzip as gzip_module
import io
import json
import os
import random
import shutil
import zlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator, Mapping, Sequence

import numpy as np
import soundfile

from _audio_dialogues.core.release import read_release_file
from _audio_dialogues.core.subsets import SUBSETS

SPLITS = ("train", "test")
FORMATS = ("json", "jsonl")


@dataclass(frozen=True)
class _Shape:
    """How the records of one config are drawn."""

    audio_prefix: str  # "Y" for AudioSet file names
    turn_weights: tuple[float, ...]  # probability of 1, 2, ... turns
    audio_weights: tuple[float, ...] | None = None  # comparison: probability of 2, 3, ... audios
    texts: str = "sounds"  # which word bank below


_SHAPES = {
    "audioset_dialogues": _Shape("Y", (0.30, 0.32, 0.25, 0.13)),  # mean 2.21
    "music_dialogues": _Shape("", (0.50, 0.38, 0.07, 0.05), texts="music"),  # mean 1.67
    "audioset_comparison": _Shape("Y", (1.0,), audio_weights=(0.25, 0.50, 0.25)),  # 2-4 audios, mean 3.00
}

# Word banks: each question or answer template is filled from its bank's lists.
_WORDS = {
    "sounds": {
        "source": (
            "a dog",
            "a car engine",
            "rain",
            "a crowd",
            "a man",
            "a woman",
            "birds",
            "a siren",
            "a door",
            "the wind",
            "a train",
            "a baby",
            "running water",
            "a telephone",
            "footsteps",
            "a café crowd",
        ),
        "action": (
            "barking",
            "idling",
            "falling steadily",
            "cheering",
            "speaking",
            "laughing",
            "chirping",
            "wailing",
            "slamming",
            "howling",
            "passing by",
            "crying",
            "splashing",
            "ringing",
            "echoing",
        ),
        "place": ("outdoors", "in a small room", "on a busy street", "in a park", "inside a vehicle", "in a hall"),
    },
    "music": {
        "source": (
            "a piano",
            "an acoustic guitar",
            "a violin",
            "drums",
            "a synthesizer",
            "a male vocalist",
            "a female vocalist",
            "a bass guitar",
            "a choir",
            "a saxophone",
            "a flute",
            "an organ",
        ),
        "action": ("calm", "energetic", "melancholic", "upbeat", "dreamy", "tense", "playful", "solemn"),
        "place": ("jazz", "rock", "folk", "ambient", "hip hop", "classical", "reggae", "electronic"),
    },
}
_QUESTIONS = {
    "sounds": (
        "What is making the sound?",
        "What can you hear in the background?",
        "Is anyone speaking?",
        "Where might this have been recorded?",
        "How does the sound change over time?",
        "Is {source} close to the microphone?",
        "What happens after {source} is heard?",
    ),
    "music": (
        "What instruments can you hear?",
        "What is the genre of this piece?",
        "Describe the mood of the music.",
        "What is the tempo like?",
        "Which instrument plays the melody?",
        "Could this be used in a film?",
    ),
}
_ANSWERS = {
    "sounds": (
        "{Source} is {action}.",
        "{Source} is {action} {place}.",
        "It sounds like {source} {action} {place}.",
        "At first {source} is {action}, then {other} takes over.",
        "Mostly {source}, with {other} in the background.",
    ),
    "music": (
        "{Source} plays the melody while {other} keeps the rhythm.",
        "It is a {action} {place} piece.",
        "The mood is {action}, carried by {source}.",
        "Yes, {source} and {other} would suit a {action} scene.",
        "It sounds like {place} music led by {source}.",
    ),
}
_COMPARISON_QUESTIONS = (
    "Compare {audios}.",
    "What do {audios} have in common?",
    "Which of {audios} is the loudest?",
    "How do {audios} differ?",
)


def write_release(
    root: str | Path,
    sizes: Mapping[str, Mapping[str, int]],
    *,
    fmt: str = "json",
    seed: int = 0,
    gzip: bool = False,
) -> dict[str, dict[str, Path]]:
    """Write ``<root>/<config>/<split>.json|.jsonl[.gz]`` with exactly ``sizes[config][split]`` records.

    ``fmt`` is ``"json"`` (one JSON array) or ``"jsonl"`` (one record a line); ``gzip`` compresses
    (with a zero timestamp, so the bytes stay reproducible). Returns the paths, by config and split.

    Raises:
        ValueError: an unknown config, split or format, or a size that is not a non-negative int.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    _check_sizes(sizes)
    suffix = f".{fmt}" + (".gz" if gzip else "")
    paths: dict[str, dict[str, Path]] = {}
    for config, splits in sizes.items():
        for split, count in splits.items():
            path = Path(root) / config / f"{split}{suffix}"
            rng = random.Random(f"{seed}/{config}/{split}")
            with _open_for_writing(path, gzip) as out:
                _write_records(out, _records(_SHAPES[config], count, rng), fmt)
            paths.setdefault(config, {})[split] = path
    return paths


def _check_sizes(sizes: Mapping[str, Mapping[str, int]]) -> None:
    for config, splits in sizes.items():
        if config not in _SHAPES:
            raise ValueError(f"unknown config {config!r}; expected one of {', '.join(_SHAPES)}")
        for split, count in splits.items():
            if split not in SPLITS:
                raise ValueError(f"unknown split {split!r} for {config}; expected one of {', '.join(SPLITS)}")
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ValueError(f"size of {config}/{split} must be a non-negative int, not {count!r}")


@contextmanager
def _open_for_writing(path: Path, compress: bool) -> Iterator[IO[str]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw:
        binary = raw
        if compress:
            binary = gzip_module.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
        with io.TextIOWrapper(binary, encoding="utf-8", newline="\n", write_through=False) as text:
            yield text


def _write_records(out: IO[str], records: Iterator[dict[str, Any]], fmt: str) -> None:
    """Stream records out: a JSON array with one record a line, or JSON Lines."""
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    separator = "[\n"
    for record in records:
        out.write(separator + json.dumps(record, ensure_ascii=False))
        separator = ",\n"
    out.write("[]\n" if separator == "[\n" else "\n]\n")


def _records(shape: _Shape, count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    """``count`` random records; the random draws are made in bulk up front, then assembled."""
    if shape.audio_weights is None:
        return _dialogue_records(shape, count, rng)
    return _comparison_records(shape, count, rng)


def _dialogue_records(shape: _Shape, count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    turn_counts = rng.choices(range(1, len(shape.turn_weights) + 1), weights=shape.turn_weights, k=count)
    total_turns = sum(turn_counts)
    questions = iter(rng.choices(_text_pool(_QUESTIONS[shape.texts], shape.texts, rng), k=total_turns))
    answers = iter(rng.choices(_text_pool(_ANSWERS[shape.texts], shape.texts, rng), k=total_turns))
    for youtube_id, turns in zip(_youtube_ids(count, rng), turn_counts):
        dialogue = [{"user": next(questions), "assistant": next(answers)} for _ in range(turns)]
        yield {"audio_id": f"{shape.audio_prefix}{youtube_id}.wav", "dialogue": dialogue}


def _comparison_records(shape: _Shape, count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    audio_counts = rng.choices(range(2, len(shape.audio_weights) + 2), weights=shape.audio_weights, k=count)
    questions = rng.choices(_COMPARISON_QUESTIONS, k=count)
    total_audios = sum(audio_counts)
    youtube_ids = iter(_youtube_ids(total_audios, rng))
    contents = iter(rng.choices(_text_pool(("{source} {action}",), shape.texts, rng), k=total_audios))
    for question, audios in zip(questions, audio_counts):
        labels = [f"Audio {number}" for number in range(1, audios + 1)]
        listed = f"{', '.join(labels[:-1])} and {labels[-1]}"
        answer = "; ".join(f"{label} has {next(contents)}" for label in labels) + "."
        yield {
            "audio_ids": [f"{shape.audio_prefix}{next(youtube_ids)}.wav" for _ in labels],
            "dialogue": [{"user": question.format(audios=listed), "assistant": answer}],
        }


def _youtube_ids(count: int, rng: random.Random) -> list[str]:
    """Random 11-character ids over ``[A-Za-z0-9_-]``: URL-safe base64 of 9 random bytes is 12 such characters."""
    encoded = base64.urlsafe_b64encode(rng.randbytes(9 * count)).decode("ascii")
    return [encoded[start : start + 11] for start in range(0, 12 * count, 12)]


def _text_pool(templates: tuple[str, ...], bank: str, rng: random.Random, size: int = 512) -> list[str]:
    """``size`` texts, each a random template filled with random words of ``bank``."""
    words = _WORDS[bank]
    pool = []
    for _ in range(size):
        source = rng.choice(words["source"])
        pool.append(
            rng.choice(templates).format(
                source=source,
                Source=source[0].upper() + source[1:],
                other=rng.choice(words["source"]),
                action=rng.choice(words["action"]),
                place=rng.choice(words["place"]),
            )
        )
    return pool


# --- the audio folder ----------------------------------------------------------------------------

_LAYOUTS = {1: "mono", 2: "stereo"}
# soundfile's (format, usual subtype) for each extension.
_ENCODINGS = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}


@dataclass(frozen=True, order=True)
class ClipFormat:
    """How one synthetic clip is stored; ``format`` is also the file's extension.

    ``subtype`` is soundfile's encoding; left out, it is the format's usual one (PCM_16 for wav and flac).
    """

    format: str  # "wav", "flac", "ogg" or "mp3"
    sampling_rate: int
    channels: int
    subtype: str = ""

    def __post_init__(self) -> None:
        if self.format not in _ENCODINGS:
            raise ValueError(f"unknown clip format {self.format!r}; expected one of {', '.join(_ENCODINGS)}")
        if not self.subtype:
            object.__setattr__(self, "subtype", _ENCODINGS[self.format][1])

    @property
    def container(self) -> str:
        """soundfile's name of the format ("WAV", "FLAC", "OGG", "MP3")."""
        return _ENCODINGS[self.format][0]

    def writable(self) -> bool:
        """Whether this soundfile/libsndfile build can write the format and encoding."""
        formats = soundfile.available_formats()
        return self.container in formats and self.subtype in soundfile.available_subtypes(self.container)

    def __str__(self) -> str:
        usual = "" if self.subtype == _ENCODINGS[self.format][1] else f" {self.subtype}"
        return f"{self.format}{usual} {self.sampling_rate} Hz {_LAYOUTS[self.channels]}"


# Every combination of the formats, rates and channel counts users really have; files cycle through them.
CLIP_FORMATS: tuple[ClipFormat, ...] = tuple(
    ClipFormat(fmt, rate, channels)
    for fmt in ("wav", "flac", "mp3")
    for rate in (16000, 22050, 44100, 48000)
    for channels in (1, 2)
)
# The file-name forms the loader resolves (audio_files.parse_audio_name), over a YouTube id, an extension and the
# clip's start and end in seconds: Y<id>, <id>, <id>_<start ms>, <id>_<start s>_<end s> with or without decimals.
NAME_FORMS: dict[str, str] = {
    "audioset": "Y{id}.{ext}",  # Y2oSP0SN3d2g.wav
    "bare": "{id}.{ext}",  # 2oSP0SN3d2g.flac
    "start_ms": "{id}_{start_ms}.{ext}",  # 2oSP0SN3d2g_30000.wav
    "start_end": "{id}_{start:.3f}_{end:.3f}.{ext}",  # 2oSP0SN3d2g_30.000_40.000.mp3
    "start_end_whole": "{id}_{start}_{end}.{ext}",  # 2oSP0SN3d2g_30_40.flac
}
# The forms write_audio cycles through (independently of CLIP_FORMATS); whole seconds are left to the sample.
_AUDIO_NAME_FORMS = ("audioset", "bare", "start_ms", "start_end")


def audio_file_name(form: str, youtube_id: str, ext: str, start_s: int = 30, end_s: int = 40) -> str:
    """The file name of a clip in one of :data:`NAME_FORMS`, e.g. ``("start_ms", id, "wav")`` -> ``<id>_30000.wav``."""
    return NAME_FORMS[form].format(id=youtube_id, ext=ext, start_ms=start_s * 1000, start=start_s, end=end_s)


_SUBFOLDERS = 5  # <audio_dir>/<config>/part0 ... part4: the loader searches recursively
# The small config first, so that a small n_files still covers it whole.
_AUDIO_ORDER = ("music_dialogues", "audioset_dialogues", "audioset_comparison")


@dataclass
class AudioSummary:
    """What :func:`write_audio` wrote, by config, and which YouTube ids of the release have no file.

    An id of the release has no file when it was drawn ``missing`` (a failed download) or when
    ``n_files`` files had been written before it was reached (``unreached``); ``shortfall`` is how
    many of the requested files could not be written because the release ran out of ids.
    """

    audio_dir: Path
    pool_dir: Path
    requested: int
    ids: dict[str, int] = field(default_factory=dict)  # config -> distinct YouTube ids in the release
    files: dict[str, Counter[ClipFormat]] = field(default_factory=dict)  # config -> files written per clip format
    missing: dict[str, list[str]] = field(default_factory=dict)  # config -> ids drawn missing, release order
    unreached: dict[str, list[str]] = field(default_factory=dict)  # config -> ids after the n_files-th file
    copies: int = 0  # files copied because the file system refused a hard link (normally 0)

    @property
    def written(self) -> int:
        return sum(sum(counts.values()) for counts in self.files.values())

    @property
    def shortfall(self) -> int:
        return self.requested - self.written

    def without_audio(self, config: str) -> list[str]:
        """The ids of ``config`` that have no file, whatever the reason."""
        return self.missing[config] + self.unreached[config]

    def count(self, by: str) -> Counter:
        """Files written by ``"config"``, ``"format"``, ``"sampling_rate"`` or ``"channels"``."""
        if by not in ("config", "format", "sampling_rate", "channels"):
            raise ValueError(f"count(by={by!r}): expected 'config', 'format', 'sampling_rate' or 'channels'")
        totals: Counter = Counter()
        for config, counts in self.files.items():
            for clip, number in counts.items():
                totals[config if by == "config" else getattr(clip, by)] += number
        return totals

    def describe(self) -> str:
        """A few lines for a benchmark or the CLI to print."""
        links = f"hard links to the {len(CLIP_FORMATS)} clips in {self.pool_dir}"
        if self.copies:
            links += f"; {self.copies} copies where a hard link failed"
        lines = [f"{self.written} audio files under {self.audio_dir} ({links})"]
        if self.shortfall:
            drawn_missing = sum(map(len, self.missing.values()))
            lines.append(
                f"  only {self.written} of the {self.requested} files asked for: the release has "
                f"{sum(self.ids.values())} distinct ids, of which {drawn_missing} drawn missing"
            )
        for config, counts in self.files.items():
            line = (
                f"  {config}: {self.ids[config]} ids, {sum(counts.values())} files, "
                f"{len(self.missing[config])} drawn missing"
            )
            if self.unreached[config]:
                line += f", {len(self.unreached[config])} not reached"
            lines.append(line)
        for by in ("format", "sampling_rate", "channels"):
            counts = sorted(self.count(by).items())
            lines.append(
                f"  by {by}: "
                + ", ".join(f"{_LAYOUTS.get(key, key) if by == 'channels' else key} {number}" for key, number in counts)
            )
        return "\n".join(lines)


def write_audio(
    audio_dir: str | Path,
    release_paths: Mapping[str, Mapping[str, str | Path]],
    n_files: int,
    *,
    missing: float = 0.15,
    seed: int = 0,
    seconds: float = 10.0,
) -> AudioSummary:
    """Write the audio folder of a synthetic release: ``n_files`` clips named by the release's YouTube ids.

    ``release_paths`` is what :func:`write_release` returns. The distinct ids are taken config by
    config (music_dialogues, audioset_dialogues, audioset_comparison), each in release order; each id
    gets a file with probability ``1 - missing`` (seeded), until ``n_files`` files are written. If the
    release runs out of ids first, fewer files are written and the summary's ``shortfall`` says how
    many (no error: ``n_files`` larger than the release means "every id that was downloaded").

    The :data:`CLIP_FORMATS` clips, ``seconds`` long, are written once into ``<audio_dir>.pool/``;
    each file of ``audio_dir`` is a hard link to one of them (a copy where hard links fail), cycling
    through the formats, the name forms of :mod:`.audio_files` and five sub-folders per config. The
    same arguments give the same file names and the same bytes.

    Raises:
        ValueError: a bad argument, or a config of ``release_paths`` that is not one of the three.
        FileExistsError: ``audio_dir`` exists and is not empty (stale files would be joined too).
    """
    if not isinstance(n_files, int) or isinstance(n_files, bool) or n_files < 0:
        raise ValueError(f"n_files must be a non-negative int, not {n_files!r}")
    if not 0.0 <= missing <= 1.0:
        raise ValueError(f"missing must be a fraction between 0 and 1, not {missing!r}")
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, not {seconds!r}")
    audio_dir = Path(audio_dir)
    if audio_dir.exists() and any(audio_dir.iterdir()):
        raise FileExistsError(
            f"audio_dir {audio_dir} is not empty; write_audio fills a new folder (remove it, or pick another)"
        )
    release_ids = _release_youtube_ids(release_paths)
    pool_dir = audio_dir.with_name(audio_dir.name + ".pool")
    pool = write_clips(pool_dir, seconds=seconds, seed=seed)

    summary = AudioSummary(audio_dir, pool_dir, n_files)
    present: dict[str, bool] = {}  # decided on an id's first visit: a clip shared by two configs is one file
    rng = random.Random(f"{seed}/audio")
    written = 0
    for config, youtube_ids in release_ids.items():
        counts, missing_ids, unreached = Counter(), [], []
        summary.ids[config], summary.files[config] = len(youtube_ids), counts
        summary.missing[config], summary.unreached[config] = missing_ids, unreached
        folders = [audio_dir / config / f"part{number}" for number in range(_SUBFOLDERS)]
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        for youtube_id in youtube_ids:
            if youtube_id not in present:
                if written == n_files:
                    unreached.append(youtube_id)
                    continue
                present[youtube_id] = rng.random() >= missing
                if present[youtube_id]:
                    clip = CLIP_FORMATS[written % len(CLIP_FORMATS)]
                    form = _AUDIO_NAME_FORMS[(written + written // len(CLIP_FORMATS)) % len(_AUDIO_NAME_FORMS)]
                    target = folders[written % _SUBFOLDERS] / audio_file_name(form, youtube_id, clip.format)
                    summary.copies += _link_or_copy(pool[clip], target)
                    counts[clip] += 1
                    written += 1
            if not present[youtube_id]:
                missing_ids.append(youtube_id)
    return summary


def write_clips(folder: str | Path, *, seconds: float = 10.0, seed: int = 0) -> dict[ClipFormat, Path]:
    """Write one synthesized clip per :data:`CLIP_FORMATS` entry into ``folder``; returns their paths.

    Each clip is :func:`synthesize`'d from ``(seed, its position)``, so every clip differs and another
    ``seed`` gives other clips. The names (``clip00_16000hz_mono.wav``, ...) hold no YouTube id.
    """
    folder = Path(folder)
    paths = {}
    for number, clip in enumerate(CLIP_FORMATS):
        path = folder / f"clip{number:02d}_{clip.sampling_rate}hz_{_LAYOUTS[clip.channels]}.{clip.format}"
        paths[clip] = write_clip(path, clip, seconds, (seed, number))
    return paths


def write_clip(path: str | Path, clip: ClipFormat, seconds: float, seed: int | Sequence[int]) -> Path:
    """Synthesize ``seconds`` of sound seeded by ``seed`` and write it to ``path`` as ``clip`` says; returns ``path``.

    The same arguments give the same bytes (an Ogg file's random stream serial is replaced by one
    derived from the file name). The file is written under a temporary name and then renamed, so
    hard links to an earlier file of the same name keep their content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    samples = synthesize(clip, seconds, np.random.default_rng(seed))
    soundfile.write(partial, samples, clip.sampling_rate, format=clip.container, subtype=clip.subtype)
    if clip.format == "ogg":
        _fix_ogg_serial(partial, zlib.crc32(path.name.encode("utf-8")))
    os.replace(partial, path)
    return path


def synthesize(clip: ClipFormat, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """``seconds`` of sound as float32 ``(frames, channels)``, peak 0.5.

    A chord with tremolo, background noise and three noise bursts; the channels differ in level and
    phase (at most 10 ms apart). Drawn from ``rng``, so another seed gives another clip.
    """
    frames = max(1, int(round(seconds * clip.sampling_rate)))
    t = np.arange(frames) / clip.sampling_rate
    root = 110.0 * 2 ** (rng.integers(0, 24) / 12)
    chord = sum(np.sin(2 * np.pi * root * 2 ** (step / 12) * t + rng.uniform(0, 2 * np.pi)) for step in (0, 4, 7, 12))
    sound = chord * (0.75 + 0.25 * np.sin(2 * np.pi * rng.uniform(0.5, 4.0) * t)) + rng.normal(0, 0.1, frames)
    for _ in range(3):
        start, length = int(rng.integers(0, frames)), int(0.1 * clip.sampling_rate)
        sound[start : start + length] += rng.normal(0, 0.8, len(sound[start : start + length]))
    sound *= 0.5 / np.max(np.abs(sound))
    gains = np.linspace(1.0, 0.6, clip.channels)
    shifts = [int(rng.integers(0, clip.sampling_rate // 100 + 1)) * c for c in range(clip.channels)]  # <= 10 ms apart
    return np.stack([gain * np.roll(sound, shift) for gain, shift in zip(gains, shifts)], axis=1).astype(np.float32)


def _ogg_crc_table() -> list[int]:
    """CRC-32 lookup table of the Ogg framing (polynomial 0x04C11DB7, MSB first, no reflection)."""
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
        table.append(crc)
    return table


_OGG_CRC_TABLE = _ogg_crc_table()


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC_TABLE[(crc >> 24) ^ byte]
    return crc


def _fix_ogg_serial(path: Path, serial: int) -> None:
    """Replace the random stream serial libsndfile writes into every Ogg page, for identical bytes."""
    data = bytearray(path.read_bytes())
    offset = 0
    while offset < len(data):
        if data[offset : offset + 4] != b"OggS":
            raise ValueError(f"{path}: no Ogg page at byte {offset}")
        segments = data[offset + 26]
        header_size = 27 + segments
        page_size = header_size + sum(data[offset + 27 : offset + header_size])
        data[offset + 14 : offset + 18] = serial.to_bytes(4, "little")
        data[offset + 22 : offset + 26] = bytes(4)
        crc = _ogg_crc(bytes(data[offset : offset + page_size]))
        data[offset + 22 : offset + 26] = crc.to_bytes(4, "little")
        offset += page_size
    path.write_bytes(bytes(data))


def _link_or_copy(source: Path, target: Path) -> bool:
    """Hard-link ``target`` to ``source``, or copy it where the file system refuses; True for a copy."""
    try:
        os.link(source, target)
        return False
    except FileExistsError:
        raise
    except OSError:  # another file system, no hard links (some network or FAT mounts), too many links
        shutil.copyfile(source, target)
        return True


def _release_youtube_ids(release_paths: Mapping[str, Mapping[str, str | Path]]) -> dict[str, list[str]]:
    """The distinct YouTube ids of each config, in release order, read with the loader's own parser."""
    unknown = set(release_paths) - set(_AUDIO_ORDER)
    if unknown:
        raise ValueError(
            f"unknown config(s) {', '.join(sorted(unknown))} in release_paths; expected {', '.join(_AUDIO_ORDER)}"
        )
    ids = {}
    for config in (c for c in _AUDIO_ORDER if c in release_paths):
        rules = SUBSETS[config].rules
        distinct: dict[str, None] = {}
        for path in release_paths[config].values():
            for record in read_release_file(path, rules):
                distinct.update(dict.fromkeys(record.youtube_ids))
        ids[config] = list(distinct)
    return ids


def _parse_size(text: str) -> tuple[str, str, int]:
    """``"audioset_dialogues/train=76642"`` -> ``("audioset_dialogues", "train", 76642)``."""
    try:
        name, count = text.split("=")
        config, split = name.split("/")
        return config, split, int(count)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"expected CONFIG/SPLIT=COUNT, e.g. music_dialogues/test=1641, not {text!r}"
        ) from err


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Write a synthetic Audio Dialogues release, and optionally an audio folder for it."
    )
    parser.add_argument("out", type=Path, help="release root to write <config>/<split>.<fmt> under")
    parser.add_argument(
        "--size",
        type=_parse_size,
        action="append",
        required=True,
        metavar="CONFIG/SPLIT=COUNT",
        help="records of one file; repeat for several files",
    )
    parser.add_argument("--fmt", choices=FORMATS, default="json")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--audio-dir",
        type=Path,
        metavar="DIR",
        help="also write clips for the release's ids here (hard links into DIR.pool); needs --audio-files",
    )
    parser.add_argument("--audio-files", type=int, metavar="N", help="how many audio files to write into --audio-dir")
    parser.add_argument(
        "--missing", type=float, default=0.15, help="fraction of ids left without a file (default 0.15)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each clip (default 10)")
    args = parser.parse_args(argv)
    if (args.audio_dir is None) != (args.audio_files is None):
        parser.error("--audio-dir and --audio-files go together")
    sizes: dict[str, dict[str, int]] = {}
    for config, split, count in args.size:
        sizes.setdefault(config, {})[split] = count
    try:
        paths = write_release(args.out, sizes, fmt=args.fmt, seed=args.seed, gzip=args.gzip)
        for config, splits in paths.items():
            for split, path in splits.items():
                print(f"{config}/{split}: {sizes[config][split]} records -> {path}")
        if args.audio_dir is not None:
            summary = write_audio(
                args.audio_dir, paths, args.audio_files, missing=args.missing, seed=args.seed, seconds=args.seconds
            )
            print(summary.describe())
    except (ValueError, FileExistsError) as err:
        parser.error(str(err))


if __name__ == "__main__":
    main()
