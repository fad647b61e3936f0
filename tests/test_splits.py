"""Cutting a split into shards, and reading a split lazily (no ``datasets`` needed)."""

from __future__ import annotations

import pytest

from audio_dialogues_support.release import RecordRules
from audio_dialogues_support.splits import LazyShard, SplitSource, eager_shards, shard_bounds
from conftest import dialogue, write_release

RULES = RecordRules(multi_audio=False, max_turns=4)


@pytest.mark.parametrize("count", [0, 1, 7, 64, 65, 1000, 76_642])
@pytest.mark.parametrize("num_shards", [1, 8, 64])
def test_shard_bounds_cover_every_record_once_in_order_and_evenly(count, num_shards):
    bounds = shard_bounds(count, num_shards)
    assert len(bounds) == num_shards
    assert [i for start, stop in bounds for i in range(start, stop)] == list(range(count))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1


def source_of(tmp_path, records) -> SplitSource:
    path = write_release(tmp_path, "music_dialogues", "train", records, "jsonl")
    return SplitSource("music_dialogues/train", "train", [str(path)], RULES, len(records), None, "keep", None)


def test_lazy_shards_read_the_split_once_and_match_eager_shards(tmp_path, monkeypatch):
    records = [{"audio_id": f"abcdefghi{i:02d}.wav", "dialogue": dialogue(1 + i % 4)} for i in range(37)]
    source = source_of(tmp_path, records)
    eager = eager_shards(source.read()[0], 8)
    reads = []
    original = SplitSource.read
    monkeypatch.setattr(SplitSource, "read", lambda self: reads.append(1) or original(self))
    lazy = [LazyShard(source, index, 8) for index in range(8)]
    assert not reads  # building the shards reads nothing
    assert [[item.id for item in shard] for shard in lazy] == [[item.id for item in shard] for shard in eager]
    assert len(reads) == 1


def test_a_lazy_split_checks_the_published_count_when_read(tmp_path):
    from datasets.exceptions import NonMatchingSplitsSizesError

    source = source_of(tmp_path, [{"audio_id": "abcdefghijk.wav", "dialogue": dialogue(1)}])
    source.expected_records = 2
    with pytest.raises(NonMatchingSplitsSizesError, match="expected 2 records, found 1"):
        list(LazyShard(source, 0, 1))


def test_paused_gc_restores_the_collector_state_even_on_error():
    import gc

    from audio_dialogues_support.splits import paused_gc

    assert gc.isenabled()
    with pytest.raises(KeyError), paused_gc():
        assert not gc.isenabled()
        raise KeyError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
