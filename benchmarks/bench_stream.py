"""Streaming benchmarks (issue 3, benchmarks 3 and 4): a training-loop epoch, and time to first example.

    python benchmarks/bench_stream.py [--config music_dialogues] [--repeats 3] [--first-runs 5] [--out-json FILE]
    python benchmarks/bench_stream.py --ranks 4 --release-dir DIR [--config audioset_dialogues]

Workload: the shared one of ``workload.py`` (the published split sizes of every config, and
``--audio-files`` real wav/flac/mp3 clips of 10 s at 16-48 kHz, mono and stereo, 15 % of ids drawn
missing; the files go to the configs in the order music, audioset, comparison, so the default
120,000 cover the first two whole), written once into ``--workdir`` and reused. Each config reads
the release's JSON files and its own audio folder, ``<workdir>/audio/<config>``.

3. Epoch: one full pass over ``--config``/``--split`` with audio decoded (resampled to 16 kHz), as
   plain iteration (``for example in ds``) and, when torch is installed, through
   ``torch.utils.data.DataLoader(ds, batch_size, num_workers=0 | 2, collate_fn=collate_audio)``.
   Every run is a fresh process; examples/s is timed from creating the iterator to the last example
   (so it includes the split's lazy join and the workers' start) and is the median of ``--repeats``.
   Memory is that of the process tree (the run and its DataLoader workers, found through
   ``/proc/<pid>/task/<tid>/children``), read from ``/proc`` by a thread every 0.2 s: the sum of
   ``VmRSS`` (counts pages that forked workers share with the parent once per process: an upper
   bound) and of ``Pss`` from ``/proc/<pid>/smaps_rollup`` (shared pages divided among their
   processes: what the tree really holds). The peak is the largest sample; the tree's RSS is also
   read when 10 %, 20 %, ..., 100 % of the examples have arrived, to show whether memory grows
   with the number of examples.
5. Memory per rank (``--ranks N --release-dir DIR``): N processes started together, each streaming its
   part of ``--config``/``--split`` of the release under ``DIR`` (e.g. a 300k-record JSON Lines file
   written by ``tests/synthetic.py``) through ``datasets.distributed.split_dataset_by_node``, text only
   (no ``audio_dir``, ``verification_mode="no_checks"``); each reports its peak RSS (``VmHWM``), its
   examples and its time. The ranks' examples must add up to the split, each once. A DataLoader
   worker reads its shards the same way, so this is also the memory of one worker.
4. Time to first example: in a fresh process with the package already imported, from calling
   ``load_dataset(config, "train", streaming=True, ...)`` to the first example out of
   ``next(iter(ds))`` (decoded when its clip exists), median of ``--first-runs`` processes per
   config, each with an empty cache folder; compared with one full non-streaming ``load_dataset``
   (preparing both splits) of the same config, and its first example.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from workload import CONFIGS, REPO, Workload, ensure_workload, machine, table  # also puts this checkout on sys.path

MODES = ("plain", "dataloader-0", "dataloader-2")
SAMPLE_EVERY = 0.2  # seconds between memory samples
MB = 1024 * 1024


# --- memory of a process tree, from /proc ---------------------------------------------------------------


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants (processes that exit while we look are left out)."""
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in threads:
            try:
                stack.extend(int(child) for child in Path(f"/proc/{pid}/task/{tid}/children").read_text().split())
            except OSError:
                pass
    return pids


def _proc_kb(path: str, key: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0  # the process has exited


def tree_memory(root: int) -> dict[str, int]:
    """Bytes of RSS and PSS, summed over the tree of ``root``."""
    pids = tree_pids(root)
    return {
        "rss": 1024 * sum(_proc_kb(f"/proc/{pid}/status", "VmRSS:") for pid in pids),
        "pss": 1024 * sum(_proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in pids),
        "processes": len(pids),
    }


class PeakSampler:
    """A thread sampling :func:`tree_memory` of this process every ``SAMPLE_EVERY`` s; keeps the peaks."""

    def __init__(self) -> None:
        self.peak = {"rss": 0, "pss": 0, "processes": 0}
        self.samples = 0
        self._lock = threading.Lock()  # the epoch loop also takes samples, at every tenth of the examples
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.take()
            self._stop.wait(SAMPLE_EVERY)

    def take(self) -> dict[str, int]:
        now = tree_memory(os.getpid())
        with self._lock:
            self.peak = {key: max(self.peak[key], value) for key, value in now.items()}
            self.samples += 1
        return now

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.take()


# --- the measurements, each run in a fresh child process ---------------------------------------------------


def child_epoch(args: argparse.Namespace) -> dict[str, Any]:
    """One full epoch of ``args.config``/``args.split`` in ``args.mode``."""
    import logging

    from audio_dialogues import load_dataset

    logging.getLogger("audio_dialogues").setLevel("WARNING")
    if args.mode != "plain":
        from torch.utils.data import DataLoader

        from _audio_dialogues.loading.training import collate_audio
    baseline = tree_memory(os.getpid())["rss"]  # after the imports, before any data
    ds = load_dataset(
        args.config, args.split, data_dir=args.release, audio_dir=args.audio, streaming=True, cache_dir=args.cache
    )
    batches: Iterator[list[str]]
    if args.mode == "plain":
        batches = ([example["id"]] for example in ds)
    else:
        workers = int(args.mode.rsplit("-", 1)[1])
        loader = DataLoader(ds, batch_size=args.batch_size, num_workers=workers, collate_fn=collate_audio)
        batches = (batch["id"] for batch in loader)
    total = args.expected
    marks = [round(total * tenth / 10) for tenth in range(1, 11)]
    seen: set[str] = set()
    count, at = 0, []
    with PeakSampler() as sampler:
        cpu_start, start = cpu_seconds(), time.perf_counter()
        for ids in batches:
            count += len(ids)
            seen.update(ids)
            while marks and count >= marks[0]:
                at.append(sampler.take()["rss"])
                marks.pop(0)
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    if count != total or len(seen) != total:
        raise RuntimeError(f"{args.mode}: {count} examples ({len(seen)} distinct), expected {total} once each")
    return {
        "examples": count,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rss_after_imports": baseline,
        "peak_rss": sampler.peak["rss"],
        "peak_pss": sampler.peak["pss"],
        "processes": sampler.peak["processes"],
        "rss_at_tenths": at,
        "samples": sampler.samples,
        "main_vmhwm": 1024 * _proc_kb("/proc/self/status", "VmHWM:"),
    }


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its children that have been waited for.

    DataLoader workers are joined when their iterator is exhausted, so after an epoch their time is in.
    """
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def child_first(args: argparse.Namespace) -> dict[str, Any]:
    """Time from ``load_dataset(..., streaming=True)`` to the first example of ``next(iter(ds))``."""
    import logging

    from audio_dialogues import load_dataset

    logging.getLogger("audio_dialogues").setLevel("WARNING")
    torch_import = _import_torch()
    start = time.perf_counter()
    ds = load_dataset(
        args.config, "train", data_dir=args.release, audio_dir=args.audio, streaming=True, cache_dir=args.cache
    )
    returned = time.perf_counter()
    example = next(iter(ds))
    first = time.perf_counter()
    audio = example.get("audio", (example.get("audios") or [None])[0])
    return {
        "load_dataset": returned - start,
        "first_example": first - start,
        "decoded": audio is not None,
        "torch_import": torch_import,
    }


def _import_torch() -> float | None:
    """Import torch if installed, and say how long it took.

    When torch is installed, ``datasets.IterableDataset`` imports it on creation (to subclass torch's
    IterableDataset), which would put seconds of torch import into time to first example; a
    training loop has imported torch long before, so it is imported first and timed apart.
    """
    start = time.perf_counter()
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    return time.perf_counter() - start


def child_prepare(args: argparse.Namespace) -> dict[str, Any]:
    """A full non-streaming load (both splits prepared), then its first example."""
    import logging

    from audio_dialogues import load_dataset

    logging.getLogger("audio_dialogues").setLevel("WARNING")
    start = time.perf_counter()
    ds = load_dataset(args.config, data_dir=args.release, audio_dir=args.audio, cache_dir=args.cache)
    prepared = time.perf_counter()
    ds["train"][0]
    return {"prepare": prepared - start, "first_example": time.perf_counter() - start}


def child_rank(args: argparse.Namespace) -> dict[str, Any]:
    """One rank of ``--ranks``: stream its part of the split, text only; its peak RSS and examples."""
    import logging

    from datasets.distributed import split_dataset_by_node

    from audio_dialogues import load_dataset

    logging.getLogger("audio_dialogues").setLevel("WARNING")
    baseline = 1024 * _proc_kb("/proc/self/status", "VmRSS:")
    start = time.perf_counter()
    ds = load_dataset(
        args.config,
        args.split,
        data_dir=args.release,
        streaming=True,
        cache_dir=args.cache,
        verification_mode="no_checks",
    )
    ids = [example["id"] for example in split_dataset_by_node(ds, rank=args.rank, world_size=args.world_size)]
    return {
        "rank": args.rank,
        "examples": len(ids),
        "ids_digest": hash(tuple(ids)) & 0xFFFFFFFF,
        "first_id": ids[:1],
        "seconds": time.perf_counter() - start,
        "rss_after_imports": baseline,
        "peak_rss": 1024 * _proc_kb("/proc/self/status", "VmHWM:"),
        "all_ids": ids if args.keep_ids else None,
    }


def ranks_main(args: argparse.Namespace) -> None:
    """``--ranks N``: N ranks streaming one split together; peak RSS per rank."""
    began = time.perf_counter()
    split_file = next(p for p in (args.release_dir / args.config).iterdir() if p.name.split(".")[0] == args.split)
    records = sum(1 for line in split_file.open("rb") if line.strip())
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "rank",
        "--config",
        args.config,
        "--split",
        args.split,
        "--release",
        str(args.release_dir),
        "--world-size",
        str(args.ranks),
        "--keep-ids",
        "1",
    ]
    children = [
        subprocess.Popen(
            command + ["--rank", str(rank), "--cache", str(args.workdir / f"rank-cache-{rank}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(args.ranks)
    ]
    results = []
    for child in children:
        out, err = child.communicate()
        if child.returncode:
            raise RuntimeError(f"a rank failed:\n{err[-3000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    ids = [i for r in results for i in r.pop("all_ids")]
    if len(ids) != records or len(set(ids)) != records:
        raise RuntimeError(
            f"the ranks read {len(ids)} examples ({len(set(ids))} distinct), expected {records} once each"
        )
    env = environment()
    print(
        f"# bench_stream --ranks {args.ranks}\n\n{env['machine']}\ncommit: {env['commit']}\n"
        f"load average: {env['load average']}"
    )
    print(
        f"release: {split_file} ({split_file.stat().st_size / MB:.0f} MB, {records} records), streamed by "
        f"{args.ranks} ranks at once (split_dataset_by_node), text only; total {time.perf_counter() - began:.0f} s\n"
    )
    print(
        table(
            ["rank", "examples", "seconds", "RSS after imports (MB)", "peak RSS (MB)"],
            [
                [
                    r["rank"],
                    r["examples"],
                    f"{r['seconds']:.1f}",
                    f"{r['rss_after_imports'] / MB:.0f}",
                    f"{r['peak_rss'] / MB:.0f}",
                ]
                for r in results
            ],
        )
    )


CHILDREN = {"epoch": child_epoch, "first": child_first, "prepare": child_prepare, "rank": child_rank}


def run_child(kind: str, workload: Workload, config: str, cache: Path, **extra: Any) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its JSON result is the last line of its stdout."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--config",
        config,
        "--release",
        str(workload.release_json),
        "--audio",
        str(workload.audio_dir / config),
        "--cache",
        str(cache),
    ]
    for key, value in extra.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    shutil.rmtree(cache, ignore_errors=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- report ----------------------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    """What workload.machine() does not say: torch, soxr, the load on the machine, the commit."""

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    git = ["git", "-C", str(REPO), "describe", "--always", "--dirty"]
    return {
        "machine": machine(),
        "torch": version("torch"),
        "soxr": version("soxr"),
        "load average": load_average(),
        "commit": subprocess.run(git, capture_output=True, text=True).stdout.strip(),
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine shows here."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def epoch_table(results: dict[str, list[dict[str, Any]]], batch_size: int) -> str:
    rows = []
    for mode, runs in results.items():
        rates = [r["examples"] / r["seconds"] for r in runs]
        tenths = max(runs, key=lambda r: max(r["rss_at_tenths"]))["rss_at_tenths"]
        rows.append(
            [
                "plain iteration" if mode == "plain" else f"DataLoader, {mode[-1]} workers, batch {batch_size}",
                runs[0]["examples"],
                f"{statistics.median(rates):.1f}",
                ", ".join(f"{r:.1f}" for r in rates),
                f"{statistics.median(1000 * r['cpu_seconds'] / r['examples'] for r in runs):.1f}",
                f"{statistics.median(r['cpu_seconds'] / r['seconds'] for r in runs):.2f}",
                f"{statistics.median(r['rss_after_imports'] for r in runs) / MB:.0f}",
                f"{max(r['peak_rss'] for r in runs) / MB:.0f}",
                f"{max(r['peak_pss'] for r in runs) / MB:.0f}",
                max(r["processes"] for r in runs),
                " ".join(f"{v / MB:.0f}" for v in tenths),
            ]
        )
    return table(
        [
            "mode",
            "examples",
            "examples/s (median)",
            "runs (examples/s)",
            "CPU s per 1000 examples",
            "cores busy",
            "RSS after imports (MB)",
            "peak RSS, tree (MB)",
            "peak PSS, tree (MB)",
            "processes",
            "tree RSS at 10 % ... 100 % of examples (MB)",
        ],
        rows,
    )


def first_table(
    first: dict[str, list[dict[str, Any]]], prepare: dict[str, dict[str, Any]], sizes: dict[str, int]
) -> str:
    rows = []
    for config, runs in first.items():
        times = [r["first_example"] for r in runs]
        rows.append(
            [
                f"{config} ({sizes[config]})",
                f"{statistics.median(r['load_dataset'] for r in runs):.2f}",
                f"{statistics.median(times):.2f}",
                ", ".join(f"{t:.2f}" for t in times),
                f"{sum(r['decoded'] for r in runs)} of {len(runs)}",
                f"{prepare[config]['prepare']:.1f}",
                f"{prepare[config]['first_example']:.1f}",
            ]
        )
    lines = [
        table(
            [
                "config (train records)",
                "load_dataset returns (s)",
                "first example, streaming (s)",
                "runs (s)",
                "first clip decoded",
                "full prepare, non-streaming, once (s)",
                "its first example (s)",
            ],
            rows,
        )
    ]
    imports = [r["torch_import"] for runs in first.values() for r in runs if r["torch_import"] is not None]
    if imports:
        lines.append(
            f"\nMedians of the runs. torch was imported before the clock started (median "
            f"{statistics.median(imports):.2f} s): datasets' IterableDataset imports it on creation when it "
            "is installed, and a training loop has imported it already."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog=__doc__.split("\n", 3)[3],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", choices=CONFIGS, default="music_dialogues", help="config of the epoch (default music_dialogues)"
    )
    parser.add_argument("--split", choices=("train", "test"), default="train")
    parser.add_argument("--repeats", type=int, default=3, help="epochs per mode (default 3)")
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=MODES,
        default=list(MODES),
        help="epoch modes (default all; the DataLoader ones only where torch is installed)",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--first-runs", type=int, default=5, help="fresh processes per config for time to first example (default 5)"
    )
    parser.add_argument("--first-configs", nargs="*", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "audio-dialogues-bench",
        help="where the shared workload is written once and reused (default: %(default)s)",
    )
    parser.add_argument("--audio-files", type=int, default=120_000, help="audio files of the workload (default 120000)")
    parser.add_argument("--out-json", type=Path)
    parser.add_argument("--ranks", type=int, help="measure peak RSS per rank of N ranks streaming --release-dir")
    parser.add_argument(
        "--release-dir", type=Path, help="release root for --ranks (e.g. written by tests/synthetic.py)"
    )
    # A measurement in a child process (internal).
    parser.add_argument("--child", choices=CHILDREN, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--release", help=argparse.SUPPRESS)
    parser.add_argument("--audio", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--expected", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rank", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--world-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--keep-ids", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return
    if args.ranks:
        if args.release_dir is None:
            parser.error("--ranks needs --release-dir")
        ranks_main(args)
        return

    from audio_dialogues import SUBSETS

    began, env = time.perf_counter(), environment()
    modes = [m for m in args.modes if env["torch"] or m == "plain"]
    workload = ensure_workload(args.workdir, args.audio_files)
    cache = args.workdir / "stream-cache"  # emptied before every run
    expected = SUBSETS[args.config].published[args.split]
    epochs: dict[str, list[dict[str, Any]]] = {}
    for repeat in range(args.repeats):  # modes interleaved, so that other load on the machine hits each alike
        for mode in modes:
            print(f"epoch {args.config}/{args.split} {mode} #{repeat + 1} ...", file=sys.stderr, flush=True)
            run = run_child(
                "epoch",
                workload,
                args.config,
                cache,
                mode=mode,
                split=args.split,
                batch_size=args.batch_size,
                expected=expected,
            )
            epochs.setdefault(mode, []).append(run)
    first: dict[str, list[dict[str, Any]]] = {}
    prepare: dict[str, dict[str, Any]] = {}
    for config in args.first_configs:
        print(f"first example {config} x{args.first_runs}, then a full prepare ...", file=sys.stderr, flush=True)
        first[config] = [run_child("first", workload, config, cache) for _ in range(args.first_runs)]
        prepare[config] = run_child("prepare", workload, config, cache)
    shutil.rmtree(cache, ignore_errors=True)

    sizes = {name: subset.published["train"] for name, subset in SUBSETS.items()}
    files = {config: sum(1 for p in (workload.audio_dir / config).rglob("*") if p.is_file()) for config in CONFIGS}
    env["load average at the end"], env["total time"] = load_average(), f"{time.perf_counter() - began:.0f} s"
    print(f"# bench_stream\n\n{env['machine']}")
    for key in ("torch", "soxr", "commit", "load average", "load average at the end", "total time"):
        print(f"{key}: {env[key] or 'not installed'}")
    print(f"workload: {workload.root}: full-size synthetic release, audio files per config {files}")
    print(
        f"\n## Epoch: {args.config}/{args.split}, audio decoded to 16 kHz, {args.repeats} runs per mode, "
        "each a fresh process\n"
    )
    print(epoch_table(epochs, args.batch_size))
    print(
        "\nCPU s: user + system time of the run and its workers; cores busy: CPU s / wall s (this machine has "
        f"{os.cpu_count()}). RSS sums the processes' VmRSS (shared pages counted in each: an upper bound); PSS divides "
        f"shared pages among processes; both sampled every {SAMPLE_EVERY} s from /proc. The row with the highest "
        "tenth is shown; peaks are the highest of the runs. RSS after imports is taken before load_dataset; in "
        "plain iteration torch is not imported yet then (datasets imports it when the stream is created)."
    )
    if first:
        print(
            f"\n## Time to first example (train split), {args.first_runs} fresh processes per config, "
            "package already imported\n"
        )
        print(first_table(first, prepare, sizes))
    if args.out_json:
        report = {
            "environment": env,
            "workload": {"root": str(workload.root), "audio_files": files},
            "epoch": {"config": args.config, "split": args.split, "batch_size": args.batch_size, "runs": epochs},
            "first_example": first,
            "prepare": prepare,
        }
        args.out_json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
