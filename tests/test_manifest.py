"""Generated releases are first-class: generate's manifest, the loader's check against it, and the card."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from chat_server import ChatServer, four_turn_reply
from conftest import dialogue, write_release
from datasets.exceptions import NonMatchingSplitsSizesError
from test_generate import music_ids, write_ids

from _audio_dialogues.cli.main import main
from _audio_dialogues.core.manifest import MANIFEST_NAME, write_manifest
from _audio_dialogues.core.musiccaps import shipped_musiccaps_file
from _audio_dialogues.generation.prompts import built_in_prompt
from audio_dialogues import export, generate, load_dataset

IDS = ["abcdefghijk", "bcdefghijkl", "cdefghijklm"]


def generated_release(root: Path, train: int = 3, test: int = 1, model: str = "some-model") -> Path:
    """A release as generate leaves it: the split files and a manifest entry with their counts."""
    files = {}
    for split, n in (("train", train), ("test", test)):
        records = [{"audio_id": f"Y{IDS[i % 3]}.wav", "dialogue": dialogue(1)} for i in range(n)]
        files[split] = write_release(root, "music_dialogues", split, records, fmt="jsonl")
    write_manifest(
        root,
        "music_dialogues",
        files=files,
        counts={"train": train, "test": test},
        model=model,
        base_url=None,
        prompt="built-in",
        prompt_text="the prompt",
        filters={"similarity": None, "removed": {"low_confidence_phrase": 2}},
        sources=[shipped_musiccaps_file()],
    )
    return root


@pytest.fixture
def chat(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ChatServer(default=four_turn_reply) as server:
        yield server


def test_generate_writes_the_manifest_and_the_loader_takes_its_output_with_no_flag(chat, tmp_path, cache_dir):
    out = tmp_path / "release"
    summary = generate(
        out,
        "music_dialogues",
        ids=write_ids(tmp_path / "ids.txt", music_ids(3, 2)),
        base_url=chat.base_url,
        model="my-model",
        progress=False,
        echo=lambda _: None,
    )
    entry = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))["configs"]["music_dialogues"]
    assert entry["splits"] == summary.written == {"train": 3, "test": 2}
    assert entry["model"] == "my-model" and entry["base_url"] == chat.base_url
    assert entry["prompt"] == "built-in (paper)"
    paper_prompt = built_in_prompt("music_dialogues", "paper")
    assert entry["prompt_sha256"] == hashlib.sha256(paper_prompt.encode()).hexdigest()
    assert entry["sources"] == [
        {"path": "musiccaps-public.csv", "sha256": hashlib.sha256(shipped_musiccaps_file().read_bytes()).hexdigest()}
    ]
    assert (
        entry["files"]["train"]["sha256"]
        == hashlib.sha256((out / "music_dialogues/train.jsonl").read_bytes()).hexdigest()
    )
    assert entry["filters"]["similarity"] is None and "low_confidence_phrases" in entry["filters"]
    assert entry["version"] and entry["date"].endswith("Z")
    ds = load_dataset("audio_dialogues", "music_dialogues", data_dir=out, cache_dir=cache_dir)  # no flag
    assert {split: len(d) for split, d in ds.items()} == {"train": 3, "test": 2}


def test_a_manifest_entry_is_kept_when_another_config_is_written(tmp_path):
    root = generated_release(tmp_path / "release")
    write_manifest(
        root,
        "audioset_dialogues",
        files={},
        counts={"train": 0, "test": 0},
        model="other",
        base_url=None,
        prompt="built-in",
        prompt_text="p",
        filters={},
        sources=[],
    )
    configs = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))["configs"]
    assert configs["music_dialogues"]["model"] == "some-model" and configs["audioset_dialogues"]["model"] == "other"


@pytest.mark.parametrize("lines, word", [(4, "1 more"), (1, "2 fewer")])
def test_a_count_off_the_manifest_says_more_or_fewer_and_the_python_fix(tmp_path, cache_dir, lines, word):
    root = generated_release(tmp_path / "release")
    path = root / "music_dialogues" / "train.jsonl"
    records = [{"audio_id": f"Y{IDS[0]}.wav", "dialogue": dialogue(1)}] * lines
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with pytest.raises(NonMatchingSplitsSizesError) as info:
        load_dataset("music_dialogues", "train", data_dir=root, cache_dir=cache_dir)
    message = str(info.value)
    assert f"expected 3 records, found {lines} in {path}: {word} than the count in {root / MANIFEST_NAME}" in message
    assert 'pass verification_mode="no_checks"' in message and "--verification-mode" not in message
    assert "truncated" not in message
    assert (
        len(load_dataset("music_dialogues", "train", data_dir=root, cache_dir=cache_dir, verification_mode="no_checks"))
        == lines
    )


def test_the_command_line_gives_the_flag(tmp_path, cache_dir, capsys):
    root = generated_release(tmp_path / "release")
    (root / "music_dialogues" / "test.jsonl").write_text("")  # 0 records where the manifest says 1
    code = main(
        [
            "export",
            str(tmp_path / "out"),
            "--config",
            "music_dialogues",
            "--data-dir",
            str(root),
            "--cache-dir",
            cache_dir,
        ]
    )
    error = capsys.readouterr().err.splitlines()[-1]  # one line, exit 2 (the command line's error handler)
    assert code == 2 and error.startswith("audio-dialogues export: error: ")
    assert "1 fewer than the count in" in error and "pass --verification-mode no_checks" in error


def test_without_a_manifest_the_published_sizes_are_checked(tmp_path, cache_dir):
    root = generated_release(tmp_path / "release")
    (root / MANIFEST_NAME).unlink()
    with pytest.raises(
        NonMatchingSplitsSizesError, match="expected 3358 records, found 3 .*: 3355 fewer than the published size"
    ):
        load_dataset("music_dialogues", "train", data_dir=root, cache_dir=cache_dir)


def test_data_files_of_a_generated_release_use_its_manifest(tmp_path, cache_dir):
    root = generated_release(tmp_path / "release")
    files = {s: str(root / "music_dialogues" / f"{s}.jsonl") for s in ("train", "test")}
    ds = load_dataset("music_dialogues", data_files=files, cache_dir=cache_dir)
    assert {split: len(d) for split, d in ds.items()} == {"train": 3, "test": 1}


def test_a_broken_manifest_is_named_with_the_fix(tmp_path, cache_dir):
    root = generated_release(tmp_path / "release")
    (root / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(
        ValueError, match=f"{MANIFEST_NAME}: not a readable release manifest .*Rerun `audio-dialogues generate`"
    ):
        load_dataset("music_dialogues", data_dir=root, cache_dir=cache_dir)


def test_the_card_states_the_generated_release_provenance_and_licences(tmp_path, cache_dir):
    root = generated_release(tmp_path / "release", model="llama-3-70b")
    export(tmp_path / "out", ["music_dialogues"], data_dir=root, cache_dir=cache_dir)
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    entry = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))["configs"]["music_dialogues"]
    assert "with the model **`llama-3-70b`**" in card and entry["prompt_sha256"][:12] in card
    assert entry["date"] in card and "records: train 3, test 1" in card and "low_confidence_phrase: 2" in card
    assert "the generated text: under the terms of the provider of the model `llama-3-70b`" in card
    assert "CC BY 4.0" in card and "CC BY-SA 4.0" in card and "not included" in card
    assert "generated with GPT-4" not in card and "terms of the Audio Dialogues release" not in card
    assert str(tmp_path) not in card  # no local path (the manifest's base_url included) leaks into the card


def test_the_card_of_the_sample_says_it_is_the_sample(tmp_path, cache_dir):
    export(tmp_path / "out", ["music_dialogues"], cache_dir=cache_dir)
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "**the bundled sample**" in card and "not the Audio Dialogues dataset" in card
    assert "the bundled sample's text: CC BY-SA 4.0" in card
