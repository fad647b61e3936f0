"""Benchmark: sharded download at full size (120,000 clips) and the archive path's clips per second.

    python benchmarks/bench_scale.py [--clips 120000] [--dialogues 120000] [--shards 4] [--speed-clips 24]
                                     [--workdir DIR] [--only-generate] [--repo DIR ...] [--rounds N]

``--repo`` (repeatable) measures the download phases of other checkouts too (e.g. a ``git worktree`` of main),
side by side over the same workload: each round runs every checkout's phases in turn (the merged ledger of
the previous one removed first), and the table gives each figure's median over ``--rounds``. The generate
phases also run ``--rounds`` times (this checkout only) and give medians and the ratio to the minimal script.

1. Scale. A release of ``--clips`` AudioSet ids (JSON, the release's format), their segments CSV, one small file
   per clip in OUT_DIR and ``--shards`` finished shard ledgers (as N shards leave them). Then, each phase in a
   fresh Python process (its time, and its peak resident memory: ``VmHWM`` of ``/proc/self/status``):

   - plan: ``plan_clips`` alone (read the release and the clip times);
   - shard resume: ``download(..., shard="1/N")`` over its finished part (nothing to fetch);
   - merge: the first unsharded ``download``: folds the N shard ledgers, finds nothing to fetch, writes the
     merged ledger;
   - resume: the same command again (the merged ledger and the shard ledgers are read);
   - status: ``download(..., status=True)``;
   - minimal: a script that reads the release's ids, every ledger line and stats every clip file: the least
     a "does this folder need anything" answer can cost.

   The same for ``generate`` at ``--dialogues`` (audioset_dialogues, a strong-label TSV of that many clips, N
   finished shard ledgers): a shard's resume, the merge (folds the shard ledgers into ``ledger.jsonl`` and
   writes the release), a rerun, ``--status``, and a minimal script that rewrites the splits from the ledgers;
   ``--rounds R`` runs them R times over the same workload (put back as the shards left it) and prints medians.

2. Speed. ``--speed-clips`` clips fetched by ``download`` (3 jobs, FLAC at 16 kHz) from a Parquet archive and,
   into another folder, from the test suite's YouTube stand-in on 127.0.0.1 (real yt-dlp + ffmpeg against
   ``tests/test_download.py`` ``ClipServer``, which serves WAV with range requests).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workload import REPO, machine, table

PHASE = """
import json, sys, time
sys.path.insert(0, {repo!r})
started = time.perf_counter()
{body}
seconds = time.perf_counter() - started
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"seconds": seconds, "peak_mb": peak_kb / 1024}}))
"""

DOWNLOAD = """
from _audio_dialogues.download.run import download
result = download({out!r}, "audioset_dialogues", data_dir={release!r}, verification_mode="no_checks",
                  clip_times=[{times!r}], progress=False{more})
assert result.tried == 0, result.summary()
"""

PLAN = """
from _audio_dialogues.download.plan import plan_clips
plan = plan_clips("audioset_dialogues", data_dir={release!r}, verification_mode="no_checks", clip_times=[{times!r}])
assert len(plan.clips) == {clips}
"""

MINIMAL = """
import glob, json, os
ids = set()
for name in ("train", "test"):
    with open(os.path.join({release!r}, "audioset_dialogues", name + ".json")) as f:
        ids.update(r["audio_id"][1:12] for r in json.load(f))
ok = {{}}
for ledger in glob.glob(os.path.join({out!r}, "download_status*.tsv")):
    with open(ledger) as f:
        next(f)
        for line in f:
            values = line.split("\\t")
            if values[1] == "ok":
                ok[values[0]] = values[3]
need = [y for y in ids if y not in ok or not os.path.isfile(os.path.join({out!r}, ok[y]))]
assert not need
"""


def youtube_ids(count: int) -> list[str]:
    rng = random.Random(0)
    alphabet = string.ascii_letters + string.digits + "-_"
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen["".join(rng.choices(alphabet, k=11))] = None
    return list(seen)


def write_scale_workload(root: Path, clips: int, shards: int) -> tuple[Path, Path, Path]:
    """The release, the segments CSV, OUT_DIR with one file per clip and the shards' finished ledgers."""
    from _audio_dialogues.download.fetch import LedgerRow
    from _audio_dialogues.download.run import LEDGER, LEDGER_COLUMNS
    from _audio_dialogues.engine.shard import Shard, owner

    ids = youtube_ids(clips)
    release, out = root / "release", root / "out"
    (release / "audioset_dialogues").mkdir(parents=True)
    turn = [{"user": "What do you hear?", "assistant": "A dog barks twice."}]
    records = [{"audio_id": f"Y{y}.wav", "dialogue": turn} for y in ids]
    cut = clips * 9 // 10
    for split, part in (("train", records[:cut]), ("test", records[cut:])):
        (release / "audioset_dialogues" / f"{split}.json").write_text(json.dumps(part), encoding="utf-8")
    times = root / "segments.csv"
    times.write_text("".join(f'{y}, 30.000, 40.000, "/m/09x0r"\n' for y in ids), encoding="utf-8")
    out.mkdir()
    files = {}
    for y in ids:
        files[y] = f"{y}_30_40.flac"
        (out / files[y]).write_bytes(b"f")
    for k in range(1, shards + 1):
        path = Shard(k, shards).path(out / LEDGER)
        rows = [LedgerRow(y, "ok", 1, files[y], "30", "40", "10.00 s", "archive a.parquet") for y in ids]
        lines = [row.to_line() for row in rows if owner(row.youtube_id, shards) == k]
        path.write_text("\t".join(LEDGER_COLUMNS) + "\n" + "".join(lines), encoding="utf-8")
    return release, times, out


def phase(body: str, repo: Path = REPO) -> dict:
    script = PHASE.format(repo=str(repo), body=body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def scale(root: Path, clips: int, shards: int, repos: list[Path], rounds: int) -> list[list[object]]:
    started = time.perf_counter()
    release, times, out = write_scale_workload(root, clips, shards)
    print(f"workload: {clips} clips, {shards} shard ledgers written in {time.perf_counter() - started:.1f} s")
    kw = dict(out=str(out), release=str(release), times=str(times), clips=clips)
    phases = [
        ("plan", PLAN.format(**kw)),
        (f"shard resume (1/{shards})", DOWNLOAD.format(**kw, more=f", shard='1/{shards}'")),
        (f"merge ({shards} shard ledgers)", DOWNLOAD.format(**kw, more="")),
        ("resume (merged + shard ledgers)", DOWNLOAD.format(**kw, more="")),
        ("status", DOWNLOAD.format(**kw, more=", status=True")),
    ]
    figures: dict[tuple[str, str], list[dict]] = {}
    for number in range(1, rounds + 1):
        for repo in repos:
            (out / "download_status.tsv").unlink(missing_ok=True)  # the merge starts from the shard ledgers alone
            for name, body in phases:
                got = phase(body, repo)
                figures.setdefault((repo.name, name), []).append(got)
                print(
                    f"  round {number}, {repo.name}, {name}: {got['seconds']:.2f} s, {got['peak_mb']:.0f} MB",
                    flush=True,
                )
        got = phase(MINIMAL.format(**kw))
        figures.setdefault(("", "minimal script"), []).append(got)
        print(f"  round {number}, minimal script: {got['seconds']:.2f} s, {got['peak_mb']:.0f} MB", flush=True)
    rows = []
    for (repo_name, name), runs in figures.items():
        seconds = statistics.median(run["seconds"] for run in runs)
        peak = statistics.median(run["peak_mb"] for run in runs)
        rows.append([repo_name, name, f"{seconds:.2f}", f"{peak:.0f}"])
    return rows


GENERATE = """
from _audio_dialogues.generation.pipeline import generate
summary = generate({out!r}, "audioset_dialogues", sources=("train={strong}",), progress=False,
                   echo=lambda text: None{more})
assert summary.requests == 0 and summary.pending == 0, summary.summary()
assert {status} or summary.written["train"] == {count}, summary.summary()
"""

REWRITE = """
import json, os
records = {{"train": [], "test": []}}
folder = os.path.join({out!r}, "audioset_dialogues")
for name in sorted(os.listdir(folder)):
    if name.startswith("ledger") and name.endswith(".jsonl"):
        with open(os.path.join(folder, name)) as f:
            for line in f:
                entry = json.loads(line)
                if entry["status"] == "ok":
                    audio = {{"audio_id": entry["audio_ids"][0], "events": entry["events"][0]}}
                    records[entry["split"]].append({{**audio, "dialogue": entry["dialogue"]}})
for split, rows in records.items():
    with open(os.path.join({out!r}, "minimal-" + split + ".jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\\n" for r in rows)
"""


def write_generate_workload(root: Path, count: int, shards: int) -> tuple[Path, Path]:
    """A strong-label TSV of ``count`` clips and the N shards' finished ledgers of their dialogues."""
    from _audio_dialogues.engine.shard import Shard, owner

    ids = youtube_ids(count)
    strong = root / "strong.tsv"
    header = "segment_id\tstart_time_seconds\tend_time_seconds\tlabel\n"
    strong.write_text(header + "".join(f"{y}_30000\t0.000\t10.000\t/m/09x0r\n" for y in ids), encoding="utf-8")
    out = root / "generated"
    (out / "audioset_dialogues").mkdir(parents=True)
    event = [{"mid": "/m/09x0r", "label": "Speech", "start": 0.0, "end": 10.0, "description": "people talking"}]
    dialogue = [{"user": "What do you hear?", "assistant": "Someone speaks."},
                {"user": "Anything else?", "assistant": "Nothing more stands out."}]  # fmt: skip
    files = [Shard(k, shards).path(out / "audioset_dialogues" / "ledger.jsonl").open("w") for k in range(1, shards + 1)]
    for y in ids:
        entry = {"key": y, "status": "ok", "split": "train", "audio_ids": [f"Y{y}.wav"], "most_similar": None,
                 "events": [event], "dialogue": dialogue, "reason": None, "reply": json.dumps(dialogue),
                 "model": "m", "usage": {"prompt_tokens": 495, "completion_tokens": 42}, "requests": 1,
                 "retries": [], "prompt_sha256": "0b76ff881e7cd3d3"}  # fmt: skip
        files[owner(y, shards) - 1].write(json.dumps(entry) + "\n")
    for file in files:
        file.close()
    return strong, out


def generate_scale(root: Path, count: int, shards: int, repeat: int = 1) -> list[list[object]]:
    """The generate phases, in order, ``repeat`` times (the folder put back as the shards left it each time):
    each phase's median seconds and peak, and its ratio to the minimal script's median."""
    started = time.perf_counter()
    strong, out = write_generate_workload(root, count, shards)
    print(f"workload: {count} dialogues in {shards} shard ledgers written in {time.perf_counter() - started:.1f} s")
    snapshot = root / "generated-as-the-shards-left-it"
    shutil.copytree(out, snapshot)
    kw = dict(out=str(out), strong=str(strong), count=count)
    phases = [
        (f"generate shard resume (1/{shards})", GENERATE.format(**kw, more=f", shard='1/{shards}'", status=True)),
        (f"generate merge ({shards} shard ledgers)", GENERATE.format(**kw, more="", status=False)),
        ("generate rerun (merged + shard ledgers)", GENERATE.format(**kw, more="", status=False)),
        ("generate status", GENERATE.format(**kw, more=", status=True", status=True)),
        ("minimal script: ledgers -> splits", REWRITE.format(**kw)),
    ]
    figures: dict[str, list[dict]] = {name: [] for name, _ in phases}
    for time_ in range(repeat):
        if time_:
            shutil.rmtree(out)
            shutil.copytree(snapshot, out)
        for name, body in phases:
            figures[name].append(phase(body))
            last = figures[name][-1]
            print(f"  {name}: {last['seconds']:.2f} s, peak {last['peak_mb']:.0f} MB", flush=True)
    minimal = statistics.median(f["seconds"] for f in figures[phases[-1][0]])
    rows = []
    for name, _ in phases:
        seconds = statistics.median(f["seconds"] for f in figures[name])
        peak = statistics.median(f["peak_mb"] for f in figures[name])
        rows.append([name, f"{seconds:.2f}", f"{peak:.0f}", f"{seconds / minimal:.2f}"])
    return rows


def speed(root: Path, count: int) -> list[list[object]]:
    """Clips per second: a Parquet archive against the loopback YouTube stand-in, the same clips."""
    sys.path.insert(0, str(REPO / "tests"))
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import soundfile
    from test_download import ClipServer, tone_clip

    from _audio_dialogues.download.plan import ClipTime
    from _audio_dialogues.download.run import download

    ids = youtube_ids(count)
    window = ClipTime(5.0, 15.0)
    release = root / "speed-release" / "audioset_dialogues"
    release.mkdir(parents=True)
    turn = [{"user": "What do you hear?", "assistant": "A dog barks twice."}]
    for split in ("train", "test"):
        records = [{"audio_id": f"Y{y}.wav", "dialogue": turn} for y in (ids if split == "train" else ids[:1])]
        (release / f"{split}.json").write_text(json.dumps(records), encoding="utf-8")
    times = root / "speed-segments.csv"
    times.write_text("".join(f'{y}, {window.start}, {window.end}, "/m/1"\n' for y in ids), encoding="utf-8")
    archive = root / "archive"
    archive.mkdir()
    t = np.arange(10 * 48000) / 48000
    tone = (0.4 * np.sin(2 * np.pi * 1000 * t)).astype("float32")
    data = []
    for _ in ids:
        buffer = io.BytesIO()
        soundfile.write(buffer, np.stack([tone, tone], axis=1), 48000, format="FLAC")
        data.append({"bytes": buffer.getvalue(), "path": "x.flac"})
    pq.write_table(pa.table({"video_id": ids, "audio": data}), archive / "train-00000-of-00001.parquet")
    server = ClipServer({y: tone_clip(window) for y in ids})
    common = dict(data_dir=str(root / "speed-release"), verification_mode="no_checks", clip_times=[str(times)],
                  progress=False, jobs=3)  # fmt: skip
    rows = []
    try:
        for name, more in (
            ("Parquet archive", {"archive": (str(archive),), "youtube": False}),
            ("YouTube stand-in (yt-dlp + ffmpeg, 127.0.0.1)", {"url_template": server.url_template}),
        ):
            started = time.perf_counter()
            result = download(root / f"out-{len(rows)}", "audioset_dialogues", **common, **more)
            seconds = time.perf_counter() - started
            assert result.counts == {"ok": count}, result.summary()
            rows.append([name, count, f"{seconds:.1f}", f"{count / seconds:.2f}"])
            print(f"  {name}: {count} clips in {seconds:.1f} s, {count / seconds:.2f} clips/s", flush=True)
    finally:
        server.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=120_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--speed-clips", type=int, default=24, help="0: no archive vs YouTube speed")
    parser.add_argument("--dialogues", type=int, default=120_000, help="0: no generate phases")
    parser.add_argument("--only-generate", action="store_true", help="only the generate phases")
    parser.add_argument("--workdir", default=None, help="where the workload is written (default: a temp folder)")
    parser.add_argument(
        "--repo", action="append", type=Path, help="a checkout to measure (repeatable; default this one)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every phase; the median of each is shown")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        root = Path(folder)
        if not args.only_generate:
            repos = [repo.resolve() for repo in args.repo or [REPO]]
            rows = scale(root, args.clips, args.shards, repos, args.rounds)
            print(table(["checkout", "phase", "seconds", "peak MB"], rows))
        if args.dialogues:
            rows = generate_scale(root, args.dialogues, args.shards, args.rounds)
            print(table(["phase", f"seconds (median of {args.rounds})", "peak MB", "x minimal"], rows))
        if args.only_generate or not args.speed_clips:
            return
        print(table(["source", "clips", "seconds", "clips/s"], speed(root, args.speed_clips)))


if __name__ == "__main__":
    main()
