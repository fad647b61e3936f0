"""Make the dialogues: the generation pipeline of Audio Dialogues (arXiv 2404.07616, section 3), rebuilt.

The dialogue files were never published; this writes them, in the release format the loader reads,
from the same sources and with any OpenAI-compatible chat model::

    audio-dialogues generate out --config music_dialogues --model gpt-4o-mini
    audio-dialogues generate out --config audioset_dialogues \\
        --source train=audioset_train_strong.tsv --source test=audioset_eval_strong.tsv
    load_dataset("music_dialogues", data_dir="out", verification_mode="no_checks")

The pipeline, top-down (:func:`generate`):

1. **Clips** (:mod:`.clips`): MusicCaps rows (the shipped CSV by default) or the clips of AudioSet strong-label
   TSVs, optionally only the YouTube ids of ``--ids``; each clip's split from ``SPLIT=FILE`` or a
   stable hash of its YouTube id at the paper's test share.
2. **Label descriptions** (AudioSet): a short description of each label, from
   ``--label-descriptions`` or asked once per label and kept in ``OUT_DIR/label_descriptions.jsonl``.
3. **Requests**: one per dialogue (:mod:`.prompts` says what is asked; :mod:`.chat` sends it with
   retries). Comparisons show an anchor clip with its 1-3 most or least similar neighbours.
4. **Ledger**: every finished clip, with its raw reply, model and token usage, is appended to
   ``OUT_DIR/<config>/ledger.jsonl`` at once, on the run engine (:mod:`..engine`: the lock of OUT_DIR,
   the settings record, the runner and its stop policy); a rerun asks only for the rest, and only
   with the same model, prompt, temperature, seed and label descriptions.
5. **Output** (:mod:`.output`): the ledger is filtered (:mod:`.filters`) into ``OUT_DIR/<config>/<split>.jsonl``,
   every removal listed in ``OUT_DIR/<config>/filtered.tsv`` and every failure in ``failed.tsv``;
   :mod:`.summary` is the report.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from ..core.events import clip_events
from ..core.manifest import file_sha256, write_manifest
from ..core.musiccaps import shipped_musiccaps_file
from ..core.strong_labels import shipped_label_names
from ..core.subsets import SPLITS, subset
from ..engine.ledger import Ledger
from ..engine.options import flags, options_from, shaping
from ..engine.settings import check_settings
from ..engine.shard import FoldRecord, Shard, check_no_shard_running, fold, other_rows, run_lock, shard_files
from ..engine.stop import StopPolicy
from .chat import Answer, Budget, ChatBackend, Interrupted, Request, RetryPolicy, Run, ask_all, choose_api_key, mask_url
from .clips import (
    Job,
    audio_index_of,
    collect_clips,
    job_text,
    make_jobs,
    parse_source,
    read_label_descriptions,
    read_text,
)
from .filters import PHRASES_FILE, AudioEmbedder, SimilarityScorer, check_filter_options, shipped_phrases_file
from .labels import await_labels, plan_labels
from .options import LABEL_WAIT, GenerateOptions
from .output import write_output
from .prompts import (
    build_messages,
    built_in_prompt,
    description_messages,
    parse_description_reply,
    parse_dialogue_reply,
)
from .summary import GenerateSummary, slim_entry, tally_ledger, tally_status

DESCRIPTIONS_FILE = "label_descriptions.jsonl"
SETTINGS_FILE = "settings.json"  # what shapes the text of the ledger's dialogues; a resume must keep it


def generate(
    out_dir: str | os.PathLike,
    config: str,
    *,
    scorer: SimilarityScorer | None = None,
    neighbour_scorer: AudioEmbedder | None = None,
    audio_dir: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    follow_symlinks: bool = False,
    min_audio_bytes: int = 0,
    echo: Callable[[str], None] = print,
    **options: Any,
) -> GenerateSummary:
    """Generate the dialogues of ``config`` into ``out_dir`` (see the module docstring), resuming a previous run.

    ``options`` are those of :class:`~.options.GenerateOptions`: ``sources`` are ``[SPLIT=]FILE``
    (AudioSet strong-label TSVs; MusicCaps CSVs, by default the shipped one); ``ids`` a file of YouTube
    ids, one a line (or the ids themselves); the API key is read from the environment variable
    ``api_key_env``; ``model``, ``prompt``, ``temperature``, ``seed`` and ``label_descriptions`` shape
    the text, so a resume with other values is refused. ``scorer`` turns on the similarity filter (it
    needs ``audio_dir``, found with the loader's ``follow_symlinks`` and ``min_audio_bytes``);
    ``neighbour_scorer`` (MS-CLAP, the paper's) chooses the comparison neighbours instead. ``prompt_style``,
    ``remove``, ``similarity_on``, ``min_test_turns`` and ``comparisons`` choose between the paper's way and
    ours (docs/paper-differences.md). The
    engine's stop policy: a Ctrl-C or SIGTERM stops sending, records the requests in flight, writes the
    output and returns with ``interrupted`` set.
    """
    chosen = options_from(GenerateOptions, options, command="generate")
    sources, ids, label_descriptions, prompt = chosen.sources, chosen.ids, chosen.label_descriptions, chosen.prompt
    model, temperature, seed, dry_run = chosen.model, chosen.temperature, chosen.seed, chosen.dry_run
    retry_failed, progress = chosen.retry_failed, chosen.progress
    style, remove, similarity_on = chosen.prompt_style, chosen.remove, chosen.similarity_on
    subset(config)  # an unknown config fails here, listing the configs
    out = Path(out_dir).expanduser()
    config_dir = out / config
    summary = GenerateSummary(config=config, out_dir=str(out), dry_run=dry_run)
    clips = collect_clips(config, sources, ids, summary.notes)
    summary.clips = len(clips)
    summary.clips_by_split = {split: sum(clip.split == split for clip in clips) for split in SPLITS}
    template = read_text(prompt, "--prompt") if prompt else built_in_prompt(config, style)
    check_filter_options(remove, similarity_on)
    if prompt:
        summary.notes.append(f"prompt: {prompt} (not the built-in one)")
    audio_index = audio_index_of(audio_dir, follow_symlinks, min_audio_bytes)
    if audio_index is not None:
        summary.notes.append(audio_index.summary())  # what the loader says of the same folders
    shard = Shard.parse(chosen.shard)
    own = shard.path if shard else Path  # this run's own files: the folder's, or the shard's (engine/shard.py)
    if shard is None and not dry_run:
        check_no_shard_running(out, "generate run")
    looking = dry_run or chosen.status  # writes nothing, and may look while the shards run
    show_progress = sys.stderr.isatty() if progress is None else progress

    def jobs_of(to_ask: Callable[[str], bool]) -> tuple[list[Job], list[Job]]:  # this run's jobs, and those to ask
        jobs = make_jobs(
            config,
            clips,
            seed,
            pending=to_ask,
            scorer=neighbour_scorer or scorer,
            audio_index=audio_index,
            notes=summary.notes,
            progress=show_progress,
            comparisons=chosen.comparisons,
        )
        jobs = [job for job in jobs if shard.owns(job.key)] if shard is not None else jobs
        summary.jobs = len(jobs)
        pending = [job for job in jobs if to_ask(job.key)]
        summary.finished_before, summary.pending = len(jobs) - len(pending), len(pending)
        return jobs, pending

    if chosen.status:  # read only: each ledger once, a line at a time, and only a flag per key kept
        tally_status(config_dir / "ledger.jsonl", shard, retry_failed, jobs_of, summary)
        return summary
    # The lock covers all OUT_DIR: the label descriptions there are shared by the AudioSet configs.
    lock = contextlib.nullcontext() if looking else run_lock(out, "generate run", shard, holder=config)
    # a slim ledger: a row's status and cost in memory, its dialogue read again only to write the release
    with lock, Ledger(own(config_dir / "ledger.jsonl"), slim=slim_entry) as ledger:  # two runs would pay twice
        merged = FoldRecord(ledger.path) if shard is None else None  # shard ledgers a merge already folded
        recording = shard is None and not looking  # a merge that writes copies the other ledgers' lines
        others = other_rows(config_dir / "ledger.jsonl", ledger.codec, shard, merged, slim_entry, lines=recording)
        # a shard folds in (memory only) what others finished of its part; the merge records every shard's rows
        folded = fold(ledger, others, _better, keep=shard.owns if shard else _any, record=recording)
        if merged is not None and recording:
            merged.save(ledger)
        if shard is not None:
            summary.notes.append(f"shard {shard}: ledger {ledger.path.name}; the release is written by the merge")
        elif shard_files(config_dir / "ledger.jsonl"):
            summary.notes.append(f"merged {len(shard_files(config_dir / 'ledger.jsonl'))} shard ledgers: {folded} rows")
        if ledger.torn_lines:
            summary.notes.append(
                f"the ledger's last line was cut short by a killed run: set aside in {ledger.torn_path}; "
                "that clip is asked again"
            )

        def to_ask(key: str) -> bool:  # not in the ledger, or failed there and --retry-failed (of this shard)
            if shard is not None and not shard.owns(key):
                return False
            entry = ledger.get(key)
            return entry is None or (retry_failed and entry["status"] != "ok")

        _, pending = jobs_of(to_ask)

        if config == "music_dialogues" and label_descriptions:
            summary.notes.append("--label-descriptions is not used by music_dialogues (its clips have captions)")
        if chosen.label_wait != LABEL_WAIT and (shard is None or config == "music_dialogues"):
            summary.notes.append("--label-wait is used only by the shards of the AudioSet configs (nothing else waits)")
        description_ledger = Ledger(own(out / DESCRIPTIONS_FILE)) if config != "music_dialogues" else None
        if description_ledger is not None:  # every shard's descriptions are known to all (asked once, if not at once)
            shared = other_rows(out / DESCRIPTIONS_FILE, description_ledger.codec, shard)
            fold(description_ledger, shared, _better, record=shard is None and not dry_run)
        descriptions = {e["key"]: e["description"] for e in description_ledger or () if e["status"] == "ok"}
        descriptions.update(read_label_descriptions(label_descriptions) if label_descriptions else {})
        failed_before = {e["key"] for e in description_ledger or () if e["status"] != "ok"}
        # each label is asked by one run: the merge what it needs, a shard those it owns (generation/labels.py)
        labels = plan_labels(clips, pending, shard, descriptions, failed_before, retry_failed)
        wanted = labels.ask
        summary.descriptions_requested = len(wanted)
        summary.notes += labels.notes()  # said on every run that uses them, not only on the run where they failed

        api_key = ""
        if pending or wanted:  # what is asked now joins the ledger: it must be asked the same way
            if not dry_run:  # a key that may not go to this server is refused before anything is recorded
                api_key = choose_api_key(chosen.api_key_env, chosen.base_url)
            settings = shaping(chosen)  # the files that shape the text count by their content
            settings["prompt"] = f"{Path(prompt).name if prompt else 'built-in'} (sha256 {_sha(template)})"
            if label_descriptions:
                given = read_text(label_descriptions, "--label-descriptions")
                settings["label_descriptions"] = f"{Path(label_descriptions).name} (sha256 {_sha(given)})"
            for path in [config_dir / SETTINGS_FILE, *shard_files(config_dir / SETTINGS_FILE)]:  # all parts alike
                if path != own(config_dir / SETTINGS_FILE):
                    check_settings(path, settings, what=str(config_dir), names=flags(GenerateOptions), record=False)
            check_settings(
                own(config_dir / SETTINGS_FILE),
                settings,
                what=str(config_dir),
                names=flags(GenerateOptions),
                record=not dry_run,
            )
        if dry_run:
            placeholder = {**dict.fromkeys([*wanted, *labels.awaited], "description to be generated"), **descriptions}
            summary.first_prompt = (
                build_messages(template, job_text(pending[0], placeholder, style)) if pending else None
            )
            echo(_show_prompt(summary.first_prompt))
            tally_ledger(ledger, summary)
            return summary

        try:
            if pending or wanted:  # a rerun with nothing to ask (e.g. to filter again) needs no server nor key
                backend = ChatBackend(
                    model=model,
                    base_url=chosen.base_url,
                    api_key=api_key,
                    temperature=temperature,
                    seed=seed,
                    policy=RetryPolicy(
                        retries=chosen.retries, backoff_base=chosen.backoff_base, timeout=chosen.timeout
                    ),
                )
                with StopPolicy("the requests in flight are finished and recorded") as stop:
                    run = Run(backend, Budget(chosen.max_requests), stop.event, chosen.concurrency, show_progress)
                    if wanted:
                        _ask_descriptions(run, wanted, description_ledger, descriptions, summary)
                    ready, later = labels.ready(pending)  # a shard's dialogues that await others' labels go last
                    _ask_dialogues(
                        run, config, template, ready, descriptions, ledger, summary, style, chosen.min_test_turns
                    )
                    if later:
                        await_labels(out / DESCRIPTIONS_FILE, labels, descriptions, stop=stop.event,
                                     wait=chosen.label_wait, notes=summary.notes)  # fmt: skip
                        _ask_dialogues(
                            run, config, template, later, descriptions, ledger, summary, style, chosen.min_test_turns
                        )
                summary.budget_reached = run.budget.exhausted and summary.not_finished > 0
        except Interrupted:
            summary.interrupted = True
            summary.not_finished = summary.pending - summary.generated - sum(summary.failed.values())
        finally:
            if description_ledger is not None:
                description_ledger.close()
        tally_ledger(ledger, summary)
        if shard is not None:  # the one release is the merge's
            return summary
        write_output(
            config_dir,
            config,
            ledger,
            summary,
            scorer=scorer,
            audio_index=audio_index,
            min_similarity=chosen.min_similarity,
            remove=remove,
            similarity_on=similarity_on,
        )
        write_manifest(  # the release's provenance, read by the loader (counts) and export (the card)
            out,
            config,
            files={split: config_dir / f"{split}.jsonl" for split in summary.written},
            counts=summary.written,
            model=model,
            base_url=mask_url(chosen.base_url),
            prompt=str(prompt) if prompt else f"built-in ({style})",
            prompt_text=template,
            filters={
                "low_confidence_phrases": {"file": PHRASES_FILE, "sha256": file_sha256(shipped_phrases_file())},
                "similarity": type(scorer).__name__ if scorer is not None else None,
                "min_similarity": chosen.min_similarity if scorer is not None else None,
                "remove": remove,
                "similarity_on": similarity_on,
                "min_test_turns": chosen.min_test_turns,
                "comparisons": chosen.comparisons,
                "removed": dict(sorted(summary.filtered.items())),
            },
            sources=[path for _, path in (parse_source(s) for s in sources)]
            or ([shipped_musiccaps_file()] if config == "music_dialogues" else []),
        )
    return summary


def _better(new: dict, old: dict) -> bool:
    """In a merge, a finished entry wins over a failure."""
    return new["status"] == "ok" and old["status"] != "ok"


def _any(key: str) -> bool:
    return True


def _ask_descriptions(
    run: Run, labels: list[str], ledger: Ledger, descriptions: dict[str, str], summary: GenerateSummary
) -> None:
    """Ask for the short description of each label (once: every answer is kept in ``ledger``)."""
    names = shipped_label_names()

    def record(request: Request, answer: Answer) -> None:
        _count(answer, summary)
        if answer.status == "stopped":
            return
        ledger.record(
            {
                "key": request.key,
                "name": names.get(request.key, request.key),
                "status": answer.status,
                "description": answer.value,
                "reason": answer.reason,
                "reply": answer.reply,
                "model": run.backend.model,
                "usage": answer.usage.as_dict(),
                "requests": answer.requests,
            }
        )
        if answer.status == "ok":
            descriptions[request.key] = answer.value
        else:
            summary.descriptions_failed += 1

    requests = [Request(mid, description_messages(names.get(mid, mid)), parse_description_reply) for mid in labels]
    ask_all(run, requests, record, label="label descriptions", commit=ledger.commit)
    if summary.descriptions_failed:
        summary.notes.append(
            f"{summary.descriptions_failed} labels have no description (their request failed): "
            "their events are shown by name only"
        )


def _ask_dialogues(
    run: Run,
    config: str,
    template: str,
    pending: Sequence[Job],
    descriptions: dict[str, str],
    ledger: Ledger,
    summary: GenerateSummary,
    style: str = "paper",
    min_test_turns: int = 1,
) -> None:
    """One request per pending job; each answer (ok or failed) goes to the ledger at once. A test
    dialogue of fewer than ``min_test_turns`` turns is an invalid reply (AF1 B.1: three or four)."""
    rules = subset(config).rules
    lowest = {"train": 1, "test": 1 if rules.multi_audio else min(max(min_test_turns, 1), rules.max_turns)}
    requests = [
        Request(
            job.key,
            build_messages(template, job_text(job, descriptions, style)),
            lambda text, least=lowest.get(job.split, 1): parse_dialogue_reply(text, rules.max_turns, least),
            job,
        )
        for job in pending
    ]
    names = shipped_label_names()

    def record(request: Request, answer: Answer) -> None:
        _count(answer, summary)
        if answer.status == "stopped":
            summary.not_finished += 1
            return
        job = request.job
        ledger.record(
            {
                "key": job.key,
                "status": answer.status,
                "split": job.split,
                "audio_ids": [c.audio_id for c in job.clips],
                "most_similar": job.most_similar,
                "events": [None if c.strong is None else clip_events(c.strong, names, descriptions) for c in job.clips],
                "dialogue": answer.value,
                "reason": answer.reason,
                "reply": answer.reply,
                "model": run.backend.model,
                "usage": answer.usage.as_dict(),
                "requests": answer.requests,
                "retries": answer.retry_reasons,
                "prompt_sha256": _sha(request.messages),
            }
        )
        if answer.status == "ok":
            summary.generated += 1
        else:
            summary.failed[answer.reason] += 1

    summary.not_finished += ask_all(run, requests, record, label=f"{config}: dialogues", commit=ledger.commit)


def _count(answer: Answer, summary: GenerateSummary) -> None:
    summary.requests += answer.requests
    retries = answer.requests - 1 if answer.status == "ok" else len(answer.retry_reasons)
    summary.retried += max(retries, 0)
    for reason in answer.retry_reasons:
        summary.retry_reasons[reason.split(":")[0]] += 1
    summary.prompt_tokens += answer.usage.prompt_tokens
    summary.completion_tokens += answer.usage.completion_tokens


def _sha(messages: list[dict] | str) -> str:
    text = messages if isinstance(messages, str) else json.dumps(messages, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _show_prompt(messages: list[dict] | None) -> str:
    if not messages:
        return "(nothing to request)"
    return "\n".join(f"--- {m['role']} ---\n{m['content']}" for m in messages)
