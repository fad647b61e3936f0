"""The run engine the long commands share (download, generate, the evaluation protocol, convert).

- :mod:`.lock`      :class:`FolderLock`, one run at a time in an output folder;
- :mod:`.ledger`    :class:`Ledger`, what a run has finished (a row codec per command; group commit; torn lines kept);
- :mod:`.runner`    :func:`run_jobs`, a few items in flight, every result recorded in the calling thread;
- :mod:`.retry`     :class:`Backoff`, exponential backoff with jitter honouring Retry-After;
- :mod:`.stop`      :class:`StopPolicy`, first Ctrl-C/SIGTERM stops cleanly, the second abandons at once;
- :mod:`.settings`  :func:`check_settings`, a resume with other output-shaping settings is refused;
- :mod:`.shard`     ``--shard K/N``: a shard's part and its own files, the merge (:func:`~.shard.fold`), the status;
- :mod:`.options`   the options tables: :func:`option` declares one, :func:`options_from` checks by type,
                    :func:`shaping` gives those that go into the settings record.
"""

from .ledger import JSON_LINES, JsonLinesCodec, Ledger, LedgerError, RowCodec
from .lock import FolderBusyError, FolderLock
from .options import option, options_from, shaping
from .retry import Backoff
from .runner import run_jobs
from .settings import SettingsChangedError, check_settings
from .stop import StopPolicy

__all__ = [
    "JSON_LINES",
    "Backoff",
    "FolderBusyError",
    "FolderLock",
    "JsonLinesCodec",
    "Ledger",
    "LedgerError",
    "RowCodec",
    "SettingsChangedError",
    "StopPolicy",
    "check_settings",
    "option",
    "options_from",
    "run_jobs",
    "shaping",
]
