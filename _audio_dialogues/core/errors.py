"""What every error message of ours shares: the user's mistake, named with a guess at what was meant."""

from __future__ import annotations

import difflib
from typing import Any, Sequence


def did_you_mean(word: Any, choices: Sequence[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``choices`` to ``word``, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
