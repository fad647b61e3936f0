"""Time and peak memory of ``stats`` on a full-size synthetic release (163,417 records), and on a quarter of it.

    python benchmarks/bench_stats.py [--workdir /tmp/bench-stats] [--repeats 3]

The release is tests/synthetic.py's (the published split sizes, the release's own formats: one JSON
array per split, and the same records as JSON Lines), without audio: stats reads no audio, and the
audio listing is the loader's own (measured in bench_prepare.py). Each run is a fresh process that
imports the package and ``datasets`` (not timed), then times ``stats(data_dir=..., verification_mode=...)``
and reports its wall and CPU seconds, its peak resident memory (``ru_maxrss``) and the resident memory
after the imports, before the run.
A quarter-size release shows how memory grows with the release.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from workload import REPO, machine, median, table

# Runs in the child: argv = release, verification_mode, repo; prints seconds, cpu, peak_mib, base_mib, records.
_CHILD = """
import json, logging, resource, sys, time
sys.path.insert(0, sys.argv[3])
from _audio_dialogues.inspection.stats import stats
import _audio_dialogues.loading.options  # what stats imports on its first call (datasets): not the run's memory
logging.getLogger("audio_dialogues").setLevel(logging.WARNING)
def rss_mib():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() / 2**20
base = rss_mib()
start, cpu = time.perf_counter(), time.process_time()
result = stats(data_dir=sys.argv[1], verification_mode=sys.argv[2] or None)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
records = sum(n["records"] for splits in result.numbers.values() for n in splits.values())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mib": peak, "base_mib": base, "records": records}))
"""


def releases(workdir: Path) -> dict[str, tuple[Path, str]]:
    """``name -> (release root, verification_mode)``, written once."""
    sys.path.insert(0, str(REPO / "tests"))
    from synthetic import write_release

    from audio_dialogues import SUBSETS

    full = {c: s.published for c, s in SUBSETS.items()}
    quarter = {c: {split: n // 4 for split, n in sizes.items()} for c, sizes in full.items()}
    out = {}
    for name, sizes, fmt, mode in (
        ("full, JSON Lines", full, "jsonl", ""),
        ("full, JSON arrays", full, "json", ""),
        ("quarter, JSON Lines", quarter, "jsonl", "no_checks"),
    ):
        root = workdir / name.replace(", ", "-").replace(" ", "_")
        marker = root / "sizes.json"
        if not (marker.is_file() and json.loads(marker.read_text()) == sizes):
            write_release(root, sizes, fmt=fmt, seed=0)
            marker.write_text(json.dumps(sizes))
        out[name] = (root, mode)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="/tmp/bench-stats")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for name, (root, mode) in releases(Path(args.workdir)).items():
        runs = [
            json.loads(
                subprocess.run(
                    [sys.executable, "-c", _CHILD, str(root), mode, str(REPO)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            for _ in range(args.repeats)
        ]
        rows.append(
            [
                name,
                runs[0]["records"],
                median([r["seconds"] for r in runs]),
                median([r["cpu"] for r in runs]),
                median([r["peak_mib"] for r in runs]),
                median([r["base_mib"] for r in runs]),
            ]
        )
    print(machine())
    print(f"median of {args.repeats} runs, each a fresh process\n")
    print(table(["release", "records", "seconds", "CPU seconds", "peak RSS (MiB)", "RSS after imports (MiB)"], rows))


if __name__ == "__main__":
    main()
