"""Shards: split_dataset_by_node and DataLoader workers see every record once; num_proc prepares in parallel.

The release is synthetic (a few hundred records, text only); the shard count is whatever the loader
offers (``ds.n_shards``), so these tests hold for any count that world sizes 1, 2, 4 and 8 divide.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from datasets.distributed import split_dataset_by_node
from synthetic import write_release

from audio_dialogues import load_dataset

SIZES = {"music_dialogues": {"train": 300, "test": 45}, "audioset_comparison": {"train": 210, "test": 30}}


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("release")
    write_release(root, SIZES, fmt="jsonl")
    return root


def stream(config: str, split: str, release: Path, cache_dir: str):
    return load_dataset(
        config, split, data_dir=release, streaming=True, cache_dir=cache_dir, verification_mode="no_checks"
    )


@pytest.mark.parametrize(
    "config, split", [("music_dialogues", "train"), ("audioset_comparison", "train"), ("music_dialogues", "test")]
)
@pytest.mark.parametrize("world_size", [1, 2, 4, 8])
def test_split_by_node_gives_every_record_to_one_rank_evenly(world_size, config, split, release, cache_dir):
    ds = stream(config, split, release, cache_dir)
    all_ids = [row["id"] for row in ds]
    assert len(all_ids) == SIZES[config][split] and ds.n_shards % world_size == 0
    per_rank = []
    for rank in range(world_size):
        node = split_dataset_by_node(ds, rank=rank, world_size=world_size)
        assert node.n_shards == ds.n_shards // world_size  # whole shards, none skipped example by example
        per_rank.append([row["id"] for row in node])
    assert Counter(i for ids in per_rank for i in ids) == Counter(all_ids)  # each once, none lost
    shard_size = math.ceil(len(all_ids) / ds.n_shards)
    counts = [len(ids) for ids in per_rank]
    assert max(counts) - min(counts) <= shard_size, counts


def test_a_world_size_that_does_not_divide_the_shards_still_sees_every_record_once(release, cache_dir):
    ds = stream("music_dialogues", "train", release, cache_dir)
    world_size = 3 if ds.n_shards % 3 else 5  # datasets then keeps one example in world_size per rank
    ids = [
        row["id"] for rank in range(world_size) for row in split_dataset_by_node(ds, rank=rank, world_size=world_size)
    ]
    assert sorted(ids) == sorted(row["id"] for row in ds)


@pytest.mark.parametrize("world_size", [1, 2])
def test_dataloader_workers_on_each_rank_see_every_record_once(world_size, release, cache_dir):
    pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    from _audio_dialogues.loading.training import collate_audio

    ds = stream("audioset_comparison", "train", release, cache_dir)
    seen: Counter[str] = Counter()
    for rank in range(world_size):
        loader = DataLoader(
            split_dataset_by_node(ds, rank=rank, world_size=world_size),
            batch_size=16,
            num_workers=2,
            collate_fn=collate_audio,
        )
        for batch in loader:
            assert batch["audios"].shape[:2] == (len(batch["id"]), max(map(len, batch["audio_ids"])))
            assert not batch["audios_present"].any()  # text only: no audio_dir
            seen.update(batch["id"])
    assert seen == Counter(f"train-{i:06d}" for i in range(SIZES["audioset_comparison"]["train"]))


def test_num_proc_2_prepares_two_parts_with_the_same_rows_and_audio(tmp_path):
    # tests/test_loader.py compares num_proc=2 with 1 on a text-only release; here with decoded clips (the sample).
    one = load_dataset("audioset_comparison", "train", cache_dir=str(tmp_path / "one"))
    two = load_dataset("audioset_comparison", "train", cache_dir=str(tmp_path / "two"), num_proc=2)
    assert len(two.cache_files) == 2  # one Arrow file per process: the shards were split between them
    assert len(one) == len(two)
    for a, b in zip(one, two):
        assert {k: v for k, v in a.items() if k != "audios"} == {k: v for k, v in b.items() if k != "audios"}
        for x, y in zip(a["audios"], b["audios"]):
            assert (x is None and y is None) or (x["path"] == y["path"] and np.array_equal(x["array"], y["array"]))
