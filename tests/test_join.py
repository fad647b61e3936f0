import json

import pytest

from _audio_dialogues.core.audio_files import index_audio_dirs
from _audio_dialogues.core.join import MissingAudioError, join_audio
from _audio_dialogues.core.release import Record
from _audio_dialogues.core.reports import JoinReport
from _audio_dialogues.core.reports import write_join_report as write_report

TURN = ({"user": "q", "assistant": "a"},)


def record(*youtube_ids):
    return Record(tuple(f"Y{y}.wav" for y in youtube_ids), tuple(youtube_ids), TURN, "train.json", "record 0")


@pytest.fixture
def index(tmp_path):
    for name in ("Yaaaaaaaaaaa.wav", "bbbbbbbbbbb.flac"):
        (tmp_path / name).write_bytes(b"")
    return index_audio_dirs([tmp_path])


RECORDS = [
    record("aaaaaaaaaaa"),
    record("ccccccccccc"),
    record("aaaaaaaaaaa", "bbbbbbbbbbb"),
    record("bbbbbbbbbbb", "ddddddddddd"),
    record("ccccccccccc"),
]


def test_keep_keeps_every_record_with_none_for_missing(index):
    joined, report = join_audio(RECORDS, index, name="x/train", split="train", policy="keep")
    assert [j.id for j in joined] == [f"train-{i:06d}" for i in range(5)]
    assert [j.audio_paths.count(None) for j in joined] == [0, 1, 0, 1, 1]
    assert (report.records, report.with_audio, report.missing_records, report.skipped) == (5, 2, 3, 0)
    assert report.missing_clips == [
        ("ccccccccccc", "Yccccccccccc.wav", ["train-000001", "train-000004"]),
        ("ddddddddddd", "Yddddddddddd.wav", ["train-000003"]),
    ]


def test_skip_drops_exactly_the_records_with_missing_audio_and_keeps_ids(index):
    joined, report = join_audio(RECORDS, index, name="x/train", split="train", policy="skip")
    assert [j.id for j in joined] == ["train-000000", "train-000002"]
    assert report.skipped == 3 and len(joined) == report.records - report.skipped


def test_error_names_the_count_and_first_ids(index):
    with pytest.raises(
        MissingAudioError, match=r"3 of 5 records have no audio file \(2 clips, first: ccccccccccc, ddddddddddd\)"
    ):
        join_audio(RECORDS, index, name="x/train", split="train", policy="error")


def test_text_only_without_an_index():
    joined, report = join_audio(RECORDS, None, name="x/train", split="train", policy="keep")
    assert all(set(j.audio_paths) == {None} for j in joined)
    assert report.text_only and "text only" in report.summary()


def test_report_files(index, tmp_path):
    _, report = join_audio(RECORDS, index, name="x/train", split="train", policy="keep")
    write_report(report, tmp_path / "build", tmp_path / "final")
    lines = (tmp_path / "build" / "train.missing.tsv").read_text().splitlines()
    assert lines == [
        "youtube_id\taudio_id\trecords",
        "ccccccccccc\tYccccccccccc.wav\ttrain-000001,train-000004",
        "ddddddddddd\tYddddddddddd.wav\ttrain-000003",
    ]
    assert report.missing_file == str(tmp_path / "final" / "train.missing.tsv")
    summary = report.summary()
    assert "5 records, audio found for 2, missing for 3 (2 distinct clips), skipped 0" in summary
    assert report.missing_file in summary
    restored = JoinReport.from_json((tmp_path / "build" / "train.summary.json").read_text())
    assert restored == report and restored.summary() == summary
    assert "missing_clips" not in json.loads(restored.to_json())  # the list is the TSV's job


def test_unknown_policy():
    with pytest.raises(ValueError, match="expected one of"):
        join_audio(RECORDS, None, name="x/train", split="train", policy="drop")
