"""The ``datasets`` builder of Audio Dialogues: the release's dialogues joined with local audio by YouTube id.

Read top-down: the dataset's constants, the builder (``_info``, ``_split_generators``,
``_generate_examples``), then the three public steps it adapts (prepare, read, stream). The work is
done by pure functions elsewhere: :mod:`.release` parses records, :mod:`.audio_files` finds clips,
:mod:`.join` joins them, :mod:`.reports` writes, reads and logs what was found, :mod:`.features`
makes rows. Every option is a field of :class:`~.options.AudioDialoguesConfig`.

The builder lives in the package, not in the loading script ``audio_dialogues.py``, because the
package's commands (``export``, ``convert``, ``evaluate``, ...) load data and the package never
imports the script; the script imports it from here (``datasets`` 3.6 finds it there).
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import datasets

from .. import __version__
from ..core.audio_files import AudioIndex, index_audio_dirs
from ..core.bundled import sample_audio_dir
from ..core.events import StrongLabelEvents
from ..core.load_options import OPTIONS, check_builder_arguments, check_options, defaults
from ..core.musiccaps import shipped_musiccaps, shipped_musiccaps_file
from ..core.reports import log_report, log_summary, read_report, write_report
from ..core.sources import ReleaseSource, check_cache_dir, code_fingerprint, locate_release, verify_record_count
from ..core.splits import NUM_SHARDS, SplitSource, paused_gc, shards_of, split_sources
from ..core.strong_labels import shipped_label_names_file
from ..core.subsets import SUBSETS, subset
from .features import PreEncodedFeatures, dataset_features, to_example
from .options import AudioDialoguesConfig

logger = logging.getLogger("audio_dialogues")

_CITATION = """\
@article{goel2024audiodialogues,
  title   = {Audio Dialogues: Dialogues dataset for audio and music understanding},
  author  = {Goel, Arushi and Kong, Zhifeng and Valle, Rafael and Catanzaro, Bryan},
  journal = {arXiv preprint arXiv:2404.07616},
  year    = {2024}
}
"""
_DESCRIPTION = (
    "Multi-turn dialogues about sounds (AudioSet) and music (MusicCaps), made by a chat model from the clips' "
    "labels or captions and filtered (the paper used GPT-4; a generated release names its model in its manifest)."
)
_HOMEPAGE = "https://arxiv.org/abs/2404.07616"
_LICENSE = (
    "Dialogue text: the terms of the model provider that generated it (the sample: CC BY-SA 4.0). AudioSet labels: "
    "CC BY 4.0; MusicCaps: CC BY-SA 4.0. Audio: YouTube clips, not included; download your own."
)
_VERSION = datasets.Version(__version__)  # a new package version builds afresh
_SAMPLE_NOTED: set[str] = set()  # the configs whose "bundled sample" line this process has logged

# What DatasetBuilder.__init__ itself takes (cache_dir, hash, info, ...); data_dir and data_files are our options.
_BUILDER_ARGS = (
    frozenset(inspect.signature(datasets.DatasetBuilder.__init__).parameters) - {"self", "config_kwargs"} - set(OPTIONS)
)


class AudioDialogues(datasets.GeneratorBasedBuilder):
    """Audio Dialogues; ``AudioDialogues("music_dialogues", **options)`` with the options of
    :class:`~.options.AudioDialoguesConfig`, plus ``datasets``' own builder arguments (``cache_dir``, ...)
    and ``verification_mode`` (``"no_checks"`` accepts a partial release; also a ``download_and_prepare``
    argument).
    """

    VERSION = _VERSION
    # Rows hold audio paths, never audio bytes: datasets' 100-row batches for audio columns (meant for
    # embedded audio) would only add per-batch overhead to writing and reading.
    DEFAULT_WRITER_BATCH_SIZE = 1000
    BUILDER_CONFIG_CLASS = AudioDialoguesConfig
    BUILDER_CONFIGS = [
        AudioDialoguesConfig(name=name, version=_VERSION, description=s.description) for name, s in SUBSETS.items()
    ]

    def __init__(self, config_name: str | None = None, *, verification_mode: str | None = None, **kwargs):
        subset(config_name)  # an unknown config fails here, with the list of configs
        options = {name: kwargs.pop(name) for name in list(kwargs) if name in OPTIONS}
        unknown = [name for name in kwargs if name not in _BUILDER_ARGS]
        if unknown:
            check_options({unknown[0]: None})  # raises: unknown option, with the valid ones and a did-you-mean
        options = {**defaults(), **check_options(options)}
        check_builder_arguments(verification_mode, kwargs.get("cache_dir"))
        if options["with_metadata"] and config_name != "music_dialogues":
            raise ValueError(
                f"with_metadata=True adds MusicCaps metadata, which only music_dialogues has; drop "
                f"with_metadata for {config_name}."
            )
        if options["strong_labels"] and config_name == "music_dialogues":
            raise ValueError(
                "strong_labels gives AudioSet clips their events; music_dialogues has MusicCaps captions "
                "instead (with_metadata=True): drop strong_labels for music_dialogues."
            )
        self.strong_events = StrongLabelEvents.read(options["strong_labels"]) if options["strong_labels"] else None
        if kwargs.get("cache_dir") is not None:
            check_cache_dir(kwargs["cache_dir"])
        self.verification_mode = verification_mode
        self.release: ReleaseSource = locate_release(
            config_name, SUBSETS[config_name].published, options["data_dir"], options["data_files"]
        )
        audio_dirs = options["audio_dir"]  # never [] (the options table refuses it)
        if audio_dirs is None:
            audio_dirs = [str(sample_audio_dir())] if self.release.is_sample else []
        if not audio_dirs and options["missing_audio"] != "keep":
            raise ValueError(
                f"missing_audio={options['missing_audio']!r} needs audio_dir= (the folder of your downloaded clips)."
            )
        if self.release.is_sample and config_name not in _SAMPLE_NOTED:  # once per config and process
            _SAMPLE_NOTED.add(config_name)
            log_summary(
                f"{config_name}: the bundled sample (synthesized clips); pass data_dir= the folder that "
                "`audio-dialogues generate` wrote"
            )
        with paused_gc():
            self.audio_index: AudioIndex | None = (
                index_audio_dirs(
                    audio_dirs, follow_symlinks=options["follow_symlinks"], min_bytes=options["min_audio_bytes"]
                )
                if audio_dirs
                else None
            )
        if self.audio_index and self.audio_index.needs_a_word():  # the counts alone are in each split's line
            log_summary(self.audio_index.summary())
        # Only what changes the rows goes to datasets, which hashes it into the cache id; the rest is set after.
        # The release and audio paths enter through the fingerprint (their files, not their spelling).
        rows = {
            name: value
            for name, value in options.items()
            if OPTIONS[name].rows and OPTIONS[name].rule not in ("path", "paths", "data_files")
        }
        kwargs.setdefault("dataset_name", "audio_dialogues")
        super().__init__(
            config_name=config_name, rows_fingerprint=self._rows_fingerprint(options["with_metadata"]), **rows, **kwargs
        )
        for name, value in options.items():
            setattr(self.config, name, value)
        self._reported: set[str] = set()  # splits whose report this builder has logged

    def _rows_fingerprint(self, with_metadata: bool) -> str:
        """The release files (path, size, mtime), the audio listing, the code and the datasets version
        (3.6 cannot read the dataset_info.json that 5.x writes) and, with metadata, the MusicCaps CSV."""
        parts = [
            self.release.fingerprint(),
            self.audio_index.fingerprint if self.audio_index else "text",
            code_fingerprint(),
            f"datasets{datasets.__version__}",
        ]
        if self.strong_events is not None:  # the user's TSVs (and the shipped label names) make the events column
            for path in (*self.strong_events.files, shipped_label_names_file()):
                stat = Path(path).stat()
                parts.append(f"strong{stat.st_size}.{stat.st_mtime_ns}")
        if with_metadata:  # the CSV is package data, which code_fingerprint does not cover
            stat = shipped_musiccaps_file().stat()
            parts.append(f"musiccaps{stat.st_size}.{stat.st_mtime_ns}")
        return "-".join(parts)

    def _info(self) -> datasets.DatasetInfo:
        config = self.config
        return datasets.DatasetInfo(
            description=f"{_DESCRIPTION} {SUBSETS[config.name].description}",
            features=dataset_features(
                SUBSETS[config.name].multi_audio,
                config.sampling_rate,
                config.decode,
                config.with_metadata,
                config.on_decode_error,
                config.max_audio_seconds,
                with_events=config.name != "music_dialogues",
            ),
            homepage=_HOMEPAGE,
            license=_LICENSE,
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        streaming = isinstance(dl_manager, datasets.StreamingDownloadManager)
        output_splits, generators = datasets.SplitDict(), []
        for split, source in self._sources().items():
            if not streaming:  # a stream reads nothing until the split is iterated, and then only that split
                joined, report = source.read()
                source.keep(joined)
                # _output_dir is the folder being built (moved to cache_dir when complete):
                # the report goes with the data.
                write_report(report, Path(self._output_dir, "reports"), Path(self.cache_dir, "reports"))
                log_report(report)
                self._log_events(source.name, joined)
                self._reported.add(split)
                output_splits.add(datasets.SplitInfo(name=split, num_examples=len(joined)))
            generators.append(datasets.SplitGenerator(name=split, gen_kwargs={"shards": shards_of(source, NUM_SHARDS)}))
        if not streaming:
            self.info.splits = output_splits  # what datasets' own verification compares the build against
            self.info.features = PreEncodedFeatures(self.info.features)  # as_dataset puts plain features back
        return generators

    def _generate_examples(self, shards):
        multi_audio = SUBSETS[self.config.name].multi_audio
        musiccaps = shipped_musiccaps() if self.config.with_metadata else None
        events = self._events if self.config.name != "music_dialogues" else None
        for shard in shards:
            for item in shard:
                yield item.id, to_example(item, multi_audio, musiccaps, events)

    def _events(self, record):
        """A record's ``events``: its own (a generate output), else from ``strong_labels``, else ``None``."""
        if record.events is not None or self.strong_events is None:
            return record.events
        return self.strong_events.events(record.youtube_ids, SUBSETS[self.config.name].multi_audio)

    def _log_events(self, name: str, joined) -> None:
        """Count where the split's events come from, in a line of the load summary of its own (the line that
        starts with ``<config>/<split>:`` is the join's)."""
        if self.config.name == "music_dialogues":
            return
        own = sum(item.record.events is not None for item in joined)
        joined_in = sum(item.record.events is None and self._events(item.record) is not None for item in joined)
        none = len(joined) - own - joined_in
        logger.info(
            f"events column of {name}: {own + joined_in} of {len(joined)} records ({own} from the records, "
            f"{joined_in} from strong_labels); {none} with events None"
            + ("" if own or self.strong_events else " (pass strong_labels=[the AudioSet strong-label TSVs])")
        )

    def _sources(self) -> dict[str, SplitSource]:
        config = self.config
        return split_sources(
            config.name,
            self.release,
            self.audio_index,
            missing_audio=config.missing_audio,
            verification_mode=self.verification_mode,
            on_invalid=config.on_invalid,
            with_metadata=config.with_metadata,
        )

    # The three public steps: keep our Audio feature (a cached dataset_info.json restores plain
    # datasets.Audio, which needs torch on datasets 4+), and on a cache hit check the record counts
    # and repeat the split reports.

    def download_and_prepare(self, *args, verification_mode=None, **kwargs):
        check_builder_arguments(verification_mode, num_proc=kwargs.get("num_proc"))
        self.verification_mode = verification_mode or self.verification_mode
        with paused_gc():  # also while datasets writes our rows: same reason as for reading them
            result = super().download_and_prepare(*args, verification_mode=verification_mode, **kwargs)
        self._report_cache_hit()
        return result

    def _report_cache_hit(self) -> None:
        """Splits read from the cache: check their release counts as a fresh prepare would, and log their reports."""
        for split, files in self.release.files.items():
            if split in self._reported:
                continue
            report = read_report(
                Path(self.cache_dir, "reports"), f"{self.config.name}/{split}", self.config.with_metadata
            )
            if report is None:
                continue
            verify_record_count(
                report.join.name,
                files,
                report.join.records,
                self.release.expected_records[split],
                self.verification_mode,
                self.release.expected_from,
            )
            log_report(report)
            self._reported.add(split)

    def as_dataset(self, split=None, *args, **kwargs):
        self.info.features = self._info().features
        return super().as_dataset(split, *args, **kwargs)

    def _as_dataset(self, split=datasets.Split.TRAIN, in_memory: bool = False) -> datasets.Dataset:
        """An empty split (every clip missing with ``missing_audio="skip"``, every record invalid with
        ``on_invalid="skip"``, a file holding ``[]``) is a dataset of 0 rows, not datasets' "corresponds to
        no data" (its report says why it is empty)."""
        name = str(split).split("[", 1)[0]
        info = self.info.splits.get(name) if self.info.splits else None
        if info is not None and info.num_examples == 0:
            features = self.info.features
            return datasets.Dataset.from_dict(
                {column: [] for column in features}, features=features, info=self.info.copy(), split=name
            )
        return super()._as_dataset(split, in_memory)

    def as_streaming_dataset(self, *args, **kwargs):
        self.info.features = self._info().features
        return super().as_streaming_dataset(*args, **kwargs)

    def __getstate__(self):  # num_proc jobs get no audio listing: each split's SplitSource carries what it reads
        return {**super().__getstate__(), "audio_index": None}
