"""The implementation behind the public module ``audio_dialogues`` (import from there, not from here).

One folder per wing; each imports the core and nothing beside it unless its docstring says so:

- :mod:`.core`        subsets, release parsing, audio files, the join, reports, decoding, metadata readers;
- :mod:`.loading`     the ``datasets`` builder, its options and features (the only wing built on ``datasets``);
- :mod:`.engine`      the run engine of the long commands: lock, ledger, resume;
- :mod:`.download`    getting the YouTube clips (``audio-dialogues download``);
- :mod:`.generation`  making the dialogues with a chat model (``audio-dialogues generate``);
- :mod:`.evaluation`  scoring predictions, the judge, and the multi-turn protocol (``audio-dialogues evaluate``);
- :mod:`.inspection`  looking at a release: its numbers and report (``stats``), rating a sample (``review``);
- :mod:`.outputs`     chat formats, lhotse cuts, the Hub export and its card (``convert``, ``export``);
- :mod:`.cli`         the ``audio-dialogues`` command.
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
