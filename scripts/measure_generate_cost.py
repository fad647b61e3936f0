"""Measure what ``audio-dialogues generate`` costs per 1,000 dialogues, on the tests' local chat server.

    python scripts/measure_generate_cost.py [--clips 300]

Runs each config against ``tests/chat_server.py`` (127.0.0.1; nothing leaves the machine) and prints
the summary's cost line. The server counts one token per 4 characters, so the prompt figures are
close to what a hosted model bills for the built-in prompts (``--prompt-style``, default paper); its
replies are canned (four short turns, as the paper's prompts ask, and one for a comparison), so the
completion figures only show the order of magnitude. Music uses the
first MusicCaps captions; AudioSet clips are synthetic (seeded: 1-5 labels of the strong-label
vocabulary per clip, 1-3 events per label), since the strong-label TSVs are not shipped.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import json  # noqa: E402

from chat_server import ChatServer, default_reply  # noqa: E402

from _audio_dialogues.core.musiccaps import shipped_musiccaps  # noqa: E402
from _audio_dialogues.core.strong_labels import shipped_label_names  # noqa: E402
from _audio_dialogues.generation.pipeline import generate  # noqa: E402


def synthetic_strong_labels(path: Path, clips: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    mids = sorted(shipped_label_names())
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
    lines = ["segment_id\tstart_time_seconds\tend_time_seconds\tlabel"]
    for _ in range(clips):
        segment = "".join(rng.choice(alphabet) for _ in range(11)) + "_30000"
        for mid in rng.sample(mids, rng.randint(1, 5)):
            for _ in range(rng.randint(1, 3)):
                start = round(rng.uniform(0, 9), 3)
                lines.append(f"{segment}\t{start}\t{round(rng.uniform(start, 10), 3)}\t{mid}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def four_turns(prompt: str) -> str:
    """The stand-in's reply: four short turns for a dialogue (as the paper's prompts ask), else the tests' default."""
    if prompt.startswith(("Describe the acoustic character", "Audio 1:")):
        return default_reply(prompt)
    return "\n".join(json.dumps({"user": f"Question {t}?", "assistant": f"Answer {t}."}) for t in range(1, 5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--prompt-style", choices=("paper", "grounded"), default="paper")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ChatServer(default=four_turns) as server:
        strong = synthetic_strong_labels(Path(tmp) / "strong.tsv", args.clips)
        runs = {
            "music_dialogues": {"ids": list(shipped_musiccaps())[: args.clips]},
            "audioset_dialogues": {"sources": [str(strong)]},
            "audioset_comparison": {"sources": [str(strong)]},
        }
        for config, inputs in runs.items():
            before = server.count("Describe the acoustic character")
            summary = generate(
                Path(tmp) / "out",
                config,
                base_url=server.base_url,
                progress=False,
                prompt_style=args.prompt_style,
                **inputs,
            )
            lines = summary.summary().splitlines()
            print(
                f"\n{config}: {summary.ledger_ok} dialogues, "
                f"{server.count('Describe the acoustic character') - before} label-description requests"
            )
            print("\n".join(line for line in lines if line.startswith(("cost per", "tokens this run", "turns:"))))


if __name__ == "__main__":
    main()
