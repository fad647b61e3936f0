"""Audio Dialogues: multi-turn dialogues about sounds and music (arXiv 2404.07616).

Three subsets, one config each: ``audioset_dialogues``, ``music_dialogues`` and
``audioset_comparison``. The dialogue files are read from a local copy of the release
(``data_dir`` / ``data_files``; without them, the small bundled sample) and joined, by YouTube id,
with the clips the user downloaded into ``audio_dir``. The audio is YouTube material that nobody may
redistribute; 10-20 % of clips are gone, so every load reports exactly what is missing.

This file is both the public module and the ``datasets`` loading script::

    from audio_dialogues import load_dataset
    ds = load_dataset("audio_dialogues", "music_dialogues", data_dir="~/audio_dialogues", audio_dir="~/clips")
    ds = load_dataset("music_dialogues", "test")        # the short form; the bundled sample

and, on datasets 3.6 only, ``datasets.load_dataset("path/to/audio_dialogues.py", "music_dialogues",
trust_remote_code=True, data_dir=..., audio_dir=...)``. Everything a user needs is importable from
here (see ``__all__``); the implementation lives in the internal package ``_audio_dialogues``, which
never imports this file.
"""

from _audio_dialogues import __version__
from _audio_dialogues.core.decoding import AudioDecodeError, decode_audio, decode_failures
from _audio_dialogues.core.join import MissingAudioError
from _audio_dialogues.core.load_options import OPTIONS
from _audio_dialogues.core.musiccaps import MusicCapsFormatError
from _audio_dialogues.core.release import ReleaseFormatError
from _audio_dialogues.core.splits import read_release
from _audio_dialogues.core.subsets import CONFIGS, SUBSETS
from _audio_dialogues.download.plan import read_clip_times
from _audio_dialogues.download.run import DownloadResult, download
from _audio_dialogues.evaluation.judge import JudgeScores
from _audio_dialogues.evaluation.judge_run import JudgeSettingsError, judge
from _audio_dialogues.evaluation.protocol import ProtocolReport, Query, run_protocol
from _audio_dialogues.evaluation.score import (
    JavaMissingError,
    PredictionError,
    Scores,
    evaluate,
)
from _audio_dialogues.generation.pipeline import GenerateSummary, generate
from _audio_dialogues.inspection.review import ReviewFileError, cohen_kappa, review_summary, start_review
from _audio_dialogues.inspection.stats import ReleaseStats, stats, write_stats_report
from _audio_dialogues.loading.builder import AudioDialogues
from _audio_dialogues.loading.features import SoundfileAudio, restore_audio_decoding
from _audio_dialogues.loading.load import load_dataset
from _audio_dialogues.loading.options import AudioDialoguesConfig
from _audio_dialogues.loading.training import PaddedAudio, collate_audio, pad_audio
from _audio_dialogues.outputs.convert import (
    FORMATS,
    ConvertedFileError,
    NoAudioFileError,
    convert_configs,
    convert_example,
    drop_absent_keys,
    read_jsonl,
    to_dialogue,
    write_jsonl,
)
from _audio_dialogues.outputs.export import ExportResult, export, push_to_hub
from _audio_dialogues.outputs.lhotse_interop import to_lhotse
from _audio_dialogues.outputs.notebook import show_dialogue

__all__ = [
    # loading
    "load_dataset",
    "AudioDialogues",
    "AudioDialoguesConfig",
    "OPTIONS",
    "CONFIGS",
    "SUBSETS",
    "read_release",
    # errors
    "ReleaseFormatError",
    "MissingAudioError",
    "AudioDecodeError",
    "MusicCapsFormatError",
    "NoAudioFileError",
    # audio and training
    "SoundfileAudio",
    "restore_audio_decoding",
    "decode_audio",
    "decode_failures",
    "collate_audio",
    "show_dialogue",
    "pad_audio",
    "PaddedAudio",
    # getting the audio
    "download",
    "DownloadResult",
    "read_clip_times",
    # evaluation
    "evaluate",
    "run_protocol",
    "Scores",
    "Query",
    "ProtocolReport",
    "PredictionError",
    "JavaMissingError",
    "judge",
    "JudgeScores",
    "JudgeSettingsError",
    # looking at the data
    "stats",
    "ReleaseStats",
    "write_stats_report",
    "start_review",
    "review_summary",
    "cohen_kappa",
    "ReviewFileError",
    # making the dialogues
    "generate",
    "GenerateSummary",
    # export and chat formats
    "export",
    "push_to_hub",
    "ExportResult",
    "FORMATS",
    "convert_example",
    "convert_configs",
    "to_dialogue",
    "write_jsonl",
    "read_jsonl",
    "drop_absent_keys",
    "ConvertedFileError",
    "to_lhotse",
    "__version__",
]


if __name__ == "__main__":  # python -m audio_dialogues: the audio-dialogues command
    import sys

    from _audio_dialogues.cli.main import main

    sys.exit(main())
