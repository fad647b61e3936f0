"""lhotse ``Recording``s and a ``CutSet`` from a loaded split (needs ``pip install 'audio-dialogues[lhotse]'``).

lhotse's own ``CutSet.from_huggingface_dataset`` expects each row's audio as decoded samples or bytes;
our rows hold file paths, ``None`` for a clip that was not downloaded, and a list of clips in a
comparison. :func:`to_lhotse` reads those rows directly::

    ds = load_dataset("audioset_comparison", "train", audio_dir="~/clips", decode=False)
    recordings, cuts, counts = to_lhotse(ds)
    print(counts.summary())

- one ``Recording`` per clip file, its id the YouTube id (a clip used by several dialogues is one
  recording); its length and rate are read from the file's header;
- one cut per clip of each dialogue, spanning the whole recording: id ``<example id>`` for the
  single-clip configs, ``<example id>-<k>`` for clip k (1-based) of a comparison; ``cut.custom`` holds
  ``example_id``, ``clip`` (k), ``clips`` (how many the dialogue has) and ``dialogue`` (the turns);
- a dialogue with a missing clip gives no cut; it is counted, with its id, in :class:`LhotseCounts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .convert import NoAudioFileError, UnreadableAudioError, audio_paths

if TYPE_CHECKING:
    from lhotse import CutSet, RecordingSet


@dataclass
class LhotseCounts:
    """What :func:`to_lhotse` made, and the dialogues it left out (example ids)."""

    dialogues: int = 0
    cuts: int = 0
    recordings: int = 0
    skipped_missing_audio: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"lhotse: {self.dialogues} dialogues -> {self.cuts} cuts over {self.recordings} recordings"
        skipped = self.skipped_missing_audio
        if skipped:
            shown = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
            text += (
                f"; left out {len(skipped)} dialogues whose audio is missing ({shown}): download those clips "
                "and pass their folder as audio_dir"
            )
        return text


def to_lhotse(rows: Iterable[Mapping[str, Any]]) -> tuple["RecordingSet", "CutSet", LhotseCounts]:
    """The recordings and cuts of a split's rows (any config; load with ``decode=False`` to read no samples)."""
    try:
        from lhotse import CutSet, Recording, RecordingSet
        from lhotse.utils import fastcopy
    except ImportError as err:
        raise ImportError("to_lhotse needs lhotse: pip install 'audio-dialogues[lhotse]'.") from err

    recordings: dict[str, Recording] = {}
    cuts, counts = [], LhotseCounts()
    for row in rows:
        try:
            paths = audio_paths(row)
        except NoAudioFileError:
            counts.skipped_missing_audio.append(str(row["id"]))
            continue
        youtube_ids = row["youtube_ids"] if "youtube_ids" in row else [row["youtube_id"]]
        dialogue = [{"user": turn["user"], "assistant": turn["assistant"]} for turn in row["dialogue"]]
        for k, (path, youtube_id) in enumerate(zip(paths, youtube_ids), start=1):
            if youtube_id not in recordings:
                try:
                    recordings[youtube_id] = Recording.from_file(path, recording_id=youtube_id)
                except Exception as err:  # lhotse's readers raise many types; name the example and the file
                    raise UnreadableAudioError(
                        f"Example {row['id']!r}: lhotse cannot read {path} ({type(err).__name__}: {err}); "
                        "re-download or re-encode the clip."
                    ) from err
            cut_id = row["id"] if len(paths) == 1 else f"{row['id']}-{k}"
            custom = {"example_id": row["id"], "clip": k, "clips": len(paths), "dialogue": dialogue}
            cuts.append(fastcopy(recordings[youtube_id].to_cut(), id=cut_id, custom=custom))
        counts.dialogues += 1
    counts.cuts, counts.recordings = len(cuts), len(recordings)
    return RecordingSet.from_recordings(recordings.values()), CutSet.from_cuts(cuts), counts
