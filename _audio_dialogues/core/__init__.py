"""The core: what every wing shares, importing nothing but the core (no ``datasets``).

- :mod:`.subsets`       the three subsets: record rules and published split sizes (one table);
- :mod:`.release`       reading and validating the dialogue files of a release;
- :mod:`.sources`       where the release and the bundled data are, fingerprints, the record-count check;
- :mod:`.splits`        reading a split once per process (``read_release``), and its record-range shards;
- :mod:`.audio_files`   finding a record's audio file by YouTube id in the user's folders;
- :mod:`.join`          joining records with audio, the missing-audio policies;
- :mod:`.reports`       every split report: written beside the data, read back, logged;
- :mod:`.decoding`      decoding audio files to float32 mono (soundfile + soxr, no torch);
- :mod:`.musiccaps`     MusicCaps' captions, aspects and clip times (the shipped CSV);
- :mod:`.strong_labels` the AudioSet strong-label files (events with times) and the label names;
- :mod:`.load_options`  the load options: their fields, the table that checks them (the loader's and the CLI's);
- :mod:`.errors`        what every error message shares (the did-you-mean).
"""
