"""The protocol's named settings: AF1's decoding passed to the model and recorded, and per-dialogue pooling."""

from __future__ import annotations

import json

import pytest
from test_evaluate import CONFIG, CORPUS, Recorder, assert_close, coco, release_of, write_predictions

from _audio_dialogues.evaluation.protocol import run_protocol
from _audio_dialogues.evaluation.protocol_settings import AF1_CHAT_DECODING, dialogue_spans, takes_decoding
from _audio_dialogues.evaluation.score import evaluate


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("hf_cache"))


class Sampler(Recorder):
    """A model that takes the decoding settings, and keeps each one it was given."""

    def __init__(self):
        super().__init__()
        self.decodings: list[dict] = []

    def __call__(self, audio, history, question, *, decoding=None):
        self.decodings.append(decoding)
        return super().__call__(audio, history, question)


def settings_of(out) -> dict:
    return json.loads(out.with_name(out.name + ".protocol.json").read_text())


def test_af1_decoding_is_passed_to_a_model_that_takes_it_and_recorded(tmp_path, shared_cache):
    assert AF1_CHAT_DECODING == {
        "do_sample": True,
        "top_k": 50,
        "top_p": 0.95,
        "num_return_sequences": 1,
        "max_new_tokens": 128,
    }
    model, out = Sampler(), tmp_path / "pred.jsonl"
    run_protocol(model, CONFIG, out=out, progress=False, cache_dir=shared_cache)
    assert model.decodings and all(d == AF1_CHAT_DECODING for d in model.decodings)
    assert settings_of(out)["decoding"] == AF1_CHAT_DECODING
    with pytest.raises(ValueError, match="was written with .*'top_k': 50"):
        run_protocol(Sampler(), CONFIG, out=out, decoding={"do_sample": False}, progress=False, cache_dir=shared_cache)
    greedy, out2 = Sampler(), tmp_path / "greedy.jsonl"
    run_protocol(greedy, CONFIG, out=out2, decoding={"do_sample": False}, progress=False, cache_dir=shared_cache)
    assert set(map(json.dumps, greedy.decodings)) == {'{"do_sample": false}'}
    assert settings_of(out2)["decoding"] == {"do_sample": False}


def test_a_model_without_a_decoding_keyword_is_told_nothing_and_null_is_recorded(tmp_path, shared_cache):
    out = tmp_path / "pred.jsonl"
    run_protocol(Recorder(), CONFIG, out=out, progress=False, cache_dir=shared_cache)  # a 3-argument model still works
    assert settings_of(out)["decoding"] is None

    class Batched(Recorder):
        seen: list = []

        def answer_batch(self, queries):
            self.seen.extend(q.decoding for q in queries)
            return [self(q.audio, q.history, q.question) for q in queries]

    model, batched = Batched(), tmp_path / "batched.jsonl"
    run_protocol(model, CONFIG, out=batched, batch_size=4, progress=False, cache_dir=shared_cache)
    assert model.seen and all(d == AF1_CHAT_DECODING for d in model.seen)
    assert settings_of(batched)["decoding"] == AF1_CHAT_DECODING
    assert (
        takes_decoding(lambda a, h, q, **kw: "") and not takes_decoding(lambda a, h, q: "") and not takes_decoding(len)
    )


def test_per_dialogue_pooling_is_reported_beside_per_turn(tmp_path):
    data_dir, predictions = release_of(tmp_path, CORPUS)
    scores = evaluate(
        write_predictions(tmp_path / "pred.jsonl", predictions),
        CONFIG,
        data_dir=data_dir,
        verification_mode="no_checks",
    )
    joined = {str(i): (" ".join(r for r, _ in d), " ".join(p for _, p in d)) for i, d in enumerate(CORPUS)}
    assert scores.by_dialogue["dialogues"] == len(CORPUS)
    assert_close(scores.by_dialogue, coco(joined))  # one item per dialogue, by the COCO code end to end
    assert scores.by_dialogue["CIDEr"] != pytest.approx(scores.overall["CIDEr"])
    row = [line for line in scores.table().splitlines() if line.startswith("dial.")]
    assert row == [
        "dial.       6"
        + "".join(f"{scores.by_dialogue[m]:>9.3f}" for m in ("BLEU-4", "ROUGE-L", "CIDEr"))
        + "  (pooled per dialogue)"
    ]
    assert json.loads(scores.to_json())["by_dialogue"]["dialogues"] == 6
    assert dialogue_spans([1, 1, 2, 1, 2, 3]) == [range(0, 1), range(1, 3), range(3, 6)]
