"""Batching for a training loop: the numpy padding core without torch, collate_audio and the README recipe with it."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pytest
from conftest import REPO

from _audio_dialogues.loading.training import pad_audio
from audio_dialogues import load_dataset


def clip(samples: int, rate: int = 16000, start: float = 1.0) -> dict:
    return {
        "path": f"/clips/{samples}.wav",
        "array": np.arange(start, start + samples, dtype=np.float32),
        "sampling_rate": rate,
    }


def test_pad_audio_pads_with_zeros_and_gives_lengths():
    padded = pad_audio([clip(3), clip(5), clip(1)])
    assert padded.array.dtype == np.float32 and padded.array.shape == (3, 5)
    np.testing.assert_array_equal(padded.array[0], [1, 2, 3, 0, 0])
    np.testing.assert_array_equal(padded.array[1], [1, 2, 3, 4, 5])
    assert padded.lengths.dtype == np.int64 and padded.lengths.tolist() == [3, 5, 1]
    assert padded.present.tolist() == [True, True, True] and padded.sampling_rate == 16000


def test_a_missing_clip_is_zero_length_and_not_present():
    padded = pad_audio([None, clip(2), None])
    assert padded.array.shape == (3, 2) and not padded.array[[0, 2]].any()
    assert padded.lengths.tolist() == [0, 2, 0] and padded.present.tolist() == [False, True, False]
    nothing = pad_audio([None, None])
    assert nothing.array.shape == (2, 0) and nothing.lengths.tolist() == [0, 0] and nothing.sampling_rate is None
    assert pad_audio([]).array.shape == (0, 0)


def test_max_seconds_crops_from_the_start():
    padded = pad_audio([clip(10, rate=4), clip(3, rate=4)], max_seconds=1.5)  # 1.5 s at 4 Hz: 6 samples
    assert padded.array.shape == (2, 6) and padded.lengths.tolist() == [6, 3]
    np.testing.assert_array_equal(padded.array[0], [1, 2, 3, 4, 5, 6])


def test_comparison_examples_pad_to_batch_clips_samples():
    padded = pad_audio([[clip(2), clip(4, start=10)], [clip(1), None, clip(3)]])
    assert padded.array.shape == (2, 3, 4)
    assert padded.lengths.tolist() == [[2, 4, 0], [1, 0, 3]]
    assert padded.present.tolist() == [[True, True, False], [True, False, True]]  # a slot past the clips is empty
    np.testing.assert_array_equal(padded.array[0, 1], [10, 11, 12, 13])
    np.testing.assert_array_equal(padded.array[1, 2], [1, 2, 3, 0])
    assert not padded.array[1, 1].any() and not padded.array[0, 2].any()


def test_unpaddable_values_are_refused():
    with pytest.raises(ValueError, match=r"different sampling rates \[16000, 44100\].*sampling_rate="):
        pad_audio([clip(2), clip(2, rate=44100)])
    with pytest.raises(ValueError, match="Padding needs decoded audio.*decode=True"):
        pad_audio([{"path": "/clips/a.wav", "bytes": None}])


@pytest.mark.parametrize("config", ["music_dialogues", "audioset_comparison"])
def test_pad_audio_on_the_sample_keeps_every_clip(config, cache_dir):
    rows = list(load_dataset(config, "test", streaming=True, cache_dir=cache_dir))
    column = "audios" if "audios" in rows[0] else "audio"
    padded = pad_audio([row[column] for row in rows])
    for i, row in enumerate(rows):
        values = row[column] if column == "audios" else [row[column]]
        for j, value in enumerate(values):
            index = (i, j) if column == "audios" else (i,)
            assert padded.present[index] == (value is not None)
            if value is not None:
                assert padded.lengths[index] == len(value["array"])
                np.testing.assert_array_equal(padded.array[index][: len(value["array"])], value["array"])
                assert not padded.array[index][len(value["array"]) :].any()


def test_collate_audio_gives_tensors_and_keeps_the_other_columns_as_lists(cache_dir):
    torch = pytest.importorskip("torch")
    from _audio_dialogues.loading.training import collate_audio

    rows = list(load_dataset("audioset_comparison", "train", streaming=True, cache_dir=cache_dir))[:5]
    batch = collate_audio(rows, max_seconds=0.25)
    assert batch["audios"].dtype == torch.float32 and batch["audios"].shape[:2] == (
        5,
        max(len(r["audios"]) for r in rows),
    )
    assert batch["audios"].shape[2] == batch["audios_lengths"].max() <= 4000
    assert batch["audios_lengths"].dtype == torch.int64 and batch["audios_present"].dtype == torch.bool
    assert batch["sampling_rate"] == 16000
    for name in ("id", "youtube_ids", "audio_ids", "dialogue", "num_turns"):
        assert batch[name] == [row[name] for row in rows]
    with pytest.raises(ValueError, match="expects examples with an 'audio' or 'audios' column"):
        collate_audio([{"id": "x"}])


def readme_recipe() -> str:
    """The first Python block of the "Training loop" section of docs/training.md, with its example
    ``train_step`` renamed so that the test's own (which counts what it is given) is called."""
    return recipe_as_written().replace("def train_step(", "def _example_train_step(")


def recipe_as_written() -> str:
    readme = (REPO / "docs" / "training.md").read_text(encoding="utf-8")
    section = readme.split("\n## Training loop\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_training_recipe_runs_as_copied(monkeypatch, cache_dir, capsys):
    """Copied into an empty script, the recipe runs (nothing is left for the reader to define)."""
    pytest.importorskip("torch")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", Path(cache_dir))
    exec(recipe_as_written(), {"__name__": "__main__"})
    printed = capsys.readouterr().out.splitlines()
    assert printed and {line.split()[0] for line in printed} == {"0", "1"}  # two epochs of batches


@pytest.mark.parametrize("world_size", [1, 2])
def test_the_readme_recipe_delivers_every_example_once_per_epoch_padded(world_size, monkeypatch, cache_dir):
    pytest.importorskip("torch")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", Path(cache_dir))  # the recipe passes no cache_dir
    expected = {
        row["id"]: row["audio"] for row in load_dataset("music_dialogues", "train", streaming=True, cache_dir=cache_dir)
    }
    seen: Counter[tuple[int, str]] = Counter()
    namespace: dict = {"num_epochs": 2}  # the recipe's globals: it leaves `epoch` here for train_step to read

    def train_step(batch):
        assert batch["audio"].ndim == 2 and batch["audio"].shape[1] == batch["audio_lengths"].max()
        assert batch["sampling_rate"] == 16000
        for i, example_id in enumerate(batch["id"]):
            seen[namespace["epoch"], example_id] += 1
            audio, length = expected[example_id], int(batch["audio_lengths"][i])
            assert bool(batch["audio_present"][i]) == (audio is not None)
            assert length == (0 if audio is None else len(audio["array"]))
            if audio is not None:
                np.testing.assert_array_equal(batch["audio"][i, :length].numpy(), audio["array"])
            assert not batch["audio"][i, length:].any()

    namespace["train_step"] = train_step
    for rank in range(world_size):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", str(world_size))
        exec(readme_recipe(), namespace)
    assert seen == Counter((epoch, example_id) for epoch in (0, 1) for example_id in expected)
    assert any(expected[i] is None for i in expected)  # the sample has missing clips: the flags were exercised
