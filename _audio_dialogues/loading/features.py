"""The features of this dataset, and its ``Audio`` feature: soundfile + soxr decoding, no torch.

``datasets`` 4+ decodes (and even encodes) ``Audio`` through torch + torchcodec + FFmpeg, and 3.6
returns float64 arrays. :class:`SoundfileAudio` is a subclass of ``datasets.Audio`` that stores
exactly what ``Audio`` stores (``{"bytes", "path"}``, serialised as type ``Audio``, so exports and
the Hub know the column is audio) but encodes and decodes without torch, identically on every
``datasets`` version. A decoded value is::

    {"path": "/data/clips/Y2oSP0SN3d2g.wav", "array": float32 mono ndarray, "sampling_rate": 16000}

Stereo and multichannel clips are averaged to mono. ``sampling_rate=None`` keeps the file's rate.
With ``decode=False`` the stored ``{"bytes": None, "path": ...}`` is returned and no file is read.
Formats are those of libsndfile (wav, flac, ogg/vorbis, opus, mp3); m4a/aac needs FFmpeg and is
decoded through librosa's audioread fallback when FFmpeg is installed.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import datasets
import numpy as np
import pyarrow as pa
import soundfile

from ..core.audio_files import parse_audio_name
from ..core.decoding import DEFAULT_MAX_SECONDS, AudioDecodeError, count_failure, decode_audio
from ..core.join import JoinedRecord
from ..core.musiccaps import MusicCapsClip, musiccaps_columns
from ..core.release import Record

logger = logging.getLogger("audio_dialogues")


@dataclass
class SoundfileAudio(datasets.Audio):
    """``datasets.Audio`` decoded with soundfile + soxr (float32, mono), on every datasets version.

    A file that cannot be decoded raises :class:`AudioDecodeError` naming the file and the YouTube
    id of the records that use it. With ``on_decode_error = "none"`` (set on the instance; it is not
    a dataclass field, so the feature still serialises as plain ``Audio``) the value is ``None``
    instead: the first failure in a process is logged as a warning, and all are counted in
    :func:`decode_failures`.
    """

    on_decode_error = "error"  # or "none"
    max_audio_seconds = DEFAULT_MAX_SECONDS  # a longer clip is refused from its header (None: no limit); not a field

    def encode_example(self, value: Any) -> dict:
        if isinstance(value, str):
            return {"bytes": None, "path": value}
        if isinstance(value, (bytes, bytearray)):
            return {"bytes": bytes(value), "path": None}
        if isinstance(value, dict) and "array" in value:
            # A decoded (maybe modified) array: store it losslessly as float WAV bytes.
            buffer = io.BytesIO()
            soundfile.write(
                buffer,
                np.asarray(value["array"], dtype=np.float32),
                value["sampling_rate"],
                format="WAV",
                subtype="FLOAT",
            )
            return {"bytes": buffer.getvalue(), "path": None}
        if isinstance(value, dict) and (value.get("bytes") is not None or value.get("path") is not None):
            return {"bytes": value.get("bytes"), "path": value.get("path")}
        raise ValueError(f"An audio value needs a 'path', 'bytes' or 'array'; got {value!r}")

    def decode_example(self, value: dict, token_per_repo_id=None) -> dict:
        if not self.decode:
            return value
        source = value["bytes"] if value.get("bytes") is not None else value.get("path")
        if source is None:
            raise ValueError(f"An audio value needs a 'path' or 'bytes'; got {value!r}")
        try:
            array, rate = decode_audio(source, self.sampling_rate, self.max_audio_seconds)
        except AudioDecodeError as err:
            parsed = parse_audio_name(os.path.basename(value["path"])) if value.get("path") else None
            record = f" (the clip of the records with YouTube id {parsed.youtube_id})" if parsed else ""
            error = AudioDecodeError(f"{err}{record}")
            if self.on_decode_error != "none":
                raise error from err
            if count_failure(error):
                logger.warning(
                    f"{error}. Its audio is None (on_decode_error='none'); further failures are only "
                    "counted: audio_dialogues.decode_failures()"
                )
            return None
        return {"path": value.get("path"), "array": array, "sampling_rate": rate}

    def cast_storage(self, storage: pa.Array) -> pa.StructArray:
        if pa.types.is_struct(storage.type) and storage.type.get_all_field_indices("array"):
            # Decoded values written back (e.g. by Dataset.map): encode here, not with datasets.Audio.
            encoded = [self.encode_example(x) if x is not None else None for x in storage.to_pylist()]
            storage = pa.array(encoded, type=self.pa_type)
        return super().cast_storage(storage)


def list_of(feature: Any) -> Any:
    """A list feature whose Python value is a list (of dicts, for a dict feature) on every version.

    ``datasets.List`` exists from 4.0; on 3.6 the same is spelt ``[feature]``.
    """
    return datasets.List(feature) if hasattr(datasets, "List") else [feature]


def dataset_features(
    multi_audio: bool,
    sampling_rate: int | None,
    decode: bool,
    with_metadata: bool = False,
    on_decode_error: str = "error",
    max_audio_seconds: float | None = DEFAULT_MAX_SECONDS,
    with_events: bool = False,
) -> datasets.Features:
    """The columns of one subset (see the feature table in docs/reference.md).

    ``with_metadata`` adds MusicCaps' columns (music_dialogues); ``with_events`` the AudioSet configs'
    ``events`` (one list per clip for a comparison; see core/events.py).
    """
    string = datasets.Value("string")
    audio = SoundfileAudio(sampling_rate=sampling_rate, decode=decode)
    audio.on_decode_error, audio.max_audio_seconds = on_decode_error, max_audio_seconds
    if multi_audio:
        columns = {"id": string, "youtube_ids": list_of(string), "audio_ids": list_of(string), "audios": list_of(audio)}
    else:
        columns = {"id": string, "youtube_id": string, "audio_id": string, "audio": audio}
    columns["dialogue"] = list_of({"user": string, "assistant": string})
    columns["num_turns"] = datasets.Value("int32")
    if with_events:
        event = {"mid": string, "label": string, "start": datasets.Value("float64"), "end": datasets.Value("float64")}
        events = list_of({**event, "description": string})
        columns["events"] = list_of(events) if multi_audio else events
    if with_metadata:  # see musiccaps.musiccaps_columns
        columns.update(
            musiccaps_caption=string,
            musiccaps_aspects=list_of(string),
            musiccaps_start_s=datasets.Value("int32"),
            musiccaps_end_s=datasets.Value("int32"),
        )
    return datasets.Features(columns)


class StorageRow(dict):
    """A row made by :func:`to_example`: already in the form Arrow stores (see :class:`PreEncodedFeatures`)."""


class PreEncodedFeatures(datasets.Features):
    """The dataset's features as the builder uses them while writing rows, which skips re-encoding our rows.

    ``datasets`` encodes every generated example generically: it walks each nested value looking for
    numpy or torch objects, then encodes it feature by feature; for this dataset that is about a third
    of a text-only prepare. A :class:`StorageRow` is already plain ``str``/``int``/``None`` with audio
    as ``{"bytes": None, "path": ...}``, exactly what that encoding returns (a test checks it on
    every config), so it is passed through. Anything else is encoded as usual.
    """

    def encode_example(self, example):
        return example if type(example) is StorageRow else super().encode_example(example)

    def __reduce__(self):  # datasets.Features pickles as plain Features; num_proc jobs need this class
        return PreEncodedFeatures, (dict(self),)


def to_example(
    item: JoinedRecord,
    multi_audio: bool,
    musiccaps: Mapping[str, MusicCapsClip] | None = None,
    events: Callable[[Record], Any] | None = None,
) -> StorageRow:
    """The row of one joined record, in the shape of :func:`dataset_features` and in storage form.

    ``musiccaps`` (clips by YouTube id) adds the ``with_metadata`` columns; ``events`` (record -> its
    events) the ``events`` column.
    """
    record = item.record
    if multi_audio:
        row = StorageRow(
            id=item.id,
            youtube_ids=list(record.youtube_ids),
            audio_ids=list(record.audio_ids),
            audios=[_stored_audio(path) for path in item.audio_paths],
        )
    else:
        row = StorageRow(
            id=item.id,
            youtube_id=record.youtube_ids[0],
            audio_id=record.audio_ids[0],
            audio=_stored_audio(item.audio_paths[0]),
        )
    row["dialogue"] = [{"user": turn["user"], "assistant": turn["assistant"]} for turn in record.dialogue]
    row["num_turns"] = len(record.dialogue)
    if events is not None:
        row["events"] = events(record)
    if musiccaps is not None:
        row.update(musiccaps_columns(musiccaps.get(record.youtube_ids[0])))
    return row


def _stored_audio(path: str | None) -> dict | None:
    return None if path is None else {"bytes": None, "path": path}


def restore_audio_decoding(
    dataset: Any,
    sampling_rate: int | None | str = "keep",
    *,
    on_decode_error: str = "error",
    max_audio_seconds: float | None = DEFAULT_MAX_SECONDS,
) -> Any:
    """Put this package's decoding (soundfile + soxr, no torch) back on every audio column of ``dataset``.

    After ``save_to_disk``/``load_from_disk``, a Parquet round trip or loading an export with plain
    ``datasets.load_dataset``, an audio column is plain ``datasets.Audio``, which datasets 4+ decodes
    only with torch + torchcodec. This casts each ``Audio`` column (and each list of ``Audio``, as in
    ``audioset_comparison``) to :class:`SoundfileAudio`, keeping the column's sampling rate unless
    ``sampling_rate`` is given (``None``: each file's rate). Works on a ``Dataset``, an ``IterableDataset``
    and their ``*Dict``; returns the new object, like ``cast_column``.

    Raises:
        ValueError: ``dataset`` has no audio column (nothing would change; the message lists its columns).
    """
    from ..core.load_options import check_options

    check_options(
        {
            "on_decode_error": on_decode_error,
            "max_audio_seconds": max_audio_seconds,
            **({} if sampling_rate == "keep" else {"sampling_rate": sampling_rate}),
        }
    )
    if isinstance(dataset, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        return type(dataset)(
            {
                split: restore_audio_decoding(
                    ds, sampling_rate, on_decode_error=on_decode_error, max_audio_seconds=max_audio_seconds
                )
                for split, ds in dataset.items()
            }
        )
    features = dataset.features
    if features is None:  # a stream whose features are not known yet
        raise ValueError(
            "The dataset's features are unknown (a stream read without them): pass features= when "
            "loading it, or restore the decoding on a Dataset."
        )
    columns = {name: feature for name, feature in features.items() if audio_feature(feature) is not None}
    if not columns:
        raise ValueError(
            f"No audio column to decode: the columns are {', '.join(features)} (an export without "
            "embed_audio has no audio; load with audio_dialogues.load_dataset(..., audio_dir=...))."
        )
    for name, feature in columns.items():
        stored = audio_feature(feature)
        audio = SoundfileAudio(
            sampling_rate=stored.sampling_rate if sampling_rate == "keep" else sampling_rate, decode=True
        )
        audio.on_decode_error, audio.max_audio_seconds = on_decode_error, max_audio_seconds
        dataset = dataset.cast_column(name, audio if isinstance(feature, datasets.Audio) else list_of(audio))
    return dataset


def audio_feature(feature: Any) -> datasets.Audio | None:
    """The ``Audio`` of an audio column (``Audio``, or a list of ``Audio`` in any spelling), else ``None``."""
    if isinstance(feature, datasets.Audio):
        return feature
    inner = feature[0] if isinstance(feature, list) and len(feature) == 1 else getattr(feature, "feature", None)
    return inner if isinstance(inner, datasets.Audio) else None
