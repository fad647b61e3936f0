"""``generate`` the paper's way: its prompts' content, its four-turn shape, its filters' unit, its comparison count.

Against the stand-in chat server on 127.0.0.1 (tests/chat_server.py) with the real openai client.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from chat_server import ChatServer
from conftest import write_clip
from test_generate import FakeClap, audioset_sources, ledger_lines, music_ids

from _audio_dialogues.core.musiccaps import shipped_musiccaps
from _audio_dialogues.core.subsets import subset
from _audio_dialogues.generation.filters import ClapScorer, filter_dialogue
from _audio_dialogues.generation.ms_clap import MsClapScorer
from _audio_dialogues.generation.neighbours import comparison_limit, sample_anchors
from _audio_dialogues.generation.paper_prompts import MUSIC_TOPICS
from _audio_dialogues.generation.pipeline import generate

FAST = {"backoff_base": 0.01, "progress": False, "echo": lambda text: None}
GUESS = "That is unclear from the recording."  # holds "unclear", one of the low-confidence phrases


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ChatServer() as chat:
        yield chat


def four_turns(low: set[int], tag: str = "") -> str:
    """A four-turn reply, one JSON object a line, whose answers in turns ``low`` (1-based) are low-confidence."""
    return "\n".join(
        json.dumps({"user": f"Question {t}{tag}?", "assistant": GUESS if t in low else f"A sure answer {t}."})
        for t in range(1, 5)
    )


def records(out: Path, config: str, split: str) -> dict[str, list[dict]]:
    lines = (out / config / f"{split}.jsonl").read_text().splitlines()
    return {json.loads(line)["audio_id"][1:12]: json.loads(line)["dialogue"] for line in lines}


def filtered_rows(out: Path, config: str) -> list[list[str]]:
    return [line.split("\t") for line in (out / config / "filtered.tsv").read_text().splitlines()[1:]]


# --- the filters' unit ----------------------------------------------------------------------------


def test_each_remove_unit_gives_its_turn_shape_and_the_default_keeps_the_other_pairs(tmp_path, server):
    ids = music_ids(3, 3)
    hits = {ids[0]: {2}, ids[1]: {1, 3}, ids[2]: set(), ids[3]: {4}, ids[4]: {1}, ids[5]: set()}
    for youtube_id, low in hits.items():
        server.add(shipped_musiccaps()[youtube_id].caption, four_turns(low))
    out = tmp_path / "out"
    shapes, means = {}, {}
    for unit in ("qa-pair", "dialogue", "rest"):
        summary = generate(out, "music_dialogues", ids=ids, base_url=server.base_url, remove=unit, **FAST)
        kept = {**records(out, "music_dialogues", "train"), **records(out, "music_dialogues", "test")}
        shapes[unit] = {y: [t["user"] for t in kept[y]] if y in kept else None for y in ids}
        means[unit] = sum(n * c for n, c in summary.turns.items()) / sum(summary.turns.values())
        assert f"filters remove the unit --remove {unit}" in summary.summary()
        if unit == "qa-pair":
            rows = filtered_rows(out, "music_dialogues")
            assert rows == sorted(
                [y, str(t), "low_confidence_phrase", "unclear"] for y, low in hits.items() for t in low
            )
    assert server.count() == 6  # the ledger is filtered again for each unit: nothing is asked twice
    q = [f"Question {t}?" for t in range(1, 5)]
    assert (
        shapes["qa-pair"]
        == {
            ids[0]: [q[0], q[2], q[3]],  # the default keeps the other three pairs of a dialogue hit in one
            ids[1]: [q[1], q[3]],
            ids[2]: q,
            ids[3]: q[:3],
            ids[4]: q[1:],
            ids[5]: q,
        }
    )
    assert shapes["dialogue"] == {ids[0]: None, ids[1]: None, ids[2]: q, ids[3]: None, ids[4]: None, ids[5]: q}
    assert shapes["rest"] == {ids[0]: q[:1], ids[1]: None, ids[2]: q, ids[3]: q[:3], ids[4]: None, ids[5]: q}
    assert means == {"qa-pair": pytest.approx(19 / 6), "dialogue": 4.0, "rest": pytest.approx(12 / 4)}
    rows = filtered_rows(out, "music_dialogues")  # the last run: rest
    assert [ids[0], "3", "after_removed_turn", "turn 2 was removed"] in rows


def test_the_whole_dialogue_unit_lists_every_turn_it_removed():
    dialogue = [{"user": f"q{t}", "assistant": GUESS if t == 3 else "sure"} for t in range(1, 5)]
    kept, removed = filter_dialogue("abcdefghijk", dialogue, remove="dialogue")
    assert kept == []
    assert [(r.turn, r.filter) for r in removed] == [
        (1, "in_removed_dialogue"),
        (2, "in_removed_dialogue"),
        (3, "low_confidence_phrase"),
        (4, "in_removed_dialogue"),
        (None, "no_turn_left"),
    ]
    with pytest.raises(ValueError, match="--remove 'turn': expected one of qa-pair, dialogue, rest"):
        filter_dialogue("abcdefghijk", dialogue, remove="turn")


# --- the four-turn shape ----------------------------------------------------------------------------


def test_test_dialogues_of_fewer_than_three_turns_are_asked_again_then_failed(tmp_path, server):
    ids = music_ids(1, 0) + music_ids(0, 2)
    train, short, fixed = ids
    two = "\n".join(json.dumps({"user": f"Q{t}?", "assistant": f"A{t}."}) for t in (1, 2))
    server.add(shipped_musiccaps()[train].caption, two)  # train: any number of turns
    server.add(shipped_musiccaps()[short].caption, two)  # test: always two turns
    server.add(shipped_musiccaps()[fixed].caption, two, four_turns(set()))  # test: two, then four
    summary = generate(tmp_path / "out", "music_dialogues", ids=ids, base_url=server.base_url, retries=2, **FAST)
    assert [server.count(shipped_musiccaps()[y].caption) for y in ids] == [1, 3, 2]
    assert summary.failed == {"invalid reply": 1} and summary.generated == 2
    failed = (tmp_path / "out" / "music_dialogues" / "failed.tsv").read_text().splitlines()
    assert failed[1] == f"{short}\tinvalid reply\t3\tinvalid reply: 2 turns (expected 3 to 4)"
    assert {y: len(d) for y, d in records(tmp_path / "out", "music_dialogues", "test").items()} == {fixed: 4}
    assert {y: len(d) for y, d in records(tmp_path / "out", "music_dialogues", "train").items()} == {train: 2}


# --- what is asked ----------------------------------------------------------------------------------


def dry_run_prompt(tmp_path: Path, config: str, **options) -> tuple[str, str]:
    printed: list[str] = []
    sources = audioset_sources(tmp_path) if config != "music_dialogues" else []
    ids = music_ids(1, 0) if config == "music_dialogues" else None
    summary = generate(
        tmp_path / config, config, sources=sources, ids=ids, dry_run=True, **{**FAST, "echo": printed.append}, **options
    )
    system, user = summary.first_prompt
    assert printed and system["role"] == "system" and user["role"] == "user"
    return system["content"], user["content"]


def test_the_dry_run_prompt_of_each_config_carries_the_papers_content(tmp_path):
    for config in ("audioset_dialogues", "music_dialogues"):
        system, user = dry_run_prompt(tmp_path, config)
        assert "dialogue of four turns" in system and "diverse and complex" in system
        assert "pronouns" in system and "reasoning" in system
        assert "one JSON object with exactly the keys" in system
        examples = [json.loads(line) for line in system.splitlines() if line.startswith('{"user"')]
        assert len(examples) == 4 and "hard to tell" in examples[-1]["assistant"]  # an honest "cannot tell" turn
        assert "Invent no detail" not in system and "Ask only what" not in system
    system, user = dry_run_prompt(tmp_path, "music_dialogues")
    for topic in MUSIC_TOPICS:
        assert topic in system
    assert len(MUSIC_TOPICS) == 14 and "E minor" in system and "beats per minute" in system  # bold answers
    clip = shipped_musiccaps()[music_ids(1, 0)[0]]
    assert user == f"Tags: {', '.join(clip.aspects)}\nDescription: {clip.caption}"  # the aspect list is sent
    system, user = dry_run_prompt(tmp_path, "audioset_dialogues")
    assert user.startswith("Sound of ") and "s-" in user  # the event text keeps its times
    system, user = dry_run_prompt(tmp_path, "audioset_comparison", seed=3)
    assert "Audio <k>: Sound of <label>" in system and "diverse and complex" in system
    lines = user.splitlines()
    assert lines[0].startswith("Audio 1: Sound of ") and lines[1].startswith("Audio 2: Sound of ")
    assert "(description to be generated)" in lines[0] and "[" not in user and "s-" not in user  # no times
    # the grounded prompts stay reachable, and with them today's texts
    system, user = dry_run_prompt(tmp_path, "music_dialogues", prompt_style="grounded")
    assert "Invent no detail" in system and "1 to 4" in system and user == clip.caption


# --- comparisons ----------------------------------------------------------------------------------


def test_comparisons_a_seeded_sample_of_anchors_and_the_papers_count(tmp_path, server):
    sources = audioset_sources(tmp_path)  # train: 5 clips, test: 3
    summary = generate(
        tmp_path / "a", "audioset_comparison", sources=sources, base_url=server.base_url, comparisons=2, **FAST
    )
    assert summary.generated == 4 and server.count("Audio 1:") == 4
    assert "train: 2 of 5 clips anchor a comparison (a sample seeded by --seed)" in summary.summary()
    first = {e["key"] for e in ledger_lines(tmp_path / "a", "audioset_comparison")}
    again = generate(
        tmp_path / "b", "audioset_comparison", sources=sources, base_url=server.base_url, comparisons=2, **FAST
    )
    assert {e["key"] for e in ledger_lines(tmp_path / "b", "audioset_comparison")} == first and again.generated == 4
    ids = [f"{c * 11}" for c in "abcdefghijklmnopqrstuvwxyz"]
    assert sample_anchors(ids, 5, 0) != sample_anchors(ids, 5, 1) and len(sample_anchors(ids, 5, 0)) == 5
    assert sample_anchors(ids, 5, 0) == sample_anchors(ids, 5, 0) and sample_anchors(ids, 30, 0) == list(range(26))
    published = subset("audioset_comparison").published
    assert (comparison_limit("paper", published["train"]), comparison_limit("all", 9), comparison_limit(7, 9)) == (
        64_085,
        None,
        7,
    )
    with pytest.raises(ValueError, match="--comparisons 'many'"):
        comparison_limit("many", 9)


class FakeMsClap:
    """msclap's two embedding methods, returning torch-like tensors: the audio direction from the clip's letter."""

    DIRECTIONS = {"a": [1, 0], "b": [0.9, 0.2], "c": [0, 1], "d": [0.3, 1], "e": [0.7, 0.7], "f": [1, 0.1]}
    DIRECTIONS |= {"g": [0, 1], "h": [1, 0]}

    class Tensor:
        def __init__(self, rows):
            self.rows = rows

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return np.array(self.rows, dtype=np.float64)

    def __init__(self):
        self.audio_calls: list[list[str]] = []

    def get_audio_embeddings(self, audio_files, resample=True):
        self.audio_calls.append(list(audio_files))
        return self.Tensor([self.DIRECTIONS[Path(p).name[1]] for p in audio_files])

    def get_text_embeddings(self, texts):
        return self.Tensor([[1.0, 0.0] if "dog" in t.lower() else [0.0, 1.0] for t in texts])


def test_ms_clap_chooses_the_neighbours_and_the_clap_scorer_filters_comparisons(tmp_path, server):
    sources, out, audio = audioset_sources(tmp_path), tmp_path / "out", tmp_path / "audio"
    for letter in "abcdefgh":
        write_clip(audio / f"Y{letter * 11}.wav", seconds=0.1)
    server.add("Audio 1:", json.dumps({"user": "Which clip has a guitar?", "assistant": "Audio 2 has drums."}))
    fake = FakeMsClap()
    summary = generate(
        out,
        "audioset_comparison",
        sources=sources,
        base_url=server.base_url,
        neighbour_scorer=MsClapScorer(model=fake),
        scorer=ClapScorer(model=FakeClap()),
        audio_dir=str(audio),
        **FAST,
    )
    assert "train: comparison neighbours by ms-clap:FakeMsClap audio embeddings" in summary.summary()
    assert sorted(p for call in fake.audio_calls for p in call) == sorted(
        str((audio / f"Y{c * 11}.wav").resolve()) for c in "abcdefgh"
    )  # each clip embedded once
    unit = {k: np.array(v) / np.linalg.norm(v) for k, v in FakeMsClap.DIRECTIONS.items()}
    for entry in ledger_lines(out, "audioset_comparison"):
        letters = [a[1] for a in entry["audio_ids"]]
        pool = "abcde" if letters[0] in "abcde" else "fgh"
        cosine = {y: float(unit[letters[0]] @ unit[y]) for y in pool if y != letters[0]}
        chosen, others = [cosine[y] for y in letters[1:]], [c for y, c in cosine.items() if y not in letters]
        if others:
            assert min(chosen) >= max(others) if entry["most_similar"] else max(chosen) <= min(others)
    # comparisons are filtered too: the answer (no guitar) scores low against every clip; the question is not scored
    assert "similarity filter: laion-clap:FakeClap, on the answer, best clip" in summary.summary()
    assert summary.filtered == {"similarity": 8, "no_turn_left": 8}
    again = generate(
        out,
        "audioset_comparison",
        sources=sources,
        scorer=ClapScorer(model=FakeClap()),
        audio_dir=str(audio),
        similarity_on="pair",
        **FAST,
    )
    assert again.filtered == {} and sum(again.written.values()) == 8  # the question names a guitar


def test_the_ms_clap_scorer_needs_a_checkpoint_file_and_never_downloads(tmp_path):
    with pytest.raises(ValueError, match="pass --msclap-checkpoint FILE"):
        MsClapScorer()
    with pytest.raises(FileNotFoundError, match="missing.pth does not exist"):
        MsClapScorer(tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="--msclap-version '2024'"):
        MsClapScorer(tmp_path / "missing.pth", version="2024")
    try:
        import msclap  # noqa: F401
    except ImportError:
        (tmp_path / "w.pth").write_bytes(b"not a checkpoint")
        with pytest.raises(ImportError, match=r"pip install 'audio-dialogues\[msclap\]'"):
            MsClapScorer(tmp_path / "w.pth")
    scorer = MsClapScorer(model=FakeMsClap())
    path = str(tmp_path / "Yaaaaaaaaaaa.wav")
    assert scorer.similarity(path, "a dog") == pytest.approx(1.0) and scorer.similarity(path, "rain") == 0.0
    assert scorer.model.audio_calls == [[path]]  # the audio embedding is kept


def test_the_command_line_flags_reach_the_pipeline(tmp_path, server, capsys):
    from _audio_dialogues.cli.main import main

    ids = music_ids(1, 1)
    for youtube_id in ids:
        server.add(shipped_musiccaps()[youtube_id].caption, four_turns({2}))
    ids_file = tmp_path / "ids"
    ids_file.write_text("\n".join(ids) + "\n")
    args = ["generate", str(tmp_path / "out"), "--config", "music_dialogues", "--ids", str(ids_file)]
    code = main([*args, "--base-url", server.base_url, "--remove", "dialogue", "--comparisons", "paper"])
    printed = capsys.readouterr().out
    assert code == 0 and "written: train.jsonl 0 records, test.jsonl 0 records" in printed
    assert "note: --comparisons is not used by music_dialogues (one dialogue per clip)" in printed
    assert main([*args, "--msclap-checkpoint", str(tmp_path / "none.pth")]) == 2
    error = capsys.readouterr().err
    assert (
        error.startswith("audio-dialogues generate: error: MS-CLAP checkpoint") and "none.pth does not exist" in error
    )
