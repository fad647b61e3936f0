"""Audio is only read from inside the given folders; tiny files can be treated as missing."""

from __future__ import annotations

import os
import pickle

import pytest
from conftest import dialogue, write_clip, write_release

from _audio_dialogues.core import splits
from _audio_dialogues.core.audio_files import index_audio_dirs
from audio_dialogues import load_dataset

INSIDE, OUTSIDE, TINY = "aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc"


@pytest.fixture
def folders(tmp_path):
    clips, elsewhere = tmp_path / "clips", tmp_path / "elsewhere"
    write_clip(clips / f"{INSIDE}.wav", seconds=1.0)
    write_clip(clips / "real" / "zzzzzzzzzzz.wav", seconds=1.0)
    os.symlink(clips / "real" / "zzzzzzzzzzz.wav", clips / f"Y{INSIDE}.flac")  # a link inside the folder: fine
    os.symlink(write_clip(elsewhere / "secret.wav", seconds=1.0), clips / f"{OUTSIDE}.wav")  # points outside
    write_clip(clips / f"{TINY}.wav", seconds=0.01)  # 160 samples: a few hundred bytes
    return clips


def test_a_link_to_a_file_outside_is_not_used_unless_asked(folders):
    index = index_audio_dirs([folders])
    assert index.resolve(f"{OUTSIDE}.wav", OUTSIDE).path is None
    assert index.outside_links == [str(folders / f"{OUTSIDE}.wav")]
    assert "1 symbolic links to files outside the audio folders not used" in index.summary()
    assert "follow_symlinks=True" in index.summary()
    assert index.resolve(f"Y{INSIDE}.flac", INSIDE).path == str(folders / f"Y{INSIDE}.flac")  # inside: used
    followed = index_audio_dirs([folders], follow_symlinks=True)
    assert followed.resolve(f"{OUTSIDE}.wav", OUTSIDE).path == str(folders / f"{OUTSIDE}.wav")


def test_small_files_count_as_missing_only_when_asked(folders):
    assert index_audio_dirs([folders]).resolve(f"{TINY}.wav", TINY).path is not None
    index = index_audio_dirs([folders], min_bytes=16000)
    assert index.resolve(f"{TINY}.wav", TINY).path is None and index.too_small == [str(folders / f"{TINY}.wav")]
    assert "1 audio files under 16000 bytes treated as missing" in index.summary()
    assert index.resolve(f"{INSIDE}.wav", INSIDE).path is not None  # 1 s at 16 kHz, 16-bit: 32 kB


def test_the_options_reach_the_load_and_its_report(folders, tmp_path, cache_dir):
    records = [{"audio_id": f"{yid}.wav", "dialogue": dialogue(1)} for yid in (INSIDE, OUTSIDE, TINY)]
    write_release(tmp_path / "release", "music_dialogues", "train", records)
    write_release(tmp_path / "release", "music_dialogues", "test", records[:1])
    load = dict(data_dir=tmp_path / "release", audio_dir=folders, verification_mode="no_checks", decode=False)
    default = load_dataset("music_dialogues", "train", cache_dir=cache_dir, **load)
    assert [row["audio"] is not None for row in default] == [True, False, True]
    strict = load_dataset(
        "music_dialogues", "train", cache_dir=cache_dir, min_audio_bytes=16000, follow_symlinks=True, **load
    )
    assert [row["audio"] is not None for row in strict] == [True, True, False]
    with pytest.raises(ValueError, match="min_audio_bytes"):
        load_dataset("music_dialogues", cache_dir=cache_dir, min_audio_bytes=-1, **load)


def test_a_spawned_process_lists_the_folders_with_the_same_options(folders, tmp_path):
    from audio_dialogues import SUBSETS

    release = write_release(
        tmp_path / "release", "music_dialogues", "train", [{"audio_id": f"{TINY}.wav", "dialogue": dialogue(1)}]
    )
    index = index_audio_dirs([folders], min_bytes=16000)
    source = splits.SplitSource(
        "music_dialogues/train", "train", [str(release)], SUBSETS["music_dialogues"].rules, 1, index, "keep", None
    )
    payload = pickle.dumps(source)
    splits._READ.clear()
    spawned = pickle.loads(payload)
    assert spawned.audio_index.min_bytes == 16000 and spawned.joined()[0].audio_paths == (None,)


def test_a_link_to_a_folder_is_not_searched_and_is_named(folders, tmp_path):
    write_clip(tmp_path / "more" / "ddddddddddd.wav")
    os.symlink(tmp_path / "more", folders / "more")
    index = index_audio_dirs([folders])
    assert index.resolve("ddddddddddd.wav", "ddddddddddd").path is None
    assert (
        index.folder_links == [str(folders / "more")] and "1 symbolic links to folders not searched" in index.summary()
    )
    both = index_audio_dirs([folders, tmp_path / "more"])  # what the summary suggests
    assert both.resolve("ddddddddddd.wav", "ddddddddddd").path == str((tmp_path / "more" / "ddddddddddd.wav").resolve())
