"""The options of ``generate``, declared once: the Python keywords of :func:`~.pipeline.generate`, their
checks, the flags of ``audio-dialogues generate`` and which of them shape the dialogues' text (a resume
into the same folder must keep those: they are recorded in ``OUT_DIR/<config>/settings.json``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.options import option
from .filters import PAPER_MIN_SIMILARITY, REMOVE_UNITS, SIMILARITY_TEXTS
from .prompts import PROMPT_STYLES

DEFAULT_MODEL = "gpt-4o-mini"
LABEL_WAIT = 3600.0  # an hour: the tasks of one Slurm array rarely start further apart


@dataclass(frozen=True)
class GenerateOptions:
    sources: tuple[str, ...] = option(
        (),
        "AudioSet strong-label TSV, or MusicCaps CSV (default for music: the shipped one); without SPLIT= the "
        "split is a stable hash of the YouTube id (repeatable)",
        flag="--source",
        metavar="[SPLIT=]FILE",
    )
    ids: str | tuple[str, ...] | None = option(
        None, "only these YouTube ids (a file, one a line; in Python also the ids themselves)", metavar="FILE"
    )
    label_descriptions: str | None = option(
        None,
        "JSON: label name or MID -> short description (default: asked once per label, kept in OUT_DIR)",
        shapes=True,
        metavar="FILE",
    )
    base_url: str | None = option(
        None, "an OpenAI-compatible server, e.g. http://localhost:8000/v1 (default: OpenAI)", metavar="URL"
    )
    model: str = option(DEFAULT_MODEL, "chat model", shapes=True)
    api_key_env: str = option("OPENAI_API_KEY", "environment variable holding the API key", metavar="VAR")
    shard: str | None = option(
        None, "ask only part K of N of the dialogues (a stable split by key); a run without it merges", metavar="K/N"
    )
    status: bool = option(False, "say how far each shard's ledger and the merged one got, and ask nothing")
    label_wait: float = option(  # docs/sharding.md: each label is asked by one shard, the others wait for it
        LABEL_WAIT, "max wait for other shards' labels", metavar="SECONDS", minimum=0
    )
    concurrency: int = option(4, "requests in flight", metavar="N", minimum=1)
    retries: int = option(5, "retries per request", metavar="N", minimum=0)
    temperature: float | None = option(
        None, "sampling temperature (default: the server's)", shapes=True, metavar="T", minimum=0
    )
    seed: int = option(0, "seed of comparison choices, sent to the server", shapes=True, metavar="S")
    max_requests: int | None = option(None, "stop after sending this many requests", metavar="N", minimum=0)
    prompt: str | None = option(
        None, "replace the built-in prompt ($clip: where the clip's text goes)", shapes=True, metavar="FILE"
    )
    prompt_style: str = option(
        "paper",
        "built-in prompts: the paper's content (default) or grounded (no invented detail, 1-4 turns)",
        shapes=True,
        choices=PROMPT_STYLES,
    )
    min_test_turns: int = option(
        3,
        "a test dialogue with fewer turns is asked again, then recorded as failed (3: AF1's three or four; 1: off)",
        shapes=True,
        metavar="N",
        minimum=1,
    )
    comparisons: str | int | None = option(
        None,
        "comparisons per split: every clip anchors one (all, the default), a seeded sample of N, or the paper's "
        "counts (paper)",
        shapes=True,
        metavar="N|paper|all",
    )
    remove: str = option(
        "qa-pair",
        "what a filter hit removes: the pair (the paper), the whole dialogue (AF1's code), or the pair and every "
        "later one (applied anew to the whole ledger)",
        choices=REMOVE_UNITS,
    )
    similarity_on: str = option(
        "answer",
        "what the similarity filter scores: the answer (AF1) or question and answer",
        flag="--similarity-text",
        choices=SIMILARITY_TEXTS,
    )
    dry_run: bool = option(False, "print the first prompt and how many requests would be sent")
    retry_failed: bool = option(False, "ask again for the clips that failed before")
    min_similarity: float = option(
        PAPER_MIN_SIMILARITY, "drop pairs below this similarity (the paper's; applied anew to the whole ledger)"
    )
    backoff_base: float = option(1.0, "seconds before the first retry, doubled each time", flag="--backoff", minimum=0)
    timeout: float = option(120.0, "seconds per HTTP request", metavar="SECONDS", minimum=0)
    progress: bool | None = option(None, "a progress bar (default: when stderr is a terminal)", cli=False)
