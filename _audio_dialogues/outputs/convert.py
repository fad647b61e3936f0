"""Chat files for three training pipelines, written so that each trains on every turn and every clip.

One example (a row of any config, decoded or not: only the file's path is written) becomes one JSON
line. Audio goes into the first user turn, every clip of a comparison in order; later turns are text.
Each rule below was checked against the consumer's own code (``scripts/check_consumers.py``) and is a
test in ``tests/test_convert.py``.

``openai`` (Qwen2-Audio: its chat template, transformers' ``apply_chat_template`` audio loading, and
the model card's ``urlopen`` loop)::

    {"id": "train-000004",
     "messages": [{"role": "user", "content": [
                      {"type": "audio", "audio": "/clips/Yabc.wav", "audio_url": "file:///clips/Yabc.wav"},
                      {"type": "text", "text": "What is making the sound?"}]},
                  {"role": "assistant", "content": [{"type": "text", "text": "A dog is barking."}]},
                  {"role": "user", "content": [{"type": "text", "text": "Is it indoors?"}]},
                  {"role": "assistant", "content": [{"type": "text", "text": "Yes."}]}]}

  The template gives one audio slot per part that has an ``audio`` or ``audio_url`` key;
  transformers loads the file named by ``audio`` (it never reads ``audio_url``); the card's loop
  opens ``audio_url`` with ``urlopen``, which needs a URL, hence the ``file://`` form of the same path.

``llava`` (Audio Flamingo 3's ``LazySupervisedDataset``)::

    {"id": "train-000004", "sound": ["/clips/Yabc.wav"], "duration": 10.0,
     "conversations": [{"from": "human", "value": "<sound-1>\\nWhat is making the sound?"},
                       {"from": "gpt", "value": "A dog is barking."},
                       {"from": "human", "value": "Is it indoors?"}, {"from": "gpt", "value": "Yes."}]}

  ``sound`` is always a list, ``<sound-k>`` standing for its k-th path: AF3 reads a string ``sound``
  as a single-turn example and drops every turn after the first. ``duration`` (seconds, all clips
  together) is what AF3 sorts by length with; it assumes 10 s without it. (AF3 reads ``.mp3`` through
  pydub, which needs FFmpeg; without it AF3 trains on silence for those clips, with no error.)

``swift`` (ms-swift's custom dataset format: one ``<audio>`` tag per entry of ``audios``)::

    {"messages": [{"role": "user", "content": "<audio>What is making the sound?"},
                  {"role": "assistant", "content": "A dog is barking."}, ...],
     "audios": ["/clips/Yabc.wav"]}

Every config gives the same keys and types in a format, so the files of all three configs can be
concatenated and loaded together. Read a file back with :func:`read_jsonl` (the records exactly as
written) and :func:`to_dialogue` (turns and paths). ``datasets.load_dataset("json")`` 3.6 does not
give the records as written: it makes every content part of the ``openai`` format hold every key,
absent ones as ``None``, and Qwen2-Audio's template then takes each text part for an audio part (see
:func:`drop_absent_keys`); 5.x reads the parts as written (a ``Json`` column).

The ``convert`` command (:mod:`..cli.convert`) writes several configs and splits into one file, with ids
``<config>/<split>-<position>``, resuming an interrupted run (:func:`convert_configs`).

A missing clip (audio ``None``, loaded with ``missing_audio="keep"``) has no file to point to, and no
consumer accepts an audio entry without one; an ``llava`` clip whose length cannot be read is
unusable too. :func:`write_jsonl` leaves such examples out and counts them, with their ids, in the
:class:`ConvertCounts` it returns.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypedDict

from ..core.decoding import AudioDecodeError, audio_seconds
from ..core.release import Turn, parse_dialogue
from ..core.subsets import CONFIGS
from ..engine.lock import FolderLock
from ..engine.runner import run_jobs
from ..engine.settings import check_settings
from ..engine.stop import StopPolicy

FORMATS: tuple[str, ...] = ("openai", "llava", "swift")


class NoAudioFileError(ValueError):
    """An example has no audio file to reference (its clip was not downloaded)."""


class UnreadableAudioError(ValueError):
    """An example's audio file exists but its length cannot be read (``llava`` writes the duration)."""


class ConvertedFileError(ValueError):
    """A converted file's line is not a JSON object, or a record lacks a key of its format."""


class Dialogue(TypedDict):
    """What :func:`to_dialogue` recovers from a converted record."""

    id: str | None  # the swift format carries no id
    dialogue: list[Turn]
    audio_paths: list[str]


class NothingToWriteError(ValueError):
    """Every example was left out (e.g. no clip found): an empty training file would only fail later."""


@dataclass
class ConvertCounts:
    """What :func:`write_jsonl` wrote, and what it left out (example ids)."""

    format: str
    written: int = 0
    turns: int = 0
    clips: int = 0
    skipped_missing_audio: list[str] = field(default_factory=list)
    skipped_unreadable_audio: list[str] = field(default_factory=list)

    def add(self, other: "ConvertCounts") -> None:
        self.written += other.written
        self.turns += other.turns
        self.clips += other.clips
        self.skipped_missing_audio += other.skipped_missing_audio
        self.skipped_unreadable_audio += other.skipped_unreadable_audio

    def summary(self) -> str:
        text = f"{self.format}: wrote {self.written} examples"
        for ids, why, fix in (
            (
                self.skipped_missing_audio,
                "whose audio is missing",
                "download those clips and pass their folder as audio_dir (--audio-dir)",
            ),
            (self.skipped_unreadable_audio, "whose audio file cannot be read", "re-download or re-encode those clips"),
        ):
            if ids:
                shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
                text += f"; skipped {len(ids)} {why} ({shown}): {fix}"
        return text + f"; {self.turns} turns and {self.clips} clips in the examples written"


def convert_example(example: Mapping[str, Any], format: str) -> dict:
    """One example (a row of any config, decoded or not) in ``format``: ``openai``, ``llava`` or ``swift``.

    Raises:
        ValueError: an unknown format.
        NoAudioFileError: a clip of the example is missing (audio ``None``).
        UnreadableAudioError: ``llava`` only: a clip's length cannot be read from its file.
    """
    return _converter(format)(example)


def to_openai(example: Mapping[str, Any]) -> dict:
    """The ``openai`` record: each clip an audio part with ``audio`` (path) and ``audio_url`` (``file://`` URL)."""
    paths, turns = audio_paths(example), example["dialogue"]
    audio = [{"type": "audio", "audio": path, "audio_url": Path(path).absolute().as_uri()} for path in paths]
    messages = []
    for i, turn in enumerate(turns):
        text = [{"type": "text", "text": turn["user"]}]
        messages.append({"role": "user", "content": (audio if i == 0 else []) + text})
        messages.append({"role": "assistant", "content": [{"type": "text", "text": turn["assistant"]}]})
    return {"id": example["id"], "messages": messages}


def to_llava(example: Mapping[str, Any]) -> dict:
    """The ``llava`` record: ``sound`` a list (whatever the config), ``<sound-k>`` tags, ``duration`` in seconds."""
    paths, turns = audio_paths(example), example["dialogue"]
    tags = "".join(f"<sound-{k}>" for k in range(1, len(paths) + 1))
    conversations = []
    for i, turn in enumerate(turns):
        conversations.append({"from": "human", "value": f"{tags}\n{turn['user']}" if i == 0 else turn["user"]})
        conversations.append({"from": "gpt", "value": turn["assistant"]})
    duration = sum(clip_seconds(audio, example) for audio in _audio_values(example))
    return {"id": example["id"], "sound": paths, "duration": round(duration, 3), "conversations": conversations}


def to_swift(example: Mapping[str, Any]) -> dict:
    """The ``swift`` record: one ``<audio>`` tag per entry of ``audios``, all in the first user message."""
    paths, turns = audio_paths(example), example["dialogue"]
    messages = []
    for i, turn in enumerate(turns):
        messages.append({"role": "user", "content": "<audio>" * len(paths) + turn["user"] if i == 0 else turn["user"]})
        messages.append({"role": "assistant", "content": turn["assistant"]})
    return {"messages": messages, "audios": paths}


def audio_paths(example: Mapping[str, Any]) -> list[str]:
    """The file path of every clip of the example, in order; :class:`NoAudioFileError` if one has none."""
    values = _audio_values(example)
    paths = [value.get("path") if isinstance(value, Mapping) else None for value in values]
    if any(path is None for path in paths):
        ids = example["audio_ids"] if "audio_ids" in example else [example.get("audio_id")] * len(paths)
        missing = [str(ids[i]) for i, path in enumerate(paths) if path is None]
        raise NoAudioFileError(
            f"Example {example.get('id')!r} has no audio file for {', '.join(missing)}: "
            "download the clip into audio_dir, or load with missing_audio='skip'."
        )
    return paths


def clip_seconds(audio: Mapping[str, Any], example: Mapping[str, Any]) -> float:
    """A clip's length: from its decoded array, else from the file's header (no samples are read)."""
    if audio.get("array") is not None and audio.get("sampling_rate"):
        return len(audio["array"]) / audio["sampling_rate"]
    try:
        return audio_seconds(audio["path"])  # read once per file, however many records share the clip
    except (AudioDecodeError, OSError) as err:
        raise UnreadableAudioError(f"Example {example.get('id')!r}: {err}; re-download or re-encode the clip.") from err


def _audio_values(example: Mapping[str, Any]) -> list[Any]:
    return list(example["audios"]) if "audios" in example else [example["audio"]]


def write_jsonl(
    examples: Iterable[Mapping[str, Any]], path: str | os.PathLike, format: str, *, id_prefix: str = ""
) -> ConvertCounts:
    """Write every example converted to ``format``, one JSON object a line; examples whose audio is
    missing or unreadable are left out and counted. The file appears complete or not at all (temp
    file, then rename). ``id_prefix`` is
    put before every id written or counted (the command uses ``"<config>/"``, so that the ids of a
    file holding several configs stay unique)."""
    convert = _converter(format)
    path, counts = Path(path), ConvertCounts(format)
    temporary = path.with_name(path.name + ".tmp")
    try:
        with temporary.open("w", encoding="utf-8") as out:
            for example in examples:
                try:
                    obj = convert(example)
                except NoAudioFileError:
                    counts.skipped_missing_audio.append(f"{id_prefix}{example.get('id')}")
                    continue
                except UnreadableAudioError:
                    counts.skipped_unreadable_audio.append(f"{id_prefix}{example.get('id')}")
                    continue
                if "id" in obj:
                    obj["id"] = id_prefix + obj["id"]
                out.write(json.dumps(obj, ensure_ascii=False) + "\n")
                counts.written += 1
                counts.turns += len(example["dialogue"])
                counts.clips += len(_audio_values(example))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return counts


def read_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """The records of a converted file, exactly as written (``json.loads`` of each line, nothing added).

    Raises:
        ConvertedFileError: a line that is not a JSON object, naming the file and line.
    """
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                obj = err
            if not isinstance(obj, dict):
                problem = f"not valid JSON ({obj.msg})" if isinstance(obj, Exception) else f"a {type(obj).__name__}"
                raise ConvertedFileError(
                    f"{path}, line {number}: expected a JSON object, found {problem}. The file is "
                    "not as audio-dialogues convert wrote it: write it again."
                )
            yield obj


def drop_absent_keys(record: Mapping[str, Any]) -> dict:
    """An ``openai`` record read through ``datasets`` with each content part's ``None`` keys removed.

    ``datasets.load_dataset("json")`` gives every part of a content list the union of the parts' keys
    (``{"type": "text", "text": "...", "audio": None, "audio_url": None}``); Qwen2-Audio's template
    tests for the keys ``audio``/``audio_url``, not their values, and would render every text part
    as an audio slot. Apply this to each row before ``apply_chat_template``.
    """
    messages = []
    for message in record["messages"]:
        content = message["content"]
        if isinstance(content, list):
            content = [{k: v for k, v in part.items() if v is not None} for part in content]
        messages.append({**message, "content": content})
    return {**record, "messages": messages}


_RECORD_KEYS = {"openai": ("messages",), "llava": ("sound", "conversations"), "swift": ("messages", "audios")}


def to_dialogue(obj: Mapping[str, Any], format: str) -> Dialogue:
    """The turns and audio paths of a record in ``format`` (the inverse of :func:`convert_example`).

    Raises:
        ConvertedFileError: the record lacks a key of its format (named, with the record's id).
        ReleaseFormatError: the record's messages are not alternating user/assistant turns.
    """
    _converter(format)  # validates the name
    missing = [key for key in _RECORD_KEYS[format] if key not in obj]
    if missing:
        raise ConvertedFileError(
            f"{format} record {obj.get('id')!r}: no {' or '.join(repr(k) for k in missing)} key (a {format} record "
            f"has {', '.join(_RECORD_KEYS[format])}); write the file again with "
            f"audio-dialogues convert --format {format}."
        )
    if format == "openai":
        obj = drop_absent_keys(obj)
        first = obj["messages"][0]["content"] if obj.get("messages") else []
        paths = [
            part.get("audio") or part.get("audio_url")
            for part in first
            if isinstance(part, Mapping) and part.get("type") == "audio"
        ]
        turns = _parse_turns({"messages": obj["messages"]}, format)
    elif format == "llava":
        paths = [obj["sound"]] if isinstance(obj["sound"], str) else list(obj["sound"])
        tags = ["".join(f"<sound-{k}>" for k in range(1, len(paths) + 1)) + "\n", "<sound>\n"]  # ours; the old form
        turns = _parse_turns({"conversations": _strip_tags(obj["conversations"], "value", tags)}, format)
    else:
        paths = list(obj["audios"])
        turns = _parse_turns({"messages": _strip_tags(obj["messages"], "content", ["<audio>" * len(paths)])}, format)
    return Dialogue(id=obj.get("id"), dialogue=turns, audio_paths=paths)


def _parse_turns(obj: dict, format: str) -> list[Turn]:
    return parse_dialogue(obj, f"<{format} record>", placeholder=False)  # the tags we wrote are already removed


def _strip_tags(messages: list, text_key: str, written: list[str]) -> list:
    """The messages with the audio tags :func:`convert_example` put before the first question removed
    (exactly those: the question's own text, even one starting with a tag, is kept as it was)."""
    if not messages or not isinstance(messages[0], Mapping) or not isinstance(messages[0].get(text_key), str):
        return messages
    text = messages[0][text_key]
    tag = next((t for t in written if text.startswith(t)), "")
    return [{**messages[0], text_key: text[len(tag) :]}, *messages[1:]]


def _converter(format: str) -> Callable[[Mapping[str, Any]], dict]:
    converters = {"openai": to_openai, "llava": to_llava, "swift": to_swift}
    if format not in converters:
        raise ValueError(f"Unknown format {format!r}: choose one of {', '.join(FORMATS)}.")
    return converters[format]


# ---------------------------------------------------------------------------------------------------
# The command: audio-dialogues convert --format F OUT.jsonl [--config C ...] [--split S ...]


PACING_OPTIONS = frozenset({"cache_dir", "num_proc"})  # load options that do not change what is written


def convert_configs(
    out: str | os.PathLike,
    format: str,
    configs: Iterable[str] = (CONFIGS[0],),
    splits: Iterable[str] = ("train",),
    **load_kwargs: Any,
) -> ConvertCounts:
    """Write the given splits of the given configs, in that order, into one file in ``format``.

    Each config/split is loaded undecoded (only paths are written) into ``OUT.parts/<config>.<split>.jsonl``
    and its line printed when done, on the run engine (one run per OUT, the engine's stop policy). An
    interrupted run leaves the finished parts; run again and they are reused, not written again; a rerun
    with another format or load options is refused (they are recorded in ``OUT.settings.json``).
    ``OUT`` appears when every part is written; then the
    parts are removed. Ids are ``<config>/<split>-<position>``.
    """
    from ..loading.load import load_dataset

    _converter(format)
    out, total = Path(out), ConvertCounts(format)
    parts = out.with_name(out.name + ".parts")
    request = json.dumps({"format": format, **load_kwargs}, sort_keys=True, default=str)
    todo = list(dict.fromkeys((config, split) for config in configs for split in splits))  # each once
    with FolderLock(out.parent, "convert", holder=str(out), name=f".{out.name}.lock"):
        settings = out.with_name(out.name + ".settings.json")
        if parts.is_symlink() or (parts.exists() and not settings.is_file()):  # only ours is used, or removed
            raise FileExistsError(
                f"{parts} exists and was not made by convert (no {settings.name} beside it): it is left as it is. "
                f"Move it away or write to another OUT."
            )
        if not parts.is_dir():
            settings.unlink(missing_ok=True)  # OUT was finished (or never begun): a new run
        shaping = {k: v for k, v in json.loads(request).items() if k not in PACING_OPTIONS}
        check_settings(
            settings,
            shaping,
            what=f"{parts} (an unfinished convert)",
            fix=f"delete {parts} to start again",
            names={name: "--" + name.replace("_", "-") for name in shaping},
        )
        parts.mkdir(exist_ok=True)

        def convert_part(item: tuple[str, str]) -> tuple[ConvertCounts, str]:
            config, split = item
            part, record = parts / f"{config}.{split}.jsonl", parts / f"{config}.{split}.counts.json"
            earlier = json.loads(record.read_text(encoding="utf-8")) if record.is_file() and part.is_file() else {}
            if earlier.get("request") == request:
                return ConvertCounts(**earlier["counts"]), " (written by an earlier run with the same arguments)"
            ds = load_dataset(config, split, **{**load_kwargs, "decode": False})
            counts = write_jsonl(ds, part, format, id_prefix=f"{config}/")
            record.write_text(json.dumps({"request": request, "counts": asdict(counts)}), encoding="utf-8")
            return counts, ""

        def done(item: tuple[str, str], converted: tuple[ConvertCounts, str]) -> None:
            counts, note = converted
            total.add(counts)
            print(f"{item[0]}/{item[1]} -> {out}{note}\n{counts.summary()}", flush=True)

        with StopPolicy("the config/split in flight is written") as stop:
            run_jobs(todo, convert_part, done, workers=1, stop=stop.event)  # one part at a time, in order
        if stop.stopped:
            print(f"interrupted: the finished parts are kept in {parts}; rerun the same command to go on", flush=True)
            raise KeyboardInterrupt
        if not total.written:  # an empty training file would only fail later, in the trainer
            shutil.rmtree(parts)  # only the empty parts of this run
            settings.unlink(missing_ok=True)
            raise NothingToWriteError(
                f"nothing to write to {out}: {total.summary()}. {out} was not written; pass --audio-dir (audio_dir=) "
                "the folder of the downloaded clips."
            )
        handle, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")  # a new file, no link
        with open(handle, "wb") as whole:
            for config, split in todo:
                with (parts / f"{config}.{split}.jsonl").open("rb") as lines:
                    shutil.copyfileobj(lines, whole)
        os.replace(name, out)
        shutil.rmtree(parts)
        settings.unlink()
    return total
