"""End-to-end loads through every entry point, on the bundled sample and on generated releases."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import datasets
import numpy as np
import pytest
from conftest import dialogue, write_clip, write_release

import _audio_dialogues.loading.builder
import audio_dialogues
from _audio_dialogues.core.bundled import sample_dir, sample_manifest
from _audio_dialogues.core.join import MissingAudioError
from _audio_dialogues.core.release import ReleaseFormatError
from audio_dialogues import SUBSETS, AudioDialogues, load_dataset

CONFIGS = list(audio_dialogues.CONFIGS)
SPLITS = ("train", "test")
DATASETS_3 = datasets.__version__.startswith("3.")
MANIFEST = sample_manifest()
SAMPLE = sample_dir()


def source_records(config: str, split: str) -> list[dict]:
    """The sample's records, read straight from its file (independently of the loader)."""
    (path,) = [p for p in (SAMPLE / config).iterdir() if p.name.split(".")[0] == split]
    text = path.read_text(encoding="utf-8")
    return (
        [json.loads(line) for line in text.splitlines() if line.strip()]
        if path.suffix == ".jsonl"
        else json.loads(text)
    )


def audio_ids_of(record: dict) -> list[str]:
    return record["audio_ids"] if "audio_ids" in record else [record["audio_id"]]


def clip_info(path: str) -> dict:
    return MANIFEST["audio_files"][Path(path).relative_to(SAMPLE / "audio").as_posix()]


def audio_values(row: dict) -> list:
    return row["audios"] if "audios" in row else [row["audio"]]


def load_via(entry: str, config: str, cache_dir: str, **kwargs):
    if entry == "load_dataset":
        return load_dataset(config, cache_dir=cache_dir, **kwargs)
    if entry == "builder":
        builder = AudioDialogues(config, cache_dir=cache_dir, **kwargs)
        builder.download_and_prepare()
        return builder.as_dataset()
    return datasets.load_dataset(
        audio_dialogues.__file__, config, trust_remote_code=True, cache_dir=cache_dir, **kwargs
    )


ENTRIES = ["load_dataset", "builder"] + (["datasets.load_dataset"] if DATASETS_3 else [])


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("config", CONFIGS)
def test_sample_rows_match_the_source_files_and_clips(entry, config, cache_dir):
    ds = load_via(entry, config, cache_dir)
    assert set(ds) == set(SPLITS)
    for split in SPLITS:
        source = source_records(config, split)
        rows = list(ds[split])
        assert len(rows) == len(source) == MANIFEST["records"][config][split]
        missing = set(MANIFEST["missing_youtube_ids"][config][split])
        for position, (row, record) in enumerate(zip(rows, source)):
            assert row["id"] == f"{split}-{position:06d}"
            assert row["dialogue"] == record["dialogue"] and row["num_turns"] == len(record["dialogue"])
            ids = row["audio_ids"] if "audio_ids" in row else [row["audio_id"]]
            assert ids == audio_ids_of(record)
            youtube_ids = row["youtube_ids"] if "youtube_ids" in row else [row["youtube_id"]]
            for youtube_id, audio in zip(youtube_ids, audio_values(row)):
                assert len(youtube_id) == 11 and youtube_id in audio_ids_of(record)[youtube_ids.index(youtube_id)]
                if youtube_id in missing:
                    assert audio is None
                    continue
                info = clip_info(audio["path"])
                assert info["youtube_id"] == youtube_id  # the right clip
                assert audio["sampling_rate"] == 16000
                assert audio["array"].dtype == np.float32 and audio["array"].ndim == 1
                assert abs(len(audio["array"]) - info["frames"] * 16000 / info["sampling_rate"]) <= 1


def test_sample_covers_what_it_promises():
    infos = MANIFEST["audio_files"].values()
    assert {i["sampling_rate"] for i in infos} >= {16000, 44100}
    assert any(i["channels"] == 2 for i in infos) and any(i["format"] == "FLAC" for i in infos)
    for config in CONFIGS:
        for split in SPLITS:
            turns = {len(r["dialogue"]) for r in source_records(config, split)}
            assert turns == ({1} if config == "audioset_comparison" else {1, 2, 3, 4})
            assert MANIFEST["missing_youtube_ids"][config][split]


@pytest.mark.skipif(not DATASETS_3, reason="datasets >= 4 cannot run loading scripts")
def test_script_through_datasets_gives_the_same_rows_and_features(cache_dir, tmp_path):
    ours = load_dataset("audioset_comparison", cache_dir=cache_dir)
    # The repository directory works too when it is named like the script.
    clone = tmp_path / "audio_dialogues"
    clone.symlink_to(Path(audio_dialogues.__file__).parent)
    theirs = datasets.load_dataset(str(clone), "audioset_comparison", trust_remote_code=True, cache_dir=cache_dir)
    assert ours["train"].features == theirs["train"].features
    for a, b in zip(ours["train"], theirs["train"]):
        assert a["dialogue"] == b["dialogue"] and a["audio_ids"] == b["audio_ids"]
        for x, y in zip(a["audios"], b["audios"]):
            assert (x is None and y is None) or np.array_equal(x["array"], y["array"])


def test_features_declare_audio_and_lists(cache_dir):
    for config in CONFIGS:
        features = load_dataset(config, "test", cache_dir=cache_dir).features
        if "audio" in features:
            audio = features["audio"]
        else:  # a list of Audio: datasets.List on 4+, a Python list on 3.6
            audio = features["audios"][0] if isinstance(features["audios"], list) else features["audios"].feature
        assert isinstance(audio, datasets.Audio) and audio.sampling_rate == 16000
        assert datasets.Features.from_dict(features.to_dict())  # serialises, as Audio


@pytest.mark.parametrize("config", CONFIGS)
def test_streaming_yields_the_same_rows(config, cache_dir):
    built = load_dataset(config, cache_dir=cache_dir)
    streamed = load_dataset(config, cache_dir=cache_dir, streaming=True)
    for split in SPLITS:
        assert isinstance(streamed[split], datasets.IterableDataset)
        rows = list(streamed[split])
        assert len(rows) == len(built[split])
        for a, b in zip(built[split], rows):
            assert {k: v for k, v in a.items() if k not in ("audio", "audios")} == {
                k: v for k, v in b.items() if k not in ("audio", "audios")
            }
            for x, y in zip(audio_values(a), audio_values(b)):
                assert (x is None and y is None) or (x["path"] == y["path"] and np.array_equal(x["array"], y["array"]))


def test_streaming_reads_only_the_split_iterated_and_only_when_iterated(tmp_path, cache_dir):
    good = {"audio_id": "abcdefghijk.wav", "dialogue": dialogue(1)}
    write_release(tmp_path, "music_dialogues", "train", [good] * 3)
    broken = tmp_path / "music_dialogues" / "test.json"
    broken.write_text('[{"audio_id": "abcdefghijk.wav", "dia', encoding="utf-8")  # truncated
    streamed = load_dataset(
        "music_dialogues", data_dir=tmp_path, cache_dir=cache_dir, streaming=True, verification_mode="no_checks"
    )  # opening the stream reads neither file
    assert [row["id"] for row in streamed["train"]] == ["train-000000", "train-000001", "train-000002"]
    with pytest.raises(ReleaseFormatError, match="test.json"):
        next(iter(streamed["test"]))


def test_sampling_rate_none_keeps_each_files_rate_and_decode_false_reads_nothing(cache_dir):
    ds = load_dataset("music_dialogues", "train", sampling_rate=None, cache_dir=cache_dir)
    rates = {row["audio"]["sampling_rate"] for row in ds if row["audio"]}
    assert rates == {clip_info(row["audio"]["path"])["sampling_rate"] for row in ds if row["audio"]} and len(rates) > 1
    raw = load_dataset("music_dialogues", "train", decode=False, cache_dir=cache_dir)
    value = next(row["audio"] for row in raw if row["audio"])
    assert value["bytes"] is None and os.path.isfile(value["path"])


def copy_sample(tmp_path: Path) -> tuple[Path, Path]:
    release, audio = tmp_path / "release", tmp_path / "audio"
    shutil.copytree(SAMPLE, release, ignore=shutil.ignore_patterns("audio"))
    shutil.copytree(SAMPLE / "audio", audio)
    return release, audio


def test_missing_audio_policies(tmp_path, cache_dir, summaries):
    release, audio = copy_sample(tmp_path)
    common = dict(data_dir=release, audio_dir=audio, cache_dir=cache_dir, verification_mode="no_checks")
    missing = MANIFEST["missing_youtube_ids"]["music_dialogues"]["train"]

    kept = load_dataset("music_dialogues", "train", **common)
    assert len(kept) == 12 and sum(row["audio"] is None for row in kept) == len(missing)
    (line,) = [s for s in summaries if s.startswith("music_dialogues/train")]
    assert f"12 records, audio found for {12 - len(missing)}, missing for {len(missing)}" in line
    report = Path(line.rsplit(" ", 1)[1])
    assert report.is_file()
    assert sorted(line.split("\t")[0] for line in report.read_text().splitlines()[1:]) == missing

    skipped = load_dataset("music_dialogues", "train", missing_audio="skip", **common)
    assert len(skipped) == 12 - len(missing) and all(row["audio"] for row in skipped)
    assert {row["id"] for row in skipped} < {row["id"] for row in kept}
    assert any(f"skipped {len(missing)} (missing_audio='skip')" in s for s in summaries)

    with pytest.raises(MissingAudioError, match=f"{len(missing)} of 12 records have no audio file"):
        load_dataset("music_dialogues", "train", missing_audio="error", **common)


def test_text_only_without_audio_dir(tmp_path, cache_dir, summaries):
    release, _ = copy_sample(tmp_path)
    ds = load_dataset(
        "audioset_comparison", "test", data_dir=release, cache_dir=cache_dir, verification_mode="no_checks"
    )
    assert all(audio is None for row in ds for audio in row["audios"])
    assert any("text only" in s for s in summaries)
    with pytest.raises(ValueError, match="needs audio_dir"):
        load_dataset("audioset_comparison", data_dir=release, missing_audio="skip", cache_dir=cache_dir)


def test_a_bad_record_reaches_the_user_unwrapped(tmp_path, cache_dir):
    good = {"audio_id": "abcdefghijk.wav", "dialogue": dialogue(1)}
    path = write_release(
        tmp_path, "music_dialogues", "train", [good, {"audio_id": "abcdefghijk.wav", "dialogue": dialogue(5)}], "jsonl"
    )
    write_release(tmp_path, "music_dialogues", "test", [good])
    with pytest.raises(ReleaseFormatError) as info:
        load_dataset("music_dialogues", data_dir=tmp_path, cache_dir=cache_dir, verification_mode="no_checks")
    assert str(path) in str(info.value) and "line 2" in str(info.value) and "field 'dialogue'" in str(info.value)


def test_missing_release_file_says_where_it_looked(tmp_path, cache_dir):
    (tmp_path / "music_dialogues").mkdir()
    with pytest.raises(FileNotFoundError, match=r"music_dialogues/train\.json"):
        load_dataset("music_dialogues", data_dir=tmp_path, cache_dir=cache_dir)
    with pytest.raises(ValueError, match="choose one of audioset_dialogues, music_dialogues, audioset_comparison"):
        load_dataset("music", cache_dir=cache_dir)


def test_data_files_override_names(tmp_path, cache_dir):
    records = [{"audio_id": f"{i:011d}", "dialogue": dialogue(1 + i % 4, f"-{i}")} for i in range(5)]
    write_release(tmp_path / "a", "x", "mine", records, "jsonl")
    ds = load_dataset(
        "music_dialogues",
        data_files={"test": str(tmp_path / "a" / "x" / "*.jsonl")},
        cache_dir=cache_dir,
        verification_mode="no_checks",
    )
    assert list(ds) == ["test"] and ds["test"]["dialogue"] == [r["dialogue"] for r in records]


def test_full_size_release_verifies_the_published_counts(tmp_path, cache_dir):
    from synthetic import write_release as write_synthetic

    sizes = {name: subset.published for name, subset in SUBSETS.items()}
    write_synthetic(tmp_path, sizes, fmt="jsonl")
    for name, subset in SUBSETS.items():
        ds = load_dataset(name, data_dir=tmp_path, cache_dir=cache_dir)
        assert {split: len(d) for split, d in ds.items()} == subset.published

    path = tmp_path / "music_dialogues" / "train.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(datasets.exceptions.NonMatchingSplitsSizesError, match="expected 3358 records, found 3357"):
        load_dataset("music_dialogues", data_dir=tmp_path, cache_dir=cache_dir)
    assert (
        len(
            load_dataset(
                "music_dialogues", "train", data_dir=tmp_path, cache_dir=cache_dir, verification_mode="no_checks"
            )
        )
        == 3357
    )


def test_cache_follows_audio_dir_release_and_options(tmp_path, cache_dir):
    release, audio = copy_sample(tmp_path)
    args = dict(data_dir=release, audio_dir=audio, cache_dir=cache_dir, verification_mode="no_checks")
    first = load_dataset("music_dialogues", "train", **args)
    missing_id = MANIFEST["missing_youtube_ids"]["music_dialogues"]["train"][0]
    assert sum(r["audio"] is None for r in first) == 2

    # A clip downloaded since: the next load finds it (no stale listing).
    write_clip(audio / "late" / f"{missing_id}.wav", seconds=0.25)
    second = load_dataset("music_dialogues", "train", **args)
    found = [r for r in second if r["youtube_id"] == missing_id]
    assert found and all(r["audio"] is not None and len(r["audio"]["array"]) == 4000 for r in found)
    assert sum(r["audio"] is None for r in second) == 1

    # An edited release file: the new text is served.
    path = release / "music_dialogues" / "train.json"
    records = json.loads(path.read_text())
    records[0]["dialogue"][0]["assistant"] = "Edited answer."
    path.write_text(json.dumps(records))
    assert load_dataset("music_dialogues", "train", **args)[0]["dialogue"][0]["assistant"] == "Edited answer."

    # Options that shape the build give their own cache; the decode-time ones (sampling_rate) reuse it.
    def cache_of(**extra):
        return AudioDialogues(
            "music_dialogues", **{k: v for k, v in args.items() if k != "verification_mode"}, **extra
        ).cache_dir

    assert cache_of() == cache_of(sampling_rate=8000) == cache_of(sampling_rate=None) == cache_of(decode=False)
    assert len({cache_of(), cache_of(missing_audio="skip"), cache_of(on_invalid="skip")}) == 3
    assert len(load_dataset("music_dialogues", "train", sampling_rate=8000, **args)[1]["audio"]["array"]) < len(
        second[1]["audio"]["array"]
    )


def test_cache_hit_repeats_the_summary(cache_dir, summaries):
    load_dataset("music_dialogues", "test", cache_dir=cache_dir)
    summaries.clear()
    load_dataset("music_dialogues", "test", cache_dir=cache_dir)
    assert any(s.startswith("music_dialogues/test: 12 records") for s in summaries)


def test_skip_verifies_the_release_count_before_dropping(tmp_path, cache_dir):
    # On the sample, verification is on: 12 release records are checked, then the 2 without audio dropped.
    ds = load_dataset("music_dialogues", "train", missing_audio="skip", cache_dir=cache_dir)
    assert len(ds) == 12 - len(MANIFEST["missing_youtube_ids"]["music_dialogues"]["train"])
    # A truncated release fails on its record count even though skipping would shrink the split anyway.
    records = [{"audio_id": f"{i:011d}.wav", "dialogue": dialogue(1)} for i in range(3)]
    write_release(tmp_path, "music_dialogues", "train", records)
    write_release(tmp_path, "music_dialogues", "test", records)
    (tmp_path / "clips").mkdir()
    with pytest.raises(datasets.exceptions.NonMatchingSplitsSizesError, match="expected 3358 records, found 3"):
        load_dataset(
            "music_dialogues",
            data_dir=tmp_path,
            audio_dir=tmp_path / "clips",
            missing_audio="skip",
            cache_dir=cache_dir,
        )


def test_package_version_and_code_are_part_of_the_cache_key(monkeypatch, cache_dir):
    builder = AudioDialogues("music_dialogues", cache_dir=cache_dir)
    assert f"/{audio_dialogues.__version__}" in builder.cache_dir.replace(os.sep, "/")
    monkeypatch.setattr(_audio_dialogues.loading.builder, "code_fingerprint", lambda: "changed-code")
    assert AudioDialogues("music_dialogues", cache_dir=cache_dir).cache_dir != builder.cache_dir


def test_each_datasets_version_has_its_own_cache(monkeypatch, cache_dir):
    """An environment with datasets 3.6 must not find what 5.x built (3.6 cannot read its feature types)."""
    before = AudioDialogues("music_dialogues", cache_dir=cache_dir).cache_dir
    monkeypatch.setattr(datasets, "__version__", "0.0.1")
    assert AudioDialogues("music_dialogues", cache_dir=cache_dir).cache_dir != before


def test_num_proc_2_builds_the_same_dataset(tmp_path, cache_dir):
    from synthetic import write_release as write_synthetic

    write_synthetic(tmp_path, {"music_dialogues": SUBSETS["music_dialogues"].published}, fmt="json")
    one = load_dataset("music_dialogues", "train", data_dir=tmp_path, cache_dir=cache_dir)
    two = load_dataset(
        "music_dialogues", "train", data_dir=tmp_path, cache_dir=str(tmp_path / "other_cache"), num_proc=2
    )
    assert one.to_list() == two.to_list()
