"""Reading and validating the dialogue files of an Audio Dialogues release.

A release file is ``<split>.json`` (a JSON array) or ``<split>.jsonl`` (one record a line), either
optionally gzipped (``.gz``). AudioSet Dialogues and Music Dialogues records use the Audio Flamingo
chat schema::

    {"audio_id": "Y2oSP0SN3d2g.wav",
     "dialogue": [{"user": "What is making the sound?", "assistant": "A dog is barking."}]}

AudioSet Comparison records name 2-4 clips and hold exactly one turn::

    {"audio_ids": ["Yeiz9E9N-FIw.wav", "Y3zAp2kxzU7Q.wav"],
     "dialogue": [{"user": "Which of Audio 1 and Audio 2 is louder?", "assistant": "Audio 2."}]}

The dialogue may instead be given as OpenAI-style ``"messages": [{"role", "content"}]`` or
LLaVA-style ``"conversations": [{"from": "human"|"gpt", "value"}]``; both are normalised to
user/assistant turns (a leading ``<sound>``/``<audio>`` placeholder is removed).

Every record is validated; the first bad one raises :class:`ReleaseFormatError` naming the file,
the record (index in a JSON array, line in JSON Lines), the field and what was expected.
:func:`iter_release_file` instead yields each bad record's error in its place, so a caller can skip
it (``on_invalid="skip"``). A file that cannot be cut into records (unreadable, not UTF-8, a JSON
array that does not parse, a top-level value that is not an array) is always an error; in JSON
Lines, a line that is not valid JSON is one invalid record.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, TypedDict

from .audio_files import AUDIO_EXTENSIONS, parse_audio_name

RELEASE_SUFFIXES: tuple[str, ...] = (".json", ".jsonl", ".json.gz", ".jsonl.gz")


class Turn(TypedDict):
    user: str
    assistant: str


@dataclass(frozen=True)
class RecordRules:
    """What a valid record of one subset looks like."""

    multi_audio: bool  # "audio_ids" (comparison) instead of "audio_id"
    max_turns: int
    min_audios: int = 1
    max_audios: int = 1
    min_turns: int = 1


@dataclass(slots=True)  # built per record: not frozen, which costs 4x to construct
class Record:
    """One validated dialogue of the release, with where it came from."""

    audio_ids: tuple[str, ...]
    youtube_ids: tuple[str, ...]
    dialogue: tuple[Turn, ...]
    file: str
    position: str  # "record 12" (JSON array, 0-based) or "line 13" (JSON Lines, 1-based)


class ReleaseFormatError(ValueError):
    """A release file or record is not in the expected format."""

    def __init__(self, file: str | os.PathLike, position: str | None, field: str | None, problem: str):
        self.file, self.position, self.field, self.problem = str(file), position, field, problem
        where = ", ".join(p for p in (f"{self.file}", position, f"field '{field}'" if field else None) if p)
        super().__init__(
            f"{where}: {problem}. Fix the release file (the expected layout is in the README, "
            "'The release files'), or point data_files/data_dir at an unmodified copy."
        )


def read_release_file(path: str | os.PathLike, rules: RecordRules) -> list[Record]:
    """Read and validate every record of one release file; the first invalid one raises :class:`ReleaseFormatError`."""
    records = []
    for item in iter_release_file(path, rules):
        if isinstance(item, ReleaseFormatError):
            raise item
        records.append(item)
    return records


def iter_release_file(path: str | os.PathLike, rules: RecordRules) -> Iterator[Record | ReleaseFormatError]:
    """Every record of one release file, in order, or in its place the error saying why it is invalid.

    Raises:
        ReleaseFormatError: the file as a whole cannot be cut into records (see the module docstring).
    """
    path = Path(path)
    file = str(path)
    for position, obj in _iter_raw_records(path):
        if isinstance(obj, _Unparsed):
            yield obj.error
            continue
        try:
            yield parse_record(obj, rules, file, position)
        except ReleaseFormatError as err:
            yield err


@dataclass(frozen=True)
class _Unparsed:
    """A JSON Lines line that is not a JSON value: an invalid record, not the end of the file."""

    error: ReleaseFormatError


def _iter_raw_records(path: Path) -> Iterator[tuple[str, Any]]:
    name = path.name.lower()
    if not name.endswith(RELEASE_SUFFIXES):
        raise ReleaseFormatError(path, None, None, f"expected a file ending in one of {', '.join(RELEASE_SUFFIXES)}")
    try:
        raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    except FileNotFoundError as err:
        raise FileNotFoundError(f"Release file {path} does not exist (see the README, 'The release files').") from err
    except (OSError, EOFError) as err:
        raise ReleaseFormatError(path, None, None, f"could not be read ({err})") from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ReleaseFormatError(path, f"line {line}", None, f"is not valid UTF-8 (byte offset {err.start})") from err
    if name.endswith((".jsonl", ".jsonl.gz")):
        yield from _iter_json_lines(path, text)
        return
    try:
        records = json.loads(text)
    except json.JSONDecodeError as err:
        raise ReleaseFormatError(
            path, f"line {err.lineno} column {err.colno}", None, f"is not valid JSON ({err.msg}); is the file truncated?"
        ) from err
    except (RecursionError, ValueError) as err:  # nesting too deep, or an integer of more than 4300 digits
        raise ReleaseFormatError(path, None, None, f"could not be parsed as JSON ({_first_line(err)})") from err
    if not isinstance(records, list):
        raise ReleaseFormatError(
            path, None, None, f"expected a JSON array of records at the top level, found a {type(records).__name__}"
        )
    for index, obj in enumerate(records):
        yield f"record {index}", obj


def _iter_json_lines(path: Path, text: str) -> Iterator[tuple[str, Any]]:
    """``line 1``, ``line 2``, ...: one JSON value a line; a bad line is yielded as :class:`_Unparsed`."""
    # Split on "\n" only: str.splitlines() would also cut at U+2028 and friends, which JSON
    # strings may hold unescaped. A "\r" before it (Windows) is whitespace to the JSON parser.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue  # blank lines (often a trailing one) are harmless in JSON Lines
        position = f"line {number}"
        try:
            yield position, json.loads(line)
        except json.JSONDecodeError as err:
            yield position, _Unparsed(ReleaseFormatError(path, position, None, f"is not valid JSON ({err.msg} at column {err.colno})"))
        except (RecursionError, ValueError) as err:  # nesting too deep, or an integer of more than 4300 digits
            yield position, _Unparsed(ReleaseFormatError(path, position, None, f"could not be parsed as JSON ({_first_line(err)})"))


def _first_line(err: BaseException) -> str:
    return str(err).split("\n", 1)[0][:120]


def parse_record(obj: Any, rules: RecordRules, file: str, position: str) -> Record:
    """Validate one raw record and normalise its dialogue to user/assistant turns."""

    def fail(field: str | None, problem: str) -> ReleaseFormatError:
        return ReleaseFormatError(file, position, field, problem)

    if not isinstance(obj, dict):
        raise fail(None, f"expected a JSON object, found {type(obj).__name__}")
    audio_ids = _audio_ids(obj, rules, fail)
    youtube_ids = []
    for i, audio_id in enumerate(audio_ids):
        parsed = parse_audio_name(audio_id)
        if parsed is None:
            field = f"audio_ids[{i}]" if rules.multi_audio else "audio_id"
            raise fail(
                field,
                f"expected a file name holding an 11-character YouTube id (Y<id>, <id>, <id>_<start> or "
                f"<id>_<start>_<end>, optionally .{'/.'.join(AUDIO_EXTENSIONS)}), found {audio_id!r}",
            )
        youtube_ids.append(parsed.youtube_id)
    dialogue = _dialogue(obj, fail)
    if not rules.min_turns <= len(dialogue) <= rules.max_turns:
        expected = f"exactly {rules.max_turns}" if rules.min_turns == rules.max_turns else f"{rules.min_turns} to {rules.max_turns}"
        raise fail("dialogue", f"expected {expected} turn(s), found {len(dialogue)}")
    return Record(tuple(audio_ids), tuple(youtube_ids), tuple(dialogue), file, position)


def _audio_ids(obj: dict, rules: RecordRules, fail) -> list[str]:
    if not rules.multi_audio:
        audio_id = obj.get("audio_id")
        if not isinstance(audio_id, str):
            raise fail("audio_id", f"expected a string (the clip's file name), found {_describe(audio_id)}")
        return [audio_id]
    audio_ids = obj.get("audio_ids")
    if not isinstance(audio_ids, list):
        raise fail("audio_ids", f"expected a list of {rules.min_audios}-{rules.max_audios} file names, found {_describe(audio_ids)}")
    if not rules.min_audios <= len(audio_ids) <= rules.max_audios:
        raise fail("audio_ids", f"expected {rules.min_audios} to {rules.max_audios} audio ids, found {len(audio_ids)}")
    for i, audio_id in enumerate(audio_ids):
        if not isinstance(audio_id, str):
            raise fail(f"audio_ids[{i}]", f"expected a string, found {_describe(audio_id)}")
    return audio_ids


_PLACEHOLDER = re.compile(r"^\s*(?:<sound(?:-\d+)?>|<audio>)\s*", re.IGNORECASE)
_ROLE_ALIASES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant"}


def parse_dialogue(obj: dict, file: str, position: str | None = None) -> list[Turn]:
    """The user/assistant turns of a record's ``dialogue``, ``messages`` or ``conversations`` (validated)."""

    def fail(field: str | None, problem: str) -> ReleaseFormatError:
        return ReleaseFormatError(file, position, field, problem)

    return _dialogue(obj, fail)


def _dialogue(obj: dict, fail) -> list[Turn]:
    if "dialogue" in obj:
        turns = obj["dialogue"]
        if not isinstance(turns, list):
            raise fail("dialogue", f"expected a list of {{'user', 'assistant'}} turns, found {_describe(turns)}")
        out = []
        for i, turn in enumerate(turns):
            if type(turn) is dict and len(turn) == 2:  # the common case, checked cheaply: reuse the parsed dict
                user, assistant = turn.get("user"), turn.get("assistant")
                if _is_text(user) and _is_text(assistant):
                    out.append(turn)
                    continue
            if not isinstance(turn, dict):
                raise fail(f"dialogue[{i}]", f"expected an object with 'user' and 'assistant', found {_describe(turn)}")
            out.append(Turn(user=_text(turn, "user", f"dialogue[{i}].user", fail),
                            assistant=_text(turn, "assistant", f"dialogue[{i}].assistant", fail)))
        return out
    for key, role_key, text_key in (("messages", "role", "content"), ("conversations", "from", "value")):
        if key in obj:
            return _pair_messages(obj[key], key, role_key, text_key, fail)
    raise fail("dialogue", "expected a 'dialogue' list (or 'messages' / 'conversations'), found none")


def _pair_messages(messages: Any, key: str, role_key: str, text_key: str, fail) -> list[Turn]:
    """Turn alternating user/assistant messages into turns; anything else is an error."""
    if not isinstance(messages, list) or len(messages) % 2:
        raise fail(key, "expected a list of alternating user and assistant messages, user first, ending with the assistant")
    turns = []
    for i in range(0, len(messages), 2):
        texts = []
        for j, wanted in ((i, "user"), (i + 1, "assistant")):
            message = messages[j]
            role = message.get(role_key) if isinstance(message, dict) else None
            if not isinstance(role, str) or _ROLE_ALIASES.get(role) != wanted:  # a list or dict role is unhashable
                raise fail(f"{key}[{j}].{role_key}", f"expected a {wanted} message here, found {_describe(message)}")
            content = message.get(text_key)
            if isinstance(content, list):  # OpenAI content parts: keep the text parts, in order
                content = "\n".join(p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str))
            if j == 0 and isinstance(content, str):
                content = _PLACEHOLDER.sub("", content, count=1)
            texts.append(_text({text_key: content}, text_key, f"{key}[{j}].{text_key}", fail))
        turns.append(Turn(user=texts[0], assistant=texts[1]))
    return turns


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != "" and not value.isspace()  # "".isspace() is False


def _text(container: dict, key: str, field: str, fail) -> str:
    value = container.get(key)
    if not _is_text(value):
        raise fail(field, f"expected a non-empty string, found {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (missing or null)"
    try:
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, (str, list, dict)) else repr(value)
    except (ValueError, RecursionError):  # an integer of more than 4300 digits, or nesting too deep
        return type(value).__name__
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"
