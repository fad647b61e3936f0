"""Converting examples into the chat formats audio-language training pipelines read, and back.

Each function takes one example as the loader yields it, decoded or not (``decode=False`` gives
``{"path", "bytes": None}`` audio, which is all a conversion needs: the file's path is written, never
its samples). The audio goes into the first user turn, in order (every clip of a comparison); later
turns are text. For ``audioset_dialogues`` example ``train-000004`` (two turns) the three formats are::

    openai (Qwen2-Audio chat template; the template counts a part as audio when it has an "audio_url"
    or "audio" key: chat_template.json of Qwen/Qwen2-Audio-7B-Instruct on the Hugging Face Hub):
    {"id": "train-000004",
     "messages": [{"role": "user", "content": [{"type": "audio", "audio_url": "/clips/Yabc.wav"},
                                               {"type": "text", "text": "What is making the sound?"}]},
                  {"role": "assistant", "content": [{"type": "text", "text": "A dog is barking."}]},
                  {"role": "user", "content": [{"type": "text", "text": "Is it indoors?"}]},
                  {"role": "assistant", "content": [{"type": "text", "text": "Yes."}]}]}

    llava (Audio Flamingo 3's training data, NVIDIA/audio-flamingo llava/data/dataset.py: "sound" is
    one path, or a list whose k-th path is what the tag <sound-k> in the text stands for):
    {"id": "train-000004", "sound": "/clips/Yabc.wav",
     "conversations": [{"from": "human", "value": "<sound>\\nWhat is making the sound?"},
                       {"from": "gpt", "value": "A dog is barking."},
                       {"from": "human", "value": "Is it indoors?"}, {"from": "gpt", "value": "Yes."}]}
    a comparison: "sound": ["/clips/Y1.wav", "/clips/Y2.wav"], first value "<sound-1><sound-2>\\nCompare ..."

    swift (ms-swift's custom dataset format: one <audio> tag per entry of "audios", in order):
    {"messages": [{"role": "user", "content": "<audio>What is making the sound?"},
                  {"role": "assistant", "content": "A dog is barking."}, ...],
     "audios": ["/clips/Yabc.wav"]}

A missing clip (audio ``None``, loaded with ``missing_audio="keep"``) has no path to write, and none
of these trainers accepts an audio entry without a file: :func:`convert_example` raises
:class:`NoAudioFileError`, and :func:`write_jsonl` leaves that example out of the file and counts it
(with its id) in the :class:`ConvertCounts` it returns. Load with ``missing_audio="skip"`` to drop
such records before converting.

:func:`to_dialogue` reads any of the three formats back into turns and audio paths, through the
release parser (:mod:`.release`), which already understands ``messages`` and ``conversations``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, TypedDict

from .release import Turn, parse_dialogue

FORMATS: tuple[str, ...] = ("openai", "llava", "swift")


class NoAudioFileError(ValueError):
    """An example has no audio file to reference (its clip was not downloaded)."""


class Dialogue(TypedDict):
    """What :func:`to_dialogue` recovers from a converted record."""

    id: str | None  # the swift format carries no id
    dialogue: list[Turn]
    audio_paths: list[str]


@dataclass
class ConvertCounts:
    """What :func:`write_jsonl` wrote, and what it left out."""

    format: str
    written: int = 0
    skipped_missing_audio: list[str] = field(default_factory=list)  # ids of the examples left out

    def summary(self) -> str:
        text = f"{self.format}: wrote {self.written} examples"
        skipped = self.skipped_missing_audio
        if skipped:
            shown = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
            text += (f"; skipped {len(skipped)} whose audio is missing ({shown}): download those clips "
                     "and pass their folder as audio_dir (--audio-dir)")
        return text


def convert_example(example: Mapping[str, Any], format: str) -> dict:
    """One example (a row of any config, decoded or not) in ``format``: ``openai``, ``llava`` or ``swift``.

    Raises:
        ValueError: an unknown format.
        NoAudioFileError: a clip of the example is missing (audio ``None``).
    """
    return _converter(format)(example)


def to_openai(example: Mapping[str, Any]) -> dict:
    paths, turns = audio_paths(example), example["dialogue"]
    messages = []
    for i, turn in enumerate(turns):
        user = [{"type": "audio", "audio_url": path} for path in paths] if i == 0 else []
        messages.append({"role": "user", "content": user + [{"type": "text", "text": turn["user"]}]})
        messages.append({"role": "assistant", "content": [{"type": "text", "text": turn["assistant"]}]})
    return {"id": example["id"], "messages": messages}


def to_llava(example: Mapping[str, Any]) -> dict:
    paths, turns = audio_paths(example), example["dialogue"]
    tags = "<sound>" if len(paths) == 1 else "".join(f"<sound-{k}>" for k in range(1, len(paths) + 1))
    conversations = []
    for i, turn in enumerate(turns):
        conversations.append({"from": "human", "value": f"{tags}\n{turn['user']}" if i == 0 else turn["user"]})
        conversations.append({"from": "gpt", "value": turn["assistant"]})
    return {"id": example["id"], "sound": paths[0] if len(paths) == 1 else paths, "conversations": conversations}


def to_swift(example: Mapping[str, Any]) -> dict:
    paths, turns = audio_paths(example), example["dialogue"]
    messages = []
    for i, turn in enumerate(turns):
        messages.append({"role": "user", "content": "<audio>" * len(paths) + turn["user"] if i == 0 else turn["user"]})
        messages.append({"role": "assistant", "content": turn["assistant"]})
    return {"messages": messages, "audios": paths}


def audio_paths(example: Mapping[str, Any]) -> list[str]:
    """The file path of every clip of the example, in order; :class:`NoAudioFileError` if one has none."""
    values = example["audios"] if "audios" in example else [example["audio"]]
    paths = [value.get("path") if isinstance(value, Mapping) else None for value in values]
    if any(path is None for path in paths):
        missing = [example["audio_ids"][i] if "audio_ids" in example else example.get("audio_id")
                   for i, path in enumerate(paths) if path is None]
        raise NoAudioFileError(f"Example {example.get('id')!r} has no audio file for {', '.join(map(str, missing))}.")
    return paths


def write_jsonl(examples: Iterable[Mapping[str, Any]], path: str | os.PathLike, format: str) -> ConvertCounts:
    """Write every example converted to ``format``, one JSON object a line; examples with a missing
    clip are left out and counted. The file appears complete or not at all (temp file, then rename)."""
    convert = _converter(format)
    path, counts = Path(path), ConvertCounts(format)
    temporary = path.with_name(path.name + ".tmp")
    try:
        with temporary.open("w", encoding="utf-8") as out:
            for example in examples:
                try:
                    obj = convert(example)
                except NoAudioFileError:
                    counts.skipped_missing_audio.append(str(example.get("id")))
                    continue
                out.write(json.dumps(obj, ensure_ascii=False) + "\n")
                counts.written += 1
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)
    return counts


# The tags exactly as written above, so that the question's own text is kept as it was.
_LEADING_TAGS = {"llava": re.compile(r"^(?:<sound>|(?:<sound-\d+>)+)\n"), "swift": re.compile(r"^(?:<audio>)+")}


def to_dialogue(obj: Mapping[str, Any], format: str) -> Dialogue:
    """The turns and audio paths of a record in ``format`` (the inverse of :func:`convert_example`).

    Raises:
        ReleaseFormatError: the record's messages are not alternating user/assistant turns.
    """
    _converter(format)  # validates the name
    if format == "openai":
        first = obj["messages"][0]["content"] if obj.get("messages") else []
        paths = [part.get("audio_url") or part.get("audio") for part in first
                 if isinstance(part, Mapping) and part.get("type") == "audio"]
        turns = _parse_turns({"messages": obj["messages"]}, format)
    elif format == "llava":
        paths = [obj["sound"]] if isinstance(obj["sound"], str) else list(obj["sound"])
        turns = _parse_turns({"conversations": _strip_tags(obj["conversations"], "value", format)}, format)
    else:
        paths = list(obj["audios"])
        turns = _parse_turns({"messages": _strip_tags(obj["messages"], "content", format)}, format)
    return Dialogue(id=obj.get("id"), dialogue=turns, audio_paths=paths)


def _parse_turns(obj: dict, format: str) -> list[Turn]:
    return parse_dialogue(obj, f"<{format} record>")


def _strip_tags(messages: list, text_key: str, format: str) -> list:
    """The messages with the audio tags we put before the first question removed (the release parser removes one)."""
    if not messages or not isinstance(messages[0], Mapping) or not isinstance(messages[0].get(text_key), str):
        return messages
    return [{**messages[0], text_key: _LEADING_TAGS[format].sub("", messages[0][text_key], count=1)}, *messages[1:]]


def _converter(format: str) -> Callable[[Mapping[str, Any]], dict]:
    converters = {"openai": to_openai, "llava": to_llava, "swift": to_swift}
    if format not in converters:
        raise ValueError(f"Unknown format {format!r}: choose one of {', '.join(FORMATS)}.")
    return converters[format]
