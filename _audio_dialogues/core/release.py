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

What a record may hold but probably should not is never dropped silently: keys the schema does not
know (a misspelt ``asistant``), a key given twice with the same value, and a comparison naming the
same clip twice are counted in a :class:`Notices` and named once in the split's summary. Text that
is not valid Unicode (a lone surrogate such as ``"\\ud800"``, which JSON's ``\\u`` escapes allow) and
a key given twice with different values (JSON keeps the last without a word) make the record invalid.

A file is read only if it is a regular file (a named pipe would block forever); a gzipped file is
inflated only up to :data:`MAX_INFLATION` times its size (a 2 MB bomb would take gigabytes).
"""

from __future__ import annotations

import difflib
import gzip
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, TypedDict

from .audio_files import AUDIO_EXTENSIONS, parse_audio_name

RELEASE_SUFFIXES: tuple[str, ...] = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
# A gzipped release file may inflate to this many times its size (plus 64 MiB); JSON text compresses ~5-20x.
MAX_INFLATION = 100
_INFLATION_ALLOWANCE = 64 * 2**20
RECORD_KEYS = frozenset({"audio_id", "audio_ids", "dialogue", "messages", "conversations", "events"})
TURN_KEYS = ("user", "assistant")


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
    events: list | None = None  # the record's own ``events`` key, validated (see core/events.py)


@dataclass
class Notices:
    """What valid records held that a user would want to hear about: counted, with the first place seen."""

    counts: dict[str, int] = field(default_factory=dict)  # what -> records
    first: dict[str, str] = field(default_factory=dict)  # what -> "file, position"

    def add(self, what: str, file: str, position: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1
        self.first.setdefault(what, f"{file}, {position}")

    def lines(self) -> list[str]:
        """One phrase per kind, e.g. ``"unknown key 'x' ignored in 1 record (first: f, line 3)"``."""
        return [
            f"{what} in {n} record{'s' if n > 1 else ''} (first: {self.first[what]})" for what, n in self.counts.items()
        ]


class ReleaseFormatError(ValueError):
    """A release file or record is not in the expected format."""

    def __init__(self, file: str | os.PathLike, position: str | None, field: str | None, problem: str):
        self.file, self.position, self.field, self.problem = str(file), position, field, problem
        where = ", ".join(p for p in (f"{self.file}", position, f"field '{field}'" if field else None) if p)
        super().__init__(
            f"{where}: {problem}. Fix the release file (the expected layout is in docs/reference.md, "
            "'The release files'), or point data_files/data_dir at an unmodified copy."
        )


def read_release_file(path: str | os.PathLike, rules: RecordRules, notices: Notices | None = None) -> list[Record]:
    """Read and validate every record of one release file; the first invalid one raises :class:`ReleaseFormatError`."""
    records = []
    for item in iter_release_file(path, rules, notices):
        if isinstance(item, ReleaseFormatError):
            raise item
        records.append(item)
    return records


def iter_release_file(
    path: str | os.PathLike, rules: RecordRules, notices: Notices | None = None
) -> Iterator[Record | ReleaseFormatError]:
    """Every record of one release file, in order, or in its place the error saying why it is invalid.

    ``notices`` collects what valid records held that is worth a word in the summary (see the module docstring).

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
            yield parse_record(obj, rules, file, position, notices)
        except ReleaseFormatError as err:
            yield err


@dataclass(frozen=True)
class _Unparsed:
    """A JSON Lines line that is not a JSON value: an invalid record, not the end of the file."""

    error: ReleaseFormatError


class _Pairs(dict):
    """A JSON object that held a key more than once: ``duplicates`` maps each such key to its values."""

    duplicates: dict[str, list[Any]]


def _object(pairs: list[tuple[str, Any]]) -> dict:
    """``json``'s ``object_pairs_hook``: a plain dict, or a :class:`_Pairs` when a key repeats."""
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _Pairs(obj)
    marked.duplicates = {}
    for key, value in pairs:
        marked.duplicates.setdefault(key, []).append(value)
    marked.duplicates = {k: v for k, v in marked.duplicates.items() if len(v) > 1}
    return marked


_DECODER = json.JSONDecoder(object_pairs_hook=_object)


def _iter_raw_records(path: Path) -> Iterator[tuple[str, Any]]:
    name = path.name.lower()
    if not name.endswith(RELEASE_SUFFIXES):
        raise ReleaseFormatError(path, None, None, f"expected a file ending in one of {', '.join(RELEASE_SUFFIXES)}")
    raw = _read_bytes(path, name.endswith(".gz"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ReleaseFormatError(path, f"line {line}", None, f"is not valid UTF-8 (byte offset {err.start})") from err
    del raw
    if name.endswith((".jsonl", ".jsonl.gz")):
        yield from _iter_json_lines(path, text)
        return
    try:
        records = _DECODER.decode(text)
    except json.JSONDecodeError as err:
        raise ReleaseFormatError(path, f"line {err.lineno} column {err.colno}", None, _why_not_json(text, err)) from err
    except (RecursionError, ValueError) as err:  # nesting too deep, or an integer of more than 4300 digits
        raise ReleaseFormatError(path, None, None, f"could not be parsed as JSON ({_first_line(err)})") from err
    if not isinstance(records, list):
        raise ReleaseFormatError(
            path, None, None, f"expected a JSON array of records at the top level, found a {type(records).__name__}"
        )
    for index, obj in enumerate(records):
        yield f"record {index}", obj


def _read_bytes(path: Path, gzipped: bool) -> bytes:
    """The file's bytes (inflated), refusing what is not a regular file and a gzip bomb."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            from .decoding import describe_file_type

            raise ReleaseFormatError(
                path,
                None,
                None,
                f"is {describe_file_type(info.st_mode)}, not a regular file; "
                "not read (reading it could block or never end): point at the release file itself",
            )
        if not gzipped:
            return path.read_bytes()
        limit = MAX_INFLATION * info.st_size + _INFLATION_ALLOWANCE
        with gzip.open(path, "rb") as file:
            raw = file.read(limit + 1)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"Release file {path} does not exist (see docs/reference.md, 'The release files')."
        ) from err
    except PermissionError as err:
        raise ReleaseFormatError(
            path, None, None, "could not be read: permission denied (fix its permissions, e.g. chmod a+r)"
        ) from err
    except (OSError, EOFError) as err:
        raise ReleaseFormatError(path, None, None, f"could not be read ({err})") from err
    if len(raw) > limit:
        raise ReleaseFormatError(
            path,
            None,
            None,
            f"inflates to more than {limit:,} bytes ({MAX_INFLATION} times its "
            f"{info.st_size:,} bytes, plus 64 MiB), far more than JSON text compresses: a corrupt "
            "or hostile file; not read. Decompress it yourself (gunzip) if it is genuine",
        )
    return raw


def _why_not_json(text: str, err: json.JSONDecodeError) -> str:
    """The parse error, and the likely cause: a truncated file, or JSON Lines in a ``.json`` file."""
    start = re.match(r"\s*", text).end()
    end = text.find("\n", start)
    first = text[start : end if end >= 0 else len(text)]
    if err.msg == "Extra data" and err.lineno > 1:
        try:
            one_per_line = isinstance(json.loads(first), dict)
        except ValueError:
            one_per_line = False
        if one_per_line:
            return (
                f"is not valid JSON ({err.msg}): it looks like JSON Lines (one record a line); rename it to "
                ".jsonl (or .jsonl.gz)"
            )
    return f"is not valid JSON ({err.msg}); is the file truncated?"


def _iter_json_lines(path: Path, text: str) -> Iterator[tuple[str, Any]]:
    """``line 1``, ``line 2``, ...: one JSON value a line; a bad line is yielded as :class:`_Unparsed`."""
    # Split on "\n" only: str.splitlines() would also cut at U+2028 and friends, which JSON
    # strings may hold unescaped. A "\r" before it (Windows) is whitespace to the JSON parser.
    for number, line in enumerate(text.split("\n"), start=1):
        obj = _json_line(path, line, number)
        if obj is not None:
            yield f"line {number}", obj


def _json_line(path: Path, line: str, number: int) -> Any:
    """One JSON Lines line's value, :class:`_Unparsed` when it is not JSON, ``None`` when it is blank."""
    if not line.strip():
        return None  # blank lines (often a trailing one) are harmless in JSON Lines
    position = f"line {number}"
    try:
        return _DECODER.decode(line)
    except json.JSONDecodeError as err:
        problem = f"is not valid JSON ({err.msg} at column {err.colno})"
        return _Unparsed(ReleaseFormatError(path, position, None, problem))
    except (RecursionError, ValueError) as err:  # nesting too deep, or an integer of more than 4300 digits
        return _Unparsed(ReleaseFormatError(path, position, None, f"could not be parsed as JSON ({_first_line(err)})"))


def is_record_line(raw: bytes, first: bool = False) -> bool:
    """Whether a raw JSON Lines line (``first``: the file's first, which may start with a BOM) holds a record."""
    stripped = raw.strip(_ASCII_SPACE)
    if first and stripped.startswith(b"\xef\xbb\xbf"):
        stripped = stripped[3:].strip(_ASCII_SPACE)
    return bool(stripped) and (stripped.isascii() or bool(stripped.decode("utf-8", "replace").strip()))


# What str.strip() removes among ASCII characters (bytes.strip() keeps \x1c-\x1f): a line is blank for the
# shard count exactly when it is blank for the parser.
_ASCII_SPACE = bytes(c for c in range(128) if chr(c).isspace())


def parse_json_line(
    path: str | os.PathLike, raw: bytes, number: int, offset: int, rules: RecordRules, notices: Notices | None = None
) -> Record | ReleaseFormatError | None:
    """One raw line of a JSON Lines file (line ``number``, starting at byte ``offset``), as
    :func:`iter_release_file` reads it: the record, the error saying why it is invalid, or ``None`` (blank).

    Raises:
        ReleaseFormatError: the line is not UTF-8 (a whole-file error, as when the file is read whole).
    """
    path = os.fspath(path)  # a str, not a Path: called once per line, where making a Path cost a third of the time
    try:
        line = raw.decode("utf-8-sig" if offset == 0 else "utf-8")
    except UnicodeDecodeError as err:
        problem = f"is not valid UTF-8 (byte offset {offset + err.start})"
        raise ReleaseFormatError(path, f"line {number}", None, problem) from err
    obj = _json_line(path, line, number)
    if obj is None:
        return None
    if isinstance(obj, _Unparsed):
        return obj.error
    try:
        return parse_record(obj, rules, path, f"line {number}", notices)
    except ReleaseFormatError as err:
        return err


def _first_line(err: BaseException) -> str:
    return str(err).split("\n", 1)[0][:120]


def parse_record(obj: Any, rules: RecordRules, file: str, position: str, notices: Notices | None = None) -> Record:
    """Validate one raw record and normalise its dialogue to user/assistant turns.

    ``notices`` collects what the record held that is worth a word (unknown keys, a repeated key or clip).
    """

    def fail(field: str | None, problem: str) -> ReleaseFormatError:
        return ReleaseFormatError(file, position, field, problem)

    if not isinstance(obj, dict):
        raise fail(None, f"expected a JSON object, found {type(obj).__name__}")
    found: list[str] = []  # what to add to notices once the record is known to be valid
    if type(obj) is not dict or not obj.keys() <= RECORD_KEYS:  # the common case, checked in C
        _check_keys(obj, None, RECORD_KEYS, found, fail)
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
    if len(set(youtube_ids)) < len(youtube_ids):
        found.append("the same clip twice in audio_ids (a comparison of a clip with itself)")
    dialogue = _dialogue(obj, fail)
    if not rules.min_turns <= len(dialogue) <= rules.max_turns:
        expected = (
            f"exactly {rules.max_turns}"
            if rules.min_turns == rules.max_turns
            else f"{rules.min_turns} to {rules.max_turns}"
        )
        raise fail("dialogue", f"expected {expected} turn(s), found {len(dialogue)}")
    if "dialogue" in obj and type(obj["dialogue"]) is list:
        for i, turn in enumerate(obj["dialogue"]):
            if type(turn) is not dict or len(turn) != 2 or "user" not in turn or "assistant" not in turn:
                _check_keys(turn, f"dialogue[{i}]", TURN_KEYS, found, fail)
    events = None
    if "events" in obj:  # what generate writes: the clips' sound events (core/events.py)
        from .events import check_events

        events = check_events(obj["events"], len(audio_ids), rules.multi_audio, fail)
    if notices is not None:
        for what in found:
            notices.add(what, file, position)
    return Record(tuple(audio_ids), tuple(youtube_ids), tuple(dialogue), file, position, events)


def _check_keys(obj: Any, where: str | None, known, found: list[str], fail) -> None:
    """Note unknown keys (with a did-you-mean) and keys given twice; a key twice with different values is invalid."""
    if not isinstance(obj, dict):
        return
    for key, values in getattr(obj, "duplicates", {}).items():
        field = key if where is None else f"{where}.{key}"
        if any(v != values[0] for v in values):
            raise fail(
                field,
                f"the key {key!r} is given {len(values)} times with different values (JSON would keep "
                "the last without a word): keep one",
            )
        found.append(f"the key {field!r} given {len(values)} times (same value)")
    for key in obj:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            found.append(f"unknown key {_printable(key)!r}{'' if where is None else ' in ' + where}{hint} ignored")


def _audio_ids(obj: dict, rules: RecordRules, fail) -> list[str]:
    if not rules.multi_audio:
        audio_id = obj.get("audio_id")
        if not isinstance(audio_id, str):
            raise fail("audio_id", f"expected a string (the clip's file name), found {_describe(audio_id)}")
        return [audio_id]
    audio_ids = obj.get("audio_ids")
    if not isinstance(audio_ids, list):
        raise fail(
            "audio_ids",
            f"expected a list of {rules.min_audios}-{rules.max_audios} file names, found {_describe(audio_ids)}",
        )
    if not rules.min_audios <= len(audio_ids) <= rules.max_audios:
        raise fail("audio_ids", f"expected {rules.min_audios} to {rules.max_audios} audio ids, found {len(audio_ids)}")
    for i, audio_id in enumerate(audio_ids):
        if not isinstance(audio_id, str):
            raise fail(f"audio_ids[{i}]", f"expected a string, found {_describe(audio_id)}")
    return audio_ids


_PLACEHOLDER = re.compile(r"^\s*(?:<sound(?:-\d+)?>|<audio>)\s*", re.IGNORECASE)
_ROLE_ALIASES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant"}


def parse_dialogue(obj: dict, file: str, position: str | None = None, *, placeholder: bool = True) -> list[Turn]:
    """The user/assistant turns of a record's ``dialogue``, ``messages`` or ``conversations`` (validated).

    ``placeholder=False`` keeps a leading ``<sound>``/``<audio>`` in the first question (for callers
    that removed exactly the tags they wrote themselves).
    """

    def fail(field: str | None, problem: str) -> ReleaseFormatError:
        return ReleaseFormatError(file, position, field, problem)

    return _dialogue(obj, fail, placeholder)


def _dialogue(obj: dict, fail, placeholder: bool = True) -> list[Turn]:
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
            out.append(
                Turn(
                    user=_text(turn, "user", f"dialogue[{i}].user", fail),
                    assistant=_text(turn, "assistant", f"dialogue[{i}].assistant", fail),
                )
            )
        return out
    for key, role_key, text_key in (("messages", "role", "content"), ("conversations", "from", "value")):
        if key in obj:
            return _pair_messages(obj[key], key, role_key, text_key, fail, placeholder)
    raise fail("dialogue", "expected a 'dialogue' list (or 'messages' / 'conversations'), found none")


def _pair_messages(messages: Any, key: str, role_key: str, text_key: str, fail, placeholder: bool = True) -> list[Turn]:
    """Turn alternating user/assistant messages into turns; anything else is an error."""
    if not isinstance(messages, list) or len(messages) % 2:
        raise fail(
            key, "expected a list of alternating user and assistant messages, user first, ending with the assistant"
        )
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
                content = "\n".join(
                    p["text"]
                    for p in content
                    if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                )
            if j == 0 and placeholder and isinstance(content, str):
                content = _PLACEHOLDER.sub("", content, count=1)
            texts.append(_text({text_key: content}, text_key, f"{key}[{j}].{text_key}", fail))
        turns.append(Turn(user=texts[0], assistant=texts[1]))
    return turns


_SURROGATE = re.compile("[\\ud800-\\udfff]")


def _is_text(value: Any) -> bool:
    """A non-empty, non-blank string that is valid Unicode (no lone surrogate, which UTF-8 cannot encode)."""
    return (
        isinstance(value, str)
        and value != ""
        and not value.isspace()  # "".isspace() is False
        and (value.isascii() or _SURROGATE.search(value) is None)
    )


def _text(container: dict, key: str, field: str, fail) -> str:
    value = container.get(key)
    if isinstance(value, str) and not value.isascii() and (bad := _SURROGATE.search(value)):
        raise fail(
            field,
            f"holds a lone surrogate ({_printable(bad.group())} at character {bad.start()}), which is "
            "not valid Unicode text and cannot be stored: fix the escape in the file (a \\u escape of "
            "half a UTF-16 pair)",
        )
    if not _is_text(value):
        if key not in container and isinstance(container, dict):
            close = difflib.get_close_matches(key, [k for k in container if isinstance(k, str)], n=1, cutoff=0.6)
            if close:
                raise fail(
                    field,
                    f"expected a non-empty string, found nothing (missing); the turn has {close[0]!r}: "
                    f"a misspelt {key!r}?",
                )
        raise fail(field, f"expected a non-empty string, found {_describe(value)}")
    return value


def _printable(text: str) -> str:
    """``text`` with what cannot be encoded as UTF-8 (lone surrogates) shown as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (missing or null)"
    try:
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, (str, list, dict)) else repr(value)
    except (ValueError, RecursionError):  # an integer of more than 4300 digits, or nesting too deep
        return type(value).__name__
    return f"{type(value).__name__} {_printable(text[:60])}{'...' if len(text) > 60 else ''}"
