"""Listening in a notebook: one dialogue shown with a player for each of its clips.

``show_dialogue(row)`` returns an object that Jupyter renders with its ``_repr_html_``: the example's
id, an ``<audio controls>`` player per clip (a base64 WAV data URI, so the notebook needs no file
access nor IPython), then the turns. Outside a notebook, ``str()`` of it is the transcript. One clip
alone plays with the notebook's own player too::

    from IPython.display import Audio
    Audio(row["audio"]["array"], rate=row["audio"]["sampling_rate"])
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import soundfile


@dataclass(frozen=True)
class DialogueView:
    """One loaded row, rendered as HTML players plus the turns (see :func:`show_dialogue`)."""

    row: Mapping[str, Any]

    def clips(self) -> list[tuple[str, Mapping[str, Any] | None]]:
        """(name, decoded audio or None) for each clip of the row."""
        if "audios" in self.row:
            names = self.row.get("audio_ids") or [f"audio {i + 1}" for i in range(len(self.row["audios"]))]
            return list(zip(names, self.row["audios"]))
        if "audio" in self.row:
            return [(self.row.get("audio_id") or "audio", self.row["audio"])]
        raise ValueError(
            f"show_dialogue expects a loaded row with an 'audio' or 'audios' column; this row has "
            f"{', '.join(self.row)}. Load with the audio (the default), not remove_columns('audio')."
        )

    def _repr_html_(self) -> str:
        parts = [f"<div class='audio-dialogue'><b>{html.escape(str(self.row.get('id', '')))}</b>"]
        for name, audio in self.clips():
            label = html.escape(str(name))
            if audio is None:
                parts.append(f"<div>{label}: <i>no audio (the clip is missing; see the load's report)</i></div>")
            else:
                parts.append(f"<div>{label}<br><audio controls src='{wav_data_uri(audio)}'></audio></div>")
        for turn in self.row.get("dialogue") or []:
            parts.append(
                f"<p><b>user:</b> {html.escape(turn['user'])}<br><b>assistant:</b> {html.escape(turn['assistant'])}</p>"
            )
        return "\n".join(parts + ["</div>"])

    def __str__(self) -> str:
        lines = [str(self.row.get("id", ""))]
        for name, audio in self.clips():
            seconds = "missing" if audio is None else f"{len(audio['array']) / audio['sampling_rate']:.2f} s"
            lines.append(f"  clip {name}: {seconds}")
        for turn in self.row.get("dialogue") or []:
            lines += [f"  user:      {turn['user']}", f"  assistant: {turn['assistant']}"]
        return "\n".join(lines)


def show_dialogue(row: Mapping[str, Any]) -> DialogueView:
    """A row of a load (decoded audio), shown in Jupyter with a player per clip and the turns."""
    view = DialogueView(row)
    view.clips()  # a row without audio fails here, not when the notebook renders it
    return view


def wav_data_uri(audio: Mapping[str, Any]) -> str:
    """A decoded clip (``{"array", "sampling_rate"}``) as a ``data:audio/wav;base64,...`` URI (16-bit PCM)."""
    if "array" not in audio or "sampling_rate" not in audio:
        raise ValueError(
            "show_dialogue needs decoded audio ({'array', 'sampling_rate'}); load with decode=True (the default)."
        )
    buffer = io.BytesIO()
    soundfile.write(buffer, np.asarray(audio["array"], dtype=np.float32), int(audio["sampling_rate"]), format="WAV")
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
