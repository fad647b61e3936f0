"""Cutting a split into shards, and reading a split lazily (no ``datasets`` needed)."""

from __future__ import annotations

import pytest
from conftest import dialogue, write_release

from _audio_dialogues.core.release import RecordRules
from _audio_dialogues.core.splits import LazyShard, SplitSource, shard_bounds, shards_of

RULES = RecordRules(multi_audio=False, max_turns=4)


@pytest.mark.parametrize("count", [0, 1, 7, 64, 65, 1000, 76_642])
@pytest.mark.parametrize("num_shards", [1, 8, 64])
def test_shard_bounds_cover_every_record_once_in_order_and_evenly(count, num_shards):
    bounds = shard_bounds(count, num_shards)
    assert len(bounds) == num_shards
    assert [i for start, stop in bounds for i in range(start, stop)] == list(range(count))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1


def source_of(tmp_path, records, fmt: str = "jsonl") -> SplitSource:
    path = write_release(tmp_path, "music_dialogues", "train", records, fmt)
    return SplitSource("music_dialogues/train", "train", [str(path)], RULES, len(records), None, "keep", None)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_shards_read_the_split_once_in_order(tmp_path, monkeypatch, fmt):
    records = [{"audio_id": f"abcdefghi{i:02d}.wav", "dialogue": dialogue(1 + i % 4)} for i in range(37)]
    source = source_of(tmp_path, records, fmt)
    reads = []
    original = SplitSource.read
    monkeypatch.setattr(SplitSource, "read", lambda self: reads.append(1) or original(self))
    shards = shards_of(source, 8)
    assert not reads  # building the shards reads nothing
    ids = [[item.id for item in shard] for shard in shards]
    assert [i for shard in ids for i in shard] == [f"train-{i:06d}" for i in range(37)]
    # Issue 10 changed this for JSON Lines: its shards parse their own lines, the split is never read whole.
    assert {len(shard) for shard in ids} == {4, 5} and len(reads) == (1 if fmt == "json" else 0)


def test_a_pickled_source_carries_no_records_and_no_listing(tmp_path):
    """What num_proc jobs and spawned workers receive: they find the records in memory or read them again."""
    import pickle

    from _audio_dialogues.core import splits
    from _audio_dialogues.core.audio_files import index_audio_dirs

    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "abcdefghi00.wav").write_bytes(b"")
    records = [{"audio_id": f"abcdefghi{i:02d}.wav", "dialogue": dialogue(1)} for i in range(3)]
    source = source_of(tmp_path, records)
    source.audio_index = index_audio_dirs([tmp_path / "clips"])
    expected = [(item.id, item.audio_paths) for item in source.joined()]
    payload = pickle.dumps(source)
    assert len(payload) < 2000 and b"abcdefghi01" not in payload
    forked = pickle.loads(payload)  # the records are still in this process's memory, as after a fork
    assert forked.audio_index is None and [(i.id, i.audio_paths) for i in forked.joined()] == expected
    splits._READ.clear()  # a spawned process: nothing in memory
    spawned = pickle.loads(payload)
    assert spawned.audio_index.num_files == 1 and [(i.id, i.audio_paths) for i in spawned.joined()] == expected


def test_a_lazy_split_checks_the_published_count_when_read(tmp_path):
    from datasets.exceptions import NonMatchingSplitsSizesError

    source = source_of(tmp_path, [{"audio_id": "abcdefghijk.wav", "dialogue": dialogue(1)}])
    source.expected_records = 2
    with pytest.raises(NonMatchingSplitsSizesError, match="expected 2 records, found 1"):
        list(LazyShard(source, 0, 1))


def test_paused_gc_restores_the_collector_state_even_on_error():
    import gc

    from _audio_dialogues.core.splits import paused_gc

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
