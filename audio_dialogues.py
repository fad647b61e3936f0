"""Audio Dialogues: multi-turn dialogues about sounds and music (arXiv 2404.07616).

Three subsets, one config each: ``audioset_dialogues``, ``music_dialogues`` and
``audioset_comparison``. The dialogue files are read from a local copy of the release
(``data_dir`` / ``data_files``; without them, the small bundled sample) and joined, by YouTube id,
with the clips the user downloaded into ``audio_dir``. The audio is YouTube material that nobody may
redistribute; 10-20 % of clips are gone, so every load reports exactly what is missing.

Entry points, on every supported ``datasets`` version (3.6 and 4.x/5.x)::

    from audio_dialogues import load_dataset
    ds = load_dataset("music_dialogues", data_dir="~/audio_dialogues", audio_dir="~/clips")

or, on datasets 3.6 only, ``datasets.load_dataset("path/to/audio_dialogues.py", "music_dialogues",
trust_remote_code=True, data_dir=..., audio_dir=...)``; or the builder class :class:`AudioDialogues`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import datasets

from _audio_dialogues import __version__
from _audio_dialogues.audio_files import AudioIndex, index_audio_dirs
from _audio_dialogues.features import DECODE_ERROR_POLICIES, PreEncodedFeatures, dataset_features, to_example
from _audio_dialogues.join import INVALID_RECORD_POLICIES, MISSING_AUDIO_POLICIES, JoinReport, write_report
from _audio_dialogues.musiccaps import MusicCapsReport, match_musiccaps, shipped_musiccaps, shipped_musiccaps_file, write_musiccaps_report
from _audio_dialogues.subsets import SUBSETS
from _audio_dialogues.sources import (
    DataFiles, LoadOptions, check_cache_dir, code_fingerprint, locate_release, sample_audio_dir,
)
from _audio_dialogues.splits import NUM_SHARDS, SplitSource, paused_gc, shards_of

logger = logging.getLogger("audio_dialogues")

_CITATION = """\
@article{goel2024audiodialogues,
  title   = {Audio Dialogues: Dialogues dataset for audio and music understanding},
  author  = {Goel, Arushi and Kong, Zhifeng and Valle, Rafael and Catanzaro, Bryan},
  journal = {arXiv preprint arXiv:2404.07616},
  year    = {2024}
}
"""
_DESCRIPTION = "Multi-turn dialogues about sounds (AudioSet) and music (MusicCaps), generated with GPT-4 and filtered."
_HOMEPAGE = "https://arxiv.org/abs/2404.07616"
_LICENSE = "Dialogue text: the release's terms. Audio: YouTube clips, not included; download your own."
_VERSION = datasets.Version(__version__)  # a new package version builds afresh


@dataclass
class AudioDialoguesConfig(datasets.BuilderConfig):
    """A subset, plus what this load reads (set by :class:`AudioDialogues` from its arguments)."""

    options: LoadOptions | None = None


class AudioDialogues(datasets.GeneratorBasedBuilder):
    """Audio Dialogues: the release's dialogues joined with local audio by YouTube id.

    Args:
        config_name: ``"audioset_dialogues"``, ``"music_dialogues"`` or ``"audioset_comparison"``.
        data_dir: folder holding ``<config>/<split>.json`` (or ``.jsonl``, optionally ``.gz``).
        data_files: ``{"train": ..., "test": ...}`` paths or globs, instead of ``data_dir``'s layout.
        audio_dir: folder (searched recursively) or list of folders holding the clips. Default: the
            sample's clips when loading the sample, otherwise none (a text-only load).
        sampling_rate: rate decoded audio is resampled to; ``None`` keeps each file's rate.
        missing_audio: ``"keep"`` (audio ``None``), ``"skip"`` (drop the record) or ``"error"``.
        decode: ``False`` returns ``{"path", "bytes": None}`` instead of reading the file.
        verification_mode: as in ``datasets``; ``"no_checks"`` accepts a partial release.
        with_metadata: ``music_dialogues`` only: add MusicCaps' ``musiccaps_caption`` (string),
            ``musiccaps_aspects`` (list of strings) and ``musiccaps_start_s`` / ``musiccaps_end_s``
            (int32, seconds into the YouTube video), joined by YouTube id from the shipped
            ``data/metadata/musiccaps-public.csv`` (CC BY-SA 4.0, Agostinelli et al. 2023, see
            ``data/metadata/LICENSE.md``). All four are ``None`` for an id not in MusicCaps; such ids
            are counted in the log and listed in ``reports/<split>.musiccaps_missing.tsv``.
        on_invalid: ``"error"`` (default): a record that fails validation stops the load with a
            :class:`~_audio_dialogues.release.ReleaseFormatError` naming the file, the record
            (or line), the field and what was expected. ``"skip"``: such records are dropped,
            counted in the summary and listed in ``reports/<split>.invalid.tsv``; they still count
            towards the published split size, which is checked before they are dropped.
        follow_symlinks: also use symbolic links in ``audio_dir`` that point to files outside it
            (by default audio is only read from inside the given folders; such links are counted).
        min_audio_bytes: audio files smaller than this are treated as missing (default 0: off; the
            paper's authors dropped clips under 16,000 bytes, mostly failed downloads).
        on_decode_error: ``"error"`` (default): a clip that cannot be decoded raises
            ``AudioDecodeError`` naming the file and its YouTube id; ``"none"``: its value is ``None``,
            the first failure is logged and all are counted (``features.decode_failures()``).
        **kwargs: passed to ``datasets.GeneratorBasedBuilder`` (``cache_dir``, ...).
    """

    VERSION = _VERSION
    # Rows hold audio paths, never audio bytes: datasets' 100-row batches for audio columns (meant for
    # embedded audio) would only add per-batch overhead to writing and reading.
    DEFAULT_WRITER_BATCH_SIZE = 1000
    BUILDER_CONFIG_CLASS = AudioDialoguesConfig
    BUILDER_CONFIGS = [AudioDialoguesConfig(name=name, version=_VERSION, description=s.description) for name, s in SUBSETS.items()]

    def __init__(
        self,
        config_name: str | None = None,
        *,
        data_dir: str | os.PathLike | None = None,
        data_files: DataFiles | None = None,
        audio_dir: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
        sampling_rate: int | None = 16000,
        missing_audio: str = "keep",
        decode: bool = True,
        verification_mode: str | None = None,
        with_metadata: bool = False,
        on_invalid: str = "error",
        follow_symlinks: bool = False,
        min_audio_bytes: int = 0,
        on_decode_error: str = "error",
        **kwargs,
    ):
        if config_name not in SUBSETS:
            raise ValueError(f"Unknown config {config_name!r}: choose one of {', '.join(SUBSETS)}.")
        if missing_audio not in MISSING_AUDIO_POLICIES:
            raise ValueError(f"missing_audio={missing_audio!r}: choose one of {', '.join(MISSING_AUDIO_POLICIES)}.")
        if on_invalid not in INVALID_RECORD_POLICIES:
            raise ValueError(f"on_invalid={on_invalid!r}: choose one of {', '.join(INVALID_RECORD_POLICIES)}.")
        if on_decode_error not in DECODE_ERROR_POLICIES:
            raise ValueError(f"on_decode_error={on_decode_error!r}: choose one of {', '.join(DECODE_ERROR_POLICIES)}.")
        if not isinstance(min_audio_bytes, int) or isinstance(min_audio_bytes, bool) or min_audio_bytes < 0:
            raise ValueError(f"min_audio_bytes={min_audio_bytes!r}: expected a size in bytes (0 turns the check off).")
        if sampling_rate is not None and (not isinstance(sampling_rate, int) or sampling_rate <= 0):
            raise ValueError(f"sampling_rate={sampling_rate!r}: expected a positive int, or None to keep each file's rate.")
        if with_metadata and config_name != "music_dialogues":
            raise ValueError(f"with_metadata=True adds MusicCaps metadata, which only music_dialogues has; drop with_metadata for {config_name}.")
        if kwargs.get("cache_dir") is not None:
            check_cache_dir(kwargs["cache_dir"])
        release = locate_release(config_name, SUBSETS[config_name].published, data_dir, data_files)
        if release.is_sample:
            logger.info(f"{config_name}: no data_dir/data_files given, loading the bundled sample; pass data_dir= for the full release")
        if audio_dir is None:
            audio_dirs = [sample_audio_dir()] if release.is_sample else []
        else:
            audio_dirs = [audio_dir] if isinstance(audio_dir, (str, os.PathLike)) else list(audio_dir)
        if not audio_dirs and missing_audio != "keep":
            raise ValueError(f"missing_audio={missing_audio!r} needs audio_dir= (the folder of your downloaded clips).")
        with paused_gc():
            self.audio_index: AudioIndex | None = (
                index_audio_dirs(audio_dirs, follow_symlinks=follow_symlinks, min_bytes=min_audio_bytes) if audio_dirs else None
            )
        if self.audio_index:
            logger.info(self.audio_index.summary())
        self.decode, self.on_decode_error, self.verification_mode = decode, on_decode_error, verification_mode
        self._reported: set[str] = set()  # splits whose join summary this builder has logged
        self._musiccaps_reported: set[str] = set()  # SplitSource tokens whose MusicCaps summary is logged
        fingerprint = "-".join([  # datasets' version too: 3.6 cannot read the dataset_info.json that 5.x writes
            release.fingerprint(), self.audio_index.fingerprint if self.audio_index else "text", code_fingerprint(),
            f"datasets{datasets.__version__}",
        ])
        if with_metadata:  # the CSV is package data, which code_fingerprint does not cover
            stat = shipped_musiccaps_file().stat()
            fingerprint += f"-musiccaps{stat.st_size}.{stat.st_mtime_ns}"
        options = LoadOptions(release, sampling_rate, missing_audio, fingerprint, bool(with_metadata), on_invalid)
        super().__init__(config_name=config_name, options=options, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        subset = SUBSETS[self.config.name]
        return datasets.DatasetInfo(
            description=f"{_DESCRIPTION} {subset.description}",
            features=dataset_features(subset.rules.multi_audio, self.config.options.sampling_rate, self.decode,
                                      self.config.options.with_metadata, self.on_decode_error),
            homepage=_HOMEPAGE,
            license=_LICENSE,
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        subset, options = SUBSETS[self.config.name], self.config.options
        streaming = isinstance(dl_manager, datasets.StreamingDownloadManager)
        output_splits, generators = datasets.SplitDict(), []
        for split, files in options.release.files.items():
            source = SplitSource(
                f"{self.config.name}/{split}", split, files, subset.rules, options.release.expected_records[split],
                self.audio_index, options.missing_audio, self.verification_mode, options.on_invalid,
            )
            if not streaming:  # a stream reads nothing until the split is iterated, and then only that split
                joined, report = source.read()
                source.keep(joined)
                # _output_dir is the folder being built (moved to cache_dir when complete): the report goes with the data.
                write_report(report, Path(self._output_dir, "reports"), Path(self.cache_dir, "reports"))
                logger.info(report.summary())
                if options.with_metadata:
                    musiccaps = match_musiccaps(joined, shipped_musiccaps(), name=source.name)
                    write_musiccaps_report(musiccaps, Path(self._output_dir, "reports"), Path(self.cache_dir, "reports"))
                    logger.info(musiccaps.summary())
                    self._musiccaps_reported.add(source.token)
                self._reported.add(split)
                output_splits.add(datasets.SplitInfo(name=split, num_examples=len(joined)))
            shards = shards_of(source, NUM_SHARDS)
            generators.append(datasets.SplitGenerator(name=split, gen_kwargs={"shards": shards}))
        if not streaming:
            self.info.splits = output_splits  # what datasets' own verification compares the build against
            self.info.features = PreEncodedFeatures(self.info.features)  # as_dataset puts plain features back
        return generators

    def _generate_examples(self, shards):
        multi_audio = SUBSETS[self.config.name].rules.multi_audio
        musiccaps = shipped_musiccaps() if self.config.options.with_metadata else None
        for shard in shards:
            if musiccaps is not None and shard.source.token not in self._musiccaps_reported:  # a stream: log on first read
                logger.info(match_musiccaps(shard.source.joined(), musiccaps, name=shard.source.name).summary())
                self._musiccaps_reported.add(shard.source.token)
            for item in shard:
                yield item.id, to_example(item, multi_audio, musiccaps)

    # The three public steps: keep our Audio feature (a cached dataset_info.json restores plain
    # datasets.Audio, which needs torch on datasets 4+), and repeat the join summary on a cache hit.

    def download_and_prepare(self, *args, verification_mode=None, **kwargs):
        self.verification_mode = verification_mode or self.verification_mode
        with paused_gc():  # also while datasets writes our rows: same reason as for reading them
            return super().download_and_prepare(*args, verification_mode=verification_mode, **kwargs)

    def as_dataset(self, split=None, *args, **kwargs):
        self.info.features = self._info().features
        for name in set(self.config.options.release.files) - self._reported:
            report_file = Path(self.cache_dir, "reports", f"{name}.summary.json")
            if report_file.is_file():
                logger.info(JoinReport.from_json(report_file.read_text(encoding="utf-8")).summary())
                musiccaps_file = report_file.with_name(f"{name}.musiccaps_missing.tsv")
                if self.config.options.with_metadata and musiccaps_file.is_file():
                    text = musiccaps_file.read_text(encoding="utf-8")
                    logger.info(MusicCapsReport.from_tsv(f"{self.config.name}/{name}", text, str(musiccaps_file)).summary())
                self._reported.add(name)
        return super().as_dataset(split, *args, **kwargs)

    def as_streaming_dataset(self, *args, **kwargs):
        self.info.features = self._info().features
        return super().as_streaming_dataset(*args, **kwargs)

    def __getstate__(self):  # num_proc jobs get no audio listing: each split's SplitSource carries what it reads
        return {**super().__getstate__(), "audio_index": None}


def load_dataset(
    name: str,
    split: str | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    data_files: DataFiles | None = None,
    audio_dir: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    sampling_rate: int | None = 16000,
    missing_audio: str = "keep",
    decode: bool = True,
    streaming: bool = False,
    cache_dir: str | os.PathLike | None = None,
    verification_mode: str | None = None,
    num_proc: int | None = None,
    with_metadata: bool = False,
    on_invalid: str = "error",
    follow_symlinks: bool = False,
    min_audio_bytes: int = 0,
    on_decode_error: str = "error",
):
    """Load one subset on any supported ``datasets`` version; arguments as in :class:`AudioDialogues`.

    Returns a ``DatasetDict`` (``Dataset`` when ``split`` is given), or their iterable counterparts
    when ``streaming=True``. ``with_metadata=True`` (``music_dialogues`` only) adds MusicCaps'
    caption, aspect list and clip start/end: columns ``musiccaps_caption``, ``musiccaps_aspects``,
    ``musiccaps_start_s``, ``musiccaps_end_s``, ``None`` for YouTube ids not in MusicCaps.
    ``on_invalid="skip"`` drops records that fail validation instead of raising
    ``ReleaseFormatError``, counting them in the summary and listing them in
    ``reports/<split>.invalid.tsv``.
    """
    builder = AudioDialogues(
        name, data_dir=data_dir, data_files=data_files, audio_dir=audio_dir, sampling_rate=sampling_rate,
        missing_audio=missing_audio, decode=decode, verification_mode=verification_mode, with_metadata=with_metadata,
        on_invalid=on_invalid, follow_symlinks=follow_symlinks, min_audio_bytes=min_audio_bytes, on_decode_error=on_decode_error,
        cache_dir=None if cache_dir is None else os.fspath(cache_dir),
    )
    if streaming:
        return builder.as_streaming_dataset(split=split)
    builder.download_and_prepare(verification_mode=verification_mode, num_proc=num_proc)
    return builder.as_dataset(split=split)
