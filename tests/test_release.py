import gzip
import json

import pytest

from _audio_dialogues.core.release import RecordRules, ReleaseFormatError, read_release_file

DIALOGUE = RecordRules(multi_audio=False, max_turns=4)
COMPARISON = RecordRules(multi_audio=True, min_turns=1, max_turns=1, min_audios=2, max_audios=4)
TURN = {"user": "What is it?", "assistant": "A dog barking."}


def write(tmp_path, name, text, binary=False):
    path = tmp_path / name
    path.write_bytes(text if binary else text.encode("utf-8"))
    return path


def test_json_array_jsonl_and_gzip_read_the_same(tmp_path):
    records = [{"audio_id": "Y2oSP0SN3d2g.wav", "dialogue": [TURN] * n} for n in (1, 2, 3, 4)]
    array = write(tmp_path, "a.json", json.dumps(records))
    lines = write(tmp_path, "a.jsonl", "\n".join(json.dumps(r) for r in records) + "\n\n")
    zipped = write(tmp_path, "a.jsonl.gz", gzip.compress(lines.read_bytes()), binary=True)
    parsed = [read_release_file(p, DIALOGUE) for p in (array, lines, zipped)]
    assert [r.dialogue for r in parsed[0]] == [r.dialogue for r in parsed[1]] == [r.dialogue for r in parsed[2]]
    assert [len(r.dialogue) for r in parsed[0]] == [1, 2, 3, 4]
    assert parsed[0][0].youtube_ids == ("2oSP0SN3d2g",)
    assert parsed[0][2].position == "record 2" and parsed[1][2].position == "line 3"


def test_bom_and_windows_line_endings_are_accepted(tmp_path):
    record = json.dumps({"audio_id": "abcdefghijk.wav", "dialogue": [TURN]})
    path = write(tmp_path, "a.jsonl", "\ufeff" + record + "\r\n" + record + "\r\n")
    assert len(read_release_file(path, DIALOGUE)) == 2


def test_line_separator_characters_inside_jsonl_strings(tmp_path):
    record = {"audio_id": "abcdefghijk.wav", "dialogue": [{"user": "a\u2028b\x85c", "assistant": "d\u2029e"}]}
    path = write(tmp_path, "a.jsonl", json.dumps(record, ensure_ascii=False) + "\n")
    (parsed,) = read_release_file(path, DIALOGUE)
    assert parsed.dialogue[0] == record["dialogue"][0]


def test_comparison_records(tmp_path):
    record = {"audio_ids": ["Yeiz9E9N-FIw.wav", "Y3zAp2kxzU7Q.wav", "abcdefghijk"], "dialogue": [TURN]}
    (parsed,) = read_release_file(write(tmp_path, "c.json", json.dumps([record])), COMPARISON)
    assert parsed.youtube_ids == ("eiz9E9N-FIw", "3zAp2kxzU7Q", "abcdefghijk")
    assert parsed.audio_ids == tuple(record["audio_ids"])


def test_messages_and_conversations_are_normalised(tmp_path):
    messages = {
        "audio_id": "abcdefghijk.wav",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "audio", "audio_url": "x.wav"}, {"type": "text", "text": "What is it?"}],
            },
            {"role": "assistant", "content": "A dog barking."},
            {"role": "user", "content": "Is it loud?"},
            {"role": "assistant", "content": "Yes."},
        ],
    }
    llava = {
        "audio_id": "abcdefghijk.wav",
        "conversations": [
            {"from": "human", "value": "<sound>\nWhat is it?"},
            {"from": "gpt", "value": "A dog barking."},
            {"from": "human", "value": "Is it loud?"},
            {"from": "gpt", "value": "Yes."},
        ],
    }
    parsed = read_release_file(write(tmp_path, "m.json", json.dumps([messages, llava])), DIALOGUE)
    expected = ({"user": "What is it?", "assistant": "A dog barking."}, {"user": "Is it loud?", "assistant": "Yes."})
    assert parsed[0].dialogue == parsed[1].dialogue == expected


BAD = [
    ({"audio_id": 5, "dialogue": [TURN]}, "audio_id", "expected a string"),
    ({"dialogue": [TURN]}, "audio_id", "expected a string"),
    ({"audio_id": "../x.wav", "dialogue": [TURN]}, "audio_id", "11-character YouTube id"),
    ({"audio_id": "clip.wav", "dialogue": [TURN]}, "audio_id", "11-character YouTube id"),
    ({"audio_id": "abcdefghijk.wav", "dialogue": []}, "dialogue", "expected 1 to 4 turn"),
    ({"audio_id": "abcdefghijk.wav", "dialogue": [TURN] * 5}, "dialogue", "expected 1 to 4 turn"),
    ({"audio_id": "abcdefghijk.wav", "dialogue": [{"user": "hi"}]}, "dialogue[0].assistant", "non-empty string"),
    (
        {"audio_id": "abcdefghijk.wav", "dialogue": [TURN, {"user": "  ", "assistant": "x"}]},
        "dialogue[1].user",
        "non-empty string",
    ),
    (
        {"audio_id": "abcdefghijk.wav", "dialogue": [{"user": 3, "assistant": "x"}]},
        "dialogue[0].user",
        "non-empty string",
    ),
    ({"audio_id": "abcdefghijk.wav", "dialogue": "hello"}, "dialogue", "expected a list"),
    ({"audio_id": "abcdefghijk.wav"}, "dialogue", "found none"),
    (
        {
            "audio_id": "abcdefghijk.wav",
            "messages": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}],
        },
        "messages[0].role",
        "expected a user message",
    ),
    ("not an object", None, "expected a JSON object"),
]


@pytest.mark.parametrize("record, field, problem", BAD)
def test_bad_records_name_file_record_and_field(tmp_path, record, field, problem):
    good = {"audio_id": "abcdefghijk.wav", "dialogue": [TURN]}
    path = write(tmp_path, "train.json", json.dumps([good, good, record]))
    with pytest.raises(ReleaseFormatError) as info:
        read_release_file(path, DIALOGUE)
    message = str(info.value)
    assert str(path) in message and "record 2" in message and problem in message
    if field:
        assert f"field '{field}'" in message
    # The same record in JSON Lines is reported by line number.
    lines = write(tmp_path, "train.jsonl", "\n".join(json.dumps(r) for r in (good, good, record)))
    with pytest.raises(ReleaseFormatError, match="line 3"):
        read_release_file(lines, DIALOGUE)


@pytest.mark.parametrize(
    "audio_ids, problem",
    [
        (["abcdefghijk.wav"], "2 to 4 audio ids, found 1"),
        (["abcdefghijk.wav"] * 5, "2 to 4 audio ids, found 5"),
        ("abcdefghijk.wav", "expected a list"),
    ],
)
def test_bad_comparison_audio_ids(tmp_path, audio_ids, problem):
    path = write(tmp_path, "test.json", json.dumps([{"audio_ids": audio_ids, "dialogue": [TURN]}]))
    with pytest.raises(ReleaseFormatError, match=problem):
        read_release_file(path, COMPARISON)
    path = write(
        tmp_path, "test.json", json.dumps([{"audio_ids": ["abcdefghijk", "bbcdefghijk"], "dialogue": [TURN, TURN]}])
    )
    with pytest.raises(ReleaseFormatError, match="exactly 1 turn"):
        read_release_file(path, COMPARISON)


@pytest.mark.parametrize(
    "text, where, problem",
    [
        ('[{"audio_id": "abcdefghijk.wav", "dialogue": [', "line 1 column", "not valid JSON"),
        ('{"audio_id": "abcdefghijk.wav"}', None, "expected a JSON array"),
    ],
)
def test_bad_files(tmp_path, text, where, problem):
    path = write(tmp_path, "train.json", text)
    with pytest.raises(ReleaseFormatError, match=problem) as info:
        read_release_file(path, DIALOGUE)
    assert str(path) in str(info.value) and (where is None or where in str(info.value))


def test_invalid_utf8_names_the_line(tmp_path):
    path = write(tmp_path, "train.jsonl", b'{"a": 1}\n{"audio_id": "\xff"}\n', binary=True)
    with pytest.raises(ReleaseFormatError, match="line 2.*not valid UTF-8"):
        read_release_file(path, DIALOGUE)
