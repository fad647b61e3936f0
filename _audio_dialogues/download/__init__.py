"""Getting the clips (``audio-dialogues download``), in rooms:

- :mod:`.plan`   which clips, and each clip's window (from a release, MusicCaps, the AudioSet files);
- :mod:`.fetch`  the :class:`~.fetch.Fetcher` protocol (an audio source), the statuses and the retry loop;
- :mod:`.ytdlp`  the YouTube fetcher (yt-dlp + ffmpeg processes);
- :mod:`.archive` the archive fetcher (``--archive``: Parquet and WebDataset shards), YouTube after it;
- :mod:`.run`    the run on the engine: lock, settings, ledger, runner, stop policy, the summary.
"""
