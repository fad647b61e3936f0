"""Batching decoded audio for a training loop: padding, lengths, missing clips. Torch is optional.

A streamed split goes straight into a PyTorch ``DataLoader``; :func:`collate_audio` is its
``collate_fn``. Sharding needs no helper here: ``datasets.distributed.split_dataset_by_node(ds, rank,
world_size)`` gives each rank its own shards, and the ``DataLoader`` gives each worker its own shards
of those (see docs/training.md)::

    loader = DataLoader(ds, batch_size=8, num_workers=2, collate_fn=collate_audio)
    batch = next(iter(loader))
    batch["audio"]          # float32 [8, longest]: each clip from its first sample, then zeros
    batch["audio_lengths"]  # int64 [8]: samples of each clip; 0 where the clip is missing
    batch["audio_present"]  # bool [8]: False where the record's clip was not downloaded (audio None)
    batch["sampling_rate"]  # 16000, the one rate of every clip in the batch
    batch["dialogue"]       # every other column: a list, one value per example, as the dataset gave it

A comparison batch (column ``audios``, 2-4 clips per example) pads to three dimensions instead:
``audios`` is float32 ``[batch, most clips in an example, longest]``, and ``audios_lengths`` and
``audios_present`` are ``[batch, most clips]``. Slot ``j`` of example ``i`` is audio ``j`` of
``audio_ids[i]``; slots past ``len(audio_ids[i])`` are empty (length 0, not present), as are missing
clips. :func:`pad_audio` does the work with numpy alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

AUDIO_COLUMNS = ("audio", "audios")  # single-clip configs, audioset_comparison

AudioValue = Mapping[str, Any]  # a decoded value: {"path", "array", "sampling_rate"}


@dataclass(frozen=True)
class PaddedAudio:
    """Clips padded with zeros to the longest; ``lengths`` and ``present`` have the leading shape."""

    array: np.ndarray  # float32 [batch, samples] or [batch, clips, samples]
    lengths: np.ndarray  # int64: samples of each clip, 0 for a missing clip or an empty slot
    present: np.ndarray  # bool: a decoded clip is there
    sampling_rate: int | None  # None when no clip in the batch is present


def pad_audio(
    values: Sequence[AudioValue | None | Sequence[AudioValue | None]], *, max_seconds: float | None = None
) -> PaddedAudio:
    """Pad decoded audio values (or lists of them, for comparisons) into one float32 array.

    Args:
        values: one per example: a decoded value or ``None`` (missing clip); or, for comparison
            examples, a list of those.
        max_seconds: keep at most this many seconds from the start of each clip.

    Raises:
        ValueError: a value is not decoded (``decode=False``), or the clips have different sampling
            rates (load with ``sampling_rate=`` an int, the default 16000, not ``None``).
    """
    nested = bool(values) and all(isinstance(v, (list, tuple)) for v in values)
    rows: list[list[AudioValue | None]] = [list(v) for v in values] if nested else [[v] for v in values]
    width = max((len(row) for row in rows), default=0) if nested else 1  # clip slots per example
    rates = {_checked(v)["sampling_rate"] for row in rows for v in row if v is not None}
    if len(rates) > 1:
        raise ValueError(
            f"The clips of a batch have different sampling rates {sorted(rates)}: load the dataset with "
            "sampling_rate= one rate (the default, 16000) rather than None to pad them together."
        )
    rate = rates.pop() if rates else None
    limit = None if max_seconds is None or rate is None else int(max_seconds * rate)
    lengths = np.zeros((len(rows), width), dtype=np.int64)
    present = np.zeros((len(rows), width), dtype=bool)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value is not None:
                lengths[i, j] = len(value["array"][:limit])
                present[i, j] = True
    array = np.zeros((len(rows), width, int(lengths.max(initial=0))), dtype=np.float32)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value is not None:
                array[i, j, : lengths[i, j]] = value["array"][: lengths[i, j]]
    if not nested:
        array, lengths, present = array[:, 0], lengths[:, 0], present[:, 0]
    return PaddedAudio(array, lengths, present, rate)


def collate_audio(batch: Sequence[Mapping[str, Any]], *, max_seconds: float | None = None) -> dict[str, Any]:
    """A ``DataLoader`` ``collate_fn``: the audio column padded into torch tensors, every other column a list.

    Returns ``{column: float32 tensor, f"{column}_lengths": int64 tensor, f"{column}_present": bool
    tensor, "sampling_rate": int or None, <each other column>: list}`` with ``column`` ``"audio"`` or
    ``"audios"`` (shapes in the module docstring). Pass ``max_seconds`` with
    ``functools.partial(collate_audio, max_seconds=5.0)``.

    Raises:
        ValueError: as :func:`pad_audio`, or the examples have no audio column.
    """
    import torch

    columns = [c for c in AUDIO_COLUMNS if batch and c in batch[0]]
    if not columns:
        raise ValueError(
            f"collate_audio expects examples with an {' or '.join(map(repr, AUDIO_COLUMNS))} column; "
            f"got the columns {sorted(batch[0]) if batch else []}"
        )
    (column,) = columns
    padded = pad_audio([example[column] for example in batch], max_seconds=max_seconds)
    out: dict[str, Any] = {name: [example[name] for example in batch] for name in batch[0] if name != column}
    out[column] = torch.from_numpy(padded.array)
    out[f"{column}_lengths"] = torch.from_numpy(padded.lengths)
    out[f"{column}_present"] = torch.from_numpy(padded.present)
    out["sampling_rate"] = padded.sampling_rate
    return out


def _checked(value: Any) -> AudioValue:
    if not isinstance(value, Mapping) or value.get("array") is None:
        raise ValueError(
            f"Padding needs decoded audio ({{'path', 'array', 'sampling_rate'}} or None); got "
            f"{value!r:.120}. Load with decode=True (the default)."
        )
    return value
