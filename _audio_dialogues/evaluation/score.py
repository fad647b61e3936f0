"""Scoring a model the paper's way: CIDEr, BLEU-4 and ROUGE-L on a split's assistant turns.

The paper (Table 3) answers each test dialogue turn by turn, the model's own earlier answers as the
history, and scores every answer against the release's answer with the COCO caption metrics. Two
steps do the same here (the first is :mod:`.protocol`)::

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
corpus of their own (CIDEr's document frequencies come from the items scored together). Beside the
per-turn pooling, ``by_dialogue`` pools one item per dialogue (:mod:`.protocol_settings`).
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
from typing import Any, Mapping, Sequence

from ..core.release import Turn
from ..core.splits import read_release
from ..core.subsets import subset as subset_row
from .protocol_settings import by_dialogue

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
    by_dialogue: dict[str, float] | None = None  # one item per dialogue (answers joined), and "dialogues"

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
        if self.by_dialogue:
            pooled = "".join(f"{self.by_dialogue[m]:>9.3f}" for m in METRICS)
            lines.append(f"{'dial.':<6}{self.by_dialogue['dialogues']:>7}{pooled}  (pooled per dialogue)")
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
    pooled = by_dialogue([t for t, _, _ in items], candidates, references, coco_scores)
    return Scores(config, split, len(given), len(items), overall, by_turn, len(dialogues), by_dialogue=pooled)


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
