"""Making the dialogues with a chat model (``audio-dialogues generate``), the paper's method.

- :mod:`.pipeline`    the run: clips -> prompts -> requests -> filters -> release files;
- :mod:`.prompts`     what is asked and how replies are read;
- :mod:`.chat`        requests to an OpenAI-compatible server, with retries;
- :mod:`.neighbours`  the comparison clips; :mod:`.filters` low-confidence phrases and CLAP similarity.
"""
