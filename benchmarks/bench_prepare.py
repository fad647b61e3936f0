"""Benchmark 1: preparing each config at full size, text + audio join, against the alternatives.

    python benchmarks/bench_prepare.py [--workdir /tmp/audio-dialogues-bench] [--audio-files 120000] [--repeats 5]

Per config, on the full-size synthetic release and an audio folder of ``--audio-files`` real clips
(``workload.py``), each repeat runs, one after the other in this process, into empty cache folders:

- ours: ``audio_dialogues.load_dataset(config, data_dir, audio_dir)``: list the audio folder, parse
  and validate every record, check the split sizes, join, write the report and the Arrow files;
- json: ``datasets.load_dataset("json", data_files=...)`` on the same files (no validation, no join);
- json + map: what a user does instead of us: the json builder, then their own listing of the audio
  folder and a batched ``.map`` that resolves each audio id to a path;
- ours, num_proc=2: the same, Arrow files written by two processes (JSON arrays only);
- ours, text only: the same without ``audio_dir`` (no listing, no join);
- pyarrow: ``pyarrow.json.read_json`` of the JSON Lines files (the parsing floor, JSON Lines only);
- script floor: a minimal ``GeneratorBasedBuilder`` with our features yielding our rows, made
  before the clock starts (what datasets' per-example encoding and writing cost any loading script);

on the release's own format (one JSON array per split) and on JSON Lines. Throughput is records per
second of the median time; a speed ratio is the other's median time / ours (above 1: ours is faster).
Separately, the audio listing (``index_audio_dirs``) and the join of each split, which the goal wants
under 1 s for 120,000 files.
The page cache is warm after the first repeat for every contender alike.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import datasets  # noqa: E402  (after workload put this checkout on sys.path)
import pyarrow.json
from workload import CONFIGS, ensure_workload, machine, median, table

from _audio_dialogues.core.audio_files import index_audio_dirs
from _audio_dialogues.core.join import join_audio
from _audio_dialogues.core.release import read_release_file
from _audio_dialogues.core.splits import SplitSource, paused_gc
from _audio_dialogues.loading.features import to_example
from audio_dialogues import SUBSETS, AudioDialogues, load_dataset


def ours(workload, config, fmt, cache):
    return load_dataset(config, data_dir=workload.release(fmt), audio_dir=workload.audio_dir, cache_dir=cache)


def json_builder(workload, config, fmt, cache):
    return datasets.load_dataset("json", data_files=workload.files(config, fmt), cache_dir=cache)


# A user's own resolver: list the folder, key each file by the 11-character id its name starts with.
_USER_ID = re.compile(r"Y?([A-Za-z0-9_-]{11})(?=[._]|$)")


def json_builder_and_map(workload, config, fmt, cache):
    ds = json_builder(workload, config, fmt, cache)
    paths = {}
    for folder, _, names in os.walk(workload.audio_dir):
        for name in names:
            if match := _USER_ID.match(name):
                paths.setdefault(match[1], os.path.join(folder, name))

    def path_of(audio_id):
        match = _USER_ID.match(audio_id)
        return paths.get(match[1]) if match else None

    if SUBSETS[config].rules.multi_audio:
        resolve = lambda batch: {"audios": [[path_of(a) for a in ids] for ids in batch["audio_ids"]]}  # noqa: E731
    else:
        resolve = lambda batch: {"audio": [path_of(a) for a in batch["audio_id"]]}  # noqa: E731
    return ds.map(resolve, batched=True)


def ours_num_proc_2(workload, config, fmt, cache):
    return load_dataset(
        config, data_dir=workload.release(fmt), audio_dir=workload.audio_dir, cache_dir=cache, num_proc=2
    )


def ours_text_only(workload, config, fmt, cache):
    return load_dataset(config, data_dir=workload.release(fmt), cache_dir=cache)


class ReadyRows(datasets.GeneratorBasedBuilder):
    """The floor of any loading script: our features, and rows made before the clock starts."""

    rows: dict[str, list[dict]] = {}
    features: datasets.Features | None = None

    def _info(self):
        return datasets.DatasetInfo(features=self.features)

    def _split_generators(self, dl_manager):
        return [datasets.SplitGenerator(name=split, gen_kwargs={"split": split}) for split in self.rows]

    def _generate_examples(self, split):
        yield from enumerate(self.rows[split])


def ready_rows(workload, config, fmt, cache):
    builder = ReadyRows(cache_dir=cache, hash=config)
    builder.download_and_prepare()
    return builder.as_dataset()


def make_ready_rows(workload, config) -> None:
    """Rows exactly as ours writes them (audio joined), as plain dicts, for :class:`ReadyRows`."""
    builder = AudioDialogues(config, data_dir=workload.release_json, audio_dir=workload.audio_dir)
    multi_audio = SUBSETS[config].rules.multi_audio
    ReadyRows.features = builder.info.features
    ReadyRows.rows = {}
    for split, files in builder.config.options.release.files.items():
        source = SplitSource(config, split, files, SUBSETS[config].rules, 0, builder.audio_index, "keep", "no_checks")
        ReadyRows.rows[split] = [dict(to_example(item, multi_audio)) for item in source.read()[0]]


def pyarrow_floor(workload, config, fmt, cache):
    return {split: pyarrow.json.read_json(path) for split, path in workload.files(config, "jsonl").items()}


CONTENDERS = {
    "ours": ours,
    "ours, num_proc=2": ours_num_proc_2,
    "ours, text only": ours_text_only,
    "json": json_builder,
    "json + map": json_builder_and_map,
    "pyarrow": pyarrow_floor,
    "script floor": ready_rows,
}
JSONL_ONLY, ONCE = ("pyarrow",), ("script floor", "ours, num_proc=2")  # ONCE: run on the JSON arrays only


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def index_and_join(workload, config) -> tuple[float, float, int]:
    """Seconds to list the audio folder, seconds to join the config's splits, and the files listed."""
    rules = SUBSETS[config].rules
    records = {split: read_release_file(path, rules) for split, path in workload.files(config, "json").items()}
    with paused_gc():  # as the loader runs them
        start = time.perf_counter()
        index = index_audio_dirs([workload.audio_dir])
        listed = time.perf_counter()
        for split, split_records in records.items():
            join_audio(split_records, index, name=f"{config}/{split}", split=split, policy="keep")
        return listed - start, time.perf_counter() - listed, index.num_files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "audio-dialogues-bench")
    parser.add_argument("--audio-files", type=int, default=120_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--out-json", type=Path)
    args = parser.parse_args()
    logging.getLogger("audio_dialogues").setLevel(logging.WARNING)
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()

    workload = ensure_workload(args.workdir, args.audio_files)
    cache_root = args.workdir / "caches"
    runs = [
        (name, fmt)
        for fmt in ("json", "jsonl")
        for name in CONTENDERS
        if not (name in JSONL_ONLY and fmt == "json") and not (name in ONCE and fmt == "jsonl")
    ]
    seconds: dict[str, dict[str, list[float]]] = {}
    join_seconds: dict[str, list[tuple[float, float, int]]] = {}
    for config in args.configs:
        seconds[config] = {f"{name} ({fmt})": [] for name, fmt in runs}
        join_seconds[config] = []
        make_ready_rows(workload, config)
        for _ in range(args.repeats):  # interleaved: every contender sees the same machine state
            for name, fmt in runs:
                shutil.rmtree(cache_root, ignore_errors=True)
                seconds[config][f"{name} ({fmt})"].append(
                    timed(CONTENDERS[name], workload, config, fmt, str(cache_root))
                )
            join_seconds[config].append(index_and_join(workload, config))
        shutil.rmtree(cache_root, ignore_errors=True)

    print(machine())
    print(
        f"workload: full published sizes, {workload.audio_files} audio files in {workload.audio_dir}; "
        f"median of {args.repeats} repeats; records/s = records of both splits / median seconds\n"
    )
    rows = []
    for config in args.configs:
        records = sum(SUBSETS[config].published.values())
        medians = {run: median(times) for run, times in seconds[config].items()}
        for fmt in ("json", "jsonl"):
            ours_s, text_s = medians[f"ours ({fmt})"], medians[f"ours, text only ({fmt})"]
            for run, value in medians.items():
                if run.endswith(f"({fmt})"):
                    rows.append(
                        [
                            config,
                            run,
                            f"{value:.2f}",
                            f"{records / value:,.0f}",
                            f"{value / ours_s:.2f}",
                            f"{value / text_s:.2f}",
                        ]
                    )
    print(
        table(
            [
                "config",
                "contender (release format)",
                "median s",
                "records/s",
                "ours: speed vs. it (x)",
                "ours text only: speed vs. it (x)",
            ],
            rows,
        )
    )
    print("\naudio listing + join (median s):")
    join_rows = []
    for config in args.configs:
        listing, join, files = (median([run[i] for run in join_seconds[config]]) for i in range(3))
        join_rows.append([config, f"{files:,.0f}", f"{listing:.3f}", f"{join:.3f}", f"{listing + join:.3f}"])
    print(table(["config", "audio files", "listing s", "join s", "total s"], join_rows))
    if args.out_json:
        args.out_json.write_text(json.dumps({"seconds": seconds, "join": join_seconds}, indent=1))


if __name__ == "__main__":
    main()
