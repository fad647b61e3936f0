"""Property-based tests (issue 5): the record parser and the YouTube-id resolver never fail in a way
the user cannot read. Any input either parses to a valid record or raises ``ReleaseFormatError``;
any file name either parses to an 11-character id it contains or is ``None``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from _audio_dialogues.core.audio_files import AUDIO_EXTENSIONS, index_audio_dirs, parse_audio_name
from _audio_dialogues.core.release import Record, RecordRules, ReleaseFormatError, iter_release_file, parse_record
from audio_dialogues import SUBSETS

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RULES = {name: subset.rules for name, subset in SUBSETS.items()}
ID_CHARS = "abcXYZ019_-"

# Arbitrary JSON values, and values shaped like records (the right keys, any values) so the parser's
# deeper branches are reached, not only its first type check.
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
youtube_ids = st.text(ID_CHARS, min_size=11, max_size=11)
audio_names = st.one_of(
    st.builds(
        lambda p, y, t, e: p + y + t + e,
        st.sampled_from(["", "Y"]),
        youtube_ids,
        st.sampled_from(["", "_30000", "_30.000_40.000", "_1_2"]),
        st.sampled_from(["", ".wav", ".FLAC", ".m4a", ".txt", "."]),
    ),
    st.text(max_size=16),
)
texts = st.one_of(st.text(max_size=8), st.sampled_from(["", " ", "<sound>", "<audio>\n"]), json_values)
turns = st.one_of(
    st.fixed_dictionaries({"user": texts, "assistant": texts}),
    st.fixed_dictionaries({}, optional={"user": texts, "assistant": texts, "extra": texts}),
    json_values,
)
roles = st.sampled_from(["user", "assistant", "human", "gpt", "system"]) | json_values
messages = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "role": roles,
                "content": texts
                | st.lists(
                    st.fixed_dictionaries({"type": st.sampled_from(["text", "audio"]), "text": texts}), max_size=3
                ),
            }
        ),
        st.fixed_dictionaries({"from": roles, "value": texts}),
        json_values,
    ),
    max_size=6,
)
record_like = st.fixed_dictionaries(
    {},
    optional={
        "audio_id": audio_names | json_values,
        "audio_ids": st.lists(audio_names | json_values, max_size=6) | json_values,
        "dialogue": st.lists(turns, max_size=6) | json_values,
        "messages": messages,
        "conversations": messages,
    },
)


def check_record(record: Record, rules: RecordRules) -> None:
    """What every parsed record guarantees to the loader."""
    assert rules.min_audios <= len(record.audio_ids) <= rules.max_audios
    assert len(record.youtube_ids) == len(record.audio_ids)
    for audio_id, youtube_id in zip(record.audio_ids, record.youtube_ids):
        assert isinstance(audio_id, str) and len(youtube_id) == 11 and youtube_id in audio_id
    assert rules.min_turns <= len(record.dialogue) <= rules.max_turns
    for turn in record.dialogue:
        assert set(turn) == {"user", "assistant"}
        assert all(isinstance(t, str) and t.strip() for t in turn.values())


@FAST
@given(obj=record_like | json_values, config=st.sampled_from(sorted(RULES)))
@example(
    obj={"audio_id": "abcdefghijk", "messages": [{"role": ["user"], "content": "q"}, {"role": "gpt", "content": "a"}]},
    config="music_dialogues",
)  # found: a list-valued role raised TypeError (unhashable)
@example(
    obj={"audio_id": 10**5000}, config="music_dialogues"
)  # describing it: repr() of a >4300-digit int raises ValueError
def test_parse_record_gives_a_valid_record_or_our_error(obj, config):
    rules = RULES[config]
    try:
        record = parse_record(obj, rules, "train.jsonl", "line 7")
    except ReleaseFormatError as err:
        assert str(err).startswith("train.jsonl, line 7") and err.problem.startswith("expected")
        return
    check_record(record, rules)


@FAST
@given(
    lines=st.lists(st.one_of(record_like.map(json.dumps), st.text(max_size=30), st.just("[" * 5000)), max_size=5),
    fmt=st.sampled_from(["json", "jsonl"]),
    newline=st.sampled_from(["\n", "\r\n"]),
)
@example(lines=["[" * 100_000], fmt="json", newline="\n")  # found: RecursionError from json.loads
@example(lines=['{"audio_id": 1' + "0" * 5000 + "}"], fmt="jsonl", newline="\n")  # found: ValueError from json.loads
def test_any_release_file_gives_records_and_errors_or_raises_our_error(lines, fmt, newline):
    text = newline.join(lines) if fmt == "jsonl" else "[" + ",".join(lines) + "]"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, f"train.{fmt}")
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            items = list(iter_release_file(path, RULES["music_dialogues"]))
        except ReleaseFormatError as err:
            assert err.file == str(path)
            return
    for item in items:
        if isinstance(item, ReleaseFormatError):
            assert item.file == str(path) and item.position
        else:
            check_record(item, RULES["music_dialogues"])


@FAST
@given(name=audio_names)
@example(name="Y" * 12)  # both the AudioSet form (Y + id) and a bare id starting with Y: the prefix wins
@example(name="abcdefghijk_١٢.wav")  # non-ASCII digits in a time
def test_parse_audio_name_finds_an_id_it_contains_or_nothing(name):
    parsed = parse_audio_name(name)
    if parsed is None:
        return
    assert len(parsed.youtube_id) == 11 and set(parsed.youtube_id) <= set(
        ID_CHARS + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    )
    assert name.startswith(parsed.youtube_id) or name.startswith("Y" + parsed.youtube_id)
    assert parsed.extension is None or parsed.extension in AUDIO_EXTENSIONS


@FAST
@given(
    youtube_id=youtube_ids,
    prefix=st.sampled_from(["", "Y"]),
    times=st.sampled_from(["", "_30000", "_30.5_40.5"]),
    extension=st.sampled_from(AUDIO_EXTENSIONS),
)
def test_every_documented_name_form_parses_back(youtube_id, prefix, times, extension):
    parsed = parse_audio_name(f"{prefix}{youtube_id}{times}.{extension.upper()}")
    assert parsed is not None and parsed.extension == extension
    # A bare id that itself starts with "Y" cannot be told from the AudioSet form only when the name
    # has 12 characters before the time; with an explicit "Y" prefix the id is always recovered.
    if prefix == "Y" or not youtube_id.startswith("Y"):
        assert parsed.youtube_id == youtube_id


file_names = st.one_of(
    audio_names,
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"), min_size=1, max_size=20),
)


@FAST
@given(names=st.sets(file_names, max_size=8), queries=st.lists(audio_names, max_size=4))
def test_resolve_finds_a_file_holding_the_id_or_nothing(names, queries):
    names = {
        n
        for n in names
        if n not in ("", ".", "..") and "/" not in n and "\0" not in n and len(n.encode(errors="replace")) < 200
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            Path(tmp, name).write_bytes(b"")
        index = index_audio_dirs([tmp])
        by_id: dict[str, set[str]] = {}
        for name in names:
            parsed = parse_audio_name(name)
            if parsed is not None and parsed.extension is not None:  # on disk, audio needs an audio extension
                by_id.setdefault(parsed.youtube_id, set()).add(name)
        for audio_id in [*names, *queries]:
            parsed = parse_audio_name(audio_id)
            if parsed is None:
                continue
            found = index.resolve(audio_id, parsed.youtube_id)
            holders = by_id.get(parsed.youtube_id, set())
            if not holders:
                assert found.path is None
                continue
            assert os.path.basename(found.path) in holders and os.path.dirname(found.path) == index.roots[0]
            if audio_id in holders:  # a file named exactly like the record's audio_id wins
                assert os.path.basename(found.path) == audio_id and not found.tie
            assert found.tie == (audio_id not in holders and len(holders) > 1)


def test_an_extensionless_file_and_a_wav_of_the_same_id(tmp_path):
    """Found by hypothesis: the listing crashed (KeyError) sorting a file without an extension."""
    for name in ("abcdefghijk", "abcdefghijk.wav"):
        (tmp_path / name).write_bytes(b"")
    index = index_audio_dirs([tmp_path])
    assert index.resolve("abcdefghijk.wav", "abcdefghijk").path == str(tmp_path / "abcdefghijk.wav")
    assert index.num_files == 1 and index.other_files == 1  # no audio extension: not an audio file


@pytest.mark.parametrize("config", sorted(RULES))
def test_the_strategies_reach_valid_records(config):
    """Guard against vacuous properties: valid records are among what the strategies build."""
    rules = RULES[config]
    record = (
        {"audio_ids": ["Yabcdefghijk.wav"] * rules.min_audios}
        if rules.multi_audio
        else {"audio_id": "abcdefghijk.flac"}
    )
    check_record(parse_record({**record, "dialogue": [{"user": "q", "assistant": "a"}]}, rules, "f", "record 0"), rules)
