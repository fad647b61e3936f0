"""``audio-dialogues generate``: the dialogues, made with an OpenAI-compatible chat model."""

from __future__ import annotations

from ..generation.filters import PAPER_MIN_SIMILARITY, REMOVE_UNITS, SIMILARITY_TEXTS
from ..generation.pipeline import DEFAULT_MODEL, generate
from ..generation.prompts import PROMPT_STYLES
from .flags import LoadFlags


def add_cli(commands, flags: LoadFlags) -> None:
    from ..core.subsets import CONFIGS

    p = commands.add_parser(
        "generate",
        parents=[flags.audio],
        help="make the dialogues with an OpenAI-compatible chat model (the paper's pipeline)",
    )
    p.add_argument("out_dir", metavar="OUT_DIR", help="where <config>/<split>.jsonl, the ledger and reports go")
    p.add_argument("--config", required=True, choices=CONFIGS)
    p.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="[SPLIT=]FILE",
        help="AudioSet strong-label TSV, or MusicCaps CSV (default for music: the shipped one); "
        "without SPLIT= the split is a stable hash of the YouTube id (repeatable)",
    )
    p.add_argument("--ids", metavar="FILE", help="only these YouTube ids (one a line)")
    p.add_argument(
        "--label-descriptions",
        metavar="FILE",
        help="JSON: label name or MID -> short description (default: asked once per label, kept in OUT_DIR)",
    )
    p.add_argument("--base-url", help="an OpenAI-compatible server, e.g. http://localhost:8000/v1 (default: OpenAI)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"chat model (default {DEFAULT_MODEL})")
    p.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        metavar="VAR",
        help="environment variable holding the API key (default OPENAI_API_KEY)",
    )
    p.add_argument("--concurrency", type=int, default=4, metavar="N", help="requests in flight (default 4)")
    p.add_argument("--retries", type=int, default=5, metavar="N", help="retries per request (default 5)")
    p.add_argument("--temperature", type=float, metavar="T", help="sampling temperature (default: the server's)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of comparison choices, sent to the server")
    p.add_argument("--max-requests", type=int, metavar="N", help="stop after sending this many requests")
    p.add_argument("--prompt", metavar="FILE", help="replace the built-in prompt ($clip: where the clip's text goes)")
    p.add_argument("--dry-run", action="store_true", help="print the first prompt and how many requests would be sent")
    p.add_argument("--retry-failed", action="store_true", help="ask again for the clips that failed before")
    p.add_argument(
        "--clap-checkpoint",
        metavar="FILE",
        help="LAION-CLAP checkpoint: turns the similarity filter on "
        "(needs --audio-dir and pip install 'audio-dialogues[clap]')",
    )
    p.add_argument("--clap-amodel", default="HTSAT-tiny", help="the checkpoint's audio model (default HTSAT-tiny)")
    p.add_argument(
        "--min-similarity",
        type=float,
        default=PAPER_MIN_SIMILARITY,
        help=f"drop pairs below this similarity (default {PAPER_MIN_SIMILARITY}, the paper's)",
    )
    p.add_argument(
        "--prompt-style",
        choices=PROMPT_STYLES,
        default="paper",
        help="built-in prompts: the paper's content (default) or grounded (no invented detail, 1-4 turns)",
    )
    p.add_argument(
        "--remove",
        choices=REMOVE_UNITS,
        default="qa-pair",
        help="what a filter hit removes: the pair (default, the paper), the whole dialogue (AF1's code), "
        "or the pair and every later one",
    )
    p.add_argument(
        "--similarity-text",
        choices=SIMILARITY_TEXTS,
        default="answer",
        help="what the similarity filter scores: the answer (default, AF1) or question and answer",
    )
    p.add_argument(
        "--min-test-turns",
        type=int,
        default=3,
        metavar="N",
        help="a test dialogue with fewer turns is asked again, then recorded as failed (default 3, AF1; 1: off)",
    )
    p.add_argument(
        "--comparisons",
        metavar="N|paper|all",
        default="all",
        help="comparisons per split: every clip anchors one (all, default), a seeded sample of N, "
        "or the paper's counts (paper)",
    )
    p.add_argument(
        "--msclap-checkpoint",
        metavar="FILE",
        help="MS-CLAP checkpoint: comparison neighbours by its audio embeddings, as the paper "
        "(needs --audio-dir and pip install 'audio-dialogues[msclap]')",
    )
    p.add_argument("--msclap-version", default="2023", choices=("2022", "2023"), help="the checkpoint's version")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per HTTP request (default 120)")
    p.add_argument("--backoff", type=float, default=1.0, help="seconds before the first retry, doubled each time")
    p.set_defaults(run=_run)


def _run(args, load_kwargs: dict) -> int:
    scorer = None
    if args.clap_checkpoint:
        from ..generation.filters import ClapScorer

        scorer = ClapScorer(args.clap_checkpoint, amodel=args.clap_amodel)
    neighbour_scorer = None
    if args.msclap_checkpoint:
        from ..generation.ms_clap import MsClapScorer

        neighbour_scorer = MsClapScorer(args.msclap_checkpoint, version=args.msclap_version)
    summary = generate(
        args.out_dir,
        args.config,
        sources=args.source,
        ids=args.ids,
        label_descriptions=args.label_descriptions,
        base_url=args.base_url,
        model=args.model,
        api_key_env=args.api_key_env,
        concurrency=args.concurrency,
        retries=args.retries,
        temperature=args.temperature,
        seed=args.seed,
        max_requests=args.max_requests,
        prompt=args.prompt,
        dry_run=args.dry_run,
        retry_failed=args.retry_failed,
        scorer=scorer,
        audio_dir=load_kwargs.get("audio_dir"),
        follow_symlinks=load_kwargs.get("follow_symlinks", False),
        min_audio_bytes=load_kwargs.get("min_audio_bytes", 0),
        min_similarity=args.min_similarity,
        backoff_base=args.backoff,
        timeout=args.timeout,
        prompt_style=args.prompt_style,
        remove=args.remove,
        similarity_on=args.similarity_text,
        min_test_turns=args.min_test_turns,
        comparisons=args.comparisons,
        neighbour_scorer=neighbour_scorer,
    )
    print(summary.summary())
    return 130 if summary.interrupted else 0
