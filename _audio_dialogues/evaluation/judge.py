"""A judge beside CIDEr, BLEU-4 and ROUGE-L: a text-only chat model, told what is in the audio, scores answers.

n-gram overlap says how many words an answer shares with the reference, not whether it is right about
the audio. The judge here follows the practice of AIR-Bench's chat benchmark: a chat model that cannot
hear is given a text description of the clip, the question, the reference answer and the candidate
answer, and scores each answer from 1 to 10; it is asked twice, the second time with the two answers'
positions swapped, so that a preference for the first (or second) position cancels out. Audio
Dialogues has that description for every clip: the strong labels' events (times, label, description)
of AudioSet clips, the caption and aspect list of MusicCaps clips.

This module is pure (no network, no files): what the judge is shown (:func:`gather_items`,
:func:`judge_messages`), how its reply is read (:func:`parse_verdict`) and what is reported
(:func:`aggregate`, :func:`table_beside`). :mod:`.judge_run` sends the requests.

A reply's first line holds the two scores, in the order the answers were shown, then a short reason::

    7 9
    Answer 2 names the instrument the description gives; answer 1 guesses a genre.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from ..core.subsets import subset as subset_row
from .score import METRICS, Scores

ORDERS: tuple[str, str] = ("reference-first", "candidate-first")  # the reference is shown first in the first ask

JUDGE_SYSTEM = (
    "You grade answers in a conversation about an audio recording. You cannot hear the recording; "
    "a written description of what it contains is given instead, and it is the ground truth."
)
JUDGE_TEMPLATE = """\
## What the recording contains
{description}

## The conversation so far
{history}

## The user's question
{question}

## Answer 1
{first}

## Answer 2
{second}

## Your task
Grade each answer on its own merits from 1 (wrong or useless) to 10 (correct, relevant and helpful). \
Judge above all whether it is true of the recording as described; also weigh relevance to the question, \
helpfulness and consistency with the conversation. Do not prefer an answer for its length or its position.
Write the two grades, Answer 1's then Answer 2's, as two integers separated by a space, alone on the first \
line. From the second line on, give the reason in one or two sentences."""

# Which judge prompt the scores come from: recorded in the scores and checked on resume.
PROMPT_SHA256 = hashlib.sha256((JUDGE_SYSTEM + "\n" + JUDGE_TEMPLATE).encode("utf-8")).hexdigest()[:16]


class UnreadableVerdict(ValueError):
    """A judge reply whose first line is not two integer scores from 1 to 10 (the request is sent again)."""


@dataclass(frozen=True)
class JudgeItem:
    """One scored turn as the judge sees it: turn ``turn`` (from 1) of dialogue ``id``."""

    id: str
    turn: int
    description: str  # what the clip(s) contain
    history: tuple[tuple[str, str], ...]  # the earlier turns of the release's dialogue: (question, answer)
    question: str
    reference: str
    candidate: str

    def key(self, order: str) -> str:
        """The ledger key of one ask: the item, the order, and a digest of what is shown (a changed
        prediction or description is a new ask, never an old score)."""
        shown = json.dumps([self.description, self.history, self.question, self.reference, self.candidate])
        return f"{self.id}/{self.turn}/{order}/{hashlib.sha256(shown.encode('utf-8')).hexdigest()[:12]}"


@dataclass(frozen=True)
class Verdict:
    """The scores of one ask, in the order the answers were shown, and the judge's reason."""

    first: int
    second: int
    reason: str

    def as_pair(self, order: str) -> tuple[int, int]:
        """``(candidate, reference)``."""
        return (self.second, self.first) if order == "reference-first" else (self.first, self.second)


@dataclass
class Gathered:
    """The items to judge, and the dialogues left out because their clip has no description."""

    items: list[JudgeItem]
    missing_description: list[str]  # dialogue ids
    missing_items: int  # their turns


# ---------------------------------------------------------------------------------------------
# What the judge is shown


def clip_description(config: str, row: Mapping[str, Any]) -> str | None:
    """The text the judge is given for a row's clip(s), or ``None`` when it is not known.

    AudioSet rows carry ``events`` (a list of ``{"mid", "label", "start", "end", "description"}``;
    for ``audioset_comparison`` one such list per clip); MusicCaps rows carry ``caption`` and
    ``aspects`` (the loader's ``with_metadata`` columns, also accepted under their
    ``musiccaps_`` names). A comparison is described only if every clip is.
    """
    if config == "music_dialogues":
        caption = row.get("caption", row.get("musiccaps_caption"))
        aspects = row.get("aspects", row.get("musiccaps_aspects")) or []
        if not caption or not str(caption).strip():
            return None
        text = f"A music clip. Caption: {str(caption).strip()}"
        return text + (f"\nAspects: {', '.join(aspects)}" if aspects else "")
    events = row.get("events")
    if subset_row(config).multi_audio:
        clips = [_event_list(clip) for clip in events or ()]
        if not clips or not all(clips):
            return None
        return "\n".join(f"Audio {n}:\n{events_text(clip)}" for n, clip in enumerate(clips, start=1))
    events = _event_list(events)
    return events_text(events) if events else None


def _event_list(events: Any) -> list[Mapping[str, Any]] | None:
    """A clip's events as a list of dicts; a ``datasets`` ``Sequence`` of dicts reads as a dict of lists."""
    if isinstance(events, Mapping):
        return [dict(zip(events, values)) for values in zip(*events.values())]
    return events


def events_text(events: Sequence[Mapping[str, Any]]) -> str:
    """One line per sound event, in order of onset: ``- 0.00-2.50 s: Dog (a dog barking nearby)``."""
    lines = []
    for event in sorted(events, key=lambda e: (e["start"], e["end"], e["label"])):
        about = f" ({event['description']})" if event.get("description") else ""
        lines.append(f"- {event['start']:.2f}-{event['end']:.2f} s: {event['label']}{about}")
    return "\n".join(lines)


def gather_items(config: str, rows: Iterable[Mapping[str, Any]], predictions: Mapping[str, Sequence[str]]) -> Gathered:
    """Every predicted turn of ``rows`` (the split's rows: ``id``, ``dialogue`` and the description
    columns) as a :class:`JudgeItem`, in split order; dialogues without a description are listed,
    not judged. ``predictions`` must already be checked against the split (:func:`~.score.evaluate`)."""
    gathered = Gathered([], [], 0)
    for row in rows:
        answers = predictions.get(row["id"])
        if answers is None:
            continue
        dialogue = row["dialogue"]
        if len(answers) != len(dialogue):
            raise ValueError(
                f"prediction {row['id']!r} has {len(answers)} answer(s) for a dialogue of {len(dialogue)} turn(s); "
                "give one answer per turn, in order."
            )
        description = clip_description(config, row)
        if description is None:
            gathered.missing_description.append(row["id"])
            gathered.missing_items += len(dialogue)
            continue
        for turn, (answer, reference) in enumerate(zip(answers, dialogue)):
            history = tuple((t["user"], t["assistant"]) for t in dialogue[:turn])
            gathered.items.append(
                JudgeItem(row["id"], turn + 1, description, history, reference["user"], reference["assistant"], answer)
            )
    return gathered


def judge_messages(item: JudgeItem, order: str) -> list[dict[str, str]]:
    """The chat messages of one ask; ``order`` is one of :data:`ORDERS`."""
    if order not in ORDERS:
        raise ValueError(f"order {order!r}: expected one of {', '.join(ORDERS)}")
    first, second = (item.reference, item.candidate) if order == "reference-first" else (item.candidate, item.reference)
    history = "\n".join(f"User: {q}\nAssistant: {a}" for q, a in item.history) or "(none: this is the first question)"
    text = JUDGE_TEMPLATE.format(
        description=item.description, history=history, question=item.question, first=first, second=second
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": text}]


_FIRST_LINE = re.compile(r"(\d{1,2})(?:\s*[,;]\s*|\s+)(\d{1,2})\.?")


def parse_verdict(text: str) -> Verdict:
    """The two scores on the reply's first non-empty line and the reason (the lines after it).

    The line is two integers from 1 to 10 separated by a space or a comma (markdown ``**`` and ``/10``
    are tolerated). Raises :class:`UnreadableVerdict` otherwise.
    """
    lines = text.strip().split("\n")
    if not lines[0].strip():
        raise UnreadableVerdict("empty reply")
    head = re.sub(r"\s*/\s*10\b", "", lines[0].replace("*", "")).strip()
    match = _FIRST_LINE.fullmatch(head)
    if match is None:
        raise UnreadableVerdict(f"first line is not two scores: {lines[0][:80]!r}")
    first, second = int(match[1]), int(match[2])
    if not (1 <= first <= 10 and 1 <= second <= 10):
        raise UnreadableVerdict(f"scores must be from 1 to 10: {lines[0][:80]!r}")
    return Verdict(first, second, "\n".join(lines[1:]).strip())


# ---------------------------------------------------------------------------------------------
# What is reported


@dataclass
class JudgeScores:
    """The judge's scores of one split, over every judged turn and per turn index.

    Each group (``overall``, ``by_turn["1"]``, ...) holds: ``items`` (turns with a description),
    ``judged`` (both asks answered), ``failed`` (an ask whose reply never parsed, or that the server
    refused), ``candidate`` and ``reference`` (mean score over judged items, each item's score the
    mean of its two asks), ``ratio`` (candidate mean / reference mean) and ``disagreement`` (share of
    judged items where the two orders disagree on which answer is better, a tie counting as a side).
    """

    config: str
    split: str
    model: str
    prompt_sha256: str
    overall: dict[str, Any]
    by_turn: dict[str, dict[str, Any]]
    missing_description: int  # dialogues left out: no description of their clip
    missing_description_turns: int
    not_finished: int = 0  # items with an ask never sent (budget reached or interrupted)
    interrupted: bool = False
    dry_run: bool = False  # nothing was sent: the scores are those already in the ledger
    orders: tuple[str, str] = ORDERS
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        o = self.overall
        line = (
            f"judge {self.model} (prompt {self.prompt_sha256}, each turn asked twice, answers swapped): "
            f"{o['judged']} of {o['items']} turns judged, {o['failed']} failed, {self.not_finished} not finished; "
            f"{self.missing_description} dialogues ({self.missing_description_turns} turns) left out: "
            "no description of their clip"
        )
        if self.not_finished and not self.dry_run:
            line += "; rerun the same command to go on"
        return "\n".join([line] + [f"note: {n}" for n in self.notes])


def aggregate(
    config: str,
    split: str,
    model: str,
    gathered: Gathered,
    verdicts: Mapping[str, Verdict | str],
) -> JudgeScores:
    """Scores from the asks' outcomes: ``verdicts[item.key(order)]`` is a :class:`Verdict`, or
    ``"failed"``; a key absent was not asked (yet)."""
    outcomes = [(item, [verdicts.get(item.key(order)) for order in ORDERS]) for item in gathered.items]
    overall = _group(outcomes)
    by_turn = {
        str(turn): _group([o for o in outcomes if o[0].turn == turn])
        for turn in sorted({item.turn for item in gathered.items})
    }
    not_finished = sum(1 for _, pair in outcomes if None in pair and "failed" not in pair)
    return JudgeScores(
        config,
        split,
        model,
        PROMPT_SHA256,
        overall,
        by_turn,
        len(gathered.missing_description),
        gathered.missing_items,
        not_finished,
    )


def _group(outcomes: list[tuple[JudgeItem, list]]) -> dict[str, Any]:
    candidate, reference, disagree = [], [], 0
    failed = 0
    for _, pair in outcomes:
        if "failed" in pair:
            failed += 1
            continue
        if None in pair:
            continue
        (c1, r1), (c2, r2) = (verdict.as_pair(order) for verdict, order in zip(pair, ORDERS))
        candidate.append((c1 + c2) / 2)
        reference.append((r1 + r2) / 2)
        disagree += _sign(c1 - r1) != _sign(c2 - r2)
    judged = len(candidate)
    mean_c = sum(candidate) / judged if judged else None
    mean_r = sum(reference) / judged if judged else None
    return {
        "items": len(outcomes),
        "judged": judged,
        "failed": failed,
        "candidate": mean_c,
        "reference": mean_r,
        "ratio": mean_c / mean_r if judged else None,
        "disagreement": disagree / judged if judged else None,
    }


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def table_beside(scores: Scores, judge: JudgeScores) -> str:
    """The n-gram scores and the judge's, one row per turn index, as Table 3."""
    metrics = METRICS
    head = f"{'turn':<6}{'turns':>7}" + "".join(f"{m:>9}" for m in metrics)
    head += f"{'judged':>8}{'cand':>7}{'ref':>7}{'cand/ref':>10}{'disagree':>10}"
    rows = [("all", scores.turns, scores.overall, judge.overall)] + [
        (k, v["turns"], v, judge.by_turn.get(k)) for k, v in scores.by_turn.items()
    ]
    lines = [
        f"{scores.config}/{scores.split}: {scores.dialogues} of {scores.split_dialogues} dialogues, {scores.turns} "
        f"turns; n-grams: {scores.implementation}",
        judge.summary(),
        head,
    ]
    for name, count, ngram, j in rows:
        line = f"{name:<6}{count:>7}" + "".join(f"{ngram[m]:>9.3f}" for m in metrics)
        if j is None or not j["judged"]:
            line += f"{(j or {}).get('judged', 0):>8}" + f"{'-':>7}{'-':>7}{'-':>10}{'-':>10}"
        else:
            line += (
                f"{j['judged']:>8}{j['candidate']:>7.2f}{j['reference']:>7.2f}{j['ratio']:>10.3f}"
                f"{j['disagreement']:>10.3f}"
            )
        lines.append(line)
    return "\n".join(lines)
