"""The synthetic release generator: exact counts, valid records, reproducible bytes, paper statistics."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from audio_dialogues_support.synthetic import write_release

SMALL = {
    "audioset_dialogues": {"train": 23, "test": 5},
    "music_dialogues": {"train": 11, "test": 0},
    "audioset_comparison": {"train": 17, "test": 3},
}
YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
AUDIO_ID = {
    "audioset_dialogues": re.compile(r"Y[A-Za-z0-9_-]{11}\.wav"),
    "music_dialogues": re.compile(r"[A-Za-z0-9_-]{11}\.wav"),
    "audioset_comparison": re.compile(r"Y[A-Za-z0-9_-]{11}\.wav"),
}


def read_records(path: Path) -> list[dict]:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    text = raw.decode("utf-8")
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        return [json.loads(line) for line in text.splitlines()]
    return json.loads(text)


def check_record(config: str, record: dict) -> None:
    if config == "audioset_comparison":
        assert set(record) == {"audio_ids", "dialogue"}
        audio_ids = record["audio_ids"]
        assert 2 <= len(audio_ids) <= 4
        assert len(record["dialogue"]) == 1
        assert all(f"Audio {n}" in record["dialogue"][0]["user"] for n in range(1, len(audio_ids) + 1))
    else:
        assert set(record) == {"audio_id", "dialogue"}
        audio_ids = [record["audio_id"]]
        assert 1 <= len(record["dialogue"]) <= 4
    for audio_id in audio_ids:
        assert AUDIO_ID[config].fullmatch(audio_id), audio_id
        assert YOUTUBE_ID.fullmatch(audio_id.removesuffix(".wav")[-11:])
    for turn in record["dialogue"]:
        assert set(turn) == {"user", "assistant"}
        assert all(isinstance(text, str) and text and text == text.strip() for text in turn.values())


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_exact_counts_and_valid_records(tmp_path, fmt, compress):
    paths = write_release(tmp_path, SMALL, fmt=fmt, gzip=compress)

    suffix = f".{fmt}" + (".gz" if compress else "")
    assert {c: {s: p.relative_to(tmp_path).as_posix() for s, p in splits.items()} for c, splits in paths.items()} == {
        c: {s: f"{c}/{s}{suffix}" for s in splits} for c, splits in SMALL.items()
    }
    for config, splits in SMALL.items():
        for split, count in splits.items():
            records = read_records(paths[config][split])
            assert len(records) == count
            for record in records:
                check_record(config, record)


def test_json_array_and_json_lines_hold_the_same_records(tmp_path):
    array = write_release(tmp_path / "a", SMALL, fmt="json")
    lines = write_release(tmp_path / "b", SMALL, fmt="jsonl", gzip=True)
    for config, splits in SMALL.items():
        for split in splits:
            assert read_records(array[config][split]) == read_records(lines[config][split])


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_same_seed_same_bytes_other_seed_other_records(tmp_path, compress):
    first = write_release(tmp_path / "first", SMALL, seed=7, gzip=compress)
    again = write_release(tmp_path / "again", SMALL, seed=7, gzip=compress)
    other = write_release(tmp_path / "other", SMALL, seed=8, gzip=compress)
    for config, splits in SMALL.items():
        for split, count in splits.items():
            assert first[config][split].read_bytes() == again[config][split].read_bytes()
            if count:
                assert read_records(first[config][split]) != read_records(other[config][split])


def test_a_file_does_not_depend_on_the_other_sizes(tmp_path):
    alone = write_release(tmp_path / "alone", {"music_dialogues": {"test": 9}})
    together = write_release(tmp_path / "together", {**SMALL, "music_dialogues": {"train": 50, "test": 9}})
    assert alone["music_dialogues"]["test"].read_bytes() == together["music_dialogues"]["test"].read_bytes()


def test_turn_and_audio_counts_follow_the_paper(tmp_path):
    sizes = {"audioset_dialogues": {"train": 3000}, "music_dialogues": {"train": 3000}, "audioset_comparison": {"train": 3000}}
    paths = write_release(tmp_path, sizes, fmt="jsonl", seed=3)

    def mean(values: list[int]) -> float:
        return sum(values) / len(values)

    audioset = read_records(paths["audioset_dialogues"]["train"])
    music = read_records(paths["music_dialogues"]["train"])
    comparison = read_records(paths["audioset_comparison"]["train"])
    assert abs(mean([len(r["dialogue"]) for r in audioset]) - 2.21) < 0.1
    assert abs(mean([len(r["dialogue"]) for r in music]) - 1.67) < 0.1
    assert abs(mean([len(r["audio_ids"]) for r in comparison]) - 3.00) < 0.1
    assert {len(r["dialogue"]) for r in audioset} == {len(r["dialogue"]) for r in music} == {1, 2, 3, 4}
    assert {len(r["audio_ids"]) for r in comparison} == {2, 3, 4}
    assert {len(r["dialogue"]) for r in comparison} == {1}


def test_empty_split_is_an_empty_array(tmp_path):
    paths = write_release(tmp_path, {"music_dialogues": {"test": 0}})
    assert paths["music_dialogues"]["test"].read_text(encoding="utf-8") == "[]\n"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sizes": {"audioset": {"train": 1}}}, "unknown config 'audioset'"),
        ({"sizes": {"music_dialogues": {"validation": 1}}}, "unknown split 'validation'"),
        ({"sizes": {"music_dialogues": {"train": -1}}}, "non-negative int"),
        ({"sizes": {"music_dialogues": {"train": 1.5}}}, "non-negative int"),
        ({"sizes": {"music_dialogues": {"train": 1}}, "fmt": "csv"}, "fmt must be one of json, jsonl"),
    ],
)
def test_bad_arguments_are_refused_before_writing(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        write_release(tmp_path / "release", **kwargs)
    assert not (tmp_path / "release").exists()
