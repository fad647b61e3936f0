"""Trust under fire (issue 20): a hostile chat server or hostile data never ends a paid run, never gets a
secret, and never becomes a path. The server is the stand-in of ``chat_server.py`` misbehaving as real
servers do (bodies that are not JSON, wrong shapes, a trickle, a flood, echoed headers, control sequences).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from chat_server import ChatServer, EchoHeaders, HttpReply, RawReply
from test_generate import FAST, TURN, ledger_lines, music_ids

from _audio_dialogues.core.musiccaps import shipped_musiccaps
from _audio_dialogues.generation import chat
from _audio_dialogues.generation.chat import BackendError
from _audio_dialogues.generation.pipeline import generate

GOOD = json.dumps([TURN])


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ChatServer() as chat_server:
        yield chat_server


def completion(content) -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode()


# --- family 1: a reply of any shape, size or encoding never ends a run ---------------------------------------


BAD_BODIES = {
    "not json": RawReply(body=b"<html>502 Bad Gateway</html>"),
    "choices a string": RawReply(body=b'{"choices": "none"}'),
    "content a number": RawReply(body=json.dumps({"choices": [{"message": {"content": 7}}]}).encode()),
    "usage a string": RawReply(
        body=json.dumps(
            {"choices": [{"message": {"content": GOOD}}], "usage": {"prompt_tokens": "9", "completion_tokens": []}}
        ).encode()
    ),
    "nested deep": RawReply(body=b"[" * 200_000 + b"]" * 200_000),
    "not utf-8": RawReply(body=b'{"choices": [{"message": {"content": "\xff\xfe"}}]}'),
    "cut short": RawReply(body=completion(GOOD)[:20], length=len(completion(GOOD))),
    "content nested deep": RawReply(body=completion("[" * 100_000 + "]" * 100_000)),
    "content huge numbers": RawReply(body=completion('[{"user": 1e999, "assistant": ' + "9" * 5000 + "}]")),
}


def test_a_reply_of_any_shape_is_retried_then_recorded_and_the_run_goes_on(tmp_path, server):
    ids = music_ids(len(BAD_BODIES) + 1, 0)
    caption = {y: shipped_musiccaps()[y].caption for y in ids}
    for youtube_id, bad in zip(ids, BAD_BODIES.values()):
        server.add(caption[youtube_id], bad)  # always bad
    out = tmp_path / "out"
    summary = generate(out, "music_dialogues", ids=ids, base_url=server.base_url, retries=1, concurrency=2, **FAST)
    # the "usage a string" body holds a good dialogue: its usage is ignored, its answer kept
    assert summary.generated == 2
    entries = {e["key"]: e for e in ledger_lines(out, "music_dialogues")}
    assert set(entries) == set(ids)  # every answer recorded: a rerun pays for none of them
    failed = [e for e in entries.values() if e["status"] == "failed"]
    assert len(failed) == len(BAD_BODIES) - 1
    assert all(e["reason"] in ("invalid reply", "connection error") and e["requests"] == 2 for e in failed)
    assert generate(out, "music_dialogues", ids=ids, base_url=server.base_url, **FAST).requests == 0


def test_a_reply_with_a_lone_surrogate_is_recorded_once(tmp_path, server):
    ids = music_ids(1, 0)
    lone = json.dumps([{"user": "What is playing?", "assistant": "A song \ud800 with a guitar."}])
    server.add(shipped_musiccaps()[ids[0]].caption, RawReply(body=completion(lone)))
    out = tmp_path / "out"
    summary = generate(out, "music_dialogues", ids=ids, base_url=server.base_url, **FAST)
    assert summary.generated == 1
    (entry,) = ledger_lines(out, "music_dialogues")
    assert (
        entry["dialogue"][0]["assistant"] == "A song \ufffd with a guitar."
    )  # replaced, never written as a byte sequence no reader accepts
    assert generate(out, "music_dialogues", ids=ids, base_url=server.base_url, **FAST).requests == 0


@pytest.mark.parametrize(
    "value", ["Fri, 31 Dec 99999 23:59:59 GMT", "Mon, 01 Jan 0000 00:00:00 GMT", "1e999", "nan", "-5", "soon"]
)
def test_a_retry_after_the_calendar_cannot_hold_is_a_plain_retry(tmp_path, server, value):
    ids = music_ids(1, 0)
    server.add(shipped_musiccaps()[ids[0]].caption, HttpReply(429, {"Retry-After": value}), GOOD)
    started = time.monotonic()
    summary = generate(tmp_path / "out", "music_dialogues", ids=ids, base_url=server.base_url, **FAST)
    assert summary.generated == 1 and time.monotonic() - started < 30


def test_a_trickling_reply_is_bounded_by_the_timeout_for_the_whole_request(tmp_path, server):
    ids = music_ids(1, 0)
    server.add(shipped_musiccaps()[ids[0]].caption, RawReply(body=completion(GOOD), trickle=0.1))
    started = time.monotonic()
    summary = generate(
        tmp_path / "out", "music_dialogues", ids=ids, base_url=server.base_url, timeout=1.0, retries=0, **FAST
    )
    assert time.monotonic() - started < 6  # the body alone would take 10 s a byte at a time
    assert summary.failed == {"timeout": 1}


def test_a_huge_reply_is_refused_at_the_cap_and_never_stored(tmp_path, server, monkeypatch):
    monkeypatch.setattr(chat, "MAX_REPLY_BYTES", 100_000)
    ids = music_ids(1, 0)
    server.add(shipped_musiccaps()[ids[0]].caption, RawReply(body=completion("x" * 1_000_000)))
    out = tmp_path / "out"
    summary = generate(out, "music_dialogues", ids=ids, base_url=server.base_url, retries=0, **FAST)
    assert summary.failed == {"reply too large": 1}
    assert (out / "music_dialogues" / "ledger.jsonl").stat().st_size < 10_000


# --- family 2: secrets stay where they belong ----------------------------------------------------------------


def test_the_openai_key_goes_only_to_openai(tmp_path, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    generate(tmp_path / "a", "music_dialogues", ids=music_ids(1, 0), base_url=server.base_url, **FAST)
    assert "sk-openai-secret" not in json.dumps(server.headers)
    monkeypatch.setenv("LOCAL_KEY", "sk-local")  # a variable the user names is sent to the server named
    generate(
        tmp_path / "b",
        "music_dialogues",
        ids=music_ids(1, 0),
        base_url=server.base_url,
        api_key_env="LOCAL_KEY",
        **FAST,
    )
    assert {k.lower(): v for k, v in server.headers[-1].items()}["authorization"] == "Bearer sk-local"


def test_a_key_is_never_sent_over_plain_http_to_another_host(monkeypatch):
    monkeypatch.setenv("LOCAL_KEY", "sk-local")
    with pytest.raises(ValueError, match=r"plain http.*--api-key-env"):
        chat.choose_api_key("LOCAL_KEY", "http://models.example.org/v1", "--api-key-env")
    assert chat.choose_api_key("LOCAL_KEY", "https://models.example.org/v1", "--api-key-env") == "sk-local"
    assert chat.choose_api_key("LOCAL_KEY", "http://127.0.0.1:8000/v1", "--api-key-env") == "sk-local"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    assert chat.choose_api_key("OPENAI_API_KEY", None, "--api-key-env") == "sk-openai"
    assert chat.choose_api_key("OPENAI_API_KEY", "https://api.openai.com/v1", "--api-key-env") == "sk-openai"
    assert chat.choose_api_key("OPENAI_API_KEY", "https://api.openai.com.evil.org/v1", "--api-key-env") == "no-key"


def test_a_key_echoed_by_the_server_is_stored_nowhere(tmp_path, server, monkeypatch):
    monkeypatch.setenv("LOCAL_KEY", "sk-local-secret")
    ids = music_ids(1, 0)
    server.add(shipped_musiccaps()[ids[0]].caption, EchoHeaders())
    out = tmp_path / "out"
    summary = generate(
        out, "music_dialogues", ids=ids, base_url=server.base_url, api_key_env="LOCAL_KEY", retries=1, **FAST
    )
    assert summary.failed == {"invalid reply": 1}
    written = "".join(p.read_text() for p in (out / "music_dialogues").iterdir() if p.is_file())
    assert "sk-local-secret" in json.dumps(server.headers) and "sk-local-secret" not in written
    assert "sk-local-secret" not in summary.summary()


def test_url_credentials_are_masked_and_server_text_escaped(tmp_path, server):
    server.add("", HttpReply(401, body=json.dumps({"error": {"message": "bad key \x1b[31mRED\x1b]0;title\x07"}})))
    url = server.base_url.replace("http://", "http://user:hunter2@")
    with pytest.raises(BackendError) as caught:
        generate(tmp_path / "out", "music_dialogues", ids=music_ids(1, 0), base_url=url, **FAST)
    message = str(caught.value)
    assert "hunter2" not in message and "\x1b" not in message and "\x07" not in message
    assert "user:***@" in message and "\\x1b[31mRED" in message


# --- family 3: nothing from data becomes a path or an argument -----------------------------------------------


@pytest.mark.parametrize("bad", ["../../x", "a b c d e f", "-o/etc/pwd", "x" * 12, "Y../../etc/p"])
def test_ids_of_a_musiccaps_csv_are_checked_before_anything_is_paid(tmp_path, server, bad):
    csv = tmp_path / "mc.csv"
    csv.write_text(
        "ytid,start_s,end_s,audioset_positive_labels,aspect_list,caption,author_id,is_balanced_subset,is_audioset_eval\n"
        f"{bad},0,10,x,\"['a']\",a caption,1,False,False\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"mc.csv.*is not a YouTube id"):
        generate(tmp_path / "out", "music_dialogues", sources=[str(csv)], base_url=server.base_url, **FAST)
    assert server.count() == 0 and not (tmp_path / "x").exists()


def test_a_ledger_split_outside_the_known_ones_is_refused(tmp_path, server):
    ids = music_ids(1, 0)
    out = tmp_path / "out"
    generate(out, "music_dialogues", ids=ids, base_url=server.base_url, **FAST)
    ledger = out / "music_dialogues" / "ledger.jsonl"
    entry = json.loads(ledger.read_text())
    ledger.write_text(json.dumps({**entry, "split": "../../escaped"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"ledger.jsonl.*split.*'../../escaped'"):
        generate(out, "music_dialogues", ids=ids, base_url=server.base_url, **FAST)
    assert not list(tmp_path.glob("escaped*")) and not list(Path(out).glob("escaped*"))


def test_the_judge_holds_the_same_against_bad_bodies_and_a_trickle(tmp_path, monkeypatch):
    from judge_stand_in import stand_in_judge
    from test_judge import FAST as JUDGE_FAST
    from test_judge import audioset_rows, raw_score

    from _audio_dialogues.evaluation.judge_run import judge

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    predictions = {"test-000000": ["NOTJSON"], "test-000001": ["TRICKLE"], "test-000003": ["A dog."]}
    with ChatServer(default=stand_in_judge(raw_score)) as judge_server:
        judge_server.add("NOTJSON", BAD_BODIES["not json"])
        judge_server.add("TRICKLE", RawReply(body=completion("4 6\nSlow."), trickle=0.2))
        started = time.monotonic()
        scores = judge(predictions, "audioset_dialogues", model="stand-in", judge_dir=tmp_path / "j",
                       base_url=judge_server.base_url, retries=1, timeout=1.0, rows=audioset_rows(),
                       **JUDGE_FAST)  # fmt: skip
    assert time.monotonic() - started < 20
    ledger = [json.loads(line) for line in (tmp_path / "j" / "ledger.jsonl").read_text().splitlines()]
    assert len(ledger) == 6  # three turns, two orders each: every ask recorded
    assert sorted(e["reason"] for e in ledger if e["status"] == "failed") == ["invalid reply"] * 2 + ["timeout"] * 2
    assert (scores.overall["judged"], scores.overall["failed"]) == (1, 2)


@pytest.mark.parametrize("bad", ["../../etc/pw", "-o-exec-rm", "a b c d e f", "x" * 12])
def test_ids_of_clip_times_and_missing_lists_are_checked_before_download(tmp_path, bad):
    from _audio_dialogues.download.plan import ClipTimesFormatError, read_clip_times, read_missing_ids

    segments = tmp_path / "segments.csv"
    segments.write_text(f'# YTID, start_seconds, end_seconds, positive_labels\n{bad}, 0.000, 10.000, "/m/09x0r"\n')
    with pytest.raises(ClipTimesFormatError, match=r"segments.csv.*line 2.*YTID.*not a YouTube id"):
        read_clip_times(segments)
    strong = tmp_path / "strong.tsv"
    strong.write_text(f"segment_id\tstart_time_seconds\tend_time_seconds\tlabel\n{bad}_30000\t0.0\t1.0\t/m/09x0r\n")
    with pytest.raises(ClipTimesFormatError, match=r"strong.tsv.*not a YouTube id"):
        read_clip_times(strong)
    missing = tmp_path / "test.missing.tsv"
    missing.write_text(f"youtube_id\taudio_id\n-0Gj8-vB1q4\tY-0Gj8-vB1q4.wav\n{bad}\tY{bad}.wav\n")
    with pytest.raises(ValueError, match=r"test.missing.tsv, line 3, field youtube_id: .* is not a YouTube id"):
        read_missing_ids(missing)
    missing.write_text("youtube_id\taudio_id\n-0Gj8-vB1q4\tY-0Gj8-vB1q4.wav\n")
    assert read_missing_ids(missing) == ["-0Gj8-vB1q4"]  # a leading "-" is a real id: it is passed after "--"


def test_links_planted_in_the_output_folder_never_redirect_a_write(tmp_path, server):
    out = tmp_path / "out"
    config_dir = out / "music_dialogues"
    config_dir.mkdir(parents=True)
    victims = {name: tmp_path / f"victim-{name}" for name in ("train.jsonl.tmp", "settings.json.tmp", "failed.tsv.tmp")}
    for name, victim in victims.items():
        victim.write_text("keep me\n", encoding="utf-8")
        (config_dir / name).symlink_to(victim)
    summary = generate(out, "music_dialogues", ids=music_ids(1, 0), base_url=server.base_url, **FAST)
    assert summary.generated == 1 and (config_dir / "train.jsonl").is_file()
    assert all(victim.read_text(encoding="utf-8") == "keep me\n" for victim in victims.values())

    ledger_victim = tmp_path / "victim-ledger"
    ledger_victim.write_text("keep me\n", encoding="utf-8")
    other = tmp_path / "other"
    (other / "music_dialogues").mkdir(parents=True)
    (other / "music_dialogues" / "ledger.jsonl").symlink_to(ledger_victim)
    with pytest.raises(OSError, match=r"ledger.jsonl is a symbolic link"):
        generate(other, "music_dialogues", ids=music_ids(1, 0), base_url=server.base_url, **FAST)
    assert ledger_victim.read_text(encoding="utf-8") == "keep me\n" and server.count() == 1


# --- family 6: resources --------------------------------------------------------------------------------------


def test_a_full_disk_is_one_line_naming_the_ledger_and_the_rerun_loses_nothing_recorded(tmp_path, server):
    """The file-size limit (RLIMIT_FSIZE) makes the kernel refuse a write as a full disk does (EFBIG)."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    from test_generate import GROUNDED_FLAGS, write_ids

    ids = music_ids(8, 0)
    out = tmp_path / "out"

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))

    command = [sys.executable, "-m", "_audio_dialogues", "generate", str(out), "--config", "music_dialogues"]
    command += ["--ids", str(write_ids(tmp_path / "ids", ids)), "--base-url", server.base_url, "--concurrency", "1"]
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    run = subprocess.run(
        command + GROUNDED_FLAGS, capture_output=True, text=True, preexec_fn=small_disk, env=env, timeout=120
    )
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "ledger.jsonl: File too large while recording" in run.stderr and "Traceback" not in run.stderr
    lines = (out / "music_dialogues" / "ledger.jsonl").read_text(encoding="utf-8").split("\n")
    kept = sum(1 for line in lines if line.endswith("}"))
    assert 0 < kept == server.count() - 1  # only the entry being written was lost (its cut line set aside)
    summary = generate(out, "music_dialogues", ids=ids, base_url=server.base_url, **FAST)
    assert summary.requests == len(ids) - kept and len(ledger_lines(out, "music_dialogues")) == len(ids)


# --- family 5: nothing of the user's cut; a dry run writes nothing --------------------------------------------


def test_a_complete_last_entry_without_its_newline_is_kept_and_a_dry_run_writes_nothing(tmp_path, server, capsys):
    ids = music_ids(2, 0)
    out = tmp_path / "out"
    generate(out, "music_dialogues", ids=ids, base_url=server.base_url, **FAST)
    ledger = out / "music_dialogues" / "ledger.jsonl"
    ledger.write_bytes(ledger.read_bytes().rstrip(b"\n"))  # a complete last line, its newline never written
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    dry = generate(out, "music_dialogues", ids=ids, base_url=server.base_url, dry_run=True, **FAST)
    assert dry.requests == 0 and {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    again = generate(out, "music_dialogues", ids=ids, base_url=server.base_url, **FAST)
    assert again.requests == 0 and server.count() == 2 and len(ledger_lines(out, "music_dialogues")) == 2


# --- family 1, the stop policy against a server that never finishes -------------------------------------------


def test_two_ctrl_c_end_a_run_at_once_whatever_the_server_does(tmp_path, server):
    import signal
    import subprocess
    import sys

    from conftest import sigint_as_in_a_terminal
    from test_generate import RUN, write_ids

    ids = music_ids(3, 0)
    for youtube_id in ids:  # a byte a second: the whole body would take minutes
        server.add(shipped_musiccaps()[youtube_id].caption, RawReply(body=completion(GOOD), trickle=1.0))
    process = subprocess.Popen(
        [sys.executable, "-c", RUN, str(tmp_path / "out"), str(write_ids(tmp_path / "ids", ids)), server.base_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_in_a_terminal,
    )
    deadline = time.monotonic() + 30
    while server.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    process.communicate(timeout=30)
    assert process.returncode == 130 and time.monotonic() - started < 5


def test_a_refused_key_records_nothing_in_out(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCAL_KEY", "sk-local")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="plain http to another machine"):
        generate(out, "music_dialogues", ids=music_ids(1, 0), base_url="http://models.example.org/v1",
                 api_key_env="LOCAL_KEY", **FAST)  # fmt: skip
    assert not (out / "music_dialogues" / "settings.json").exists()
