"""What every error message of ours shares: the user's mistake, named with a guess at what was meant."""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import re
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

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


def mask_url(url: str | None) -> str | None:
    """``url`` with the password of its credentials (``user:password@``) replaced by ``***``."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None and "@" not in parts.netloc:
        return url
    user = (parts.username or "") + ":***" if parts.password is not None else "***"
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def printable(text: Any) -> str:
    """``text`` from a server or a file as it may reach a terminal: control characters escaped (``\\x1b``)."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text))


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
