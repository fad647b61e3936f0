"""The chat formats: exact structures on sample examples of every config, missing clips, round trips."""

from __future__ import annotations

import json

import pytest

from audio_dialogues import load_dataset
from _audio_dialogues.convert import (
    FORMATS, NoAudioFileError, convert_example, to_dialogue, to_llava, to_openai, to_swift, write_jsonl,
)
from _audio_dialogues.release import ReleaseFormatError

CONFIGS = ("audioset_dialogues", "music_dialogues", "audioset_comparison")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The bundled sample's train split of every config, undecoded, as lists of rows."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("HF_DATASETS_OFFLINE", "1")
        cache = tmp_path_factory.mktemp("hf_cache")
        return {config: list(load_dataset(config, "train", decode=False, cache_dir=cache)) for config in CONFIGS}


def first(rows, *, turns=None, present=True):
    for row in rows:
        values = row["audios"] if "audios" in row else [row["audio"]]
        if (turns is None or row["num_turns"] == turns) and all(v is not None for v in values) == present:
            return row
    raise LookupError("no such example in the sample")


@pytest.mark.parametrize("config", ["audioset_dialogues", "music_dialogues"])
def test_single_clip_example_in_every_format(sample, config):
    row = first(sample[config], turns=1)
    path, (turn,) = row["audio"]["path"], row["dialogue"]
    assert to_openai(row) == {"id": row["id"], "messages": [
        {"role": "user", "content": [{"type": "audio", "audio_url": path}, {"type": "text", "text": turn["user"]}]},
        {"role": "assistant", "content": [{"type": "text", "text": turn["assistant"]}]},
    ]}
    assert to_llava(row) == {"id": row["id"], "sound": path, "conversations": [
        {"from": "human", "value": "<sound>\n" + turn["user"]},
        {"from": "gpt", "value": turn["assistant"]},
    ]}
    assert to_swift(row) == {"messages": [
        {"role": "user", "content": "<audio>" + turn["user"]},
        {"role": "assistant", "content": turn["assistant"]},
    ], "audios": [path]}


def test_multi_turn_audio_only_in_the_first_user_turn(sample):
    row = next(r for r in sample["audioset_dialogues"] if r["num_turns"] >= 2 and r["audio"] is not None)
    path, turns = row["audio"]["path"], row["dialogue"]
    openai = to_openai(row)["messages"]
    assert [m["role"] for m in openai] == ["user", "assistant"] * len(turns)
    assert openai[0]["content"][0] == {"type": "audio", "audio_url": path}
    for i, turn in enumerate(turns[1:], start=1):
        assert openai[2 * i] == {"role": "user", "content": [{"type": "text", "text": turn["user"]}]}
        assert openai[2 * i + 1] == {"role": "assistant", "content": [{"type": "text", "text": turn["assistant"]}]}
    llava = to_llava(row)["conversations"]
    assert [m["value"] for m in llava[2:]] == [t[k] for t in turns[1:] for k in ("user", "assistant")]
    swift = to_swift(row)
    assert [m["content"] for m in swift["messages"][2:]] == [t[k] for t in turns[1:] for k in ("user", "assistant")]
    assert swift["audios"] == [path]
    text = json.dumps([llava[1:], swift["messages"][1:]])
    assert "<sound" not in text and "<audio>" not in text


def test_comparison_references_every_audio_in_order(sample):
    row = first(sample["audioset_comparison"])
    paths, (turn,) = [a["path"] for a in row["audios"]], row["dialogue"]
    assert len(paths) >= 2
    assert to_openai(row) == {"id": row["id"], "messages": [
        {"role": "user", "content": [{"type": "audio", "audio_url": p} for p in paths] + [{"type": "text", "text": turn["user"]}]},
        {"role": "assistant", "content": [{"type": "text", "text": turn["assistant"]}]},
    ]}
    tags = "".join(f"<sound-{k}>" for k in range(1, len(paths) + 1))
    assert to_llava(row) == {"id": row["id"], "sound": paths, "conversations": [
        {"from": "human", "value": tags + "\n" + turn["user"]},
        {"from": "gpt", "value": turn["assistant"]},
    ]}
    assert to_swift(row) == {"messages": [
        {"role": "user", "content": "<audio>" * len(paths) + turn["user"]},
        {"role": "assistant", "content": turn["assistant"]},
    ], "audios": paths}


def test_decoded_examples_convert_to_the_same_paths(sample, cache_dir):
    decoded = load_dataset("audioset_comparison", "train", cache_dir=cache_dir)[0]
    assert convert_example(decoded, "swift") == convert_example(sample["audioset_comparison"][0], "swift")


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("format", FORMATS)
def test_a_missing_clip_raises_and_the_writer_counts_it(sample, config, format, tmp_path):
    missing = first(sample[config], present=False)
    with pytest.raises(NoAudioFileError, match=missing["id"]):
        convert_example(missing, format)
    counts = write_jsonl(sample[config], tmp_path / "out.jsonl", format)
    absent = [r["id"] for r in sample[config] if _missing(r)]
    assert counts.skipped_missing_audio == absent and missing["id"] in absent
    assert counts.written == len(sample[config]) - len(absent)
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == counts.written and f"skipped {len(absent)} whose audio is missing" in counts.summary()
    assert not (tmp_path / "out.jsonl.tmp").exists()


def _missing(row) -> bool:
    values = row["audios"] if "audios" in row else [row["audio"]]
    return any(v is None for v in values)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("format", FORMATS)
def test_round_trip_recovers_dialogue_and_audio(sample, config, format, tmp_path):
    write_jsonl(sample[config], tmp_path / "out.jsonl", format)
    kept = [r for r in sample[config] if not _missing(r)]
    back = [to_dialogue(json.loads(line), format) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [b["dialogue"] for b in back] == [r["dialogue"] for r in kept]
    assert [b["audio_paths"] for b in back] == [[a["path"] for a in r["audios"]] if "audios" in r else [r["audio"]["path"]] for r in kept]
    assert [b["id"] for b in back] == ([None] * len(kept) if format == "swift" else [r["id"] for r in kept])


def test_round_trip_keeps_question_text_that_starts_with_whitespace_or_a_newline():
    row = {"id": "x", "audio": {"path": "a.wav", "bytes": None},
           "dialogue": [{"user": "\n What?", "assistant": "A dog."}, {"user": "<audio> tag?", "assistant": "No."}]}
    for format in FORMATS:
        assert to_dialogue(convert_example(row, format), format)["dialogue"] == row["dialogue"]


def test_unknown_format_lists_the_choices(sample, tmp_path):
    with pytest.raises(ValueError, match="Unknown format 'sharegpt': choose one of openai, llava, swift"):
        convert_example(sample["music_dialogues"][0], "sharegpt")
    with pytest.raises(ValueError, match="choose one of"):
        write_jsonl(sample["music_dialogues"], tmp_path / "out.jsonl", "sharegpt")
    with pytest.raises(ValueError, match="choose one of"):
        to_dialogue({}, "sharegpt")
    assert not (tmp_path / "out.jsonl").exists()


def test_inverse_rejects_messages_that_do_not_alternate():
    with pytest.raises(ReleaseFormatError, match="expected a assistant message|expected a list of alternating"):
        to_dialogue({"messages": [{"role": "user", "content": "<audio>hi"}], "audios": ["a.wav"]}, "swift")
