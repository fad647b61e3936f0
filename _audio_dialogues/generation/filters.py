"""The two filters of the paper, applied to every question-answer pair of a generated dialogue.

1. **Low-confidence phrases**: an answer holding one of the phrases of
   ``data/metadata/low_confidence_phrases.json`` (case-insensitive substring; the list and its
   source are in that file) is a guess or a refusal.
2. **Audio-text similarity**: a :class:`SimilarityScorer` scores the clip against the answer (AF1
   B.3; ``--similarity-text pair``: question and answer); a pair below the threshold (the paper:
   0.3) is removed. A comparison's pair is scored against each of its clips and kept when one of
   them reaches the threshold. :class:`ClapScorer` is the built-in scorer (the ``clap`` extra and a
   checkpoint file).

What a hit removes is ``--remove`` (:data:`REMOVE_UNITS`):

- ``qa-pair`` (default; the paper's text): that pair only, the dialogue keeps its other pairs;
- ``dialogue`` (AF1's ``prepare_each_dataset.py``): the whole dialogue;
- ``rest``: that pair and every later one (later questions may build on it).

With no pair left the dialogue is dropped. Every removal is a :class:`Removal` (one row of
``filtered.tsv``): the hit names its filter; the turns removed with it are ``after_removed_turn``
(``rest``) or ``in_removed_dialogue`` (``dialogue``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from ..core.bundled import bundled_file
from ..core.release import Turn

PHRASES_FILE = "low_confidence_phrases.json"
PAPER_MIN_SIMILARITY = 0.3
REMOVE_UNITS = ("qa-pair", "dialogue", "rest")  # the paper's text, AF1's code, truncation
SIMILARITY_TEXTS = ("answer", "pair")  # AF1 B.3, question and answer


@dataclass(frozen=True)
class Removal:
    """One turn (or a whole dialogue, ``turn`` None) removed by a filter."""

    youtube_id: str
    turn: int | None  # 1-based
    filter: str  # "low_confidence_phrase", "similarity", "after_removed_turn", "in_removed_dialogue", "no_turn_left"
    detail: str


def shipped_phrases_file() -> Path:
    """The shipped phrase list (``data/metadata``; package data ``_audio_dialogues.metadata`` when installed)."""
    return bundled_file("metadata", PHRASES_FILE)


@lru_cache(maxsize=1)
def low_confidence_phrases() -> tuple[str, ...]:
    """Every phrase of the shipped list, lower-cased, repeats removed, in the source's order."""
    data = json.loads(shipped_phrases_file().read_text(encoding="utf-8"))
    phrases = [p.lower() for group in data["groups"].values() for p in group["phrases"]]
    return tuple(dict.fromkeys(phrases))


def find_low_confidence_phrase(answer: str, phrases: Sequence[str] | None = None) -> str | None:
    """The first phrase of the list that ``answer`` holds (case-insensitive), or ``None``."""
    text = answer.lower()
    return next((p for p in (phrases if phrases is not None else low_confidence_phrases()) if p in text), None)


@runtime_checkable
class SimilarityScorer(Protocol):
    """Scores how well a text describes a clip (higher: closer). ``name`` identifies the model in caches."""

    name: str

    def similarity(self, audio_path: str, text: str) -> float: ...


@runtime_checkable
class AudioEmbedder(Protocol):
    """A scorer that can also embed audio (used to choose comparison neighbours)."""

    def audio_embeddings(self, audio_paths: Sequence[str]) -> np.ndarray: ...


def pair_text(turn: Turn) -> str:
    """The text a question-answer pair is scored by with ``--similarity-text pair``: question and answer."""
    return f"{turn['user']} {turn['assistant']}"


def check_filter_options(remove: str, similarity_on: str) -> None:
    """Refuse an unknown ``--remove`` unit or ``--similarity-text`` before anything is asked."""
    if remove not in REMOVE_UNITS:
        raise ValueError(f"--remove {remove!r}: expected one of {', '.join(REMOVE_UNITS)}")
    if similarity_on not in SIMILARITY_TEXTS:
        raise ValueError(f"--similarity-text {similarity_on!r}: expected one of {', '.join(SIMILARITY_TEXTS)}")


def similarity_text(turn: Turn, what: str = "answer") -> str:
    """The text the similarity filter scores: the answer (AF1 B.3), or question and answer (``pair``)."""
    check_filter_options("qa-pair", what)
    return turn["assistant"] if what == "answer" else pair_text(turn)


def filter_dialogue(
    key: str,
    dialogue: Sequence[Turn],
    *,
    phrases: Sequence[str] | None = None,
    score: Callable[[int, Turn], float | None] | None = None,
    min_similarity: float = PAPER_MIN_SIMILARITY,
    remove: str = "qa-pair",
) -> tuple[list[Turn], list[Removal]]:
    """The turns kept and what was removed, and why; ``remove`` is the unit a hit removes (module docstring).

    ``score(index, turn)`` is the pair's similarity, or ``None`` when it cannot be scored (no audio).
    Every pair is checked (also after a hit), so ``filtered.tsv`` names each hit.
    """
    check_filter_options(remove, "answer")
    hits: list[Removal] = []
    for index, turn in enumerate(dialogue):
        if remove != "qa-pair" and hits:
            break  # the unit is already gone: the later pairs are not looked at (nor scored)
        phrase = find_low_confidence_phrase(turn["assistant"], phrases)
        removal = Removal(key, index + 1, "low_confidence_phrase", phrase) if phrase else None
        if removal is None and score is not None:
            value = score(index, turn)
            if value is not None and value < min_similarity:
                removal = Removal(key, index + 1, "similarity", f"{value:.4f} < {min_similarity}")
        if removal is not None:
            hits.append(removal)
    if not hits:
        return list(dialogue), []
    first = hits[0].turn - 1
    if remove == "qa-pair":
        hit_turns = {r.turn for r in hits}
        kept = [turn for number, turn in enumerate(dialogue, start=1) if number not in hit_turns]
        removed = list(hits)
    elif remove == "rest":
        kept = list(dialogue[:first])
        removed = hits + [
            Removal(key, later + 1, "after_removed_turn", f"turn {first + 1} was removed")
            for later in range(first + 1, len(dialogue))
        ]
    else:
        kept = []
        removed = hits + [
            Removal(key, other + 1, "in_removed_dialogue", f"turn {first + 1} was removed (unit: dialogue)")
            for other in range(len(dialogue))
            if other != first
        ]
    removed.sort(key=lambda r: r.turn)
    if not kept:
        removed.append(Removal(key, None, "no_turn_left", f"{len(dialogue)} turn(s) removed"))
    return kept, removed


def best_similarity(values: Sequence[float | None]) -> float | None:
    """A comparison pair's similarity: the best over its clips (``None`` when no clip could be scored)."""
    scored = [v for v in values if v is not None]
    return max(scored) if scored else None


class ClapScorer:
    """LAION-CLAP cosine similarity between a clip and a text, from a checkpoint file the user gives.

    ``model`` is anything with LAION-CLAP's ``get_audio_embedding_from_filelist(x=[paths],
    use_tensor=False)`` and ``get_text_embedding([texts], use_tensor=False)``; without it,
    ``laion_clap.CLAP_Module`` is built and ``checkpoint`` loaded (no weights are ever downloaded).
    Audio embeddings are computed once per file and kept.
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike | None = None,
        *,
        model=None,
        amodel: str = "HTSAT-tiny",
        enable_fusion: bool | None = None,
    ):
        if model is None:
            model = _load_clap(checkpoint, amodel, enable_fusion)
        self.model = model
        self.name = f"laion-clap:{Path(checkpoint).name if checkpoint else type(model).__name__}"
        self._audio: dict[str, np.ndarray] = {}

    def audio_embeddings(self, audio_paths: Sequence[str]) -> np.ndarray:
        todo = [p for p in dict.fromkeys(audio_paths) if p not in self._audio]
        for start in range(0, len(todo), 32):
            batch = todo[start : start + 32]
            vectors = self.model.get_audio_embedding_from_filelist(x=batch, use_tensor=False)
            vectors = np.asarray(vectors, dtype=np.float32)
            for path, vector in zip(batch, vectors):
                self._audio[path] = _unit(vector)
        return np.stack([self._audio[p] for p in audio_paths]) if audio_paths else np.zeros((0, 0), np.float32)

    def similarity(self, audio_path: str, text: str) -> float:
        audio = self.audio_embeddings([audio_path])[0]
        text_vector = _unit(np.asarray(self.model.get_text_embedding([text], use_tensor=False), dtype=np.float32)[0])
        return float(audio @ text_vector)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def _load_clap(checkpoint: str | os.PathLike | None, amodel: str, enable_fusion: bool | None):
    if checkpoint is None:
        raise ValueError(
            "The CLAP scorer needs a checkpoint file (e.g. 630k-audioset-fusion-best.pt from the "
            "LAION-CLAP releases): pass --clap-checkpoint FILE. Weights are never downloaded here."
        )
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"CLAP checkpoint {path} does not exist: download it once and pass its path.")
    try:
        import laion_clap
    except ImportError as err:
        raise ImportError(
            "The CLAP similarity filter needs laion-clap (and torch): pip install 'audio-dialogues[clap]'."
        ) from err
    fusion = "fusion" in path.name if enable_fusion is None else enable_fusion
    model = laion_clap.CLAP_Module(enable_fusion=fusion, amodel=amodel)
    model.load_ckpt(ckpt=str(path))
    return model
