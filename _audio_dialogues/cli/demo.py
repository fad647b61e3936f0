"""``audio-dialogues demo``: load every config (default: the bundled sample) and describe it."""

from __future__ import annotations

import collections
from typing import Sequence

from ..core.subsets import CONFIGS
from .flags import LoadFlags


def add_cli(commands, flags: LoadFlags) -> None:
    demo_parser = commands.add_parser(
        "demo", parents=flags.all, help="load every config (default: the bundled sample) and describe it"
    )
    demo_parser.add_argument("--config", action="append", choices=CONFIGS, help="only this config (repeatable)")
    demo_parser.set_defaults(run=lambda args, kw: demo(args.config or CONFIGS, **kw))


def demo(configs: Sequence[str] = CONFIGS, **load_kwargs) -> None:
    """Load each config through the public API and print what a user first wants to see."""
    from ..loading.load import load_dataset

    for config in configs:
        dataset_dict = load_dataset(config, **load_kwargs)
        for split, ds in dataset_dict.items():
            print(f"\n=== {config} / {split} ===")
            print(describe_split(ds))
    if "data_dir" not in load_kwargs and "data_files" not in load_kwargs:
        print(SAMPLE_NOTE)


SAMPLE_NOTE = """
This was the bundled sample: a few dialogues per config written for the tests, and its clips are
synthesized tones and noise, unrelated to the text. The Audio Dialogues text itself was never
published: make it with a chat model, then fetch the clips it talks about (see the README):
  audio-dialogues generate release --config music_dialogues --max-requests 10
  audio-dialogues download clips --config music_dialogues --data-dir release"""


def describe_split(ds) -> str:
    """Dialogues, turn histogram, audio found/missing, one dialogue as a transcript, the first clip."""
    audio_column = "audios" if "audios" in ds.column_names else "audio"
    stored = ds.data.column(audio_column).to_pylist()  # undecoded: no file is read for the counts
    has_audio = [
        all(v is not None for v in value) if isinstance(value, list) else value is not None for value in stored
    ]
    turns = collections.Counter(ds["num_turns"])
    lines = [
        f"dialogues: {len(ds)}",
        "turns: " + ", ".join(f"{n} turn{'s' if n > 1 else ''}: {turns[n]}" for n in sorted(turns)),
        f"audio: found for {sum(has_audio)}, missing for {len(ds) - sum(has_audio)}",
    ]
    if len(ds):
        example = ds.remove_columns(audio_column)[0]  # the transcript needs no audio decoded
        lines.append(f"example {example['id']} ({', '.join(example.get('audio_ids') or [example.get('audio_id')])}):")
        for turn in example["dialogue"]:
            lines += [f"  user:      {turn['user']}", f"  assistant: {turn['assistant']}"]
    if any(has_audio):
        first = ds[has_audio.index(True)]
        audio = first["audios"][0] if audio_column == "audios" else first["audio"]
        if audio is not None:
            duration = len(audio["array"]) / audio["sampling_rate"]
            lines.append(
                f"first clip: {audio['path']}: {duration:.2f} s at {audio['sampling_rate']} Hz (decoded, mono float32)"
            )
    return "\n".join(lines)
