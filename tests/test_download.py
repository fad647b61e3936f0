"""`audio-dialogues download`: the real yt-dlp and ffmpeg, pointed at clips served from 127.0.0.1.

Each served clip is a 22.05 kHz stereo WAV, longer than its window, holding a 1 kHz tone inside the
window and a 300 Hz tone outside it: a downloaded clip whose dominant frequency is 1 kHz at both
ends was cut at the right place.
"""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import dialogue, sigint_as_in_a_terminal, write_clip, write_release

from _audio_dialogues.cli.main import main
from _audio_dialogues.core.audio_files import parse_audio_name
from _audio_dialogues.download.fetch import STATUSES
from _audio_dialogues.download.plan import (
    Clip,
    ClipTime,
    ClipTimesFormatError,
    parse_segments_csv,
    parse_strong_label_tsv,
    plan_clips,
    read_clip_times,
)
from _audio_dialogues.download.run import LEDGER, LEDGER_COLUMNS, download
from _audio_dialogues.download.ytdlp import _Processes, classify, player_client

SOURCE_RATE = 22050
IN_WINDOW_HZ, OUTSIDE_HZ = 1000.0, 300.0

# Ids with underscores and a leading dash, as real YouTube ids have.
OK_ID, MISSING_ID, LIMITED_ID = "a_b-c_d_e_f", "-8cgbhIR_pw", "Zz__9-x_y_Q"
UNTIMED_ID, SLOW_ID = "noTime0000A", "s_low-clip0"
WINDOWS = {
    OK_ID: ClipTime(3.0, 13.0),
    MISSING_ID: ClipTime(30.0, 40.0),
    LIMITED_ID: ClipTime(1.5, 11.5),
    SLOW_ID: ClipTime(2.0, 12.0),
}
SEGMENTS_CSV = f"""# Segments csv created Sun Mar  5 10:54:31 2017
# num_ytids=3, num_segs=3, num_unique_labels=527, num_positive_labels=5
# YTID, start_seconds, end_seconds, positive_labels
{OK_ID}, 3.000, 13.000, "/m/09x0r,/m/05zppz"
{MISSING_ID}, 30.000, 40.000, "/m/04rlf"
"""
STRONG_HEADER = "segment_id\tstart_time_seconds\tend_time_seconds\tlabel\n"
STRONG_TSV = f"""{STRONG_HEADER}{LIMITED_ID}_1500\t0.000\t4.200\t/m/09x0r
{LIMITED_ID}_1500\t2.100\t10.000\t/m/0bt9lr
{SLOW_ID}_2000\t0.000\t10.000\t/m/04rlf
"""


def tone_clip(window: ClipTime) -> bytes:
    """A WAV 4 s longer than the window's end: 1 kHz inside the window, 300 Hz outside."""
    t = np.arange(int((window.end + 4) * SOURCE_RATE)) / SOURCE_RATE
    inside = (t >= window.start) & (t < window.end)
    signal_ = 0.4 * np.sin(2 * np.pi * np.where(inside, IN_WINDOW_HZ, OUTSIDE_HZ) * t)
    buffer = io.BytesIO()
    soundfile.write(buffer, np.stack([signal_, 0.5 * signal_], axis=1), SOURCE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


class ClipServer:
    """Serves ``/<youtube id>.wav`` with range requests (without them ffmpeg's seek over HTTP lands seconds
    late: a server that cannot seek is not what video hosts are); ``fail[id]`` lists HTTP errors to answer
    first, ``hold[id]`` an Event the first request waits for; ``requests`` counts requests per id, ``aborted``
    those whose client went away."""

    def __init__(self, clips: dict[str, bytes]):
        self.clips, self.requests, self.aborted = clips, Counter(), Counter()
        self.fail: dict[str, list[int]] = {}
        self.hold: dict[str, threading.Event] = {}
        self.request_times: dict[str, list[float]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                youtube_id = self.path.lstrip("/").removesuffix(".wav")
                server.requests[youtube_id] += 1
                server.request_times.setdefault(youtube_id, []).append(time.monotonic())
                if server.fail.get(youtube_id):
                    self.send_error(server.fail[youtube_id].pop(0))
                    return
                if youtube_id not in server.clips:
                    self.send_error(404)
                    return
                if youtube_id in server.hold:
                    server.hold.pop(youtube_id).wait(30)
                body = server.clips[youtube_id]
                first, last = 0, len(body) - 1
                wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
                if wanted:  # ffmpeg seeks to the window with a range request, as on a real video host
                    first, last = int(wanted[1]), min(int(wanted[2] or last), last)
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {first}-{last}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(last + 1 - first))
                self.end_headers()
                body = body[first : last + 1]
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    server.aborted[youtube_id] += 1

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url_template = f"http://127.0.0.1:{self.httpd.server_address[1]}/{{youtube_id}}.wav"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        for event in self.hold.values():
            event.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """yt-dlp and ffmpeg (child processes) would send even 127.0.0.1 through a proxy set in the environment."""
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def server():
    clip_server = ClipServer(
        {youtube_id: tone_clip(window) for youtube_id, window in WINDOWS.items() if youtube_id != MISSING_ID}
    )
    yield clip_server
    clip_server.close()


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """audioset_dialogues: OK_ID in both splits and in two train records; the times in two files."""
    root = tmp_path / "release"
    train = [OK_ID, MISSING_ID, LIMITED_ID, OK_ID]
    write_release(
        root, "audioset_dialogues", "train", [{"audio_id": f"Y{y}.wav", "dialogue": dialogue(1)} for y in train]
    )
    write_release(
        root,
        "audioset_dialogues",
        "test",
        [{"audio_id": f"Y{y}.wav", "dialogue": dialogue(2)} for y in (OK_ID, UNTIMED_ID)],
    )
    (tmp_path / "segments.csv").write_text(SEGMENTS_CSV, encoding="utf-8")
    (tmp_path / "strong.tsv").write_text(STRONG_TSV, encoding="utf-8")
    return root


def ledger(out: Path) -> dict[str, dict[str, str]]:
    lines = (out / LEDGER).read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == list(LEDGER_COLUMNS)
    rows = [dict(zip(LEDGER_COLUMNS, line.split("\t"))) for line in lines[1:]]
    assert len({r["youtube_id"] for r in rows}) == len(rows)  # compacted: one row per clip
    return {r["youtube_id"]: r for r in rows}


# --- clip times: one pure function per published form ---------------------------------------------------------


def test_strong_label_tsv_splits_the_segment_id_on_its_last_underscore():
    times = parse_strong_label_tsv(STRONG_TSV)
    assert times == {LIMITED_ID: ClipTime(1.5, 11.5), SLOW_ID: ClipTime(2.0, 12.0)}
    with pytest.raises(ClipTimesFormatError, match=r"strong\.tsv, line 3, field 'segment_id'.*got 'abc'"):
        parse_strong_label_tsv(f"{STRONG_HEADER}x_1000\t0\t1\tl\nabc\t0\t1\tl\n", "strong.tsv")
    with pytest.raises(ClipTimesFormatError, match="line 3: x has two windows"):
        parse_strong_label_tsv(f"{STRONG_HEADER}x_1000\t0\t1\tl\nx_2000\t0\t1\tl\n")


def test_segments_csv_skips_comments_and_reads_quoted_labels():
    assert parse_segments_csv(SEGMENTS_CSV) == {OK_ID: ClipTime(3.0, 13.0), MISSING_ID: ClipTime(30.0, 40.0)}
    with pytest.raises(
        ClipTimesFormatError, match=r"seg\.csv, line 2, field 'end_seconds': expected seconds, got 'ten'"
    ):
        parse_segments_csv('# YTID, start_seconds, end_seconds, positive_labels\nabc, 0.0, ten, "/m/1"\n', "seg.csv")


def test_read_clip_times_tells_the_two_forms_apart(release, tmp_path):
    assert read_clip_times(tmp_path / "segments.csv") == parse_segments_csv(SEGMENTS_CSV)
    assert read_clip_times(tmp_path / "strong.tsv") == parse_strong_label_tsv(STRONG_TSV)


def test_clip_times_read_only_the_needed_ids_lines_and_name_the_same_line_in_an_error(tmp_path):
    # AudioSet's files list millions of segments a release does not need: their lines are passed over unparsed
    segments = tmp_path / "seg.csv"
    segments.write_text(SEGMENTS_CSV + 'unneededId1, 0.0, ten, "/m/1"\n', encoding="utf-8")
    with pytest.raises(ClipTimesFormatError, match="line 6, field 'end_seconds'"):
        read_clip_times(segments)  # every line read: the bad one is line 6
    assert read_clip_times(segments, only={OK_ID}) == {OK_ID: ClipTime(3.0, 13.0)}
    bad_needed = tmp_path / "seg2.csv"
    bad_needed.write_text(SEGMENTS_CSV + f'{SLOW_ID}, 0.0, ten, "/m/1"\n', encoding="utf-8")
    with pytest.raises(ClipTimesFormatError, match="seg2.csv, line 6, field 'end_seconds'"):
        read_clip_times(bad_needed, only={SLOW_ID})  # a needed line's error names the line it has in the file
    strong = tmp_path / "strong.tsv"
    strong.write_text(STRONG_TSV + "unneededId1_x\t0\t1\tl\n", encoding="utf-8")
    with pytest.raises(ClipTimesFormatError, match="line 5, field 'segment_id'"):
        read_clip_times(strong)
    assert read_clip_times(strong, only={SLOW_ID}) == {SLOW_ID: ClipTime(2.0, 12.0)}
    quoted = tmp_path / "quoted.csv"  # a line that does not plainly start with an id is parsed
    quoted.write_text(f'"{OK_ID}", 3.0, 13.0, "/m/1"\n  {SLOW_ID}, 1.0, 11.0, "/m/1"\n', encoding="utf-8")
    assert read_clip_times(quoted, only={OK_ID, SLOW_ID}) == {OK_ID: ClipTime(3.0, 13.0), SLOW_ID: ClipTime(1.0, 11.0)}


def test_plan_has_each_id_once_with_its_splits_and_window(release, tmp_path):
    plan = plan_clips(
        "audioset_dialogues",
        data_dir=str(release),
        verification_mode="no_checks",
        clip_times=[tmp_path / "segments.csv", tmp_path / "strong.tsv"],
    )
    assert [c.youtube_id for c in plan.clips] == [OK_ID, MISSING_ID, LIMITED_ID, UNTIMED_ID]
    assert plan.clips[0] == Clip(OK_ID, ("train", "test"), ClipTime(3.0, 13.0))
    assert plan.clips[3].time is None and plan.needed == {"train": 3, "test": 2}
    for clip in plan.clips[:3]:  # the loader resolves the file name back to the id
        assert parse_audio_name(clip.file_name("flac")).youtube_id == clip.youtube_id

    comparison = tmp_path / "comparison"
    train_file = write_release(
        comparison,
        "audioset_comparison",
        "train",
        [
            {"audio_ids": [f"Y{OK_ID}.wav", f"Y{LIMITED_ID}.wav"], "dialogue": dialogue(1)},
            {"audio_ids": [f"Y{LIMITED_ID}.wav", f"Y{OK_ID}.wav", f"Y{MISSING_ID}.wav"], "dialogue": dialogue(1)},
        ],
    )
    plan = plan_clips("audioset_comparison", data_files={"train": str(train_file)}, verification_mode="no_checks")
    assert [c.youtube_id for c in plan.clips] == [OK_ID, LIMITED_ID, MISSING_ID] and plan.needed == {"train": 3}

    missing_tsv = tmp_path / "train.missing.tsv"
    missing_tsv.write_text(
        f"youtube_id\taudio_id\trecords\n{LIMITED_ID}\tY{LIMITED_ID}.wav\ttrain-2\n"
        "notInRelea0\tYnotInRelea0.wav\ttrain-9\n",
        encoding="utf-8",
    )
    plan = plan_clips(
        "audioset_dialogues", data_dir=str(release), verification_mode="no_checks", only_missing=[missing_tsv]
    )
    assert [c.youtube_id for c in plan.clips] == [LIMITED_ID] and plan.not_in_release == ["notInRelea0"]


def test_music_dialogues_windows_come_from_the_shipped_musiccaps_csv():
    from _audio_dialogues.core.musiccaps import shipped_musiccaps

    plan = plan_clips("music_dialogues")  # the bundled sample
    musiccaps = shipped_musiccaps()
    assert plan.clips and all(
        c.time == ClipTime(musiccaps[c.youtube_id].start_s, musiccaps[c.youtube_id].end_s) for c in plan.clips
    )


@pytest.mark.parametrize(
    "message, status",
    [
        ("ERROR: [generic] x: Unable to download webpage: HTTP Error 404: Not Found", "not-found"),
        ("ERROR: unable to download video data: HTTP Error 429: Too Many Requests", "rate-limited"),
        ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access to this video", "private"),
        (
            "ERROR: [youtube] abc: Sign in to confirm your age. This video may be inappropriate for some users.",
            "age-restricted",
        ),
        (
            "ERROR: [youtube] abc: Sign in to confirm you're not a bot. Use --cookies-from-browser or --cookies",
            "sign-in",
        ),
        ("ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader", "unavailable"),
        (
            "ERROR: [youtube] abc: Video unavailable. The uploader has not made this video available in your country",
            "unavailable",
        ),
        ("ERROR: unable to download video data: <urlopen error [Errno 111] Connection refused>", "error"),
    ],
)
def test_classify_names_why_a_clip_failed(message, status):
    assert classify(message) == status and status in STATUSES


# --- the real yt-dlp + ffmpeg path --------------------------------------------------------------------------------


def test_the_player_client_is_the_one_youtube_names_in_the_stream_url():
    # yt-dlp's info dict of a chosen YouTube format: the googlevideo URL carries the innertube client (c=...)
    url = (
        "https://rr4---sn-4g5lznek.googlevideo.com/videoplayback?expire=1790000000&ei=Zm9v&ip=203.0.113.7"
        "&id=o-AHtY8f9Qx&itag=251&source=youtube&requiressl=yes&mime=audio%2Fwebm&c=TVHTML5&txp=5532434"
    )
    assert player_client({"extractor_key": "Youtube", "url": url}) == "youtube TVHTML5"
    assert player_client({"extractor_key": "Youtube", "url": url.replace("c=TVHTML5", "c=ANDROID_VR")}) == (
        "youtube ANDROID_VR"
    )
    manifest = "https://manifest.googlevideo.com/api/manifest/hls_playlist/expire/1790000000/id/o-AH/itag/234/x.m3u8"
    assert player_client({"extractor_key": "Youtube", "url": manifest}) == "youtube"  # no client named: none invented
    assert player_client({"extractor_key": "Youtube", "url": url.replace("&c=", "&cc=")}) == "youtube"
    assert player_client({"extractor_key": "Generic", "url": "http://127.0.0.1:80/x.wav?c=WEB"}) == "generic"


def test_download_cuts_the_window_records_every_clip_and_resumes(server, release, tmp_path, cache_dir):
    out = tmp_path / "clips"
    server.fail[LIMITED_ID] = [429]  # rate limited once, then served
    times = [tmp_path / "segments.csv", tmp_path / "strong.tsv"]
    result = download(
        out,
        "audioset_dialogues",
        data_dir=str(release),
        verification_mode="no_checks",
        clip_times=times,
        url_template=server.url_template,
        jobs=2,
        retries=2,
        backoff=0.2,
        progress=False,
    )
    rows = ledger(out)
    assert {y: (r["status"], r["attempts"]) for y, r in rows.items()} == {
        OK_ID: ("ok", "1"),
        MISSING_ID: ("not-found", "1"),
        LIMITED_ID: ("ok", "2"),
        UNTIMED_ID: ("no-clip-time", "0"),
    }
    assert "HTTP Error 404" in rows[MISSING_ID]["detail"]
    # what served each clip, as yt-dlp says: its generic extractor (no player client) for this server; nothing for
    # a 404, where yt-dlp stops before choosing a format
    assert [rows[y]["client"] for y in (OK_ID, LIMITED_ID, MISSING_ID, UNTIMED_ID)] == ["generic", "generic", "", ""]
    assert server.requests[MISSING_ID] == 1  # a 404 is not retried
    limited = server.request_times[LIMITED_ID]
    assert server.requests[LIMITED_ID] >= 2 and limited[1] - limited[0] >= 0.1  # retried, after a backoff
    assert result.complete and result.retries == 1
    assert result.counts == {"ok": 2, "not-found": 1, "no-clip-time": 1}
    summary = result.summary()
    assert "audioset_dialogues/train: 2 of 3 clips ok (66.7%)" in summary
    assert "audioset_dialogues/test: 1 of 2 clips ok (50.0%)" in summary
    assert "status: ok 2, not-found 1, no-clip-time 1" in summary

    for youtube_id in (OK_ID, LIMITED_ID):
        path = out / rows[youtube_id]["file"]
        assert path.name == f"{youtube_id}_{WINDOWS[youtube_id].start:g}_{WINDOWS[youtube_id].end:g}.flac"
        samples, rate = soundfile.read(path, always_2d=True)
        assert rate == 16000 and samples.shape[1] == 1  # resampled, mono
        assert abs(len(samples) / rate - 10.0) < 0.05
        head, tail = samples[160:4000, 0], samples[-4000:-160, 0]  # the first and last 0.25 s
        assert abs(dominant_hz(head, rate) - IN_WINDOW_HZ) < 10 and abs(dominant_hz(tail, rate) - IN_WINDOW_HZ) < 10
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        [rows[OK_ID]["file"], rows[LIMITED_ID]["file"], LEDGER]
    )

    # A rerun fetches nothing finished, and does not retry a permanent failure.
    before = Counter(server.requests)
    again = download(
        out,
        "audioset_dialogues",
        data_dir=str(release),
        verification_mode="no_checks",
        clip_times=times,
        url_template=server.url_template,
        progress=False,
    )
    assert server.requests == before and again.tried == 0 and again.no_time == 1
    assert again.skipped_done == 2 and again.skipped_final == 1
    assert ledger(out) == rows  # only the id without a time was looked at again, and it still has none

    # The loader finds the clips by id.
    from _audio_dialogues.loading.load import load_dataset

    ds = load_dataset(
        "audioset_dialogues",
        "train",
        data_dir=str(release),
        audio_dir=str(out),
        decode=False,
        verification_mode="no_checks",
        missing_audio="keep",
        cache_dir=cache_dir,
    )
    paths = [a["path"] if a else None for a in ds["audio"]]
    assert [Path(p).name if p else None for p in paths] == [
        rows[OK_ID]["file"],
        None,
        rows[LIMITED_ID]["file"],
        rows[OK_ID]["file"],
    ]


def test_rate_limited_to_the_end_is_recorded_and_retried_by_a_rerun(server, release, tmp_path):
    out = tmp_path / "clips"
    server.fail[LIMITED_ID] = [429, 429]
    args = [
        "download",
        str(out),
        "--config",
        "audioset_dialogues",
        "--data-dir",
        str(release),
        "--verification-mode",
        "no_checks",
        "--clip-times",
        str(tmp_path / "strong.tsv"),
        "--split",
        "train",
        "--url-template",
        server.url_template,
        "--retries",
        "1",
        "--backoff",
        "0.05",
        "--no-progress",
        "--audio-format",
        "wav",
        "--output-rate",
        "8000",
    ]
    assert main(args + ["--only-missing", str(_missing_tsv(tmp_path, LIMITED_ID))]) == 0
    row = ledger(out)[LIMITED_ID]
    assert (row["status"], row["attempts"]) == ("rate-limited", "2") and "429" in row["detail"]
    assert main(args) == 0  # the rerun tries it again (served now) and the rest of train
    rows = ledger(out)
    assert (rows[LIMITED_ID]["status"], rows[LIMITED_ID]["attempts"]) == ("ok", "3")
    assert rows[OK_ID]["status"] == "no-clip-time"  # not in strong.tsv: not guessed
    info = soundfile.info(out / rows[LIMITED_ID]["file"])
    assert (info.samplerate, info.channels, info.format) == (8000, 1, "WAV")


def _missing_tsv(tmp_path: Path, *youtube_ids: str) -> Path:
    path = tmp_path / "train.missing.tsv"
    path.write_text(
        "youtube_id\taudio_id\trecords\n" + "".join(f"{y}\tY{y}.wav\ttrain-0\n" for y in youtube_ids), encoding="utf-8"
    )
    return path


def test_ctrl_c_and_kill_9_leave_a_ledger_that_a_rerun_completes(server, tmp_path):
    """Ctrl-C stops the download in flight and keeps the ledger; after a kill -9 mid-clip no partial file has a
    final name; a rerun then finishes the set without fetching a finished clip again."""
    release = tmp_path / "release"
    write_release(
        release,
        "audioset_dialogues",
        "train",
        [{"audio_id": f"Y{y}.wav", "dialogue": dialogue(1)} for y in (OK_ID, SLOW_ID, LIMITED_ID)],
    )
    write_release(release, "audioset_dialogues", "test", [{"audio_id": f"Y{OK_ID}.wav", "dialogue": dialogue(1)}])
    times = tmp_path / "times.csv"
    times.write_text("".join(f'{y}, {w.start}, {w.end}, "/m/1"\n' for y, w in WINDOWS.items()), encoding="utf-8")
    out = tmp_path / "clips"
    args = [
        "download",
        str(out),
        "--config",
        "audioset_dialogues",
        "--data-dir",
        str(release),
        "--verification-mode",
        "no_checks",
        "--clip-times",
        str(times),
        "--url-template",
        server.url_template,
        "--split",
        "train",
        "--jobs",
        "1",
        "--no-progress",
    ]
    script = Path(sys.executable).with_name("audio-dialogues")  # the installed console script

    def stop_while_slow_id_downloads(signum: int) -> subprocess.CompletedProcess:
        held = server.hold[SLOW_ID] = threading.Event()
        seen = server.requests[SLOW_ID]
        process = subprocess.Popen(
            [str(script), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=sigint_as_in_a_terminal,
        )
        try:
            deadline = time.monotonic() + 40
            while server.requests[SLOW_ID] == seen and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.requests[SLOW_ID] > seen and ledger(out)[OK_ID]["status"] == "ok"  # one done, one in flight
        finally:
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=60)
            held.set()
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    interrupted = stop_while_slow_id_downloads(signal.SIGINT)
    assert interrupted.returncode == 130 and "interrupted: the ledger holds every finished clip" in interrupted.stdout
    assert "status: ok 1, pending 2" in interrupted.stdout and "Traceback" not in interrupted.stderr
    deadline = time.monotonic() + 10
    while not server.aborted[SLOW_ID] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.aborted[SLOW_ID]  # its yt-dlp was stopped, not left running
    assert set(ledger(out)) == {OK_ID}

    killed = stop_while_slow_id_downloads(signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert set(ledger(out)) == {OK_ID} and not list(out.glob(f"{SLOW_ID}*"))

    before = server.requests[OK_ID]
    assert main(args) == 0
    rows = ledger(out)
    assert {y: r["status"] for y, r in rows.items()} == {OK_ID: "ok", SLOW_ID: "ok", LIMITED_ID: "ok"}
    assert server.requests[OK_ID] == before  # the finished clip was not fetched again
    for row in rows.values():
        assert soundfile.info(out / row["file"]).frames == 10 * 16000


def test_a_bad_clip_times_file_is_named_with_its_line_and_field(release, tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text(
        "segment_id\tstart_time_seconds\tend_time_seconds\tlabel\nnounderscore\t0\t1\t/m/1\n", encoding="utf-8"
    )
    assert (
        main(
            [
                "download",
                str(tmp_path / "clips"),
                "--config",
                "audioset_dialogues",
                "--data-dir",
                str(release),
                "--verification-mode",
                "no_checks",
                "--clip-times",
                str(bad),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert f"{bad}, line 2, field 'segment_id': expected <youtube id>_<start in ms>, got 'nounderscore'" in err
    assert not (tmp_path / "clips").exists()  # nothing was started


def test_sleep_spaces_the_starts_of_downloads_across_jobs():
    processes = _Processes(interval=0.2)
    starts: list[float] = []
    threads = [threading.Thread(target=lambda: processes.pace() and starts.append(time.monotonic())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(starts) == 3 and all(gap >= 0.19 for gap in np.diff(sorted(starts)))
    processes.stopping.set()
    began = time.monotonic()
    assert processes.pace() is False and time.monotonic() - began < 0.1  # a stop ends the wait at once


def test_a_complete_file_without_its_row_and_a_torn_last_row_are_recovered(release, tmp_path):
    """A kill between the rename and the ledger write leaves a complete clip without a row, or a row cut short."""
    out = tmp_path / "clips"
    out.mkdir()
    name = Clip(OK_ID, ("train",), WINDOWS[OK_ID]).file_name("flac")
    write_clip(out / name, seconds=10.0)  # a complete clip, renamed into place (a file at a final name must play)
    torn = f"{LIMITED_ID}\tok\t1\t{LIMITED_ID}_1.5_11"  # no newline: the kill came mid-row
    (out / LEDGER).write_text("\t".join(LEDGER_COLUMNS) + "\n" + torn, encoding="utf-8")
    result = download(
        out,
        "audioset_dialogues",
        data_dir=str(release),
        verification_mode="no_checks",
        clip_times=[tmp_path / "segments.csv"],
        only_missing=[_missing_tsv(tmp_path, OK_ID)],
        url_template="http://127.0.0.1:9/{youtube_id}.wav",
        progress=False,
    )
    assert result.adopted == 1 and result.tried == 0 and result.torn_lines == 1
    assert "the ledger's last line was cut short" in result.summary()
    assert ledger(out) == {
        OK_ID: dict(
            zip(LEDGER_COLUMNS, (OK_ID, "ok", "1", name, "3", "13", "complete file found from an earlier run", "", ""))
        )
    }


def test_a_resume_with_another_format_rate_or_source_is_refused_and_pacing_is_free(server, release, tmp_path):
    out = tmp_path / "clips"
    common = dict(
        data_dir=str(release),
        verification_mode="no_checks",
        clip_times=[tmp_path / "segments.csv"],
        only_missing=[_missing_tsv(tmp_path, OK_ID)],
        progress=False,
    )
    first = download(out, "audioset_dialogues", url_template=server.url_template, **common)
    assert first.rows[OK_ID].status == "ok" and first.rows[OK_ID].file.endswith(".flac")
    for change, message in (
        ({"audio_format": "wav"}, "'--audio-format': 'flac', this run asks for '--audio-format': 'wav'"),
        ({"sampling_rate": 8000}, "'--output-rate': 16000, this run asks for '--output-rate': 8000"),
        ({"url_template": "http://127.0.0.1:9/{youtube_id}"}, "'--url-template': 'http://127.0.0.1:"),
    ):
        with pytest.raises(ValueError, match=rf"{re.escape(str(out))} was written with {re.escape(message)}"):
            download(out, "audioset_dialogues", **{"url_template": server.url_template, **common, **change})
    before = server.requests[OK_ID]
    again = download(
        out, "audioset_dialogues", url_template=server.url_template, jobs=1, retries=0, timeout=60, backoff=1, **common
    )
    assert again.skipped_done == 1 and server.requests[OK_ID] == before  # pacing changed: resumed, nothing redone


def test_a_hung_download_is_killed_at_the_timeout_and_recorded(server, release, tmp_path):
    server.hold[OK_ID] = threading.Event()  # the server never answers (until teardown)
    out = tmp_path / "clips"
    began = time.monotonic()
    result = download(
        out,
        "audioset_dialogues",
        data_dir=str(release),
        verification_mode="no_checks",
        clip_times=[tmp_path / "segments.csv"],
        only_missing=[_missing_tsv(tmp_path, OK_ID)],
        url_template=server.url_template,
        retries=0,
        timeout=3,
        progress=False,
    )
    assert time.monotonic() - began < 20 and result.complete
    row = ledger(out)[OK_ID]
    assert (row["status"], row["attempts"], row["detail"]) == ("timeout", "1", "yt-dlp ran over 3 s")


def test_which_recorded_clips_a_rerun_tries_again(tmp_path):
    from _audio_dialogues.download.fetch import LedgerRow
    from _audio_dialogues.download.run import _to_fetch
    from _audio_dialogues.download.ytdlp import FetchOptions

    clip = Clip(OK_ID, ("train",), WINDOWS[OK_ID])
    (tmp_path / "there.flac").write_bytes(b"x")
    plain, with_cookies = FetchOptions(), FetchOptions(cookies="cookies.txt")

    def decide(status: str, options: FetchOptions = plain, retry_failed: bool = False, file: str = "") -> str:
        return _to_fetch(clip, LedgerRow(OK_ID, status, 1, file), tmp_path, options, retry_failed)

    assert _to_fetch(clip, None, tmp_path, plain, False) == "fetch"
    assert decide("ok", file="there.flac") == "done" and decide("ok", file="gone.flac") == "fetch"
    for status in ("rate-limited", "timeout", "error", "no-clip-time"):
        assert decide(status) == "fetch"
    for status in ("not-found", "unavailable", "private", "empty"):
        assert decide(status) == "final" and decide(status, retry_failed=True) == "fetch"
    for status in ("age-restricted", "sign-in"):
        assert decide(status) == "final" and decide(status, with_cookies) == "fetch"


def test_another_audio_source_is_one_fetcher_class(release, tmp_path):
    """A Fetcher (download/fetch.py) other than yt-dlp: here clips already cut, in a local archive folder."""
    import shutil

    from _audio_dialogues.download.fetch import Outcome

    archive = tmp_path / "archive"
    archive.mkdir()
    soundfile.write(archive / f"{OK_ID}.wav", np.zeros(16000, dtype="float32"), 16000)

    class ArchiveFetcher:
        audio_format = "wav"

        def __init__(self) -> None:
            self.stopping = threading.Event()

        def fetch(self, clip: Clip, out_dir: Path) -> Outcome:
            source = archive / f"{clip.youtube_id}.wav"
            if not source.is_file():
                return Outcome("not-found", f"{source.name} is not in the archive")
            name = clip.file_name(self.audio_format)
            shutil.copyfile(source, out_dir / name)
            return Outcome("ok", "copied from the archive", name)

        def stop(self) -> None:
            self.stopping.set()

    out = tmp_path / "clips"
    common = dict(
        data_dir=str(release),
        verification_mode="no_checks",
        clip_times=[tmp_path / "segments.csv"],
        only_missing=[_missing_tsv(tmp_path, OK_ID, MISSING_ID)],
        audio_format="wav",
        progress=False,
    )
    result = download(out, "audioset_dialogues", fetcher=ArchiveFetcher(), **common)
    rows = ledger(out)
    assert rows[OK_ID]["status"] == "ok" and soundfile.info(out / rows[OK_ID]["file"]).frames == 16000
    assert rows[MISSING_ID]["status"] == "not-found" and result.tried == 2
    with pytest.raises(ValueError, match=r"'source': 'ArchiveFetcher', this run asks for 'source': 'YtDlpFetcher'"):
        download(out, "audioset_dialogues", **common)  # the clips came from another source: not mixed


def test_the_users_cookies_file_is_never_written(server, release, tmp_path):
    """yt-dlp saves its cookie jar back to --cookies when it exits: each try gets its own copy (issue 20)."""
    cookies = tmp_path / "cookies.txt"
    text = "# Netscape HTTP Cookie File\n# the user's own notes\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\tabc123\n"
    cookies.write_text(text, encoding="utf-8")
    before = cookies.stat().st_mtime_ns
    result = download(
        tmp_path / "clips",
        "audioset_dialogues",
        data_dir=str(release),
        verification_mode="no_checks",
        clip_times=[tmp_path / "segments.csv", tmp_path / "strong.tsv"],
        url_template=server.url_template,
        cookies=str(cookies),
        jobs=2,
        retries=0,
        progress=False,
    )
    assert result.counts["ok"] == 2
    assert cookies.read_text(encoding="utf-8") == text and cookies.stat().st_mtime_ns == before
    assert not list((tmp_path / "clips").rglob("*cookies*"))  # the copies went with their try


def test_a_window_past_the_videos_end_is_short_and_a_broken_file_at_a_final_name_is_not_trusted(release, tmp_path):
    """Issue 20, family 4: a clip is ok only if it plays its window; files at final names are checked first."""
    short = io.BytesIO()
    soundfile.write(short, np.zeros(7 * SOURCE_RATE, dtype=np.float32), SOURCE_RATE, format="WAV")
    clip_server = ClipServer({OK_ID: short.getvalue(), LIMITED_ID: tone_clip(WINDOWS[LIMITED_ID])})
    out = tmp_path / "clips"
    out.mkdir()
    planted = out / f"{LIMITED_ID}_1.5_11.5.flac"
    planted.write_bytes(b"")  # a 0-byte file at the clip's final name (a full disk, a killed copy)
    try:
        result = download(
            out,
            "audioset_dialogues",
            data_dir=str(release),
            verification_mode="no_checks",
            clip_times=[tmp_path / "segments.csv", tmp_path / "strong.tsv"],
            url_template=clip_server.url_template,
            jobs=2,
            retries=0,
            progress=False,
        )
    finally:
        clip_server.close()
    rows = ledger(out)
    assert rows[OK_ID]["status"] == "short" and "4.00 s of the 10 s window" in rows[OK_ID]["detail"]
    assert not (out / f"{OK_ID}_3_13.flac").exists()
    assert rows[LIMITED_ID]["status"] == "ok" and clip_server.requests[LIMITED_ID] >= 1
    samples, rate = soundfile.read(planted)
    assert abs(len(samples) / rate - 10.0) < 0.05 and result.adopted == 0


def test_a_link_planted_at_the_temporary_folder_is_refused(server, release, tmp_path):
    """Issue 20, family 3: no try writes outside OUT through a link at OUT/.download_tmp."""
    out, elsewhere = tmp_path / "clips", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / ".download_tmp").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(OSError, match=r"\.download_tmp is a symbolic link"):
        download(
            out,
            "audioset_dialogues",
            data_dir=str(release),
            verification_mode="no_checks",
            clip_times=[tmp_path / "segments.csv", tmp_path / "strong.tsv"],
            url_template=server.url_template,
            retries=0,
            progress=False,
        )
    assert list(elsewhere.iterdir()) == [] and sum(server.requests.values()) == 0


def test_a_password_in_the_url_template_is_never_stored(server, release, tmp_path):
    """Issue 20, family 2: URL credentials are masked in the settings record (and so in its errors)."""
    out = tmp_path / "clips"
    download(
        out,
        "audioset_dialogues",
        data_dir=str(release),
        verification_mode="no_checks",
        clip_times=[tmp_path / "segments.csv", tmp_path / "strong.tsv"],
        url_template=server.url_template.replace("http://", "http://user:hunter2@"),
        retries=0,
        limit=1,
        progress=False,
    )
    written = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file() and p.suffix != ".flac")
    assert "user:***@127.0.0.1" in written and "hunter2" not in written
