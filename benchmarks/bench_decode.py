"""Benchmark 2 of issue 3: decoding a clip to 16 kHz mono float32, in examples per second.

For 10 s clips of every format, rate and channel count users have (wav/flac/mp3 x 16/22.05/44.1/48
kHz x mono/stereo: :data:`_audio_dialogues.synthetic.CLIP_FORMATS`), four decoders read the
same files:

- **ours**: ``SoundfileAudio(sampling_rate=16000).decode_example({"path": p, "bytes": None})``, the
  call a loaded dataset makes for every example;
- **floor**: what ours does, with nothing around it: ``soundfile.read(p, dtype="float32")``, the
  channels' mean (``samples.mean(axis=1)``), ``soxr.resample(..., 16000, quality="HQ")``;
- **librosa**: ``librosa.load(p, sr=16000, mono=True)`` (default ``res_type``, soxr_hq);
- **torchcodec**: datasets 5.x's own decoding: ``datasets.Audio(sampling_rate=16000).decode_example(...)``
  returns a torchcodec ``AudioDecoder`` (FFmpeg decodes and resamples), and ``["array"]`` is the
  channels' mean, as datasets computes it. The column is skipped, with a note, where torchcodec
  cannot be imported.

Every repeat visits every file of every cell, and decodes it with each decoder back to back, in
orders where each decoder goes first, and follows each other one, equally often (a decode slows the
next one a little; torchcodec's by ~0.15 ms). A cell's
examples/s is 1 / the median time of one decode; its ratios (ours/floor, ...) are the medians of the
back-to-back pairs, which a shared machine's bursts of other work disturb far less than a ratio of
two medians. The table is printed by wall time (what a user waits) and by the process's CPU time;
the last row decodes all 24 cells mixed. Then ours and torchcodec called directly vs. iterated
through a loaded ``datasets.Dataset`` of the same files: what datasets adds per example. Also
printed: the machine and its load, the library versions, the command, and a check that every decoder
returns 16 kHz mono float32 of the same length, with how far each is from ours. The goal: ours >=
0.8x the floor, and not slower than librosa or torchcodec.

    # soundfile, soxr, librosa and datasets only (the torchcodec column is skipped):
    .venv/datasets5/bin/python benchmarks/bench_decode.py
    # all four columns: datasets 5, the CPU torch wheel, torchcodec 0.13 and Debian's FFmpeg
    apt-get update && apt-get install -y ffmpeg
    python3 -m venv /tmp/vtc && /tmp/vtc/bin/pip install 'datasets>=5,<6' torch==2.13.0 'torchcodec==0.13.*' -e .
    /tmp/vtc/bin/python benchmarks/bench_decode.py [--repeats 9] [--files-per-cell 4] [--out-json decode.json]

The clips are written into a temporary folder (``--workdir DIR`` keeps them), one set of 24 per file
of a cell, each with its own seed. The default run takes about 2.5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile
import soxr
from workload import cpu_model  # also puts this checkout and tests/ on sys.path: the code measured is this checkout's

# isort: split
from synthetic import CLIP_FORMATS, ClipFormat, write_clips  # noqa: E402

from _audio_dialogues.loading.features import SoundfileAudio  # noqa: E402

RATE = 16000
DECODERS = ("ours", "floor", "librosa", "torchcodec")
GOALS = {"floor": 0.8, "librosa": 1.0, "torchcodec": 1.0}  # ours' throughput over theirs must reach this
CLOCKS = ("wall", "cpu")  # elapsed time; this process's CPU time, all threads (FFmpeg may use several)

Decoder = Callable[[str], np.ndarray]  # a path -> its 16 kHz mono float32 samples


# --- the decoders --------------------------------------------------------------------------------


def decode_ours() -> Decoder:
    feature = SoundfileAudio(sampling_rate=RATE)
    return lambda path: feature.decode_example({"path": path, "bytes": None})["array"]


def decode_floor(path: str) -> np.ndarray:
    samples, rate = soundfile.read(path, dtype="float32")
    if samples.ndim == 2:
        samples = samples.mean(axis=1, dtype=np.float32)
    return samples if rate == RATE else soxr.resample(samples, rate, RATE, quality="HQ")


def decode_librosa() -> Decoder:
    import librosa

    return lambda path: librosa.load(path, sr=RATE, mono=True)[0]


def decode_torchcodec() -> Decoder:
    """datasets 5.x's ``Audio`` decoding; raises where torchcodec (or FFmpeg's libraries) cannot be loaded."""
    import datasets

    if not getattr(datasets.config, "TORCHCODEC_AVAILABLE", False):
        raise ImportError(f"torchcodec is not importable next to datasets {datasets.__version__}")
    feature = datasets.Audio(sampling_rate=RATE)
    return lambda path: feature.decode_example({"path": path, "bytes": None})["array"]


def available_decoders() -> tuple[dict[str, Decoder], list[str]]:
    """The decoders that can run here, and a note for each that cannot."""
    decoders: dict[str, Decoder] = {"ours": decode_ours(), "floor": decode_floor}
    notes = []
    for name, make in (("librosa", decode_librosa), ("torchcodec", decode_torchcodec)):
        try:
            decoders[name] = make()
        except Exception as err:  # ImportError, or torchcodec failing to load FFmpeg's libraries
            notes.append(f"{name} column skipped: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    if "torchcodec" not in decoders:
        notes.append(
            "for the torchcodec column run in a venv with datasets 5, torch==2.13.0, torchcodec==0.13.* "
            "and Debian's ffmpeg (see this script's docstring)"
        )
    return decoders, notes


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Cell:
    """The files of one format x rate x channels combination, and each decoder's timings on them."""

    clip: ClipFormat
    paths: list[str]
    # clock -> decoder -> seconds of each decode, repeat by repeat, file by file (aligned across decoders)
    seconds: dict[str, dict[str, list[float]]] = field(default_factory=lambda: {clock: {} for clock in CLOCKS})

    def rate(self, decoder: str, clock: str) -> float | None:
        """Examples/s of ``decoder``: 1 / its median decode time."""
        times = self.seconds[clock].get(decoder)
        return 1 / statistics.median(times) if times else None

    def ratio(self, decoder: str, clock: str) -> float | None:
        """Ours' throughput over ``decoder``'s: the median of the back-to-back pairs."""
        if decoder not in self.seconds[clock]:
            return None
        return statistics.median(
            theirs / ours for ours, theirs in zip(self.seconds[clock]["ours"], self.seconds[clock][decoder])
        )


def timed(decode: Decoder, path: str) -> tuple[float, float]:
    """Wall and CPU seconds of one decode."""
    wall, cpu = time.perf_counter(), time.process_time()
    decode(path)
    return time.perf_counter() - wall, time.process_time() - cpu


def balanced_orders(names: list[str]) -> list[list[str]]:
    """Orders in which each decoder goes first, and directly follows each other one, equally often.

    A decode leaves traces that slow the next one (torchcodec's costs the following decode ~0.15 ms,
    a third of a 16 kHz wav's), so a fixed cycle would always charge them to the same decoder.
    These are the rows of a Williams Latin square (with their reverses for an odd count).
    """
    n = len(names)
    first = [0] + [(k + 1) // 2 if k % 2 else n - k // 2 for k in range(1, n)]  # 0, 1, n-1, 2, n-2, ...
    rows = [[(position + shift) % n for position in first] for shift in range(n)]
    if n % 2:
        rows += [row[::-1] for row in rows]
    return [[names[position] for position in row] for row in rows]


def run(cells: list[Cell], decoders: dict[str, Decoder], repeats: int) -> None:
    """Each repeat decodes every file with every decoder back to back, in balanced orders."""
    for cell in cells:  # warm-up: imports, first-call set-up, the page cache
        for decode in decoders.values():
            for path in cell.paths:
                decode(path)
    orders = balanced_orders(list(decoders))
    for repeat in range(repeats):
        for cell in cells:
            for number, path in enumerate(cell.paths):
                for name in orders[(repeat + number) % len(orders)]:
                    for clock, seconds in zip(CLOCKS, timed(decoders[name], path)):
                        cell.seconds[clock].setdefault(name, []).append(seconds)
        print(f"  repeat {repeat + 1}/{repeats} done", file=sys.stderr, flush=True)


def check_outputs(cells: list[Cell], decoders: dict[str, Decoder]) -> list[str]:
    """One line per decoder: dtype and length over all cells, and its largest difference from ours."""
    lines = []
    for name, decode in decoders.items():
        dtypes, lengths, largest, rms = set(), [], [], []
        for cell in cells:
            reference = decoders["ours"](cell.paths[0])
            samples = np.asarray(decode(cell.paths[0]))
            dtypes.add(f"{samples.dtype}{'' if samples.ndim == 1 else f' ndim={samples.ndim}'}")
            lengths.append(len(samples))
            common = min(len(samples), len(reference))
            difference = samples[:common].astype(np.float64) - reference[:common]
            largest.append(float(np.max(np.abs(difference))))
            rms.append(float(np.sqrt(np.mean(difference**2))))
        worst = int(np.argmax(largest))
        lines.append(
            f"  {name:<10} {'/'.join(sorted(dtypes))}, {min(lengths)}-{max(lengths)} samples at {RATE} Hz; "
            f"vs ours: max |diff| {largest[worst]:.2g}, rms diff {rms[worst]:.2g} (worst cell: {cells[worst].clip})"
        )
    return lines


def through_datasets(paths: list[str], decoders: dict[str, Decoder], repeats: int) -> dict[str, list[float]]:
    """Wall seconds per pass: ours (and torchcodec) called directly vs. iterating a ``datasets.Dataset``
    of ``paths``."""
    import datasets

    def direct(decode: Decoder) -> Callable[[], object]:
        return lambda: [decode(path) for path in paths]

    def iterate(feature: datasets.Audio) -> Callable[[], object]:
        dataset = datasets.Dataset.from_dict({"audio": paths}, features=datasets.Features({"audio": feature}))
        return lambda: [row["audio"]["array"] for row in dataset]

    passes = {"ours direct": direct(decoders["ours"]), "ours via Dataset": iterate(SoundfileAudio(sampling_rate=RATE))}
    if "torchcodec" in decoders:
        passes["torchcodec direct"] = direct(decoders["torchcodec"])
        passes["torchcodec via Dataset"] = iterate(datasets.Audio(sampling_rate=RATE))
    for action in passes.values():  # warm-up
        action()
    seconds: dict[str, list[float]] = {name: [] for name in passes}
    for _ in range(repeats):
        for name, action in passes.items():
            start = time.perf_counter()
            action()
            seconds[name].append(time.perf_counter() - start)
    return seconds


# --- reporting -----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = cpu_model()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": model, "cores": str(cores), "os": platform.platform(), "python": platform.python_version()}


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"


def versions() -> dict[str, str]:
    found = {
        "numpy": np.__version__,
        "soundfile": f"{soundfile.__version__} (libsndfile {soundfile.__libsndfile_version__})",
        "soxr": soxr.__version__,
    }
    for module in ("librosa", "datasets", "torch", "torchcodec"):
        try:
            found[module] = __import__(module).__version__
        except Exception:
            found[module] = "not installed"
    try:
        banner = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True).stdout
        found["ffmpeg"] = banner.split(" Copyright")[0].removeprefix("ffmpeg version ")
    except (OSError, subprocess.CalledProcessError):
        found["ffmpeg"] = "not installed"
    return found


def table(cells: list[Cell], repeats: int, seconds: float, clock: str) -> tuple[list[str], dict[str, float]]:
    """The per-cell table by one clock, with a last row over all cells mixed."""
    header = f"{'format':<6} {'rate':>6} {'ch':<6}" + "".join(f" {name:>10}" for name in DECODERS)
    header += f" {'ours/floor':>10} {'ours/lbr':>9} {'ours/tc':>8}"
    title = {"wall": "by wall time", "cpu": "by CPU time of the process (all its threads)"}[clock]
    lines = [
        f"examples/s {title}; {repeats} repeats; {seconds:g} s clips -> 16 kHz mono float32",
        header,
        "-" * len(header),
    ]

    def line(label: str, rates: dict[str, float | None], ratios: dict[str, float | None]) -> str:
        text = label + "".join(f" {rates[name]:>10.1f}" if rates.get(name) else f" {'-':>10}" for name in DECODERS)
        widths = {"floor": 10, "librosa": 9, "torchcodec": 8}
        return text + "".join(
            f" {ratios[name]:>{width}.2f}" if ratios.get(name) else f" {'-':>{width}}" for name, width in widths.items()
        )

    for cell in cells:
        label = (
            f"{cell.clip.format:<6} {cell.clip.sampling_rate:>6} {'mono' if cell.clip.channels == 1 else 'stereo':<6}"
        )
        lines.append(
            line(
                label,
                {name: cell.rate(name, clock) for name in DECODERS},
                {name: cell.ratio(name, clock) for name in GOALS},
            )
        )
    # All cells mixed: every file of every cell once per repeat; examples/s from the median repeat.
    names = list(cells[0].seconds[clock])
    files = sum(len(cell.paths) for cell in cells)
    per_repeat = {
        name: [
            sum(sum(cell.seconds[clock][name][r * len(cell.paths) : (r + 1) * len(cell.paths)]) for cell in cells)
            for r in range(repeats)
        ]
        for name in names
    }
    mixed = {name: files / statistics.median(times) for name, times in per_repeat.items()}
    mixed_ratios = {
        name: statistics.median(t / o for o, t in zip(per_repeat["ours"], per_repeat[name]))
        for name in GOALS
        if name in per_repeat
    }
    lines.append("-" * len(header))
    lines.append(line(f"{'all 24 cells mixed':<20}", mixed, mixed_ratios))
    return lines, mixed


def verdict(cells: list[Cell], clock: str) -> list[str]:
    lines = []
    for other, goal in GOALS.items():
        if other not in cells[0].seconds[clock]:
            lines.append(f"  ours vs {other}: not measured")
            continue
        ratios = [(cell.ratio(other, clock), cell.clip) for cell in cells]
        worst, clip = min(ratios)
        below = [f"{c} ({r:.2f})" for r, c in ratios if r < goal]
        state = "met in every cell" if not below else f"NOT met in {len(below)} cells: {', '.join(below)}"
        lines.append(
            f"  ours/{other} >= {goal:.1f}: {state}; worst {worst:.2f} ({clip}), "
            f"median over cells {statistics.median(r for r, _ in ratios):.2f}"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9, help="decodes of each file by each decoder (default 9)")
    parser.add_argument("--files-per-cell", type=int, default=4, help="distinct clips per cell (default 4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (default 10, as AudioSet/MusicCaps)")
    parser.add_argument("--out-json", type=Path, help="also save the raw timings, machine and versions here")
    parser.add_argument("--workdir", type=Path, help="write the clips here and keep them (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.files_per_cell < 1:
        parser.error("--repeats and --files-per-cell must be at least 1")

    command = " ".join([sys.executable, *sys.argv])
    info = {"machine": machine(), "versions": versions(), "command": command, "load_before": load_average()}
    print("Decode benchmark (issue 3, benchmark 2)")
    print(f"command: {command}")
    print(
        "machine: "
        + ", ".join(f"{key} {value}" for key, value in info["machine"].items())
        + f"; load average before the run {info['load_before']}"
    )
    print("versions: " + ", ".join(f"{key} {value}" for key, value in info["versions"].items()))
    decoders, notes = available_decoders()
    for note in notes:
        print(f"note: {note}")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_decode_"))
    try:
        started = time.perf_counter()
        sets = [
            write_clips(workdir / f"seed{seed}", seconds=args.seconds, seed=seed) for seed in range(args.files_per_cell)
        ]
        cells = [Cell(clip, [str(clips[clip]) for clips in sets]) for clip in CLIP_FORMATS]
        print(
            f"clips: {len(CLIP_FORMATS)} cells x {args.files_per_cell} files of {args.seconds:g} s in {workdir} "
            f"(written in {time.perf_counter() - started:.1f} s); {args.repeats} repeats of {', '.join(decoders)}"
        )
        print("output check (first file of each cell):")
        print("\n".join(check_outputs(cells, decoders)))
        run(cells, decoders, args.repeats)
        mixed = {}
        for clock in CLOCKS:
            lines, mixed[clock] = table(cells, args.repeats, args.seconds, clock)
            print()
            print("\n".join(lines))
            print(f"goal (ours >= 0.8x floor, not slower than librosa or torchcodec), by {clock} time:")
            print("\n".join(verdict(cells, clock)))
        all_paths = [path for cell in cells for path in cell.paths]
        through = through_datasets(all_paths, decoders, args.repeats)
        print()
        print(
            f"through datasets ({len(all_paths)} files, all cells mixed; examples/s by wall time, median of "
            f"{args.repeats} passes):"
        )
        for name, times in through.items():
            print(f"  {name:<24} {len(all_paths) / statistics.median(times):8.1f}")
        info["load_after"] = load_average()
        print(f"total time {time.perf_counter() - started:.0f} s; load average after the run {info['load_after']}")
        if args.out_json:
            raw = {
                **info,
                "repeats": args.repeats,
                "files_per_cell": args.files_per_cell,
                "clip_seconds": args.seconds,
                "notes": notes,
                "mixed_examples_per_s": mixed,
                "cells": [
                    {
                        "format": c.clip.format,
                        "sampling_rate": c.clip.sampling_rate,
                        "channels": c.clip.channels,
                        "files": c.paths,
                        "seconds_per_decode": c.seconds,
                    }
                    for c in cells
                ],
                "through_datasets": {"files": len(all_paths), "seconds_per_pass": through},
            }
            args.out_json.write_text(json.dumps(raw, indent=1), encoding="utf-8")
            print(f"raw figures: {args.out_json}")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
