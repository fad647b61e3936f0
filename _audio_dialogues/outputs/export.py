"""Exporting loaded configs as a script-free Parquet dataset with a dataset card.

:func:`export` writes, for every config and split the loader produces::

    OUT_DIR/data/<config>/<split>-NNNNN-of-MMMMM.parquet
    OUT_DIR/README.md      the card: YAML ``configs`` + ``dataset_info`` (features, split sizes) and prose

which plain ``datasets.load_dataset(OUT_DIR, "<config>")`` reads on datasets 3.6, 4.x and 5.x, and
which the Hugging Face Hub viewer can browse (it runs no scripts). :func:`push_to_hub` uploads it.
Each config is read through ``audio_dialogues.load_dataset(config, decode=False)``, so the export has
the loader's rows and split sizes (and accepts its options: a partial release with
``verification_mode="no_checks"``, ``audio_dir``, ...), and no audio is decoded.

Decisions, and why:

- **The audio column(s) in the default export: dropped.** The clips are YouTube material that must
  not be republished, so a default export has the text and ids only: ``id``, ``youtube_id(s)``,
  ``audio_id(s)``, ``dialogue``, ``num_turns``. An ``Audio`` column of nulls was the alternative; it
  loads, but the viewer shows an empty player in every row and readers get a column that can never
  hold anything. The card says how to get the audio: download the clips, then load with this
  package's loader, which joins them by ``youtube_id``. No local path is ever written (the loader's
  absolute paths would leak the exporter's file system and point nowhere for anyone else).
- **``embed_audio=True``** keeps the ``Audio`` column(s) in datasets' embedded form, ``{"bytes": the
  file's bytes, "path": the file name only}`` (what ``embed_table_storage`` writes), ``None`` for a
  clip that was not found. The copy is self-contained and the viewer shows players; it is for private
  or local use, which the card states, and :func:`push_to_hub` makes such a repository private.
  The bytes are the downloaded files unchanged; the feature keeps the loader's ``sampling_rate``
  (16000 by default), so readers resample on decoding as the loader does.
- **Row groups**: 1,000 rows for a text-only export (datasets' default write batch; a dialogue row
  is a few hundred bytes (~350 B in the sample), so a group is well under 1 MB and a viewer page of
  100 rows or a streaming reader fetches little); with embedded audio at most 100 rows (datasets 3.6's
  ``PARQUET_ROW_GROUP_SIZE_FOR_AUDIO_DATASETS``, what its ``push_to_hub`` used for audio) and at most
  ~100 MB of data (datasets 5.x's ``MAX_ROW_GROUP_SIZE`` target), whichever is fewer rows: a 10 s
  44.1 kHz stereo WAV is ~1.7 MB, and a comparison row holds up to four clips.
- **Shards**: like datasets' ``push_to_hub``, a split of N bytes (Arrow size of the exported columns
  plus the embedded files' sizes) gets ``N // max_shard_size + 1`` shards (never more than its rows),
  contiguous and with equal row counts. Parquet compresses text, so files come out smaller than
  ``max_shard_size``.
- **Built aside, swapped in whole**: the export is written into a hidden sibling folder
  ``.<OUT_DIR name>.partial-<id>``, its Parquet files under hidden names no reader picks up (``.*.partial``)
  until every split is written and the card (which states each split's size, checked by ``datasets``)
  is in place; only then is the folder renamed to ``OUT_DIR``. An interrupted export (an error, Ctrl-C,
  SIGKILL) leaves ``OUT_DIR`` as it was, and its leftover folder loads as nothing.
- **What ``overwrite`` may replace**: only a provably earlier export, i.e. a folder whose every file is
  listed in its ``.audio-dialogues-export.json`` manifest (written by the export, with each file's
  size). A folder holding anything else (a clone of this repository, a release kept under ``data/``, a
  file added by hand) is never deleted, and neither is a folder holding the load's inputs
  (``data_dir``, ``data_files``, ``audio_dir``, ``cache_dir``). The old export is deleted only after
  the new one is complete.
- **Features**: written with datasets' own ``Features._to_yaml_list`` into the card's
  ``dataset_info``; the ``Audio`` feature is plain ``audio`` (``SoundfileAudio`` serialises as
  ``Audio``). The spelling is the same from datasets 3.6 and 5.x (``list: string``), and 3.6 reads
  it: 3.6 cannot read 5.x's ``List`` in Parquet metadata, but the card's features take precedence.
- **Parquet schema metadata**: the ``huggingface`` key holds the features in the spelling every
  version reads (a list feature as ``[feature]``, not 5.x's ``{"_type": "List"}``), so even a single
  file read without the card (``load_dataset("parquet", data_files=...)``) gets the same features,
  ``Audio`` included, on 3.6 and 5.x.

Loading the export with audio decoding on datasets 4.x/5.x goes through torch + torchcodec, as any
``datasets.Audio`` column does there (even a streamed column that is then removed is decoded);
without torch, ``restore_audio_decoding(ds)`` (:mod:`.features`) decodes the embedded bytes
with soundfile, and ``datasets.Audio(decode=False)`` gives them raw, on a Dataset or a stream.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from datasets.info import DatasetInfosDict
from datasets.utils.py_utils import convert_file_size_to_int

from ..core.decoding import check_readable
from ..core.sources import locate_release
from ..core.subsets import CONFIGS, SUBSETS
from ..loading.features import audio_feature, list_of
from .card import dataset_card

logger = logging.getLogger("audio_dialogues")
TEXT_ROW_GROUP_ROWS = 1000
AUDIO_ROW_GROUP_ROWS = 100
AUDIO_ROW_GROUP_BYTES = 100 * 10**6


@dataclass
class ExportedSplit:
    config: str
    split: str
    num_examples: int
    files: list[str]  # relative to the export folder
    row_group_rows: int
    missing_audio: int = 0  # audio values without a clip (one per missing clip reference), embedded or not


@dataclass
class ExportResult:
    """What :func:`export` wrote."""

    out_dir: Path
    embed_audio: bool
    splits: list[ExportedSplit] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"exported to {self.out_dir} "
            f"({'with embedded audio' if self.embed_audio else 'text and ids only, no audio'}):"
        ]
        for s in self.splits:
            line = (
                f"  {s.config}/{s.split}: {s.num_examples} rows, {len(s.files)} file(s), row groups of "
                f"{s.row_group_rows} rows"
            )
            if s.missing_audio:
                line += f", {s.missing_audio} clip(s) not found" + (" (written as None)" if self.embed_audio else "")
            lines.append(line)
        lines.append(f"  card: {self.out_dir / 'README.md'}")
        return "\n".join(lines)


def export(
    out_dir: str | os.PathLike,
    configs: Sequence[str] = CONFIGS,
    *,
    embed_audio: bool = False,
    max_shard_size: int | str = "500MB",
    overwrite: bool = False,
    **load_kwargs: Any,
) -> ExportResult:
    """Write ``configs`` as Parquet shards plus a dataset card into ``out_dir`` (see the module docstring).

    Args:
        out_dir: a new or empty folder (or, with ``overwrite=True``, a previous export, replaced once the new
            one is complete; see the module docstring).
        configs: the configs to export; the first is the card's default config.
        embed_audio: embed the clips' bytes (private or local use only); default: no audio column.
        max_shard_size: bytes per Parquet file before compression, an int or ``"500MB"``, ``"1GB"``, ...
        **load_kwargs: passed to ``audio_dialogues.load_dataset``: ``data_dir``, ``data_files``,
            ``audio_dir``, ``verification_mode``, ``sampling_rate``, ``missing_audio``, ``cache_dir``.

    Raises:
        ValueError: an unknown config, an empty config list, or ``decode``/``streaming``/``split`` in ``load_kwargs``.
        FileExistsError: ``out_dir`` holds files and ``overwrite`` is not set, or it is not provably an
            earlier export, or it holds an input of the load.
    """
    from ..loading.load import load_dataset

    configs = list(dict.fromkeys(configs))
    unknown = [c for c in configs if c not in SUBSETS]
    if unknown or not configs:
        raise ValueError(f"Cannot export {unknown or 'no config'}: choose from {', '.join(SUBSETS)}.")
    if {"decode", "streaming", "split"} & set(load_kwargs):
        raise ValueError("export loads every split undecoded itself: drop decode=, streaming= and split=.")
    shard_bytes = convert_file_size_to_int(max_shard_size)
    if shard_bytes <= 0:
        raise ValueError(f"max_shard_size={max_shard_size!r}: expected a positive size such as '500MB'.")
    out = Path(out_dir).expanduser().resolve()
    _check_out_dir(out, overwrite, load_kwargs)

    staging = out.with_name(f".{out.name}.partial-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    try:
        result, infos, releases = ExportResult(staging, embed_audio), DatasetInfosDict(), {}
        for config in configs:
            releases[config] = locate_release(  # for the card: the sample, a generated release, or another
                config, SUBSETS[config].published, load_kwargs.get("data_dir"), load_kwargs.get("data_files")
            )
            dataset_dict = load_dataset(config, decode=False, **load_kwargs)
            splits = datasets.SplitDict()
            for split, ds in dataset_dict.items():
                exported, nbytes = _write_split(ds, staging, config, split, embed_audio, shard_bytes)
                result.splits.append(exported)
                splits.add(
                    datasets.SplitInfo(
                        name=split, num_bytes=nbytes, num_examples=exported.num_examples, dataset_name="audio_dialogues"
                    )
                )
            first = next(iter(dataset_dict.values()))
            infos[config] = datasets.DatasetInfo(
                features=published_features(first.features, embed_audio),
                splits=splits,
                config_name=config,
                dataset_name="audio_dialogues",
                dataset_size=sum(s.num_bytes for s in splits.values()),
                download_size=sum(
                    _partial(staging / f).stat().st_size for s in result.splits if s.config == config for f in s.files
                ),
            )
        result.out_dir = out
        (staging / "README.md").write_text(dataset_card(infos, embed_audio, releases), encoding="utf-8")
        for s in result.splits:
            for name in s.files:
                os.replace(_partial(staging / name), staging / name)
        _write_manifest(staging)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def push_to_hub(
    out_dir: str | os.PathLike, repo_id: str, *, private: bool | None = None, token: str | None = None, api: Any = None
) -> str:
    """Upload an export folder to the Hub as a dataset repository; returns the repository's URL.

    An export with embedded audio is always uploaded to a private repository (``private=False`` is
    refused): the clips are YouTube material that must not be republished.
    """
    from huggingface_hub import HfApi

    out = Path(out_dir)
    embedded = _has_embedded_audio(out)
    if embedded and private is False:
        raise ValueError(
            f"{out} embeds YouTube audio, which must not be published: push it with private=True "
            "(--private), or export again without embed_audio."
        )
    api = api if api is not None else HfApi(token=token)
    repo = api.create_repo(repo_id=repo_id, repo_type="dataset", private=bool(private or embedded), exist_ok=True)
    api.upload_folder(
        repo_id=repo_id,
        repo_type="dataset",
        folder_path=str(out),
        commit_message="Audio Dialogues export (audio-dialogues export)",
    )
    return str(getattr(repo, "url", repo))


def published_features(features: datasets.Features, embed_audio: bool) -> datasets.Features:
    """The exported columns' features: the loader's, audio dropped (default) or as plain decoding ``datasets.Audio``."""
    columns = {}
    for name, feature in features.items():
        if audio_feature(feature) is None:
            columns[name] = feature
        elif embed_audio:
            audio = datasets.Audio(sampling_rate=audio_feature(feature).sampling_rate)
            columns[name] = audio if isinstance(feature, datasets.Audio) else list_of(audio)
    return datasets.Features.from_dict(datasets.Features(columns).to_dict())


def parquet_metadata(features: datasets.Features) -> dict[bytes, bytes]:
    """datasets' ``huggingface`` schema metadata, list features spelt ``[feature]`` (read by 3.6 and 5.x)."""

    def legacy(obj: Any) -> Any:
        if isinstance(obj, dict):
            if (
                obj.get("_type") in ("List", "Sequence")
                and obj.get("length", -1) == -1
                and set(obj) <= {"_type", "feature", "length"}
            ):
                return [legacy(obj["feature"])]
            return {k: legacy(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [legacy(v) for v in obj]
        return obj

    return {b"huggingface": json.dumps({"info": {"features": legacy(features.to_dict())}}).encode()}


# ---------------------------------------------------------------------------------------------------


MANIFEST = ".audio-dialogues-export.json"  # the files an export wrote: what makes a folder provably ours


def _partial(path: Path) -> Path:
    """Where a Parquet file is written until its whole export is complete: a hidden name, which datasets skips."""
    return path.with_name(f".{path.name}.partial")


def _check_out_dir(out: Path, overwrite: bool, load_kwargs: dict[str, Any]) -> None:
    """Refuse an ``out_dir`` that is a file, that holds anything but an earlier export, or that holds an input."""
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file; export needs a folder.")
    for name in ("data_dir", "data_files", "audio_dir", "cache_dir"):
        for path in _paths_of(load_kwargs.get(name)):
            resolved = Path(path).expanduser().resolve()
            if resolved == out or out in resolved.parents:
                raise FileExistsError(
                    f"{name} {path} is inside the export folder {out}: an export never replaces "
                    "its own input. Choose another OUT_DIR."
                )
    leftovers = sorted(
        str(p) for pattern in (f".{out.name}.partial-*", f".{out.name}.old-*") for p in out.parent.glob(pattern)
    )
    if leftovers:
        logger.warning(
            f"{len(leftovers)} folder(s) left by an interrupted export of {out}, not a dataset: "
            f"{', '.join(leftovers)}; delete them"
        )
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise FileExistsError(
            f"{out} is not empty: choose a new folder, or pass overwrite=True (--overwrite) "
            "to replace a previous export there."
        )
    strangers = _not_exported_by_us(out)
    if strangers is None:
        raise FileExistsError(
            f"{out} does not look like a previous export: it has no {MANIFEST} (the list of the "
            "files an export writes). Not overwriting it: choose a new folder, or delete it "
            "yourself."
        )
    if strangers:
        shown = ", ".join(strangers[:3]) + (f" and {len(strangers) - 3} more" if len(strangers) > 3 else "")
        raise FileExistsError(
            f"{out} does not look like a previous export (only): it holds {shown}, which the export "
            f"did not write (per its {MANIFEST}). Not overwriting it: choose a new folder, or "
            "delete it yourself."
        )


def _paths_of(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    if isinstance(value, dict):
        return [p for v in value.values() for p in _paths_of(v)]
    return [p for v in value for p in _paths_of(v)]


def _not_exported_by_us(out: Path) -> list[str] | None:
    """The files under ``out`` that its export manifest does not list (or lists with another size); ``None``
    without a readable manifest."""
    try:
        listed = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(listed, dict):
        return None
    found = []
    for path in sorted(out.rglob("*")):
        relative = path.relative_to(out).as_posix()
        if path.is_dir() and not path.is_symlink():
            continue
        ours = path.is_file() and not path.is_symlink() and listed.get(relative) == path.stat().st_size
        if relative == MANIFEST or ours:
            continue
        found.append(relative)
    return found


def _write_manifest(folder: Path) -> None:
    files = {p.relative_to(folder).as_posix(): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}
    (folder / MANIFEST).write_text(json.dumps({"files": files}, indent=1), encoding="utf-8")


def _swap_in(staging: Path, out: Path) -> None:
    """Put the complete export at ``out``; an earlier export there is moved aside first, deleted after."""
    old = out.with_name(f".{out.name}.old-{staging.name.rsplit('-', 1)[-1]}")
    if out.exists():
        os.replace(out, old)  # an empty folder, or an earlier export checked by _check_out_dir
    try:
        os.replace(staging, out)
    except BaseException:
        if old.exists():
            os.replace(old, out)  # the earlier export goes back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_split(
    ds: datasets.Dataset, out: Path, config: str, split: str, embed_audio: bool, shard_bytes: int
) -> tuple[ExportedSplit, int]:
    features = published_features(ds.features, embed_audio)
    audio_columns = [name for name, f in ds.features.items() if audio_feature(f) is not None]
    table = ds.with_format("arrow")[:] if len(ds) else ds.data.table.slice(0, 0)
    missing_clips = sum(
        1
        for c in audio_columns
        for v in table.column(c).to_pylist()
        for a in (v if isinstance(v, list) else [v])
        if a is None or not a.get("path")
    )
    if not embed_audio:
        table = table.drop(audio_columns)
    paths = {c: table.column(c).to_pylist() for c in audio_columns} if embed_audio else {}
    file_bytes = sum(os.path.getsize(p) for values in paths.values() for p in _paths_in(values))
    text_bytes = table.drop(audio_columns).nbytes if embed_audio else table.nbytes
    nbytes = text_bytes + file_bytes
    rows = table.num_rows
    if embed_audio:
        by_size = rows * AUDIO_ROW_GROUP_BYTES // nbytes if nbytes else AUDIO_ROW_GROUP_ROWS
        row_group_rows = max(1, min(AUDIO_ROW_GROUP_ROWS, by_size))
    else:
        row_group_rows = TEXT_ROW_GROUP_ROWS
    num_shards = max(1, min(rows, nbytes // shard_bytes + 1))
    schema = features.arrow_schema.with_metadata(parquet_metadata(features))
    folder = out / "data" / config
    folder.mkdir(parents=True, exist_ok=True)
    exported = ExportedSplit(config, split, rows, [], row_group_rows, missing_clips)
    for index in range(num_shards):
        start, stop = rows * index // num_shards, rows * (index + 1) // num_shards
        final = folder / f"{split}-{index:05d}-of-{num_shards:05d}.parquet"
        temporary = _partial(final)  # renamed once the whole export is complete
        try:
            with pq.ParquetWriter(temporary, schema) as writer:
                for lo in range(start, stop, row_group_rows) or [start]:  # an empty split: one empty file
                    batch = table.slice(lo, min(row_group_rows, stop - lo))
                    if embed_audio:
                        batch = _embed(batch, audio_columns)
                    writer.write_table(batch.select(schema.names).cast(schema), row_group_size=row_group_rows)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        exported.files.append(final.relative_to(out).as_posix())
    return exported, nbytes


def _paths_in(values: Iterable[Any]) -> Iterator[str]:
    for value in values:
        for audio in value if isinstance(value, list) else [value]:
            if audio is not None and audio.get("path"):
                yield audio["path"]


MAX_EMBEDDED_CLIP_BYTES = 256 * 2**20  # a 10 s clip is at most a few MB (48 kHz stereo float: 3.8 MB)


def _embed(batch: pa.Table, audio_columns: list[str]) -> pa.Table:
    """The batch with each audio value replaced by ``{"bytes": file bytes, "path": file name}``; None stays None."""

    def embedded(audio: dict | None) -> dict | None:
        if audio is None or not audio.get("path"):
            return None
        check_readable(audio["path"])  # a clip replaced by a pipe since the load would block the read forever
        path = Path(audio["path"])
        with path.open("rb") as file:  # read at most the cap: a sparse or wrong file never fills the memory
            data = file.read(MAX_EMBEDDED_CLIP_BYTES + 1)
        if len(data) > MAX_EMBEDDED_CLIP_BYTES:
            raise ValueError(
                f"{path} is larger than {MAX_EMBEDDED_CLIP_BYTES} bytes, more than any clip of this dataset (a sparse "
                "or wrong file at a clip's name): replace it with the downloaded clip, or export without --embed-audio."
            )
        return {"bytes": data, "path": path.name}

    for name in audio_columns:
        values = batch.column(name).to_pylist()
        new = [None if v is None else [embedded(a) for a in v] if isinstance(v, list) else embedded(v) for v in values]
        batch = batch.set_column(
            batch.schema.get_field_index(name), name, pa.array(new, type=batch.schema.field(name).type)
        )
    return batch


def _has_embedded_audio(out: Path) -> bool:
    for path in sorted((out / "data").rglob("*.parquet"))[:1]:
        metadata = pq.read_schema(path).metadata or {}
        features = json.loads(metadata.get(b"huggingface", b"{}")).get("info", {}).get("features", {})
        return '"Audio"' in json.dumps(features)
    return False
