"""Check each chat format against its consumer's own code, in throwaway environments; print a table.

    python scripts/check_consumers.py --af3-dir /tmp/af3 [--work-dir /tmp/consumer-check] [--records 20]

1. Converts every config and split to every format (``audio-dialogues convert``'s ``write_jsonl``) for
   two releases: the bundled sample, and a synthetic release of ``--records`` records per split with
   real-length (10 s) clips in wav/flac/mp3 at 16-48 kHz, mono and stereo (tests/synthetic.py).
2. Makes one virtual environment per consumer under ``--work-dir``/venvs (kept between runs: an
   environment whose requirements are unchanged is not installed again) with pinned versions from PyPI:
   ms-swift for ``swift``, transformers for ``openai`` (Qwen2-Audio), and Audio Flamingo 3's
   dependencies for ``llava``. AF3's code is not on PyPI: pass a checkout of NVIDIA/audio-flamingo,
   branch ``audio_flamingo_3``, as ``--af3-dir``; it is imported from there, never copied.
3. Runs ``scripts/consumer_probes.py`` in each environment (see it for the stand-ins of what needs the
   Hub) and compares, per file, what the consumer read with what was written: records, turns kept,
   clips loaded. Exit status 1 if any file differs or any record failed.

This is run by hand (it installs gigabytes); the test suite checks the same rules without the consumers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import datasets

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # synthetic.py writes the real-length release

# torch: the CPU wheel where pip's configuration offers one; from PyPI, torch is a multi-GB CUDA build (which
# runs on a CPU too).
TORCH = "torch==2.13.0"
CONSUMERS: dict[str, tuple[str, list[str], list[str]]] = {
    # format: (environment, requirements, extra pip options)
    "swift": ("ms-swift", [TORCH, "ms-swift==4.6.0", "librosa"], []),  # librosa: ms-swift's audio loader
    "openai": ("transformers", [TORCH, "transformers==5.19.0", "librosa", "soundfile", "jinja2"], []),
    # AF3 pins transformers 4.46.0 (its pyproject.toml); these are its data code's imports, not its training
    # stack. torchvision from PyPI is built against PyPI's torch: --isolated keeps a CPU torch offered by a
    # local pip configuration (find-links) out, whose build torchvision's operators cannot load with.
    "llava": (
        "af3",
        [
            TORCH,
            "torchvision==0.28.0",
            "transformers==4.46.0",
            "kaldiio",
            "pytorchvideo==0.1.5",
            "openai-whisper",
            "pydub",
            "librosa",
            "soundfile",
            "pillow",
            "loguru",
            "opencv-python-headless",
            "requests",
            "jinja2",
        ],
        ["--isolated"],
    ),
}
RESULT = "probe-result "  # consumer_probes.py's result lines
VERSIONS = {
    "swift": ["ms-swift", "transformers", "torch", "librosa"],
    "openai": ["transformers", "torch", "librosa"],
    "llava": ["transformers", "torch", "openai-whisper", "librosa"],
}


@dataclass
class Expected:
    source: str
    format: str
    config: str
    split: str
    file: str
    records: int
    turns: int
    clips: int
    skipped: int  # examples left out by convert (missing clips), counted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", default="/tmp/consumer-check", help="venvs, converted files, release (kept)")
    parser.add_argument("--af3-dir", help="a checkout of NVIDIA/audio-flamingo, branch audio_flamingo_3")
    parser.add_argument(
        "--ffmpeg-dir",
        help="a folder with ffmpeg and ffprobe, put first on PATH for the llava check "
        "(AF3 reads .mp3 through pydub, which runs them; AF3's Dockerfile installs FFmpeg)",
    )
    parser.add_argument("--format", action="append", choices=list(CONSUMERS), help="only this format (repeatable)")
    parser.add_argument("--records", type=int, default=20, help="records per split of the real-length release")
    args = parser.parse_args(argv)
    formats = args.format or list(CONSUMERS)
    if "llava" in formats and not args.af3_dir:
        parser.error("--af3-dir is needed for the llava check (or leave it out with --format)")
    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    import _audio_dialogues  # noqa: F401  (it sets up the logger, which is then quietened)

    logging.getLogger("audio_dialogues").setLevel("WARNING")  # the join summaries: counted in the table instead
    datasets.disable_progress_bars()

    expected = convert_all(work, formats, args.records)
    manifest = work / "manifest.json"
    manifest.write_text(json.dumps([e.__dict__ for e in expected], indent=1), encoding="utf-8")
    failed = False
    for fmt in formats:
        python = ensure_venv(work / "venvs", *CONSUMERS[fmt])
        versions = installed_versions(python, VERSIONS[fmt])
        print(f"\n## {fmt}: {', '.join(f'{k} {v}' for k, v in versions.items())}", flush=True)
        command = [str(python), str(REPO / "scripts" / "consumer_probes.py"), fmt, str(manifest)]
        if fmt == "llava":
            command += ["--af3-dir", str(Path(args.af3_dir).resolve())]
        started = time.monotonic()
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        if args.ffmpeg_dir:
            env["PATH"] = os.pathsep.join([str(Path(args.ffmpeg_dir).resolve()), env["PATH"]])
        if fmt == "llava":
            print(f"FFmpeg for AF3's mp3 reading: {shutil.which('ffprobe', path=env['PATH']) or 'none on PATH'}")
        run = subprocess.run(command, capture_output=True, text=True, env=env)
        (work / f"probe-{fmt}.stderr").write_text(run.stderr, encoding="utf-8")
        lines = [line.removeprefix(RESULT) for line in run.stdout.splitlines() if line.startswith(RESULT)]
        results = {r["file"]: r for r in map(json.loads, lines)}  # the consumers print lines of their own too
        failed |= report([e for e in expected if e.format == fmt], results)
        if run.returncode:
            print(f"the probe exited with {run.returncode}; its stderr: {work / f'probe-{fmt}.stderr'}")
            failed = True
        print(f"({time.monotonic() - started:.0f} s)")
    print("\nFAILED" if failed else "\nall formats: every record, turn and clip read by its consumer")
    return 1 if failed else 0


def convert_all(work: Path, formats: list[str], records: int) -> list[Expected]:
    """Write every config/split of both releases in every format; what each file holds."""
    from _audio_dialogues.core.subsets import CONFIGS, SPLITS
    from _audio_dialogues.loading.load import load_dataset
    from _audio_dialogues.outputs.convert import write_jsonl

    sources = {"sample": {}, "real-length": real_length_release(work / "real-length", records)}
    out = []
    for source, load_kwargs in sources.items():
        for config in CONFIGS:
            for split in SPLITS:
                rows = list(load_dataset(config, split, decode=False, cache_dir=str(work / "hf_cache"), **load_kwargs))
                for fmt in formats:
                    path = work / "files" / source / fmt / f"{config}.{split}.jsonl"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    counts = write_jsonl(rows, path, fmt)
                    out.append(
                        Expected(
                            source,
                            fmt,
                            config,
                            split,
                            str(path),
                            counts.written,
                            counts.turns,
                            counts.clips,
                            len(counts.skipped_missing_audio),
                        )
                    )
        written = [e for e in out if e.source == source and e.format == formats[0]]
        print(
            f"converted {source}: {len(written)} files of {sum(e.records for e in written)} records "
            f"({sum(e.skipped for e in written)} left out: missing clips) in each of {', '.join(formats)}",
            flush=True,
        )
    return out


def real_length_release(root: Path, records: int) -> dict:
    """A synthetic release with 10 s clips in every format the loader reads (written once, then reused)."""
    from synthetic import write_audio, write_release

    from _audio_dialogues.core.subsets import CONFIGS, SPLITS

    done = root / ".complete"
    if not done.exists():
        paths = write_release(root / "release", {c: {s: records for s in SPLITS} for c in CONFIGS}, fmt="jsonl")
        summary = write_audio(root / "clips", paths, n_files=10**6, missing=0.15, seconds=10.0)
        print(summary.describe(), flush=True)
        done.touch()
    return {"data_dir": str(root / "release"), "audio_dir": str(root / "clips"), "verification_mode": "no_checks"}


def ensure_venv(root: Path, name: str, requirements: list[str], pip_options: list[str]) -> Path:
    """``root/name`` with ``requirements`` installed; reused when its recorded requirements are the same."""
    venv, marker = root / name, root / name / ".requirements"
    python = venv / "bin" / "python"
    wanted = "\n".join(pip_options + requirements)
    if marker.exists() and marker.read_text(encoding="utf-8") == wanted:
        return python
    print(f"installing {name}: {' '.join(requirements)} (minutes)", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *pip_options, *requirements], check=True)
    marker.write_text(wanted, encoding="utf-8")
    return python


def installed_versions(python: Path, names: list[str]) -> dict[str, str]:
    code = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    run = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def report(expected: list[Expected], results: dict[str, dict]) -> bool:
    """Print one row per source/config/split; True if anything differs."""
    print("| release | config/split | written (missing clips left out) | records read | turns kept | clips loaded | |")
    print("|---|---|---|---|---|---|---|")
    failed = False
    for e in expected:
        r = results.get(e.file, {"records": 0, "turns": 0, "clips": 0, "failures": ["no result from the probe"]})
        ok = (r["records"], r["turns"], r["clips"]) == (e.records, e.turns, e.clips) and not r["failures"]
        failed |= not ok
        print(
            f"| {e.source} | {e.config}/{e.split} | {e.records} ({e.skipped}) | {r['records']}/{e.records} | "
            f"{r['turns']}/{e.turns} | {r['clips']}/{e.clips} | {'ok' if ok else 'FAIL'} |"
        )
        for failure in r["failures"]:
            print(f"    {failure}")
        if r.get("failed", 0) > len(r["failures"]):
            print(f"    ... {r['failed']} problems in all")
    return failed


if __name__ == "__main__":
    sys.exit(main())
