"""`--shard K/N`: N shards of a download run at once (N processes, as on N machines), then the unsharded merge;
compared with one unsharded run over the same work."""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile
from chat_server import ChatServer
from conftest import dialogue, write_release
from test_download import ClipServer, ledger, tone_clip
from test_download_archive import flac_bytes, write_parquet, write_tar
from test_generate import GROUNDED_FLAGS, music_ids, write_ids

from _audio_dialogues.download.plan import ClipTime
from _audio_dialogues.download.run import LEDGER, download
from _audio_dialogues.engine.shard import Shard, owner, shard_files

IDS = ["".join(random.Random(n).choices(string.ascii_letters + string.digits + "-_", k=11)) for n in range(24)]
FROM_YOUTUBE = IDS[:3]  # not in the archives: fetched from the YouTube stand-in
GONE = IDS[3]  # in neither: not-found on YouTube too
WINDOW = ClipTime(5.0, 15.0)


@pytest.fixture
def work(tmp_path: Path):
    """A release of 24 clips; 20 in two archives (Parquet, WebDataset), 3 on the YouTube stand-in, 1 nowhere."""
    release = tmp_path / "release"
    records = [{"audio_id": f"Y{y}.wav", "dialogue": dialogue(1)} for y in IDS]
    write_release(release, "audioset_dialogues", "train", records[:18])
    write_release(release, "audioset_dialogues", "test", records[18:])
    times = tmp_path / "segments.csv"
    times.write_text("".join(f'{y}, {WINDOW.start}, {WINDOW.end}, "/m/1"\n' for y in IDS), encoding="utf-8")
    archived = IDS[4:]
    write_parquet(tmp_path / "archive" / "a.parquet", {y: flac_bytes(10.0) for y in archived[:10]})
    write_tar(tmp_path / "archive" / "b.tar", {f"Y{y}.flac": flac_bytes(10.0) for y in archived[10:]})
    server = ClipServer({y: tone_clip(WINDOW) for y in FROM_YOUTUBE})
    args = ["--config", "audioset_dialogues", "--data-dir", str(release), "--verification-mode", "no_checks",
            "--clip-times", str(times), "--archive", str(tmp_path / "archive"), "--url-template",
            server.url_template, "--retries", "0", "--no-progress"]  # fmt: skip
    yield args, server
    server.close()


def _run(out: Path, args: list[str], *more: str) -> subprocess.Popen:
    script = Path(sys.executable).with_name("audio-dialogues")  # the installed console script
    return subprocess.Popen([str(script), "download", str(out), *args, *more], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _finish(process: subprocess.Popen) -> str:
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    return stdout


def _comparable(out: Path) -> dict[str, tuple]:
    """A ledger's rows without the run-specific detail, each ok clip with its samples' checksum."""
    rows = {}
    for youtube_id, row in ledger(out).items():
        samples = soundfile.read(out / row["file"])[0] if row["status"] == "ok" else np.zeros(1)
        rows[youtube_id] = (row["status"], row["attempts"], row["file"], row["source"], round(float(samples.sum()), 3))
    return rows


def test_a_shard_owns_a_stable_part_and_the_parts_cover_every_id():
    parts = Counter(owner(y, 4) for y in IDS)
    assert sorted(parts) == [1, 2, 3, 4] and sum(parts.values()) == len(IDS)
    assert [owner(y, 4) for y in IDS] == [owner(y, 4) for y in IDS]  # the same on every call (no salted hash)
    assert owner("a_b-c_d_e_f", 4) == 1  # and on every machine: a fixed hash, not Python's
    assert Shard.parse("2/4").path(Path("o/download_status.tsv")) == Path("o/download_status.shard-2-of-4.tsv")
    for bad in ("0/4", "5/4", "2", "a/b"):
        with pytest.raises(ValueError, match="expected K/N with 1 <= K <= N"):
            Shard.parse(bad)


@pytest.mark.parametrize("count", [2, 4])
def test_n_shards_at_once_then_the_merge_equal_one_unsharded_run(work, tmp_path, count):
    args, server = work
    single = tmp_path / "single"
    _finish(_run(single, args))
    asked_once = Counter(server.requests)
    assert set(asked_once) == {*FROM_YOUTUBE, GONE}

    server.requests.clear()
    sharded = tmp_path / "sharded"
    outputs = [_finish(p) for p in [_run(sharded, args, "--shard", f"{k}/{count}") for k in range(1, count + 1)]]
    for k, output in enumerate(outputs, start=1):
        assert f"note: shard {k}/{count}: {sum(owner(y, count) == k for y in IDS)} clips" in output
    assert server.requests == asked_once  # every YouTube clip asked by one shard only, as often as by one run
    assert [p.name for p in shard_files(sharded / LEDGER)] == [
        f"download_status.shard-{k}-of-{count}.tsv" for k in range(1, count + 1)
    ]
    assert not (sharded / LEDGER).exists()  # no shard wrote the merged ledger

    status = _finish(_run(sharded, args, "--status"))  # how far each shard got, fetching nothing
    for k in range(1, count + 1):
        part = [y for y in IDS if owner(y, count) == k]
        done = len([y for y in part if y != GONE])
        name = f"download_status.shard-{k}-of-{count}.tsv"
        assert (
            f"note: shard {k}/{count} ({name}): {done} of {len(part)} clips finished, {len(part) - done} failed"
            in status
        )
    assert "status: ok 23, not-found 1" in status and server.requests == asked_once
    assert not (sharded / LEDGER).exists()

    merged = _finish(_run(sharded, args))
    assert server.requests == asked_once  # the merge asked for nothing again
    assert f"merged {count} shard ledgers: {len(IDS)} rows taken" in merged
    assert "this run tried 0" in merged
    assert _comparable(sharded) == _comparable(single)  # the same clips, sources and statuses
    assert sorted(p.name for p in sharded.glob("*.flac")) == sorted(p.name for p in single.glob("*.flac"))
    assert ledger(sharded)[GONE]["status"] == "not-found"


def test_a_shard_skips_what_another_ledger_finished_and_a_merge_waits_for_running_shards(work, tmp_path):
    args, server = work
    out = tmp_path / "clips"
    _finish(_run(out, args))  # unsharded first: every clip done
    before = Counter(server.requests)
    again = _finish(_run(out, args, "--shard", "1/2"))
    assert "this run tried 0" in again and server.requests == before

    from _audio_dialogues.engine.lock import FolderLock

    with FolderLock(out, "download", name=".download.shard-2-of-2.lock"):  # shard 2 runs (on this machine)
        with pytest.raises(RuntimeError, match=r"shard 2/2 is still running .* merge when every shard has finished"):
            download(out, "audioset_dialogues", data_dir=args[3], verification_mode="no_checks", progress=False)


def test_the_missing_list_of_a_load_after_sharded_downloads_is_the_input_of_the_next_sharded_run(
    work, tmp_path, cache_dir
):
    """Two shards and the merge, then a load: its <split>.missing.tsv given to the shards' --only-missing fetches just
    that clip (by the shard that owns it), and the merge's counts say what could be had, before and after."""
    from _audio_dialogues.loading.load import load_dataset

    args, server = work
    out = tmp_path / "clips"
    for shard in [_run(out, args, "--shard", f"{k}/2") for k in (1, 2)]:
        _finish(shard)
    merged = _finish(_run(out, args))
    assert "status: ok 23, not-found 1" in merged and "audioset_dialogues/train: 17 of 18 clips ok (94.4%)" in merged

    def load(cache: str):
        return load_dataset("audioset_dialogues", "train", data_dir=args[3], audio_dir=str(out), decode=False,
                            verification_mode="no_checks", missing_audio="keep", cache_dir=cache)  # fmt: skip

    first = load(cache_dir)
    assert sum(audio is None for audio in first["audio"]) == 1
    [missing] = list(Path(cache_dir).rglob("train.missing.tsv"))
    assert [line.split("\t")[0] for line in missing.read_text(encoding="utf-8").splitlines()[1:]] == [GONE]

    server.clips[GONE] = tone_clip(WINDOW)  # the video is back (or this address may have it): rerun what is missing
    before = Counter(server.requests)
    again = ["--only-missing", str(missing), "--retry-failed"]
    outputs = [_finish(p) for p in [_run(out, args, *again, "--shard", f"{k}/2") for k in (1, 2)]]
    assert set(server.requests - before) == {GONE}  # just the missing clip (yt-dlp makes a few requests per clip)
    mine = owner(GONE, 2)
    assert "1 clips; this run tried 1" in outputs[mine - 1] and "0 clips; this run tried 0" in outputs[2 - mine]
    final = _finish(_run(out, args))
    assert "this run tried 0" in final and "status: ok 24" in final
    assert "audioset_dialogues/train: 18 of 18 clips ok (100.0%)" in final
    assert all(audio is not None for audio in load(str(tmp_path / "cache2"))["audio"])
    [empty] = list((tmp_path / "cache2").rglob("train.missing.tsv"))
    assert empty.read_text(encoding="utf-8").splitlines()[1:] == []  # the next list is empty: nothing left to take


# --- generate ---------------------------------------------------------------------------------------------------


RELEASE_FILES = ("train.jsonl", "test.jsonl", "filtered.tsv", "failed.tsv")


def _generate(out: Path, ids_file: Path, base_url: str, *more: str) -> subprocess.Popen:
    script = Path(sys.executable).with_name("audio-dialogues")
    command = [str(script), "generate", str(out), "--config", "music_dialogues", "--ids", str(ids_file), "--base-url",
               base_url, "--model", "test-model", "--backoff", "0.01", *GROUNDED_FLAGS, *more]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"})  # fmt: skip


@pytest.mark.parametrize("count", [2, 4])
def test_n_generate_shards_at_once_then_the_merge_write_the_release_of_one_run(tmp_path, count):
    ids_file = write_ids(tmp_path / "ids", music_ids(8, 4))
    with ChatServer() as chat:
        single = tmp_path / "single"
        _finish(_generate(single, ids_file, chat.base_url))
        asked_once = sorted(json.dumps(body["messages"]) for body in chat.requests)
        assert len(asked_once) == 12

        sharded = tmp_path / "sharded"
        chat.requests.clear()
        runs = [_generate(sharded, ids_file, chat.base_url, "--shard", f"{k}/{count}") for k in range(1, count + 1)]
        outputs = [_finish(run) for run in runs]
        assert sorted(json.dumps(body["messages"]) for body in chat.requests) == asked_once  # each asked once
        assert all("the release is written by the merge" in output for output in outputs)
        assert not (sharded / "music_dialogues" / "train.jsonl").exists()

        status = _finish(_generate(sharded, ids_file, chat.base_url, "--status"))
        assert "12 dialogues to make, 12 already in the ledger, 0 to request" in status
        for k in range(1, count + 1):
            part = len((sharded / "music_dialogues" / f"ledger.shard-{k}-of-{count}.jsonl").read_text().splitlines())
            name = f"ledger.shard-{k}-of-{count}.jsonl"
            assert f"status: shard {k}/{count} ({name}): {part} of {part} dialogues finished, 0 failed" in status

        chat.requests.clear()
        merged = _finish(_generate(sharded, ids_file, chat.base_url))
        assert chat.requests == []  # the merge asked for nothing again
        assert f"merged {count} shard ledgers: 12 rows" in merged
        release = {name: (sharded / "music_dialogues" / name).read_bytes() for name in RELEASE_FILES}
        again = _finish(_generate(sharded, ids_file, chat.base_url))  # a rerun reads no shard ledger again
        assert chat.requests == [] and f"merged {count} shard ledgers: 0 rows" in again
        assert (sharded / "music_dialogues" / "ledger.folded.json").is_file()
    for name in RELEASE_FILES:
        assert (sharded / "music_dialogues" / name).read_bytes() == (single / "music_dialogues" / name).read_bytes()
        assert release[name] == (single / "music_dialogues" / name).read_bytes()
    assert len((sharded / "music_dialogues" / "ledger.jsonl").read_text().splitlines()) == 12
    assert not (single / "music_dialogues" / "ledger.folded.json").exists()  # an unsharded run records no fold


# --- the evaluation protocol --------------------------------------------------------------------------------------


def test_protocol_shards_then_the_merge_hold_the_answers_of_one_run(tmp_path, cache_dir):
    from test_evaluate import CONFIG, Recorder, lines_of

    from _audio_dialogues.evaluation.protocol import run_protocol

    one = Recorder()
    run_protocol(one, CONFIG, out=tmp_path / "one.jsonl", progress=False, cache_dir=cache_dir)
    out, models = tmp_path / "pred.jsonl", [Recorder(), Recorder(), Recorder()]
    reports = [
        run_protocol(model, CONFIG, out=out, shard=f"{k}/3", progress=False, cache_dir=cache_dir)
        for k, model in enumerate(models, start=1)
    ]
    assert sum(len(m.calls) for m in models) == len(one.calls)  # every turn asked by one shard, once
    assert [r.dialogues for r in reports] == [len(lines_of(tmp_path / f"pred.shard-{k}-of-3.jsonl")) for k in (1, 2, 3)]
    assert all(r.complete for r in reports) and not out.exists()
    third = tmp_path / "pred.shard-3-of-3.jsonl"
    kept = third.read_bytes()
    third.write_bytes(b"")  # as if shard 3 had not answered yet: the status view says so
    looked = run_protocol(None, CONFIG, out=out, status=True, progress=False, cache_dir=cache_dir)
    assert reports[2].dialogues > 0
    assert (looked.dialogues, looked.resumed, looked.complete) == (12, 12 - reports[2].dialogues, False)
    for k, report in enumerate(reports, start=1):
        done = report.dialogues if k < 3 else 0
        name = f"pred.shard-{k}-of-3.jsonl"
        assert f"status: shard {k}/3 ({name}): {done} of {report.dialogues} dialogues finished" in looked.summary()
    assert not out.exists() and not (tmp_path / "pred.jsonl.protocol.json").exists()  # a status view writes nothing
    third.write_bytes(kept)
    merge = Recorder()
    report = run_protocol(merge, CONFIG, out=out, progress=False, cache_dir=cache_dir)
    assert merge.calls == [] and report.complete and report.resumed == 12
    assert lines_of(out) == lines_of(tmp_path / "one.jsonl")
    with pytest.raises(ValueError, match="shard= '4/3': expected K/N"):
        run_protocol(merge, CONFIG, out=out, shard="4/3", progress=False, cache_dir=cache_dir)


def _evaluate(predictions: Path, base_url: str, judge_dir: Path, cache_dir: str, *more: str) -> subprocess.Popen:
    script = Path(sys.executable).with_name("audio-dialogues")
    command = [str(script), "evaluate", str(predictions), "--config", "music_dialogues", "--cache-dir", cache_dir,
               "--judge-model", "stand-in", "--judge-base-url", base_url, "--judge-dir", str(judge_dir),
               "--judge-backoff", "0.01", *more]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"})  # fmt: skip


def _verdicts(judge_dir: Path) -> dict[str, tuple]:
    entries = [json.loads(line) for line in (judge_dir / "ledger.jsonl").read_text(encoding="utf-8").splitlines()]
    return {e["key"]: (e["status"], e["scores"], e["reply"]) for e in entries}


def test_two_judge_shards_at_once_then_the_merge_score_as_one_run(tmp_path, cache_dir):
    """`evaluate --judge-model --shard K/N` as two processes against the stand-in judge; the merge asks nothing."""
    from chat_server import ChatServer
    from judge_stand_in import stand_in_judge
    from test_judge import BONUS, raw_score, sample_predictions

    predictions, raw = sample_predictions()
    path = tmp_path / "pred.jsonl"
    path.write_text("".join(json.dumps({"id": k, "answers": v}) + "\n" for k, v in predictions.items()))
    with ChatServer(default=stand_in_judge(raw_score, first_bonus=BONUS)) as chat:
        _finish(_evaluate(path, chat.base_url, tmp_path / "one", cache_dir, "--output", str(tmp_path / "one.json")))
        asked_once = sorted(json.dumps(body["messages"]) for body in chat.requests)
        assert len(asked_once) == 2 * len(raw)

        chat.requests.clear()
        judge_dir = tmp_path / "j"
        shards = [_evaluate(path, chat.base_url, judge_dir, cache_dir, "--shard", f"{k}/2") for k in (1, 2)]
        outputs = [_finish(shard) for shard in shards]
        assert sorted(json.dumps(body["messages"]) for body in chat.requests) == asked_once  # each ask sent once
        per_shard = [sum(len(a) for i, a in predictions.items() if owner(i, 2) == k) for k in (1, 2)]
        assert 0 < per_shard[0] < len(raw) and sum(per_shard) == len(raw)
        for k, output in zip((1, 2), outputs):
            assert f"{per_shard[k - 1]} of {per_shard[k - 1]} turns judged, 0 failed, 0 not finished" in output
            assert f"note: shard {k}/2: ledger ledger.shard-{k}-of-2.jsonl" in output
            assert "BLEU-4" not in output  # a shard judges its part; the merge scores
        assert not (judge_dir / "ledger.jsonl").exists()

        status = _finish(_evaluate(path, chat.base_url, judge_dir, cache_dir, "--status"))
        assert f"{len(raw)} of {len(raw)} turns judged" in status
        for k in (1, 2):
            asks = 2 * per_shard[k - 1]
            assert (
                f"note: shard {k}/2 (ledger.shard-{k}-of-2.jsonl): {asks} of {asks} asks finished, 0 failed" in status
            )
        assert not (judge_dir / "ledger.jsonl").exists()  # --status writes nothing

        chat.requests.clear()
        merged = _finish(_evaluate(path, chat.base_url, judge_dir, cache_dir, "--output", str(tmp_path / "j.json")))
        assert chat.requests == []  # the merge asked for nothing again
        assert f"note: merged 2 shard ledgers: {2 * len(raw)} asks taken" in merged
        refused = _evaluate(path, chat.base_url, judge_dir, cache_dir, "--shard", "1/2", "--output", "x.json")
        assert refused.wait(60) == 2 and "--output is written by the run without --shard" in refused.stderr.read()
        other = _evaluate(path, chat.base_url, judge_dir, cache_dir, "--shard", "1/3", "--judge-model", "other")
        assert other.wait(120) == 2 and "was judged with --judge-model 'stand-in', not 'other'" in other.stderr.read()
        assert chat.requests == []  # a new shard (of 3) with another judge than the others' is refused before it asks
    one, sharded = json.loads((tmp_path / "one.json").read_text()), json.loads((tmp_path / "j.json").read_text())
    assert sharded["judge"].pop("notes") == [f"merged 2 shard ledgers: {2 * len(raw)} asks taken"]
    assert one["judge"].pop("notes") == []
    assert sharded == one  # the n-gram scores and the judge's, as one unsharded run's
    assert _verdicts(judge_dir) == _verdicts(tmp_path / "one")


# --- what a merge has folded is not read again --------------------------------------------------------------------


def _write_rows(path: Path, rows: list[dict]) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.writelines(json.dumps(row) + "\n" for row in rows)


def _merge(path: Path) -> int:
    """A merge as generate runs it: a slim merged ledger, the shard ledgers folded in, the fold recorded."""
    from _audio_dialogues.engine.ledger import Ledger
    from _audio_dialogues.engine.shard import FoldRecord, fold, other_rows

    with Ledger(path, slim=lambda row: {"status": row["status"]}) as merged:
        folded = FoldRecord(path)
        taken = fold(merged, other_rows(path, merged.codec, None, folded), lambda new, old: new["status"] == "ok"
                     and old["status"] != "ok", record=True)  # fmt: skip
        folded.save(merged)
    return taken


def test_a_merge_reads_an_unchanged_shard_ledger_no_more_and_only_the_new_lines_of_one_that_grew(tmp_path):
    from _audio_dialogues.engine.ledger import Ledger, LedgerError

    path = tmp_path / "ledger.jsonl"
    one, two = Shard(1, 2).path(path), Shard(2, 2).path(path)
    _write_rows(one, [{"key": f"a{n}", "status": "ok", "text": "x" * 300} for n in range(30)])
    _write_rows(two, [{"key": "b0", "status": "failed"}, {"key": "b1", "status": "ok"}])
    assert _merge(path) == 32 and (tmp_path / "ledger.folded.json").is_file()
    assert _merge(path) == 0

    # Shard 1's file spoilt in place, its size and mtime kept: a merge that read it would stop at line 2.
    stat, text = one.stat(), one.read_text(encoding="utf-8").splitlines(keepends=True)
    one.write_text(text[0] + "Z" * (len(text[1]) - 1) + "\n" + "".join(text[2:]), encoding="utf-8")
    os.utime(one, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    _write_rows(two, [{"key": "b0", "status": "ok"}, {"key": "b2", "status": "ok"}])  # shard 2 went on
    assert _merge(path) == 2  # b0 (now finished) and b2: only shard 2's new lines were read
    merged = Ledger(path)
    assert len(merged) == 33 and merged.rows["b0"]["status"] == "ok"
    assert len(path.read_text(encoding="utf-8").splitlines()) == 34  # b0's failure and its later success

    spoilt = one.read_text(encoding="utf-8").splitlines(keepends=True)
    one.write_text("".join(spoilt[:-1]) + spoilt[-1].replace("x", "y"), encoding="utf-8")  # rewritten: read whole
    with pytest.raises(LedgerError, match=r"ledger.shard-1-of-2.jsonl, line 2: not a ledger row"):
        _merge(path)
    one.write_text("".join(text), encoding="utf-8")  # restored
    (tmp_path / "ledger.merged-away.jsonl").write_bytes(path.read_bytes())
    path.write_text(text[0], encoding="utf-8")  # the merged ledger is no longer the one the record speaks of
    assert _merge(path) == 32  # every shard ledger read whole again: nothing is lost
