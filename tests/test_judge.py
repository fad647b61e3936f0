"""The judge metric: what it is shown, how its replies are read, what is reported, and the paid run
(the real openai client against a stand-in judge on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest
from chat_server import ChatServer
from judge_stand_in import section, stand_in_judge

from _audio_dialogues.cli.main import main
from _audio_dialogues.core.musiccaps import shipped_musiccaps
from _audio_dialogues.core.splits import read_release
from _audio_dialogues.evaluation.judge import (
    ORDERS,
    PROMPT_SHA256,
    Gathered,
    JudgeItem,
    UnreadableVerdict,
    Verdict,
    aggregate,
    clip_description,
    gather_items,
    judge_messages,
    parse_verdict,
)
from _audio_dialogues.evaluation.judge_run import JudgeSettingsError, judge

FAST = {"backoff_base": 0.01, "progress": False, "echo": lambda text: None}
EVENT = {"mid": "/m/0bt9lr", "label": "Dog", "start": 0.5, "end": 2.0, "description": "a dog barking nearby"}
SPEECH = {"mid": "/m/09x0r", "label": "Speech", "start": 0.0, "end": 10.0, "description": None}

# The stand-in's scores: by answer text (the reference answers score 5 unless listed), Answer 1 gets +1.
SCORES = {"Just noise.": 2, "A guitar and drums, played live.": 9}
BONUS = 1


def raw_score(answer: str, description: str = "") -> int:
    return SCORES.get(answer.strip(), 5)


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ChatServer(default=stand_in_judge(raw_score, first_bonus=BONUS)) as chat:
        yield chat


# --- what the judge is shown ----------------------------------------------------------------------


def test_descriptions_of_events_captions_and_comparisons():
    assert clip_description("audioset_dialogues", {"events": [SPEECH, EVENT]}) == (
        "- 0.00-10.00 s: Speech\n- 0.50-2.00 s: Dog (a dog barking nearby)"
    )
    assert clip_description("audioset_dialogues", {"events": None}) is None
    assert clip_description("audioset_dialogues", {"events": []}) is None
    assert clip_description("audioset_dialogues", {}) is None  # the column not there yet: unknown
    both = clip_description("audioset_comparison", {"events": [[EVENT], [SPEECH]]})
    assert both == "Audio 1:\n- 0.50-2.00 s: Dog (a dog barking nearby)\nAudio 2:\n- 0.00-10.00 s: Speech"
    assert clip_description("audioset_comparison", {"events": [[EVENT], None]}) is None  # every clip, or none
    columns = {key: [SPEECH[key], EVENT[key]] for key in EVENT}  # a datasets Sequence of dicts: a dict of lists
    assert clip_description("audioset_dialogues", {"events": columns}) == clip_description(
        "audioset_dialogues", {"events": [SPEECH, EVENT]}
    )
    assert clip_description("audioset_comparison", {"events": [columns, [EVENT]]}).startswith("Audio 1:\n- 0.00-10.00")
    music = {"caption": "A calm piano piece.", "aspects": ["piano", "calm"]}
    assert (
        clip_description("music_dialogues", music) == "A music clip. Caption: A calm piano piece.\nAspects: piano, calm"
    )
    legacy = {"musiccaps_caption": "A calm piano piece.", "musiccaps_aspects": []}
    assert clip_description("music_dialogues", legacy) == "A music clip. Caption: A calm piano piece."
    assert clip_description("music_dialogues", {"caption": None, "aspects": None}) is None


def test_each_turn_shows_the_dialogue_so_far_and_both_orders():
    rows = [
        {
            "id": "test-000000",
            "dialogue": [{"user": "What barks?", "assistant": "A dog."}, {"user": "When?", "assistant": "Early on."}],
            "events": [EVENT],
        },
        {"id": "test-000001", "dialogue": [{"user": "Q?", "assistant": "A."}], "events": None},
        {"id": "test-000002", "dialogue": [{"user": "Q?", "assistant": "A."}], "events": [SPEECH]},  # not predicted
    ]
    gathered = gather_items("audioset_dialogues", rows, {"test-000000": ["A cat.", "At once."], "test-000001": ["x"]})
    assert [(i.id, i.turn) for i in gathered.items] == [("test-000000", 1), ("test-000000", 2)]
    assert (gathered.missing_description, gathered.missing_items) == (["test-000001"], 1)
    second = gathered.items[1]
    assert second.history == (("What barks?", "A dog."),) and second.candidate == "At once."
    shown = [judge_messages(second, order)[-1]["content"] for order in ORDERS]
    assert [section(text, "Answer 1") for text in shown] == ["Early on.", "At once."]
    assert [section(text, "Answer 2") for text in shown] == ["At once.", "Early on."]
    assert section(shown[0], "The conversation so far") == "User: What barks?\nAssistant: A dog."
    assert "0.50-2.00 s: Dog (a dog barking nearby)" in shown[0] and "When?" in shown[0]
    assert second.key(ORDERS[0]) != second.key(ORDERS[1])
    with pytest.raises(ValueError, match="1 answer\\(s\\) for a dialogue of 2"):
        gather_items("audioset_dialogues", rows, {"test-000000": ["A cat."]})


# --- how a reply is read --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, scores, reason",
    [
        ("7 9\nAnswer 2 is right.", (7, 9), "Answer 2 is right."),
        ("  10, 1  \n\nbecause", (10, 1), "because"),
        ("**8 6**", (8, 6), ""),
        ("8/10 6/10\nok", (8, 6), "ok"),
    ],
)
def test_verdicts_are_read(reply, scores, reason):
    verdict = parse_verdict(reply)
    assert (verdict.first, verdict.second, verdict.reason) == (*scores, reason)


@pytest.mark.parametrize(
    "reply, problem",
    [
        ("", "empty reply"),
        ("Both answers are good.", "not two scores"),
        ("7\nonly one", "not two scores"),
        ("7 8 9", "not two scores"),
        ("Answer 1: 7, Answer 2: 9", "not two scores"),
        ("0 11", "from 1 to 10"),
        ("7.5 8", "not two scores"),
    ],
)
def test_unreadable_verdicts_say_why(reply, problem):
    with pytest.raises(UnreadableVerdict, match=problem):
        parse_verdict(reply)


# --- what is reported -----------------------------------------------------------------------------


def item(n: int, turn: int = 1) -> JudgeItem:
    return JudgeItem(f"test-{n:06d}", turn, "desc", (), "q", "ref", f"cand {n}")


def test_means_ratio_and_disagreement_by_hand():
    items = [item(0), item(1), item(2, turn=2), item(3), item(4)]
    verdicts = {
        # reference first: (ref, cand); candidate first: (cand, ref)
        items[0].key("reference-first"): Verdict(6, 8, ""),  # cand 8 and 8, ref 6 and 6: agree (cand)
        items[0].key("candidate-first"): Verdict(8, 6, ""),
        items[1].key("reference-first"): Verdict(7, 6, ""),  # ref better here, cand better swapped: disagree
        items[1].key("candidate-first"): Verdict(7, 6, ""),
        items[2].key("reference-first"): Verdict(4, 2, ""),  # turn 2: cand 2 and 3, ref 4 and 4
        items[2].key("candidate-first"): Verdict(3, 4, ""),
        items[3].key("reference-first"): "failed",  # one order failed: failed, not judged
        items[3].key("candidate-first"): Verdict(5, 5, ""),
        items[4].key("reference-first"): Verdict(5, 5, ""),  # the other order never sent: not finished
    }
    scores = aggregate("audioset_dialogues", "test", "m", Gathered(items, ["test-000009"], 3), verdicts)
    o = scores.overall
    assert (o["items"], o["judged"], o["failed"], scores.not_finished) == (5, 3, 1, 1)
    assert o["candidate"] == pytest.approx((8 + 6.5 + 2.5) / 3)
    assert o["reference"] == pytest.approx((6 + 6.5 + 4) / 3)
    assert o["ratio"] == pytest.approx(17 / 16.5)
    assert o["disagreement"] == pytest.approx(1 / 3)
    assert scores.by_turn["2"] == {
        "items": 1,
        "judged": 1,
        "failed": 0,
        "candidate": 2.5,
        "reference": 4.0,
        "ratio": 2.5 / 4,
        "disagreement": 0.0,
    }
    assert (scores.missing_description, scores.missing_description_turns) == (1, 3)
    assert scores.to_dict()["prompt_sha256"] == PROMPT_SHA256 and "3 of 5 turns judged, 1 failed" in scores.summary()


# --- the run, against the stand-in judge ----------------------------------------------------------


def sample_predictions() -> tuple[dict[str, list[str]], list[tuple[int, int]]]:
    """Predictions for the sample's music_dialogues test split, and each turn's (candidate, reference) raw score."""
    records = read_release("music_dialogues", ["test"])["test"]
    candidates = ["Just noise.", "A guitar and drums, played live.", None]  # None: the reference itself
    predictions, raw = {}, []
    for n, joined in enumerate(records):
        answers = []
        for t, turn in enumerate(joined.record.dialogue):
            answer = candidates[(n + t) % 3] or turn["assistant"]
            answers.append(answer)
            raw.append((raw_score(answer), raw_score(turn["assistant"])))
        predictions[joined.id] = answers
    return predictions, raw


def expected(raw: list[tuple[int, int]]) -> dict[str, float]:
    """What the stand-in implies: each item's score the mean of its two asks, the first shown getting +1."""
    cand = [(c + min(10, c + BONUS)) / 2 for c, _ in raw]
    ref = [(r + min(10, r + BONUS)) / 2 for _, r in raw]
    sign = lambda x: (x > 0) - (x < 0)  # noqa: E731
    flips = [sign(c - min(10, r + BONUS)) != sign(min(10, c + BONUS) - r) for c, r in raw]
    return {
        "candidate": sum(cand) / len(raw),
        "reference": sum(ref) / len(raw),
        "ratio": sum(cand) / sum(ref),
        "disagreement": sum(flips) / len(raw),
    }


def test_the_sample_judged_end_to_end_resumed_and_a_changed_model_refused(tmp_path, server, cache_dir):
    predictions, raw = sample_predictions()
    path = tmp_path / "pred.jsonl"
    path.write_text("".join(json.dumps({"id": k, "answers": v}) + "\n" for k, v in predictions.items()))
    scores_file = tmp_path / "scores.json"
    args = ["evaluate", str(path), "--config", "music_dialogues", "--cache-dir", cache_dir]
    judge_args = ["--judge-model", "stand-in", "--judge-base-url", server.base_url, "--judge-dir", str(tmp_path / "j")]
    assert main(args + judge_args + ["--output", str(scores_file)]) == 0

    assert server.count() == 2 * len(raw)  # two requests per scored turn
    shown = [body["messages"][-1]["content"] for body in server.requests]
    captions = {clip.caption for clip in shipped_musiccaps().values()}
    assert all(any(c in text for c in captions) for text in shown)  # every prompt describes its clip
    pairs = {(section(t, "The user's question"), section(t, "Answer 1"), section(t, "Answer 2")) for t in shown}
    assert all((q, b, a) in pairs for q, a, b in pairs)  # each ask has its swapped twin
    assert {body["model"] for body in server.requests} == {"stand-in"}

    written = json.loads(scores_file.read_text())
    j = written["judge"]
    assert (j["model"], j["prompt_sha256"], j["overall"]["judged"]) == ("stand-in", PROMPT_SHA256, len(raw))
    for name, value in expected(raw).items():
        assert j["overall"][name] == pytest.approx(value), name
    assert 0 < j["overall"]["disagreement"] < 1 and j["overall"]["ratio"] != pytest.approx(1)
    assert set(written["overall"]) == {"BLEU-4", "ROUGE-L", "CIDEr"}  # the n-gram scores beside it
    assert set(j["by_turn"]) == set(written["by_turn"])

    # a rerun sends nothing and reports the same; a changed judge model is refused in one line
    again = judge(path, "music_dialogues", model="stand-in", judge_dir=tmp_path / "j", base_url=server.base_url,
                  cache_dir=cache_dir, **FAST)  # fmt: skip
    assert server.count() == 2 * len(raw) and again.overall == j["overall"]
    with pytest.raises(JudgeSettingsError) as refused:
        judge(path, "music_dialogues", model="other", judge_dir=tmp_path / "j", base_url=server.base_url,
              cache_dir=cache_dir, **FAST)  # fmt: skip
    message = str(refused.value)
    assert "\n" not in message and "--judge-model 'stand-in', not 'other'" in message and "--judge-dir" in message
    assert server.count() == 2 * len(raw)


def audioset_rows() -> list[dict]:
    return [
        {
            "id": f"test-{n:06d}",
            "dialogue": [{"user": f"What is heard in clip {n}?", "assistant": "A dog."}],
            "events": events,
        }  # fmt: skip
        for n, events in enumerate([[EVENT], [SPEECH, EVENT], None, [SPEECH]])
    ]


def test_an_unreadable_reply_is_retried_then_failed_and_missing_descriptions_are_left_out(tmp_path, server):
    server.add("UNREADABLE", "Both answers are good.")
    predictions = {"test-000000": ["A dog."], "test-000001": ["UNREADABLE"], "test-000002": ["x"], "test-000003": ["y"]}
    scores = judge(predictions, "audioset_dialogues", model="stand-in", judge_dir=tmp_path / "j",
                   base_url=server.base_url, retries=2, rows=audioset_rows(), **FAST)  # fmt: skip
    assert server.count("UNREADABLE") == 2 * 3  # both orders, each sent 1 + 2 times
    assert server.count("clip 2") == 0  # no description: never judged blind
    assert server.count() == 6 + 2 * 2
    o = scores.overall
    assert (o["items"], o["judged"], o["failed"], scores.missing_description) == (3, 2, 1, 1)
    ledger = [json.loads(line) for line in (tmp_path / "j" / "ledger.jsonl").read_text().splitlines()]
    failed = [e for e in ledger if e["status"] == "failed"]
    assert len(failed) == 2 and failed[0]["reply"] == "Both answers are good." and failed[0]["requests"] == 3
    assert all(e["reply"] and e["prompt_sha256"] == PROMPT_SHA256 for e in ledger)  # both replies kept
    # a failed ask is recorded: the rerun does not pay for it again
    judge(predictions, "audioset_dialogues", model="stand-in", judge_dir=tmp_path / "j", base_url=server.base_url,
          rows=audioset_rows(), **FAST)  # fmt: skip
    assert server.count() == 10
    server.rules[0].replies = ["4 6\nFixed."]  # the judge now answers; --judge-retry-failed asks again
    again = judge(predictions, "audioset_dialogues", model="stand-in", judge_dir=tmp_path / "j",
                  base_url=server.base_url, rows=audioset_rows(), retry_failed=True, **FAST)  # fmt: skip
    assert server.count() == 12 and (again.overall["judged"], again.overall["failed"]) == (3, 0)


def test_budget_dry_run_and_flags_without_a_judge(tmp_path, server, capsys):
    predictions = {f"test-{n:06d}": ["A dog."] for n in range(4)}
    common = dict(model="stand-in", judge_dir=tmp_path / "j", base_url=server.base_url, rows=audioset_rows(), **FAST)
    shown = []
    dry = judge(predictions, "audioset_dialogues", dry_run=True, **{**common, "echo": shown.append})
    assert server.count() == 0 and not (tmp_path / "j" / "ledger.jsonl").exists()
    assert "## Answer 1\nA dog." in shown[0] and "would send 6 requests (3 turns x 2 orders" in dry.notes[0]
    part = judge(predictions, "audioset_dialogues", max_requests=3, concurrency=1, **common)
    assert server.count() == 3 and part.not_finished == 2 and part.overall["judged"] == 1
    assert "--judge-max-requests 3 reached: 3 asks not finished" in part.notes[0]
    rest = judge(predictions, "audioset_dialogues", **common)
    assert server.count() == 6 and rest.not_finished == 0 and rest.overall["judged"] == 3

    path = tmp_path / "pred.jsonl"
    path.write_text('{"id": "test-000000", "answers": ["A dog."]}\n')
    assert main(["evaluate", str(path), "--config", "music_dialogues", "--dry-run", "--subset"]) == 2
    assert capsys.readouterr().err.strip() == (
        "audio-dialogues evaluate: error: --dry-run needs --judge-model (the judge to ask)."
    )
    assert main(["evaluate", str(path), "--config", "music_dialogues", "--judge-retries", "0", "--judge-dir", "d"]) == 2
    assert "--judge-dir, --judge-retries need --judge-model" in capsys.readouterr().err


def test_ctrl_c_records_the_asks_in_flight_and_the_rerun_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    predictions = {f"test-{n:06d}": ["A dog."] for n in range(4)}
    with ChatServer(default=stand_in_judge(raw_score), delay=0.4) as slow:
        common = dict(model="stand-in", judge_dir=tmp_path / "j", base_url=slow.base_url, rows=audioset_rows(), **FAST)
        ctrl_c = threading.Timer(0.6, os.kill, (os.getpid(), signal.SIGINT))  # during the second ask
        ctrl_c.start()
        stopped = judge(predictions, "audioset_dialogues", concurrency=1, **common)
        ctrl_c.join()
        sent = slow.count()
        assert stopped.interrupted and 1 <= sent < 6 and stopped.not_finished >= 1
        assert len((tmp_path / "j" / "ledger.jsonl").read_text().splitlines()) == sent  # every reply kept
        rest = judge(predictions, "audioset_dialogues", **common)
        assert slow.count() == 6 and rest.overall["judged"] == 3 and not rest.interrupted
