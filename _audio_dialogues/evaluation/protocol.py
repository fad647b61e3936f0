"""The paper's protocol: a model answers a split turn by turn, into the predictions file :func:`~.score.evaluate`
reads. It runs on the engine (:mod:`..engine`): the predictions file is the run's ledger (one dialogue a
line, written as soon as its turns are answered), under a lock, with its settings recorded beside it
(``<out>.protocol.json``) and the engine's stop policy::

    run_protocol(model, "audioset_dialogues", "test", out="pred.jsonl", audio_dir="clips")
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ..core.release import Turn
from ..core.splits import read_release, release_options
from ..engine.ledger import JsonLinesCodec, Ledger
from ..engine.lock import FolderLock
from ..engine.options import option, options_from, shaping
from ..engine.runner import run_jobs
from ..engine.settings import check_settings
from ..engine.shard import Shard, check_no_shard_running, fold, other_rows, shard_files, status_lines
from ..engine.stop import StopPolicy
from .protocol_settings import AF1_CHAT_DECODING, takes_decoding

logger = logging.getLogger("audio_dialogues")


@dataclass(frozen=True)
class ProtocolOptions:
    """The options of :func:`run_protocol` (besides the load options), declared once."""

    teacher_forcing: bool = option(
        False, "the history holds the release's answers, not the model's own", shapes=True, cli=False
    )
    batch_size: int = option(1, "dialogues asked at once of a model with answer_batch", minimum=1, cli=False)
    shard: str | None = option(None, "answer only part K of N of the dialogues; a run without it merges", cli=False)
    status: bool = option(False, "say how far the predictions file and each shard's got; ask nothing", cli=False)
    progress: bool = option(True, "a progress bar", cli=False)


@dataclass(frozen=True)
class Query:
    """One question put to the model: turn ``turn`` (from 1) of dialogue ``id``."""

    id: str
    turn: int
    audio: Any  # the decoded clip {"path", "array", "sampling_rate"}, a list of them (comparison), or None if missing
    history: list[Turn]  # the earlier turns: the model's own answers, or the references with teacher forcing
    question: str
    decoding: Mapping[str, Any] | None = None  # the decoding settings of the run (AF1's by default)


Model = Callable[[Any, list[Turn], str], str]  # model(audio, history, question) -> answer


@dataclass
class ProtocolReport:
    """What one :func:`run_protocol` run did; every dialogue of the split is in exactly one count."""

    config: str
    split: str
    out: str
    teacher_forcing: bool
    dialogues: int  # in the split (release records)
    answered: int = 0  # answered and written by this run
    resumed: int = 0  # already in ``out`` from an earlier run, not asked again
    skipped_missing_audio: int = 0  # left out by the loader (missing_audio="skip"): not in ``out``
    without_audio: int = 0  # answered with audio None (missing_audio="keep", or an undecodable clip)
    torn_lines: int = 0  # an unfinished last line of ``out`` (an interrupted write) that was dropped and redone
    status: list[str] = field(default_factory=list)  # status=True: how far each predictions file got

    @property
    def complete(self) -> bool:
        return self.resumed + self.answered + self.skipped_missing_audio == self.dialogues

    def summary(self) -> str:
        mode = "teacher forcing (reference history)" if self.teacher_forcing else "own-answer history"
        line = (
            f"{self.config}/{self.split} -> {self.out} ({mode}): {self.dialogues} dialogues; answered "
            f"{self.answered} now, {self.resumed} already written, {self.skipped_missing_audio} skipped "
            f"(missing audio), {self.without_audio} answered without audio (missing or undecodable)"
        )
        if self.torn_lines:
            line += f"; dropped {self.torn_lines} unfinished last line and answered that dialogue again"
        return "\n".join([line, *(f"  status: {status}" for status in self.status)])


def run_protocol(
    model: Model,
    config: str,
    split: str = "test",
    *,
    out: str | os.PathLike,
    teacher_forcing: bool = False,
    batch_size: int = 1,
    progress: bool = True,
    shard: str | None = None,
    status: bool = False,
    decoding: Mapping[str, Any] | None = AF1_CHAT_DECODING,
    without_audio: bool = False,
    **load_options: Any,
) -> ProtocolReport:
    """Run ``model`` over a split the paper's way and write the predictions file :func:`evaluate` reads.

    For each dialogue, turn by turn, the model is called as ``model(audio, history, question)`` and
    returns its answer: ``audio`` is the decoded clip (the list of clips for ``audioset_comparison``),
    ``history`` the earlier turns with the model's own answers (the release's answers when
    ``teacher_forcing=True``), ``question`` the user turn. A model with an ``answer_batch(queries)``
    method (a list of :class:`Query` -> a list of answers) is asked ``batch_size`` dialogues' turn
    ``k`` at once instead.

    The split is loaded with :func:`~.loading.load_dataset` and ``load_options`` (``data_dir``,
    ``audio_dir``, ``missing_audio``, ``cache_dir``, ...): a record whose audio is missing is
    answered with ``audio=None`` (``missing_audio="keep"``), left out (``"skip"``), or stops the run
    (``"error"``), and counted in the report. Each dialogue's line is appended to ``out`` once all
    its turns are answered; a rerun with the same ``out`` continues after the dialogues already
    there (an unfinished last line from an interrupted write is dropped and redone). The settings are
    kept in ``<out>.protocol.json``; a rerun with other settings is refused. A release loaded without
    ``audio_dir`` would answer every dialogue with ``audio=None``: that is refused unless ``without_audio=True``
    (a text-only baseline on purpose).

    ``decoding`` (AF1's chat sampling by default, :data:`~.protocol_settings.AF1_CHAT_DECODING`) is
    passed as ``model(..., decoding=...)`` when the model takes that keyword, and as ``Query.decoding``
    to ``answer_batch``; what was passed is recorded in the settings (``null``: nothing).

    ``shard="K/N"`` answers only part K of N of the dialogues (a stable split by id, :mod:`..engine.shard`)
    into ``<out stem>.shard-K-of-N<suffix>``; a run without ``shard`` over the same ``out`` is the merge: it
    takes every shard's answers into ``out`` and asks only for what none of them answered. ``status=True`` asks
    nothing and writes nothing (the shards may be running): the report counts what every file holds (``resumed``)
    and says in ``status`` how far ``out`` and each shard's file got; ``model`` is not called (``None`` will do).
    """
    from ..loading.load import load_dataset

    has_release = load_options.get("data_dir") is not None or load_options.get("data_files") is not None
    if has_release and load_options.get("audio_dir") is None and not without_audio:
        raise ValueError(
            f"run_protocol({config!r}) was given a release but no audio_dir=: every dialogue would be answered "
            "with audio=None. Pass audio_dir= the folder of your clips, or without_audio=True for a text-only run."
        )
    chosen = options_from(
        ProtocolOptions,
        {
            "teacher_forcing": teacher_forcing,
            "batch_size": batch_size,
            "progress": progress,
            "shard": shard,
            "status": status,
        },  # fmt: skip
        command="run_protocol",
    )
    out = Path(out)
    part = Shard.parse(chosen.shard, flag="shard=")
    own = part.path(out) if part else out  # this run's own predictions file
    answer_batch = getattr(model, "answer_batch", None)
    passed = dict(decoding) if decoding is not None and (answer_batch or takes_decoding(model)) else None
    settings = {
        "config": config,
        "split": split,
        **shaping(chosen),
        # which release: example ids are positions, so another release's answers would fit the same ids
        "release": json.loads(json.dumps(release_options(load_options), sort_keys=True, default=str)),
        "decoding": passed,
    }
    ds = load_dataset(config, split, **load_options)
    dialogues = len(ds)
    if load_options.get("missing_audio") == "skip":  # only then may the loader have left dialogues out
        dialogues = len(read_release(config, [split], **release_options(load_options))[split])
    report = ProtocolReport(config, split, str(out), teacher_forcing, dialogues)
    report.skipped_missing_audio = dialogues - len(ds)
    ids = ds["id"]
    if part is not None:  # the report counts this part only
        report.dialogues, report.skipped_missing_audio = sum(part.owns(i) for i in ids), 0
    audio_column = "audios" if "audios" in ds.column_names else "audio"
    if chosen.status:
        return _status(report, out, part, ids)
    if part is None:
        check_no_shard_running(out.parent, "protocol run", [f.with_name(f".{f.name}.lock") for f in shard_files(out)])
    with FolderLock(out.parent, "protocol run", holder=str(own), name=f".{own.name}.lock"):
        ledger = _resume(own, settings, set(ids))
        for marker in [_marker(out), *map(_marker, shard_files(out))]:  # every part was asked alike
            if marker != _marker(own):
                check_settings(marker, settings, what=str(out), record=False)
        others = other_rows(out, ledger.codec, part)  # the merge writes them into out; a shard only reads them
        fold(ledger, others, lambda new, old: False, keep=part.owns if part else set(ids).__contains__,
             record=part is None)  # fmt: skip
        report.resumed, report.torn_lines = len(ledger), ledger.torn_lines
        todo = [
            i for i, example_id in enumerate(ids) if example_id not in ledger and (not part or part.owns(example_id))
        ]
        batches = [todo[start : start + batch_size] for start in range(0, len(todo), batch_size)]

        def answer(batch: list[int]) -> tuple[list[dict], list[list[str]]]:
            rows = [ds[i] for i in batch]
            return rows, _answer(model, answer_batch, rows, audio_column, teacher_forcing, passed)

        def record(batch: list[int], answered: tuple[list[dict], list[list[str]]]) -> None:
            rows, answers = answered
            for row, given in zip(rows, answers):
                audio = row[audio_column]
                report.without_audio += audio is None or (isinstance(audio, list) and None in audio)
                ledger.record({"id": row["id"], "answers": given})
            report.answered += len(rows)

        with ledger, StopPolicy("the dialogues in flight are answered and written") as stop:
            run_jobs(
                batches,
                answer,
                record,
                workers=1,  # the model is called by one thread, batch after batch
                stop=stop.event,
                commit=ledger.commit,
                total=len(batches),
                label=f"{config}/{split}",
                unit="batch",
                progress=progress,
            )
    if stop.stopped:
        logger.warning(
            f"interrupted: {report.resumed + report.answered} of {len(ids)} dialogues are in {out}; "
            "run again with the same out to continue"
        )
        raise KeyboardInterrupt
    logger.info(report.summary())
    return report


def _answer(
    model: Model, answer_batch, rows: list[dict], audio_column: str, teacher_forcing: bool, decoding=None
) -> list[list[str]]:
    """Every turn of ``rows``' dialogues answered, turn ``k`` of all rows before turn ``k + 1``."""
    answers: list[list[str]] = [[] for _ in rows]
    for turn in range(max(len(row["dialogue"]) for row in rows)):
        asking = [(row, given) for row, given in zip(rows, answers) if turn < len(row["dialogue"])]
        queries = [
            Query(
                row["id"],
                turn + 1,
                row[audio_column],
                [
                    Turn(user=t["user"], assistant=t["assistant"] if teacher_forcing else a)
                    for t, a in zip(row["dialogue"], given)
                ],
                row["dialogue"][turn]["user"],
                decoding,
            )
            for row, given in asking
        ]
        if answer_batch is not None:
            replies = list(answer_batch(queries))
            if len(replies) != len(queries):
                raise ValueError(
                    f"model.answer_batch returned {len(replies)} answers for {len(queries)} queries "
                    f"(turn {turn + 1} of {', '.join(q.id for q in queries)}); return one per query."
                )
        else:
            extra = {"decoding": decoding} if decoding is not None else {}
            replies = [model(q.audio, q.history, q.question, **extra) for q in queries]
        for query, reply, (_, given) in zip(queries, replies, asking):
            if not isinstance(reply, str):
                raise TypeError(
                    f"The model answered {type(reply).__name__} for {query.id} turn {query.turn}; "
                    "expected the answer text (str)."
                )
            given.append(reply)
    return answers


def _status(report: ProtocolReport, out: Path, part: Shard | None, ids: list[str]) -> ProtocolReport:
    """``status=True``: every predictions file read (never written), the report of what they hold together."""
    ledger = Ledger(part.path(out) if part else out, JsonLinesCodec(key_field="id"))  # reading writes nothing
    mine = {example_id for example_id in ids if part is None or part.owns(example_id)}
    fold(ledger, other_rows(out, ledger.codec, part), lambda new, old: False, keep=mine.__contains__)
    report.resumed = sum(example_id in ledger for example_id in mine)
    report.status = status_lines(
        out, ledger.codec, lambda row: True, lambda shard: sum(map(shard.owns, ids)), what="dialogues"
    )
    return report


def _marker(out: Path) -> Path:
    return out.with_name(out.name + ".protocol.json")


def _resume(out: Path, settings: dict[str, Any], ids: set[str]) -> Ledger:
    """``out`` as the run's ledger (created with its settings file if new, its torn last line set aside)."""
    marker = _marker(out)
    if not marker.is_file() and out.exists() and out.stat().st_size:
        raise ValueError(
            f"{out} exists and was not written by run_protocol (no {marker.name} beside it): choose "
            "another out file, or delete it."
        )
    check_settings(marker, settings, what=str(out), fix="choose another out file, or delete both files to start again")
    ledger = Ledger(out, JsonLinesCodec(key_field="id"))
    ledger.repair()
    out.touch()
    unknown = sorted(set(ledger.rows) - ids)
    if unknown:
        raise ValueError(
            f"{out} holds answers for ids not in this split ({', '.join(unknown[:5])}): it belongs to "
            "another release or split; choose another out file."
        )
    return ledger
