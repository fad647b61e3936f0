"""The release files of a generate run: the ledger's dialogues, filtered, into ``<split>.jsonl``, and every
removal and failure listed (``filtered.tsv``, ``failed.tsv``)."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
from pathlib import Path

from ..core.audio_files import AudioIndex
from ..core.release import Turn
from ..core.subsets import SPLITS, subset
from ..engine.files import replace_atomically, replacing
from ..engine.ledger import Ledger
from .filters import PAPER_MIN_SIMILARITY, Removal, SimilarityScorer, best_similarity, filter_dialogue, similarity_text
from .summary import GenerateSummary


def write_output(
    config_dir: Path,
    config: str,
    ledger: Ledger,
    summary: GenerateSummary,
    *,
    scorer: SimilarityScorer | None = None,
    audio_index: AudioIndex | None = None,
    min_similarity: float = PAPER_MIN_SIMILARITY,
    remove: str = "qa-pair",
    similarity_on: str = "answer",
) -> None:
    """Filter the ledger's dialogues into ``<split>.jsonl`` (every split, even empty) and list what was removed."""
    multi = subset(config).multi_audio
    config_dir.mkdir(parents=True, exist_ok=True)
    score, unscored = _scoring(config_dir, scorer, audio_index, multi, summary.notes, similarity_on)
    summary.notes.append(f"filters remove the unit --remove {remove}")
    removals: list[Removal] = []
    failed = []
    entries = sorted(ledger, key=lambda e: e["key"])  # a slim ledger's rows: the whole ones are read one by one
    whole = ledger.whole_rows(e["key"] for e in entries if e.get("split") in SPLITS and e["status"] == "ok")
    with contextlib.ExitStack() as files:  # every split file written a record at a time, renamed when all are whole
        out = {split: files.enter_context(replacing(config_dir / f"{split}.jsonl")) for split in SPLITS}
        written = dict.fromkeys(SPLITS, 0)
        for entry in entries:
            if entry.get("split") not in SPLITS:  # it names an output file: only a known split may
                raise ValueError(
                    f"{ledger.path}: the entry {str(entry.get('key'))[:40]!r} has the split {entry.get('split')!r}, "
                    f"not one of {', '.join(SPLITS)}; correct that line (or move it out) and rerun."
                )
            if entry["status"] != "ok":
                failed.append(entry)
                continue
            entry = next(whole)
            kept, removed = filter_dialogue(
                entry["key"],
                entry["dialogue"],
                score=score and score(entry),
                min_similarity=min_similarity,
                remove=remove,
            )
            removals += removed
            if kept:
                audio = {"audio_ids": entry["audio_ids"]} if multi else {"audio_id": entry["audio_ids"][0]}
                if all(entry.get("events") or [None]):  # AudioSet: each clip's sound events (core/events.py)
                    audio["events"] = entry["events"] if multi else entry["events"][0]
                out[entry["split"]].write(json.dumps({**audio, "dialogue": kept}, ensure_ascii=False) + "\n")
                written[entry["split"]] += 1
                summary.turns[len(kept)] += 1
                summary.clips_per_record[len(entry["audio_ids"])] += 1
    summary.written.update(written)
    _write_atomic(
        config_dir / "filtered.tsv",
        "youtube_id\tturn\tfilter\tdetail\n"
        + "".join(
            f"{r.youtube_id}\t{r.turn if r.turn is not None else 'all'}\t{r.filter}\t{_tsv(r.detail)}\n"
            for r in removals
        ),
    )
    _write_atomic(
        config_dir / "failed.tsv",
        "youtube_id\treason\trequests\tlast_retry_reason\n"
        + "".join(
            f"{e['key']}\t{e['reason']}\t{e.get('requests', 0)}\t{_tsv((e.get('retries') or [''])[-1])}\n"
            for e in failed
        ),
    )
    summary.filtered.update(r.filter for r in removals)
    if unscored:
        summary.notes.append(
            f"similarity filter: {unscored['pairs']} pairs not scored and kept (their clip is not in --audio-dir)"
        )


def _scoring(config_dir: Path, scorer, audio_index, multi: bool, notes: list[str], similarity_on: str = "answer"):
    """``(score, unscored)``: ``score(entry)`` -> ``score(index, turn)`` (similarities kept in
    ``similarity.jsonl``, so a rerun scores only new pairs), or ``None`` when the filter is off;
    ``unscored`` counts the pairs whose clip has no audio (they are kept)."""
    unscored = collections.Counter()
    if scorer is None:
        notes.append("similarity filter: off (no scorer; pass --clap-checkpoint to turn it on)")
        return None, unscored
    if audio_index is None:
        notes.append("similarity filter: off (it needs the clips: pass --audio-dir)")
        return None, unscored
    notes.append(f"similarity filter: {scorer.name}, on the {similarity_on}" + (", best clip" if multi else ""))
    cache = Ledger(config_dir / "similarity.jsonl", durable=False)  # a lost score is only computed again

    def score(entry: dict):
        paths = [audio_index.resolve(a, a[1:12] if multi else entry["key"]).path for a in entry["audio_ids"]]

        def pair(index: int, turn: Turn) -> float | None:
            if not any(paths):
                unscored["pairs"] += 1
                return None
            text = similarity_text(turn, similarity_on)
            digest = hashlib.sha256(text.encode()).hexdigest()[:16]
            values = []
            for position, path in enumerate(paths):
                clip = "" if position == 0 else f"#{position}"  # a one-clip key is the one it always was
                key = f"{scorer.name}|{entry['key']}{clip}|{index}|{digest}"
                if path is not None and key not in cache:
                    cache.record({"key": key, "score": float(scorer.similarity(path, text))})
                values.append(cache.get(key)["score"] if path is not None else None)
            return best_similarity(values)

        return pair

    return score, unscored


def _tsv(text: str) -> str:
    return str(text).replace("\t", " ").replace("\n", " ")


def _write_atomic(path: Path, text: str) -> None:
    replace_atomically(path, lambda file: file.write(text))  # a new temporary file: no planted link is followed
