"""The YouTube fetcher: each clip is one ``yt-dlp`` process that fetches only the window
(``--download-sections``), then one ``ffmpeg`` process that makes it mono at the chosen rate and format.

Processes, not the ``yt_dlp.YoutubeDL`` class in threads, because a process can be timed out and killed
(with its own ffmpeg) when a video hangs, its exit status and stderr say per clip what went wrong, and a
crash in one cannot take the run down. The result is written under a temporary name and renamed to
``<youtube id>_<start>_<end>.<format>`` (a name the loader resolves by id) only when complete.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from .fetch import TEMP_DIR, Outcome
from .plan import Clip

YOUTUBE_URL = "https://www.youtube.com/watch?v={youtube_id}"
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)  # never through a planted link

# The tool's error message -> status; the first pattern that matches wins.
_ERROR_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple(
    (status, re.compile(pattern, re.I))
    for status, pattern in (
        ("rate-limited", r"HTTP Error 429|Too Many Requests"),
        ("private", r"private video|video is private"),
        ("age-restricted", r"confirm your age|age[- ]restricted|inappropriate for some users"),
        ("sign-in", r"sign in to confirm|sign in|members[- ]only|join this channel"),
        ("not-found", r"HTTP Error (404|410)"),
        (
            "unavailable",
            r"video unavailable|has been removed|no longer available|account .*terminated|"
            r"not available in your country|blocked it",
        ),
    )
)

# --audio-format -> (ffmpeg encoder, ffmpeg muxer); every extension is one the loader reads.
AUDIO_FORMATS: dict[str, tuple[str, str]] = {
    "flac": ("flac", "flac"),
    "wav": ("pcm_s16le", "wav"),
    "mp3": ("libmp3lame", "mp3"),
    "ogg": ("libvorbis", "ogg"),
    "opus": ("libopus", "opus"),
}


@dataclass(frozen=True)
class FetchOptions:
    """How each clip is fetched (the command's flags)."""

    url_template: str = YOUTUBE_URL
    audio_format: str = "flac"
    sampling_rate: int | None = 16000  # None: keep the source's rate
    retries: int = 3  # further attempts after a retryable failure
    backoff: float = 10.0  # seconds before the first retry; doubled each retry, with jitter
    max_backoff: float = 600.0
    timeout: float = 300.0  # seconds for one yt-dlp or ffmpeg process
    cookies: str | None = None
    rate_limit: str | None = None  # yt-dlp --limit-rate, e.g. 2M
    sleep: float = 0.0  # seconds between two downloads' starts, all jobs together
    ffmpeg: str = "ffmpeg"
    js_runtime: str | None = None  # deno's path, for YouTube's player JavaScript


class YtDlpFetcher:
    """The :class:`~.fetch.Fetcher` of YouTube clips, with yt-dlp and ffmpeg processes."""

    def __init__(self, options: FetchOptions):
        self.options = options
        self.audio_format = options.audio_format
        self.processes = _Processes(options.sleep)
        self.stopping = self.processes.stopping
        self.notes: list[str] = []  # warnings about the tools, for the run's summary

    def fetch(self, clip: Clip, out_dir: Path) -> Outcome:
        return replace(_attempt(clip, out_dir, self.options, self.processes), source=self.source)

    @functools.cached_property
    def source(self) -> str:
        """The ledger's ``source`` of a clip from here: ``youtube yt-dlp <version>``."""
        try:
            return f"youtube yt-dlp {importlib.metadata.version('yt-dlp')}"
        except importlib.metadata.PackageNotFoundError:
            return "youtube yt-dlp (version unknown)"

    def stop(self) -> None:
        self.processes.stop_all()


def find_ffmpeg() -> str:
    """The ffmpeg of the imageio-ffmpeg package (a static build in its wheel), else ``ffmpeg`` on PATH."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
        if found:
            return found
    raise RuntimeError(
        "No ffmpeg found: reinstall audio-dialogues (it brings imageio-ffmpeg, which "
        "ships one), or install ffmpeg on PATH."
    )


def find_js_runtime() -> str | None:
    """deno from the ``deno`` package (yt-dlp's ``deno`` extra) or PATH: yt-dlp needs a JavaScript runtime
    for YouTube."""
    try:
        import deno

        return deno.find_deno_bin()
    except (ImportError, FileNotFoundError, RuntimeError):
        return shutil.which("deno")


def classify(message: str) -> str:
    """The status a failed download's error message means (``error`` when no pattern matches)."""
    for status, pattern in _ERROR_PATTERNS:
        if pattern.search(message):
            return status
    return "error"


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["(no message)"])[-1][:300]


class _Processes:
    """The processes running now, so that an interrupt can stop them all; and the pace at which downloads start."""

    def __init__(self, interval: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self.stopping = threading.Event()
        self.interval = interval  # seconds between two downloads' starts, all jobs together
        self._next_start = 0.0

    def pace(self) -> bool:
        """Wait for this download's turn (``--sleep``); False when stopping."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self.interval
        return not self.stopping.wait(start - now) if start > now else not self.stopping.is_set()

    def run(self, command: Sequence[str], timeout: float) -> tuple[int | None, str]:
        """Run ``command`` in its own process group; ``(None, stderr)`` when it timed out or was stopped."""
        if self.stopping.is_set():
            return None, "stopped"
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        with self._lock:
            self._running.add(process)
            if self.stopping.is_set():  # stop_all ran between the check above and the Popen
                _kill(process)
        try:
            _, stderr = process.communicate(timeout=timeout)
            return (None if self.stopping.is_set() else process.returncode), stderr
        except subprocess.TimeoutExpired:
            _kill(process)
            _, stderr = process.communicate()
            return None, stderr
        finally:
            with self._lock:
                self._running.discard(process)

    def stop_all(self) -> None:
        self.stopping.set()
        with self._lock:
            for process in self._running:
                _kill(process)


def _kill(process: subprocess.Popen) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)  # yt-dlp and the ffmpeg it started
        else:  # Windows: no process groups
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass


def _attempt(clip: Clip, out_dir: Path, options: FetchOptions, processes: _Processes) -> Outcome:
    """One try: yt-dlp fetches the window into a temporary folder, ffmpeg converts, the result is renamed."""
    assert clip.time is not None
    work = out_dir / TEMP_DIR / f"{os.getpid()}-{clip.youtube_id}"  # apart from a killed run's orphaned yt-dlp
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        url = options.url_template.format(youtube_id=clip.youtube_id)
        command = [
            sys.executable,
            "-m",
            "yt_dlp",
            "--ignore-config",
            "--no-cache-dir",
            "--no-playlist",
            "--no-progress",
            "--no-mtime",
            "--retries",
            "0",
            "--extractor-retries",
            "0",
            "--socket-timeout",
            "30",
            "--ffmpeg-location",
            options.ffmpeg,
            "-f",
            "bestaudio/best",
            "--download-sections",
            f"*{clip.time.start}-{clip.time.end}",
            "-o",
            str(work / "source.%(ext)s.part"),
        ]
        if options.cookies:  # yt-dlp writes its cookie jar back on exit: it gets a copy, the user's is never written
            copy = work / "cookies.txt"
            with open(options.cookies, "rb") as source, open(os.open(copy, _NEW_FILE, 0o600), "wb") as target:
                shutil.copyfileobj(source, target)
            command += ["--cookies", str(copy)]
        if options.rate_limit:
            command += ["--limit-rate", options.rate_limit]
        if options.js_runtime:
            command += ["--js-runtimes", f"deno:{options.js_runtime}"]
        fetched = work / "fetched.json"  # what yt-dlp chose, written once the format is chosen (before the download)
        command += ["--print-to-file", _FETCHED_FIELDS, str(fetched).replace("%", "%%")]  # FILE is a template too
        if not processes.pace():
            return Outcome("stopped")
        code, stderr = processes.run([*command, "--", url], options.timeout)
        if processes.stopping.is_set():
            return Outcome("stopped")
        return replace(_after_ytdlp(clip, code, stderr, work, out_dir, options, processes), client=_client(fetched))
    finally:
        shutil.rmtree(work, ignore_errors=True)


# The info dict's fields that say what served the clip (yt-dlp's output template: a JSON object of those fields).
_FETCHED_FIELDS = "%(.{extractor_key,url})j"
_CLIENT_IN_URL = re.compile(r"[?&]c=([A-Z][A-Z0-9_]*)(?:&|$)")  # googlevideo.com/videoplayback?...&c=TVHTML5&...


def player_client(info: dict) -> str:
    """What served a clip, from yt-dlp's info dict of the chosen format: ``youtube <client>`` with the innertube
    client YouTube names in the stream's URL (``c=TVHTML5``: yt-dlp keeps no field of its own for it), ``youtube``
    when the URL names none; another extractor's name otherwise (``generic``: a plain server has no player client).
    """
    extractor = str(info.get("extractor_key") or "").lower()
    if extractor != "youtube":
        return extractor
    match = _CLIENT_IN_URL.search(str(info.get("url") or ""))
    return f"youtube {match[1]}" if match else "youtube"


def _client(fetched: Path) -> str:
    """:func:`player_client` of what yt-dlp printed to ``fetched``; empty when it printed nothing (it failed before
    choosing a format)."""
    try:
        line = fetched.read_text(encoding="utf-8", errors="replace").splitlines()[-1]
        info = json.loads(line)
    except (OSError, IndexError, ValueError):
        return ""
    return player_client(info) if isinstance(info, dict) else ""


def _after_ytdlp(
    clip: Clip, code: int | None, stderr: str, work: Path, out_dir: Path, options: FetchOptions, processes: _Processes
) -> Outcome:
    """What one yt-dlp process's exit means: an error's status, or the clip converted from the file it wrote."""
    if code is None:
        return Outcome("timeout", f"yt-dlp ran over {options.timeout:g} s")
    if code != 0:
        message = _last_error(stderr)
        return Outcome(classify(message), message)
    sources = [p for p in work.iterdir() if p.name.startswith("source.") and not p.name.endswith(".part.part")]
    if not sources:
        return Outcome("error", f"yt-dlp exited 0 but wrote no file ({_last_error(stderr)})")
    return convert_clip(clip, sources[0], work, out_dir, options, processes)


def convert_clip(
    clip: Clip,
    source: Path,
    work: Path,
    out_dir: Path,
    options: FetchOptions,
    processes: _Processes,
    offset: float = 0.0,
) -> Outcome:
    """``clip``'s window of ``source`` (starting ``offset`` seconds into it) as the output format and rate, under
    the clip's file name, if it plays: its length is what ffmpeg decodes, and a window cut short is not kept.
    Every source (yt-dlp's download, an archive's clip) ends here."""
    assert clip.time is not None
    encoder, muxer = AUDIO_FORMATS[options.audio_format]
    converted = work / "clip.partial"
    command = [options.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-ss", f"{offset:.3f}"] if offset else []
    command += ["-i", str(source), "-t", f"{clip.time.seconds:.3f}", "-vn", "-ac", "1"]
    if options.sampling_rate:
        command += ["-ar", str(options.sampling_rate)]
    command += ["-c:a", encoder, "-f", muxer, str(converted)]
    code, stderr = processes.run(command, options.timeout)
    if processes.stopping.is_set():
        return Outcome("stopped")
    if code is None:
        return Outcome("timeout", f"ffmpeg ran over {options.timeout:g} s")
    if code != 0:
        return Outcome("error", f"ffmpeg: {_last_error(stderr)}")
    seconds = _decoded_seconds(converted, work, options, processes)  # what plays, not what a header claims
    if processes.stopping.is_set():
        return Outcome("stopped")
    if seconds is None:
        return Outcome("error", f"ffmpeg cannot decode the .{options.audio_format} it wrote")
    if seconds == 0:
        return Outcome("empty", f"the window {clip.time.start:g}-{clip.time.end:g} s holds no audio")
    if seconds < clip.time.seconds - SHORT_TOLERANCE:
        return Outcome(
            "short",
            f"{seconds:.2f} s of the {clip.time.seconds:g} s window {clip.time.start:g}-{clip.time.end:g} s "
            "(the video ends inside it); not kept",
        )
    name = clip.file_name(options.audio_format)
    os.replace(converted, out_dir / name)
    return Outcome("ok", f"{seconds:.2f} s", name)


SHORT_TOLERANCE = 0.25  # seconds a clip may fall short of its window (codec padding, the source's rounding)
_DECODE_RATE = 8000  # the rate the clip is decoded at to count its samples (any rate counts the same seconds)


def _decoded_seconds(path: Path, work: Path, options: FetchOptions, processes: _Processes) -> float | None:
    """Seconds of audio ``path`` really holds: every frame decoded by ffmpeg and counted (any output format)."""
    raw = work / "decoded.raw"
    command = [options.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(path)]
    command += ["-ac", "1", "-ar", str(_DECODE_RATE), "-f", "s16le", str(raw)]
    code, _ = processes.run(command, options.timeout)
    if code != 0 or not raw.is_file():
        return None
    return raw.stat().st_size / 2 / _DECODE_RATE
