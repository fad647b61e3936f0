"""Supporting code for the ``audio_dialogues`` loading script.

One module per job, each usable and tested without ``datasets``:

- :mod:`.release`       reading and validating the dialogue files of a release;
- :mod:`.audio_files`   finding a record's audio file by YouTube id in the user's folders;
- :mod:`.join`          joining records with audio, the missing-audio policies and report;
- :mod:`.features`      the columns, and an ``Audio`` feature that decodes with soundfile (no torch);
- :mod:`.sources`       where the release and audio come from (the bundled sample, a data_dir);
- :mod:`.splits`        reading a split once per process, and its record-range shards;
- :mod:`.training`      a padding collate function for a PyTorch ``DataLoader`` (torch optional);
- :mod:`.convert`       chat formats for training (openai / llava / swift) and back;
- :mod:`.export`        script-free Parquet + dataset card for the Hub, optionally with audio embedded;
- :mod:`.download`      getting the YouTube clips with yt-dlp + ffmpeg, resumable, with a status per clip;
- :mod:`.musiccaps`     MusicCaps' captions and aspects for ``music_dialogues`` (``with_metadata=True``);
- :mod:`.synthetic`     writing a synthetic release of any size, and real clips for it (tests, benchmarks);
- :mod:`.cli`           the ``audio-dialogues`` command.
"""

__version__ = "0.1.0"

import logging as _logging
import sys as _sys

# Like datasets' own loggers: the "audio_dialogues" logger prints INFO (the join summaries) to stderr
# unless the application configured it. Quieter: logging.getLogger("audio_dialogues").setLevel("WARNING").
_logger = _logging.getLogger("audio_dialogues")
if not _logger.handlers:
    _handler = _logging.StreamHandler(_sys.stderr)
    _handler.setFormatter(_logging.Formatter("[audio_dialogues] %(message)s"))
    _logger.addHandler(_handler)
    _logger.setLevel(_logging.INFO)
    _logger.propagate = False
