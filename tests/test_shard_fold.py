"""A resume and a merge stream the other ledgers (engine/shard.py ``fold_others``) and rewrite nothing that is
already right: the same rows as folding whole ledgers, bad lines still named, a finished folder left as it is."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import dialogue, write_release
from test_download import ledger

from _audio_dialogues.download.fetch import LedgerRow, Outcome
from _audio_dialogues.download.plan import Clip
from _audio_dialogues.download.run import LEDGER, LEDGER_COLUMNS, StatusTsv, _better, _finished, download
from _audio_dialogues.engine.ledger import JSON_LINES, Ledger, LedgerError
from _audio_dialogues.engine.shard import Shard, fold, fold_others, other_rows

HEADER = "\t".join(LEDGER_COLUMNS) + "\n"


def _line(youtube_id: str, status: str, attempts: int = 1, detail: str = "") -> str:
    done = status == "ok"
    return LedgerRow(
        youtube_id, status, attempts, f"{youtube_id}_0_10.flac" if done else "", "0", "10", detail
    ).to_line()


def _tsv_ledgers(folder: Path) -> None:
    """A merged ledger and two shard ledgers that disagree, with every kind of line a killed run leaves."""
    (folder / LEDGER).write_text(
        HEADER + _line("cccccccccc1", "ok") + _line("ddddddddddd", "error") + _line("ggggggggggg", "not-found"),
        encoding="utf-8",
    )
    (folder / "download_status.shard-1-of-2.tsv").write_text(
        HEADER
        + _line("aaaaaaaaaaa", "error")
        + _line("aaaaaaaaaaa", "ok", 2)  # a failure redone: its last row wins
        + _line("cccccccccc1", "error")  # the merged ledger's finished row stays
        + _line("ggggggggggg", "timeout", 3)
        + _line("eeeeeeeeeee", "ok")  # not kept below
        + "fffffffffff\tok\t1\tfff",  # a truly partial last line: passed over
        encoding="utf-8",
    )
    (folder / "download_status.shard-2-of-2.tsv").write_text(
        HEADER
        + _line("bbbbbbbbbbb", "ok")
        + _line("bbbbbbbbbbb", "error", 2, "the file was gone, fetched again")  # the last row of a shard wins
        + _line("ddddddddddd", "ok")  # a finished row wins over the merged ledger's failure
        + _line("hhhhhhhhhhh", "ok")[:-1],  # a complete last line without its newline: kept
        encoding="utf-8",
    )


@pytest.mark.parametrize("shard", [None, Shard(1, 2), Shard(2, 2)])
def test_the_streamed_fold_takes_the_rows_that_folding_whole_ledgers_takes(tmp_path, shard):
    _tsv_ledgers(tmp_path)
    own = shard.path(tmp_path / LEDGER) if shard else tmp_path / LEDGER

    def keep(key: str) -> bool:
        return not key.startswith("e")

    whole = Ledger(own, StatusTsv())
    taken_whole = fold(whole, other_rows(tmp_path / LEDGER, whole.codec, shard), _better, keep=keep)
    streamed = Ledger(own, StatusTsv())
    taken_streamed = fold_others(streamed, tmp_path / LEDGER, shard, _better, keep=keep, final=_finished)
    assert taken_streamed == taken_whole > 0
    assert list(streamed.rows.items()) == list(whole.rows.items())  # the same rows, in the same order
    if shard is None:
        assert streamed.rows["aaaaaaaaaaa"].status == "ok" and streamed.rows["aaaaaaaaaaa"].attempts == 2
        assert streamed.rows["bbbbbbbbbbb"].status == "error" and streamed.rows["ddddddddddd"].status == "ok"
        assert streamed.rows["cccccccccc1"].status == "ok" and streamed.rows["ggggggggggg"].status == "not-found"
        assert "hhhhhhhhhhh" in streamed.rows and "eeeeeeeeeee" not in streamed.rows and "fffffffffff" not in streamed
    for file in tmp_path.glob("download_status.shard-*.tsv"):
        assert not file.with_name(file.name + ".torn").exists()  # read only: another's ledger is never repaired


def test_the_streamed_fold_of_json_ledgers_builds_the_same_rows(tmp_path):
    """A codec without ``line_key`` (generate's JSON Lines) is folded the same way, every line decoded."""
    (tmp_path / "ledger.jsonl").write_text('{"key": "a", "status": "failed"}\n', encoding="utf-8")
    (tmp_path / "ledger.shard-1-of-2.jsonl").write_text(
        '{"key": "a", "status": "ok", "n": 1}\n{"key": "b", "status": "failed"}\n{"key": "b", "status": "ok"}\n',
        encoding="utf-8",
    )
    (tmp_path / "ledger.shard-2-of-2.jsonl").write_text('{"key": "a", "status": "ok", "n": 2}\n{"key": "c"', "utf-8")

    def better(new: dict, old: dict) -> bool:
        return new["status"] == "ok" and old["status"] != "ok"

    whole = Ledger(tmp_path / "ledger.jsonl", JSON_LINES)
    fold(whole, other_rows(whole.path, JSON_LINES, None), better)
    streamed = Ledger(tmp_path / "ledger.jsonl", JSON_LINES)
    fold_others(streamed, streamed.path, None, better, final=lambda row: row["status"] == "ok")
    assert streamed.rows == whole.rows == {"a": {"key": "a", "status": "ok", "n": 1}, "b": {"key": "b", "status": "ok"}}


def test_a_bad_line_of_another_ledger_is_named_even_when_its_clip_is_finished(tmp_path):
    _tsv_ledgers(tmp_path)
    shard_file = tmp_path / "download_status.shard-2-of-2.tsv"
    shard_file.write_text(
        HEADER + _line("ddddddddddd", "ok") + "ddddddddddd\tdone\t1\n" + _line("x" * 11, "ok"), "utf-8"
    )
    merged = Ledger(tmp_path / LEDGER, StatusTsv())
    merged.rows["ddddddddddd"] = LedgerRow("ddddddddddd", "ok", 1, "d.flac")  # finished: nothing can be taken
    with pytest.raises(LedgerError, match=r"shard-2-of-2.tsv, line 3: not a ledger row \(expected 9 tab-separated"):
        fold_others(merged, merged.path, None, _better, final=_finished)
    shard_file.write_text("youtube_id\tstatus\n" + _line("ddddddddddd", "ok"), "utf-8")
    with pytest.raises(LedgerError, match=r"shard-2-of-2.tsv: line 1 is not the ledger header"):
        fold_others(merged, merged.path, None, _better, final=_finished)


# --- a resume over a finished folder ----------------------------------------------------------------------------

IDS = ["aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc"]


class CopyFetcher:
    """A Fetcher that writes a short WAV and counts what it was asked for."""

    audio_format = "wav"

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.asked: list[str] = []

    def fetch(self, clip: Clip, out_dir: Path) -> Outcome:
        self.asked.append(clip.youtube_id)
        name = clip.file_name(self.audio_format)
        soundfile.write(out_dir / name, np.full(1600, 0.1, dtype="float32"), 16000)
        return Outcome("ok", "written", name, "test")

    def stop(self) -> None:
        self.stopping.set()


def test_a_resume_over_a_finished_folder_rewrites_nothing_and_still_checks_every_file(tmp_path):
    release = tmp_path / "release"
    write_release(
        release, "audioset_dialogues", "train", [{"audio_id": f"Y{y}.wav", "dialogue": dialogue(1)} for y in IDS]
    )
    write_release(release, "audioset_dialogues", "test", [])
    times = tmp_path / "segments.csv"
    times.write_text("".join(f'{y}, 0.0, 10.0, "/m/1"\n' for y in IDS), encoding="utf-8")
    out = tmp_path / "clips"
    common = dict(data_dir=str(release), verification_mode="no_checks", clip_times=[times], progress=False)
    fetcher = CopyFetcher()
    download(out, "audioset_dialogues", ["train"], fetcher=fetcher, audio_format="wav", **common)
    assert sorted(fetcher.asked) == IDS
    before = (out / LEDGER).stat()

    again = CopyFetcher()
    result = download(out, "audioset_dialogues", ["train"], fetcher=again, audio_format="wav", **common)
    after = (out / LEDGER).stat()
    assert again.asked == [] and result.skipped_done == 3
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten

    (out / f"{IDS[1]}_0_10.wav").write_bytes(b"")  # a 0-byte file at a final name is fetched again
    with (out / LEDGER).open("a", encoding="utf-8") as file:  # a failure after a finished row, its file there
        file.write(LedgerRow(IDS[0], "error", 1, detail="an old try").to_line())
    third = CopyFetcher()
    result = download(out, "audioset_dialogues", ["train"], fetcher=third, audio_format="wav", **common)
    assert third.asked == [IDS[1]] and result.tried == 1 and result.adopted == 1
    rows = ledger(out)  # compacted again: one row per clip
    assert [rows[y]["status"] for y in IDS] == ["ok", "ok", "ok"] and rows[IDS[1]]["attempts"] == "2"

    finished = (out / LEDGER).read_text(encoding="utf-8")
    with (out / LEDGER).open("a", encoding="utf-8") as file:  # the same row twice: nothing changes but the file
        file.write(finished.splitlines(keepends=True)[-1])
    fourth = CopyFetcher()
    download(out, "audioset_dialogues", ["train"], fetcher=fourth, audio_format="wav", **common)
    assert fourth.asked == [] and (out / LEDGER).read_text(encoding="utf-8") == finished  # one line per clip again


def test_a_ledger_is_compact_only_when_compaction_would_write_the_same_file(tmp_path):
    path = tmp_path / LEDGER
    row = "aaaaaaaaaaa\tok\t1\taaaaaaaaaaa_0_10.flac\t0\t10\t10.00 s\t\t\n"
    old_header = "\t".join(LEDGER_COLUMNS[:7]) + "\n"
    cases = {
        HEADER + row: True,
        HEADER + row + row: False,  # an older row of the key
        HEADER + row + "\n": False,  # a blank line
        HEADER + row[:-1]: False,  # a complete last line without its newline
        HEADER + row + "bbbbbbbbbbb\tok": False,  # a torn last line
        old_header + "aaaaaaaaaaa\tok\t1\taaaaaaaaaaa_0_10.flac\t0\t10\t10.00 s\n": False,  # an older header
        "": False,  # no header
    }
    for text, compact in cases.items():
        path.write_text(text, encoding="utf-8")
        assert Ledger(path, StatusTsv()).is_compact is compact, text
    assert Ledger(tmp_path / "absent.tsv", StatusTsv()).is_compact is False
    path.write_text(HEADER + row + row, encoding="utf-8")
    ledger = Ledger(path, StatusTsv())
    ledger.compact()
    assert path.read_text(encoding="utf-8") == HEADER + row and Ledger(path, StatusTsv()).is_compact
