"""``audio-dialogues generate``: the real openai client against a local chat server on 127.0.0.1."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from chat_server import ChatServer, HttpReply
from conftest import sigint_as_in_a_terminal, write_clip

from _audio_dialogues.cli.main import main
from _audio_dialogues.core.musiccaps import MUSICCAPS_COLUMNS, shipped_musiccaps, shipped_musiccaps_file
from _audio_dialogues.core.splits import read_release
from _audio_dialogues.core.strong_labels import StrongLabelsFormatError, read_strong_labels, shipped_label_names
from _audio_dialogues.engine.settings import SettingsChangedError
from _audio_dialogues.generation.chat import BackendError
from _audio_dialogues.generation.clips import hash_split, paper_test_share, read_ids
from _audio_dialogues.generation.filters import (
    ClapScorer,
    filter_dialogue,
    find_low_confidence_phrase,
    low_confidence_phrases,
)
from _audio_dialogues.generation.pipeline import generate
from _audio_dialogues.generation.prompts import InvalidReply, parse_dialogue_reply

# The tests below were written for the grounded prompts, truncating filters and any turn count; they keep
# those settings (the paper's defaults are tested in test_generate_paper.py).
GROUNDED = {"prompt_style": "grounded", "remove": "rest", "min_test_turns": 1}
GROUNDED_FLAGS = ["--prompt-style", "grounded", "--remove", "rest", "--min-test-turns", "1"]
FAST = {"backoff_base": 0.01, "progress": False, "echo": lambda text: None, **GROUNDED}
TURN = {"user": "What is playing?", "assistant": "A song with a guitar."}


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ChatServer() as chat:
        yield chat


def music_ids(train: int, test: int, skip: int = 0) -> list[str]:
    """The first MusicCaps ids (after ``skip`` of each split) that the stable hash puts in each split."""
    share, wanted, seen = paper_test_share("music_dialogues"), {"train": train, "test": test}, {"train": 0, "test": 0}
    out = []
    for ytid in shipped_musiccaps():
        split = hash_split(ytid, share)
        seen[split] += 1
        if seen[split] > skip and wanted[split]:
            wanted[split] -= 1
            out.append(ytid)
    return out


def write_ids(path: Path, ids: list[str]) -> Path:
    path.write_text("\n".join(ids) + "\n", encoding="utf-8")
    return path


def ledger_lines(out: Path, config: str) -> list[dict]:
    return [json.loads(line) for line in (out / config / "ledger.jsonl").read_text().splitlines()]


# --- replies, events, filters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        json.dumps([TURN, TURN]),
        json.dumps(TURN) + "\n" + json.dumps(TURN),
        "Here you go:\n```json\n" + json.dumps([TURN, TURN], indent=2) + "\n```\nEnjoy!",
        "```\n" + json.dumps(TURN) + "\n" + json.dumps(TURN) + "\n```",
        json.dumps(TURN) + ",\n" + json.dumps(TURN),
        json.dumps({"dialogue": [TURN, TURN]}),
        "Here is the dialogue:\n" + json.dumps([TURN, TURN]),
        "<think>\nThe caption says {guitar}.\n</think>\n" + json.dumps(TURN) + "\n" + json.dumps(TURN),
    ],
)
def test_reply_forms_models_produce_are_read(reply):
    assert parse_dialogue_reply(reply, 4) == [TURN, TURN]


@pytest.mark.parametrize(
    "reply, problem",
    [
        ("Sure! The user asks what plays.", "not JSON"),
        (json.dumps([{"question": "q", "answer": "a"}]), "keys"),
        (json.dumps([{**TURN, "extra": "x"}]), "keys"),
        ("[]", "0 turns"),
        (json.dumps([TURN] * 5), "5 turns"),
        (json.dumps([{"user": "q", "assistant": " "}]), "non-empty"),
    ],
)
def test_invalid_replies_say_why(reply, problem):
    with pytest.raises(InvalidReply, match=problem):
        parse_dialogue_reply(reply, 4)


def test_comparison_replies_hold_one_turn():
    with pytest.raises(InvalidReply, match="2 turns"):
        parse_dialogue_reply(json.dumps([TURN, TURN]), 1)


def write_strong(path: Path, rows: list[tuple[str, float, float, str]]) -> Path:
    lines = ["segment_id\tstart_time_seconds\tend_time_seconds\tlabel"]
    lines += [f"{seg}\t{start}\t{end}\t{label}" for seg, start, end, label in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


DOG, SPEECH, MUSIC, RAIN = "/m/0bt9lr", "/m/09x0r", "/m/04rlf", "/m/06mb1"


def test_strong_labels_are_read_by_clip(tmp_path):
    path = write_strong(
        tmp_path / "strong.tsv",
        [
            ("a_b-cdefghi_30000", 5.0, 6.31, DOG),
            ("a_b-cdefghi_30000", 0.406, 2.12, DOG),
            ("a_b-cdefghi_30000", 0.0, 10.0, SPEECH),
            ("zzzzzzzzzzz_0", 1.0, 2.0, MUSIC),
        ],
    )
    clips = read_strong_labels(path)
    assert list(clips) == ["a_b-cdefghi", "zzzzzzzzzzz"]  # ids holding "_" are cut at the last one
    assert clips["a_b-cdefghi"].start_ms == 30000
    assert clips["a_b-cdefghi"].labels == (SPEECH, DOG)  # by first onset
    assert shipped_label_names()[DOG] == "Dog"


def test_a_bad_strong_label_line_is_named(tmp_path):
    path = write_strong(tmp_path / "strong.tsv", [("abcdefghijk_0", 0.0, 1.0, DOG), ("short_0", 0.0, 1.0, DOG)])
    with pytest.raises(StrongLabelsFormatError, match=r"strong.tsv, line 3, field 'segment_id'"):
        read_strong_labels(path)


def test_the_phrase_list_is_the_sources():
    data = json.loads(
        Path(__file__).resolve().parent.parent.joinpath("data/metadata/low_confidence_phrases.json").read_text()
    )
    counts = {name: len(group["phrases"]) for name, group in data["groups"].items()}
    assert counts == {"llark": 23, "ltu": 28, "audio_flamingo": 4}  # as the source has them, repeats included
    phrases = low_confidence_phrases()
    assert "based on" in phrases and len(set(phrases)) == len(phrases) == 55 - 2  # two repeats removed
    assert find_low_confidence_phrase("It's hard to say; I CANNOT tell the tempo.") == "i cannot"
    assert find_low_confidence_phrase("A dog barks twice, then a car passes.") is None


def test_a_filtered_turn_keeps_the_turns_before_it():
    dialogue = [TURN, {"user": "Tempo?", "assistant": "Sorry, that is unclear."}, TURN]
    kept, removed = filter_dialogue("abcdefghijk", dialogue, remove="rest")
    assert kept == [TURN]
    assert [(r.turn, r.filter, r.detail) for r in removed] == [
        (2, "low_confidence_phrase", "sorry"),
        (3, "after_removed_turn", "turn 2 was removed"),
    ]
    kept, removed = filter_dialogue("abcdefghijk", dialogue[1:], remove="rest")
    assert kept == [] and removed[-1].filter == "no_turn_left"


# --- the pipeline against the local server --------------------------------------------------------


def test_music_dialogues_end_to_end_and_resume(tmp_path, server, cache_dir):
    ids = music_ids(3, 2)
    out = tmp_path / "out"
    captions = {y: shipped_musiccaps()[y].caption for y in ids}
    code = main(
        [
            "generate",
            str(out),
            "--config",
            "music_dialogues",
            "--ids",
            str(write_ids(tmp_path / "ids", ids)),
            "--base-url",
            server.base_url,
            "--model",
            "test-model",
            "--backoff",
            "0.01",
            *GROUNDED_FLAGS,
        ]
    )
    assert code == 0
    assert server.count() == len(ids)  # one request per dialogue
    asked = [body["messages"][-1]["content"] for body in server.requests]
    assert sorted(asked) == sorted(captions.values())  # the prompt holds the clip's caption
    assert all(body["model"] == "test-model" and body["messages"][0]["role"] == "system" for body in server.requests)

    from _audio_dialogues.loading.load import load_dataset

    ds = load_dataset("music_dialogues", data_dir=str(out), verification_mode="no_checks", cache_dir=cache_dir)
    assert {split: len(ds[split]) for split in ds} == {"train": 3, "test": 2}
    for row in ds["train"]:
        youtube_id = row["audio_id"][1:12]
        assert hash_split(youtube_id, paper_test_share("music_dialogues")) == "train"
        assert row["dialogue"][0]["assistant"] == f"I hear this: {captions[youtube_id].splitlines()[0][:40]}".strip()
    entry = ledger_lines(out, "music_dialogues")[0]
    assert entry["model"] == "test-model" and entry["usage"]["prompt_tokens"] > 0 and entry["reply"]

    # a rerun asks nothing (and needs neither server nor key); two more ids cost exactly two requests
    assert generate(out, "music_dialogues", ids=ids, **FAST).requests == 0
    more = ids + music_ids(1, 1, skip=3)
    with pytest.raises(SettingsChangedError, match=r"music_dialogues was written with '--model': 'test-model', th"):
        generate(out, "music_dialogues", ids=more, base_url=server.base_url, **FAST)  # another model: refused
    assert server.count() == len(ids)  # before anything was sent
    summary = generate(out, "music_dialogues", ids=more, base_url=server.base_url, model="test-model", **FAST)
    assert (summary.requests, summary.generated, server.count()) == (2, 2, len(ids) + 2)
    assert {
        split: len(records)
        for split, records in read_release("music_dialogues", data_dir=str(out), verification_mode="no_checks").items()
    } == {"train": 4, "test": 3}


def test_retries_on_bad_replies_and_429_then_failure_is_recorded(tmp_path, server):
    ids = music_ids(4, 0)
    caption = {y: shipped_musiccaps()[y].caption for y in ids}
    fenced = "```json\n" + json.dumps([TURN]) + "\n```"
    server.add(caption[ids[0]], "I think the user would ask about guitars.", fenced)
    server.add(caption[ids[1]], HttpReply(429, {"Retry-After": "1"}), json.dumps([TURN]))
    server.add(caption[ids[2]], json.dumps([{"question": "q", "answer": "a"}]))  # always wrong keys
    server.add(caption[ids[3]], HttpReply(500), HttpReply(408), json.dumps(TURN))
    out = tmp_path / "out"
    started = time.monotonic()
    summary = generate(out, "music_dialogues", ids=ids, base_url=server.base_url, retries=2, **FAST)
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    assert [server.count(caption[y]) for y in ids] == [2, 2, 3, 3]
    assert summary.generated == 3 and summary.failed == {"invalid reply": 1}
    assert summary.retry_reasons == {"invalid reply": 4, "HTTP 429": 1, "HTTP 500": 1, "HTTP 408": 1}
    assert summary.retried == 7 and summary.requests == 10
    assert "cost per 1,000 dialogues: 3333 requests" in summary.summary()  # 10 requests for 3 dialogues
    failed = (out / "music_dialogues" / "failed.tsv").read_text().splitlines()
    assert failed[1].startswith(f"{ids[2]}\tinvalid reply\t3\tinvalid reply: turn 1 has the keys")

    assert generate(out, "music_dialogues", ids=ids, base_url=server.base_url, **FAST).requests == 0
    server.add(caption[ids[2]], json.dumps([TURN]))  # the rule list is searched in order: put it first
    server.rules.insert(0, server.rules.pop())
    again = generate(out, "music_dialogues", ids=ids, base_url=server.base_url, retry_failed=True, **FAST)
    assert (again.requests, again.generated, again.ledger_ok, again.ledger_failed) == (1, 1, 4, {})


def test_low_confidence_answers_are_filtered_and_listed(tmp_path, server):
    ids = music_ids(3, 0)
    caption = {y: shipped_musiccaps()[y].caption for y in ids}
    server.add(caption[ids[0]], json.dumps([TURN, {"user": "Key?", "assistant": "The key is not specified."}, TURN]))
    server.add(caption[ids[1]], json.dumps([{"user": "Who?", "assistant": "As an AI assistant I cannot know."}]))
    out = tmp_path / "out"
    summary = generate(out, "music_dialogues", ids=ids, base_url=server.base_url, **FAST)
    rows = [line.split("\t") for line in (out / "music_dialogues" / "filtered.tsv").read_text().splitlines()]
    assert rows == [
        ["youtube_id", "turn", "filter", "detail"],
        *sorted(
            [
                [ids[0], "2", "low_confidence_phrase", "not specified"],
                [ids[0], "3", "after_removed_turn", "turn 2 was removed"],
                [ids[1], "1", "low_confidence_phrase", "as an ai assistant"],
                [ids[1], "all", "no_turn_left", "1 turn(s) removed"],
            ]
        ),
    ]
    records = [json.loads(line) for line in (out / "music_dialogues" / "train.jsonl").read_text().splitlines()]
    assert {r["audio_id"][1:12]: len(r["dialogue"]) for r in records} == {ids[0]: 1, ids[2]: 2}
    assert all(set(r) == {"audio_id", "dialogue"} for r in records)  # the release's keys only
    assert (out / "music_dialogues" / "test.jsonl").read_text() == ""  # every split is written, even empty
    assert summary.filtered["low_confidence_phrase"] == 2
    assert "similarity filter: off" in summary.summary()


def audioset_sources(tmp_path: Path) -> list[str]:
    train = write_strong(
        tmp_path / "train_strong.tsv",
        [
            ("aaaaaaaaaaa_30000", 0.406, 9.237, DOG),
            ("aaaaaaaaaaa_30000", 9.575, 10.0, DOG),
            ("aaaaaaaaaaa_30000", 0.0, 10.0, SPEECH),
            ("bbbbbbbbbbb_0", 1.0, 3.0, DOG),
            ("ccccccccccc_10000", 0.0, 10.0, MUSIC),
            ("ddddddddddd_0", 0.0, 10.0, RAIN),
            ("eeeeeeeeeee_0", 2.0, 4.0, SPEECH),
            ("eeeeeeeeeee_0", 0.0, 9.0, MUSIC),
        ],
    )
    test = write_strong(
        tmp_path / "eval_strong.tsv",
        [
            ("fffffffffff_0", 0.0, 5.0, RAIN),
            ("ggggggggggg_0", 0.5, 1.5, DOG),
            ("hhhhhhhhhhh_0", 0.0, 10.0, SPEECH),
        ],
    )
    return [f"train={train}", f"test={test}"]


def test_audioset_events_with_descriptions_asked_once_per_label(tmp_path, server, cache_dir):
    sources, out = audioset_sources(tmp_path), tmp_path / "out"
    server.add('"Dog"', "A dog barking in short bursts.")
    summary = generate(out, "audioset_dialogues", sources=sources, base_url=server.base_url, **FAST)
    assert server.count("Describe the acoustic character") == 4  # Dog, Speech, Music, Rain
    assert server.count("Sound of ") == 8 and summary.generated == 8
    asked = [body["messages"][-1]["content"] for body in server.requests]
    prompt = next(text for text in asked if "Sound of Dog" in text and "Speech" in text)
    assert prompt == (
        "Sound of Speech (the sound of speech as heard in a test): [0.000s-10.000s]\n"
        "Sound of Dog (A dog barking in short bursts): [0.406s-9.237s], [9.575s-10.000s]"
    )

    from _audio_dialogues.loading.load import load_dataset

    ds = load_dataset("audioset_dialogues", data_dir=str(out), verification_mode="no_checks", cache_dir=cache_dir)
    assert {split: len(ds[split]) for split in ds} == {"train": 5, "test": 3}
    assert sorted(ds["test"]["audio_id"]) == ["Yfffffffffff.wav", "Yggggggggggg.wav", "Yhhhhhhhhhhh.wav"]
    events = [e for row in ds["train"]["events"] for e in row]  # each record carries its clip's events
    assert all(ds["train"]["events"]) and set(events[0]) == {"mid", "label", "start", "end", "description"}
    assert {
        "mid": DOG,
        "label": "Dog",
        "start": 0.406,
        "end": 9.237,
        "description": "A dog barking in short bursts",
    } in events

    # the descriptions are kept in OUT_DIR; one given in a file is never asked for
    (out / "audioset_dialogues" / "ledger.jsonl").unlink()
    given = tmp_path / "descriptions.json"
    given.write_text(json.dumps({"Dog": "woof woof", "/m/09x0r": "people talking"}))
    server.requests.clear()
    generate(
        tmp_path / "out2",
        "audioset_dialogues",
        sources=sources,
        label_descriptions=given,
        base_url=server.base_url,
        **FAST,
    )
    assert server.count("Describe the acoustic character") == 2
    assert any("Sound of Dog (woof woof)" in b["messages"][-1]["content"] for b in server.requests)
    server.requests.clear()
    generate(out, "audioset_dialogues", sources=sources, base_url=server.base_url, **FAST)
    assert server.count("Describe the acoustic character") == 0 and server.count() == 8


def test_a_label_without_a_name_is_shown_by_its_mid_and_counted(tmp_path, server):
    source = write_strong(tmp_path / "strong.tsv", [("aaaaaaaaaaa_0", 0.0, 1.0, "/m/not_a_label")])
    summary = generate(
        tmp_path / "out", "audioset_dialogues", sources=[f"train={source}"], base_url=server.base_url, **FAST
    )
    assert (
        "1 labels are not in mid_to_display_name.tsv and are shown by their MID (first: /m/not_a_label)"
        in summary.summary()
    )
    assert server.requests[-1]["messages"][-1]["content"].startswith("Sound of /m/not_a_label (")


def test_comparisons_show_an_anchor_with_its_neighbours(tmp_path, server, cache_dir):
    sources, out = audioset_sources(tmp_path), tmp_path / "out"
    summary = generate(out, "audioset_comparison", sources=sources, base_url=server.base_url, seed=3, **FAST)
    comparisons = [b for b in server.requests if b["messages"][-1]["content"].startswith("Audio 1:")]
    assert len(comparisons) == 8 and summary.generated == 8
    entries = {e["key"]: e for e in ledger_lines(out, "audioset_comparison")}
    clips = {**read_strong_labels(tmp_path / "train_strong.tsv"), **read_strong_labels(tmp_path / "eval_strong.tsv")}
    for key, entry in entries.items():
        ids = [a[1:12] for a in entry["audio_ids"]]
        assert ids[0] == key and 2 <= len(ids) <= 4 and len(set(ids)) == len(ids)
        split_ids = [y for y in clips if (y < "f") == (key < "f")]
        assert set(ids) <= set(split_ids)  # neighbours come from the anchor's split

        def overlap(y):
            a, b = set(clips[key].labels), set(clips[y].labels)
            return len(a & b) / np.sqrt(len(a) * len(b))

        chosen = [overlap(y) for y in ids[1:]]
        others = [overlap(y) for y in split_ids if y not in ids]
        if others:
            assert min(chosen) >= max(others) if entry["most_similar"] else max(chosen) <= min(others)
    assert "comparison neighbours by the cosine similarity of their label sets" in summary.summary()

    from _audio_dialogues.loading.load import load_dataset

    ds = load_dataset(
        "audioset_comparison", data_dir=str(out), verification_mode="no_checks", cache_dir=cache_dir, decode=False
    )
    assert {split: len(ds[split]) for split in ds} == {"train": 5, "test": 3}


def test_a_refused_request_fails_at_once_with_the_servers_words(tmp_path, server):
    ids = music_ids(2, 0)
    server.add(
        shipped_musiccaps()[ids[0]].caption,
        HttpReply(400, body='{"error": {"message": "This model\'s maximum context length is 8 tokens"}}'),
    )
    summary = generate(tmp_path / "out", "music_dialogues", ids=ids, base_url=server.base_url, **FAST)
    assert summary.failed == {"HTTP 400": 1} and summary.generated == 1 and server.count() == 2  # no retry
    failed = (tmp_path / "out" / "music_dialogues" / "failed.tsv").read_text().splitlines()
    assert failed[1] == f"{ids[0]}\tHTTP 400\t1\tHTTP 400: This model's maximum context length is 8 tokens"


def test_max_requests_stops_cleanly_and_the_rerun_goes_on(tmp_path, server):
    ids, out = music_ids(5, 0), tmp_path / "out"
    summary = generate(out, "music_dialogues", ids=ids, base_url=server.base_url, max_requests=2, concurrency=2, **FAST)
    assert (server.count(), summary.generated, summary.not_finished, summary.budget_reached) == (2, 2, 3, True)
    assert "not finished: 3 dialogues (--max-requests reached)" in summary.summary()
    assert len((out / "music_dialogues" / "train.jsonl").read_text().splitlines()) == 2
    summary = generate(out, "music_dialogues", ids=ids, base_url=server.base_url, **FAST)
    assert (server.count(), summary.generated, summary.ledger_ok) == (5, 3, 5)


def test_dry_run_sends_nothing_and_prints_the_first_prompt(tmp_path, server, capsys):
    sources = audioset_sources(tmp_path)
    assert (
        main(
            [
                "generate",
                str(tmp_path / "out"),
                "--config",
                "audioset_dialogues",
                "--dry-run",
                *[arg for s in sources for arg in ("--source", s)],
                "--base-url",
                server.base_url,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "--- system ---" in printed and "Sound of Speech (description to be generated): [0.000s-10.000s]" in printed
    assert "would send 12 requests (8 dialogues, 4 label descriptions" in printed
    assert server.count() == 0 and not (tmp_path / "out" / "audioset_dialogues" / "train.jsonl").exists()


def test_a_prompt_file_replaces_the_built_in_prompt(tmp_path, server):
    ids = music_ids(1, 0)
    template = tmp_path / "prompt.txt"
    template.write_text("Write a dialogue about this music: $clip")
    summary = generate(tmp_path / "out", "music_dialogues", ids=ids, prompt=template, base_url=server.base_url, **FAST)
    (body,) = server.requests
    assert body["messages"] == [
        {"role": "user", "content": "Write a dialogue about this music: " + shipped_musiccaps()[ids[0]].caption}
    ]
    assert summary.generated == 1


def test_splits_from_split_files_and_an_empty_split_is_written(tmp_path, server):
    ids = music_ids(2, 2)
    rows = list(csv.DictReader(shipped_musiccaps_file().open(encoding="utf-8", newline="")))
    subset_csv = tmp_path / "mine.csv"
    with subset_csv.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=MUSICCAPS_COLUMNS)
        writer.writeheader()
        writer.writerows(r for r in rows if r["ytid"] in ids)
    summary = generate(
        tmp_path / "out", "music_dialogues", sources=[f"train={subset_csv}"], base_url=server.base_url, **FAST
    )
    assert summary.written == {"train": 4, "test": 0}
    assert (tmp_path / "out" / "music_dialogues" / "test.jsonl").read_text() == ""


def test_ids_are_read_in_every_form_and_bad_ones_named(tmp_path):
    path = write_ids(tmp_path / "ids.txt", ["# mine", "Yabcdefghijk.wav", "abcdefghijk", "", "bcdefghijkl_30000"])
    assert read_ids(path) == ["abcdefghijk", "bcdefghijkl"]
    write_ids(path, ["abcdefghijk", "not an id"])
    with pytest.raises(ValueError, match=r"ids.txt, line 2: 'not an id' is not a YouTube id"):
        read_ids(path)


def test_no_key_and_a_refused_key_are_errors_that_say_what_to_do(tmp_path, server, monkeypatch, capsys):
    with pytest.raises(ValueError, match="set the environment variable MY_KEY"):
        generate(tmp_path / "out", "music_dialogues", ids=music_ids(1, 0), api_key_env="MY_KEY", **FAST)
    server.add("", HttpReply(401, body='{"error": {"message": "Incorrect API key provided"}}'))
    monkeypatch.setenv("MY_KEY", "sk-wrong")
    with pytest.raises(BackendError, match="HTTP 401 .*Incorrect API key.*--api-key-env"):
        generate(
            tmp_path / "out",
            "music_dialogues",
            ids=music_ids(3, 0),
            api_key_env="MY_KEY",
            base_url=server.base_url,
            concurrency=1,
            **FAST,
        )
    assert server.count() == 1  # nothing more was sent
    with pytest.raises(ValueError, match="--source train=audioset_train_strong.tsv"):
        generate(tmp_path / "out", "audioset_dialogues", **FAST)
    assert main(["generate", str(tmp_path / "out"), "--config", "music_dialogues", "--ids", "nowhere.txt"]) == 2
    assert "error: --ids nowhere.txt: no such file" in capsys.readouterr().err


class FakeClap:
    """LAION-CLAP's two embedding methods: the audio is always [1, 0]; a text mentioning a guitar is too."""

    def __init__(self):
        self.audio_calls: list[list[str]] = []

    def get_audio_embedding_from_filelist(self, x, use_tensor=False):
        self.audio_calls.append(list(x))
        return np.array([[2.0, 0.0] for _ in x])

    def get_text_embedding(self, texts, use_tensor=False):
        return np.array([[1.0, 0.2] if "guitar" in t else [0.1, 1.0] for t in texts])


def test_timeouts_are_retried_then_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with ChatServer(delay=0.6) as slow:
        summary = generate(
            tmp_path / "out",
            "music_dialogues",
            ids=music_ids(1, 0),
            base_url=slow.base_url,
            timeout=0.2,
            retries=1,
            **FAST,
        )
        assert summary.failed == {"timeout": 1} and summary.requests == 2
        assert (tmp_path / "out" / "music_dialogues" / "failed.tsv").read_text().splitlines()[1].endswith("timeout")


def test_the_clap_scorer_needs_a_checkpoint_file_and_never_downloads(tmp_path):
    with pytest.raises(ValueError, match="pass --clap-checkpoint FILE"):
        ClapScorer()
    with pytest.raises(FileNotFoundError, match="missing.pt does not exist"):
        ClapScorer(tmp_path / "missing.pt")
    try:
        import laion_clap  # noqa: F401
    except ImportError:
        (tmp_path / "model.pt").write_bytes(b"not a checkpoint")
        with pytest.raises(ImportError, match=r"pip install 'audio-dialogues\[clap\]'"):
            ClapScorer(tmp_path / "model.pt")


def test_the_similarity_filter_with_a_clap_model(tmp_path, server):
    ids = music_ids(2, 0)
    caption = {y: shipped_musiccaps()[y].caption for y in ids}
    audio = tmp_path / "audio"
    write_clip(audio / f"{ids[0]}.wav")  # the second clip has no audio: its pairs are kept, unscored
    server.add(caption[ids[0]], json.dumps([TURN, {"user": "Drums?", "assistant": "Yes, loud drums."}]))
    server.add(caption[ids[1]], json.dumps([{"user": "Drums?", "assistant": "Yes, loud drums."}]))
    model = FakeClap()
    out = tmp_path / "out"
    summary = generate(
        out,
        "music_dialogues",
        ids=ids,
        base_url=server.base_url,
        scorer=ClapScorer(model=model),
        audio_dir=str(audio),
        **FAST,
    )
    assert model.audio_calls == [[str((audio / f"{ids[0]}.wav").resolve())]]  # one embedding per clip
    rows = (out / "music_dialogues" / "filtered.tsv").read_text().splitlines()
    cosine = 0.1 / np.hypot(0.1, 1.0)
    assert rows[1:] == [f"{ids[0]}\t2\tsimilarity\t{cosine:.4f} < 0.3"]
    assert summary.filtered == {"similarity": 1}
    assert "similarity filter: 1 pairs not scored and kept" in summary.summary()
    records = [json.loads(line) for line in (out / "music_dialogues" / "train.jsonl").read_text().splitlines()]
    assert [len(r["dialogue"]) for r in sorted(records, key=lambda r: r["audio_id"] != f"Y{ids[0]}.wav")] == [1, 1]
    # scores are kept: a rerun computes none
    model2 = FakeClap()
    generate(
        out,
        "music_dialogues",
        ids=ids,
        base_url=server.base_url,
        scorer=ClapScorer(model=model2),
        audio_dir=str(audio),
        **FAST,
    )
    assert model2.audio_calls == []


class FakeClapEmbeddings(FakeClap):
    """Audio embeddings that differ per clip: the clip's first letter picks a direction."""

    DIRECTIONS = {
        "a": [1.0, 0.0],
        "b": [0.9, 0.2],
        "c": [0.0, 1.0],
        "d": [0.3, 1.0],
        "e": [0.7, 0.7],
        "f": [1.0, 0.1],
        "g": [0.0, 1.0],
        "h": [1.0, 0.0],
    }

    def get_audio_embedding_from_filelist(self, x, use_tensor=False):
        self.audio_calls.append(list(x))
        return np.array([self.DIRECTIONS[Path(p).name[1]] for p in x])


def test_comparison_neighbours_by_audio_embeddings_when_the_scorer_has_them(tmp_path, server):
    sources, out, audio = audioset_sources(tmp_path), tmp_path / "out", tmp_path / "audio"
    for letter in "abcdefgh":
        write_clip(audio / f"Y{letter * 11}.wav", seconds=0.1)
    summary = generate(
        out,
        "audioset_comparison",
        sources=sources,
        base_url=server.base_url,
        scorer=ClapScorer(model=FakeClapEmbeddings()),
        audio_dir=str(audio),
        **FAST,
    )
    assert "train: comparison neighbours by laion-clap:FakeClapEmbeddings audio embeddings" in summary.summary()
    # issue 22: comparisons are filtered like dialogues (this asserted "not applied to comparisons" before)
    assert "similarity filter: laion-clap:FakeClapEmbeddings, on the answer, best clip" in summary.summary()
    unit = {k: np.array(v) / np.linalg.norm(v) for k, v in FakeClapEmbeddings.DIRECTIONS.items()}
    for entry in ledger_lines(out, "audioset_comparison"):
        letters = [a[1] for a in entry["audio_ids"]]
        pool = "abcde" if letters[0] in "abcde" else "fgh"
        cosine = {y: float(unit[letters[0]] @ unit[y]) for y in pool if y != letters[0]}
        chosen, others = [cosine[y] for y in letters[1:]], [c for y, c in cosine.items() if y not in letters]
        if others:
            assert min(chosen) >= max(others) if entry["most_similar"] else max(chosen) <= min(others)


RUN = """
import sys
from _audio_dialogues.generation.pipeline import generate
summary = generate(sys.argv[1], "music_dialogues", ids=sys.argv[2], base_url=sys.argv[3], concurrency=2, progress=False,
                   prompt_style="grounded", remove="rest", min_test_turns=1)  # the settings FAST resumes with
print(summary.summary())
sys.exit(130 if summary.interrupted else 0)
"""


def start_run(out: Path, ids_file: Path, server: ChatServer, min_finished: int) -> subprocess.Popen:
    """A generate run in another process, returned once its ledger holds ``min_finished`` entries."""
    process = subprocess.Popen(
        [sys.executable, "-c", RUN, str(out), str(ids_file), server.base_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
        preexec_fn=sigint_as_in_a_terminal,
    )
    ledger = out / "music_dialogues" / "ledger.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not ledger.exists() or len(ledger.read_text().splitlines()) < min_finished):
        time.sleep(0.01)
    return process


def test_kill_9_loses_at_most_the_requests_in_flight(tmp_path):
    ids, out = music_ids(8, 0), tmp_path / "out"
    ids_file = write_ids(tmp_path / "ids", ids)
    with ChatServer(delay=0.15) as server:
        process = start_run(out, ids_file, server, 3)
        process.send_signal(signal.SIGKILL)
        process.wait()
        finished = len(ledger_lines(out, "music_dialogues"))
        assert 3 <= finished < 8
        assert server.count() <= finished + 2  # at most the two in flight were lost
        summary = generate(out, "music_dialogues", ids=ids_file, base_url=server.base_url, **FAST)
        assert summary.requests == 8 - finished and summary.ledger_ok == 8
        assert server.count() <= 8 + 2


def test_ctrl_c_records_the_requests_in_flight_and_writes_the_output(tmp_path):
    ids, out = music_ids(8, 0), tmp_path / "out"
    ids_file = write_ids(tmp_path / "ids", ids)
    with ChatServer(delay=0.3) as server:
        process = start_run(out, ids_file, server, 1)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
        assert process.returncode == 130, stderr
        finished = len(ledger_lines(out, "music_dialogues"))
        assert finished < 8 and server.count() == finished  # every answer that came back was recorded
        assert f"written: train.jsonl {finished} records" in stdout
        assert f"not finished: {8 - finished} dialogues (interrupted)" in stdout
        summary = generate(out, "music_dialogues", ids=ids_file, base_url=server.base_url, **FAST)
        assert summary.requests == 8 - finished and server.count() == 8


def test_the_console_script_runs_against_the_server(tmp_path, server):
    ids_file = write_ids(tmp_path / "ids", music_ids(2, 1))
    script = Path(sys.executable).with_name("audio-dialogues")
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "MY_KEY": "sk-test"}
    result = subprocess.run(
        [
            str(script),
            "generate",
            str(tmp_path / "out"),
            "--config",
            "music_dialogues",
            "--ids",
            str(ids_file),
            "--base-url",
            server.base_url,
            "--api-key-env",
            "MY_KEY",
            *GROUNDED_FLAGS,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "this run: 3 requests sent, 3 dialogues generated, 0 retries, failed: none" in result.stdout
    assert "turns: 2: 3; mean 2.00 (paper: 1.67)" in result.stdout
    assert server.count() == 3


def test_two_runs_on_one_folder_are_refused_instead_of_paying_twice(tmp_path, server):
    from _audio_dialogues.engine.lock import FolderLock

    ids_file = write_ids(tmp_path / "ids", music_ids(1, 0))
    with FolderLock(tmp_path / "out", "generate run", holder="music_dialogues"):  # the lock covers all OUT
        with pytest.raises(RuntimeError, match="Another generate run is writing into .*music_dialogues"):
            generate(tmp_path / "out", "music_dialogues", ids=ids_file, base_url=server.base_url, **FAST)
    assert server.count() == 0
    assert generate(tmp_path / "out", "music_dialogues", ids=ids_file, base_url=server.base_url, **FAST).ledger_ok == 1


AUDIOSET_RUN = """
import sys
from _audio_dialogues.generation.pipeline import generate
summary = generate(sys.argv[1], "audioset_dialogues", sources=sys.argv[3:], base_url=sys.argv[2], concurrency=1,
                   progress=False, prompt_style="grounded", remove="rest", min_test_turns=1)  # as FAST
print(summary.summary())
"""


def test_two_audioset_configs_into_one_out_never_pay_twice_for_the_shared_label_descriptions(tmp_path):
    """The lock covers OUT_DIR: label_descriptions.jsonl there is shared by the AudioSet configs."""
    from _audio_dialogues.engine.lock import FolderBusyError

    sources, out = audioset_sources(tmp_path), tmp_path / "out"
    with ChatServer(delay=0.3) as server:
        first = subprocess.Popen(
            [sys.executable, "-c", AUDIOSET_RUN, str(out), server.base_url, *sources],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
        )
        descriptions = out / "label_descriptions.jsonl"
        deadline = time.monotonic() + 30
        while not descriptions.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(FolderBusyError, match=r"Another generate run is writing into .*\(pid \d+, audioset_dia"):
            generate(out, "audioset_comparison", sources=sources, base_url=server.base_url, **FAST)
        stdout, stderr = first.communicate(timeout=60)
        assert first.returncode == 0, stderr
        assert server.count("Describe the acoustic character") == 4  # Dog, Speech, Music, Rain: once each
        summary = generate(out, "audioset_comparison", sources=sources, base_url=server.base_url, **FAST)
        assert summary.descriptions_requested == 0 and summary.generated > 0
        assert server.count("Describe the acoustic character") == 4  # the second config paid nothing again
