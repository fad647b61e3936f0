"""``stats``: the numbers of a small hand-made release against hand counts, the sample, the report, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from _audio_dialogues.cli.main import main
from _audio_dialogues.inspection.ontology import shipped_ontology
from _audio_dialogues.inspection.stats import stats, write_stats_report
from audio_dialogues import CONFIGS

DOG = {"mid": "/m/0bt9lr", "label": "Dog", "start": 0.5, "end": 2.0, "description": None}
SPEECH = {"mid": "/m/09x0r", "label": "Speech", "start": 1.0, "end": 3.0, "description": "people talking"}
GUITAR = {"mid": "/m/042v_gx", "label": "Acoustic guitar", "start": 0.0, "end": 10.0, "description": None}


def _turn(user: str, assistant: str) -> dict:
    return {"user": user, "assistant": assistant}


def write_small_release(root: Path) -> Path:
    """3 + 1 AudioSet dialogues (2 with events), 2 comparisons, one generate run's files, one clip on disk."""
    dialogues = root / "audioset_dialogues"
    dialogues.mkdir(parents=True)
    train = [
        {
            "audio_id": "Yaaaaaaaaaaa.wav",
            "dialogue": [_turn("What is barking?", "A dog is barking."), _turn("Is it loud?", "Yes, very loud.")],
            "events": [DOG, SPEECH],
        },
        {"audio_id": "Ybbbbbbbbbbb.wav", "dialogue": [_turn("What is barking?", "A dog.")], "events": [GUITAR]},
        {
            "audio_id": "Yccccccccccc.wav",
            "dialogue": [_turn("Who?", "One."), _turn("Why now?", "Two."), _turn("How many?", "Three.")],
        },
    ]
    (dialogues / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train), encoding="utf-8")
    test = [{"audio_id": "Yddddddddddd.wav", "dialogue": [_turn("Where?", "Here.")]}]
    (dialogues / "test.json").write_text(json.dumps(test), encoding="utf-8")
    (dialogues / "ledger.jsonl").write_text(
        json.dumps({"key": "aaaaaaaaaaa", "status": "ok", "model": "tiny-model"})
        + "\n"
        + json.dumps({"key": "eeeeeeeeeee", "status": "failed", "model": "tiny-model", "reason": "bad_json"})
        + "\n",
        encoding="utf-8",
    )
    (dialogues / "filtered.tsv").write_text(
        "youtube_id\tturn\tfilter\tdetail\naaaaaaaaaaa\t2\tlow_confidence\tcannot\nfffffffffff\tall\tsimilarity\t0.1\n",
        encoding="utf-8",
    )
    (dialogues / "failed.tsv").write_text(
        "youtube_id\treason\trequests\tlast_retry_reason\neeeeeeeeeee\tbad_json\t3\t\n", encoding="utf-8"
    )
    comparison = root / "audioset_comparison"
    comparison.mkdir()
    pairs = [
        {"audio_ids": ["Yaaaaaaaaaaa.wav", "Ybbbbbbbbbbb.wav"], "dialogue": [_turn("Which is louder?", "Audio 1.")]},
        {
            "audio_ids": ["Yaaaaaaaaaaa.wav", "Ybbbbbbbbbbb.wav", "Yccccccccccc.wav", "Yggggggggggg.wav"],
            "dialogue": [_turn("Which is louder?", "Audio 4.")],
        },
    ]
    (comparison / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs), encoding="utf-8")
    (comparison / "test.jsonl").write_text("", encoding="utf-8")
    audio = root / "clips"
    audio.mkdir()
    soundfile.write(audio / "Yaaaaaaaaaaa.wav", np.zeros(1600, dtype=np.float32), 16000)
    return audio


@pytest.fixture
def small(tmp_path):
    audio = write_small_release(tmp_path / "release")
    return stats(data_dir=str(tmp_path / "release"), audio_dir=str(audio), verification_mode="no_checks")


def test_counts_match_hand_counts(small):
    n = small.numbers["audioset_dialogues"]["train"]
    assert n["records"] == 3 and n["turns"] == 6
    assert n["turns_histogram"] == {"1": 1, "2": 1, "3": 1} and n["turns_mean"] == 2.0
    assert n["paper_turns_mean"] == 2.21
    assert n["questions"]["length_histogram"] == {"1": 1, "2": 2, "3": 3}
    assert n["questions"]["length_words"] == {"mean": 2.3333, "median": 2, "p95": 3, "max": 3}
    assert n["answers"]["distinct_1"] == round(10 / 12, 4) and n["answers"]["distinct_2"] == round(5 / 6, 4)
    assert n["wh_words"] == {"what": 2, "(no wh-word)": 1, "who": 1, "why": 1, "how": 1}
    assert n["first_words"]["what"] == 2 and n["first_words"]["is"] == 1
    repeated = n["repeated_questions"]
    assert (repeated["questions"], repeated["distinct"], repeated["asked_more_than_once"]) == (6, 5, 2)
    assert repeated["most_common"] == [["what is barking", 2]]
    assert n["audio"] == {"clip_references": 3, "missing": 2, "missing_examples": ["bbbbbbbbbbb", "ccccccccccc"]}
    assert small.numbers["audioset_dialogues"]["test"]["records"] == 1


def test_categories_count_each_event_under_every_top_level_category_it_reaches(small):
    c = small.numbers["audioset_dialogues"]["train"]["categories"]
    assert (c["events"], c["clips_with_events"], c["clips_without_events"]) == (3, 2, 1)
    ontology = shipped_ontology()
    by_name = {t["name"]: t for t in c["top_level"]}
    expected_events = {name: 0 for name in by_name}
    for event in (DOG, SPEECH, GUITAR):
        for top in ontology.tops(event["mid"]):
            expected_events[ontology.names[top]] += 1
    assert {name: t["events"] for name, t in by_name.items()} == expected_events
    assert by_name["Music"]["events"] == 1 and by_name["Human sounds"]["events"] >= 1
    paper = {p["name"]: p for p in c["paper"]}
    assert paper["Speech"]["event_share"] == round(100 / 3, 2) and paper["Speech"]["paper_share"] == 32.72
    assert paper["Musical instrument"]["event_share"] == round(100 / 3, 2)  # Acoustic guitar is below it


def test_a_label_reaching_two_top_level_categories_counts_under_both():
    ontology = shipped_ontology()
    multi = [mid for mid in ontology.names if len(ontology.tops(mid)) > 1]
    assert multi, "the AudioSet ontology is a graph: some classes reach two top-level categories"
    assert len(ontology.roots) == 7


def test_comparisons_and_the_generate_run(small):
    n = small.numbers["audioset_comparison"]["train"]
    assert n["clips_histogram"] == {"2": 1, "4": 1} and n["clips_mean"] == 3.0 and n["paper_clips_mean"] == 3.0
    assert n["categories"]["clips_without_events"] == 6
    assert small.numbers["audioset_comparison"]["test"]["records"] == 0
    run = small.runs["audioset_dialogues"]
    assert run["models"] == ["tiny-model"] and run["ledger_status"] == {"ok": 1, "failed": 1}
    assert run["filtered"] == {"low_confidence": 1, "similarity": 1}
    assert run["filtered_whole_dialogues"] == {"similarity": 1} and run["failed"] == {"bad_json": 1}
    assert any("music_dialogues: not in this release" in note for note in small.notes)


def test_the_summary_escapes_terminal_control_characters_from_the_files(tmp_path):
    audio = write_small_release(tmp_path / "release")
    ledger = tmp_path / "release" / "audioset_dialogues" / "ledger.jsonl"
    hostile = "m\x1b]0;owned\x07\x1b[31m"  # a model name from a server: retitles the terminal, turns it red
    ledger.write_text(json.dumps({"key": "aaaaaaaaaaa", "status": "ok", "model": hostile}) + "\n", encoding="utf-8")
    result = stats(data_dir=str(tmp_path / "release"), audio_dir=str(audio), verification_mode="no_checks")
    assert result.runs["audioset_dialogues"]["models"] == [hostile]  # the numbers keep the text as it is
    summary = result.summary()
    assert "\x1b" not in summary and "\x07" not in summary
    assert "generated by m\\x1b]0;owned\\x07\\x1b[31m" in summary


def test_the_report_is_one_offline_file(small, tmp_path):
    json_path, html_path = write_stats_report(small, tmp_path / "report")
    assert json.loads(json_path.read_text())["configs"]["audioset_dialogues"]["train"]["records"] == 3
    page = html_path.read_text()
    assert "<svg" in page and "paper 2.21" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched from anywhere
    assert "<script" not in page
    assert "default-src 'none'" in page
    assert "<svg" in small._repr_html_()


def test_the_sample(tmp_path):
    result = stats()
    assert set(result.numbers) == set(CONFIGS)
    n = result.numbers["audioset_dialogues"]["train"]
    assert n["records"] == 12 and n["audio"]["missing"] == 2  # the manifest lists 2 missing ids
    assert n["categories"]["events"] == 0  # the sample carries no events and no strong labels were given


def test_strong_labels_give_the_events(tmp_path):
    audio = write_small_release(tmp_path / "release")
    tsv = tmp_path / "strong.tsv"
    tsv.write_text(
        "segment_id\tstart_time_seconds\tend_time_seconds\tlabel\nccccccccccc_30000\t0.0\t1.0\t/m/09x0r\n",
        encoding="utf-8",
    )
    result = stats(
        ["audioset_dialogues"],
        data_dir=str(tmp_path / "release"),
        audio_dir=str(audio),
        strong_labels=[str(tsv)],
        verification_mode="no_checks",
    )
    c = result.numbers["audioset_dialogues"]["train"]["categories"]
    assert (c["events"], c["clips_without_events"]) == (4, 0)


def test_options_that_change_no_count_are_refused_and_counts_are_checked(tmp_path):
    with pytest.raises(ValueError, match="sampling_rate"):
        stats(sampling_rate=8000)
    with pytest.raises(TypeError, match="Unknown option"):
        stats(sampling_rat=8000)
    write_small_release(tmp_path / "release")
    with pytest.raises(Exception, match="expected 76642 records, found 3"):
        stats(["audioset_dialogues"], data_dir=str(tmp_path / "release"))


def test_missing_audio_skip_leaves_records_out_and_counts_them(tmp_path):
    audio = write_small_release(tmp_path / "release")
    result = stats(
        ["audioset_dialogues"],
        data_dir=str(tmp_path / "release"),
        audio_dir=str(audio),
        missing_audio="skip",
        verification_mode="no_checks",
    )
    n = result.numbers["audioset_dialogues"]["train"]
    assert n["records"] == 1 and n["skipped"]["missing_audio"] == 2


def test_cli_writes_the_report_and_prints_the_summary(tmp_path, capsys):
    assert main(["stats", str(tmp_path / "out"), "--config", "music_dialogues"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("music_dialogues/train: 12 records")
    assert "(paper 1.67)" in out
    assert (tmp_path / "out" / "index.html").is_file() and (tmp_path / "out" / "stats.json").is_file()
    with pytest.raises(SystemExit) as refused:  # not a flag of stats: argparse refuses it, one line
        main(["stats", str(tmp_path / "out"), "--sampling-rate", "8000"])
    assert refused.value.code == 2
    assert "audio-dialogues stats: error: --sampling-rate is not an option" in capsys.readouterr().err


def test_a_synthetic_release_matches_an_independent_count(tmp_path):
    """tests/synthetic.py's release (both formats): records, turns, clips and questions counted here from the JSON."""
    from synthetic import write_release as write_synthetic

    sizes = {"audioset_dialogues": {"train": 300, "test": 40}, "audioset_comparison": {"train": 200, "test": 30}}
    for fmt in ("json", "jsonl"):
        paths = write_synthetic(tmp_path / fmt, sizes, fmt=fmt, seed=7)
        result = stats(data_dir=str(tmp_path / fmt), verification_mode="no_checks")
        for config, splits in paths.items():
            for split, path in splits.items():
                text = path.read_text(encoding="utf-8")
                records = json.loads(text) if fmt == "json" else [json.loads(line) for line in text.splitlines()]
                n = result.numbers[config][split]
                turns = [len(r["dialogue"]) for r in records]
                clips = [len(r.get("audio_ids") or [r.get("audio_id")]) for r in records]
                questions = [
                    " ".join(re.findall(r"[a-z0-9']+", t["user"].lower())) for r in records for t in r["dialogue"]
                ]
                assert n["records"] == len(records) and n["turns"] == sum(turns)
                assert n["turns_histogram"] == {str(k): turns.count(k) for k in sorted(set(turns))}
                assert n["clips_histogram"] == {str(k): clips.count(k) for k in sorted(set(clips))}
                repeated = n["repeated_questions"]
                assert repeated["distinct"] == len(set(questions))
                assert repeated["asked_more_than_once"] == sum(1 for q in questions if questions.count(q) > 1)
