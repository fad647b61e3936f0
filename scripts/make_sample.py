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

The MusicCaps rows are read by the package (``_audio_dialogues.core.musiccaps.read_musiccaps``); the clips
are synthesized, written and named by ``tests/synthetic.py`` (``write_clip``, ``audio_file_name``),
the same code that writes the tests' and benchmarks' audio folders.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parent.parent
# This checkout's package, and the clip writer beside the tests (tests/synthetic.py).
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests")]

from synthetic import ClipFormat, audio_file_name, write_clip  # noqa: E402

from _audio_dialogues.core.musiccaps import MusicCapsClip as Clip  # noqa: E402
from _audio_dialogues.core.musiccaps import read_musiccaps  # noqa: E402

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
CLIP_SECONDS = (0.5, 1.0)  # each clip's length is drawn from this range: short, so the shipped sample stays small


@dataclass(frozen=True)
class AudioVariant:
    """How one synthesized clip is stored: its file-name form (a key of ``synthetic.NAME_FORMS``) and format."""

    form: str
    clip: ClipFormat


# Cycled over each folder's clips, so train and test each get every form. Every naming form the
# loader resolves appears: Y<id>.ext, <id>.ext, <id>_<start ms>.ext, <id>_<start s>_<end s>.ext.
AUDIOSET_VARIANTS = (
    AudioVariant("audioset", ClipFormat("wav", 16000, 1)),
    AudioVariant("start_ms", ClipFormat("wav", 16000, 1)),
    AudioVariant("audioset", ClipFormat("wav", 16000, 1)),
    AudioVariant("start_end_whole", ClipFormat("flac", 16000, 1)),
    AudioVariant("audioset", ClipFormat("ogg", 22050, 1)),
    AudioVariant("audioset", ClipFormat("wav", 16000, 2)),
    AudioVariant("audioset", ClipFormat("wav", 16000, 1)),
    AudioVariant("start_ms", ClipFormat("wav", 16000, 1, "PCM_24")),  # not FLOAT: its PEAK chunk holds a timestamp
)
MUSICCAPS_VARIANTS = (
    AudioVariant("bare", ClipFormat("wav", 16000, 1)),
    AudioVariant("start_end", ClipFormat("flac", 44100, 2)),
    AudioVariant("bare", ClipFormat("wav", 16000, 1)),
    AudioVariant("bare", ClipFormat("mp3", 48000, 1)),
    AudioVariant("start_ms", ClipFormat("wav", 22050, 1)),
)

# Question wordings per dialogue slot; the answers come from the caption and aspects.
QUESTIONS = {
    "audioset_dialogues": {
        "describe": (
            "What is happening in this audio clip?",
            "Can you describe what you hear?",
            "What does this clip contain?",
        ),
        "elements": (
            "Which sounds stand out?",
            "What are the main sound sources?",
            "What can be heard in the foreground?",
        ),
        "details": ("Tell me more about it.", "What else happens in the clip?", "Anything else worth noting?"),
        "character": ("How would you characterise the sound?", "What is the overall feel of the clip?"),
    },
    "music_dialogues": {
        "describe": (
            "Describe this piece of music.",
            "What kind of music is this?",
            "Can you describe this recording?",
        ),
        "elements": (
            "What instruments can you hear?",
            "Which instruments and voices are in it?",
            "What is the instrumentation?",
        ),
        "details": (
            "What else can you tell me about the song?",
            "How is the music arranged?",
            "Tell me more about it.",
        ),
        "character": ("Describe the mood of this recording.", "What genre and mood does it suggest?"),
    },
}
# Aspects containing one of these words name what makes the sound (else the first aspects are used).
SOUND_SOURCE_WORDS = (
    "guitar",
    "piano",
    "drum",
    "bass",
    "vocal",
    "voice",
    "singer",
    "string",
    "synth",
    "percussion",
    "violin",
    "cello",
    "horn",
    "trumpet",
    "sax",
    "flute",
    "organ",
    "keyboard",
    "choir",
    "harp",
    "beat",
)
COMPARISON_QUESTIONS = (
    "Compare {audios}. How do they differ?",
    "What does each of {audios} contain, and what do they share?",
    "Listen to {audios}. Describe each one briefly.",
)


def musiccaps_clips(csv_path: str | Path) -> list[Clip]:
    """All MusicCaps rows (read by the package), sorted by YouTube id, caption and aspects stripped of blanks."""
    clips = [
        dataclasses.replace(
            clip, caption=clip.caption.strip(), aspects=tuple(a.strip() for a in clip.aspects if a.strip())
        )
        for clip in read_musiccaps(csv_path).values()
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


def clip_seconds(ytid: str) -> float:
    """The length of the clip of ``ytid``, drawn from :data:`CLIP_SECONDS` (seeded by the id)."""
    return round(random.Random(f"{SEED}/{ytid}").uniform(*CLIP_SECONDS), 3)


def write_sample_clip(audio_dir: Path, folder: str, clip: Clip, variant: AudioVariant) -> str:
    """Synthesize and write one clip; returns its path relative to ``audio_dir`` (POSIX)."""
    name = audio_file_name(variant.form, clip.ytid, variant.clip.format, clip.start_s, clip.end_s)
    write_clip(audio_dir / folder / name, variant.clip, clip_seconds(clip.ytid), zlib.crc32(clip.ytid.encode("utf-8")))
    return f"{folder}/{name}"


def write_audio_folder(
    audio_dir: Path, folder: str, clips: Iterable[Clip], variants: Sequence[AudioVariant]
) -> dict[str, str]:
    """Write ``clips`` into ``audio_dir/folder`` cycling through ``variants``; returns file -> YouTube id.

    A variant this soundfile cannot write falls back to the folder's first variant, with a note.
    """
    written = {}
    for position, clip in enumerate(clips):
        variant = variants[position % len(variants)]
        if not variant.clip.writable():
            print(
                f"note: soundfile cannot write {variant.clip} here; "
                f"{clip.ytid} is written as {variants[0].clip} instead"
            )
            variant = dataclasses.replace(variant, clip=variants[0].clip)
        written[write_sample_clip(audio_dir, folder, clip, variant)] = clip.ytid
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


def build_records(
    plan: dict[str, dict[str, SplitClips]], rng: random.Random
) -> dict[str, dict[str, list[dict[str, Any]]]]:
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


# data/sample is installed as the package _audio_dialogues.sample (setup.cfg), so it needs an __init__.py.
PACKAGE_INIT = '''"""Package data: the bundled sample release and its clips (read with importlib.resources)."""\n'''


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
    plan = plan_clips(musiccaps_clips(csv_path), rng)
    records = build_records(plan, rng)

    _remove_previous_sample(out)
    split_files = {
        config: {split: write_split(out, config, split, records[config][split]) for split in SPLITS}
        for config in records
    }
    audio_files: dict[str, str] = {}
    folders = (("audioset", "audioset", AUDIOSET_VARIANTS), ("music", "musiccaps", MUSICCAPS_VARIANTS))
    for source, folder, variants in folders:
        clips = [clip for split in SPLITS for clip in plan[source][split].with_audio()]
        audio_files.update(write_audio_folder(out / "audio", folder, clips, variants))
    manifest = build_manifest(out, records, split_files, audio_files)
    _write_json(out / "manifest.json", manifest)
    (out / "README.md").write_text(README, encoding="utf-8", newline="\n")
    (out / "__init__.py").write_text(PACKAGE_INIT, encoding="utf-8", newline="\n")
    return manifest


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"sample folder to (re)write (default: {DEFAULT_OUT})"
    )
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help=f"MusicCaps CSV (default: {DEFAULT_CSV})")
    args = parser.parse_args(argv)
    manifest = make_sample(args.out, args.csv)
    missing = sum(len(ids) for splits in manifest["missing_youtube_ids"].values() for ids in splits.values())
    records = sum(n for splits in manifest["records"].values() for n in splits.values())
    print(
        f"wrote {records} records and {len(manifest['audio_files'])} audio files to {args.out} "
        f"({missing} ids left without audio)"
    )


if __name__ == "__main__":
    main()
