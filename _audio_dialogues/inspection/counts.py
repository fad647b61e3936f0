"""The numbers of one split, counted one record at a time (:class:`SplitStats`); :mod:`.stats` reads the release.

Every number is a counter or histogram, so memory does not grow with the release except for 8
bytes per question (a hash, to count repeated questions exactly), the distinct words and word pairs
(bounded by the vocabulary) and a seeded sample of 200 texts for the self-similarity.

How a clip is counted over the AudioSet ontology (a graph): each event of each clip counts once
under every top-level category its label reaches (so shares may sum to more than 100 %); a clip
counts once under every category any of its events reaches. A comparison's clips are counted once
per record they appear in. The paper's two figures (Speech 32.72 %, Musical instrument 20.88 % of
AudioSet-SL) are compared with the share of events whose label is that class or below it.
"""

from __future__ import annotations

import collections
import random
import re
from array import array
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..core.release import Record
from ..core.subsets import subset
from .ontology import Ontology

# The paper's figures (arXiv 2404.07616, section 3 and Table 1).
PAPER_MEAN_TURNS: dict[str, float] = {"audioset_dialogues": 2.21, "music_dialogues": 1.67, "audioset_comparison": 1.0}
PAPER_MEAN_CLIPS: dict[str, float] = {"audioset_comparison": 3.00}
PAPER_SHARES: dict[str, tuple[str, float]] = {"/m/09x0r": ("Speech", 32.72), "/m/04szw": ("Musical instrument", 20.88)}
WH_WORDS: tuple[str, ...] = ("what", "which", "who", "whose", "where", "when", "why", "how")
_WH = frozenset(WH_WORDS)
SIMILARITY_SAMPLE = 200  # answers (and questions) kept per split, seeded, for the self-similarity
TOP = 15  # entries shown in the "most common" lists
FREQUENT_KEPT = 10_000  # question texts kept to name the most repeated ones (their counts come from the hashes)
_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass
class TextStats:
    """Lengths and diversity of one kind of text (questions or answers) of a split."""

    lengths: collections.Counter = field(default_factory=collections.Counter)  # words -> texts
    unigrams: set = field(default_factory=set)
    bigrams: set = field(default_factory=set)
    tokens: int = 0
    pairs: int = 0
    seen: int = 0
    sample: list = field(default_factory=list)  # reservoir of word sets, for the self-similarity

    def add(self, words: list[str], rng: random.Random) -> None:
        n = len(words)
        lengths = self.lengths
        lengths[n] = lengths.get(n, 0) + 1  # dict.get: Counter's += costs twice as much, per text
        self.tokens += n
        if n > 1:
            self.pairs += n - 1
            self.bigrams.update(zip(words, words[1:]))
        self.unigrams.update(words)
        self.seen += 1
        if len(self.sample) < SIMILARITY_SAMPLE:
            self.sample.append(frozenset(words))
        elif rng.random() * self.seen < SIMILARITY_SAMPLE:  # reservoir sampling: kept with chance k/seen
            self.sample[int(rng.random() * SIMILARITY_SAMPLE)] = frozenset(words)

    def result(self) -> dict:
        return {
            "length_words": _summary(self.lengths),
            "length_histogram": _histogram(self.lengths),
            "distinct_1": round(len(self.unigrams) / self.tokens, 4) if self.tokens else None,
            "distinct_2": round(len(self.bigrams) / self.pairs, 4) if self.pairs else None,
            "self_similarity": _self_similarity(self.sample),
        }


@dataclass
class SplitStats:
    """The running numbers of one split; :meth:`add` one record at a time, :meth:`result` at the end."""

    config: str
    split: str
    seed: int = 0
    records: int = 0
    turns: collections.Counter = field(default_factory=collections.Counter)
    clips: collections.Counter = field(default_factory=collections.Counter)
    questions: TextStats = field(default_factory=TextStats)
    answers: TextStats = field(default_factory=TextStats)
    first_words: collections.Counter = field(default_factory=collections.Counter)
    wh_words: collections.Counter = field(default_factory=collections.Counter)
    question_hashes: array = field(default_factory=lambda: array("q"))
    frequent_questions: collections.Counter = field(default_factory=collections.Counter)
    audio_checked: bool = False
    clip_refs: int = 0
    missing_clips: int = 0
    missing_examples: list = field(default_factory=list)
    clips_with_events: int = 0
    clips_without_events: int = 0
    events: int = 0
    event_tops: collections.Counter = field(default_factory=collections.Counter)
    clip_tops: collections.Counter = field(default_factory=collections.Counter)
    paper_classes: collections.Counter = field(default_factory=collections.Counter)
    unknown_labels: collections.Counter = field(default_factory=collections.Counter)
    rng: random.Random = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.rng is None:
            self.rng = random.Random(f"{self.seed}/{self.config}/{self.split}")

    def add(self, record: Record, audio_paths: Sequence[str | None] | None, events: Any, ontology: Ontology) -> None:
        """Count one record; ``audio_paths`` is ``None`` when no audio was looked for (text only)."""
        self.records += 1
        self.turns[len(record.dialogue)] += 1
        self.clips[len(record.audio_ids)] += 1
        first_words, wh_words, frequent, rng = self.first_words, self.wh_words, self.frequent_questions, self.rng
        for turn in record.dialogue:
            question = _words(turn["user"])
            self.questions.add(question, rng)
            self.answers.add(_words(turn["assistant"]), rng)
            first = question[0] if question else "(empty)"
            first_words[first] = first_words.get(first, 0) + 1
            wh = "(no wh-word)"
            for word in question:
                if word in _WH:
                    wh = word
                    break
            wh_words[wh] = wh_words.get(wh, 0) + 1
            normal = " ".join(question)
            self.question_hashes.append(hash(normal))  # 64 bits, compared only within this process
            frequent[normal] = frequent.get(normal, 0) + 1
            if len(frequent) > 2 * FREQUENT_KEPT:  # memory stays bounded; the frequent ones stay
                self.frequent_questions = frequent = collections.Counter(dict(frequent.most_common(FREQUENT_KEPT)))
        if audio_paths is not None:
            self.audio_checked = True
            self.clip_refs += len(audio_paths)
            for youtube_id, path in zip(record.youtube_ids, audio_paths):
                if path is None:
                    self.missing_clips += 1
                    if len(self.missing_examples) < 10:
                        self.missing_examples.append(youtube_id)
        if subset(self.config).multi_audio:
            per_clip = events if events is not None else [None] * len(record.audio_ids)
        else:
            per_clip = [events]
        for clip in per_clip:
            self._add_clip_events(clip, ontology)

    def _add_clip_events(self, clip_events: list | None, ontology: Ontology) -> None:
        if clip_events is None:
            self.clips_without_events += 1
            return
        self.clips_with_events += 1
        reached: set[str] = set()
        for event in clip_events:
            self.events += 1
            mid = event["mid"]
            if mid not in ontology.names:
                self.unknown_labels[mid] += 1
            tops = ontology.tops(mid)
            self.event_tops.update(tops)
            reached.update(tops)
            above = ontology.ancestors(mid) if mid in ontology.names else frozenset()
            self.paper_classes.update(m for m in PAPER_SHARES if m in above)
        self.clip_tops.update(reached)

    def result(self, ontology: Ontology) -> dict:
        turns_total = sum(n * c for n, c in self.turns.items())
        repeated = _repeated(self.question_hashes)
        out: dict[str, Any] = {
            "config": self.config,
            "split": self.split,
            "records": self.records,
            "turns": turns_total,
            "turns_histogram": _histogram(self.turns),
            "turns_mean": _mean(self.turns),
            "paper_turns_mean": PAPER_MEAN_TURNS.get(self.config),
            "clips_histogram": _histogram(self.clips),
            "clips_mean": _mean(self.clips),
            "paper_clips_mean": PAPER_MEAN_CLIPS.get(self.config),
            "questions": self.questions.result(),
            "answers": self.answers.result(),
            "first_words": dict(self.first_words.most_common(TOP)),
            "wh_words": dict(self.wh_words.most_common()),
            "repeated_questions": {
                "questions": len(self.question_hashes),
                "distinct": repeated["distinct"],
                "asked_more_than_once": repeated["repeated"],
                "share_repeated": round(repeated["repeated"] / len(self.question_hashes), 4)
                if self.question_hashes
                else None,
                "most_common": [[q, n] for q, n in self.frequent_questions.most_common(10) if n > 1],
            },
            "audio": None  # text only: no audio folder was given
            if not self.audio_checked
            else {
                "clip_references": self.clip_refs,
                "missing": self.missing_clips,
                "missing_examples": self.missing_examples,
            },
        }
        if self.config != "music_dialogues":
            out["categories"] = self._categories(ontology)
        return out

    def _categories(self, ontology: Ontology) -> dict:
        def share(n: int, of: int) -> float | None:
            return round(100 * n / of, 2) if of else None

        return {
            "clips_with_events": self.clips_with_events,
            "clips_without_events": self.clips_without_events,
            "events": self.events,
            "how_counted": "an event counts once under every top-level category its label reaches (the ontology "
            "is a graph); a clip once under every category any of its events reaches; shares may sum over 100 %",
            "top_level": [
                {
                    "mid": mid,
                    "name": ontology.names[mid],
                    "events": self.event_tops[mid],
                    "event_share": share(self.event_tops[mid], self.events),
                    "clips": self.clip_tops[mid],
                    "clip_share": share(self.clip_tops[mid], self.clips_with_events),
                }
                for mid in ontology.roots
            ],
            "paper": [
                {
                    "mid": mid,
                    "name": name,
                    "paper_share": paper,
                    "event_share": share(self.paper_classes[mid], self.events),
                }
                for mid, (name, paper) in PAPER_SHARES.items()
            ],
            "labels_not_in_ontology": dict(self.unknown_labels.most_common(TOP)),
        }


def _histogram(counter: Mapping[int, int]) -> dict[str, int]:
    return {str(k): counter[k] for k in sorted(counter)}


def _mean(counter: Mapping[int, int]) -> float | None:
    n = sum(counter.values())
    return round(sum(k * c for k, c in counter.items()) / n, 4) if n else None


def _summary(counter: Mapping[int, int]) -> dict:
    n = sum(counter.values())
    if not n:
        return {"mean": None, "median": None, "p95": None, "max": None}

    def quantile(q: float) -> int:
        target, seen = q * n, 0
        for value in sorted(counter):
            seen += counter[value]
            if seen >= target:
                return value
        return max(counter)

    return {"mean": _mean(counter), "median": quantile(0.5), "p95": quantile(0.95), "max": max(counter)}


def _self_similarity(sample: list[frozenset]) -> float | None:
    """Mean Jaccard similarity of the word sets of every pair in the sample (0: all different, 1: all alike)."""
    if len(sample) < 2:
        return None
    total, pairs = 0.0, 0
    for i, a in enumerate(sample):
        for b in sample[i + 1 :]:
            union = len(a | b)
            total += len(a & b) / union if union else 1.0
            pairs += 1
    return round(total / pairs, 4)


def _repeated(hashes: array) -> dict:
    """How many distinct questions, and how many question occurrences share their text with another."""
    ordered = sorted(hashes)
    distinct = repeated = 0
    i = 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j] == ordered[i]:
            j += 1
        distinct += 1
        if j - i > 1:
            repeated += j - i
        i = j
    return {"distinct": distinct, "repeated": repeated}
