"""``audio-dialogues export``: configs as Parquet + a dataset card, loadable without this package."""

from __future__ import annotations

from typing import Sequence

from ..core.subsets import CONFIGS
from .flags import LoadFlags


def add_cli(commands, flags: LoadFlags) -> None:
    export_parser = commands.add_parser(
        "export",
        parents=flags.all,
        help="write configs as Parquet + a dataset card, loadable without this package (default: the bundled sample)",
    )
    export_parser.add_argument("out_dir", metavar="OUT_DIR", help="the folder to write (new or empty; see --overwrite)")
    export_parser.add_argument(
        "--config", action="append", choices=CONFIGS, help="only this config (repeatable; the first is the default)"
    )
    export_parser.add_argument(
        "--embed-audio", action="store_true", help="embed the clips' bytes (private or local use only)"
    )
    export_parser.add_argument(
        "--max-shard-size", default="500MB", help="bytes per Parquet file before compression (default 500MB)"
    )
    export_parser.add_argument("--overwrite", action="store_true", help="replace a previous export in OUT_DIR")
    export_parser.add_argument(
        "--push-to-hub", metavar="REPO_ID", help="then upload OUT_DIR as a Hub dataset repository"
    )
    export_parser.add_argument(
        "--private", action="store_true", help="make that repository private (always so with --embed-audio)"
    )
    export_parser.set_defaults(
        run=lambda args, kw: export(
            args.out_dir,
            args.config or CONFIGS,
            args.push_to_hub,
            args.private,
            embed_audio=args.embed_audio,
            max_shard_size=args.max_shard_size,
            overwrite=args.overwrite,
            **kw,
        )
    )


def export(
    out_dir: str,
    configs: Sequence[str] = CONFIGS,
    push_to_hub: str | None = None,
    private: bool = False,
    **export_kwargs,
) -> None:
    """Write configs as Parquet + dataset card (see :mod:`.export`), and maybe upload them."""
    from ..outputs.export import export as export_dataset
    from ..outputs.export import push_to_hub as push

    result = export_dataset(out_dir, configs, **export_kwargs)
    print(result.summary())
    if push_to_hub:
        print(f"uploaded to {push(out_dir, push_to_hub, private=True if private else None)}")
