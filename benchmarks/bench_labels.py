"""Benchmark: planning the label descriptions of a generate run over 120,000 AudioSet clips (generation/labels.py).

    .venv/datasets5/bin/python benchmarks/bench_labels.py [--clips 120000] [--repeats 7]

Seeded clips of 3 events each, drawn from the 456 shipped labels, every clip pending. Timed back to back in
each repeat: **before**, the expression ``generate`` used until the label owners landed (the labels of every
pending job, through ``StrongClip.labels``, which sorts each clip's events); **merge**, ``plan_labels`` of an
unsharded run (the same set); **shard 1/4**, ``plan_labels`` of shard 1 of 4 (the labels of all the clips
plus its own part's) and the split of its jobs into ready and waiting. Figures: the median of the repeats,
and the median of the per-repeat ratios.
"""

from __future__ import annotations

import argparse
import random
import time

from workload import machine, median, table

from _audio_dialogues.core.strong_labels import Event, StrongClip, shipped_label_names
from _audio_dialogues.engine.shard import Shard, owner
from _audio_dialogues.generation.clips import Clip, Job
from _audio_dialogues.generation.labels import plan_labels


def before(pending: list[Job]) -> list[str]:
    used = {label for job in pending for clip in job.clips if clip.strong for label in clip.strong.labels}
    return sorted(used)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=120_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    labels, rng = sorted(shipped_label_names()), random.Random(0)
    clips = [
        Clip(
            f"{i:011d}", "train", strong=StrongClip(f"{i:011d}", 0, [Event(x, 0.0, 1.0) for x in rng.sample(labels, 3)])
        )
        for i in range(args.clips)
    ]
    jobs = [Job(clip.youtube_id, "train", (clip,)) for clip in clips]
    part = [job for job in jobs if owner(job.key, 4) == 1]

    def shard() -> None:
        plan_labels(clips, part, Shard(1, 4), (), ()).ready(part)

    cases = {
        "before": lambda: before(jobs),
        "merge": lambda: plan_labels(clips, jobs, None, (), ()),
        "shard 1/4": shard,
    }
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, case in cases.items():
            start = time.perf_counter()
            case()
            seconds[name].append(time.perf_counter() - start)
    assert before(jobs) == plan_labels(clips, jobs, None, (), ()).ask  # the merge asks what it asked before
    print(machine())
    print(f"{args.clips:,} clips, {len(part):,} in shard 1/4, {args.repeats} repeats")
    rows = [
        [
            name,
            f"{median(seconds[name]) * 1000:.0f} ms",
            f"{median([a / b for a, b in zip(seconds[name], seconds['before'])]):.2f}",
        ]
        for name in cases
    ]
    print(table(["case", "median", "x before"], rows))


if __name__ == "__main__":
    main()
