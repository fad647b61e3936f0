"""Running the judge (``audio-dialogues evaluate --judge-model``): the split's rows, then the paid requests.

:func:`judge` reads the predictions and the split's descriptions (the loader's ``events`` column for
AudioSet, ``caption``/``aspects`` for MusicCaps), asks the judge twice per scored turn and returns
:class:`~.judge.JudgeScores`. Everything the judge shows, reads and reports is in :mod:`.judge`;
this module only sends. :func:`_ask` is the one place that uses the run engine (chat backend,
retries, budget, Ctrl-C, ledger, lock): in ``JUDGE_DIR`` it keeps ``ledger.jsonl`` (every ask, with
the judge's raw reply), ``settings.json`` (the settings that change the scores, checked on resume)
and a lock. A rerun sends only what is not in the ledger yet. ``shard="K/N"`` judges part K of N of
the dialogues into ``ledger.shard-K-of-N.jsonl`` (its own settings and lock beside it); a run without
it is the merge (:mod:`..engine.shard`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..engine.ledger import Ledger
from ..engine.options import option, options_from
from ..engine.shard import Shard, check_no_shard_running, fold, other_rows, run_lock, shard_files, status_lines
from ..engine.stop import StopPolicy
from ..generation.chat import (
    Answer,
    Budget,
    ChatBackend,
    Interrupted,
    Request,
    RetryPolicy,
    Run,
    ask_all,
    choose_api_key,
)
from ..generation.prompts import InvalidReply
from .judge import (
    ORDERS,
    PROMPT_SHA256,
    JudgeItem,
    JudgeScores,
    UnreadableVerdict,
    Verdict,
    aggregate,
    gather_items,
    judge_messages,
    parse_verdict,
)
from .score import PredictionError, read_predictions

JUDGE_TEMPERATURE = 0.0  # the same ask gets (nearly) the same reply; recorded with the scores
DESCRIPTION_COLUMNS = ("events", "caption", "aspects", "musiccaps_caption", "musiccaps_aspects")


@dataclass(frozen=True)
class JudgeOptions:
    """The judge's options, declared once: :func:`judge`'s keywords, their checks and ``evaluate``'s ``--judge-*``
    flags. ``model`` shapes the scores (a resume with another is refused); the others pace the run."""

    model: str | None = option(
        None, "the judge, on an OpenAI-compatible server", shapes=True, flag="--judge-model", metavar="MODEL"
    )
    judge_dir: str | None = option(
        None,
        "the judge's ledger and settings; a rerun sends only what is not there (default: PREDICTIONS.judge)",
        metavar="DIR",
    )
    base_url: str | None = option(
        None, "its server, e.g. http://localhost:8000/v1 (default: OpenAI)", flag="--judge-base-url", metavar="URL"
    )
    api_key_env: str = option(
        "OPENAI_API_KEY", "environment variable holding the judge's API key", flag="--judge-api-key-env", metavar="VAR"
    )
    max_requests: int | None = option(
        None, "send at most this many judge requests", flag="--judge-max-requests", metavar="N", minimum=0
    )
    concurrency: int = option(4, "requests in flight", flag="--judge-concurrency", metavar="N", minimum=1)
    retries: int = option(5, "retries per request", flag="--judge-retries", metavar="N", minimum=0)
    backoff_base: float = option(
        1.0, "seconds before the first retry, doubled each time", flag="--judge-backoff", metavar="SECONDS", minimum=0
    )
    timeout: float = option(120.0, "seconds per HTTP request", flag="--judge-timeout", metavar="SECONDS", minimum=0)
    retry_failed: bool = option(False, "ask again the judge requests that failed before", flag="--judge-retry-failed")
    dry_run: bool = option(False, "print the judge's first prompt and the request count; send nothing")
    shard: str | None = option(
        None, "judge only part K of N of the dialogues (run_protocol's parts, by id); a run without it merges",
        metavar="K/N",
    )  # fmt: skip
    status: bool = option(False, "say how far the judge's ledger and each shard's got, and send nothing")
    progress: bool | None = option(None, "a progress bar (default: when stderr is a terminal)", cli=False)


JUDGE_OPTIONS = frozenset(f.name for f in dataclasses.fields(JudgeOptions))


class JudgeSettingsError(ValueError):
    """A judge folder written with other settings than this run's (they would mix two judgements)."""


def judge(
    predictions: str | os.PathLike | Mapping[str, Sequence[str]],
    config: str,
    split: str = "test",
    *,
    rows: Sequence[Mapping[str, Any]] | None = None,
    echo: Callable[[str], None] = print,
    **options: Any,
) -> JudgeScores:
    """Judge every predicted turn of ``config``/``split`` with ``model`` (see :mod:`.judge`), resuming ``judge_dir``.

    ``rows`` are the split's rows (``id``, ``dialogue`` and the description columns); by default they
    are loaded with :func:`~.loading.load_dataset` and ``load_options``. A dialogue whose clip has no
    description is counted and left out. ``dry_run`` prints the first prompt and the number of
    requests and sends nothing; ``retry_failed`` asks again what failed in an earlier run. ``shard="K/N"`` asks only
    for part K of N of the dialogues (its scores are of that part); a run without it is the merge: it takes every
    shard's replies and asks only for what none of them has. ``status`` sends nothing and returns the scores of
    what every ledger holds, with a note per ledger saying how far it got. ``options`` are those of
    :class:`JudgeOptions` (``model`` is required; ``judge_dir`` defaults to ``<predictions>.judge``) and the load
    options of the rows.

    Raises:
        JudgeSettingsError: ``judge_dir`` holds a judgement with another judge model or prompt.
        PredictionError: a predicted id that is not a row of the split.
    """
    chosen = options_from(JudgeOptions, {k: v for k, v in options.items() if k in JUDGE_OPTIONS}, command="judge")
    load_options = {k: v for k, v in options.items() if k not in JUDGE_OPTIONS}
    if chosen.model is None:
        raise ValueError("judge(): model= (--judge-model) is required: the judge to ask.")
    judge_dir = chosen.judge_dir
    if judge_dir is None:
        if not isinstance(predictions, (str, os.PathLike)):
            raise ValueError("judge(): judge_dir= (--judge-dir) is required when the predictions are not a file.")
        judge_dir = f"{os.fspath(predictions)}.judge"
    model, dry_run, progress = chosen.model, chosen.dry_run, chosen.progress
    part = Shard.parse(chosen.shard)
    given = _answers(predictions)
    if rows is None:
        rows = load_rows(config, split, **load_options)
    unknown = sorted(set(given) - {row["id"] for row in rows})
    if unknown:
        raise PredictionError(
            f"{len(unknown)} predicted ids are not dialogues of {config}/{split} (first: {', '.join(unknown[:5])}); "
            "check --config and --split."
        )
    gathered = gather_items(config, rows, given)
    settings = {"judge_model": model, "prompt_sha256": PROMPT_SHA256, "temperature": JUDGE_TEMPERATURE}
    outcome = _ask(
        gathered.items,
        Path(judge_dir).expanduser(),
        settings,
        backend=dict(model=model, base_url=chosen.base_url, api_key_env=chosen.api_key_env),
        policy=RetryPolicy(retries=chosen.retries, backoff_base=chosen.backoff_base, timeout=chosen.timeout),
        max_requests=chosen.max_requests,
        concurrency=chosen.concurrency,
        dry_run=dry_run,
        retry_failed=chosen.retry_failed,
        part=part,
        status=chosen.status,
        progress=sys.stderr.isatty() if progress is None else progress,
        echo=echo,
    )
    if part is not None:  # a shard's scores are those of its part
        gathered = dataclasses.replace(gathered, items=[item for item in gathered.items if part.owns(item.id)])
    scores = aggregate(config, split, model, gathered, outcome.verdicts)
    scores.interrupted, scores.dry_run = outcome.interrupted, dry_run
    scores.notes += outcome.notes
    return scores


def load_rows(config: str, split: str, **load_options: Any) -> list[dict[str, Any]]:
    """The split's ``id``, ``dialogue`` and description columns, every record kept (audio is not needed)."""
    from ..loading.load import load_dataset

    options = {**load_options, "missing_audio": "keep", "decode": False}
    if config == "music_dialogues":
        options["with_metadata"] = True  # MusicCaps' caption and aspects
    ds = load_dataset(config, split, **options)
    columns = ["id", "dialogue"] + [c for c in DESCRIPTION_COLUMNS if c in ds.column_names]
    return ds.select_columns(columns).to_list()


def _answers(predictions: str | os.PathLike | Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    if isinstance(predictions, (str, os.PathLike)):
        return {key: list(p.answers) for key, p in read_predictions(predictions).items()}
    return {key: list(answers) for key, answers in predictions.items()}


# ---------------------------------------------------------------------------------------------
# The paid part: the only use of the run engine


@dataclass
class _Outcome:
    verdicts: dict[str, Verdict | str] = field(default_factory=dict)  # by ask key: a Verdict or "failed"
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)


def _better(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """In a merge, a judged ask wins over a failed one."""
    return new["status"] == "ok" and old["status"] != "ok"


def _ask(
    items: Sequence[JudgeItem],
    judge_dir: Path,
    settings: dict[str, Any],
    *,
    backend: dict[str, Any],
    policy: RetryPolicy,
    max_requests: int | None,
    concurrency: int,
    dry_run: bool,
    retry_failed: bool,
    progress: bool,
    echo: Callable[[str], None],
    part: Shard | None = None,
    status: bool = False,
) -> _Outcome:
    """Ask each item in both orders unless a ledger has the answer; return every ask's outcome.

    ``part``: this shard's items only, into its own ledger; without it, every shard's ledger is merged into
    ``ledger.jsonl`` first. ``status``: send nothing, write nothing, and say how far each ledger got."""
    outcome = _Outcome()
    own = part.path if part else Path  # this run's own files: the folder's, or the shard's (engine/shard.py)
    settings_file, ledger_file = judge_dir / "settings.json", judge_dir / "ledger.jsonl"
    looking = dry_run or status  # writes nothing, and may look while the shards run
    if part is None and not looking:
        check_no_shard_running(judge_dir, "judge run")
    lock = contextlib.nullcontext() if looking else run_lock(judge_dir, "judge run", part)
    with lock, Ledger(own(ledger_file)) as ledger:
        judged_here = len(ledger)  # an empty ledger holds no judgement: its settings (if any) may change
        if judged_here:
            _check_settings(own(settings_file), settings)
        for other in [settings_file, *shard_files(settings_file)]:  # every part is judged alike
            if other != own(settings_file):
                _check_settings(other, settings)
        asks = [(item, order) for item in items for order in ORDERS]
        mine = [(item, order) for item, order in asks if part is None or part.owns(item.id)]
        wanted = {item.key(order) for item, order in mine}
        # a shard folds in (memory only) what the others judged of its part; the merge records every shard's rows
        folded = fold(ledger, other_rows(ledger_file, ledger.codec, part), _better, keep=wanted.__contains__,
                      record=part is None and not looking)  # fmt: skip
        if part is not None:
            outcome.notes.append(f"shard {part}: ledger {ledger.path.name}; the run without --shard reports every turn")
        elif shard_files(ledger_file) and not status:
            outcome.notes.append(f"merged {len(shard_files(ledger_file))} shard ledgers: {folded} asks taken")
        if status:
            outcome.notes += status_lines(
                ledger_file,
                ledger.codec,
                lambda entry: entry["status"] == "ok",
                lambda shard: sum(shard.owns(item.id) for item, _ in asks),
                what="asks",
            )

        def to_ask(key: str) -> bool:  # not in the ledger, or failed there and retry_failed
            entry = ledger.get(key)
            return entry is None or (retry_failed and entry["status"] != "ok")

        pending = [(item, order) for item, order in mine if to_ask(item.key(order))]
        if not looking and not judged_here and (pending or folded):
            judge_dir.mkdir(parents=True, exist_ok=True)
            own(settings_file).write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
        if dry_run and not status:
            first = judge_messages(*pending[0]) if pending else None
            echo("\n".join(f"--- {m['role']} ---\n{m['content']}" for m in first) if first else "(nothing to ask)")
            turns = len(mine) // len(ORDERS)
            outcome.notes.append(
                f"dry run: would send {len(pending)} requests ({turns} turns x {len(ORDERS)} orders, "
                f"{len(mine) - len(pending)} already in {ledger.path}; retries not counted); nothing was sent"
            )
        elif pending and not looking:
            try:
                import openai  # noqa: F401
            except ImportError as err:
                raise ImportError(
                    "The judge is asked through the openai client: pip install 'audio-dialogues[judge]'."
                ) from err
            chat = ChatBackend(
                model=backend["model"],
                base_url=backend["base_url"],
                api_key=choose_api_key(
                    backend["api_key_env"], backend["base_url"], "--judge-api-key-env", "--judge-base-url"
                ),
                temperature=settings["temperature"],
                policy=policy,
            )
            requests = [
                Request(item.key(order), judge_messages(item, order), _parse, (item, order)) for item, order in pending
            ]

            def record(request: Request, answer: Answer) -> None:
                if answer.status == "stopped":
                    return
                item, order = request.job
                verdict: Verdict | None = answer.value
                ledger.record(
                    {
                        "key": request.key,
                        "status": answer.status,
                        "id": item.id,
                        "turn": item.turn,
                        "order": order,
                        "scores": [verdict.first, verdict.second] if verdict else None,
                        "why": verdict.reason if verdict else None,
                        "reason": answer.reason,
                        "reply": answer.reply,
                        "model": chat.model,
                        "prompt_sha256": settings["prompt_sha256"],
                        "usage": answer.usage.as_dict(),
                        "requests": answer.requests,
                        "retries": answer.retry_reasons,
                    }
                )

            try:
                with StopPolicy("the asks in flight are answered and recorded") as stop:
                    run = Run(chat, Budget(max_requests), stop.event, max(1, concurrency), progress)
                    ask_all(run, requests, record, label="judge", commit=ledger.commit)
            except Interrupted:
                outcome.interrupted = True
            left = sum(to_ask(item.key(order)) for item, order in pending)
            if left and not outcome.interrupted:
                outcome.notes.append(
                    f"--judge-max-requests {max_requests} reached: {left} asks not finished; the same command goes on"
                )
        for item, order in asks:
            entry = ledger.get(item.key(order))
            if entry is not None:
                ok = entry["status"] == "ok"
                outcome.verdicts[entry["key"]] = Verdict(*entry["scores"], entry["why"] or "") if ok else "failed"
    return outcome


def _parse(text: str) -> Verdict:
    try:
        return parse_verdict(text)
    except UnreadableVerdict as err:
        raise InvalidReply(str(err)) from err


def _check_settings(path: Path, settings: dict[str, Any]) -> None:
    """Refuse to add to a judgement made with other settings, naming the setting and the fix."""
    if not path.is_file():
        return
    kept = json.loads(path.read_text(encoding="utf-8"))
    if kept.get("judge_model") != settings["judge_model"]:
        raise JudgeSettingsError(
            f"{path.parent} was judged with --judge-model {kept.get('judge_model')!r}, not "
            f"{settings['judge_model']!r} ({path}): pass --judge-model {kept.get('judge_model')} to go on with it, "
            f"or another --judge-dir to judge with {settings['judge_model']}."
        )
    for name in ("prompt_sha256", "temperature"):
        if kept.get(name) != settings[name]:
            raise JudgeSettingsError(
                f"{path.parent} was judged with {name} {kept.get(name)!r}, this version uses {settings[name]!r} "
                f"({path}): scores of the two would not compare; pass another --judge-dir to judge again."
            )
