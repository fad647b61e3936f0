"""The chat formats and the rules their consumers' own code taught us (scripts/check_consumers.py runs that code).

- every turn and every clip is in each record, in order, and comes back through :func:`to_dialogue`;
- openai: each audio part has the key transformers loads (``audio``, a path) and the key Qwen2-Audio's
  card loop opens (``audio_url``, a URL ``urlopen`` can read); text parts have neither;
- llava: ``sound`` is a list in every config, with one ``<sound-k>`` tag per entry (a string ``sound``
  makes Audio Flamingo 3 keep the first turn only), and the clips' ``duration``;
- swift: one ``<audio>`` tag per entry of ``audios``;
- the files of all three configs load together through datasets' json builder on this datasets version;
- :func:`read_jsonl` gives the records exactly as written; missing or unreadable clips are counted.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.request import urlopen

import datasets
import pytest
import soundfile
from conftest import write_clip

from _audio_dialogues.cli.main import main
from _audio_dialogues.core.bundled import sample_manifest
from _audio_dialogues.core.release import ReleaseFormatError
from _audio_dialogues.core.subsets import CONFIGS
from _audio_dialogues.loading.load import load_dataset
from _audio_dialogues.outputs.convert import (
    FORMATS,
    ConvertedFileError,
    NoAudioFileError,
    convert_example,
    drop_absent_keys,
    read_jsonl,
    to_dialogue,
    to_llava,
    to_openai,
    to_swift,
    write_jsonl,
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The bundled sample's splits of every config, undecoded, as lists of rows."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("HF_DATASETS_OFFLINE", "1")
        cache = tmp_path_factory.mktemp("hf_cache")
        return {
            (config, split): list(load_dataset(config, split, decode=False, cache_dir=cache))
            for config in CONFIGS
            for split in ("train", "test")
        }


def clips(row) -> list:
    return list(row["audios"]) if "audios" in row else [row["audio"]]


def present(rows) -> list:
    return [row for row in rows if all(clip is not None for clip in clips(row))]


def first(rows, *, turns=None):
    return next(row for row in present(rows) if turns is None or row["num_turns"] == turns)


@pytest.mark.parametrize("config", ["audioset_dialogues", "music_dialogues"])
def test_single_clip_example_in_every_format(sample, config):
    row = first(sample[config, "train"], turns=1)
    path, (turn,) = row["audio"]["path"], row["dialogue"]
    assert to_openai(row) == {
        "id": row["id"],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "audio", "audio": path, "audio_url": Path(path).as_uri()},
                    {"type": "text", "text": turn["user"]},
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": turn["assistant"]}]},
        ],
    }
    assert to_llava(row) == {
        "id": row["id"],
        "sound": [path],
        "duration": round(soundfile.info(path).duration, 3),
        "conversations": [
            {"from": "human", "value": "<sound-1>\n" + turn["user"]},
            {"from": "gpt", "value": turn["assistant"]},
        ],
    }
    assert to_swift(row) == {
        "messages": [
            {"role": "user", "content": "<audio>" + turn["user"]},
            {"role": "assistant", "content": turn["assistant"]},
        ],
        "audios": [path],
    }


def test_comparison_references_every_clip_in_order(sample):
    row = first(sample["audioset_comparison", "train"])
    paths, (turn,) = [a["path"] for a in row["audios"]], row["dialogue"]
    assert len(paths) >= 2
    audio_parts = [{"type": "audio", "audio": p, "audio_url": Path(p).as_uri()} for p in paths]
    assert to_openai(row)["messages"][0]["content"] == audio_parts + [{"type": "text", "text": turn["user"]}]
    llava = to_llava(row)
    assert llava["sound"] == paths and llava["conversations"][0]["value"] == (
        "".join(f"<sound-{k}>" for k in range(1, len(paths) + 1)) + "\n" + turn["user"]
    )
    assert llava["duration"] == round(sum(soundfile.info(p).duration for p in paths), 3)
    assert to_swift(row) == {
        "messages": [
            {"role": "user", "content": "<audio>" * len(paths) + turn["user"]},
            {"role": "assistant", "content": turn["assistant"]},
        ],
        "audios": paths,
    }


def test_later_turns_are_text_only(sample):
    row = next(r for r in present(sample["audioset_dialogues", "train"]) if r["num_turns"] >= 2)
    turns = row["dialogue"]
    openai = to_openai(row)["messages"]
    assert [m["role"] for m in openai] == ["user", "assistant"] * len(turns)
    for i, turn in enumerate(turns[1:], start=1):
        assert openai[2 * i] == {"role": "user", "content": [{"type": "text", "text": turn["user"]}]}
        assert openai[2 * i + 1] == {"role": "assistant", "content": [{"type": "text", "text": turn["assistant"]}]}
    later = json.dumps([to_llava(row)["conversations"][1:], to_swift(row)["messages"][1:]])
    assert "<sound" not in later and "<audio>" not in later


@pytest.mark.parametrize("format", FORMATS)
def test_every_turn_and_every_clip_of_every_config_and_split(sample, format):
    """The rule that AF3's string ``sound`` broke: nothing of a dialogue may be lost, in any config."""
    for (config, split), rows in sample.items():
        for row in present(rows):
            obj = convert_example(row, format)
            back = to_dialogue(obj, format)
            assert back["dialogue"] == row["dialogue"], (config, split, row["id"])
            assert back["audio_paths"] == [clip["path"] for clip in clips(row)]
            texts = _texts(obj, format)
            assert len(texts) == 2 * row["num_turns"]
            for i, turn in enumerate(row["dialogue"]):
                assert turn["user"] in texts[2 * i] and turn["assistant"] == texts[2 * i + 1]


def _texts(obj: dict, format: str) -> list[str]:
    if format == "openai":
        return ["".join(p["text"] for p in m["content"] if p["type"] == "text") for m in obj["messages"]]
    if format == "llava":
        return [m["value"] for m in obj["conversations"]]
    return [m["content"] for m in obj["messages"]]


def test_openai_audio_parts_have_the_keys_each_consumer_reads(sample):
    """transformers' apply_chat_template loads ``audio`` (never ``audio_url``); the Qwen2-Audio card loop
    opens ``audio_url`` with urlopen (a plain path is no URL); the template counts parts having either key."""
    for rows in sample.values():
        for row in present(rows):
            messages = to_openai(row)["messages"]
            audio = [p for m in messages for p in m["content"] if p["type"] == "audio"]
            assert [p["audio"] for p in audio] == [clip["path"] for clip in clips(row)]
            for part in audio:
                with urlopen(part["audio_url"]) as response:  # a file:// URL: no network
                    assert response.read() == Path(part["audio"]).read_bytes()
            text = [p for m in messages for p in m["content"] if p["type"] == "text"]
            assert not any({"audio", "audio_url", "url", "path"} & set(p) for p in text)
            assert all(set(p) == {"type", "text"} for p in text)


def test_llava_sound_is_one_list_with_a_tag_per_clip_in_every_config(sample):
    for (config, split), rows in sample.items():
        for row in present(rows):
            obj = to_llava(row)
            assert isinstance(obj["sound"], list), (config, split)
            tags = re.findall(r"<sound-(\d+)>", " ".join(m["value"] for m in obj["conversations"]))
            assert list(map(int, tags)) == list(range(1, len(obj["sound"]) + 1))
            assert "<sound>" not in json.dumps(obj)  # the bare tag belongs to AF3's single-turn branch
            assert isinstance(obj["duration"], float) and obj["duration"] > 0


def test_swift_has_one_audio_tag_per_clip(sample):
    for rows in sample.values():
        for row in present(rows):
            obj = to_swift(row)
            tags = "".join(m["content"] for m in obj["messages"]).count("<audio>")
            assert tags == len(obj["audios"]) == len(clips(row))


@pytest.mark.parametrize("format", FORMATS)
def test_files_of_all_configs_load_together_with_datasets_json(sample, format, tmp_path):
    written = []
    for config in CONFIGS:
        write_jsonl(sample[config, "train"], tmp_path / f"{config}.jsonl", format)
        written += list(read_jsonl(tmp_path / f"{config}.jsonl"))
    ds = datasets.load_dataset(
        "json",
        data_files=[str(tmp_path / f"{c}.jsonl") for c in CONFIGS],
        split="train",
        cache_dir=str(tmp_path / "cache"),
    )
    rows = list(ds)
    assert len(rows) == len(written) == sum(len(present(sample[c, "train"])) for c in CONFIGS)
    if format == "openai":  # datasets gives every content part every key (None where absent): see drop_absent_keys
        rows = [drop_absent_keys(row) for row in rows]
    assert rows == written
    assert [to_dialogue(row, format) for row in rows] == [to_dialogue(obj, format) for obj in written]


def test_drop_absent_keys_restores_what_datasets_3_6_added():
    record = {
        "id": "x",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "audio", "audio": "/a.wav", "audio_url": "file:///a.wav", "text": None},
                    {"type": "text", "text": "What?", "audio": None, "audio_url": None},
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "A dog.", "audio": None, "audio_url": None}]},
        ],
    }
    assert drop_absent_keys(record) == {
        "id": "x",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "audio", "audio": "/a.wav", "audio_url": "file:///a.wav"},
                    {"type": "text", "text": "What?"},
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "A dog."}]},
        ],
    }


@pytest.mark.parametrize("format", FORMATS)
def test_reader_returns_the_records_exactly_as_written(sample, format, tmp_path):
    rows = sample["audioset_comparison", "test"] + sample["music_dialogues", "test"]
    write_jsonl(rows, tmp_path / "out.jsonl", format)
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    back = list(read_jsonl(tmp_path / "out.jsonl"))
    assert back == [convert_example(row, format) for row in present(rows)]
    assert [json.dumps(obj, ensure_ascii=False) for obj in back] == lines


def test_reader_names_the_file_and_line_of_a_bad_record(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"messages": [], "audios": []}\n\n[1, 2]\n', encoding="utf-8")
    where = re.escape(str(path))
    with pytest.raises(ConvertedFileError, match=rf"{where}, line 3: expected a JSON object, found a list"):
        list(read_jsonl(path))
    path.write_text('{"messages": []\n', encoding="utf-8")
    with pytest.raises(ConvertedFileError, match=r"line 1: expected a JSON object, found not valid JSON"):
        list(read_jsonl(path))


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("format", FORMATS)
def test_a_missing_clip_is_left_out_and_counted(sample, config, format, tmp_path):
    rows = sample[config, "train"]
    absent = [r["id"] for r in rows if r not in present(rows)]
    assert absent
    with pytest.raises(NoAudioFileError, match=absent[0]):
        convert_example(next(r for r in rows if r["id"] == absent[0]), format)
    counts = write_jsonl(rows, tmp_path / "out.jsonl", format)
    kept = present(rows)
    assert counts.skipped_missing_audio == absent and counts.written == len(kept) == len(rows) - len(absent)
    assert counts.turns == sum(r["num_turns"] for r in kept) and counts.clips == sum(len(clips(r)) for r in kept)
    assert f"skipped {len(absent)} whose audio is missing" in counts.summary()
    assert len((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()) == counts.written
    assert not (tmp_path / "out.jsonl.tmp").exists()


def test_llava_counts_a_clip_whose_length_cannot_be_read(tmp_path):
    good, bad = write_clip(tmp_path / "good.wav", seconds=1.25), tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 10)
    rows = [
        {
            "id": f"train-00000{i}",
            "audio": {"path": str(p), "bytes": None},
            "audio_id": p.name,
            "dialogue": [{"user": "What?", "assistant": "A tone."}],
        }
        for i, p in enumerate((good, bad))
    ]
    counts = write_jsonl(rows, tmp_path / "out.jsonl", "llava")
    assert counts.written == 1 and counts.skipped_unreadable_audio == ["train-000001"]
    assert "skipped 1 whose audio file cannot be read (train-000001)" in counts.summary()
    assert [obj["duration"] for obj in read_jsonl(tmp_path / "out.jsonl")] == [1.25]
    assert write_jsonl(rows, tmp_path / "out.jsonl", "swift").written == 2  # swift writes no duration


def test_decoded_examples_convert_to_the_same_records(sample, cache_dir):
    decoded = load_dataset("audioset_comparison", "train", cache_dir=cache_dir)
    undecoded = sample["audioset_comparison", "train"]
    row = first(decoded)
    same = next(r for r in undecoded if r["id"] == row["id"])
    for format in FORMATS:
        assert convert_example(row, format) == convert_example(same, format)


def test_round_trip_keeps_question_text_that_starts_with_whitespace_or_a_tag():
    row = {
        "id": "x",
        "audio": {"path": "/a.wav", "bytes": None, "array": [0.0] * 160, "sampling_rate": 16000},
        "dialogue": [{"user": "\n What?", "assistant": "A dog."}, {"user": "<audio> tag?", "assistant": "No."}],
    }
    for format in FORMATS:
        assert to_dialogue(convert_example(row, format), format)["dialogue"] == row["dialogue"]


def test_reads_the_earlier_layouts_back():
    """Files written before these rules (llava ``sound`` a string, openai ``audio_url`` only) still read."""
    assert to_dialogue(
        {
            "id": "a",
            "sound": "/a.wav",
            "conversations": [{"from": "human", "value": "<sound>\nQ?"}, {"from": "gpt", "value": "A."}],
        },
        "llava",
    ) == {"id": "a", "dialogue": [{"user": "Q?", "assistant": "A."}], "audio_paths": ["/a.wav"]}
    old = {
        "id": "b",
        "messages": [
            {"role": "user", "content": [{"type": "audio", "audio_url": "/b.wav"}, {"type": "text", "text": "Q?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "A."}]},
        ],
    }
    assert to_dialogue(old, "openai")["audio_paths"] == ["/b.wav"]


def test_unknown_format_lists_the_choices(sample, tmp_path):
    with pytest.raises(ValueError, match="Unknown format 'sharegpt': choose one of openai, llava, swift"):
        convert_example(sample["music_dialogues", "train"][0], "sharegpt")
    with pytest.raises(ValueError, match="choose one of"):
        write_jsonl(sample["music_dialogues", "train"], tmp_path / "out.jsonl", "sharegpt")
    with pytest.raises(ValueError, match="choose one of"):
        to_dialogue({}, "sharegpt")
    assert not (tmp_path / "out.jsonl").exists()


def test_inverse_rejects_messages_that_do_not_alternate():
    with pytest.raises(ReleaseFormatError, match="expected a assistant message|expected a list of alternating"):
        to_dialogue({"messages": [{"role": "user", "content": "<audio>hi"}], "audios": ["a.wav"]}, "swift")


# ---------------------------------------------------------------------------------------------------
# The command


def test_cli_writes_every_config_and_split_into_one_file(capsys, cache_dir, tmp_path, sample):
    out = tmp_path / "all.llava.jsonl"
    argv = ["convert", "--format", "llava", str(out), "--split", "train", "--split", "test", "--cache-dir", cache_dir]
    assert main(argv + [arg for config in CONFIGS for arg in ("--config", config)]) == 0
    printed = capsys.readouterr().out
    manifest = sample_manifest()["records"]
    for config in CONFIGS:
        for split in ("train", "test"):
            written, skipped = map(
                int,
                re.search(
                    rf"{config}/{split} -> {re.escape(str(out))}\nllava: wrote (\d+) examples; skipped "
                    rf"(\d+) whose audio",
                    printed,
                ).groups(),
            )
            assert written + skipped == manifest[config][split] and skipped > 0
    expected = [
        {**to_llava(row), "id": f"{config}/{row['id']}"}
        for config in CONFIGS
        for split in ("train", "test")
        for row in present(sample[config, split])
    ]
    assert list(read_jsonl(out)) == expected  # ids unique across configs
    assert re.search(
        rf"all -> {re.escape(str(out))}\nllava: wrote {len(expected)} examples; skipped \d+ whose audio "
        r"is missing \(audioset_dialogues/train-\d{6}, ",
        printed,
    )
    assert not list(tmp_path.glob("*.partial*")) and not list(tmp_path.glob("*.tmp"))


def test_cli_resumes_after_an_interruption_without_writing_finished_parts_again(capsys, cache_dir, tmp_path):
    out = tmp_path / "out.jsonl"
    argv = ["convert", "--format", "swift", str(out), "--config", "music_dialogues", "--cache-dir", cache_dir]
    # stops at the second split: a user error, one line naming it, exit 2
    assert main(argv + ["--split", "train", "--split", "validation"]) == 2
    assert "validation" in capsys.readouterr().err.splitlines()[-1]
    assert not out.exists() and sorted(p.name for p in (tmp_path / "out.jsonl.parts").iterdir()) == [
        "music_dialogues.train.counts.json",
        "music_dialogues.train.jsonl",
    ]
    capsys.readouterr()
    assert main(argv + ["--split", "train", "--split", "test"]) == 0
    printed = capsys.readouterr().out
    assert "music_dialogues/train -> " + str(out) + " (written by an earlier run with the same arguments)" in printed
    assert re.search(r"music_dialogues/test -> \S+\nswift: wrote \d+", printed)
    assert not (tmp_path / "out.jsonl.parts").exists()  # the parts are gone once OUT is whole
    lines = out.read_text(encoding="utf-8").splitlines()
    total = int(re.search(r"all -> \S+\nswift: wrote (\d+) examples", printed).group(1))
    assert len(lines) == total > 0
    # other arguments that shape the output: refused while the earlier parts are there (no mix); one line, exit 2
    assert main(argv + ["--split", "train", "--split", "validation"]) == 2
    assert "validation" in capsys.readouterr().err.splitlines()[-1]
    assert main(argv + ["--split", "train", "--missing-audio", "skip"]) == 2
    assert "'--missing-audio': None, this run asks for '--missing-audio': 'skip'" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "out.jsonl.parts")  # the fix the message names
    assert main(argv + ["--split", "train", "--missing-audio", "skip"]) == 0
    assert "earlier run" not in capsys.readouterr().out


def test_console_script_converts(tmp_path):
    script = Path(sys.executable).with_name("audio-dialogues")
    out = tmp_path / "music.openai.jsonl"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run(
        [
            str(script),
            "convert",
            "--format",
            "openai",
            str(out),
            "--config",
            "music_dialogues",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    written, skipped = map(
        int,
        re.search(
            r"music_dialogues/train -> .*\nopenai: wrote (\d+) examples; skipped (\d+) "
            r"whose audio is missing",
            result.stdout,
        ).groups(),
    )
    assert written + skipped == sample_manifest()["records"]["music_dialogues"]["train"]
    records = list(read_jsonl(out))
    assert len(records) == written
    assert all(Path(p).is_file() for r in records for p in to_dialogue(r, "openai")["audio_paths"])


# ---------------------------------------------------------------------------------------------------
# lhotse (optional extra)


def test_lhotse_recordings_and_cuts(sample):
    pytest.importorskip("lhotse")
    from _audio_dialogues.outputs.lhotse_interop import to_lhotse

    for config in CONFIGS:
        rows = sample[config, "train"]
        recordings, cuts, counts = to_lhotse(rows)
        kept = present(rows)
        assert counts.skipped_missing_audio == [r["id"] for r in rows if r not in kept]
        assert counts.dialogues == len(kept) and counts.cuts == len(cuts) == sum(len(clips(r)) for r in kept)
        youtube_ids = {y for r in kept for y in (r["youtube_ids"] if "youtube_ids" in r else [r["youtube_id"]])}
        assert counts.recordings == len(recordings) == len(youtube_ids)
        for row in kept:
            ids = [row["id"]] if "audio" in row else [f"{row['id']}-{k}" for k in range(1, len(clips(row)) + 1)]
            youtube_ids = row["youtube_ids"] if "youtube_ids" in row else [row["youtube_id"]]
            for k, (cut_id, youtube_id, clip) in enumerate(zip(ids, youtube_ids, clips(row)), start=1):
                cut = cuts[cut_id]
                assert cut.recording_id == youtube_id and cut.custom["clip"] == k
                assert cut.custom["example_id"] == row["id"] and cut.custom["dialogue"] == row["dialogue"]
                info = soundfile.info(clip["path"])
                assert cut.sampling_rate == info.samplerate and abs(cut.duration - info.duration) < 1e-3
                assert cut.load_audio().shape[-1] == info.frames
        assert "left out" in counts.summary() and str(counts.skipped_missing_audio[0]) in counts.summary()


def test_lhotse_cuts_round_trip_through_a_manifest(sample, tmp_path):
    pytest.importorskip("lhotse")
    from lhotse import CutSet

    from _audio_dialogues.outputs.lhotse_interop import to_lhotse

    _, cuts, _ = to_lhotse(sample["music_dialogues", "test"])
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    back = CutSet.from_file(tmp_path / "cuts.jsonl.gz")
    assert [c.id for c in back] == [c.id for c in cuts]
    assert [c.custom["dialogue"] for c in back] == [c.custom["dialogue"] for c in cuts]


@pytest.mark.skipif(importlib.util.find_spec("lhotse") is not None, reason="lhotse is installed here")
def test_lhotse_missing_says_which_extra_to_install(sample):
    from _audio_dialogues.outputs.lhotse_interop import to_lhotse

    with pytest.raises(ImportError, match=re.escape("pip install 'audio-dialogues[lhotse]'")):
        to_lhotse(sample["music_dialogues", "test"])


# --- issue 20: nothing of the user's deleted, nothing written through a planted link, no split twice ----------


def test_a_users_folder_at_the_parts_name_is_never_used_or_removed(capsys, cache_dir, tmp_path):
    out = tmp_path / "out.jsonl"
    users = tmp_path / "out.jsonl.parts"
    users.mkdir()
    (users / "thesis.tex").write_text("my work", encoding="utf-8")
    argv = ["convert", "--format", "swift", str(out), "--config", "music_dialogues", "--cache-dir", cache_dir]
    assert main(argv + ["--split", "test"]) == 2
    assert "out.jsonl.parts exists and was not made by convert" in capsys.readouterr().err
    assert (users / "thesis.tex").read_text(encoding="utf-8") == "my work" and not out.exists()


def test_a_link_planted_at_the_temporary_name_is_not_followed_and_a_split_named_twice_is_written_once(
    capsys, cache_dir, tmp_path
):
    out = tmp_path / "out.jsonl"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (tmp_path / "out.jsonl.tmp").symlink_to(victim)
    argv = ["convert", "--format", "swift", str(out), "--config", "music_dialogues", "--cache-dir", cache_dir]
    assert main(argv + ["--split", "test", "--split", "test", "--config", "music_dialogues"]) == 0
    assert victim.read_text(encoding="utf-8") == "keep me"
    printed = capsys.readouterr().out
    assert printed.count("music_dialogues/test -> ") == 1
    written = int(re.search(r"music_dialogues/test -> .*\nswift: wrote (\d+) examples", printed)[1])
    assert 0 < written == len(list(read_jsonl(out)))  # each example once
