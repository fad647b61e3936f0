"""Write the bundled sample release in ``data/sample/`` (deterministic: two runs give identical bytes).

    python scripts/make_sample.py [--out data/sample] [--csv data/metadata/musiccaps-public.csv]

The sample has the layout of a real release, 12 records per split of each of the three configs,
so that every load path can be tried without downloading anything:

    data/sample/
      audioset_dialogues/train.json   test.jsonl       (JSON Lines, so both formats are exercised)
      music_dialogues/train.json      test.json
      audioset_comparison/train.json  test.json
      audio/audioset/*  audio/musiccaps/*            (synthesized clips, named like downloads)
      manifest.json                                  (what a correct loader must find)
      README.md

The records use real YouTube ids and real captions from MusicCaps (``data/metadata/``, CC BY-SA 4.0):
Music Dialogues draws on clips that are not AudioSet clips, the two AudioSet configs on the MusicCaps
clips that are (``is_audioset_eval``). The dialogue text is built from each clip's caption and aspect
list by templates. The audio is synthesized (chords and noise bursts, different for every clip), in
every file-name form and several formats, rates and channel counts; a few ids have no audio file at
all, as in a real download. ``manifest.json`` is computed from what was written.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import random
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "data" / "sample"
DEFAULT_CSV = REPO_ROOT / "data" / "metadata" / "musiccaps-public.csv"

SEED = 240407616
SPLITS = ("train", "test")
RECORDS_PER_SPLIT = 12
JSON_LINES_SPLITS = {("audioset_dialogues", "test")}

# Turns per record, in record order: all of 1-4 in each split, means near the paper's 2.21 / 1.67.
DIALOGUE_TURNS = {
    "audioset_dialogues": (1, 2, 3, 4, 2, 1, 3, 2, 2, 1, 4, 2),
    "music_dialogues": (1, 2, 3, 4, 1, 1, 2, 1, 2, 1, 1, 1),
}
# Audios per comparison record: all of 2-4, mean 3.00 as in the paper.
COMPARISON_AUDIO_COUNTS = (2, 3, 4, 3, 2, 4, 3, 3, 2, 4, 3, 3)
COMPARISON_ONLY_CLIPS = 8  # AudioSet clips used by comparisons but not by audioset_dialogues, per split

# Positions (in a split's clip list) of the clips that get no audio file, like a failed download.
MISSING_DIALOGUE_CLIPS = (4, 9)
MISSING_COMPARISON_CLIPS = (2, 5)
# Comparison records that each include one of the missing clips as their last audio.
COMPARISON_RECORDS_WITH_MISSING_AUDIO = (1, 6)

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3"}
CHORDS = ((0, 4, 7), (0, 3, 7), (0, 5, 9), (0, 7), (0, 4, 7, 11))  # semitones above the root


@dataclass(frozen=True)
class Clip:
    """One row of ``musiccaps-public.csv``."""

    ytid: str
    start_s: int
    end_s: int
    caption: str
    aspects: tuple[str, ...]
    is_audioset_eval: bool


@dataclass(frozen=True)
class AudioVariant:
    """How one synthesized clip is stored: file-name form, container, encoding, rate, channels."""

    name: str  # str.format template over ytid, start_ms, start, end
    format: str
    subtype: str
    sampling_rate: int
    channels: int = 1


# Cycled over each folder's clips, so train and test each get every form. Every naming form the
# loader resolves appears: Y<id>.ext, <id>.ext, <id>_<start ms>.ext, <id>_<start s>_<end s>.ext.
AUDIOSET_VARIANTS = (
    AudioVariant("Y{ytid}.wav", "WAV", "PCM_16", 16000),
    AudioVariant("{ytid}_{start_ms}.wav", "WAV", "PCM_16", 16000),
    AudioVariant("Y{ytid}.wav", "WAV", "PCM_16", 16000),
    AudioVariant("{ytid}_{start}_{end}.flac", "FLAC", "PCM_16", 16000),
    AudioVariant("Y{ytid}.ogg", "OGG", "VORBIS", 22050),
    AudioVariant("Y{ytid}.wav", "WAV", "PCM_16", 16000, channels=2),
    AudioVariant("Y{ytid}.wav", "WAV", "PCM_16", 16000),
    AudioVariant("{ytid}_{start_ms}.wav", "WAV", "PCM_24", 16000),  # not FLOAT: its PEAK chunk holds a timestamp
)
MUSICCAPS_VARIANTS = (
    AudioVariant("{ytid}.wav", "WAV", "PCM_16", 16000),
    AudioVariant("{ytid}_{start:.3f}_{end:.3f}.flac", "FLAC", "PCM_16", 44100, channels=2),
    AudioVariant("{ytid}.wav", "WAV", "PCM_16", 16000),
    AudioVariant("{ytid}.mp3", "MP3", "MPEG_LAYER_III", 48000),
    AudioVariant("{ytid}_{start_ms}.wav", "WAV", "PCM_16", 22050),
)

# Question wordings per dialogue slot; the answers come from the caption and aspects.
QUESTIONS = {
    "audioset_dialogues": {
        "describe": ("What is happening in this audio clip?", "Can you describe what you hear?", "What does this clip contain?"),
        "elements": ("Which sounds stand out?", "What are the main sound sources?", "What can be heard in the foreground?"),
        "details": ("Tell me more about it.", "What else happens in the clip?", "Anything else worth noting?"),
        "character": ("How would you characterise the sound?", "What is the overall feel of the clip?"),
    },
    "music_dialogues": {
        "describe": ("Describe this piece of music.", "What kind of music is this?", "Can you describe this recording?"),
        "elements": ("What instruments can you hear?", "Which instruments and voices are in it?", "What is the instrumentation?"),
        "details": ("What else can you tell me about the song?", "How is the music arranged?", "Tell me more about it."),
        "character": ("Describe the mood of this recording.", "What genre and mood does it suggest?"),
    },
}
# Aspects containing one of these words name what makes the sound (else the first aspects are used).
SOUND_SOURCE_WORDS = ("guitar", "piano", "drum", "bass", "vocal", "voice", "singer", "string", "synth", "percussion",
                      "violin", "cello", "horn", "trumpet", "sax", "flute", "organ", "keyboard", "choir", "harp", "beat")
COMPARISON_QUESTIONS = (
    "Compare {audios}. How do they differ?",
    "What does each of {audios} contain, and what do they share?",
    "Listen to {audios}. Describe each one briefly.",
)


def read_musiccaps(csv_path: str | Path) -> list[Clip]:
    """All MusicCaps rows, sorted by YouTube id.

    A row (``aspect_list`` is a Python list literal)::

        -0Gj8-vB1q4,30,40,"/m/0140xf,...","['low quality', 'sustained strings melody']","The low quality ...",4,False,True
    """
    with open(csv_path, newline="", encoding="utf-8") as handle:
        clips = [
            Clip(
                ytid=row["ytid"],
                start_s=int(row["start_s"]),
                end_s=int(row["end_s"]),
                caption=row["caption"].strip(),
                aspects=tuple(a.strip() for a in ast.literal_eval(row["aspect_list"]) if a.strip()),
                is_audioset_eval=row["is_audioset_eval"] == "True",
            )
            for row in csv.DictReader(handle)
        ]
    return sorted(clips, key=lambda clip: clip.ytid)


def pick_clips(
    clips: Sequence[Clip], count: int, rng: random.Random, first: Sequence[Callable[[Clip], bool]] = ()
) -> list[Clip]:
    """``count`` distinct clips: for each predicate in ``first`` the first clip matching it, then random ones."""
    chosen = [next(clip for clip in clips if wanted(clip)) for wanted in first]
    rest = [clip for clip in clips if clip not in chosen]
    return chosen + rng.sample(rest, count - len(chosen))


def _starts_with_y(clip: Clip) -> bool:
    """An id that itself starts with "Y": ``YY<...>.wav`` and ``Y<...>.wav`` must not be confused."""
    return clip.ytid.startswith("Y")


def _has_underscore(clip: Clip) -> bool:
    """An id containing "_": ``<id>_<start>`` must be split after the 11th character."""
    return "_" in clip.ytid


# --- dialogue text -------------------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    """Split a caption into sentences (captions sometimes omit the space after a full stop)."""
    parts = re.split(r"(?<=[.!?])\s*(?=[A-Z])", text.strip())
    return [part.strip() for part in parts if part.strip()]


def _join(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _answers(clip: Clip) -> dict[str, str]:
    """One answer per question slot, each a non-empty sentence taken from the caption or aspects."""
    sentences = _sentences(clip.caption)
    sources = [a for a in clip.aspects if any(word in a for word in SOUND_SOURCE_WORDS)][:3] or clip.aspects[:3]
    character = [a for a in clip.aspects if a not in sources][:3] or clip.aspects[:3]
    details = " ".join(sentences[1:3]) or f"It is a {clip.end_s - clip.start_s}-second excerpt."
    return {
        "describe": sentences[0],
        "elements": f"You can hear {_join(sources)}.",
        "details": details,
        "character": f"It comes across as {_join(character)}.",
    }


def dialogue_record(config: str, clip: Clip, turns: int, rng: random.Random) -> dict[str, Any]:
    """A single-audio record with ``turns`` question/answer pairs about ``clip``."""
    questions = QUESTIONS[config]
    answers = _answers(clip)
    slots = list(questions)[:turns]
    audio_id = f"{clip.ytid}.wav" if config == "music_dialogues" else f"Y{clip.ytid}.wav"
    return {
        "audio_id": audio_id,
        "dialogue": [{"user": rng.choice(questions[slot]), "assistant": answers[slot]} for slot in slots],
    }


def comparison_record(clips: Sequence[Clip], rng: random.Random) -> dict[str, Any]:
    """A one-turn record comparing ``clips``, referred to as "Audio 1", "Audio 2", ..."""
    labels = [f"Audio {number}" for number in range(1, len(clips) + 1)]
    question = rng.choice(COMPARISON_QUESTIONS).format(audios=_join(labels))
    described = [f"{label} features {_join(clip.aspects[:2])}" for label, clip in zip(labels, clips)]
    shared = sorted(set.intersection(*(set(clip.aspects) for clip in clips)))
    together = "Both" if len(clips) == 2 else "All of them"
    closing = f"{together} share {_join(shared)}." if shared else "They have no listed aspect in common."
    return {
        "audio_ids": [f"Y{clip.ytid}.wav" for clip in clips],
        "dialogue": [{"user": question, "assistant": f"{'; '.join(described)}. {closing}"}],
    }


# --- audio ---------------------------------------------------------------------------------------


def synthesize(ytid: str, sampling_rate: int, channels: int) -> np.ndarray:
    """0.5-1.0 s of a chord plus noise bursts, with fades; seeded by the id so every clip differs.

    Returns float32 of shape ``(frames,)`` for mono or ``(frames, channels)``; peak at most 0.45 (0.5 after lossy coding).
    """
    rng = np.random.default_rng(zlib.crc32(ytid.encode("utf-8")))
    frames = int(round(rng.uniform(0.5, 1.0) * sampling_rate))
    t = np.arange(frames) / sampling_rate
    root = 110.0 * 2 ** (rng.integers(0, 30) / 12)
    intervals = CHORDS[rng.integers(len(CHORDS))]
    tone = sum(np.sin(2 * np.pi * root * 2 ** (i / 12) * t + rng.uniform(0, 2 * np.pi)) for i in intervals)
    for _ in range(rng.integers(0, 3)):
        start = rng.integers(0, frames // 2)
        length = int(0.05 * sampling_rate)
        tone[start : start + length] += rng.normal(0, 0.5, size=len(tone[start : start + length]))
    fade = min(int(0.02 * sampling_rate), frames // 2)
    envelope = np.ones(frames)
    envelope[:fade] = np.linspace(0, 1, fade)
    envelope[frames - fade :] = np.linspace(1, 0, fade)
    mono = tone * envelope
    mono *= rng.uniform(0.25, 0.45) / np.max(np.abs(mono))  # headroom: lossy codecs overshoot a little
    if channels == 1:
        return mono.astype(np.float32)
    gains = np.linspace(1.0, 0.4, channels)  # a different level per channel
    return (mono[:, None] * gains[None, :]).astype(np.float32)


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


def write_clip(audio_dir: Path, folder: str, clip: Clip, variant: AudioVariant) -> str:
    """Synthesize and write one clip; returns its path relative to ``audio_dir`` (POSIX)."""
    name = variant.name.format(ytid=clip.ytid, start_ms=clip.start_s * 1000, start=clip.start_s, end=clip.end_s)
    path = audio_dir / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = synthesize(clip.ytid, variant.sampling_rate, variant.channels)
    sf.write(path, samples, variant.sampling_rate, format=variant.format, subtype=variant.subtype)
    if variant.format == "OGG":
        _fix_ogg_serial(path, zlib.crc32(name.encode("utf-8")))
    return f"{folder}/{name}"


def writable(variant: AudioVariant) -> bool:
    """Whether this soundfile/libsndfile build can write the variant's format and encoding."""
    return variant.format in sf.available_formats() and variant.subtype in sf.available_subtypes(variant.format)


def write_audio_folder(
    audio_dir: Path, folder: str, clips: Iterable[Clip], variants: Sequence[AudioVariant]
) -> dict[str, str]:
    """Write ``clips`` into ``audio_dir/folder`` cycling through ``variants``; returns file -> YouTube id.

    A variant this soundfile cannot write falls back to the folder's first variant, with a note.
    """
    written = {}
    for position, clip in enumerate(clips):
        variant = variants[position % len(variants)]
        if not writable(variant):
            print(f"note: soundfile cannot write {variant.format}/{variant.subtype} here; "
                  f"{clip.ytid} is written as {variants[0].format} instead")
            variant = variants[0]
        written[write_clip(audio_dir, folder, clip, variant)] = clip.ytid
    return written


# --- the sample ----------------------------------------------------------------------------------


@dataclass
class SplitClips:
    """The clips of one split: those the records use, and which of them get an audio file."""

    dialogue: list[Clip]  # one per record of the config's dialogue file
    comparison_only: list[Clip]  # AudioSet only: extra clips for the comparison records

    def missing_comparison_only(self) -> list[Clip]:
        """The comparison-only clips left without an audio file."""
        return [self.comparison_only[i] for i in MISSING_COMPARISON_CLIPS] if self.comparison_only else []

    def with_audio(self) -> list[Clip]:
        """The clips that get an audio file, in order."""
        missing = {self.dialogue[i] for i in MISSING_DIALOGUE_CLIPS} | set(self.missing_comparison_only())
        return [clip for clip in self.dialogue + self.comparison_only if clip not in missing]


def plan_clips(clips: Sequence[Clip], rng: random.Random) -> dict[str, dict[str, SplitClips]]:
    """Which MusicCaps clips each split of the AudioSet configs ("audioset") and Music Dialogues ("music") uses."""
    per_split = RECORDS_PER_SPLIT + COMPARISON_ONLY_CLIPS
    edge_cases = (_starts_with_y, _has_underscore)
    audioset = pick_clips([c for c in clips if c.is_audioset_eval], 2 * per_split, rng, first=edge_cases)
    music = pick_clips([c for c in clips if not c.is_audioset_eval], 2 * RECORDS_PER_SPLIT, rng, first=edge_cases)
    plan: dict[str, dict[str, SplitClips]] = {"audioset": {}, "music": {}}
    for number, split in enumerate(SPLITS):
        part = audioset[number * per_split : (number + 1) * per_split]
        plan["audioset"][split] = SplitClips(part[:RECORDS_PER_SPLIT], part[RECORDS_PER_SPLIT:])
        part = music[number * RECORDS_PER_SPLIT : (number + 1) * RECORDS_PER_SPLIT]
        plan["music"][split] = SplitClips(part, [])
    return plan


def comparison_records(split_clips: SplitClips, rng: random.Random) -> list[dict[str, Any]]:
    """The comparison records of one split; a few end with a clip that has no audio file."""
    available = split_clips.with_audio()
    missing = split_clips.missing_comparison_only()
    records = []
    for number, count in enumerate(COMPARISON_AUDIO_COUNTS):
        chosen = rng.sample(available, count)
        if number in COMPARISON_RECORDS_WITH_MISSING_AUDIO:
            chosen[-1] = missing[COMPARISON_RECORDS_WITH_MISSING_AUDIO.index(number)]
        records.append(comparison_record(chosen, rng))
    return records


def build_records(plan: dict[str, dict[str, SplitClips]], rng: random.Random) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """All records: ``{config: {split: [record, ...]}}``."""
    records: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for config, source in (("audioset_dialogues", "audioset"), ("music_dialogues", "music")):
        records[config] = {
            split: [
                dialogue_record(config, clip, turns, rng)
                for clip, turns in zip(plan[source][split].dialogue, DIALOGUE_TURNS[config])
            ]
            for split in SPLITS
        }
    records["audioset_comparison"] = {split: comparison_records(plan["audioset"][split], rng) for split in SPLITS}
    return records


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8", newline="\n")


def write_split(out: Path, config: str, split: str, records: list[dict[str, Any]]) -> Path:
    """Write one release file, ``<config>/<split>.json`` (array) or ``.jsonl`` (one record a line)."""
    if (config, split) in JSON_LINES_SPLITS:
        path = out / config / f"{split}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
        path.write_text(lines, encoding="utf-8", newline="\n")
    else:
        path = out / config / f"{split}.json"
        _write_json(path, records)
    return path


def _missing_youtube_ids(records: list[dict[str, Any]], with_audio: set[str]) -> list[str]:
    """The sorted YouTube ids ``records`` refer to that have no audio file (ids are the stems' last 11 characters)."""
    audio_ids = [audio_id for record in records for audio_id in record.get("audio_ids") or [record["audio_id"]]]
    return sorted({Path(audio_id).stem[-11:] for audio_id in audio_ids} - with_audio)


def build_manifest(
    out: Path,
    records: dict[str, dict[str, list[dict[str, Any]]]],
    split_files: dict[str, dict[str, Path]],
    audio_files: dict[str, str],
) -> dict[str, Any]:
    """What a loader must find in the sample, computed from the files just written."""
    with_audio = set(audio_files.values())
    audio_dir = out / "audio"
    files = {}
    for name in sorted(audio_files):
        info = sf.info(audio_dir / name)
        files[name] = {
            "youtube_id": audio_files[name],
            "sampling_rate": info.samplerate,
            "channels": info.channels,
            "frames": info.frames,
            "format": info.format,
        }
    return {
        "records": {config: {split: len(records[config][split]) for split in SPLITS} for config in records},
        "split_files": {
            config: {split: path.relative_to(out).as_posix() for split, path in paths.items()}
            for config, paths in split_files.items()
        },
        "missing_youtube_ids": {
            config: {split: _missing_youtube_ids(records[config][split], with_audio) for split in SPLITS}
            for config in records
        },
        "audio_files": files,
    }


README = """\
# Bundled sample of the Audio Dialogues release

A small release in the real layout, for trying the loader without downloading anything: 12 records
per split of each config (`audioset_dialogues/test` is JSON Lines, the other files JSON arrays), and
synthesized clips under `audio/` named as download tools name them.

- The YouTube ids, clip times and the text come from MusicCaps (`data/metadata/musiccaps-public.csv`,
  CC BY-SA 4.0, see `data/metadata/LICENSE.md`); the dialogues are built from its captions and
  aspect lists by templates, so this text is CC BY-SA 4.0 as well. It is not the real dataset's text.
- The audio is synthesized (chords and noise bursts), not the real YouTube clips. Some ids have no
  audio file on purpose, so a load reports missing audio.
- `manifest.json` lists the record counts, the ids without audio and every clip's rate, channels,
  frames and format; tests compare the loader's output with it.

Regenerate (deterministic; the files come out byte-identical) with:

    python scripts/make_sample.py
"""


def _remove_previous_sample(out: Path) -> None:
    """Delete the audio and release files of an earlier run, so renamed clips leave nothing behind."""
    audio_dir = out / "audio"
    if audio_dir.is_dir():
        for path in sorted(audio_dir.rglob("*"), reverse=True):
            if path.is_file() and path.suffix in AUDIO_SUFFIXES:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    for config in (*DIALOGUE_TURNS, "audioset_comparison"):
        for split in SPLITS:
            for suffix in (".json", ".jsonl"):
                (out / config / f"{split}{suffix}").unlink(missing_ok=True)


def make_sample(out: str | Path = DEFAULT_OUT, csv_path: str | Path = DEFAULT_CSV) -> dict[str, Any]:
    """(Re)write the sample release under ``out``; returns its manifest."""
    out = Path(out)
    rng = random.Random(SEED)
    plan = plan_clips(read_musiccaps(csv_path), rng)
    records = build_records(plan, rng)

    _remove_previous_sample(out)
    split_files = {
        config: {split: write_split(out, config, split, records[config][split]) for split in SPLITS} for config in records
    }
    audio_files: dict[str, str] = {}
    for source, folder, variants in (("audioset", "audioset", AUDIOSET_VARIANTS), ("music", "musiccaps", MUSICCAPS_VARIANTS)):
        clips = [clip for split in SPLITS for clip in plan[source][split].with_audio()]
        audio_files.update(write_audio_folder(out / "audio", folder, clips, variants))
    manifest = build_manifest(out, records, split_files, audio_files)
    _write_json(out / "manifest.json", manifest)
    (out / "README.md").write_text(README, encoding="utf-8", newline="\n")
    return manifest


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"sample folder to (re)write (default: {DEFAULT_OUT})")
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help=f"MusicCaps CSV (default: {DEFAULT_CSV})")
    args = parser.parse_args(argv)
    manifest = make_sample(args.out, args.csv)
    missing = sum(len(ids) for splits in manifest["missing_youtube_ids"].values() for ids in splits.values())
    records = sum(n for splits in manifest["records"].values() for n in splits.values())
    print(f"wrote {records} records and {len(manifest['audio_files'])} audio files to {args.out} "
          f"({missing} ids left without audio)")


if __name__ == "__main__":
    main()
