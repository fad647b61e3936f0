"""The ``audio-dialogues`` command: a thin layer over the library, one function per subcommand."""

from __future__ import annotations

import argparse
import collections
import sys
from typing import Sequence

from .convert import FORMATS, write_jsonl

CONFIGS = ("audioset_dialogues", "music_dialogues", "audioset_comparison")


def demo(configs: Sequence[str] = CONFIGS, **load_kwargs) -> None:
    """Load each config through the public API and print what a user first wants to see."""
    from audio_dialogues import load_dataset

    for config in configs:
        dataset_dict = load_dataset(config, **load_kwargs)
        for split, ds in dataset_dict.items():
            print(f"\n=== {config} / {split} ===")
            print(describe_split(ds))


def describe_split(ds) -> str:
    """Dialogues, turn histogram, audio found/missing, one dialogue as a transcript, the first clip."""
    audio_column = "audios" if "audios" in ds.column_names else "audio"
    stored = ds.data.column(audio_column).to_pylist()  # undecoded: no file is read for the counts
    has_audio = [all(v is not None for v in value) if isinstance(value, list) else value is not None for value in stored]
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
        duration = len(audio["array"]) / audio["sampling_rate"]
        lines.append(f"first clip: {audio['path']}: {duration:.2f} s at {audio['sampling_rate']} Hz (decoded, mono float32)")
    return "\n".join(lines)


def convert(out: str, format: str, config: str = CONFIGS[0], split: str = "train", **load_kwargs) -> None:
    """Write one split of one config in a chat format (see ``_audio_dialogues.convert``)."""
    from audio_dialogues import load_dataset

    ds = load_dataset(config, split, decode=False, **load_kwargs)  # the paths are written, no audio is read
    counts = write_jsonl(ds, out, format)
    print(f"{config}/{split} -> {out}\n{counts.summary()}")


def export(out_dir: str, configs: Sequence[str] = CONFIGS, push_to_hub: str | None = None, private: bool = False,
           **export_kwargs) -> None:
    """Write configs as Parquet + dataset card (see ``_audio_dialogues.export``), and maybe upload them."""
    from .export import export as export_dataset, push_to_hub as push

    result = export_dataset(out_dir, configs, **export_kwargs)
    print(result.summary())
    if push_to_hub:
        print(f"uploaded to {push(out_dir, push_to_hub, private=True if private else None)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="audio-dialogues", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="load every config (default: the bundled sample) and describe it")
    demo_parser.add_argument("--config", action="append", choices=CONFIGS, help="only this config (repeatable)")
    demo_parser.add_argument("--data-dir", help="the full release instead of the bundled sample")
    demo_parser.add_argument("--audio-dir", action="append", help="folder of downloaded clips (repeatable)")
    demo_parser.add_argument("--sampling-rate", type=int, default=16000)
    demo_parser.add_argument("--cache-dir")
    convert_parser = commands.add_parser("convert", help="write one split in a chat format for training (default: the bundled sample)")
    convert_parser.add_argument("--format", required=True, choices=FORMATS)
    convert_parser.add_argument("out", metavar="OUT.jsonl")
    convert_parser.add_argument("--config", choices=CONFIGS, default=CONFIGS[0])
    convert_parser.add_argument("--split", default="train")
    convert_parser.add_argument("--data-dir", help="the full release instead of the bundled sample")
    convert_parser.add_argument("--audio-dir", action="append", help="folder of downloaded clips (repeatable)")
    convert_parser.add_argument("--verification-mode", choices=("basic_checks", "all_checks", "no_checks"))
    convert_parser.add_argument("--cache-dir")
    export_parser = commands.add_parser("export", help="write configs as Parquet + a dataset card, loadable without this package (default: the bundled sample)")
    export_parser.add_argument("out_dir", metavar="OUT_DIR")
    export_parser.add_argument("--config", action="append", choices=CONFIGS, help="only this config (repeatable; the first is the default)")
    export_parser.add_argument("--data-dir", help="the full release instead of the bundled sample")
    export_parser.add_argument("--audio-dir", action="append", help="folder of downloaded clips (repeatable)")
    export_parser.add_argument("--embed-audio", action="store_true", help="embed the clips' bytes (private or local use only)")
    export_parser.add_argument("--max-shard-size", default="500MB", help="bytes per Parquet file before compression (default 500MB)")
    export_parser.add_argument("--verification-mode", choices=("basic_checks", "all_checks", "no_checks"))
    export_parser.add_argument("--overwrite", action="store_true", help="replace a previous export in OUT_DIR")
    export_parser.add_argument("--push-to-hub", metavar="REPO_ID", help="then upload OUT_DIR as a Hub dataset repository")
    export_parser.add_argument("--private", action="store_true", help="make that repository private (always so with --embed-audio)")
    export_parser.add_argument("--cache-dir")
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(args.config or CONFIGS, data_dir=args.data_dir, audio_dir=args.audio_dir,
             sampling_rate=args.sampling_rate, cache_dir=args.cache_dir)
    elif args.command == "convert":
        convert(args.out, args.format, args.config, args.split, data_dir=args.data_dir, audio_dir=args.audio_dir,
                verification_mode=args.verification_mode, cache_dir=args.cache_dir)
    elif args.command == "export":
        export(args.out_dir, args.config or CONFIGS, args.push_to_hub, args.private, embed_audio=args.embed_audio,
               max_shard_size=args.max_shard_size, overwrite=args.overwrite, data_dir=args.data_dir,
               audio_dir=args.audio_dir, verification_mode=args.verification_mode, cache_dir=args.cache_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
