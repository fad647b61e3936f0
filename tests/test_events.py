"""The ``events`` column: what is in each AudioSet clip, from the records or from the user's strong labels."""

from __future__ import annotations

import logging

import pytest
from conftest import dialogue, write_release

from _audio_dialogues.core.release import ReleaseFormatError, parse_record
from _audio_dialogues.core.subsets import subset
from _audio_dialogues.loading.load import load_dataset

DOG = {"mid": "/m/0bt9lr", "label": "Dog", "start": 0.406, "end": 9.237, "description": "barking"}
SPEECH = {"mid": "/m/09x0r", "label": "Speech", "start": 0, "end": 10, "description": None}


def parse(obj, config="audioset_dialogues"):
    return parse_record(obj, subset(config).rules, "f.jsonl", "line 1")


def test_the_parser_keeps_a_records_events():
    record = parse({"audio_id": "Yaaaaaaaaaaa.wav", "dialogue": dialogue(1), "events": [DOG, SPEECH]})
    assert record.events == [DOG, {**SPEECH, "start": 0.0, "end": 10.0}]
    assert parse({"audio_id": "Yaaaaaaaaaaa.wav", "dialogue": dialogue(1)}).events is None
    pair = parse(
        {"audio_ids": ["Yaaaaaaaaaaa.wav", "Ybbbbbbbbbbb.wav"], "dialogue": dialogue(1), "events": [[DOG], []]},
        "audioset_comparison",
    )
    assert pair.events == [[DOG], []]


@pytest.mark.parametrize(
    "events, field",
    [
        ({"mid": "/m/0bt9lr"}, "events"),
        ([{**DOG, "start": "0.4"}], r"events\[0\].start"),
        ([{k: v for k, v in DOG.items() if k != "description"}], r"events\[0\]"),
        ([{**DOG, "label": ""}], r"events\[0\].label"),
    ],
)
def test_bad_events_name_the_field(events, field):
    with pytest.raises(ReleaseFormatError, match=rf"f.jsonl, line 1, field '{field}'"):
        parse({"audio_id": "Yaaaaaaaaaaa.wav", "dialogue": dialogue(1), "events": events})


def test_a_comparison_needs_one_list_per_clip():
    with pytest.raises(ReleaseFormatError, match="one list of events per clip"):
        parse(
            {"audio_ids": ["Yaaaaaaaaaaa.wav", "Ybbbbbbbbbbb.wav"], "dialogue": dialogue(1), "events": [[DOG]]},
            "audioset_comparison",
        )


def test_the_loader_column_from_records_from_strong_labels_or_none(tmp_path, cache_dir, caplog):
    root = tmp_path / "release"
    write_release(
        root,
        "audioset_dialogues",
        "train",
        [
            {"audio_id": "Yaaaaaaaaaaa.wav", "dialogue": dialogue(1), "events": [DOG]},
            {"audio_id": "Ybbbbbbbbbbb.wav", "dialogue": dialogue(2)},
            {"audio_id": "Yccccccccccc.wav", "dialogue": dialogue(1)},
        ],
    )
    write_release(root, "audioset_dialogues", "test", [])
    options = dict(data_dir=str(root), verification_mode="no_checks", cache_dir=cache_dir)
    with caplog.at_level(logging.INFO, logger="audio_dialogues"):
        ds = load_dataset("audioset_dialogues", **options)
    assert ds["train"]["events"] == [[DOG], None, None]
    line = "events column of audioset_dialogues/train: 1 of 3 records (1 from the records, 0 from strong_labels); "
    assert line + "2 with events None" in caplog.text

    strong = tmp_path / "labels" / "audioset_train_strong.tsv"
    strong.parent.mkdir()
    strong.write_text(
        "segment_id\tstart_time_seconds\tend_time_seconds\tlabel\n"
        "bbbbbbbbbbb_30000\t2.0\t3.5\t/m/0bt9lr\n"
        "bbbbbbbbbbb_30000\t0.0\t10.0\t/m/09x0r\n"
        "aaaaaaaaaaa_0\t0.0\t1.0\t/m/09x0r\n",
        encoding="utf-8",
    )
    (strong.parent / "label_descriptions.jsonl").write_text(
        '{"key": "/m/0bt9lr", "status": "ok", "description": "a dog"}\n', encoding="utf-8"
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="audio_dialogues"):
        joined = load_dataset("audioset_dialogues", strong_labels=[str(strong)], **options)  # a new cache entry
    assert joined["train"]["events"] == [
        [DOG],  # the record's own events win
        [
            {"mid": "/m/09x0r", "label": "Speech", "start": 0.0, "end": 10.0, "description": None},
            {"mid": "/m/0bt9lr", "label": "Dog", "start": 2.0, "end": 3.5, "description": "a dog"},
        ],
        None,
    ]
    assert "(1 from the records, 1 from strong_labels); 1 with events None" in caplog.text


def test_comparison_events_per_clip_and_music_has_none(tmp_path, cache_dir):
    root = tmp_path / "release"
    write_release(
        root,
        "audioset_comparison",
        "train",
        [{"audio_ids": ["Yaaaaaaaaaaa.wav", "Ybbbbbbbbbbb.wav"], "dialogue": dialogue(1), "events": [[DOG], [SPEECH]]}],
    )
    write_release(root, "audioset_comparison", "test", [])
    ds = load_dataset("audioset_comparison", data_dir=str(root), verification_mode="no_checks", cache_dir=cache_dir)
    assert ds["train"][0]["events"] == [[DOG], [{**SPEECH, "start": 0.0, "end": 10.0}]]
    music = load_dataset("music_dialogues", cache_dir=cache_dir)
    assert "events" not in music["train"].column_names
    with pytest.raises(ValueError, match="drop strong_labels for music_dialogues"):
        load_dataset("music_dialogues", strong_labels=[str(tmp_path / "x.tsv")], cache_dir=cache_dir)
