"""What the chat model is asked, and how its replies are read (``audio-dialogues generate``).

A clip is shown to the model as text: a MusicCaps clip as its caption, an AudioSet clip as its timed
events, one label a line::

    Sound of Dog (a dog barking in short sharp bursts): [0.406s-2.120s], [5.000s-6.310s]
    Sound of Speech (a person talking in a normal voice): [0.000s-10.000s]

and a comparison as ``Audio 1: <events>`` ... ``Audio 4: <events>``. Two sets of built-in system
prompts (:func:`built_in_prompt`, ``--prompt-style``):

- ``paper`` (the default, :mod:`.paper_prompts`): the paper's content, a four-turn dialogue with
  diverse and complex questions, bold answers and an honest "the audio does not tell"; music clips
  with their MusicCaps aspect list; comparisons as ``Audio k: Sound of <label> (<description>)``.
- ``grounded`` (below): forbids invented detail and asks only what the given text can answer,
  for 1 to 4 turns; comparisons keep the event times. Why it exists: a model trained on the
  paper's dialogues learns to state keys, tempos and names the annotations never gave; these
  prompts trade the paper's shape for answers the annotations support.

``--prompt FILE`` replaces either (a template holding ``$clip`` is sent as one user message with
the clip's text in its place).

A reply is a dialogue when it is a JSON array of ``{"user", "assistant"}`` objects, or one such
object a line, either optionally inside a Markdown code fence (:func:`parse_dialogue_reply`).
"""

from __future__ import annotations

import json
import re
from typing import Mapping, Sequence

from ..core.release import Turn
from ..core.strong_labels import StrongClip
from .paper_prompts import PAPER_PROMPTS

PROMPT_STYLES = ("paper", "grounded")

CLIP_PLACEHOLDER = "$clip"

_RULES = """Rules:
- Ask only what the {what} can answer, and answer only from the {what}. Invent no detail (no names, places, \
lyrics or numbers that are not given).
- Speak about the sound as if you hear it: never mention {mention}, labels, timestamps or "the description".
- {turns}
- Use pronouns and short follow-up questions where a listener would.
- Write each question-answer pair on its own line as one JSON object with exactly the keys "user" and \
"assistant", and nothing else: no numbering, no commentary."""

AUDIOSET_DIALOGUE_PROMPT = (
    """You are an expert listener who writes a natural conversation between a user and an \
assistant about one 10-second audio clip. You do not hear the clip: you are given its sound events, each with a \
short description and the times (in seconds) at which it is heard.

"""
    + _RULES.format(
        what="events",
        mention="events",
        turns="Write 1 to 4 question-answer turns, about what is heard, in what order, how long, "
        "what happens together, and what the scene may be.",
    )
    + """

Example, for "Sound of Dog (a dog barking in short sharp bursts): [0.500s-1.700s], [6.000s-7.200s]; \
Sound of Vehicle (an engine passing by): [2.000s-9.000s]":
{"user": "What is the first thing you hear?", "assistant": "A dog barks in a few short, sharp bursts."}
{"user": "Does it keep barking?", "assistant": "It stops while a vehicle drives past, then barks again near \
the end."}

Example, for "Sound of Speech (a person talking): [0.000s-10.000s]; Sound of Laughter (people laughing): \
[3.100s-4.000s]":
{"user": "Is anyone talking in this recording?", "assistant": "Yes, someone talks for the whole clip."}
{"user": "How do the others react?", "assistant": "They laugh briefly about three seconds in."}
"""
)

MUSIC_DIALOGUE_PROMPT = (
    """You are an expert musician who writes a natural conversation between a user and an \
assistant about one 10-second music clip. You do not hear the clip: you are given a caption written by a \
musician who did.

"""
    + _RULES.format(
        what="caption",
        mention="the caption",
        turns="Write 1 to 4 question-answer turns. Good topics when the caption tells them: genre, "
        "live or studio recording, instruments, vocals and their language, tempo, key, time "
        "signature, mood, and what the music would suit.",
    )
    + """

Example, for "A male voice sings over a strummed acoustic guitar. The tempo is slow and the mood is calm.":
{"user": "What instrument accompanies the singer?", "assistant": "A strummed acoustic guitar."}
{"user": "How would you describe its mood?", "assistant": "It is slow and calm."}

Example, for "This is a live recording of a brass band playing a fast march. The audio quality is poor.":
{"user": "Is this a studio recording?", "assistant": "No, it is a live recording, and the quality is poor."}
"""
)

COMPARISON_PROMPT = (
    """You are an expert listener who writes one question and its answer comparing several \
10-second audio clips. You do not hear them: each is given as "Audio N:" followed by its sound events, with a \
short description and the times (in seconds) at which each is heard.

"""
    + _RULES.format(
        what="events",
        mention="events",
        turns="Write exactly one question-answer turn. The question names the clips as Audio 1, "
        "Audio 2, ... and asks for a comparison (which one holds something, which is busier, "
        "what they share, how they differ); the answer gives it.",
    )
    + """

Example, for "Audio 1: Sound of Rain (steady rain falling): [0.000s-10.000s]" and \
"Audio 2: Sound of Music (a piano playing softly): [0.000s-10.000s]":
{"user": "Which of Audio 1 and Audio 2 is recorded outdoors?", "assistant": "Audio 1, where steady rain falls."}

Example, for three clips with speech in Audio 1 and Audio 3 only:
{"user": "Which clips have someone speaking?", "assistant": "Audio 1 and Audio 3; Audio 2 has no speech."}
"""
)

GROUNDED_PROMPTS: dict[str, str] = {
    "audioset_dialogues": AUDIOSET_DIALOGUE_PROMPT,
    "music_dialogues": MUSIC_DIALOGUE_PROMPT,
    "audioset_comparison": COMPARISON_PROMPT,
}

DESCRIPTION_PROMPT = (
    'Describe the acoustic character of the sound of "{name}" in less than 10 words '
    "(how it sounds, not what it is). Reply with the description only."
)


def built_in_prompt(config: str, style: str = "paper") -> str:
    """The built-in system prompt of ``config`` in ``style`` (``paper`` or ``grounded``)."""
    if style not in PROMPT_STYLES:
        raise ValueError(f"--prompt-style {style!r}: expected one of {', '.join(PROMPT_STYLES)}")
    return (PAPER_PROMPTS if style == "paper" else GROUNDED_PROMPTS)[config]


class InvalidReply(ValueError):
    """A reply that is not what was asked for (it is retried)."""


def event_text(clip: StrongClip, names: Mapping[str, str], descriptions: Mapping[str, str]) -> str:
    """The clip's events grouped by label, in order of first onset, times with 3 decimals."""
    lines = []
    for label in clip.labels:
        spans = sorted((e.start, e.end) for e in clip.events if e.label == label)
        name = names.get(label, label)
        description = descriptions.get(label)
        head = f"Sound of {name} ({description})" if description else f"Sound of {name}"
        lines.append(head + ": " + ", ".join(f"[{start:.3f}s-{end:.3f}s]" for start, end in spans))
    return "\n".join(lines)


def event_names_text(clip: StrongClip, names: Mapping[str, str], descriptions: Mapping[str, str]) -> str:
    """The clip's sounds without times, as the paper shows a comparison's clips: ``Sound of Car (engine
    hum); Sound of Speech (a man talking)``, in order of first onset."""
    heads = []
    for label in clip.labels:
        name, description = names.get(label, label), descriptions.get(label)
        heads.append(f"Sound of {name} ({description})" if description else f"Sound of {name}")
    return "; ".join(heads)


def music_text(caption: str, aspects: Sequence[str]) -> str:
    """A MusicCaps clip as the paper gives it: its aspect list (tags) and its caption."""
    return f"Tags: {', '.join(aspects)}\nDescription: {caption}" if aspects else f"Description: {caption}"


def clip_text(
    clip, names: Mapping[str, str], descriptions: Mapping[str, str], *, style: str = "paper", comparison: bool = False
) -> str:
    """What the model is told about one clip (a clip has ``caption`` and ``aspects``, or ``strong``)."""
    if clip.caption is not None:
        return music_text(clip.caption, clip.aspects) if style == "paper" else clip.caption
    if comparison and style == "paper":
        return event_names_text(clip.strong, names, descriptions)
    return event_text(clip.strong, names, descriptions)


def comparison_text(texts: Sequence[str]) -> str:
    """``Audio 1: ...`` to ``Audio N: ...``, a clip's lines joined by "; "."""
    return "\n".join(f"Audio {i}: {'; '.join(text.splitlines())}" for i, text in enumerate(texts, start=1))


def build_messages(template: str, clip_text: str) -> list[dict[str, str]]:
    """The chat messages of one request: the template as system prompt and the clip as the user message,
    or, when the template holds ``$clip``, one user message with the clip's text in its place."""
    if CLIP_PLACEHOLDER in template:
        return [{"role": "user", "content": template.replace(CLIP_PLACEHOLDER, clip_text)}]
    return [{"role": "system", "content": template}, {"role": "user", "content": clip_text}]


def description_messages(name: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": DESCRIPTION_PROMPT.format(name=name)}]


_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL)
_THINKING = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)  # reasoning models' preamble (DeepSeek-R1, Qwen3)


def parse_dialogue_reply(text: str, max_turns: int, min_turns: int = 1) -> list[Turn]:
    """The turns of a reply: a JSON array of turns, a ``{"dialogue": [...]}`` object, or one JSON
    object a line (optionally comma-separated), any of them inside a Markdown code fence or after a
    sentence of prose, after a reasoning model's ``<think>...</think>``.

    Raises:
        InvalidReply: not JSON in any of these forms, a turn whose keys are not exactly ``user`` and
            ``assistant`` or whose texts are empty, or fewer than ``min_turns`` (at least 1) or more than
            ``max_turns`` turns.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidReply("empty reply")
    text = _THINKING.sub("", text, count=1)
    fenced = _FENCE.search(text)
    body = (fenced.group(1) if fenced else text).strip()
    if not fenced and body[:1] not in "[{" and "{" in body:  # "Here is the dialogue: [...]"
        body = body[min(i for i in (body.find("["), body.find("{")) if i >= 0) :]
    turns = _as_turns(body)
    if not max(min_turns, 1) <= len(turns) <= max_turns:
        raise InvalidReply(f"{len(turns)} turns (expected {max(min_turns, 1)} to {max_turns})")
    return turns


def _as_turns(body: str) -> list[Turn]:
    for candidate in (body, "[" + body.rstrip(",") + "]"):  # an array, or objects separated by commas
        try:
            value = json.loads(candidate)
        except (json.JSONDecodeError, RecursionError, ValueError):
            continue
        if isinstance(value, dict):
            value = value["dialogue"] if isinstance(value.get("dialogue"), list) else [value]
        if isinstance(value, list):
            return [_turn(item, i) for i, item in enumerate(value)]
        raise InvalidReply(f"a JSON {type(value).__name__}, not a list of turns")
    lines = [line.strip().rstrip(",") for line in body.splitlines() if line.strip()]
    turns = []
    for i, line in enumerate(lines):
        try:
            turns.append(_turn(json.loads(line), i))
        except (json.JSONDecodeError, RecursionError, ValueError) as err:
            if isinstance(err, InvalidReply):
                raise
            raise InvalidReply(f"not JSON (line {i + 1}: {line[:60]!r})") from None
    return turns


def _turn(item: object, index: int) -> Turn:
    if not isinstance(item, dict):
        raise InvalidReply(f"turn {index + 1} is a {type(item).__name__}, not an object")
    if set(item) != {"user", "assistant"}:
        raise InvalidReply(f"turn {index + 1} has the keys {sorted(item)} (expected exactly user, assistant)")
    for key in ("user", "assistant"):
        if not isinstance(item[key], str) or not item[key].strip():
            raise InvalidReply(f"turn {index + 1}: {key!r} is not a non-empty string")
    return Turn(user=item["user"].strip(), assistant=item["assistant"].strip())


def parse_description_reply(text: str) -> str:
    """A label's short description: the reply's first line, unquoted, at most 20 words.

    Raises:
        InvalidReply: empty, or longer than 20 words (the model ignored "less than 10 words").
    """
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise InvalidReply("empty reply")
    description = lines[0].strip("\"'` ").rstrip(".")
    if not description:
        raise InvalidReply("empty reply")
    if len(description.split()) > 20:
        raise InvalidReply(f"{len(description.split())} words (asked for less than 10)")
    return description
