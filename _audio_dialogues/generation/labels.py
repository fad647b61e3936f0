"""Which label descriptions a generate run asks for, and, for a shard, which it waits for from the others.

An AudioSet dialogue shows each event with a short description of its label, asked once per label and kept
in ``OUT_DIR/label_descriptions.jsonl`` (a shard: ``label_descriptions.shard-K-of-N.jsonl``). Shards that run
at once must not both pay for a label their clips share, and no file may be written by two of them, so each
label has one owner, by the same stable hash that splits the dialogues (:func:`~..engine.shard.owner`)::

    every shard: the labels of all the clips (the whole release, not only its part), minus those described
    shard K:     asks the labels it owns (writing only its own ledger), then the dialogues whose labels are
                 all described; then it waits, reading the owners' ledgers (never writing them), for the
                 labels of its other dialogues, and asks those

A label whose owner recorded a failure is not waited for: its events are shown by name only, as in an
unsharded run after a failed description. The wait is bounded (``--label-wait``); at its end the error
names the shards and labels awaited. Ctrl-C ends it as it ends the requests (the engine's stop policy).
An unsharded run (the merge) asks what its own pending dialogues need, as it always did, and waits for
nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..core.strong_labels import shipped_label_names
from ..engine.ledger import JSON_LINES, Ledger
from ..engine.shard import Shard, owner
from .chat import Interrupted
from .clips import Clip, Job

LONGEST_POLL = 5.0  # seconds between two looks at the owners' ledgers, once the wait is long (it starts at 0.1 s)
SAY_EVERY = 60.0  # seconds between two progress lines while nothing arrives


class LabelWaitExpired(TimeoutError):
    """A shard waited ``--label-wait`` seconds for label descriptions other shards ask, and they did not come."""


@dataclass
class LabelPlan:
    """The label descriptions of one run: asked by it, awaited from other shards, or missing for good."""

    ask: list[str] = field(default_factory=list)  # this run asks these (MIDs), in order
    awaited: dict[str, Shard] = field(default_factory=dict)  # MID -> the shard that asks it
    failed: set[str] = field(default_factory=set)  # their request failed before: shown by name only
    shard: Shard | None = None

    def ready(self, jobs: Sequence[Job]) -> tuple[list[Job], list[Job]]:
        """``jobs`` split into those that need no awaited label (asked first) and those that wait."""
        if not self.awaited:  # an unsharded run, or a shard with every label at hand
            return list(jobs), []
        now, later = [], []
        for job in jobs:
            (later if any(label in self.awaited for label in labels_of(job.clips)) else now).append(job)
        return now, later

    def notes(self) -> list[str]:
        """What the summary says of the labels (said on every run that uses them)."""
        notes = []
        if self.failed:
            notes.append(failed_note(self.failed, "their request failed in an earlier run; --retry-failed asks again"))
        if self.awaited:
            by_owner = _by_owner(self.awaited)
            owners = ", ".join(f"shard {part}: {len(labels)}" for part, labels in by_owner.items())
            notes.append(
                f"shard {self.shard}: {len(self.awaited)} labels of its clips are described by the shards that own "
                f"them ({owners}): their dialogues are asked once those descriptions are recorded"
            )
        return notes


def labels_of(clips: Iterable[Clip]) -> set[str]:
    """The MIDs of the clips' events."""
    return {event.label for clip in clips if clip.strong for event in clip.strong.events}


def plan_labels(
    clips: Sequence[Clip],
    pending: Sequence[Job],
    shard: Shard | None,
    described: Iterable[str],
    failed: Iterable[str],
    retry_failed: bool = False,
) -> LabelPlan:
    """Which labels this run asks for, which it awaits and which stay without a description.

    ``described``: every label with a description (any ledger, ``--label-descriptions``); ``failed``: every
    label whose request failed (any ledger), asked again only with ``retry_failed``. An unsharded run asks
    what its ``pending`` dialogues need; a shard asks every label of ``clips`` it owns (every shard computes
    the same set, so each label is asked by one shard) and awaits the others its dialogues need, except
    those that failed (their owner asks again only with --retry-failed: they are not waited for).
    """
    described = set(described)
    failed = set(failed) - described
    again = set() if retry_failed else failed
    used = labels_of(clip for job in pending for clip in job.clips) - described
    if shard is None:
        return LabelPlan(ask=sorted(used - again), failed=used & again)
    ask = {label for label in labels_of(clips) - described - again if owner(label, shard.count) == shard.index}
    gone = (used & failed) - ask
    awaited = {label: Shard(owner(label, shard.count), shard.count) for label in sorted(used - ask - gone)}
    return LabelPlan(ask=sorted(ask), awaited=awaited, failed=gone, shard=shard)


def await_labels(
    path: Path,
    plan: LabelPlan,
    descriptions: dict[str, str],
    *,
    stop: threading.Event,
    wait: float,
    notes: list[str],
    say: Callable[[str], None] | None = None,
) -> None:
    """Wait until every label of ``plan.awaited`` is recorded in its owner's ledger of ``path``, read only.

    A description joins ``descriptions``; a recorded failure ends the wait for that label (a note names it).
    Progress lines go to ``say`` (stderr). Raises :class:`Interrupted` once ``stop`` is set (Ctrl-C) and
    :class:`LabelWaitExpired` after ``wait`` seconds, naming the shards, their ledgers and the labels.
    """
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    waiting = dict(plan.awaited)
    seen: dict[Path, tuple[int, int]] = {}  # a ledger is read again only when its size or time changed
    failed: dict[str, Shard] = {}
    start = time.monotonic()
    poll, said_at, said_left = 0.1, start, len(waiting)
    say(f"shard {plan.shard}: waiting for {_awaiting(waiting)}, up to {wait:g} s (--label-wait)")
    while True:
        for part in sorted(set(waiting.values()), key=lambda s: s.index):
            file = part.path(path)
            try:
                stat = file.stat()
            except FileNotFoundError:
                continue
            if seen.get(file) == (stat.st_size, stat.st_mtime_ns):
                continue
            seen[file] = (stat.st_size, stat.st_mtime_ns)
            rows = Ledger(file, JSON_LINES).rows  # read only: a torn last line (the owner is writing) is left
            for label in [label for label, by in waiting.items() if by == part and label in rows]:
                row = rows[label]
                if row["status"] == "ok":
                    descriptions[label] = row["description"]
                else:
                    failed[label] = part
                del waiting[label]
        now = time.monotonic()
        if not waiting:
            break
        if stop.is_set():
            say(f"shard {plan.shard}: the wait for label descriptions is stopped; rerun the same command to go on")
            raise Interrupted
        if now - start >= wait:
            raise LabelWaitExpired(_expired(path, plan.shard, waiting, wait))
        if len(waiting) != said_left or now - said_at >= SAY_EVERY:
            say(f"shard {plan.shard}: still waiting for {_awaiting(waiting)}, {now - start:.0f} s so far")
            said_at, said_left = now, len(waiting)
        stop.wait(min(poll, max(wait - (now - start), 0.0)))
        poll = min(poll * 2, LONGEST_POLL)
    say(f"shard {plan.shard}: the awaited label descriptions are recorded (waited {time.monotonic() - start:.0f} s)")
    if failed:
        owners = ", ".join(f"shard {part}" for part in _by_owner(failed))
        notes.append(
            failed_note(set(failed), f"their request failed in {owners}, which asks again with --retry-failed")
        )


def failed_note(labels: set[str], why: str) -> str:
    """The note of labels without a description, the same on every run that uses them."""
    return (
        f"{len(labels)} labels of the clips to ask have no description ({why}): their events are shown by "
        f"name only (first: {', '.join(sorted(labels)[:5])})"
    )


def _by_owner(labels: dict[str, Shard]) -> dict[Shard, list[str]]:
    grouped: dict[Shard, list[str]] = defaultdict(list)
    for label, part in sorted(labels.items(), key=lambda item: (item[1].index, item[0])):
        grouped[part].append(label)
    return dict(grouped)


def _named(labels: Sequence[str], most: int = 5) -> str:
    names = shipped_label_names()
    shown = ", ".join(f"{label} ({names[label]})" if label in names else label for label in labels[:most])
    return shown + (f" and {len(labels) - most} more" if len(labels) > most else "")


def _awaiting(waiting: dict[str, Shard]) -> str:
    owners = ", ".join(f"shard {part}: {len(labels)}" for part, labels in _by_owner(waiting).items())
    return f"{len(waiting)} label descriptions ({owners})"


def _expired(path: Path, shard: Shard | None, waiting: dict[str, Shard], wait: float) -> str:
    parts = _by_owner(waiting)
    missing = "; ".join(
        f"shard {part}: {part.path(path).name} lacks {_named(labels)}" for part, labels in parts.items()
    )
    runs = " and ".join(f"--shard {part}" for part in parts)
    return (
        f"{path.parent}: shard {shard} waited {wait:g} s (--label-wait) for {len(waiting)} label descriptions that "
        f"other shards ask, and they were not recorded ({missing}). Run the same command with {runs} (each "
        f"label is asked by the shard that owns it), then rerun this shard; or give it a longer --label-wait; or "
        "run without --shard (the merge asks what is missing). This shard's dialogues and label descriptions "
        "recorded so far are kept."
    )
