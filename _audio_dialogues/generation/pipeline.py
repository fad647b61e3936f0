"""Make the dialogues: the generation pipeline of Audio Dialogues (arXiv 2404.07616, section 3), rebuilt.

The dialogue files were never published; this writes them, in the release format the loader reads,
from the same sources and with any OpenAI-compatible chat model::

    audio-dialogues generate out --config music_dialogues --model gpt-4o-mini
    audio-dialogues generate out --config audioset_dialogues \\
        --source train=audioset_train_strong.tsv --source test=audioset_eval_strong.tsv
    load_dataset("music_dialogues", data_dir="out", verification_mode="no_checks")

The pipeline, top-down (:func:`generate`):

1. **Clips**: MusicCaps rows (the shipped CSV by default) or the clips of AudioSet strong-label
   TSVs, optionally only the YouTube ids of ``--ids``; each clip's split from ``SPLIT=FILE`` or a
   stable hash of its YouTube id at the paper's test share.
2. **Label descriptions** (AudioSet): a short description of each label, from
   ``--label-descriptions`` or asked once per label and kept in ``OUT_DIR/label_descriptions.jsonl``.
3. **Requests**: one per dialogue (:mod:`.prompts` says what is asked; :mod:`.chat` sends it with
   retries). Comparisons show an anchor clip with its 1-3 most or least similar neighbours.
4. **Ledger**: every finished clip, with its raw reply, model and token usage, is appended to
   ``OUT_DIR/<config>/ledger.jsonl`` at once (:mod:`.ledger`); a rerun asks only for the rest.
5. **Output**: the ledger is filtered (:mod:`.filters`) into ``OUT_DIR/<config>/<split>.jsonl``,
   every removal listed in ``OUT_DIR/<config>/filtered.tsv`` and every failure in ``failed.tsv``.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..core.audio_files import AudioIndex, index_audio_dirs, parse_audio_name
from ..core.musiccaps import read_musiccaps, shipped_musiccaps, shipped_musiccaps_file
from ..core.release import Turn
from ..core.strong_labels import StrongClip, read_strong_labels, shipped_label_names
from ..core.subsets import SPLITS, subset
from ..engine.ledger import Ledger
from ..engine.lock import FolderLock
from ..engine.settings import check_settings
from ..engine.stop import StopPolicy
from .chat import Answer, Budget, ChatBackend, Interrupted, Request, RetryPolicy, Run, ask_all
from .filters import PAPER_MIN_SIMILARITY, AudioEmbedder, Removal, SimilarityScorer, filter_dialogue, pair_text
from .neighbours import choose_neighbours, label_vectors, unit_rows
from .prompts import (
    BUILT_IN_PROMPTS,
    build_messages,
    comparison_text,
    description_messages,
    event_text,
    parse_description_reply,
    parse_dialogue_reply,
)

DEFAULT_MODEL = "gpt-4o-mini"
# The paper's Table 1: mean turns per dialogue, and mean clips per comparison.
PAPER_MEAN_TURNS: dict[str, float] = {"audioset_dialogues": 2.21, "music_dialogues": 1.67, "audioset_comparison": 1.0}
PAPER_MEAN_CLIPS = 3.00
COMPARISON_CLIPS = (2, 4)  # clips per comparison, anchor included
DESCRIPTIONS_FILE = "label_descriptions.jsonl"
SETTINGS_FILE = "settings.json"  # what shapes the text of the ledger's dialogues; a resume must keep it
SHAPING = ("model", "prompt", "temperature", "seed", "label_descriptions")


def paper_test_share(config: str) -> float:
    """The share of the paper's records that are in its test split (e.g. 1,641 of 4,999 for music)."""
    published = subset(config).published
    return published["test"] / sum(published.values())


def hash_split(youtube_id: str, share: float) -> str:
    """``test`` for a stable ``share`` of YouTube ids, else ``train`` (the same id always lands the same)."""
    value = int.from_bytes(hashlib.sha256(f"split:{youtube_id}".encode()).digest()[:8], "big") / 2**64
    return "test" if value < share else "train"


@dataclass(frozen=True)
class Clip:
    """One source clip: what the model is told about it, and which split it goes to."""

    youtube_id: str
    split: str
    caption: str | None = None  # MusicCaps
    strong: StrongClip | None = None  # AudioSet

    @property
    def audio_id(self) -> str:
        return f"Y{self.youtube_id}.wav"


@dataclass(frozen=True)
class Job:
    """One request: a dialogue about one clip, or a comparison of an anchor clip with its neighbours."""

    key: str  # the (anchor) clip's YouTube id
    split: str
    clips: tuple[Clip, ...]
    most_similar: bool | None = None  # comparisons: top-k or bottom-k neighbours


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


def generate(
    out_dir: str | os.PathLike,
    config: str,
    *,
    sources: Sequence[str] = (),
    ids: str | os.PathLike | Iterable[str] | None = None,
    label_descriptions: str | os.PathLike | None = None,
    base_url: str | None = None,
    model: str = DEFAULT_MODEL,
    api_key_env: str = "OPENAI_API_KEY",
    concurrency: int = 4,
    retries: int = 5,
    temperature: float | None = None,
    seed: int = 0,
    max_requests: int | None = None,
    prompt: str | os.PathLike | None = None,
    dry_run: bool = False,
    retry_failed: bool = False,
    scorer: SimilarityScorer | None = None,
    audio_dir: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    follow_symlinks: bool = False,
    min_audio_bytes: int = 0,
    min_similarity: float = PAPER_MIN_SIMILARITY,
    backoff_base: float = 1.0,
    timeout: float = 120.0,
    progress: bool | None = None,
    echo: Callable[[str], None] = print,
) -> GenerateSummary:
    """Generate the dialogues of ``config`` into ``out_dir`` (see the module docstring), resuming a previous run.

    ``sources`` are ``[SPLIT=]FILE`` (AudioSet strong-label TSVs; MusicCaps CSVs, by default the
    shipped one); ``ids`` a file of YouTube ids, one a line (or the ids themselves). The API key is
    read from the environment variable ``api_key_env``. ``scorer`` turns on the similarity filter
    (it needs ``audio_dir`` to find the clips). A Ctrl-C stops sending, records the requests in
    flight, writes the output and returns with ``interrupted`` set.
    """
    subset(config)  # an unknown config fails here, listing the configs
    out = Path(out_dir).expanduser()
    config_dir = out / config
    summary = GenerateSummary(config=config, out_dir=str(out), dry_run=dry_run)
    clips = collect_clips(config, sources, ids, summary.notes)
    summary.clips = len(clips)
    summary.clips_by_split = {split: sum(clip.split == split for clip in clips) for split in SPLITS}
    template = _read_text(prompt, "--prompt") if prompt else BUILT_IN_PROMPTS[config]
    if prompt:
        summary.notes.append(f"prompt: {prompt} (not the built-in one)")
    audio_index = _audio_index(audio_dir, follow_symlinks, min_audio_bytes)
    if audio_index is not None:
        summary.notes.append(audio_index.summary())  # what the loader says of the same folders
    # The lock covers all OUT_DIR: the label descriptions there are shared by the AudioSet configs.
    lock = contextlib.nullcontext() if dry_run else FolderLock(out, "generate run", holder=config)
    with lock, Ledger(config_dir / "ledger.jsonl") as ledger:  # two runs on one folder would pay twice
        if ledger.torn_lines:
            summary.notes.append(
                f"the ledger's last line was cut short by a killed run: set aside in {ledger.torn_path}; "
                "that clip is asked again"
            )

        def to_ask(key: str) -> bool:  # not in the ledger, or failed there and --retry-failed
            entry = ledger.get(key)
            return entry is None or (retry_failed and entry["status"] != "ok")

        show_progress = sys.stderr.isatty() if progress is None else progress
        jobs = make_jobs(
            config,
            clips,
            seed,
            pending=to_ask,
            scorer=scorer,
            audio_index=audio_index,
            notes=summary.notes,
            progress=show_progress,
        )
        summary.jobs = len(jobs)
        pending = [job for job in jobs if to_ask(job.key)]
        summary.finished_before, summary.pending = len(jobs) - len(pending), len(pending)

        if config == "music_dialogues" and label_descriptions:
            summary.notes.append("--label-descriptions is not used by music_dialogues (its clips have captions)")
        description_ledger = Ledger(out / DESCRIPTIONS_FILE) if config != "music_dialogues" else None
        descriptions = {e["key"]: e["description"] for e in description_ledger or () if e["status"] == "ok"}
        descriptions.update(read_label_descriptions(label_descriptions) if label_descriptions else {})
        asked_before = {e["key"] for e in description_ledger or () if not retry_failed}
        used = {label for job in pending for clip in job.clips if clip.strong for label in clip.strong.labels}
        wanted = sorted(used - set(descriptions) - asked_before)
        summary.descriptions_requested = len(wanted)
        failed_before = used - set(descriptions) - set(wanted)
        if failed_before:  # said on every run that uses them, not only on the run where their request failed
            summary.notes.append(
                f"{len(failed_before)} labels of the clips to ask have no description (their request failed in an "
                f"earlier run; --retry-failed asks again): their events are shown by name only "
                f"(first: {', '.join(sorted(failed_before)[:5])})"
            )

        if pending or wanted:  # what is asked now joins the ledger: it must be asked the same way
            check_settings(
                config_dir / SETTINGS_FILE,
                {
                    "model": model,
                    "prompt": f"{Path(prompt).name if prompt else 'built-in'} (sha256 {_sha(template)})",
                    "temperature": temperature,
                    "seed": seed,
                    "label_descriptions": (
                        f"{Path(label_descriptions).name} "
                        f"(sha256 {_sha(_read_text(label_descriptions, '--label-descriptions'))})"
                        if label_descriptions
                        else None
                    ),
                },
                what=str(config_dir),
                names={name: "--" + name.replace("_", "-") for name in SHAPING},
                record=not dry_run,
            )
        if dry_run:
            placeholder = {**dict.fromkeys(wanted, "description to be generated"), **descriptions}
            summary.first_prompt = build_messages(template, job_text(pending[0], placeholder)) if pending else None
            echo(_show_prompt(summary.first_prompt))
            _tally_ledger(ledger, summary)
            return summary

        try:
            if pending or wanted:  # a rerun with nothing to ask (e.g. to filter again) needs no server nor key
                backend = ChatBackend(
                    model=model,
                    base_url=base_url,
                    api_key=_api_key(api_key_env, base_url),
                    temperature=temperature,
                    seed=seed,
                    policy=RetryPolicy(retries=retries, backoff_base=backoff_base, timeout=timeout),
                )
                with StopPolicy("the requests in flight are finished and recorded") as stop:
                    run = Run(backend, Budget(max_requests), stop.event, max(1, concurrency), show_progress)
                    if wanted:
                        _ask_descriptions(run, wanted, description_ledger, descriptions, summary)
                    _ask_dialogues(run, config, template, pending, descriptions, ledger, summary)
                summary.budget_reached = run.budget.exhausted and summary.not_finished > 0
        except Interrupted:
            summary.interrupted = True
            summary.not_finished = summary.pending - summary.generated - sum(summary.failed.values())
        finally:
            if description_ledger is not None:
                description_ledger.close()
        _tally_ledger(ledger, summary)
        write_output(
            config_dir, config, ledger, summary, scorer=scorer, audio_index=audio_index, min_similarity=min_similarity
        )
    return summary


# --- 1. clips -------------------------------------------------------------------------------------


def parse_source(value: str | os.PathLike) -> tuple[str | None, Path]:
    """``"train=file.tsv"`` -> ``("train", Path("file.tsv"))``; ``"file.tsv"`` -> ``(None, ...)``."""
    text = os.fspath(value)
    split, sep, path = text.partition("=")
    if sep and split in SPLITS:
        return split, Path(path).expanduser()
    if sep and "/" not in split and os.sep not in split and not Path(text).exists():
        raise ValueError(
            f"--source {text!r}: the split must be one of {', '.join(SPLITS)} (SPLIT=FILE), or give FILE alone"
        )
    return None, Path(text).expanduser()


def read_ids(ids: str | os.PathLike | Iterable[str]) -> list[str]:
    """YouTube ids from a file (one a line; ``Y<id>``, ``<id>_<start>`` and file names are read too;
    blank lines and ``#`` comments skipped) or from an iterable of ids."""
    if isinstance(ids, (str, os.PathLike)):
        path = Path(ids).expanduser()
        lines = [
            (f"{path}, line {n}", line.strip())
            for n, line in enumerate(_read_text(path, "--ids").splitlines(), start=1)
        ]
    else:
        lines = [(f"id {i + 1}", str(x).strip()) for i, x in enumerate(ids)]
    out = []
    for where, line in lines:
        if not line or line.startswith("#"):
            continue
        parsed = parse_audio_name(line)
        if parsed is None:
            raise ValueError(
                f"{where}: {line[:40]!r} is not a YouTube id (11 characters of A-Z a-z 0-9 _ -). Write one id a line."
            )
        out.append(parsed.youtube_id)
    return list(dict.fromkeys(out))


def collect_clips(config: str, sources: Sequence[str], ids, notes: list[str]) -> list[Clip]:
    """The clips of the sources (in file order), each with its split; only those of ``ids`` if given."""
    share = paper_test_share(config)
    parsed = [parse_source(s) for s in sources]
    if config == "music_dialogues":
        parsed = parsed or [(None, shipped_musiccaps_file())]

        def read(path: Path) -> dict:
            return shipped_musiccaps() if path == shipped_musiccaps_file() else read_musiccaps(path)

    else:
        if not parsed:
            raise ValueError(
                f"{config} is made from the AudioSet strong labels: pass them as --source, e.g. "
                "--source train=audioset_train_strong.tsv --source test=audioset_eval_strong.tsv "
                "(Google's AudioSet download page, 'Strong labels')."
            )
        read = read_strong_labels
    clips: dict[str, Clip] = {}
    repeated = 0
    for split, path in parsed:
        for youtube_id, item in read(path).items():
            if youtube_id in clips:
                repeated += 1
                continue
            clip_split = split or hash_split(youtube_id, share)
            if config == "music_dialogues":
                clips[youtube_id] = Clip(youtube_id, clip_split, caption=item.caption)
            else:
                clips[youtube_id] = Clip(youtube_id, clip_split, strong=item)
    if repeated:
        notes.append(f"{repeated} clips appear in more than one source: the first source's row is used")
    if not any(split for split, _ in parsed):
        notes.append(
            f"splits: a stable hash of the YouTube id puts {share:.1%} of the clips in test (the paper's share)"
        )
    labels = {label for clip in clips.values() if clip.strong for label in clip.strong.labels}
    unnamed = labels - set(shipped_label_names())
    if unnamed:
        notes.append(
            f"{len(unnamed)} labels are not in mid_to_display_name.tsv and are shown by their MID "
            f"(first: {', '.join(sorted(unnamed)[:3])})"
        )
    if ids is not None:
        wanted = read_ids(ids)
        missing = [y for y in wanted if y not in clips]
        if missing:
            notes.append(
                f"{len(missing)} of the {len(wanted)} ids are in no source and were not generated "
                f"(first: {', '.join(missing[:5])})"
            )
        return [clips[y] for y in wanted if y in clips]
    return list(clips.values())


def _audio_index(audio_dir, follow_symlinks: bool = False, min_bytes: int = 0) -> AudioIndex | None:
    """The clips for the similarity filter, found as the loader finds them (the same load options)."""
    if audio_dir is None:
        return None
    dirs = [audio_dir] if isinstance(audio_dir, (str, os.PathLike)) else list(audio_dir)
    return index_audio_dirs(dirs, follow_symlinks=follow_symlinks, min_bytes=min_bytes)


# --- 2. label descriptions ------------------------------------------------------------------------


def read_label_descriptions(path: str | os.PathLike) -> dict[str, str]:
    """MID -> description from a JSON object keyed by MID or label name (``{"Dog": "a dog barking"}``)."""
    path = Path(path).expanduser()
    try:
        data = json.loads(_read_text(path, "--label-descriptions"))
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path}: not JSON ({err.msg}, line {err.lineno}); expected an object such as "
            '{"Dog": "a dog barking in short bursts"}'
        ) from err
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: expected a JSON object of label name or MID -> description, found {type(data).__name__}"
        )
    names = shipped_label_names()
    by_name = {name.lower(): mid for mid, name in names.items()}
    out = {}
    for key, description in data.items():
        mid = key if key in names or key.startswith("/") else by_name.get(key.lower())
        if mid is None:
            raise ValueError(
                f"{path}, key {key!r}: not an AudioSet strong-label name or MID "
                "(see data/metadata/mid_to_display_name.tsv)"
            )
        if not isinstance(description, str) or not description.strip():
            raise ValueError(f"{path}, key {key!r}: expected a non-empty description, found {description!r}")
        out[mid] = description.strip()
    return out


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


# --- 3. requests ----------------------------------------------------------------------------------


def job_text(job: Job, descriptions: dict[str, str]) -> str:
    """What the model is told about the job's clip(s)."""
    names = shipped_label_names()
    texts = [
        clip.caption if clip.caption is not None else event_text(clip.strong, names, descriptions) for clip in job.clips
    ]
    return comparison_text(texts) if len(job.clips) > 1 or job.most_similar is not None else texts[0]


def make_jobs(
    config: str,
    clips: Sequence[Clip],
    seed: int,
    *,
    pending: Callable[[str], bool],
    scorer=None,
    audio_index: AudioIndex | None = None,
    notes: list[str],
    progress: bool = False,
) -> list[Job]:
    """One job per clip; for comparisons the neighbours are chosen only for jobs still pending."""
    if not subset(config).multi_audio:
        return [Job(clip.youtube_id, clip.split, (clip,)) for clip in clips]
    jobs: list[Job] = []
    for split in SPLITS:
        pool = [clip for clip in clips if clip.split == split]
        if len(pool) == 1:
            notes.append(f"{split}: 1 clip, no comparison possible (a comparison needs 2 clips of the same split)")
        todo = [i for i, clip in enumerate(pool) if pending(clip.youtube_id)] if len(pool) > 1 else []
        if not todo:
            jobs += [Job(clip.youtube_id, split, (clip,)) for clip in pool if len(pool) > 1]
            continue
        vectors, method = _similarity_vectors(pool, scorer, audio_index)
        notes.append(f"{split}: comparison neighbours by {method}")
        plans = {}
        for i in todo:
            rng = random.Random(f"{seed}:{pool[i].youtube_id}")
            plans[i] = (min(rng.randint(*COMPARISON_CLIPS), len(pool)), rng.random() < 0.5)
        chosen = choose_neighbours(vectors, todo, plans, seed, progress=progress)
        for i, clip in enumerate(pool):
            if i in chosen:
                jobs.append(Job(clip.youtube_id, split, (clip, *(pool[j] for j in chosen[i])), plans[i][1]))
            else:  # finished: its clips are in the ledger
                jobs.append(Job(clip.youtube_id, split, (clip,), None))
    return jobs


def _similarity_vectors(pool: Sequence[Clip], scorer, audio_index: AudioIndex | None) -> tuple[np.ndarray, str]:
    """Unit vectors whose dot products are the clips' similarities: the scorer's audio embeddings when
    it has them and every clip's audio is found, otherwise the clips' label sets."""
    if scorer is not None and isinstance(scorer, AudioEmbedder) and audio_index is not None:
        paths = [audio_index.resolve(c.audio_id, c.youtube_id).path for c in pool]
        if all(paths):
            return unit_rows(scorer.audio_embeddings(paths)), f"{scorer.name} audio embeddings"
        method_note = f" ({sum(p is None for p in paths)} clips have no audio, so no audio embeddings)"
    else:
        method_note = " (no scorer with audio embeddings)"
    vectors = label_vectors([clip.strong.labels for clip in pool])
    return vectors, "the cosine similarity of their label sets" + method_note


def _ask_dialogues(
    run: Run,
    config: str,
    template: str,
    pending: Sequence[Job],
    descriptions: dict[str, str],
    ledger: Ledger,
    summary: GenerateSummary,
) -> None:
    """One request per pending job; each answer (ok or failed) goes to the ledger at once."""
    max_turns = subset(config).rules.max_turns
    requests = [
        Request(
            job.key,
            build_messages(template, job_text(job, descriptions)),
            lambda text: parse_dialogue_reply(text, max_turns),
            job,
        )
        for job in pending
    ]

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


def _api_key(variable: str, base_url: str | None) -> str:
    key = os.environ.get(variable)
    if key:
        return key
    if base_url is None:
        raise ValueError(
            f"No API key: set the environment variable {variable} (or name another with --api-key-env), "
            "or pass --base-url for a local server that needs none."
        )
    return "no-key"  # local servers (vLLM, llama.cpp, Ollama) accept any key


def _sha(messages: list[dict] | str) -> str:
    text = messages if isinstance(messages, str) else json.dumps(messages, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _show_prompt(messages: list[dict] | None) -> str:
    if not messages:
        return "(nothing to request)"
    return "\n".join(f"--- {m['role']} ---\n{m['content']}" for m in messages)


# --- 5. output ------------------------------------------------------------------------------------


def _tally_ledger(ledger: Ledger, summary: GenerateSummary) -> None:
    """The ledger's dialogues and failures, and what they cost (failed clips' requests included)."""
    for entry in ledger:
        if entry["status"] == "ok":
            summary.ledger_ok += 1
        else:
            summary.ledger_failed[entry["reason"]] += 1
        summary.ledger_requests += entry.get("requests", 1)
        summary.ledger_prompt_tokens += entry["usage"]["prompt_tokens"]
        summary.ledger_completion_tokens += entry["usage"]["completion_tokens"]


def write_output(
    config_dir: Path,
    config: str,
    ledger: Ledger,
    summary: GenerateSummary,
    *,
    scorer: SimilarityScorer | None = None,
    audio_index: AudioIndex | None = None,
    min_similarity: float = PAPER_MIN_SIMILARITY,
) -> None:
    """Filter the ledger's dialogues into ``<split>.jsonl`` (every split, even empty) and list what was removed."""
    multi = subset(config).multi_audio
    config_dir.mkdir(parents=True, exist_ok=True)
    score, unscored = _scoring(config_dir, scorer, audio_index, multi, summary.notes)
    records: dict[str, list[dict]] = {split: [] for split in SPLITS}
    removals: list[Removal] = []
    failed = []
    for entry in sorted(ledger, key=lambda e: e["key"]):
        if entry["status"] != "ok":
            failed.append(entry)
            continue
        kept, removed = filter_dialogue(
            entry["key"], entry["dialogue"], score=score and score(entry), min_similarity=min_similarity
        )
        removals += removed
        if kept:
            audio = {"audio_ids": entry["audio_ids"]} if multi else {"audio_id": entry["audio_ids"][0]}
            records.setdefault(entry["split"], []).append({**audio, "dialogue": kept})
            summary.turns[len(kept)] += 1
            summary.clips_per_record[len(entry["audio_ids"])] += 1
    for split, rows in records.items():
        _write_atomic(config_dir / f"{split}.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        summary.written[split] = len(rows)
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


def _scoring(config_dir: Path, scorer, audio_index, multi: bool, notes: list[str]):
    """``(score, unscored)``: ``score(entry)`` -> ``score(index, turn)`` (similarities kept in
    ``similarity.jsonl``, so a rerun scores only new pairs), or ``None`` when the filter is off;
    ``unscored`` counts the pairs whose clip has no audio (they are kept)."""
    unscored = collections.Counter()
    if scorer is None:
        notes.append("similarity filter: off (no scorer; pass --clap-checkpoint to turn it on)")
        return None, unscored
    if multi:
        notes.append("similarity filter: not applied to comparisons (a pair about several clips has no one clip)")
        return None, unscored
    if audio_index is None:
        notes.append("similarity filter: off (it needs the clips: pass --audio-dir)")
        return None, unscored
    notes.append(f"similarity filter: {scorer.name}")
    cache = Ledger(config_dir / "similarity.jsonl", durable=False)  # a lost score is only computed again

    def score(entry: dict):
        path = audio_index.resolve(entry["audio_ids"][0], entry["key"]).path

        def pair(index: int, turn: Turn) -> float | None:
            if path is None:
                unscored["pairs"] += 1
                return None
            text = pair_text(turn)
            key = f"{scorer.name}|{entry['key']}|{index}|{hashlib.sha256(text.encode()).hexdigest()[:16]}"
            if key not in cache:
                cache.record({"key": key, "score": float(scorer.similarity(path, text))})
            return cache.get(key)["score"]

        return pair

    return score, unscored


def _read_text(path: str | os.PathLike, flag: str) -> str:
    path = Path(path).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{flag} {path}: no such file") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{flag} {path}: not UTF-8 text (byte {err.start})") from err


def _tsv(text: str) -> str:
    return str(text).replace("\t", " ").replace("\n", " ")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --- the command ----------------------------------------------------------------------------------
