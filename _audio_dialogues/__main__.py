"""``python -m _audio_dialogues``: the ``audio-dialogues`` command."""

import sys

from .cli.main import main

sys.exit(main())
