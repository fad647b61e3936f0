"""Before/after: the loader at two (or more) checkouts, measured side by side on the same workload.

    git worktree add /tmp/before <commit>
    python benchmarks/bench_versions.py --code /tmp/before --code . [--repeats 5] [--configs ...]

Two versions of one package cannot share a process, so every measurement is a fresh process that
puts its checkout first on ``sys.path``, imports it (not timed), then times one of:

- prepare: ``load_dataset(config, data_dir, audio_dir, cache_dir=<empty>)`` (list, parse, join, write);
- prepare, num_proc=2: the same with ``num_proc=2``;
- first example: ``load_dataset(config, "train", ..., streaming=True)`` then ``next(iter(ds))``.

Checkouts alternate run by run (A, B, A, B, ...), so both see the same machine; medians of
``--repeats`` runs and the ratio before / after are printed. The workload is ``workload.py``'s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from workload import CONFIGS, ensure_workload, machine, median, table

MODES = ("prepare", "prepare, num_proc=2", "first example")

# Runs in the child: argv = code, mode, config, release, audio, cache; prints the seconds.
_CHILD = """
import logging, sys, time
code, mode, config, release, audio, cache = sys.argv[1:]
sys.path.insert(0, code)
import datasets
from audio_dialogues import load_dataset
datasets.disable_progress_bars()
logging.getLogger("audio_dialogues").setLevel(logging.WARNING)
start = time.perf_counter()
if mode == "first example":
    next(iter(load_dataset(config, "train", data_dir=release, audio_dir=audio, streaming=True)))
else:
    load_dataset(config, data_dir=release, audio_dir=audio, cache_dir=cache, num_proc=2 if "num_proc" in mode else None)
print(time.perf_counter() - start)
"""


def run_once(code: Path, mode: str, config: str, workload) -> float:
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(code),
                mode,
                config,
                str(workload.release_json),
                str(workload.audio_dir),
                cache,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--code", type=Path, action="append", required=True, help="a checkout; give two or more")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "audio-dialogues-bench")
    parser.add_argument("--audio-files", type=int, default=120_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--out-json", type=Path)
    args = parser.parse_args()
    workload = ensure_workload(args.workdir, args.audio_files)
    codes = [code.resolve() for code in args.code]
    seconds = {
        f"{config} | {mode}": {str(code): [] for code in codes} for config in args.configs for mode in args.modes
    }
    for _ in range(args.repeats):
        for config in args.configs:
            for mode in args.modes:
                for code in codes:  # alternating checkouts
                    seconds[f"{config} | {mode}"][str(code)].append(run_once(code, mode, config, workload))

    print(machine())
    print(
        f"workload: full published sizes (JSON arrays), {workload.audio_files} audio files; median of {args.repeats} "
        "fresh processes per cell, checkouts alternating; import time not counted\n"
    )
    names = [f"{code.name or code} s" for code in codes]
    rows = []
    for key, by_code in seconds.items():
        medians = [median(by_code[str(code)]) for code in codes]
        rows.append([*key.split(" | "), *(f"{m:.2f}" for m in medians), f"{medians[0] / medians[-1]:.2f}"])
    print(table(["config", "measure", *names, "first / last (x)"], rows))
    if args.out_json:
        args.out_json.write_text(json.dumps(seconds, indent=1))


if __name__ == "__main__":
    main()
