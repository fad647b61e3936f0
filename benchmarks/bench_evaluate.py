"""Benchmark: scoring a full-size test split with ``evaluate`` (BLEU-4, ROUGE-L, CIDEr-D, overall and per turn).

    python benchmarks/bench_evaluate.py [--workdir /tmp/audio-dialogues-bench-evaluate] [--repeats 3]
        [--config audioset_dialogues ...]

Per config, the synthetic release at the published split sizes (``tests/synthetic.py``, written once
into ``--workdir``) and a predictions file of perturbed references (seeded: per turn, words dropped,
swapped, replaced or re-cased, punctuation changed), so the scores are neither 0 nor perfect. Each
repeat times, one after the other in this process:

- evaluate: ``evaluate(predictions, config, "test", data_dir=...)`` end to end, as the command runs it;
- read: reading the predictions and the split's references (``read_predictions``, ``read_release``);
- tokenize: the Java PTB tokenizer over every candidate and reference (one JVM);
- score: pycocoevalcap's Bleu(4), Rouge and Cider on every turn, then per turn index.

The figures are medians of the repeats, in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

from workload import CONFIGS, REPO, machine, median, table  # also puts this checkout on sys.path

sys.path.insert(0, str(REPO / "tests"))

from synthetic import write_release  # noqa: E402

from _audio_dialogues.core.splits import read_release  # noqa: E402
from _audio_dialogues.core.subsets import SUBSETS  # noqa: E402
from _audio_dialogues.evaluation.score import coco_scores, evaluate, ptb_tokenize, read_predictions  # noqa: E402

_OTHER_WORDS = ("sound", "noise", "quiet", "loud", "music", "clearly", "perhaps", "outside", "voice", "maybe")


def perturb(text: str, rng: random.Random) -> str:
    """A plausible wrong answer: some words dropped, swapped, replaced or re-cased, punctuation changed."""
    words = text.split()
    out = []
    for word in words:
        roll = rng.random()
        if roll < 0.10:
            continue
        if roll < 0.20:
            word = rng.choice(_OTHER_WORDS)
        elif roll < 0.25:
            word = word.upper()
        out.append(word)
    if len(out) > 2 and rng.random() < 0.5:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return (" ".join(out) or "nothing").rstrip(".!?") + rng.choice((".", "!", "", " ..."))


def prepare(workdir: Path, config: str, seed: int = 0) -> tuple[Path, Path]:
    """The release (published sizes) and the predictions file of one config, written once."""
    release = workdir / "release"
    sizes = SUBSETS[config].published
    if not (release / config / "test.jsonl").is_file():
        write_release(release, {config: sizes}, fmt="jsonl", seed=seed)
    predictions = workdir / f"{config}.predictions.jsonl"
    if not predictions.is_file():
        rng = random.Random(f"{seed}/{config}/predictions")
        with predictions.open("w", encoding="utf-8") as out:
            for joined in read_release(config, ["test"], data_dir=release)["test"]:
                answers = [perturb(turn["assistant"], rng) for turn in joined.record.dialogue]
                out.write(json.dumps({"id": joined.id, "answers": answers}, ensure_ascii=False) + "\n")
    return release, predictions


def phases(config: str, release: Path, predictions: Path) -> dict[str, float]:
    """The three parts of ``evaluate`` timed separately, in seconds."""
    started = time.perf_counter()
    given = read_predictions(predictions)
    records = read_release(config, ["test"], data_dir=release)["test"]
    items = [
        (turn, answer, reference["assistant"])
        for joined in records
        for turn, (answer, reference) in enumerate(zip(given[joined.id].answers, joined.record.dialogue), start=1)
    ]
    read = time.perf_counter()
    tokens = ptb_tokenize([c for _, c, _ in items] + [r for _, _, r in items])
    tokenized = time.perf_counter()
    candidates, references = tokens[: len(items)], tokens[len(items) :]
    coco_scores(candidates, references)
    turns = sorted({t for t, _, _ in items})
    for turn in turns if len(turns) > 1 else ():
        chosen = [i for i, (t, _, _) in enumerate(items) if t == turn]
        coco_scores([candidates[i] for i in chosen], [references[i] for i in chosen])
    scored = time.perf_counter()
    return {"read": read - started, "tokenize": tokenized - read, "score": scored - tokenized}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="/tmp/audio-dialogues-bench-evaluate")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--config", action="append", choices=CONFIGS)
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print(machine())
    rows = []
    for config in args.config or CONFIGS:
        release, predictions = prepare(workdir, config)
        totals, parts = [], {"read": [], "tokenize": [], "score": []}
        for _ in range(args.repeats):
            started = time.perf_counter()
            scores = evaluate(predictions, config, "test", data_dir=release)
            totals.append(time.perf_counter() - started)
            for name, seconds in phases(config, release, predictions).items():
                parts[name].append(seconds)
        overall = scores.overall
        rows.append(
            [
                config,
                scores.dialogues,
                scores.turns,
                median(totals),
                median(parts["read"]),
                median(parts["tokenize"]),
                median(parts["score"]),
                f"{overall['BLEU-4']:.3f} / {overall['ROUGE-L']:.3f} / {overall['CIDEr']:.3f}",
            ]
        )
        print(f"{config}: {scores.dialogues} dialogues, evaluate median {median(totals):.2f} s", file=sys.stderr)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nmedians of {args.repeats} repeats, seconds (load average at the end: {load}; other work slows it down)")
    print(
        table(
            [
                "config (test)",
                "dialogues",
                "turns",
                "evaluate",
                "read",
                "tokenize",
                "score",
                "BLEU-4 / ROUGE-L / CIDEr",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
