"""What is in each AudioSet clip: its sound events, in one shape read by stats, review and any scorer.

The ``events`` of one clip (``audioset_dialogues``; ``audioset_comparison`` holds one such list per
clip, in ``audio_ids`` order)::

    [{"mid": "/m/0bt9lr", "label": "Dog", "start": 0.406, "end": 9.237,
      "description": "a dog barking in short bursts"}]

``description`` is ``None`` when unknown. A record gets its events from one of two places:

1. the release record itself: ``audio-dialogues generate`` writes a key ``events`` of that shape into
   every AudioSet record it makes (:func:`check_events` validates it when the release is parsed);
2. the user's AudioSet strong-label TSVs (load option ``strong_labels=[files]``), joined by YouTube id
   (:class:`StrongLabelEvents`), with descriptions from a ``label_descriptions.jsonl`` (as ``generate``
   writes it) when one is given or lies beside the first TSV.

Neither: the events are ``None`` (counted in the load summary).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .strong_labels import StrongClip, read_strong_labels, shipped_label_names

Event = dict  # {"mid": str, "label": str, "start": float, "end": float, "description": str | None}
EVENT_KEYS: tuple[str, ...] = ("mid", "label", "start", "end", "description")
DESCRIPTIONS_FILE = "label_descriptions.jsonl"


def clip_events(clip: StrongClip, names: Mapping[str, str], descriptions: Mapping[str, str]) -> list[Event]:
    """The events of one strong-label clip, in onset order, in the shape of the module docstring."""
    ordered = sorted(clip.events, key=lambda e: (e.start, e.end, e.label))
    return [
        {
            "mid": e.label,
            "label": names.get(e.label, e.label),
            "start": float(e.start),
            "end": float(e.end),
            "description": descriptions.get(e.label),
        }
        for e in ordered
    ]


def check_events(value: Any, clips: int, multi_audio: bool, fail: Callable[[str, str], Exception]) -> Any:
    """A record's ``events`` key, validated: a list of events, or (comparison) one list per clip.

    ``fail(field, problem)`` makes the error to raise (the release parser's, naming file and record).
    """
    if not multi_audio:
        return _event_list(value, "events", fail)
    if not isinstance(value, list) or len(value) != clips:
        raise fail("events", f"expected one list of events per clip ({clips}), found {_describe(value)}")
    return [_event_list(item, f"events[{i}]", fail) for i, item in enumerate(value)]


def _event_list(value: Any, where: str, fail) -> list[Event]:
    if not isinstance(value, list):
        raise fail(
            where, f"expected a list of events {{mid, label, start, end, description}}, found {_describe(value)}"
        )
    out = []
    for i, event in enumerate(value):
        field_name = f"{where}[{i}]"
        if not isinstance(event, dict) or set(event) != set(EVENT_KEYS):
            keys = sorted(event) if isinstance(event, dict) else _describe(event)
            raise fail(field_name, f"expected exactly the keys {', '.join(EVENT_KEYS)}, found {keys}")
        for key in ("mid", "label"):
            if not isinstance(event[key], str) or not event[key]:
                raise fail(f"{field_name}.{key}", f"expected a non-empty string, found {event[key]!r}")
        for key in ("start", "end"):
            number = event[key]
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
                raise fail(f"{field_name}.{key}", f"expected seconds (a number), found {number!r}")
        if event["description"] is not None and not isinstance(event["description"], str):
            raise fail(f"{field_name}.description", f"expected a string or null, found {event['description']!r}")
        out.append({**event, "start": float(event["start"]), "end": float(event["end"])})
    return out


def _describe(value: Any) -> str:
    return f"a list of {len(value)}" if isinstance(value, list) else type(value).__name__


def read_label_descriptions_ledger(path: str | os.PathLike) -> dict[str, str]:
    """MID -> description from a ``label_descriptions.jsonl`` as ``generate`` writes it (lines
    ``{"key": MID, "status": "ok", "description": ...}``; failed lines carry no description)."""
    path = Path(path)
    out: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{path}, line {number}: not JSON ({err.msg}); expected the label_descriptions.jsonl "
                "that audio-dialogues generate writes"
            ) from err
        if isinstance(entry, dict) and entry.get("status") == "ok" and isinstance(entry.get("description"), str):
            out[str(entry.get("key"))] = entry["description"]
    return out


@dataclass
class StrongLabelEvents:
    """The events of every clip of the user's strong-label TSVs, by YouTube id (the ``strong_labels`` option)."""

    files: tuple[str, ...]
    clips: dict[str, StrongClip] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, files: str | os.PathLike | Iterable[str | os.PathLike]) -> "StrongLabelEvents":
        paths = [files] if isinstance(files, (str, os.PathLike)) else list(files)
        if not paths:
            raise ValueError("strong_labels: give at least one AudioSet strong-label TSV file")
        clips: dict[str, StrongClip] = {}
        for path in paths:
            clips.update(read_strong_labels(path))
        beside = Path(paths[0]).expanduser().parent / DESCRIPTIONS_FILE
        descriptions = read_label_descriptions_ledger(beside) if beside.is_file() else {}
        return cls(tuple(str(p) for p in paths), clips, descriptions)

    def events(self, youtube_ids: Sequence[str], multi_audio: bool) -> Any:
        """The events of a record's clips (``None`` for a clip the files do not label; a comparison
        whose every clip is unlabelled is ``None``)."""
        names = shipped_label_names()
        per_clip = [
            None if (clip := self.clips.get(y)) is None else clip_events(clip, names, self.descriptions)
            for y in youtube_ids
        ]
        if not multi_audio:
            return per_clip[0]
        return None if all(c is None for c in per_clip) else per_clip
