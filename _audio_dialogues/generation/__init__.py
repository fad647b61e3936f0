"""Making the dialogues with a chat model (``audio-dialogues generate``), the paper's method.

- :mod:`.pipeline`    the run: clips -> prompts -> requests -> filters -> release files, on the run engine;
- :mod:`.clips`       the source clips, their splits, the jobs, the ids and label descriptions given;
- :mod:`.prompts`     what is asked and how replies are read;
- :mod:`.chat`        requests to an OpenAI-compatible server, with retries;
- :mod:`.neighbours`  the comparison clips; :mod:`.filters` low-confidence phrases and CLAP similarity;
- :mod:`.output`      the release files; :mod:`.summary` the report.
"""
