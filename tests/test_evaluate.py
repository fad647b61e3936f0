"""Scoring predictions the paper's way (pycocoevalcap 1.2), the refusals, the command, and the turn-by-turn protocol."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, write_release
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from _audio_dialogues.cli.main import main
from _audio_dialogues.core.splits import read_release
from _audio_dialogues.evaluation.protocol import Query, run_protocol
from _audio_dialogues.evaluation.score import (
    JavaMissingError,
    PredictionError,
    evaluate,
    ptb_tokenize,
    read_predictions,
)

CONFIG = "audioset_dialogues"
# (reference, prediction) per turn, per dialogue: unicode, punctuation-only differences, turns sharing no word.
CORPUS = [
    [("A dog is barking outside.", "a dog is barking loudly outside")],
    [
        ("Rain falls on a tin roof.", "Rain is falling on a metal roof!"),
        ("It sounds like a storm, with distant thunder.", "A storm — with thunder far away…"),
    ],
    [
        ("A café crowd is chatting.", "People talk in a café"),
        ("Yes, the voices are in French: « bonjour ».", "Oui: French voices; « bonjour »"),
        ("About 20–30 people.", "Purple elephants sing opera"),
    ],
    [
        ("The siren is wailing.", "The siren is wailing!!!"),
        ("It's an ambulance passing by.", "it's an AMBULANCE passing by"),
        ("The pitch drops: the Doppler effect.", "xyz"),
        ("No, nobody speaks.", "No — nobody speaks..."),
    ],
    [
        ("Birds chirp in a park.", "Birds chirp in a park."),
        ("Mostly sparrows; 日本語 is not spoken.", "麻雀 sparrows mostly"),
    ],
    [("A door slams.", "...")],
]


def release_of(tmp_path: Path, corpus: list[list[tuple[str, str]]], split: str = "test") -> tuple[Path, dict]:
    """A partial audioset_dialogues release of ``corpus``'s references, and the predictions by example id."""
    records = [
        {
            "audio_id": f"Yabcdefghi{i:02d}.wav",
            "dialogue": [{"user": f"Question {t} about clip {i}?", "assistant": ref} for t, (ref, _) in enumerate(d)],
        }
        for i, d in enumerate(corpus)
    ]
    write_release(tmp_path / "release", CONFIG, "train", records[:1], "jsonl")  # a release has both splits
    write_release(tmp_path / "release", CONFIG, split, records, "jsonl")
    return tmp_path / "release", {f"{split}-{i:06d}": [pred for _, pred in d] for i, d in enumerate(corpus)}


def write_predictions(path: Path, predictions: dict) -> Path:
    path.write_text(
        "".join(json.dumps({"id": k, "answers": v}, ensure_ascii=False) + "\n" for k, v in predictions.items()),
        encoding="utf-8",
    )
    return path


def evaluate_args(path: Path, data_dir: Path) -> list[str]:
    return ["evaluate", str(path), "--config", CONFIG, "--data-dir", str(data_dir), "--verification-mode", "no_checks"]


def coco(items: dict[str, tuple[str, str]]) -> dict[str, float]:
    """The COCO caption code end to end, as its own example does: its PTBTokenizer wrapper, then the scorers."""
    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize({k: [{"caption": ref}] for k, (ref, _) in items.items()})
    res = tokenizer.tokenize({k: [{"caption": pred}] for k, (_, pred) in items.items()})
    return {
        "BLEU-4": Bleu(4).compute_score(gts, res, verbose=0)[0][3],
        "ROUGE-L": Rouge().compute_score(gts, res)[0],
        "CIDEr": Cider().compute_score(gts, res)[0],
    }


def assert_close(ours: dict, theirs: dict) -> None:
    for metric, value in theirs.items():
        assert ours[metric] == pytest.approx(value, abs=1e-6), metric


def test_scores_equal_pycocoevalcap_overall_and_per_turn(tmp_path):
    data_dir, predictions = release_of(tmp_path, CORPUS)
    scores = evaluate(
        write_predictions(tmp_path / "pred.jsonl", predictions),
        CONFIG,
        data_dir=data_dir,
        verification_mode="no_checks",
    )
    items = {f"{i}#{t}": pair for i, d in enumerate(CORPUS) for t, pair in enumerate(d, start=1)}
    assert (scores.dialogues, scores.turns, scores.split_dialogues) == (6, len(items), 6)
    assert_close(scores.overall, coco(items))
    assert 0.2 < scores.overall["BLEU-4"] < 0.9 and 0 < scores.overall["CIDEr"] < 10  # neither trivial extreme
    assert list(scores.by_turn) == ["1", "2", "3", "4"]
    for turn, row in scores.by_turn.items():
        of_turn = {k: v for k, v in items.items() if k.endswith(f"#{turn}")}
        assert row["turns"] == len(of_turn)
        assert_close(row, coco(of_turn))
    assert scores.by_turn["1"]["CIDEr"] != pytest.approx(scores.overall["CIDEr"])  # a corpus of its own per turn
    as_json = json.loads(scores.to_json())
    assert set(as_json) >= {"config", "split", "dialogues", "turns", "overall", "by_turn"}
    assert set(as_json["overall"]) == {"BLEU-4", "ROUGE-L", "CIDEr"}


def test_hand_computed_scores(tmp_path):
    """Independent of pycocoevalcap: values worked out by hand from the metrics' definitions."""
    pair = ("A dog is barking outside.", "a dog is barking loudly outside")
    data_dir, predictions = release_of(tmp_path / "one", [[pair]])
    one = evaluate(predictions, CONFIG, data_dir=data_dir, verification_mode="no_checks").overall
    # n-gram precisions 5/6, 3/5, 2/4, 1/3; candidate longer than the reference: no brevity penalty
    assert one["BLEU-4"] == pytest.approx((5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25, abs=1e-6)
    precision, recall, beta = 5 / 6, 1.0, 1.2  # LCS "a dog is barking outside": 5 of 6 and 5 of 5 tokens
    f_score = (1 + beta**2) * precision * recall / (recall + beta**2 * precision)
    assert one["ROUGE-L"] == pytest.approx(f_score, abs=1e-6)
    assert one["CIDEr"] == 0.0  # one document: every n-gram's document frequency is the corpus size, idf 0

    refs = [
        [("Rain falls on the tin roof.", "RAIN falls on the tin roof")],
        [("A siren wails far away!", "a siren wails far away")],
    ]
    data_dir, predictions = release_of(tmp_path / "same", refs)
    same = evaluate(predictions, CONFIG, data_dir=data_dir, verification_mode="no_checks").overall
    assert same == pytest.approx({"BLEU-4": 1.0, "ROUGE-L": 1.0, "CIDEr": 10.0}, abs=1e-6)  # CIDEr-D is x10

    disjoint = {k: ["purple elephants sing opera"] for k in predictions}
    none = evaluate(disjoint, CONFIG, data_dir=data_dir, verification_mode="no_checks").overall
    assert none["ROUGE-L"] == 0.0 and none["CIDEr"] == 0.0 and none["BLEU-4"] < 1e-6


def test_tokenization_is_the_coco_tokenizer():
    texts = ["Hello, World! It's 3.5 dB.", "naïve Ünïcode — “quotes”…", "...", "日本語 と English", "(a) [b] {c}; d-e"]
    assert ptb_tokenize(texts) == [PTBTokenizer().tokenize({0: [{"caption": t}]})[0][0] for t in texts]
    assert ptb_tokenize(texts)[:3] == ["hello world it 's 3.5 db", "naïve ünïcode quotes", ""]


def test_line_breaks_inside_an_answer_do_not_shift_later_items():
    """The Java tokenizer ends lines at \\r, U+2028, ...: pycocoevalcap's wrapper would misalign every later item."""
    texts = ["one\rtwo", "three\u2028four", "five\nsix", "seven\x0ceight", "last item"]
    assert ptb_tokenize(texts) == ["one two", "three four", "five six", "seven eight", "last item"]


def test_refusals_name_the_id_and_the_fix(tmp_path):
    data_dir, predictions = release_of(tmp_path, CORPUS)
    options = {"data_dir": data_dir, "verification_mode": "no_checks"}

    with pytest.raises(
        PredictionError,
        match=r"id 'test-000099' is not a dialogue of audioset_dialogues/test "
        r"\(6 dialogues, ids test-000000 to test-000005\)",
    ):
        evaluate({**predictions, "test-000099": ["x"]}, CONFIG, **options)
    with pytest.raises(PredictionError, match=r"id 'test-000002' has 2 answer\(s\) for a dialogue of 3 turn\(s\)"):
        evaluate({**predictions, "test-000002": ["a", "b"]}, CONFIG, **options)
    partial = {k: v for k, v in predictions.items() if k != "test-000003"}
    with pytest.raises(PredictionError, match=r"1 of 6 dialogues .* no prediction \(first: test-000003\).*--subset"):
        evaluate(partial, CONFIG, **options)
    with pytest.raises(PredictionError, match="id 'train-000000' is not a dialogue of audioset_dialogues/test"):
        evaluate({"train-000000": ["x"]}, CONFIG, **options)
    with pytest.raises(ValueError, match="Unknown config 'music_dialogue'.* Did you mean 'music_dialogues'"):
        evaluate(predictions, "music_dialogue", **options)

    path = write_predictions(tmp_path / "pred.jsonl", predictions)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines + [lines[1]]) + "\n", encoding="utf-8")
    with pytest.raises(PredictionError, match=r"line 7: id 'test-000001' is predicted twice \(first at .*line 2\)"):
        read_predictions(path)
    path.write_text(lines[0] + "\n" + lines[1][:-3] + "\n", encoding="utf-8")
    with pytest.raises(PredictionError, match=r"pred.jsonl line 2: not valid JSON"):
        read_predictions(path)
    path.write_text(json.dumps({"id": "test-000000", "answers": "one answer"}) + "\n", encoding="utf-8")
    with pytest.raises(PredictionError, match=r"line 1: id 'test-000000': field 'answers' must be a list of strings"):
        read_predictions(path)


def test_a_subset_is_scored_only_when_asked_and_says_how_many(tmp_path):
    data_dir, predictions = release_of(tmp_path, CORPUS)
    partial = {k: v for k, v in predictions.items() if k not in ("test-000001", "test-000003")}
    scores = evaluate(partial, CONFIG, subset=True, data_dir=data_dir, verification_mode="no_checks")
    assert (scores.dialogues, scores.split_dialogues, scores.turns) == (4, 6, 1 + 3 + 2 + 1)
    assert scores.table().startswith("audioset_dialogues/test: 4 of 6 dialogues scored (a subset), 7 turns")
    items = {f"{i}#{t}": pair for i, d in enumerate(CORPUS) if i not in (1, 3) for t, pair in enumerate(d, start=1)}
    assert_close(scores.overall, coco(items))


def test_java_missing_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    data_dir, predictions = release_of(tmp_path, CORPUS)
    path = write_predictions(tmp_path / "pred.jsonl", predictions)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(JavaMissingError, match="install a Java runtime, e.g. apt-get install default-jre-headless"):
        evaluate(path, CONFIG, data_dir=data_dir, verification_mode="no_checks")
    assert main(evaluate_args(path, data_dir)) == 2  # a user error: one line, exit 2 (cli.main)
    assert "no 'java' is on PATH: install a Java runtime" in capsys.readouterr().err


def test_the_command_prints_a_table_and_writes_the_scores(tmp_path, capsys):
    data_dir, predictions = release_of(tmp_path, CORPUS)
    path = write_predictions(tmp_path / "pred.jsonl", predictions)
    out = tmp_path / "scores.json"
    assert main([*evaluate_args(path, data_dir), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    written = json.loads(out.read_text(encoding="utf-8"))
    library = evaluate(path, CONFIG, data_dir=data_dir, verification_mode="no_checks")
    assert written == library.to_dict()
    assert (written["config"], written["split"], written["dialogues"], written["turns"]) == (CONFIG, "test", 6, 13)
    overall = "all        13" + "".join(f"{written['overall'][m]:>9.3f}" for m in ("BLEU-4", "ROUGE-L", "CIDEr"))
    assert overall in printed and f"scores written to {out}" in printed

    del predictions["test-000004"]
    write_predictions(path, predictions)
    assert main(evaluate_args(path, data_dir)) == 2  # a user error: one line, exit 2 (cli.main)
    assert "have no prediction (first: test-000004)" in capsys.readouterr().err
    assert main([*evaluate_args(path, data_dir), "--subset"]) == 0
    assert "5 of 6 dialogues scored (a subset)" in capsys.readouterr().out


def test_the_console_script_scores_the_bundled_sample(tmp_path):
    records = read_release("music_dialogues", ["test"])["test"]
    references = {r.id: [t["assistant"] for t in r.record.dialogue] for r in records}
    path = write_predictions(tmp_path / "pred.jsonl", references)
    script = Path(sys.executable).with_name("audio-dialogues")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    command = [str(script), "evaluate", str(path), "--config", "music_dialogues", "--output", str(tmp_path / "s.json")]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["dialogues"] == len(records) and scores["overall"]["CIDEr"] == pytest.approx(10.0)
    assert f"music_dialogues/test: {len(records)} of {len(records)} dialogues scored" in done.stdout


# ---------------------------------------------------------------------------------------------
# The protocol, on the bundled sample (audioset_dialogues/test: 12 dialogues, 2 of them without audio)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("hf_cache"))


class Recorder:
    """A stub model: a deterministic answer from the question and the history, and a record of every call."""

    def __init__(self, interrupt_after: int | None = None):
        self.calls: list[tuple[object, list, str]] = []
        self.interrupt_after = interrupt_after

    def __call__(self, audio, history, question):
        if self.interrupt_after is not None and len(self.calls) == self.interrupt_after:
            raise KeyboardInterrupt
        self.calls.append((audio, history, question))
        heard = "silence" if audio is None else f"{len(audio['array'])} samples"
        return f"{question[:20]} | {heard} | after {len(history)}: {history[-1]['assistant'][:12] if history else '-'}"


def lines_of(path: Path) -> dict[str, list[str]]:
    return {k: list(v.answers) for k, v in read_predictions(path).items()}


def test_protocol_history_is_the_models_own_answers_or_the_references(tmp_path, shared_cache):
    dialogues = {r.id: r.record.dialogue for r in read_release(CONFIG, ["test"])["test"]}
    for teacher_forcing in (False, True):
        model, out = Recorder(), tmp_path / f"pred-{teacher_forcing}.jsonl"
        report = run_protocol(
            model, CONFIG, out=out, teacher_forcing=teacher_forcing, progress=False, cache_dir=shared_cache
        )
        written = lines_of(out)
        assert list(written) == list(dialogues) and report.answered == 12 and report.complete
        # test-000004 (2 turns) and test-000009 (1 turn) have no clip
        assert report.without_audio == 2 and sum(audio is None for audio, _, _ in model.calls) == 2 + 1
        calls = iter(model.calls)
        for example_id, turns in dialogues.items():
            assert len(written[example_id]) == len(turns)
            for k, turn in enumerate(turns):
                audio, history, question = next(calls)
                assert question == turn["user"] and [h["user"] for h in history] == [t["user"] for t in turns[:k]]
                expected = [t["assistant"] for t in turns[:k]] if teacher_forcing else written[example_id][:k]
                assert [h["assistant"] for h in history] == expected
                assert audio is None or (audio["sampling_rate"] == 16000 and len(audio["array"]) > 0)
    assert lines_of(tmp_path / "pred-False.jsonl") != lines_of(tmp_path / "pred-True.jsonl")
    scores = evaluate(tmp_path / "pred-True.jsonl", CONFIG)
    assert scores.dialogues == 12 and 0 <= scores.overall["CIDEr"] < 10


def test_protocol_batches_turn_by_turn_with_the_same_answers(tmp_path, shared_cache):
    class Batched(Recorder):
        def __init__(self):
            super().__init__()
            self.batches: list[list[Query]] = []

        def answer_batch(self, queries):
            self.batches.append(queries)
            return [self(q.audio, q.history, q.question) for q in queries]

    one = tmp_path / "one.jsonl"
    run_protocol(Recorder(), CONFIG, out=one, progress=False, cache_dir=shared_cache)
    model, many = Batched(), tmp_path / "many.jsonl"
    run_protocol(model, CONFIG, out=many, batch_size=5, progress=False, cache_dir=shared_cache)
    assert lines_of(many) == lines_of(one)
    assert max(len(b) for b in model.batches) == 5 and all(len({q.turn for q in b}) == 1 for b in model.batches)
    assert sum(len(b) for b in model.batches) == len(model.calls) == sum(len(v) for v in lines_of(one).values())


def test_protocol_resumes_after_an_interruption_and_a_torn_line(tmp_path, shared_cache):
    full = tmp_path / "full.jsonl"
    run_protocol(Recorder(), CONFIG, out=full, progress=False, cache_dir=shared_cache)
    out = tmp_path / "pred.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_protocol(Recorder(interrupt_after=10), CONFIG, out=out, progress=False, cache_dir=shared_cache)
    first = lines_of(out)
    assert 0 < len(first) < 12 and all(first[k] == v for k, v in lines_of(full).items() if k in first)
    with out.open("ab") as handle:  # a write cut short
        handle.write(b'{"id": "test-0000')
    model = Recorder()
    report = run_protocol(model, CONFIG, out=out, progress=False, cache_dir=shared_cache)
    assert (report.resumed, report.answered, report.torn_lines) == (len(first), 12 - len(first), 1)
    assert len(model.calls) == sum(len(v) for k, v in lines_of(full).items() if k not in first)  # nothing asked twice
    assert lines_of(out) == lines_of(full)
    with pytest.raises(ValueError, match="was written with .*'teacher_forcing': False"):
        run_protocol(Recorder(), CONFIG, out=out, teacher_forcing=True, progress=False, cache_dir=shared_cache)


def test_protocol_counts_dialogues_skipped_for_missing_audio(tmp_path, shared_cache, capsys):
    out = tmp_path / "pred.jsonl"
    report = run_protocol(Recorder(), CONFIG, out=out, missing_audio="skip", cache_dir=shared_cache)
    assert (report.dialogues, report.answered, report.skipped_missing_audio, report.without_audio) == (12, 10, 2, 0)
    progress = capsys.readouterr().err  # the progress bar counts the dialogues the loader kept
    assert f"{CONFIG}/test: 100%" in progress and "10/10" in progress
    assert "2 skipped (missing audio)" in report.summary()
    with pytest.raises(PredictionError, match="2 of 12 dialogues"):
        evaluate(out, CONFIG)
    assert evaluate(out, CONFIG, subset=True).dialogues == 10


def test_protocol_gives_a_comparison_all_its_clips(tmp_path, shared_cache):
    heard = []

    def model(audio, history, question):
        heard.append(audio)
        return "Audio 1 is louder."

    out = tmp_path / "cmp.jsonl"
    report = run_protocol(model, "audioset_comparison", out=out, progress=False, cache_dir=shared_cache)
    records = read_release("audioset_comparison", ["test"])["test"]
    assert [len(a) for a in heard] == [len(r.record.audio_ids) for r in records]
    assert report.without_audio == sum(any(c is None for c in a) for a in heard) > 0
    assert math.isfinite(evaluate(out, "audioset_comparison").overall["CIDEr"])


def test_two_protocol_runs_on_one_predictions_file_never_both_answer(tmp_path, shared_cache):
    """Issue 20, family 6: the second run is refused while the first holds the file's lock."""
    import threading

    from _audio_dialogues.engine.lock import FolderBusyError

    out, started, release = tmp_path / "pred.jsonl", threading.Event(), threading.Event()

    class Held(Recorder):
        def __call__(self, audio, history, question):
            started.set()
            release.wait(30)
            return super().__call__(audio, history, question)

    first = Held()
    worker = threading.Thread(
        target=run_protocol, args=(first, CONFIG), kwargs=dict(out=out, progress=False, cache_dir=shared_cache)
    )
    worker.start()
    try:
        assert started.wait(60)
        second = Recorder()
        with pytest.raises(FolderBusyError, match="protocol run"):
            run_protocol(second, CONFIG, out=out, progress=False, cache_dir=shared_cache)
        assert second.calls == []
    finally:
        release.set()
        worker.join(60)
    assert len(lines_of(out)) == 12
