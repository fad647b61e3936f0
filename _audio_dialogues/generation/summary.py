"""The report of a generate run: what it did, what the ledger and the output hold, next to the paper's figures;
and ``--status``, how far each ledger got (:func:`tally_status`)."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..core.subsets import subset
from ..engine.ledger import JSON_LINES, Ledger
from ..engine.shard import Shard, ledger_states, status_lines

# The paper's Table 1: mean turns per dialogue, and mean clips per comparison.
PAPER_MEAN_TURNS: dict[str, float] = {"audioset_dialogues": 2.21, "music_dialogues": 1.67, "audioset_comparison": 1.0}
PAPER_MEAN_CLIPS = 3.00


@dataclass
class GenerateSummary:
    """What a run did and what the output holds; :meth:`summary` is the report the command prints."""

    config: str
    out_dir: str
    clips: int = 0
    clips_by_split: dict[str, int] = field(default_factory=dict)
    jobs: int = 0
    finished_before: int = 0  # jobs already in the ledger
    pending: int = 0
    requests: int = 0  # HTTP requests sent in this run (dialogues and label descriptions)
    generated: int = 0  # dialogues finished in this run
    retried: int = 0  # retries in this run
    retry_reasons: collections.Counter = field(default_factory=collections.Counter)
    failed: collections.Counter = field(default_factory=collections.Counter)  # this run, by reason
    not_finished: int = 0  # pending jobs left for the next run (budget or interrupt)
    descriptions_requested: int = 0
    descriptions_failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # the whole ledger, after the run
    ledger_ok: int = 0
    ledger_failed: collections.Counter = field(default_factory=collections.Counter)
    ledger_requests: int = 0
    ledger_prompt_tokens: int = 0
    ledger_completion_tokens: int = 0
    filtered: collections.Counter = field(default_factory=collections.Counter)  # removals by filter
    written: dict[str, int] = field(default_factory=dict)  # records per split file
    turns: collections.Counter = field(default_factory=collections.Counter)
    clips_per_record: collections.Counter = field(default_factory=collections.Counter)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    status: list[str] = field(default_factory=list)  # --status: how far each ledger got (nothing else is done)
    first_prompt: list[dict] | None = None
    budget_reached: bool = False
    interrupted: bool = False

    def summary(self) -> str:
        name = f"{self.config} -> {self.out_dir}"
        splits = ", ".join(f"{split} {n}" for split, n in self.clips_by_split.items())
        lines = [
            f"{name}: {self.clips} clips ({splits}), {self.jobs} dialogues to make, {self.finished_before} "
            f"already in the ledger, {self.pending} to request"
        ]
        if self.status:
            return "\n".join(lines + [f"status: {line}" for line in self.status] + [f"note: {n}" for n in self.notes])
        if self.dry_run:
            lines.append(
                f"dry run: would send {self.pending + self.descriptions_requested} requests "
                f"({self.pending} dialogues, {self.descriptions_requested} label descriptions; "
                "retries not counted); nothing was sent"
            )
            return "\n".join(lines + [f"note: {n}" for n in self.notes])
        failed = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.failed.items())) or "none"
        retried = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.retry_reasons.items()))
        lines += [
            f"this run: {self.requests} requests sent, {self.generated} dialogues generated, {self.retried} retries"
            + (f" ({retried})" if retried else "")
            + f", failed: {failed}",
            *(
                [f"label descriptions: {self.descriptions_requested} requested, {self.descriptions_failed} failed"]
                if self.config != "music_dialogues"
                else []
            ),
            f"tokens this run: {self.prompt_tokens} prompt + {self.completion_tokens} completion",
        ]
        if self.not_finished:
            why = "--max-requests reached" if self.budget_reached else "interrupted"
            lines.append(f"not finished: {self.not_finished} dialogues ({why}); rerun the same command to go on")
        per = 1000 / self.ledger_ok if self.ledger_ok else 0.0
        lines.append(
            f"ledger: {self.ledger_ok} dialogues, failed: "
            + (", ".join(f"{r}: {n}" for r, n in sorted(self.ledger_failed.items())) or "none")
            + (" (rerun with --retry-failed to ask again)" if self.ledger_failed else "")
        )
        if self.ledger_ok:
            lines.append(
                f"cost per 1,000 dialogues: {self.ledger_requests * per:.0f} requests, "
                f"{self.ledger_prompt_tokens * per:.0f} prompt + {self.ledger_completion_tokens * per:.0f} "
                "completion tokens (the ledger's requests, failed ones included, over its dialogues; "
                "label descriptions not included)"
            )
        lines.append(
            "filtered: "
            + (", ".join(f"{f}: {n}" for f, n in sorted(self.filtered.items())) or "nothing")
            + f" (listed in {self.config}/filtered.tsv)"
        )
        lines.append("written: " + ", ".join(f"{split}.jsonl {n} records" for split, n in self.written.items()))
        records = sum(self.turns.values())
        if records:
            mean = sum(t * n for t, n in self.turns.items()) / records
            histogram = ", ".join(f"{t}: {self.turns[t]}" for t in sorted(self.turns))
            lines.append(f"turns: {histogram}; mean {mean:.2f} (paper: {PAPER_MEAN_TURNS[self.config]:.2f})")
        if self.clips_per_record and subset(self.config).multi_audio:
            mean = sum(c * n for c, n in self.clips_per_record.items()) / sum(self.clips_per_record.values())
            lines.append(f"clips per comparison: mean {mean:.2f} (paper: {PAPER_MEAN_CLIPS:.2f})")
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def tally_ledger(ledger: Ledger, summary: GenerateSummary) -> None:
    """The ledger's dialogues and failures, and what they cost (failed clips' requests included)."""
    for entry in ledger:
        if entry["status"] == "ok":
            summary.ledger_ok += 1
        else:
            summary.ledger_failed[entry["reason"]] += 1
        summary.ledger_requests += entry.get("requests", 1)
        summary.ledger_prompt_tokens += entry["usage"]["prompt_tokens"]
        summary.ledger_completion_tokens += entry["usage"]["completion_tokens"]


def slim_entry(entry: dict) -> dict:
    """What a run keeps in memory of a ledger row: a failure whole (it is small, and failed.tsv lists it); of a
    dialogue its status, split and cost (summary.tally_ledger), its whole row read again by write_output."""
    if entry["status"] != "ok":
        return entry
    return {
        "key": entry["key"],
        "status": "ok",
        "split": entry.get("split"),
        "requests": entry.get("requests", 1),
        "usage": entry.get("usage"),
    }


def _finished(entry: dict) -> bool:
    return entry["status"] == "ok"


def tally_status(
    path: Path, shard: Shard | None, retry_failed: bool, jobs_of: Callable, summary: GenerateSummary
) -> None:
    """``--status``: how far each ledger of ``path`` got, and what a run would ask (each ledger read once, only
    a flag per key kept); ``jobs_of(to_ask)`` makes the run's jobs (generation/pipeline.py) and counts them."""
    skipped: collections.Counter = collections.Counter()
    states = ledger_states(path, JSON_LINES, _finished, skipped)
    seen = {key for _, state in states for key in state}
    done = {key for _, state in states for key, ok in state.items() if ok}
    own = shard.path(path) if shard is not None else path
    if shard is not None:
        summary.notes.append(f"shard {shard}: ledger {own.name}; the release is written by the merge")
    elif any(file != path for file, _ in states):  # what a merge would take, counted as fold counts it
        merged = dict(next((state for file, state in states if file == path), {}))
        taken = 0
        for file, state in states:
            for key, ok in state.items() if file != path else ():
                if key not in merged or (ok and not merged[key]):
                    merged[key], taken = ok, taken + 1
        summary.notes.append(f"merged {sum(file != path for file, _ in states)} shard ledgers: {taken} rows")

    def to_ask(key: str) -> bool:
        return (shard is None or shard.owns(key)) and (key not in seen or (retry_failed and key not in done))

    jobs, _ = jobs_of(to_ask)
    summary.status = status_lines(
        path,
        JSON_LINES,
        _finished,
        lambda part: sum(part.owns(job.key) for job in jobs),
        what="dialogues",
        states=states,
    )
    for name, count in skipped.items():
        summary.notes.append(
            f"{name}: {count} lines are not ledger rows (a last line cut short is set aside by the next run; "
            "another is named by it) and are not counted here"
        )
