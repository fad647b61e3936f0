"""What every benchmark shares: the full-size synthetic workload, the machine, and the median table.

The workload is written once into a folder and reused while its parameters stay the same::

    <workdir>/release-json/<config>/<split>.json     the published split sizes, the release's own format
    <workdir>/release-jsonl/<config>/<split>.jsonl   the same records as JSON Lines
    <workdir>/audio/                                  N real clips (wav/flac/mp3, 16-48 kHz, mono/stereo,
                                                     hard links into <workdir>/audio.pool), every name form
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # measure this checkout, installed or not
sys.path.insert(1, str(REPO / "tests"))  # the synthetic release and audio writer (tests/synthetic.py)

from audio_dialogues import CONFIGS  # noqa: E402, F401  (the subsets table, from this checkout; the benchmarks import it from here)


@dataclass(frozen=True)
class Workload:
    root: Path
    release_json: Path
    release_jsonl: Path
    audio_dir: Path
    audio_files: int

    def release(self, fmt: str) -> Path:
        """The release root in ``fmt`` ("json" or "jsonl")."""
        return self.release_json if fmt == "json" else self.release_jsonl

    def files(self, config: str, fmt: str) -> dict[str, str]:
        """``{"train": path, "test": path}`` of one config in ``fmt``."""
        return {split: str(self.release(fmt) / config / f"{split}.{fmt}") for split in ("train", "test")}


def ensure_workload(
    workdir: str | os.PathLike, audio_files: int = 120_000, seconds: float = 10.0, seed: int = 0
) -> Workload:
    """Write the workload into ``workdir`` unless it is already there with the same parameters."""
    from synthetic import write_audio, write_release

    from audio_dialogues import SUBSETS

    root = Path(workdir)
    wanted = {
        "audio_files": audio_files,
        "seconds": seconds,
        "seed": seed,
        "sizes": {c: s.published for c, s in SUBSETS.items()},
    }
    marker = root / "workload.json"
    workload = Workload(root, root / "release-json", root / "release-jsonl", root / "audio", audio_files)
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return workload
    if root.exists():
        shutil.rmtree(root)
    sizes = wanted["sizes"]
    paths = write_release(workload.release_json, sizes, fmt="json", seed=seed)
    write_release(workload.release_jsonl, sizes, fmt="jsonl", seed=seed)
    summary = write_audio(workload.audio_dir, paths, audio_files, seed=seed, seconds=seconds)
    print(f"workload: {summary.written} audio files in {workload.audio_dir} ({summary.copies} copies)", file=sys.stderr)
    marker.write_text(json.dumps(wanted))
    return workload


def machine() -> str:
    """CPU model, cores, memory, Python and the library versions that matter, on one line each."""
    import datasets
    import numpy
    import pyarrow
    import soundfile

    cpu = cpu_model()
    memory = next(
        (line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "?"
    )
    return "\n".join(
        [
            f"machine: {cpu}, {os.cpu_count()} cores, {int(memory) // 1024 // 1024} GiB, {platform.platform()}",
            f"python {platform.python_version()}, datasets {datasets.__version__}, pyarrow {pyarrow.__version__}, "
            f"numpy {numpy.__version__}, soundfile {soundfile.__version__} (libsndfile "
            f"{soundfile.__libsndfile_version__})",
            f"command: {shlex.join([os.path.relpath(sys.executable), *sys.argv])}",
        ]
    )


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    return next(
        (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
        platform.processor() or "unknown",
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(header: list[str], rows: list[list[object]]) -> str:
    """A Markdown table (pasted as is into BENCHMARKS.md)."""
    cells = [[str(c) for c in header]] + [[f"{c:.2f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
