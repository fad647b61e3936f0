"""The three subsets of Audio Dialogues: one table that the loading script, the commands, the exporter,
the tests and the benchmarks all read.

Each row says what a record of the subset looks like (:class:`~.release.RecordRules`) and how many
records each split of the published release holds (the paper's Table 1). The loader checks the
release against these sizes; ``verification_mode="no_checks"`` turns the check off.
"""

from __future__ import annotations

from dataclasses import dataclass

from .release import RecordRules

SPLITS: tuple[str, ...] = ("train", "test")


@dataclass(frozen=True)
class Subset:
    description: str
    rules: RecordRules
    published: dict[str, int]  # records per split, from the paper

    @property
    def multi_audio(self) -> bool:
        """A comparison: each record holds 2-4 clips (column ``audios``) instead of one (``audio``)."""
        return self.rules.multi_audio


SUBSETS: dict[str, Subset] = {
    "audioset_dialogues": Subset(
        "Dialogues of 1-4 turns about one 10 s AudioSet-SL clip.",
        RecordRules(multi_audio=False, max_turns=4),
        {"train": 76_642, "test": 1_442},
    ),
    "music_dialogues": Subset(
        "Dialogues of 1-4 turns about one 10 s MusicCaps clip.",
        RecordRules(multi_audio=False, max_turns=4),
        {"train": 3_358, "test": 1_641},
    ),
    "audioset_comparison": Subset(
        "One question and answer comparing 2-4 AudioSet-SL clips.",
        RecordRules(multi_audio=True, min_turns=1, max_turns=1, min_audios=2, max_audios=4),
        {"train": 64_085, "test": 16_249},
    ),
}

CONFIGS: tuple[str, ...] = tuple(SUBSETS)


def subset(config: str) -> Subset:
    """The row of ``config``, or a ``ValueError`` listing the configs (with a did-you-mean)."""
    try:
        return SUBSETS[config]
    except (KeyError, TypeError):
        from .errors import did_you_mean

        raise ValueError(
            f"Unknown config {config!r}: choose one of {', '.join(CONFIGS)}.{did_you_mean(config, CONFIGS)}"
        ) from None
