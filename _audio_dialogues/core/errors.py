"""What every error message of ours shares: the user's mistake, named with a guess at what was meant."""

from __future__ import annotations

import contextlib
import contextvars
import difflib
from typing import Any, Iterator, Sequence

# Set while the ``audio-dialogues`` command runs: a fix is then spelt as its flag, not as Python.
_COMMAND_LINE = contextvars.ContextVar("audio_dialogues_command_line", default=False)


def did_you_mean(word: Any, choices: Sequence[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``choices`` to ``word``, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


@contextlib.contextmanager
def command_line() -> Iterator[None]:
    """Within this block, :func:`option_fix` spells options as the command's flags."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)


def option_fix(name: str, value: str) -> str:
    """``pass --verification-mode no_checks`` at the command line, ``pass verification_mode="no_checks"`` in Python."""
    if _COMMAND_LINE.get():
        return f"pass --{name.replace('_', '-')} {value}"
    return f'pass {name}="{value}"'
