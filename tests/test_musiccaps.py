"""MusicCaps metadata: reading the shipped CSV, the join by YouTube id, and ``with_metadata=True`` loads."""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path

import datasets
import pytest
from conftest import REPO, dialogue, write_release
from test_loader import DATASETS_3

import audio_dialogues
from _audio_dialogues.core.join import JoinedRecord
from _audio_dialogues.core.musiccaps import (
    MUSICCAPS_COLUMN_NAMES,
    MusicCapsFormatError,
    match_musiccaps,
    musiccaps_columns,
    read_musiccaps,
    shipped_musiccaps_file,
)
from _audio_dialogues.core.release import Record
from _audio_dialogues.core.reports import MusicCapsReport, write_musiccaps_report
from audio_dialogues import SUBSETS, AudioDialogues, load_dataset

CSV = REPO / "data" / "metadata" / "musiccaps-public.csv"
HEADER = (
    "ytid,start_s,end_s,audioset_positive_labels,aspect_list,caption,author_id,is_balanced_subset,is_audioset_eval\n"
)
NOT_IN_MUSICCAPS = "zzzzzzzzzz1"


def csv_rows() -> dict[str, dict]:
    """The shipped CSV read with nothing but the csv module (independently of the reader under test)."""
    with CSV.open(encoding="utf-8", newline="") as file:
        return {row["ytid"]: row for row in csv.DictReader(file)}


def expected_columns(youtube_id: str) -> dict:
    row = csv_rows().get(youtube_id)
    if row is None:
        return dict.fromkeys(MUSICCAPS_COLUMN_NAMES)
    return {
        "musiccaps_caption": row["caption"],
        "musiccaps_aspects": ast.literal_eval(row["aspect_list"]),
        "musiccaps_start_s": int(row["start_s"]),
        "musiccaps_end_s": int(row["end_s"]),
    }


# ---- the CSV reader and the join, without datasets


def test_read_the_shipped_csv():
    clips = read_musiccaps(CSV)
    assert shipped_musiccaps_file() == CSV and (CSV.parent / "LICENSE.md").is_file()
    assert len(clips) == 5521 and set(clips) == set(csv_rows())
    first = clips["-0Gj8-vB1q4"]
    assert (first.start_s, first.end_s, first.author_id) == (30, 40, 4)
    assert first.aspects == (
        "low quality",
        "sustained strings melody",
        "soft female vocal",
        "mellow piano melody",
        "sad",
        "soulful",
        "ballad",
    )
    assert first.audioset_positive_labels == ("/m/0140xf", "/m/02cjck", "/m/04rlf")
    assert first.caption.startswith("The low quality recording features a ballad song")
    assert (first.is_balanced_subset, first.is_audioset_eval) == (False, True)
    assert all(c.end_s - c.start_s == 10 for c in clips.values())


@pytest.mark.parametrize(
    "bad_row, field, problem",
    [
        ('abcdefghijk,30,40,"/m/04rlf","[\'a\', ","cap",1,False,False', "aspect_list", "not a Python list literal"),
        ('abcdefghijk,30,40,"/m/04rlf","[\'a\', 2]","cap",1,False,False', "aspect_list", "expected a list of strings"),
        ('abcdefghijk,thirty,40,"/m/04rlf","[\'a\']","cap",1,False,False', "start_s", "expected an integer"),
        ('abcdefghijk,30,40,"/m/04rlf","[\'a\']","cap",1,no,False', "is_balanced_subset", "expected True or False"),
        ('-0Gj8-vB1q4,30,40,"/m/04rlf","[\'a\']","cap",1,False,False', "ytid", "'-0Gj8-vB1q4' appears twice"),
    ],
)
def test_errors_name_the_file_line_and_field(tmp_path, bad_row, field, problem):
    path = tmp_path / "musiccaps.csv"
    path.write_text(
        HEADER + '-0Gj8-vB1q4,30,40,"/m/04rlf","[\'a\']","cap",1,False,True\n' + bad_row + "\n", encoding="utf-8"
    )
    with pytest.raises(MusicCapsFormatError, match=f"musiccaps.csv, line 3, field '{field}': {problem}") as err:
        read_musiccaps(path)
    assert (err.value.line, err.value.field) == (3, field)


def test_a_missing_column_is_named(tmp_path):
    path = tmp_path / "musiccaps.csv"
    path.write_text(HEADER.replace(",aspect_list", "") + "x\n", encoding="utf-8")
    with pytest.raises(MusicCapsFormatError, match="line 1: missing column.s. aspect_list"):
        read_musiccaps(path)


def test_match_counts_ids_not_found_and_columns_are_plain_values(tmp_path):
    clips = read_musiccaps(CSV)

    def item(example_id, youtube_id):
        return JoinedRecord(
            example_id, Record((f"{youtube_id}.wav",), (youtube_id,), (), "f.json", "record 0"), (None,)
        )

    joined = [
        item("train-000000", "-0Gj8-vB1q4"),
        item("train-000001", NOT_IN_MUSICCAPS),
        item("train-000002", NOT_IN_MUSICCAPS),
        item("train-000003", "zzzzzzzzzz0"),
    ]
    report = match_musiccaps(joined, clips, name="music_dialogues/train")
    assert report.not_found == [("zzzzzzzzzz0", ["train-000003"]), (NOT_IN_MUSICCAPS, ["train-000001", "train-000002"])]
    assert (
        "2 YouTube ids not in MusicCaps (3 records" in report.summary()
        and "first: zzzzzzzzzz0, zzzzzzzzzz1" in report.summary()
    )
    write_musiccaps_report(report, tmp_path / "build", tmp_path / "final")
    written = (tmp_path / "build" / "train.musiccaps_missing.tsv").read_text(encoding="utf-8")
    assert written.splitlines() == [
        "youtube_id\trecords",
        "zzzzzzzzzz0\ttrain-000003",
        f"{NOT_IN_MUSICCAPS}\ttrain-000001,train-000002",
    ]
    assert report.missing_file == str(tmp_path / "final" / "train.musiccaps_missing.tsv")
    assert MusicCapsReport.from_tsv(report.name, written, report.missing_file) == report
    assert musiccaps_columns(clips["-0Gj8-vB1q4"]) == expected_columns("-0Gj8-vB1q4")
    assert musiccaps_columns(None) == dict.fromkeys(MUSICCAPS_COLUMN_NAMES)


# ---- loads with with_metadata=True


def test_sample_rows_carry_the_csv_values(cache_dir, summaries):
    ds = load_dataset("music_dialogues", with_metadata=True, cache_dir=cache_dir)
    plain = load_dataset("music_dialogues", cache_dir=cache_dir)
    for split in ("train", "test"):
        assert list(ds[split].features) == list(plain[split].features) + list(MUSICCAPS_COLUMN_NAMES)
        assert ds[split].features["musiccaps_start_s"] == datasets.Value("int32")
        for row, plain_row in zip(ds[split], plain[split]):
            assert {k: row[k] for k in MUSICCAPS_COLUMN_NAMES} == expected_columns(row["youtube_id"])
            assert row["musiccaps_caption"] is not None  # the sample's music ids all come from MusicCaps
            assert {k: v for k, v in row.items() if k not in MUSICCAPS_COLUMN_NAMES and k != "audio"} == {
                k: v for k, v in plain_row.items() if k != "audio"
            }
        assert f"music_dialogues/{split}: MusicCaps metadata found for every YouTube id" in summaries


def test_ids_not_in_musiccaps_get_nulls_and_are_reported(tmp_path, cache_dir, summaries):
    records = [
        {"audio_id": "Y0_Ixl1d7oQ.wav", "dialogue": dialogue(1)},
        {"audio_id": f"{NOT_IN_MUSICCAPS}.wav", "dialogue": dialogue(2)},
        {"audio_id": "W2KaBnoGxek_30000.wav", "dialogue": dialogue(1)},
    ]
    for split in ("train", "test"):
        write_release(tmp_path / "release", "music_dialogues", split, records)
    args = dict(data_dir=tmp_path / "release", cache_dir=cache_dir, verification_mode="no_checks", with_metadata=True)
    ds = load_dataset("music_dialogues", "train", **args)
    rows = list(ds)
    assert [r["youtube_id"] for r in rows] == ["Y0_Ixl1d7oQ", NOT_IN_MUSICCAPS, "W2KaBnoGxek"]
    for row in rows:
        assert {k: row[k] for k in MUSICCAPS_COLUMN_NAMES} == expected_columns(row["youtube_id"])
    assert rows[0]["musiccaps_caption"] and all(rows[1][k] is None for k in MUSICCAPS_COLUMN_NAMES)
    (line,) = [s for s in summaries if s.startswith("music_dialogues/train") and "MusicCaps" in s]
    assert (
        f"1 YouTube ids not in MusicCaps (1 records, their musiccaps_* columns are None; first: {NOT_IN_MUSICCAPS})"
        in line
    )
    report = Path(line.rsplit(" ", 1)[1])
    assert report.name == "train.musiccaps_missing.tsv" and report.parent.name == "reports"
    assert report.read_text(encoding="utf-8").splitlines() == [
        "youtube_id\trecords",
        f"{NOT_IN_MUSICCAPS}\ttrain-000001",
    ]

    summaries.clear()  # a cache hit repeats the line
    assert list(load_dataset("music_dialogues", "train", **args)) == rows
    assert line in summaries

    summaries.clear()  # a stream gives the same rows, and says the same
    streamed = load_dataset("music_dialogues", streaming=True, **args)
    assert list(streamed["train"]) == rows
    assert any(s.startswith(line.split("; listed in")[0]) for s in summaries)


def test_streaming_the_sample_gives_the_same_rows(cache_dir):
    built = load_dataset("music_dialogues", "test", with_metadata=True, cache_dir=cache_dir, decode=False)
    streamed = load_dataset(
        "music_dialogues", "test", with_metadata=True, cache_dir=cache_dir, decode=False, streaming=True
    )
    assert list(streamed) == list(built)


@pytest.mark.parametrize("config", ["audioset_dialogues", "audioset_comparison"])
def test_only_music_dialogues_takes_the_option(config, cache_dir):
    with pytest.raises(ValueError, match=f"only music_dialogues has; drop with_metadata for {config}"):
        load_dataset(config, with_metadata=True, cache_dir=cache_dir)
    with pytest.raises(ValueError, match="only music_dialogues"):
        AudioDialogues(config, with_metadata=True, cache_dir=cache_dir)


def test_the_option_is_part_of_the_cache_key_and_off_changes_nothing(cache_dir):
    off, on = (AudioDialogues("music_dialogues", cache_dir=cache_dir, with_metadata=flag) for flag in (False, True))
    assert off.cache_dir != on.cache_dir
    assert off.config.with_metadata is False and on.config.with_metadata is True
    default = AudioDialogues("music_dialogues", cache_dir=cache_dir)
    assert default.cache_dir == off.cache_dir and default.info.features == off.info.features
    assert not set(MUSICCAPS_COLUMN_NAMES) & set(off.info.features)
    infos = json.loads((REPO / "dataset_infos.json").read_text(encoding="utf-8"))
    assert not set(MUSICCAPS_COLUMN_NAMES) & set(infos["music_dialogues"]["features"])


@pytest.mark.skipif(not DATASETS_3, reason="loading scripts run on datasets 3.x only")
def test_through_datasets_load_dataset(cache_dir):
    ds = datasets.load_dataset(
        audio_dialogues.__file__,
        "music_dialogues",
        split="test",
        trust_remote_code=True,
        cache_dir=cache_dir,
        with_metadata=True,
    )
    assert all({k: row[k] for k in MUSICCAPS_COLUMN_NAMES} == expected_columns(row["youtube_id"]) for row in ds)


def test_rows_with_metadata_are_built_exactly_as_datasets_would_encode_them(tmp_path):
    """As test_features' test of the same name: PreEncodedFeatures may pass these rows through unencoded."""
    from _audio_dialogues.core.musiccaps import shipped_musiccaps
    from _audio_dialogues.core.splits import SplitSource
    from _audio_dialogues.loading.features import StorageRow, dataset_features, to_example

    write_release(
        tmp_path,
        "music_dialogues",
        "train",
        [
            {"audio_id": "Y0_Ixl1d7oQ.wav", "dialogue": dialogue(2)},
            {"audio_id": f"{NOT_IN_MUSICCAPS}.wav", "dialogue": dialogue(1)},
        ],
    )
    builder = AudioDialogues("music_dialogues", with_metadata=True)  # the sample, some clips missing on purpose
    features = dataset_features(False, 16000, True, with_metadata=True)
    files = {**builder.release.files, "extra": (str(tmp_path / "music_dialogues" / "train.json"),)}
    rows = []
    for split, paths in files.items():
        source = SplitSource(
            "music_dialogues",
            split,
            paths,
            SUBSETS["music_dialogues"].rules,
            0,
            builder.audio_index,
            "keep",
            "no_checks",
        )
        rows += [to_example(item, False, shipped_musiccaps()) for item in source.read()[0]]
    assert any(r["musiccaps_caption"] is None for r in rows) and any(r["musiccaps_caption"] for r in rows)
    assert any(r["audio"] is None for r in rows) and any(r["audio"] is not None for r in rows)
    for row in rows:
        assert type(row) is StorageRow and datasets.Features(features).encode_example(dict(row)) == row
