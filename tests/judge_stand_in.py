"""A stand-in judge for the tests and the docs: a :class:`ChatServer` whose replies score answers by a rule.

It is not a language model. It reads the two answers out of the judge prompt and scores each by
``score(answer, description)``: by default 1 + the number of distinct words of four letters or more
that the answer shares with the clip's description, at most 10. ``first_bonus`` adds that many points
to whichever answer is shown first (a judge with a position bias), capped at 10.

    python tests/judge_stand_in.py      # serve on 127.0.0.1, print the base URL, until Ctrl-C
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chat_server import ChatServer  # noqa: E402


def shared_words(answer: str, description: str) -> int:
    """1 + distinct words (4+ letters) of ``answer`` also in ``description``, at most 10."""
    words = set(re.findall(r"[a-z]{4,}", description.lower()))
    return min(10, 1 + len(set(re.findall(r"[a-z]{4,}", answer.lower())) & words))


def section(prompt: str, title: str) -> str:
    """The text under ``## title`` in a judge prompt, up to the next heading."""
    start = prompt.index(f"## {title}\n") + len(title) + 4
    end = prompt.find("\n\n## ", start)
    return prompt[start : end if end >= 0 else len(prompt)]


def stand_in_judge(score: Callable[[str, str], int] = shared_words, first_bonus: int = 0) -> Callable[[str], str]:
    """The ``default`` reply of a :class:`ChatServer` that plays the judge."""

    def reply(prompt: str) -> str:
        description = section(prompt, "What the recording contains")
        first, second = section(prompt, "Answer 1"), section(prompt, "Answer 2")
        a = min(10, score(first, description) + first_bonus)
        b = score(second, description)
        return f"{a} {b}\nThe stand-in counts words shared with the description."

    return reply


def serve() -> None:
    with ChatServer(default=stand_in_judge()) as server:
        print(server.base_url, flush=True)
        try:
            server._thread.join()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    serve()
