"""Writing a synthetic release of any size, in the real layout, for tests and benchmarks.

    write_release(tmp_path, {"music_dialogues": {"train": 100, "test": 20}}, fmt="jsonl", gzip=True)
    # -> {"music_dialogues": {"train": tmp_path/"music_dialogues/train.jsonl.gz", "test": ...}}

    python -m audio_dialogues_support.synthetic OUT --size audioset_dialogues/train=76642 [--fmt jsonl] [--gzip]

Records have the schema of the real files (see :mod:`.release`): random valid 11-character YouTube
ids (``Y<id>.wav`` for the AudioSet configs, ``<id>.wav`` for Music Dialogues) and short template
texts. Turns and audios per record follow the paper's statistics: 1-4 turns with mean 2.21
(AudioSet Dialogues) and 1.67 (Music Dialogues); comparisons have one turn and 2-4 audios, mean 3.00.
The same seed gives the same bytes; each file has its own random stream, so changing one size leaves
the other files unchanged. No audio is written.
"""

from __future__ import annotations

import argparse
import base64
import gzip as gzip_module
import io
import json
import random
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

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
        "source": ("a dog", "a car engine", "rain", "a crowd", "a man", "a woman", "birds", "a siren", "a door",
                   "the wind", "a train", "a baby", "running water", "a telephone", "footsteps", "a café crowd"),
        "action": ("barking", "idling", "falling steadily", "cheering", "speaking", "laughing", "chirping",
                   "wailing", "slamming", "howling", "passing by", "crying", "splashing", "ringing", "echoing"),
        "place": ("outdoors", "in a small room", "on a busy street", "in a park", "inside a vehicle", "in a hall"),
    },
    "music": {
        "source": ("a piano", "an acoustic guitar", "a violin", "drums", "a synthesizer", "a male vocalist",
                   "a female vocalist", "a bass guitar", "a choir", "a saxophone", "a flute", "an organ"),
        "action": ("calm", "energetic", "melancholic", "upbeat", "dreamy", "tense", "playful", "solemn"),
        "place": ("jazz", "rock", "folk", "ambient", "hip hop", "classical", "reggae", "electronic"),
    },
}
_QUESTIONS = {
    "sounds": ("What is making the sound?", "What can you hear in the background?", "Is anyone speaking?",
               "Where might this have been recorded?", "How does the sound change over time?",
               "Is {source} close to the microphone?", "What happens after {source} is heard?"),
    "music": ("What instruments can you hear?", "What is the genre of this piece?", "Describe the mood of the music.",
              "What is the tempo like?", "Which instrument plays the melody?", "Could this be used in a film?"),
}
_ANSWERS = {
    "sounds": ("{Source} is {action}.", "{Source} is {action} {place}.", "It sounds like {source} {action} {place}.",
               "At first {source} is {action}, then {other} takes over.", "Mostly {source}, with {other} in the background."),
    "music": ("{Source} plays the melody while {other} keeps the rhythm.", "It is a {action} {place} piece.",
              "The mood is {action}, carried by {source}.", "Yes, {source} and {other} would suit a {action} scene.",
              "It sounds like {place} music led by {source}."),
}
_COMPARISON_QUESTIONS = ("Compare {audios}.", "What do {audios} have in common?", "Which of {audios} is the loudest?",
                         "How do {audios} differ?")


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
        binary = gzip_module.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) if compress else raw
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
    return _dialogue_records(shape, count, rng) if shape.audio_weights is None else _comparison_records(shape, count, rng)


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


def _parse_size(text: str) -> tuple[str, str, int]:
    """``"audioset_dialogues/train=76642"`` -> ``("audioset_dialogues", "train", 76642)``."""
    try:
        name, count = text.split("=")
        config, split = name.split("/")
        return config, split, int(count)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected CONFIG/SPLIT=COUNT, e.g. music_dialogues/test=1641, not {text!r}") from err


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic Audio Dialogues release (no audio).")
    parser.add_argument("out", type=Path, help="release root to write <config>/<split>.<fmt> under")
    parser.add_argument("--size", type=_parse_size, action="append", required=True, metavar="CONFIG/SPLIT=COUNT",
                        help="records of one file; repeat for several files")
    parser.add_argument("--fmt", choices=FORMATS, default="json")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes: dict[str, dict[str, int]] = {}
    for config, split, count in args.size:
        sizes.setdefault(config, {})[split] = count
    try:
        paths = write_release(args.out, sizes, fmt=args.fmt, seed=args.seed, gzip=args.gzip)
    except ValueError as err:
        parser.error(str(err))
    for config, splits in paths.items():
        for split, path in splits.items():
            print(f"{config}/{split}: {sizes[config][split]} records -> {path}")


if __name__ == "__main__":
    main()
