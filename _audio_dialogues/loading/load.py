"""``load_dataset``: one subset, on every supported ``datasets`` version (3.6, 4.x, 5.x).

It speaks both dialects::

    load_dataset("audio_dialogues", "music_dialogues", split="test", **options)   # as datasets.load_dataset
    load_dataset("music_dialogues", "test", **options)                            # the short form

``options`` are the fields of :class:`~.options.AudioDialoguesConfig` (``data_dir``, ``audio_dir``,
``sampling_rate``, ...); an unknown one is refused with the list of valid ones. Split slicing
(``"train[:10%]"``) works as in ``datasets``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import did_you_mean
from ..core.subsets import CONFIGS, subset
from .builder import AudioDialogues

DATASET_NAME = "audio_dialogues"


def load_dataset(
    path: str,
    name: str | None = None,
    split: str | None = None,
    *,
    streaming: bool = False,
    cache_dir: str | os.PathLike | None = None,
    verification_mode: str | None = None,
    num_proc: int | None = None,
    **options,
):
    """Load one subset; returns a ``DatasetDict`` (a ``Dataset`` when ``split`` is given), or their
    iterable counterparts with ``streaming=True``.

    Args:
        path: ``"audio_dialogues"`` (or the path of this loading script or its folder), then ``name``
            is the config; or the config itself (``"music_dialogues"``), then ``name`` may be the split.
        streaming: read lazily, split by split, nothing prepared on disk.
        cache_dir: ``datasets``' cache folder (default: its own).
        verification_mode: ``"no_checks"`` accepts a release whose splits differ from the published sizes.
        num_proc: prepare with this many processes.
        **options: the load options (see :data:`~..core.load_options.OPTIONS`).
    """
    config, split = _config_and_split(path, name, split)
    builder = AudioDialogues(
        config,
        verification_mode=verification_mode,
        cache_dir=None if cache_dir is None else os.fspath(cache_dir),
        **options,
    )
    if streaming:
        return builder.as_streaming_dataset(split=split)
    builder.download_and_prepare(verification_mode=verification_mode, num_proc=num_proc)
    return builder.as_dataset(split=split)


def _config_and_split(path: str, name: str | None, split: str | None) -> tuple[str, str | None]:
    if path in CONFIGS:
        if name is not None and split is not None:
            raise TypeError(
                f"load_dataset({path!r}, {name!r}, split={split!r}): the config is {path!r}; give the split once."
            )
        return path, split if split is not None else name
    text = os.fspath(path)
    local = Path(text).expanduser()
    if local.is_dir() and (local / "README.md").is_file() and any(local.glob("data/*/*.parquet")):
        raise ValueError(
            f"load_dataset({text!r}): that folder is an export (Parquet and a card), read without this package: "
            f"datasets.load_dataset({text!r}, {name or CONFIGS[0]!r}). This load_dataset reads a release: "
            f"load_dataset({DATASET_NAME!r}, CONFIG, data_dir=...)."
        )
    if "/" in text and not local.exists():  # "nvidia/audio_dialogues": a Hub id, not this loader's name
        raise ValueError(
            f"load_dataset({text!r}): this package loads no Hub repository, and the Audio Dialogues text was never "
            f"published there. Generate it (audio-dialogues generate OUT --config CONFIG), then load it with "
            f"load_dataset({DATASET_NAME!r}, CONFIG, data_dir=OUT); an exported copy on the Hub is read with "
            f"datasets.load_dataset({text!r}, CONFIG)."
        )
    if text == DATASET_NAME or local.stem == DATASET_NAME:
        if name is None:
            raise ValueError(
                f"load_dataset({path!r}) needs a config: one of {', '.join(CONFIGS)}, "
                f"e.g. load_dataset({path!r}, {CONFIGS[1]!r})."
            )
        subset(name)  # an unknown config: the list of configs and a did-you-mean
        return name, split
    raise ValueError(
        f"Unknown config {path!r}: choose one of {', '.join(CONFIGS)} (or pass {DATASET_NAME!r}, then "
        f"the config).{did_you_mean(path, (DATASET_NAME, *CONFIGS))}"
    )
