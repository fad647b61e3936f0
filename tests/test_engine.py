"""The run engine the long commands share: the ledger (row codecs, torn lines, group commit), the runner, the
backoff, the settings record and the stop policy (in child processes, as a user stops a command)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from chat_server import ChatServer
from conftest import sigint_as_in_a_terminal

from _audio_dialogues.download.fetch import LedgerRow
from _audio_dialogues.download.run import LEDGER_COLUMNS, StatusTsv
from _audio_dialogues.engine import (
    Backoff,
    FolderBusyError,
    FolderLock,
    JsonLinesCodec,
    Ledger,
    LedgerError,
    SettingsChangedError,
    check_settings,
    run_jobs,
)
from _audio_dialogues.engine.ledger import JSON_LINES
from _audio_dialogues.engine.shard import other_rows

REPO = Path(__file__).resolve().parents[1]


# --- the ledger -----------------------------------------------------------------------------------


def test_a_complete_last_line_without_its_newline_is_kept(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"key": "a", "v": 1}\n{"key": "b", "v": 2}', encoding="utf-8")  # killed before the newline
    with Ledger(path) as ledger:
        assert set(ledger.rows) == {"a", "b"} and ledger.torn_lines == 0
        ledger.record({"key": "c", "v": 3})
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()] == ["a", "b", "c"]
    assert not ledger.torn_path.exists()


def test_a_partial_last_line_is_set_aside_never_deleted(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(b'{"key": "a", "v": 1}\n{"key": "b", "v')
    ledger = Ledger(path)
    assert set(ledger.rows) == {"a"} and ledger.torn_lines == 1
    assert path.read_bytes().endswith(b'"v')  # reading writes nothing
    ledger.record({"key": "b", "v": 2})
    ledger.close()
    assert ledger.torn_path.read_bytes() == b'{"key": "b", "v\n'  # the cut bytes, kept beside
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"key": "a", "v": 1}, {"key": "b", "v": 2}]
    assert Ledger(path).torn_lines == 0


def test_a_bad_line_inside_the_ledger_is_named(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"key": "a"}\nnot json\n{"key": "b"}\n', encoding="utf-8")
    with pytest.raises(LedgerError, match=r"ledger.jsonl, line 2: not a ledger row \(not JSON"):
        Ledger(path)


def test_the_download_ledger_keeps_its_tsv_form(tmp_path):
    path = tmp_path / "download_status.tsv"
    ledger = Ledger(path, StatusTsv())
    ledger.record(LedgerRow("abc", "ok", 1, "abc_0_10.flac", "0", "10", "10.00 s"))
    ledger.record(LedgerRow("def", "error", 2, detail="a\ttab and\na newline"))
    ledger.record(LedgerRow("abc", "ok", 2, "abc_0_10.flac", "0", "10", "again"))
    ledger.compact()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == list(LEDGER_COLUMNS) and len(lines) == 3
    again = Ledger(path, StatusTsv())
    assert again.rows["abc"].detail == "again" and again.rows["def"].detail == "a tab and a newline"
    path.write_text("youtube_id\tstatus\n", encoding="utf-8")
    with pytest.raises(LedgerError, match="line 1 is not the ledger header"):
        Ledger(path, StatusTsv())


def test_group_commit_one_fsync_per_batch_and_every_row_flushed_at_once(tmp_path, monkeypatch):
    fsyncs = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real(fd)))
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path, JsonLinesCodec(key_field="id"))
    seen_on_disk = []

    def record(item: int, value: int) -> None:
        ledger.record({"id": str(item), "value": value})
        seen_on_disk.append(len(path.read_text().splitlines()))  # flushed before record returns

    left = run_jobs(range(200), lambda i: i * i, record, workers=8, stop=threading.Event(), commit=ledger.commit)
    ledger.close()
    assert left == 0 and len(ledger) == 200 and seen_on_disk == list(range(1, 201))
    assert 1 <= len(fsyncs) < 200  # batches, not one per row


def test_a_slim_ledger_keeps_part_of_each_row_and_reads_the_whole_rows_again(tmp_path):
    path = tmp_path / "ledger.jsonl"
    rows = [{"key": k, "status": "ok", "text": k * 50, "note": "é"} for k in "abc"]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[:2]) + '{"key": "x", "sta')
    ledger = Ledger(path, slim=lambda row: {"key": row["key"], "status": row["status"]})
    assert ledger.rows == {"a": {"key": "a", "status": "ok"}, "b": {"key": "b", "status": "ok"}}
    assert ledger.torn_lines == 1 and ledger.end == path.stat().st_size - len(b'{"key": "x", "sta')
    ledger.record(rows[2], flush=False)  # the torn line set aside first: the offsets stay right
    ledger.record({**rows[0], "text": "again"}, flush=False)  # a later row of a key replaces it
    assert list(ledger.whole_rows(["c", "b", "a"])) == [rows[2], rows[1], {**rows[0], "text": "again"}]
    ledger.close()
    assert ledger.end == path.stat().st_size and ledger.rows["c"] == {"key": "c", "status": "ok"}
    with pytest.raises(LedgerError, match="a slim ledger .* is never compacted"):
        ledger.compact()
    assert len(path.read_text(encoding="utf-8").splitlines()) == 4  # nothing rewritten
    again = Ledger(path, slim=lambda row: row["status"])
    assert again.rows == dict.fromkeys("abc", "ok") and list(again.whole_rows(["a"]))[0]["text"] == "again"


def test_a_ledger_read_from_an_offset_sees_only_the_lines_after_it(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"key": "a"}\n{"key": "b"}\n', encoding="utf-8")
    first = Ledger(path)
    assert first.end == path.stat().st_size
    with path.open("a", encoding="utf-8") as file:
        file.write('{"key": "c"}\n{"key": "a", "v": 2}')  # grown; its last line still without its newline
    later = Ledger(path, start=first.end)
    assert later.rows == {"c": {"key": "c"}, "a": {"key": "a", "v": 2}} and later.end == path.stat().st_size
    empty = tmp_path / "ledger.shard-1-of-2.jsonl"
    empty.write_bytes(b"")  # a shard ledger left empty: nothing to fold from it, and no error
    assert list(other_rows(path, JSON_LINES, None, slim=lambda row: row, lines=True)) == []


# --- the runner, the backoff, the lock, the settings ------------------------------------------------


def test_the_runner_stops_starting_work_and_records_what_was_in_flight():
    stop, started, recorded = threading.Event(), [], []

    def work(item: int) -> int:
        started.append(item)
        if item == 3:
            stop.set()  # as the stop policy does on Ctrl-C
        time.sleep(0.05)
        return item

    left = run_jobs(range(20), work, lambda item, value: recorded.append(value), workers=2, stop=stop)
    assert sorted(recorded) == sorted(started) and len(started) < 20 and left == 20 - len(started)


def test_an_error_in_one_item_stops_the_run_after_the_others_are_recorded():
    recorded = []

    def work(item: int) -> int:
        if item == 0:
            raise RuntimeError("the server refuses the key")
        time.sleep(0.1)
        return item

    with pytest.raises(RuntimeError, match="refuses the key"):
        run_jobs(range(10), work, lambda item, value: recorded.append(item), workers=3, stop=threading.Event())
    assert sorted(recorded) == [1, 2]  # in flight when the error came: recorded; nothing new started


def test_backoff_doubles_with_jitter_and_honours_retry_after():
    backoff, rng = Backoff(base=1.0, maximum=10.0), random.Random(0)
    for attempt, full in ((1, 1.0), (2, 2.0), (3, 4.0), (5, 10.0)):
        delays = [backoff.delay(attempt, rng=rng) for _ in range(50)]
        assert all(full / 2 <= d < full for d in delays) and len(set(delays)) > 1
    assert backoff.delay(3, retry_after=7.0) == 7.0 and backoff.delay(1, retry_after=99.0) == 10.0


def test_a_second_run_into_a_locked_folder_is_refused_naming_the_holder(tmp_path):
    with FolderLock(tmp_path, "generate run", holder="audioset_dialogues"):
        with pytest.raises(FolderBusyError, match=r"Another generate run is writing into .* \(pid \d+, audioset_dial"):
            with FolderLock(tmp_path, "generate run", holder="audioset_comparison"):
                pass
    with FolderLock(tmp_path, "generate run"):
        pass  # released


def test_settings_that_shape_the_output_are_kept_between_runs(tmp_path):
    path = tmp_path / "settings.json"
    check_settings(path, {"model": "a", "seed": 0}, what="out/x", names={"model": "--model"})
    check_settings(path, {"model": "a", "seed": 0}, what="out/x", names={"model": "--model"})
    with pytest.raises(SettingsChangedError) as refused:
        check_settings(path, {"model": "b", "seed": 0}, what="out/x", names={"model": "--model"})
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("out/x was written with '--model': 'a', this run asks for '--model': 'b'; rerun with")
    with pytest.raises(SettingsChangedError, match="rerun without --temperature"):
        check_settings(
            path, {"model": "a", "seed": 0, "temperature": 0.5}, what="out/x", names={"temperature": "--temperature"}
        )


# --- the stop policy, in child processes --------------------------------------------------------------


def start(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"},
        preexec_fn=sigint_as_in_a_terminal,
        cwd=REPO,
    )


def wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


GENERATE = """
import sys
from _audio_dialogues.generation.pipeline import generate
from _audio_dialogues.core.musiccaps import shipped_musiccaps
ids = list(shipped_musiccaps())[:12]
summary = generate(sys.argv[1], "music_dialogues", ids=ids, base_url=sys.argv[2], concurrency=3, progress=False,
                   min_test_turns=1)  # the stand-in answers two turns
print(summary.summary())
sys.exit(130 if summary.interrupted else 0)
"""


def test_a_second_ctrl_c_abandons_at_once_even_against_a_server_that_trickles(tmp_path):
    out = tmp_path / "out"
    ledger = out / "music_dialogues" / "ledger.jsonl"
    with ChatServer(delay=0.2) as fast:
        process = start(GENERATE, str(out), fast.base_url)
        wait_for(lambda: ledger.exists() and len(ledger.read_text().splitlines()) >= 2)
        fast.delay = 120  # every request from now on hangs
        time.sleep(0.5)  # those in flight now wait for the server
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert process.poll() is None  # the first Ctrl-C waits for the requests in flight...
        began = time.monotonic()
        process.send_signal(signal.SIGINT)  # ... the second does not
        stdout, stderr = process.communicate(timeout=10)
        assert time.monotonic() - began < 5 and process.returncode == 130, stderr
        assert "abandoned: the ledger holds everything recorded so far" in stderr
        rows = [json.loads(line) for line in ledger.read_text().splitlines()]  # every line whole
        assert 2 <= len(rows) < 12 and all(row["status"] == "ok" for row in rows)


def test_sigterm_stops_generate_like_a_first_ctrl_c(tmp_path):
    out = tmp_path / "out"
    ledger = out / "music_dialogues" / "ledger.jsonl"
    with ChatServer(delay=0.3) as server:
        process = start(GENERATE, str(out), server.base_url)
        wait_for(lambda: ledger.exists() and len(ledger.read_text().splitlines()) >= 1)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
        assert process.returncode == 130, stderr  # the script maps "interrupted" to 130
        finished = len(ledger.read_text().splitlines())
        assert finished < 12 and server.count() == finished  # every answer that came back was recorded
        assert "written: train.jsonl" in stdout and "interrupted" in stdout


PROTOCOL = """
import sys, time
from _audio_dialogues.evaluation.protocol import run_protocol

def model(audio, history, question):
    time.sleep(0.3)
    return "an answer"

try:
    run_protocol(model, "music_dialogues", out=sys.argv[1], progress=False, cache_dir=sys.argv[2])
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_the_protocol_stops_cleanly_on_ctrl_c_and_a_rerun_finishes(tmp_path, cache_dir):
    out = tmp_path / "pred.jsonl"
    process = start(PROTOCOL, str(out), cache_dir)
    wait_for(lambda: out.exists() and len(out.read_text().splitlines()) >= 1, seconds=120)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    lines = out.read_text().splitlines()
    assert 1 <= len(lines) < 12 and all(json.loads(line)["answers"] for line in lines)  # whole lines only
    from _audio_dialogues.evaluation.protocol import run_protocol

    report = run_protocol(lambda a, h, q: "again", "music_dialogues", out=out, progress=False, cache_dir=cache_dir)
    assert (report.resumed, report.answered) == (len(lines), 12 - len(lines)) and report.complete
    with pytest.raises(SettingsChangedError, match=r"pred.jsonl was written with 'split': 'test', this run asks"):
        run_protocol(lambda a, h, q: "", "music_dialogues", "train", out=out, progress=False, cache_dir=cache_dir)


CONVERT = """
import sys
from _audio_dialogues.cli.main import main
sys.exit(main(["convert", "--format", "openai", sys.argv[1], "--config", "music_dialogues", "--config",
               "audioset_dialogues", "--config", "audioset_comparison", "--split", "train", "--split", "test",
               "--cache-dir", sys.argv[2]]))
"""


def test_convert_stops_cleanly_on_ctrl_c_and_a_rerun_reuses_the_parts(tmp_path):
    out, cache = tmp_path / "all.jsonl", tmp_path / "cache"
    parts = tmp_path / "all.jsonl.parts"
    process = start(CONVERT, str(out), str(cache))
    wait_for(lambda: parts.is_dir() and any(parts.glob("*.counts.json")), seconds=120)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted: the finished parts are kept" in stdout and "Traceback" not in stderr
    finished = sorted(p.name for p in parts.glob("*.counts.json"))
    assert 1 <= len(finished) < 6 and not out.exists()
    rerun = start(CONVERT, str(out), str(cache))
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert stdout.count("(written by an earlier run with the same arguments)") == len(finished)
    assert out.exists() and not parts.exists()


# --- the options tables ----------------------------------------------------------------------------------


def test_an_options_table_gives_the_flag_the_check_and_the_keyword():
    import argparse

    from _audio_dialogues.cli.option_flags import add_option_flags, options_from_args
    from _audio_dialogues.download.options import DownloadOptions
    from _audio_dialogues.engine.options import flags, options_from, shaping
    from _audio_dialogues.generation.options import GenerateOptions

    parser = argparse.ArgumentParser()
    add_option_flags(parser, DownloadOptions)
    args = parser.parse_args(["--output-rate", "none", "--jobs", "2", "--clip-times", "a.tsv", "--clip-times", "b.csv"])
    given = options_from_args(args, DownloadOptions)
    assert given == {"sampling_rate": None, "jobs": 2, "clip_times": ["a.tsv", "b.csv"]}
    chosen = options_from(DownloadOptions, given, command="download")
    assert chosen.clip_times == ("a.tsv", "b.csv") and chosen.audio_format == "flac" and chosen.progress
    assert shaping(chosen) == {"url_template": chosen.url_template, "audio_format": "flac", "sampling_rate": None}
    assert flags(DownloadOptions)["sampling_rate"] == "--output-rate"
    assert options_from_args(parser.parse_args(["--no-progress"]), DownloadOptions) == {"progress": False}
    with pytest.raises(SystemExit):
        parser.parse_args(["--audio-format", "aiff"])  # the choices come from the table
    with pytest.raises(ValueError, match=r"download: jobs=0 \(--jobs\): expected at least 1"):
        options_from(DownloadOptions, {"jobs": 0}, command="download")
    with pytest.raises(
        ValueError, match=r"audio_format='flak' \(--audio-format\): choose one of .* Did you mean 'flac'"
    ):
        options_from(DownloadOptions, {"audio_format": "flak"}, command="download")
    with pytest.raises(ValueError, match=r"retries='3' \(--retries\): expected a whole number"):
        options_from(DownloadOptions, {"retries": "3"}, command="download")
    with pytest.raises(TypeError, match=r"unexpected keyword 'concurency'. Did you mean 'concurrency'"):
        options_from(GenerateOptions, {"concurency": 3}, command="generate")
    ids = options_from(GenerateOptions, {"ids": ["aaaaaaaaaaa"], "temperature": 1}, command="generate")
    assert ids.ids == ("aaaaaaaaaaa",) and ids.temperature == 1.0  # the ids themselves, or a file
    assert set(shaping(ids)) == {"label_descriptions", "model", "temperature", "seed", "prompt"} | {
        "prompt_style",
        "min_test_turns",
        "comparisons",
    }  # issue 22: what the paper's way changes in the text
