"""Scoring a model the paper's way: CIDEr, BLEU-4 and ROUGE-L on a split's assistant turns.

The paper (Table 3) answers each test dialogue turn by turn, the model's own earlier answers as the
history, and scores every answer against the release's answer with the COCO caption metrics. Two
steps do the same here::

    run_protocol(model, "audioset_dialogues", "test", out="pred.jsonl", audio_dir="clips")
    scores = evaluate("pred.jsonl", "audioset_dialogues", "test")
    print(scores.table())

The predictions file is JSON Lines, one dialogue a line, one answer per turn, in order::

    {"id": "test-000012", "answers": ["A dog is barking.", "Outdoors, it seems."]}

**The implementation** is ``pycocoevalcap`` 1.2 (the COCO caption evaluation code): its ``Bleu(4)``,
``Rouge`` (ROUGE-L, beta 1.2) and ``Cider`` (CIDEr-D: sigma 6, clipped counts, x10) scorers, called
on every scored turn as one item with one candidate and one reference. Re-implementing them would
only add ways to differ from the numbers people compare with. Tokenization is that package's Stanford
PTB tokenizer jar with its punctuation list, run by :func:`ptb_tokenize` rather than by its
``PTBTokenizer`` wrapper, which pairs output lines with items by ``zip`` (a carriage return or U+2028
inside an answer shifts every later item silently) and writes its temporary file into the installed
package. The tokens are the same (checked by the tests); the wrapper here turns every line break
inside an answer into a space (the wrapper does this for ``\\n`` only) and checks the line count.
The tokenizer needs Java (any runtime >= 8).

Per turn index (turn 1, 2, ...) the same three metrics are computed on that turn's items alone, as a
corpus of their own (CIDEr's document frequencies come from the items scored together).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..core.release import Turn
from ..core.splits import read_release, release_options
from ..core.subsets import subset as subset_row
from ..engine.ledger import JsonLinesCodec, Ledger
from ..engine.lock import FolderLock
from ..engine.runner import run_jobs
from ..engine.settings import check_settings
from ..engine.stop import StopPolicy

logger = logging.getLogger("audio_dialogues")

METRICS: tuple[str, ...] = ("BLEU-4", "ROUGE-L", "CIDEr")
IMPLEMENTATION = "pycocoevalcap 1.2: PTB tokenizer, Bleu(4), Rouge (ROUGE-L), Cider (CIDEr-D)"
INSTALL_HINT = "pip install 'audio-dialogues[evaluate]' (pycocoevalcap)"
JAVA_HINT = "install a Java runtime, e.g. apt-get install default-jre-headless (or conda install openjdk)"

# Characters the Java tokenizer ends a line at (it runs with -preserveLines): inside an answer they become spaces.
_LINE_BREAKS = re.compile("[\r\n\v\f\u2028\u2029]")


class PredictionError(ValueError):
    """A predictions file or prediction that cannot be scored against the split."""


class JavaMissingError(RuntimeError):
    """No Java runtime to run the COCO (Stanford PTB) tokenizer."""


# ---------------------------------------------------------------------------------------------
# Scoring


@dataclass
class Scores:
    """The scores of one split: over every scored turn, and per turn index."""

    config: str
    split: str
    dialogues: int  # dialogues scored
    turns: int  # turns (items) scored
    overall: dict[str, float]
    by_turn: dict[str, dict[str, float]]  # "1", "2", ...: the three metrics and "turns" (items)
    split_dialogues: int  # dialogues in the split: more than ``dialogues`` when a subset was scored
    implementation: str = IMPLEMENTATION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def table(self) -> str:
        """A readable table: one row for all turns, then one per turn index."""
        scope = "every dialogue" if self.dialogues == self.split_dialogues else "a subset"
        lines = [
            f"{self.config}/{self.split}: {self.dialogues} of {self.split_dialogues} dialogues scored ({scope}), "
            f"{self.turns} turns",
            f"({self.implementation})",
            f"{'turn':<6}{'turns':>7}" + "".join(f"{m:>9}" for m in METRICS),
        ]
        rows = [("all", self.turns, self.overall)] + [(k, v["turns"], v) for k, v in self.by_turn.items()]
        lines += [f"{name:<6}{count:>7}" + "".join(f"{row[m]:>9.3f}" for m in METRICS) for name, count, row in rows]
        return "\n".join(lines)


def ptb_tokenize(texts: Sequence[str]) -> list[str]:
    """Each text tokenized as the COCO caption code does: PTB tokens, lower-cased, punctuation removed.

    One Java process for all texts. Raises :class:`JavaMissingError` without Java.
    """
    jar, punctuation = _coco_tokenizer()
    java = shutil.which("java")
    if java is None:
        raise JavaMissingError(
            "Scoring tokenizes answers with the Stanford PTB tokenizer of the COCO caption code, which runs on Java, "
            f"and no 'java' is on PATH: {JAVA_HINT}, then rerun."
        )
    if not texts:
        return []
    # A last line that is not empty: the tokenizer drops trailing empty lines, which would shorten the output.
    lines = [_LINE_BREAKS.sub(" ", text) for text in texts] + ["end"]
    with tempfile.TemporaryDirectory(prefix="audio-dialogues-ptb-") as folder:
        source = Path(folder) / "sentences.txt"
        source.write_bytes("\n".join(lines).encode("utf-8"))
        done = subprocess.run(
            [
                java,
                "-cp",
                jar,
                "edu.stanford.nlp.process.PTBTokenizer",
                "-preserveLines",
                "-lowerCase",
                "-encoding",
                "utf-8",
                str(source),
            ],
            capture_output=True,
        )
    if done.returncode != 0:
        raise RuntimeError(
            f"The PTB tokenizer ({jar}) failed with exit code {done.returncode}: "
            f"{done.stderr.decode('utf-8', 'replace')[-2000:]}"
        )
    out = done.stdout.decode("utf-8").split("\n")
    if out and out[-1] == "":
        out.pop()
    if len(out) != len(lines) or out[-1].strip() != "end":
        raise RuntimeError(
            f"The PTB tokenizer returned {len(out)} lines for {len(lines)}: the items cannot be "
            "paired with their tokens. Please report this with the predictions file."
        )
    return [" ".join(w for w in line.rstrip().split(" ") if w not in punctuation) for line in out[:-1]]


def _coco_tokenizer() -> tuple[str, frozenset[str]]:
    """The jar and punctuation list shipped in pycocoevalcap."""
    try:
        from pycocoevalcap.tokenizer import ptbtokenizer
    except ImportError as err:
        raise ImportError(f"Scoring uses the COCO caption evaluation code: {INSTALL_HINT}.") from err
    jar = Path(ptbtokenizer.__file__).with_name(ptbtokenizer.STANFORD_CORENLP_3_4_1_JAR)
    return str(jar), frozenset(ptbtokenizer.PUNCTUATIONS)


def coco_scores(candidates: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """BLEU-4, ROUGE-L and CIDEr-D of tokenized items (``candidates[i]`` against ``references[i]``)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates for {len(references)} references")
    if not candidates:
        raise ValueError("nothing to score: no items")
    res = {i: [c] for i, c in enumerate(candidates)}
    gts = {i: [r] for i, r in enumerate(references)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, _ = Rouge().compute_score(gts, res)
    cider, _ = Cider().compute_score(gts, res)
    return {"BLEU-4": float(bleu[3]), "ROUGE-L": float(rouge), "CIDEr": float(cider)}


def evaluate(
    predictions: str | os.PathLike | Mapping[str, Sequence[str]],
    config: str,
    split: str = "test",
    *,
    subset: bool = False,
    data_dir: str | os.PathLike | None = None,
    data_files=None,
    verification_mode: str | None = None,
    on_invalid: str = "error",
) -> Scores:
    """Score predictions against the assistant turns of ``config``/``split`` (the paper's Table 3 metrics).

    ``predictions`` is a JSON Lines file (see the module docstring) or ``{example id: [answer, ...]}``.
    The references are read with :func:`~.splits.read_release` (the bundled sample without
    ``data_dir``/``data_files``). ``subset=True`` scores only the dialogues predicted; otherwise a
    dialogue without a prediction is an error.

    Raises:
        PredictionError: a prediction for an id not in the split, with a number of answers other than
            the dialogue's turns, a malformed line, or (without ``subset``) dialogues not predicted.
        JavaMissingError: no Java for the tokenizer.
    """
    subset_row(config)  # an unknown config is refused before anything is read, with a did-you-mean
    given = read_predictions(predictions) if isinstance(predictions, (str, os.PathLike)) else _from_mapping(predictions)
    records = read_release(
        config,
        [split],
        data_dir=data_dir,
        data_files=data_files,
        verification_mode=verification_mode,
        on_invalid=on_invalid,
    )[split]
    dialogues = {joined.id: joined.record.dialogue for joined in records}
    items = _pair(given, dialogues, f"{config}/{split}", subset)
    tokens = ptb_tokenize([c for _, c, _ in items] + [r for _, _, r in items])
    candidates, references = tokens[: len(items)], tokens[len(items) :]
    overall = coco_scores(candidates, references)
    by_turn: dict[str, dict[str, float]] = {}
    for turn in sorted({t for t, _, _ in items}):
        chosen = [i for i, (t, _, _) in enumerate(items) if t == turn]
        scores = (
            overall
            if len(chosen) == len(items)
            else coco_scores([candidates[i] for i in chosen], [references[i] for i in chosen])
        )
        by_turn[str(turn)] = {**scores, "turns": len(chosen)}
    return Scores(config, split, len(given), len(items), overall, by_turn, len(dialogues))


@dataclass(frozen=True)
class _Prediction:
    answers: tuple[str, ...]
    where: str  # "pred.jsonl line 3", for errors


def read_predictions(path: str | os.PathLike) -> dict[str, _Prediction]:
    """The predictions of a JSON Lines file, by id; every malformed line is an error naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"Predictions file {path} does not exist.") from None
    except UnicodeDecodeError as err:
        raise PredictionError(f"{path}: not UTF-8 text (byte {err.start}); write the predictions as UTF-8 JSON Lines.")
    out: dict[str, _Prediction] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise PredictionError(
                f"{where}: not valid JSON ({err.msg} at column {err.colno}); expected "
                '{"id": "<example id>", "answers": ["...", ...]}.'
            ) from None
        if not isinstance(obj, dict):
            raise PredictionError(
                f"{where}: expected a JSON object with 'id' and 'answers', found {type(obj).__name__}."
            )
        _add(out, obj.get("id"), obj.get("answers"), where)
    return out


def _from_mapping(predictions: Mapping[str, Sequence[str]]) -> dict[str, _Prediction]:
    out: dict[str, _Prediction] = {}
    for example_id, answers in predictions.items():
        _add(out, example_id, answers, f"prediction {example_id!r}")
    return out


def _add(out: dict[str, _Prediction], example_id: Any, answers: Any, where: str) -> None:
    if not isinstance(example_id, str):
        raise PredictionError(
            f"{where}: field 'id' must be the example id string (e.g. \"test-000012\"), found {example_id!r}."
        )
    if (
        isinstance(answers, str)
        or not isinstance(answers, (list, tuple))
        or not all(isinstance(a, str) for a in answers)
    ):
        raise PredictionError(
            f"{where}: id {example_id!r}: field 'answers' must be a list of strings, one per turn, "
            f"found {json.dumps(answers, ensure_ascii=False, default=repr)[:80]}."
        )
    if example_id in out:
        raise PredictionError(
            f"{where}: id {example_id!r} is predicted twice (first at {out[example_id].where}); "
            "keep one line per dialogue."
        )
    out[example_id] = _Prediction(tuple(answers), where)


def _pair(
    given: Mapping[str, _Prediction], dialogues: Mapping[str, Sequence[Turn]], name: str, subset: bool
) -> list[tuple[int, str, str]]:
    """``(turn index from 1, candidate, reference)`` for every predicted turn, in split order; refusals raise."""
    for example_id, prediction in given.items():
        dialogue = dialogues.get(example_id)
        if dialogue is None:
            ids = list(dialogues)
            span = f"ids {ids[0]} to {ids[-1]}" if ids else "no dialogues"
            raise PredictionError(
                f"{prediction.where}: id {example_id!r} is not a dialogue of {name} "
                f"({len(ids)} dialogues, {span}). Check --config and --split, and that ids are "
                "the loader's 'id'."
            )
        if len(prediction.answers) != len(dialogue):
            raise PredictionError(
                f"{prediction.where}: id {example_id!r} has {len(prediction.answers)} answer(s) "
                f"for a dialogue of {len(dialogue)} turn(s); give one answer per turn, in order."
            )
    missing = [example_id for example_id in dialogues if example_id not in given]
    if missing and not subset:
        raise PredictionError(
            f"{len(missing)} of {len(dialogues)} dialogues of {name} have no prediction (first: "
            f"{', '.join(missing[:5])}). Predict every dialogue, or pass subset=True (--subset) "
            "to score only the predicted ones."
        )
    if not given:
        raise PredictionError(f"No predictions to score for {name}.")
    return [
        (turn, answer, reference["assistant"])
        for example_id, dialogue in dialogues.items()
        if example_id in given
        for turn, (answer, reference) in enumerate(zip(given[example_id].answers, dialogue), start=1)
    ]


# ---------------------------------------------------------------------------------------------
# The protocol: a model answers a split turn by turn


@dataclass(frozen=True)
class Query:
    """One question put to the model: turn ``turn`` (from 1) of dialogue ``id``."""

    id: str
    turn: int
    audio: Any  # the decoded clip {"path", "array", "sampling_rate"}, a list of them (comparison), or None if missing
    history: list[Turn]  # the earlier turns: the model's own answers, or the references with teacher forcing
    question: str


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
        return line


def run_protocol(
    model: Model,
    config: str,
    split: str = "test",
    *,
    out: str | os.PathLike,
    teacher_forcing: bool = False,
    batch_size: int = 1,
    progress: bool = True,
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
    kept in ``<out>.protocol.json``; a rerun with other settings is refused.
    """
    from ..loading.load import load_dataset

    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: expected an int >= 1.")
    out = Path(out)
    settings = {
        "config": config,
        "split": split,
        "teacher_forcing": teacher_forcing,
        # which release: example ids are positions, so another release's answers would fit the same ids
        "release": json.loads(json.dumps(release_options(load_options), sort_keys=True, default=str)),
    }
    ds = load_dataset(config, split, **load_options)
    dialogues = len(ds)
    if load_options.get("missing_audio") == "skip":  # only then may the loader have left dialogues out
        dialogues = len(read_release(config, [split], **release_options(load_options))[split])
    report = ProtocolReport(config, split, str(out), teacher_forcing, dialogues)
    report.skipped_missing_audio = dialogues - len(ds)
    ids = ds["id"]
    audio_column = "audios" if "audios" in ds.column_names else "audio"
    answer_batch = getattr(model, "answer_batch", None)
    with FolderLock(out.parent, "protocol run", holder=str(out), name=f".{out.name}.lock"):
        ledger = _resume(out, settings, set(ids))
        report.resumed, report.torn_lines = len(ledger), ledger.torn_lines
        todo = [i for i, example_id in enumerate(ids) if example_id not in ledger]
        batches = [todo[start : start + batch_size] for start in range(0, len(todo), batch_size)]

        def answer(batch: list[int]) -> tuple[list[dict], list[list[str]]]:
            rows = [ds[i] for i in batch]
            return rows, _answer(model, answer_batch, rows, audio_column, teacher_forcing)

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


def _answer(model: Model, answer_batch, rows: list[dict], audio_column: str, teacher_forcing: bool) -> list[list[str]]:
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
            replies = [model(q.audio, q.history, q.question) for q in queries]
        for query, reply, (_, given) in zip(queries, replies, asking):
            if not isinstance(reply, str):
                raise TypeError(
                    f"The model answered {type(reply).__name__} for {query.id} turn {query.turn}; "
                    "expected the answer text (str)."
                )
            given.append(reply)
    return answers


def _resume(out: Path, settings: dict[str, Any], ids: set[str]) -> Ledger:
    """``out`` as the run's ledger (created with its settings file if new, its torn last line set aside)."""
    marker = out.with_name(out.name + ".protocol.json")
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


# ---------------------------------------------------------------------------------------------
# The command
