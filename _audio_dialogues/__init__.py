"""The implementation behind the public module ``audio_dialogues`` (import from there, not from here).

One module per job, each usable and tested without ``datasets`` where it can be:

- :mod:`.subsets`       the three subsets: record rules and published split sizes (one table);
- :mod:`.options`       the load options: the config dataclass and the table that checks them;
- :mod:`.release`       reading and validating the dialogue files of a release;
- :mod:`.sources`       where the release and the bundled data are, fingerprints, the record-count check;
- :mod:`.audio_files`   finding a record's audio file by YouTube id in the user's folders;
- :mod:`.join`          joining records with audio, the missing-audio policies;
- :mod:`.reports`       every split report: written beside the data, read back, logged;
- :mod:`.splits`        reading a split once per process, and its record-range shards;
- :mod:`.decoding`      decoding audio files to float32 mono (soundfile + soxr, no torch);
- :mod:`.features`      the columns, and the ``Audio`` feature that decodes with :mod:`.decoding`;
- :mod:`.musiccaps`     MusicCaps' captions and aspects for ``music_dialogues`` (``with_metadata=True``);
- :mod:`.builder`       the ``datasets`` builder; :mod:`.loading` its ``load_dataset``;
- :mod:`.training`      a padding collate function for a PyTorch ``DataLoader`` (torch optional);
- :mod:`.convert`       chat formats for training (openai / llava / swift) and back;
- :mod:`.export`        script-free Parquet for the Hub; :mod:`.card` its dataset card;
- :mod:`.download`      getting the YouTube clips with yt-dlp + ffmpeg, resumable, with a status per clip;
- :mod:`.evaluate`      scoring predictions the paper's way (BLEU-4, ROUGE-L, CIDEr) and the multi-turn protocol;
- :mod:`.generate`      making the dialogues with a chat model (``audio-dialogues generate``), helped by
  :mod:`.strong_labels` (AudioSet strong labels), :mod:`.prompts` (what is asked, how replies are read),
  :mod:`.chat` (requests with retries), :mod:`.ledger` (resume), :mod:`.neighbours` (comparison clips)
  and :mod:`.filters` (low-confidence phrases, CLAP similarity);
- :mod:`.cli`           the ``audio-dialogues`` command.
"""

__version__ = "0.1.0"

import logging as _logging
import sys as _sys


class _UnlessConfigured(_logging.StreamHandler):
    """Print our INFO summaries to stderr only while nobody has configured logging.

    The ``audio_dialogues`` logger propagates like any library logger, so an application's handlers
    and pytest's ``caplog`` see every summary. Python's own last-resort output shows only warnings, so
    without this a plain script or notebook would see nothing; once the root logger has a handler
    (``logging.basicConfig``, a notebook's or a framework's setup, pytest), this one stays quiet and the
    summary is printed once, there. Quieter: ``logging.getLogger("audio_dialogues").setLevel("WARNING")``.
    """

    def emit(self, record: _logging.LogRecord) -> None:
        if not _logging.getLogger().handlers:
            super().emit(record)


_logger = _logging.getLogger("audio_dialogues")
if not any(isinstance(h, _UnlessConfigured) for h in _logger.handlers):
    _handler = _UnlessConfigured(_sys.stderr)
    _handler.setFormatter(_logging.Formatter("[audio_dialogues] %(message)s"))
    _logger.addHandler(_handler)
if _logger.level == _logging.NOTSET:
    _logger.setLevel(_logging.INFO)
