"""The synthetic release generator (exact counts, valid records, reproducible bytes, paper statistics) and its
audio folder."""

from __future__ import annotations

import gzip
import json
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile
from synthetic import _SHAPES, CLIP_FORMATS, main, write_audio, write_clips, write_release

from _audio_dialogues.core.audio_files import parse_audio_name

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
    sizes = {
        "audioset_dialogues": {"train": 3000},
        "music_dialogues": {"train": 3000},
        "audioset_comparison": {"train": 3000},
    }
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


# --- write_audio -----------------------------------------------------------------------------------

AUDIO_RELEASE = {
    "music_dialogues": {"train": 14, "test": 6},
    "audioset_dialogues": {"train": 20, "test": 4},
    "audioset_comparison": {"train": 10, "test": 5},
}
CLIP_SECONDS = 0.25  # short clips keep the tests fast; the benchmark uses 10 s
ENCODED_AS = {"wav": "WAV", "flac": "FLAC", "mp3": "MP3"}


def release_ids(paths: dict) -> dict[str, list[str]]:
    """Each config's distinct YouTube ids in release order, read without the package's parser."""
    ids = {}
    for config, splits in paths.items():
        distinct = {}
        for path in splits.values():
            for record in read_records(path):
                for audio_id in record.get("audio_ids", [record.get("audio_id")]):
                    distinct[audio_id.removesuffix(".wav")[-11:]] = None
        ids[config] = list(distinct)
    return ids


def written_files(audio_dir: Path) -> dict[str, Path]:
    """YouTube id -> file, for every file under ``audio_dir``."""
    files = {}
    for path in sorted(p for p in audio_dir.rglob("*") if p.is_file()):
        parsed = parse_audio_name(path.name)
        assert parsed is not None, f"{path.name} is not a name the loader resolves"
        assert parsed.youtube_id not in files, f"two files for {parsed.youtube_id}"
        files[parsed.youtube_id] = path
    return files


@pytest.fixture
def release(tmp_path) -> dict:
    return write_release(tmp_path / "release", AUDIO_RELEASE, fmt="jsonl", seed=5)


def test_clips_are_real_audio_in_every_format_rate_and_layout(tmp_path, release):
    summary = write_audio(tmp_path / "clips", release, n_files=48, seed=1, seconds=CLIP_SECONDS)

    pool = {path: clip for clip, path in zip(CLIP_FORMATS, sorted(summary.pool_dir.iterdir()))}
    assert len(pool) == len(CLIP_FORMATS) == 24
    assert {(c.format, c.sampling_rate, c.channels) for c in CLIP_FORMATS} == {
        (f, r, ch) for f in ("wav", "flac", "mp3") for r in (16000, 22050, 44100, 48000) for ch in (1, 2)
    }
    found: Counter = Counter()
    for path in written_files(tmp_path / "clips").values():
        (clip,) = [c for p, c in pool.items() if os.path.samefile(p, path)]
        info = soundfile.info(path)
        assert path.suffix == f".{clip.format}" and info.format == ENCODED_AS[clip.format]
        assert (info.samplerate, info.channels) == (clip.sampling_rate, clip.channels)
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
        assert rate == clip.sampling_rate and samples.shape[1] == clip.channels
        assert abs(len(samples) - CLIP_SECONDS * rate) <= 0.05 * rate
        assert 0.2 < np.max(np.abs(samples)) < 0.7
        found[clip] += 1
    assert found == sum(summary.files.values(), Counter())
    assert set(found) == set(CLIP_FORMATS)  # 48 files: every combination twice
    assert summary.count("format") == {"wav": 16, "flac": 16, "mp3": 16}
    assert summary.count("channels") == {1: 24, 2: 24}


def test_pool_clips_differ_from_each_other_and_by_seed(tmp_path):
    first = write_clips(tmp_path / "a", seconds=CLIP_SECONDS, seed=0)
    other = write_clips(tmp_path / "b", seconds=CLIP_SECONDS, seed=1)
    wav = [clip for clip in CLIP_FORMATS if clip.format == "wav"]
    contents = {first[clip].read_bytes() for clip in wav} | {other[clip].read_bytes() for clip in wav}
    assert len(contents) == 2 * len(wav)
    assert all(parse_audio_name(path.name) is None for path in first.values())  # the pool is never joined


def test_names_are_loader_forms_of_release_ids_in_subfolders(tmp_path, release):
    summary = write_audio(tmp_path / "clips", release, n_files=40, seconds=CLIP_SECONDS)

    ids = release_ids(release)
    files = written_files(tmp_path / "clips")
    assert len(files) == summary.written == 40
    for youtube_id, path in files.items():
        config = path.relative_to(tmp_path / "clips").parts[0]
        assert youtube_id in ids[config]
        assert parse_audio_name(path.name).extension == path.suffix[1:]
    forms = {re.sub(re.escape(i), "<id>", p.stem) for i, p in files.items()}
    assert forms == {"Y<id>", "<id>", "<id>_30000", "<id>_30.000_40.000"}
    assert len({path.parent for path in files.values()}) > 3  # spread over sub-folders, searched recursively


def test_configs_are_covered_in_order_and_ids_in_release_order(tmp_path, release):
    summary = write_audio(tmp_path / "clips", release, n_files=25, missing=0.0, seconds=CLIP_SECONDS)

    ids = release_ids(release)
    assert list(summary.files) == ["music_dialogues", "audioset_dialogues", "audioset_comparison"]
    files = written_files(tmp_path / "clips")
    music = len(ids["music_dialogues"])
    assert sorted(files) == sorted(ids["music_dialogues"] + ids["audioset_dialogues"][: 25 - music])
    assert summary.unreached["audioset_dialogues"] == ids["audioset_dialogues"][25 - music :]
    assert summary.unreached["audioset_comparison"] == ids["audioset_comparison"]
    assert summary.shortfall == 0


def test_present_fraction_follows_missing_and_every_id_is_accounted_for(tmp_path):
    sizes = {"music_dialogues": {"train": 600}, "audioset_dialogues": {"train": 600}}
    release = write_release(tmp_path / "release", sizes, fmt="jsonl", seed=2)
    summary = write_audio(tmp_path / "clips", release, n_files=10**6, missing=0.2, seconds=0.05)

    ids = release_ids(release)
    total = sum(map(len, ids.values()))
    assert 0.75 < summary.written / total < 0.85
    assert summary.shortfall == 10**6 - summary.written
    files = written_files(tmp_path / "clips")
    for config, config_ids in ids.items():
        assert summary.ids[config] == len(config_ids)
        assert not summary.unreached[config]
        assert sorted(summary.without_audio(config)) == sorted(set(config_ids) - set(files))
    assert "only" in summary.describe() and "drawn missing" in summary.describe()


def test_same_seed_same_names_other_seed_other_names(tmp_path, release):
    def names(folder: str, seed: int) -> set[str]:
        write_audio(tmp_path / folder, release, n_files=30, seed=seed, seconds=CLIP_SECONDS)
        return {p.relative_to(tmp_path / folder).as_posix() for p in (tmp_path / folder).rglob("*") if p.is_file()}

    first, again, other = names("first", 3), names("again", 3), names("other", 4)
    assert first == again and len(first) == 30
    assert first != other


def test_files_are_hard_links_to_the_pool_or_copies_where_links_fail(tmp_path, release, monkeypatch):
    linked = write_audio(tmp_path / "linked", release, n_files=30, seconds=CLIP_SECONDS)
    assert linked.pool_dir == tmp_path / "linked.pool" and linked.copies == 0
    for path in written_files(tmp_path / "linked").values():
        assert path.stat().st_nlink > 1
        assert any(os.path.samefile(path, clip) for clip in linked.pool_dir.iterdir())

    def refuse(source, target):
        raise PermissionError("hard links not allowed here")

    monkeypatch.setattr(os, "link", refuse)
    copied = write_audio(tmp_path / "copied", release, n_files=30, seconds=CLIP_SECONDS)
    assert copied.copies == 30 and "30 copies where a hard link failed" in copied.describe()
    for youtube_id, path in written_files(tmp_path / "copied").items():
        assert path.stat().st_nlink == 1
        assert path.read_bytes() == written_files(tmp_path / "linked")[youtube_id].read_bytes()


@pytest.mark.parametrize("config", ["music_dialogues", "audioset_dialogues", "audioset_comparison"])
def test_a_load_finds_audio_for_exactly_the_files_written(tmp_path, release, cache_dir, config):
    from audio_dialogues import load_dataset

    summary = write_audio(tmp_path / "clips", release, n_files=60, seconds=CLIP_SECONDS)
    files = {youtube_id: str(path.resolve()) for youtube_id, path in written_files(tmp_path / "clips").items()}
    assert summary.unreached["audioset_comparison"]  # some ids of the last config were not reached

    ds = load_dataset(
        config,
        data_dir=tmp_path / "release",
        audio_dir=tmp_path / "clips",
        cache_dir=cache_dir,
        verification_mode="no_checks",
        decode=False,
    )
    found = set()
    for split in AUDIO_RELEASE[config]:
        for row in ds[split]:
            youtube_ids = row.get("youtube_ids") or [row["youtube_id"]]
            audios = row.get("audios") or [row["audio"]]
            for youtube_id, audio in zip(youtube_ids, audios):
                assert (audio and audio["path"]) == files.get(youtube_id)
                found.add(youtube_id)
    assert set(summary.without_audio(config)) == found - set(files)
    decoded = load_dataset(
        config,
        "train",
        data_dir=tmp_path / "release",
        audio_dir=tmp_path / "clips",
        cache_dir=cache_dir,
        verification_mode="no_checks",
    )
    first = next(row for row in decoded if (row.get("audios") or [row.get("audio")])[0] is not None)
    audio = (first.get("audios") or [first.get("audio")])[0]
    assert audio["sampling_rate"] == 16000 and audio["array"].dtype == np.float32
    assert abs(len(audio["array"]) - CLIP_SECONDS * 16000) <= 0.05 * 16000


def test_record_rules_are_the_loaders(tmp_path):
    from audio_dialogues import SUBSETS

    for config, subset in SUBSETS.items():  # the shapes drawn here span exactly the loader's rules
        shape, rules = _SHAPES[config], subset.rules
        assert (shape.audio_weights is not None) == rules.multi_audio
        assert len(shape.turn_weights) == rules.max_turns and shape.turn_weights[0] > 0
        if shape.audio_weights is not None:
            assert (rules.min_audios, rules.max_audios) == (2, len(shape.audio_weights) + 1)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n_files": -1}, ValueError, "n_files must be a non-negative int"),
        ({"n_files": 2.0}, ValueError, "n_files must be a non-negative int"),
        ({"n_files": 2, "missing": 1.5}, ValueError, "missing must be a fraction"),
        ({"n_files": 2, "seconds": 0}, ValueError, "seconds must be positive"),
    ],
)
def test_bad_audio_arguments_are_refused_before_writing(tmp_path, release, kwargs, error, message):
    with pytest.raises(error, match=message):
        write_audio(tmp_path / "clips", release, **kwargs)
    assert not (tmp_path / "clips").exists() and not (tmp_path / "clips.pool").exists()


def test_unknown_config_and_non_empty_folder_are_refused(tmp_path, release):
    with pytest.raises(ValueError, match="unknown config"):
        write_audio(tmp_path / "clips", {"audioset": release["music_dialogues"]}, 2)
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "old.wav").write_bytes(b"")
    with pytest.raises(FileExistsError, match="is not empty"):
        write_audio(tmp_path / "clips", release, 2)


def test_cli_writes_release_and_audio(tmp_path, capsys):
    main(
        [
            str(tmp_path / "out"),
            "--size",
            "music_dialogues/train=12",
            "--size",
            "audioset_comparison/test=3",
            "--fmt",
            "jsonl",
            "--audio-dir",
            str(tmp_path / "clips"),
            "--audio-files",
            "10",
            "--seconds",
            "0.1",
        ]
    )
    printed = capsys.readouterr().out
    assert "music_dialogues/train: 12 records" in printed
    assert f"10 audio files under {tmp_path / 'clips'}" in printed and "by format: " in printed
    assert len(written_files(tmp_path / "clips")) == 10
    with pytest.raises(SystemExit):
        main([str(tmp_path / "out2"), "--size", "music_dialogues/train=1", "--audio-dir", str(tmp_path / "c2")])
    assert "--audio-dir and --audio-files go together" in capsys.readouterr().err
