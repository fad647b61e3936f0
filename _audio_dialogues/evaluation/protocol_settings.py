"""What the paper's protocol leaves to the model, named: its decoding, and how the scores are pooled.

**Decoding.** Audio Flamingo 1's chat model (the model the Audio Dialogues paper evaluates) answered
with sampling: ``do_sample=True, top_k=50, top_p=0.95``, one sequence, at most 128 new tokens
(``inference/inference_examples.py`` on the ``legacy_audio_flamingo_1`` branch of
NVIDIA/audio-flamingo, its chat-model settings). :func:`~.score.run_protocol` passes
:data:`AF1_CHAT_DECODING` (or the user's own settings) to a model that takes a ``decoding=``
keyword, or reads ``Query.decoding`` in ``answer_batch``, and records what was passed in
``<out>.protocol.json``. A model that takes neither is told nothing, and ``null`` is recorded.

**Pooling.** The scores are pooled per turn (every answer one item; the default, as the paper
reports turn by turn). :func:`by_dialogue` pools per dialogue instead: a dialogue's answers joined
into one item against its references joined, so a long dialogue weighs as much as a short one.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Sequence

AF1_CHAT_DECODING: dict[str, Any] = {
    "do_sample": True,
    "top_k": 50,
    "top_p": 0.95,
    "num_return_sequences": 1,
    "max_new_tokens": 128,
}


def takes_decoding(function: Callable) -> bool:
    """Whether ``function`` accepts a ``decoding=`` keyword (by name, or through ``**kwargs``)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False
    return any(
        p.kind == p.VAR_KEYWORD or (p.name == "decoding" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        for p in parameters
    )


def dialogue_spans(turns: Sequence[int]) -> list[range]:
    """The positions of each dialogue in a split-ordered list of items' turn numbers (a dialogue starts at 1)."""
    starts = [i for i, turn in enumerate(turns) if turn == 1 or i == 0]
    return [range(start, end) for start, end in zip(starts, starts[1:] + [len(turns)])]


def by_dialogue(
    turns: Sequence[int],
    candidates: Sequence[str],
    references: Sequence[str],
    score: Callable[[Sequence[str], Sequence[str]], Mapping[str, float]],
) -> dict[str, float]:
    """The metrics with one item per dialogue: its tokenized answers joined, against its references joined."""
    spans = dialogue_spans(turns)
    joined_candidates = [" ".join(candidates[i] for i in span) for span in spans]
    joined_references = [" ".join(references[i] for i in span) for span in spans]
    return {**score(joined_candidates, joined_references), "dialogues": len(spans)}
