"""Bad release input (issue 5): a corpus of broken and odd release files, generated here.

Each case says what must happen, both through ``read_release_file`` and through the user's entry
point ``audio_dialogues.load_dataset(..., data_dir=...)``:

- ``record``: an invalid record. ``ReleaseFormatError`` (ours, not wrapped by ``datasets``) naming
  the file, the record (``record N`` in a JSON array, ``line N`` in JSON Lines), the field and the
  expectation; with ``on_invalid="skip"`` the record is dropped, counted and listed instead.
- ``file``: the file cannot be cut into records. ``ReleaseFormatError`` naming the file and where
  it broke, with ``on_invalid="skip"`` too.
- ``accept``: harmless input, loaded as if it were clean.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import datasets
import pytest

import audio_dialogues
from _audio_dialogues.core.release import ReleaseFormatError, read_release_file
from audio_dialogues import SUBSETS, AudioDialogues, load_dataset

GOOD = {"audio_id": "Y2oSP0SN3d2g.wav", "dialogue": [{"user": "What is it?", "assistant": "A dog barking."}]}
GOOD_PAIR = {
    "audio_ids": ["Yeiz9E9N-FIw.wav", "Y3zAp2kxzU7Q.wav"],
    "dialogue": [{"user": "Louder?", "assistant": "Audio 2."}],
}
TEN_MB = "x" * (10 * 1024 * 1024)


@dataclass(frozen=True)
class Case:
    id: str
    fmt: str  # "json" or "jsonl"
    content: bytes
    kind: str  # "record", "file" or "accept"
    position: str | None = None  # where the error points
    field: str | None = None
    expectation: str = ""  # a piece of the problem text
    config: str = "music_dialogues"
    records: int = 0  # "accept": how many records load


def array(*records) -> bytes:
    return json.dumps(list(records), indent=1).encode()


def lines(*records, end: str = "\n") -> bytes:
    return "".join(json.dumps(r) + end for r in records).encode()


def record_case(id, bad, field, expectation, config="music_dialogues", fmt="json") -> Case:
    """``bad`` between two good records: ``record 1`` in an array, ``line 2`` in JSON Lines."""
    good = GOOD_PAIR if config == "audioset_comparison" else GOOD
    content = array(good, bad, good) if fmt == "json" else lines(good, bad, good)
    return Case(id, fmt, content, "record", "record 1" if fmt == "json" else "line 2", field, expectation, config)


def turn(**fields):
    return {"audio_id": "Y2oSP0SN3d2g.wav", "dialogue": [fields]}


CORPUS = [
    Case("truncated_json_array", "json", array(GOOD, GOOD)[:-30], "file", "column", None, "not valid JSON"),
    Case(
        "truncated_jsonl_last_line",
        "jsonl",
        lines(GOOD, GOOD) + b'{"audio_id": "Y2oSP0SN3d2g.wav", "dia',
        "record",
        "line 3",
        None,
        "not valid JSON",
    ),
    Case(
        "top_level_object",
        "json",
        json.dumps(GOOD).encode(),
        "file",
        None,
        None,
        "expected a JSON array of records at the top level, found a dict",
    ),
    record_case("record_not_an_object", "a string", None, "expected a JSON object, found str"),
    record_case("jsonl_record_not_an_object", [GOOD], None, "expected a JSON object, found list", fmt="jsonl"),
    record_case(
        "missing_audio_id",
        {"dialogue": GOOD["dialogue"]},
        "audio_id",
        "expected a string (the clip's file name), found nothing",
    ),
    record_case(
        "non_string_audio_id",
        {**GOOD, "audio_id": 12345678901},
        "audio_id",
        "expected a string (the clip's file name), found int",
    ),
    record_case("empty_dialogue", {**GOOD, "dialogue": []}, "dialogue", "expected 1 to 4 turn(s), found 0"),
    record_case(
        "five_turns",
        {**GOOD, "dialogue": GOOD["dialogue"] * 5},
        "dialogue",
        "expected 1 to 4 turn(s), found 5",
        fmt="jsonl",
    ),
    record_case(
        "turn_without_user", turn(assistant="A dog."), "dialogue[0].user", "expected a non-empty string, found nothing"
    ),
    record_case(
        "turn_without_assistant",
        turn(user="What?"),
        "dialogue[0].assistant",
        "expected a non-empty string, found nothing",
    ),
    record_case(
        "non_string_turn_text",
        turn(user=["What?"], assistant="A dog."),
        "dialogue[0].user",
        "expected a non-empty string, found list",
    ),
    record_case(
        "empty_turn_text",
        turn(user="What?", assistant=""),
        "dialogue[0].assistant",
        "expected a non-empty string, found str",
    ),
    record_case(
        "comparison_with_1_audio_id",
        {**GOOD_PAIR, "audio_ids": ["Yeiz9E9N-FIw.wav"]},
        "audio_ids",
        "expected 2 to 4 audio ids, found 1",
        config="audioset_comparison",
    ),
    record_case(
        "comparison_with_5_audio_ids",
        {**GOOD_PAIR, "audio_ids": ["Yeiz9E9N-FIw.wav"] * 5},
        "audio_ids",
        "expected 2 to 4 audio ids, found 5",
        config="audioset_comparison",
        fmt="jsonl",
    ),
    record_case(
        "not_a_youtube_id",
        {**GOOD, "audio_id": "dog barking.wav"},
        "audio_id",
        "expected a file name holding an 11-character YouTube id",
    ),
    record_case(
        "comparison_id_not_a_youtube_id",
        {**GOOD_PAIR, "audio_ids": ["Yeiz9E9N-FIw.wav", "../x.wav"]},
        "audio_ids[1]",
        "expected a file name holding an 11-character YouTube id",
        config="audioset_comparison",
    ),
    record_case(
        "list_valued_role",
        {
            "audio_id": "Y2oSP0SN3d2g.wav",
            "messages": [{"role": ["user"], "content": "Hi"}, {"role": "assistant", "content": "Yes."}],
        },
        "messages[0].role",
        "expected a user message here",
        fmt="jsonl",
    ),
    Case(
        "invalid_utf8",
        "jsonl",
        lines(GOOD) + b'{"audio_id": "Y2oSP0SN3d2g.wav", "dialogue": "\xff"}\n',
        "file",
        "line 2",
        None,
        "not valid UTF-8",
    ),
    Case(
        "nesting_too_deep", "json", b"[" * 100_000 + b"]" * 100_000, "file", None, None, "could not be parsed as JSON"
    ),
    Case(
        "jsonl_integer_of_5000_digits",
        "jsonl",
        lines(GOOD) + b'{"audio_id": 1' + b"0" * 5000 + b"}\n" + lines(GOOD),
        "record",
        "line 2",
        None,
        "could not be parsed as JSON",
    ),
    Case("utf8_bom_json", "json", b"\xef\xbb\xbf" + array(GOOD, GOOD), "accept", records=2),
    Case("utf8_bom_jsonl", "jsonl", b"\xef\xbb\xbf" + lines(GOOD, GOOD), "accept", records=2),
    Case("windows_line_endings_jsonl", "jsonl", lines(GOOD, GOOD, GOOD, end="\r\n"), "accept", records=3),
    Case(
        "blank_lines_jsonl", "jsonl", b"\n" + lines(GOOD) + b"\n  \n\r\n" + lines(GOOD) + b"\n\n", "accept", records=2
    ),
    Case("one_10_mb_record", "jsonl", lines(GOOD, turn(user="Describe it.", assistant=TEN_MB)), "accept", records=2),
]
ERRORS = [c for c in CORPUS if c.kind != "accept"]


def write_case(root: Path, case: Case) -> Path:
    """The case as the train file of a release under ``root``, with a clean one-record test file."""
    path = root / case.config / f"train.{case.fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(case.content)
    good = GOOD_PAIR if case.config == "audioset_comparison" else GOOD
    (root / case.config / "test.json").write_bytes(array(good))
    return path.resolve()


def assert_names_everything(err: ReleaseFormatError, path: Path, case: Case) -> None:
    assert type(err) is ReleaseFormatError  # ours, not a datasets wrapper around it
    message = str(err)
    assert err.file == str(path) and message.startswith(str(path))
    if case.position is None:
        assert err.position is None
    else:
        assert case.position in err.position and case.position in message
    assert err.field == case.field
    if case.field:
        assert f"field '{case.field}'" in message
    assert case.expectation in err.problem and case.expectation in message


def test_the_corpus_covers_what_issue_5_lists():
    assert len({c.id for c in CORPUS}) == len(CORPUS)
    assert {c.kind for c in CORPUS} == {"record", "file", "accept"}


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.id)
def test_read_release_file(tmp_path, case):
    path = write_case(tmp_path, case)
    rules = SUBSETS[case.config].rules
    if case.kind == "accept":
        records = read_release_file(path, rules)
        assert len(records) == case.records
        assert max(len(t["assistant"]) for r in records for t in r.dialogue) == (
            len(TEN_MB) if "10_mb" in case.id else 14
        )
        return
    with pytest.raises(ReleaseFormatError) as info:
        read_release_file(path, rules)
    assert_names_everything(info.value, path, case)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.id)
def test_load_dataset(tmp_path, case):
    path = write_case(tmp_path, case)
    load = dict(data_dir=tmp_path, cache_dir=tmp_path / "cache", verification_mode="no_checks")
    if case.kind == "accept":
        ds = load_dataset(case.config, "train", **load)
        assert len(ds) == case.records and ds[0]["dialogue"] == GOOD["dialogue"]
        return
    with pytest.raises(ReleaseFormatError) as info:
        load_dataset(case.config, **load)
    assert_names_everything(info.value, path, case)


@pytest.mark.parametrize("case", ERRORS, ids=lambda c: c.id)
def test_on_invalid_skip(tmp_path, case, summaries):
    path = write_case(tmp_path, case)
    load = dict(data_dir=tmp_path, cache_dir=tmp_path / "cache", verification_mode="no_checks", on_invalid="skip")
    if case.kind == "file":  # nothing to skip to: still an error
        with pytest.raises(ReleaseFormatError) as info:
            load_dataset(case.config, **load)
        assert_names_everything(info.value, path, case)
        return
    ds = load_dataset(case.config, "train", **load)
    bad = int(case.position.split()[1]) - (case.fmt == "jsonl")  # its position in the split
    good = 3 - 1 if case.id != "truncated_jsonl_last_line" else 2
    assert len(ds) == good and f"train-{bad:06d}" not in ds["id"]
    assert ds["id"] == [f"train-{i:06d}" for i in range(good + 1) if i != bad]  # the others keep their ids
    (line,) = [s for s in summaries if s.startswith(f"{case.config}/train:")]
    assert f"{good + 1} records" in line and "1 invalid records skipped (on_invalid='skip'), listed in " in line
    listing = Path(line.rsplit(" ", 1)[1])
    header, row = listing.read_text(encoding="utf-8").splitlines()
    assert header == "file\tposition\tfield\tproblem"
    file, position, field, problem = row.split("\t")
    assert (file, position, field) == (str(path), case.position, case.field or "") and case.expectation in problem
    summary = json.loads(listing.with_name("train.summary.json").read_text())
    assert (
        summary["invalid_records"] == 1 and summary["on_invalid"] == "skip" and summary["invalid_file"] == str(listing)
    )


def test_skip_counts_invalid_records_towards_the_published_size(tmp_path, monkeypatch):
    """An invalid record is still a record of the release: the count is checked, then it is skipped."""
    subset = SUBSETS["music_dialogues"]
    monkeypatch.setitem(audio_dialogues.SUBSETS, "music_dialogues", replace(subset, published={"train": 3, "test": 1}))
    case = record_case("x", {"audio_id": 5}, "audio_id", "")
    write_case(tmp_path, case)
    ds = load_dataset("music_dialogues", data_dir=tmp_path, cache_dir=tmp_path / "cache", on_invalid="skip")
    assert {split: len(d) for split, d in ds.items()} == {"train": 2, "test": 1}
    # Without the invalid record the release is short, and skipping does not hide that.
    (tmp_path / "music_dialogues" / "train.json").write_bytes(array(GOOD, GOOD))
    with pytest.raises(datasets.exceptions.NonMatchingSplitsSizesError, match="expected 3 records, found 2"):
        load_dataset("music_dialogues", data_dir=tmp_path, cache_dir=tmp_path / "cache", on_invalid="skip")


def test_skip_when_streaming_gives_the_same_rows(tmp_path):
    case = next(c for c in ERRORS if c.id == "five_turns")
    write_case(tmp_path, case)
    load = dict(data_dir=tmp_path, cache_dir=tmp_path / "cache", verification_mode="no_checks", on_invalid="skip")
    streamed = [row["id"] for row in load_dataset(case.config, "train", streaming=True, **load)]
    assert streamed == load_dataset(case.config, "train", **load)["id"] == ["train-000000", "train-000002"]


def test_on_invalid_is_checked_early_and_is_part_of_the_cache_key(tmp_path):
    with pytest.raises(ValueError, match="on_invalid='drop': choose one of error, skip"):
        load_dataset("music_dialogues", data_dir=tmp_path / "does-not-exist", on_invalid="drop")
    dirs = {
        AudioDialogues("music_dialogues", cache_dir=str(tmp_path), on_invalid=policy).cache_dir
        for policy in ("error", "skip")
    }
    assert len(dirs) == 2
