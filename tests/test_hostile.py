"""The second hostile-input round (issue 10): nothing lost, nothing silently wrong, no crash or hang.

Each test builds its hostile input in ``tmp_path`` and goes through the public entry points
(``load_dataset``, ``export``, ``decode_audio``, ``index_audio_dirs``, ``read_release``); RELIABILITY.md
lists every case with its test. Reads that could block (named pipes) run in a thread that the test
unblocks itself if the code under test ever opened the pipe, so a regression fails instead of hanging.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile
from conftest import REPO, dialogue, sigint_as_in_a_terminal, write_clip, write_release
from datasets.exceptions import NonMatchingSplitsSizesError

from _audio_dialogues.cli.main import main as cli_main
from _audio_dialogues.core.audio_files import index_audio_dirs
from _audio_dialogues.core.bundled import sample_audio_dir, sample_dir
from _audio_dialogues.core.decoding import AudioDecodeError, decode_audio
from _audio_dialogues.core.release import ReleaseFormatError, read_release_file
from _audio_dialogues.core.subsets import SUBSETS
from _audio_dialogues.loading.features import restore_audio_decoding
from _audio_dialogues.outputs.export import MANIFEST, export
from audio_dialogues import load_dataset, read_release

MUSIC = "music_dialogues"
A, B, C = "aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc"


def music_release(root: Path, train: list[dict] | None = None, test: list[dict] | None = None) -> Path:
    one = {"audio_id": f"{A}.wav", "dialogue": dialogue(1)}
    write_release(root, MUSIC, "train", train if train is not None else [one])
    write_release(root, MUSIC, "test", test if test is not None else [{**one, "audio_id": f"{B}.wav"}])
    return root


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def call_with_unblocking(function, fifo: Path, seconds: float = 20.0):
    """Run ``function()`` in a thread; if it is still running after ``seconds`` (blocked opening ``fifo``),
    open the pipe's other end to unblock it and fail. Returns the exception it raised, or its result."""
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = function()
        except BaseException as err:  # noqa: BLE001 - handed to the test
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(5)
        pytest.fail(f"reading {fifo} blocked for {seconds} s")
    return outcome.get("error", outcome.get("result"))


# --- export: only our own folder is ever replaced, and only by a complete export -----------------------


def test_overwrite_refuses_a_clone_of_this_repository(tmp_path, cache_dir):
    """`audio-dialogues export . --overwrite` in a clone: README.md and data/ are not an export."""
    clone = tmp_path / "clone"
    (clone / "data" / "sample").mkdir(parents=True)
    (clone / "data" / "metadata").mkdir()
    (clone / "README.md").write_text("# audio-dialogues\n")
    (clone / "data" / "sample" / "manifest.json").write_text("{}")
    (clone / "data" / "metadata" / "musiccaps.csv").write_text("ytid\n")
    before = files_under(clone)
    with pytest.raises(FileExistsError, match=f"does not look like a previous export: it has no {MANIFEST}"):
        export(clone, [MUSIC], overwrite=True, cache_dir=cache_dir)
    assert files_under(clone) == before
    assert [p.name for p in tmp_path.iterdir()] == ["clone"]  # nothing left beside it either


def test_overwrite_refuses_an_export_holding_a_file_it_did_not_write(tmp_path, cache_dir):
    out = tmp_path / "out"
    export(out, [MUSIC], cache_dir=cache_dir)
    (out / "data" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="data/notes.txt, which the export did not write"):
        export(out, [MUSIC], overwrite=True, cache_dir=cache_dir)
    assert (out / "data" / "notes.txt").read_text() == "mine"


def test_a_release_kept_under_the_export_folder_is_never_deleted(tmp_path, cache_dir):
    out = tmp_path / "out"
    music_release(out / "data")
    (out / "README.md").write_text("my notes")
    before = files_under(out)
    with pytest.raises(FileExistsError, match="data_dir .* is inside the export folder"):
        export(out, [MUSIC], overwrite=True, data_dir=out / "data", verification_mode="no_checks", cache_dir=cache_dir)
    assert files_under(out) == before


def test_a_failed_load_leaves_the_previous_export_whole(tmp_path, cache_dir):
    out = tmp_path / "out"
    export(out, [MUSIC], cache_dir=cache_dir)
    before = files_under(out)
    with pytest.raises(FileNotFoundError, match="data_dir .*typo is not a folder"):
        export(out, [MUSIC], overwrite=True, data_dir=tmp_path / "typo", cache_dir=cache_dir)
    assert files_under(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf_cache", "out"]  # the partial build was removed
    again = export(out, [MUSIC, "audioset_dialogues"], overwrite=True, cache_dir=cache_dir)  # a good one replaces it
    assert sorted(p.name for p in (out / "data").iterdir()) == ["audioset_dialogues", MUSIC]
    assert again.out_dir == out and sorted(p.name for p in tmp_path.iterdir()) == ["hf_cache", "out"]


_EXPORT_CHILD = """
import sys
from _audio_dialogues.outputs.export import export
export(sys.argv[1], ["audioset_dialogues", "music_dialogues"], data_dir=sys.argv[2], cache_dir=sys.argv[3],
       overwrite=True, verification_mode="no_checks", max_shard_size=20000)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_an_interrupted_export_never_loads_as_a_dataset(tmp_path, cache_dir, sig, caplog):
    """Kill the export once its first Parquet file is written: OUT keeps the previous export, and what the
    interrupted one left (after SIGKILL: its hidden partial folder) loads as no dataset at all."""
    release = tmp_path / "release"
    big = [{"audio_id": f"{i:011d}.wav", "dialogue": dialogue(2, f" {i}")} for i in range(30000)]
    write_release(release, "audioset_dialogues", "train", big, fmt="jsonl")
    write_release(release, "audioset_dialogues", "test", big[:5])
    music_release(release)
    out = tmp_path / "out"
    export(out, [MUSIC], data_dir=release, verification_mode="no_checks", cache_dir=cache_dir)
    previous = files_under(out)
    child = subprocess.Popen(
        [sys.executable, "-c", _EXPORT_CHILD, str(out), str(release), cache_dir],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=sigint_as_in_a_terminal,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.partial-*/data/*/.*.partial")):
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the export wrote no file in 60 s"
        time.sleep(0.005)
    child.send_signal(sig)
    child.wait(60)
    assert child.returncode != 0
    assert files_under(out) == previous
    assert datasets.load_dataset(str(out), MUSIC, split="train", cache_dir=str(tmp_path / "read")).num_rows == 1
    leftovers = list(tmp_path.glob(".out.*"))
    if sig == signal.SIGINT:
        assert leftovers == []  # Ctrl-C cleans up
    else:
        (partial,) = leftovers
        assert not list(partial.rglob("*.parquet")) and not (partial / "README.md").exists()
        with pytest.raises(Exception) as info:  # datasets finds no data file in it
            datasets.load_dataset(str(partial), cache_dir=str(tmp_path / "read2"))
        expected = ("DataFilesNotFoundError", "FileNotFoundError", "EmptyDatasetError")
        assert type(info.value).__name__ in expected, info.value
        caplog.set_level(logging.WARNING, logger="audio_dialogues")
        export(out, [MUSIC], overwrite=True, data_dir=release, verification_mode="no_checks", cache_dir=cache_dir)
        warning = f"1 folder(s) left by an interrupted export of {out}, not a dataset: {partial}; delete them"
        assert warning in caplog.text


def test_the_export_summary_counts_every_missing_clip(tmp_path, cache_dir):
    """Text-only exports count missing clips too (each single-clip sample split has rows without audio)."""
    configs = list(SUBSETS)
    result = export(tmp_path / "out", configs, cache_dir=cache_dir)
    for exported in result.splits:
        rows = load_dataset(exported.config, exported.split, decode=False, cache_dir=cache_dir)
        column = "audios" if "audios" in rows.column_names else "audio"
        values = [v for row in rows[column] for v in (row if isinstance(row, list) else [row])]
        expected = sum(v is None for v in values)
        assert exported.missing_audio == expected
        line = next(line for line in result.summary().splitlines() if f"{exported.config}/{exported.split}:" in line)
        assert (f"{expected} clip(s) not found" in line) == (expected > 0)
    assert sum(s.missing_audio for s in result.splits if s.config != "audioset_comparison") > 0
    assert json.loads((tmp_path / "out" / MANIFEST).read_text())["files"]["README.md"] > 0


# --- the cache and verification ----------------------------------------------------------------------------


def test_a_partial_release_cached_with_no_checks_is_refused_under_default_checks(tmp_path, cache_dir):
    release = music_release(tmp_path / "release", train=[{"audio_id": f"{A}.wav", "dialogue": dialogue(1)}] * 3)
    assert len(load_dataset(MUSIC, "train", data_dir=release, verification_mode="no_checks", cache_dir=cache_dir)) == 3
    with pytest.raises(NonMatchingSplitsSizesError, match="expected 3358 records, found 3"):
        load_dataset(MUSIC, "train", data_dir=release, cache_dir=cache_dir)
    assert len(load_dataset(MUSIC, "train", data_dir=release, verification_mode="no_checks", cache_dir=cache_dir)) == 3


# --- empty splits ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cause", ["missing_audio_skip", "on_invalid_skip", "empty_file"])
def test_an_empty_split_is_a_dataset_of_zero_rows_with_a_reason(tmp_path, cache_dir, summaries, cause):
    clips = tmp_path / "clips"
    write_clip(clips / f"{A}.wav")
    test = [{"audio_id": f"{B}.wav", "dialogue": dialogue(1)}]
    options = {"audio_dir": clips, "verification_mode": "no_checks"}
    if cause == "missing_audio_skip":
        options["missing_audio"] = "skip"
        why = "no record has its audio (missing_audio='skip')"
    elif cause == "on_invalid_skip":
        test = [{"audio_id": "not an id", "dialogue": dialogue(1)}, {"audio_id": f"{A}.wav", "dialogue": []}]
        options["on_invalid"] = "skip"
        why = "every record is invalid (on_invalid='skip')"
    else:
        test = []
        why = "the release file holds no records"
    release = music_release(tmp_path / "release", test=test)
    for attempt in ("prepare", "cache hit"):
        ds = load_dataset(MUSIC, data_dir=release, cache_dir=cache_dir, **options)
        assert len(ds["test"]) == 0 and len(ds["train"]) == 1, attempt
        assert ds["test"].features == ds["train"].features and ds["test"].to_list() == []
        assert any(f"{MUSIC}/test:" in line and f"the split is empty: {why}" in line for line in summaries), attempt
        summaries.clear()
    assert list(load_dataset(MUSIC, "test", data_dir=release, streaming=True, cache_dir=cache_dir, **options)) == []


# --- text that is not valid Unicode, keys and clips users want to hear about ------------------------------------


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_lone_surrogate_is_an_invalid_record(tmp_path, cache_dir, fmt):
    bad = '{"audio_id": "%s.wav", "dialogue": [{"user": "hi \\ud800 there", "assistant": "ok"}]}' % B
    good = json.dumps({"audio_id": f"{A}.wav", "dialogue": dialogue(1)})
    path = tmp_path / "release" / MUSIC / f"test.{fmt}"
    path.parent.mkdir(parents=True)
    path.write_text(f"{good}\n{bad}\n" if fmt == "jsonl" else f"[{good},\n{bad}]", encoding="utf-8")
    write_release(tmp_path / "release", MUSIC, "train", [json.loads(good)])
    position = "line 2" if fmt == "jsonl" else "record 1"
    message = rf"{position}, field 'dialogue\[0\].user': holds a lone surrogate"
    with pytest.raises(ReleaseFormatError, match=message) as info:
        load_dataset(MUSIC, data_dir=tmp_path / "release", verification_mode="no_checks", cache_dir=cache_dir)
    assert type(info.value) is ReleaseFormatError and str(path) in str(info.value)
    str(info.value).encode("utf-8")  # the message itself can be printed
    ds = load_dataset(
        MUSIC,
        "test",
        data_dir=tmp_path / "release",
        verification_mode="no_checks",
        on_invalid="skip",
        cache_dir=cache_dir,
        decode=False,
    )
    assert ds["id"] == ["test-000000"]
    listing = next(Path(cache_dir).rglob("test.invalid.tsv")).read_text(encoding="utf-8")
    assert "dialogue[0].user" in listing and "lone surrogate" in listing


def test_keys_and_clips_users_want_to_hear_about_are_named_once(tmp_path, cache_dir, summaries):
    records = [
        {"audio_id": f"{A}.wav", "dialogue": [{"user": "q", "assistant": "a", "asistant": "typo"}]},
        {"audio_id": f"{A}.wav", "dialogue": dialogue(1), "split": "train"},
        {"audio_id": f"{A}.wav", "dialogue": [{"user": "q", "assistant": "a", "asistant": "typo"}]},
    ]
    twice = '{"audio_id": "%s.wav", "audio_id": "%s.wav", "dialogue": [{"user": "q", "assistant": "a"}]}' % (A, A)
    text = json.dumps(records)[:-1] + ", " + twice + "]"
    (tmp_path / "release" / MUSIC).mkdir(parents=True)
    (tmp_path / "release" / MUSIC / "train.json").write_text(text)
    write_release(tmp_path / "release", MUSIC, "test", records[1:2])
    ds = load_dataset(MUSIC, "train", data_dir=tmp_path / "release", verification_mode="no_checks", cache_dir=cache_dir)
    assert len(ds) == 4
    (line,) = [line for line in summaries if line.startswith(f"{MUSIC}/train:")]
    assert (
        "unknown key 'asistant' in dialogue[0] (did you mean 'assistant'?) ignored in 2 records (first: "
        f"{tmp_path / 'release' / MUSIC / 'train.json'}, record 0)"
    ) in line
    assert "unknown key 'split' ignored in 1 record" in line
    assert "the key 'audio_id' given 2 times (same value) in 1 record (first:" in line


def test_a_key_given_twice_with_different_values_or_misspelt_alone_is_invalid(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(
        '{"audio_id": "%s.wav", "dialogue": [{"user": "q", "assistant": "a", "assistant": "b"}]}\n'
        '{"audio_id": "%s.wav", "dialogue": [{"user": "q", "asistant": "a"}]}\n' % (A, A)
    )
    message = r"line 1, field 'dialogue\[0\].assistant': the key 'assistant' is given 2 times with different values"
    with pytest.raises(ReleaseFormatError, match=message):
        read_release_file(path, SUBSETS[MUSIC].rules)
    path.write_text(path.read_text().splitlines()[1] + "\n")
    message = r"found nothing \(missing\); the turn has 'asistant': a misspelt 'assistant'\?"
    with pytest.raises(ReleaseFormatError, match=message):
        read_release_file(path, SUBSETS[MUSIC].rules)


def test_the_same_clip_twice_in_a_comparison_is_named(tmp_path, cache_dir, summaries):
    twice = {"audio_ids": [f"Y{A}.wav", f"{A}_30000.wav"], "dialogue": dialogue(1)}
    fine = {"audio_ids": [f"{A}.wav", f"{B}.wav"], "dialogue": dialogue(1)}
    write_release(tmp_path / "r", "audioset_comparison", "train", [fine, twice, twice])
    write_release(tmp_path / "r", "audioset_comparison", "test", [fine])
    load_dataset("audioset_comparison", data_dir=tmp_path / "r", verification_mode="no_checks", cache_dir=cache_dir)
    (line,) = [line for line in summaries if line.startswith("audioset_comparison/train:")]
    assert "the same clip twice in audio_ids (a comparison of a clip with itself) in 2 records (first:" in line
    assert "record 1)" in line
    assert not any("same clip twice" in line for line in summaries if line.startswith("audioset_comparison/test:"))


def test_identical_train_and_test_files_are_named(tmp_path, cache_dir, summaries):
    records = [{"audio_id": f"{A}.wav", "dialogue": dialogue(1)}]
    train = write_release(tmp_path / "r", MUSIC, "train", records)
    test = write_release(tmp_path / "r", MUSIC, "test", records)
    load_dataset(MUSIC, data_dir=tmp_path / "r", verification_mode="no_checks", cache_dir=cache_dir)
    lines = [line for line in summaries if line.startswith(MUSIC)]
    assert any(
        line.startswith(f"{MUSIC}/train:") and f"{train} has the same content as the test file {test}" in line
        for line in lines
    )
    assert any(
        line.startswith(f"{MUSIC}/test:") and f"{test} has the same content as the train file {train}" in line
        for line in lines
    )
    summaries.clear()
    split_records = read_release(
        MUSIC, data_files={"train": str(train), "test": str(test)}, verification_mode="no_checks"
    )
    assert len(split_records["train"]) == 1  # read_release (the commands' reader) names them too
    assert any(line.startswith(f"{MUSIC}/test: 1 records; noticed: {test} has the same content") for line in summaries)


# --- release files: messages, pipes, bombs, glob characters ------------------------------------------------------


def test_json_lines_in_a_json_file_says_to_rename_it(tmp_path):
    path = tmp_path / "train.json"
    path.write_text("".join(json.dumps({"audio_id": f"{A}.wav", "dialogue": dialogue(1)}) + "\n" for _ in range(3)))
    with pytest.raises(ReleaseFormatError, match="looks like JSON Lines .*rename it to .jsonl") as info:
        read_release_file(path, SUBSETS[MUSIC].rules)
    assert "truncated" not in str(info.value)
    path.write_text('[{"audio_id": "%s.wav", "dialogue": [' % A)  # a truncated array keeps its message
    with pytest.raises(ReleaseFormatError, match="is the file truncated"):
        read_release_file(path, SUBSETS[MUSIC].rules)


def test_a_release_file_that_is_a_named_pipe_is_refused_without_blocking(tmp_path, cache_dir):
    fifo = tmp_path / "train.json"
    os.mkfifo(fifo)
    error = call_with_unblocking(lambda: read_release_file(fifo, SUBSETS[MUSIC].rules), fifo)
    assert type(error) is ReleaseFormatError and "is a named pipe (FIFO), not a regular file; not read" in str(error)
    error = call_with_unblocking(
        lambda: load_dataset(
            MUSIC, data_files={"train": str(tmp_path / "*.json")}, verification_mode="no_checks", cache_dir=cache_dir
        ),
        fifo,
    )
    assert type(error) is ReleaseFormatError and str(fifo) in str(error)
    other = tmp_path / "test.json"  # a pipe in each split: comparing the splits' contents must not open them
    os.mkfifo(other)
    error = call_with_unblocking(
        lambda: load_dataset(
            MUSIC,
            data_files={"train": str(fifo), "test": str(other)},
            verification_mode="no_checks",
            cache_dir=cache_dir,
        ),
        fifo,
    )
    assert type(error) is ReleaseFormatError and "not a regular file" in str(error)


def test_a_gzip_bomb_is_refused_before_it_is_inflated(tmp_path):
    path = tmp_path / "train.json.gz"
    with gzip.open(path, "wb", compresslevel=9) as file:  # "[" + 200 MB of spaces + "]": valid JSON, a bomb
        file.write(b"[")
        block = b" " * 2**20
        for _ in range(200):
            file.write(block)
        file.write(b"]")
    assert path.stat().st_size < 2**20
    with pytest.raises(ReleaseFormatError, match=r"inflates to more than [\d,]+ bytes \(100 times its") as info:
        read_release_file(path, SUBSETS[MUSIC].rules)
    assert str(path) in str(info.value)
    small = tmp_path / "test.json.gz"  # an ordinary gzipped release still reads
    small.write_bytes(gzip.compress(json.dumps([{"audio_id": f"{A}.wav", "dialogue": dialogue(2)}] * 50).encode()))
    assert len(read_release_file(small, SUBSETS[MUSIC].rules)) == 50


def test_paths_with_glob_characters_are_taken_literally(tmp_path, cache_dir):
    data_dir = music_release(tmp_path / "run[1]")
    ds = load_dataset(MUSIC, data_dir=data_dir, verification_mode="no_checks", cache_dir=cache_dir, decode=False)
    assert {s: len(d) for s, d in ds.items()} == {"train": 1, "test": 1}
    relative = {"train": f"{MUSIC}/train.json", "test": f"{MUSIC}/te*.json"}  # a pattern inside a data_dir named run[1]
    ds = load_dataset(MUSIC, data_dir=data_dir, data_files=relative, verification_mode="no_checks", cache_dir=cache_dir)
    assert {s: len(d) for s, d in ds.items()} == {"train": 1, "test": 1}
    literal = tmp_path / "files" / "train[final].json"  # a literal file name holding [ ]
    literal.parent.mkdir()
    literal.write_bytes((data_dir / MUSIC / "train.json").read_bytes())
    ds = load_dataset(
        MUSIC, "train", data_files={"train": str(literal)}, verification_mode="no_checks", cache_dir=cache_dir
    )
    assert len(ds) == 1


# --- audio folders: entries that cannot be used are skipped and named -------------------------------------------


def test_bad_entries_in_an_audio_folder_are_skipped_and_named(tmp_path, cache_dir, summaries):
    clips = tmp_path / "clips"
    write_clip(clips / f"{A}.wav")
    os.symlink("loop", clips / "loop")  # a link to itself: ELOOP
    os.symlink(clips / "gone.wav", clips / f"{C}.flac")  # broken
    os.mkfifo(clips / f"{B}.wav")  # a pipe named like a clip
    os.symlink("/dev/null", clips / "ddddddddddd.wav")  # a device named like a clip
    index = index_audio_dirs([clips])
    assert index.num_files == 1 and index.resolve(f"{B}.wav", B).path is None
    reasons = dict(index.unusable)
    assert reasons == {
        str(clips / "loop"): "Too many levels of symbolic links",
        str(clips / f"{C}.flac"): "broken symbolic link",
        str(clips / f"{B}.wav"): "a named pipe (FIFO), not a regular file",
        str(clips / "ddddddddddd.wav"): "a character device, not a regular file",
    }
    assert "4 entries skipped because they cannot be used (e.g. " in index.summary()
    release = music_release(tmp_path / "r", test=[{"audio_id": f"{B}.wav", "dialogue": dialogue(1)}])
    ds = call_with_unblocking(
        lambda: load_dataset(
            MUSIC, data_dir=release, audio_dir=clips, verification_mode="no_checks", cache_dir=cache_dir
        ),
        clips / f"{B}.wav",
    )
    assert ds["test"][0]["audio"] is None and ds["train"][0]["audio"]["array"].size > 0
    assert any("4 entries skipped" in line for line in summaries)


def test_a_folder_whose_name_is_not_utf8_is_skipped_and_named(tmp_path, cache_dir, summaries):
    """Python keeps undecodable file-name bytes as lone surrogates, which can be neither stored nor opened."""
    clips = tmp_path / "clips"
    write_clip(clips / f"{A}.wav")
    bad = os.path.join(os.fsencode(clips), b"\xff")
    os.mkdir(bad)
    os.rename(os.fsencode(write_clip(tmp_path / f"{B}.wav")), os.path.join(bad, f"{B}.wav".encode()))
    index = index_audio_dirs([clips])
    assert index.unusable == [(f"{clips}/\\udcff", "folder path not valid UTF-8 (rename it)")]
    release = music_release(tmp_path / "r")
    ds = load_dataset(MUSIC, data_dir=release, audio_dir=clips, verification_mode="no_checks", cache_dir=cache_dir)
    assert ds["test"][0]["audio"] is None and ds["train"][0]["audio"] is not None
    assert any("1 entries skipped because they cannot be used" in line for line in summaries)
    with pytest.raises(ValueError, match="its path is not valid UTF-8"):
        index_audio_dirs([os.fsdecode(bad)])


def test_a_clip_replaced_by_a_pipe_or_device_after_the_prepare_is_refused_without_blocking(tmp_path, cache_dir):
    clips = tmp_path / "clips"
    clip = write_clip(clips / f"{A}.wav")
    ds = load_dataset(
        MUSIC,
        "train",
        data_dir=music_release(tmp_path / "r"),
        audio_dir=clips,
        verification_mode="no_checks",
        cache_dir=cache_dir,
    )
    clip.unlink()
    os.mkfifo(clip)
    error = call_with_unblocking(lambda: ds[0], clip)
    assert type(error) is AudioDecodeError
    assert f"{clip}: it is a named pipe (FIFO), not a regular file; not read" in str(error)
    clip.unlink()
    os.symlink("/dev/zero", clip)  # a read that would never end
    error = call_with_unblocking(lambda: decode_audio(str(clip), 16000), clip)
    assert type(error) is AudioDecodeError and "a character device, not a regular file" in str(error)


_AS_NOBODY = """
import os, sys
import encodings.utf_8_sig
from _audio_dialogues.core.audio_files import index_audio_dirs
from _audio_dialogues.core.decoding import AudioDecodeError, decode_audio
from _audio_dialogues.core.release import ReleaseFormatError, read_release_file
from _audio_dialogues.core.subsets import SUBSETS
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
clips = sys.argv[1]
print(index_audio_dirs([clips]).summary())
for call in (lambda: decode_audio(os.path.join(clips, "bbbbbbbbbbb.wav"), 16000),
             lambda: read_release_file(os.path.join(clips, "train.json"), SUBSETS["music_dialogues"].rules)):
    try:
        call()
    except (AudioDecodeError, ReleaseFormatError) as err:
        print(type(err).__name__, err)
"""


def test_unreadable_folders_and_files_say_permission_denied():
    """As an unprivileged user (root reads everything): a `lost+found` folder, a clip and a release file
    without read permission."""
    base = Path(tempfile.mkdtemp(prefix="audio_dialogues_perm_"))
    try:
        base.chmod(0o755)
        clips = base / "clips"
        write_clip(clips / f"{A}.wav")
        write_clip(clips / f"{B}.wav").chmod(0o000)
        (clips / "lost+found").mkdir()
        write_clip(clips / "lost+found" / f"{C}.wav")
        (clips / "lost+found").chmod(0o000)
        (clips / "train.json").write_text("[]")
        (clips / "train.json").chmod(0o000)
        clips.chmod(0o755)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        done = subprocess.run(
            [sys.executable, "-c", _AS_NOBODY, str(clips)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
            env={**env, "PYTHONPATH": str(REPO)},
        )
        assert done.returncode == 0, done.stderr
        listing, decode_error, release_error = done.stdout.strip().splitlines()
        assert "2 audio files for 2 YouTube ids" in listing
        assert (
            f"1 entries skipped because they cannot be used (e.g. {clips / 'lost+found'}: folder not readable "
            "(Permission denied))"
        ) in listing
        assert decode_error.startswith("AudioDecodeError ") and "permission denied" in decode_error
        assert "chmod a+r" in decode_error
        assert "System error" not in decode_error
        assert release_error.startswith("ReleaseFormatError ") and "permission denied" in release_error
    finally:
        for path in (base / "clips" / "lost+found", base / "clips" / f"{B}.wav", base / "clips" / "train.json"):
            if path.exists():
                path.chmod(0o755)
        subprocess.run(["rm", "-rf", str(base)], check=True)


# --- audio: header-only files, resource bombs ---------------------------------------------------------------------


def test_a_header_only_wav_is_refused_like_an_empty_file(tmp_path):
    header_only = tmp_path / "header.wav"
    soundfile.write(header_only, np.zeros(0, np.float32), 16000)
    assert header_only.stat().st_size == 44
    message = "holds no samples .*44 bytes.*probably a failed download.*download the clip again"
    with pytest.raises(AudioDecodeError, match=message):
        decode_audio(str(header_only), 16000)
    with pytest.raises(AudioDecodeError, match="holds no samples"):
        decode_audio(header_only.read_bytes(), 16000)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioDecodeError, match="probably a failed download.*download the clip again"):
        decode_audio(str(tmp_path / "empty.wav"), 16000)


def _wav_header(frames: int, rate: int) -> bytes:
    data = frames * 2
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)  # PCM, mono, 16-bit
    return b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", data)


def test_clips_longer_than_max_audio_seconds_are_refused_from_their_header(tmp_path, cache_dir):
    one_hz = tmp_path / f"{A}.wav"  # 40 KB saying 1 Hz: 20,000 s, 320 M samples at 16 kHz
    one_hz.write_bytes(_wav_header(20000, 1) + bytes(40000))
    started = time.perf_counter()
    with pytest.raises(AudioDecodeError, match=r"says it holds 20,000 s of audio .*more than max_audio_seconds=600"):
        decode_audio(str(one_hz), 16000)
    sparse = tmp_path / "sparse.wav"  # 2 GB, sparse: 62,500 s at 16 kHz
    with open(sparse, "wb") as file:
        file.write(_wav_header((2 * 10**9 - 44) // 2, 16000))
        file.truncate(2 * 10**9)
    with pytest.raises(AudioDecodeError, match="more than max_audio_seconds=600.*max_audio_seconds=None"):
        decode_audio(str(sparse), 16000)
    assert time.perf_counter() - started < 5  # refused from the header, nothing read
    two_seconds = write_clip(tmp_path / "clips" / f"{A}.wav", seconds=2.0)
    with pytest.raises(AudioDecodeError, match="more than max_audio_seconds=1"):
        decode_audio(str(two_seconds), 16000, max_seconds=1)
    assert len(decode_audio(str(two_seconds), 16000, max_seconds=None)[0]) == 32000
    release = music_release(tmp_path / "r")
    for options, ok in (
        ({"max_audio_seconds": 1}, False),
        ({"max_audio_seconds": 1.5}, False),
        ({"max_audio_seconds": None}, True),
        ({}, True),
    ):
        ds = load_dataset(
            MUSIC,
            "train",
            data_dir=release,
            audio_dir=tmp_path / "clips",
            verification_mode="no_checks",
            cache_dir=cache_dir,
            **options,
        )
        if ok:
            assert len(ds[0]["audio"]["array"]) == 32000
        else:
            with pytest.raises(AudioDecodeError, match=f"more than max_audio_seconds={options['max_audio_seconds']:g}"):
                ds[0]


@pytest.mark.parametrize(
    "value, error",
    [
        ("10", TypeError),
        (True, TypeError),
        (0, ValueError),
        (-1.0, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
    ],
)
def test_max_audio_seconds_is_checked_like_every_option(value, error, cache_dir):
    with pytest.raises(error, match=f"max_audio_seconds={value!r}: expected a positive number of seconds"):
        load_dataset(MUSIC, max_audio_seconds=value, cache_dir=cache_dir)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"data_files": {"train": 5}}, TypeError, r"data_files\['train'\]=5: expected a path"),
        ({"data_files": [None]}, TypeError, r"data_files\['train'\]=\[None\]"),
        ({"data_files": {"train": []}}, ValueError, r"data_files\['train'\] is an empty list"),
        ({"data_files": {5: "x.json"}}, TypeError, "the split name 5 is not a string"),
        ({"audio_dir": []}, ValueError, r"audio_dir=\[\]: expected at least one folder"),
        ({"verification_mode": "nope"}, ValueError, "verification_mode='nope': choose one of basic_checks"),
        ({"num_proc": "2"}, TypeError, "num_proc='2': expected a positive int"),
        ({"num_proc": 0}, ValueError, "num_proc=0: expected a positive int"),
    ],
)
def test_the_other_wrong_types_are_named(kwargs, error, message, cache_dir):
    with pytest.raises(error, match=message):
        load_dataset(MUSIC, cache_dir=cache_dir, **kwargs)


def test_max_audio_seconds_on_the_command_line(tmp_path, capsys):
    clips = tmp_path / "clips"
    write_clip(clips / f"{A}.wav", seconds=2.0)
    release = music_release(tmp_path / "r")
    common = [
        "demo",
        "--config",
        MUSIC,
        "--data-dir",
        str(release),
        "--audio-dir",
        str(clips),
        "--verification-mode",
        "no_checks",
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    assert cli_main(common + ["--max-audio-seconds", "none"]) == 0
    assert "2.00 s at 16000 Hz" in capsys.readouterr().out
    assert cli_main(common + ["--max-audio-seconds", "1"]) == 2  # AudioDecodeError: one line, exit 2
    assert "more than max_audio_seconds=1" in capsys.readouterr().err.splitlines()[-1]
    script = Path(sys.executable).with_name("audio-dialogues")  # the installed console script
    done = subprocess.run(
        [str(script), *common, "--max-audio-seconds", "1.5"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0 and "more than max_audio_seconds=1.5" in done.stderr


# --- putting our decoding back on a dataset --------------------------------------------------------------------------


def test_restore_audio_decoding_after_save_to_disk_parquet_and_an_export(tmp_path, cache_dir):
    for config, column in (("audioset_dialogues", "audio"), ("audioset_comparison", "audios")):
        loaded = load_dataset(config, "train", cache_dir=cache_dir)
        first = next(
            i for i, row in enumerate(loaded[column]) if row is not None and (not isinstance(row, list) or all(row))
        )
        expected = loaded[first][column]
        expected = expected if isinstance(expected, list) else [expected]
        loaded.save_to_disk(str(tmp_path / config))
        loaded.to_parquet(str(tmp_path / f"{config}.parquet"))
        round_trips = {
            "load_from_disk": datasets.load_from_disk(str(tmp_path / config)),
            "parquet": datasets.load_dataset(
                "parquet", data_files=str(tmp_path / f"{config}.parquet"), split="train", cache_dir=str(tmp_path / "pq")
            ),
        }
        for how, ds in round_trips.items():
            restored = restore_audio_decoding(ds)
            got = restored[first][column]
            got = got if isinstance(got, list) else [got]
            for a, b in zip(got, expected):
                assert a["sampling_rate"] == b["sampling_rate"] == 16000, how
                np.testing.assert_array_equal(a["array"], b["array"])
        streamed = datasets.load_dataset(
            "parquet", data_files=str(tmp_path / f"{config}.parquet"), split="train", streaming=True
        )
        first_streamed = next(iter(restore_audio_decoding(streamed, 8000)))
        assert first_streamed["id"] == loaded[0]["id"]
        streamed_audio = (
            first_streamed[column] if isinstance(first_streamed[column], list) else [first_streamed[column]]
        )
        assert [a["sampling_rate"] for a in streamed_audio if a is not None] and all(
            a["sampling_rate"] == 8000 for a in streamed_audio if a is not None
        )
    out = tmp_path / "export"
    export(out, ["audioset_dialogues"], embed_audio=True, cache_dir=cache_dir)
    exported = restore_audio_decoding(datasets.load_dataset(str(out), cache_dir=str(tmp_path / "read")), None)
    row = next(r for r in exported["train"] if r["audio"] is not None)
    assert row["audio"]["array"].dtype == np.float32
    assert row["audio"]["sampling_rate"] == soundfile.info(io.BytesIO(row_bytes(out, row["id"]))).samplerate
    with pytest.raises(ValueError, match="No audio column to decode: the columns are id, "):
        restore_audio_decoding(loaded.remove_columns("audios"))


def row_bytes(out: Path, example_id: str) -> bytes:
    """The embedded bytes of one row of an export, read with pyarrow (not through any Audio feature)."""
    import pyarrow.parquet as pq

    table = pq.read_table(next((out / "data" / "audioset_dialogues").glob("train-*.parquet")))
    return next(
        a["bytes"] for i, a in zip(table.column("id").to_pylist(), table.column("audio").to_pylist()) if i == example_id
    )


def test_the_sample_paths_used_here_exist():
    """Guards the tests above: they rely on the bundled sample and its clips."""
    assert sample_dir().is_dir() and any(sample_audio_dir().rglob("*.wav"))


# --- streaming JSON Lines: each process parses only its shards' lines ------------------------------------------------


def test_a_streamed_json_lines_split_gives_the_rows_of_a_prepared_load(tmp_path, cache_dir, summaries):
    """BOM, blank and whitespace-only lines, Windows line ends, U+2028 inside a string, two files for one split."""
    lines = [
        json.dumps({"audio_id": f"{i:011d}.wav", "dialogue": dialogue(1 + i % 3, f" {i}\u2028x")}, ensure_ascii=False)
        for i in range(150)
    ]
    lines[140] = lines[140][:-1] + ', "source": "gpt-4"}'  # an unknown key: named, even in a stream
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines[:70]).encode() + b"\r\n\r\n   \n")
    second.write_bytes(("\n\n".join(lines[70:]) + "\n\x1c\n").encode())  # \x1c: blank for str.strip, not bytes
    write_clip(tmp_path / "clips" / f"{7:011d}.wav")
    options = dict(
        data_files={"train": [str(first), str(second)]},
        audio_dir=tmp_path / "clips",
        decode=False,
        verification_mode="no_checks",
    )
    prepared = load_dataset(MUSIC, "train", cache_dir=cache_dir, **options)
    streamed = load_dataset(MUSIC, "train", streaming=True, cache_dir=cache_dir, **options)
    assert list(streamed) == prepared.to_list() and len(prepared) == 150
    assert prepared[7]["audio"] is not None and prepared[8]["audio"] is None
    assert any(
        "150 records (JSON Lines); this process parses only the lines of the shards it reads" in line
        for line in summaries
    )
    noticed = f"unknown key 'source' ignored in 1 record (first: {second}, line 141)"
    assert any(f"{MUSIC}/train: noticed in the lines read here: {noticed}" in line for line in summaries)


def test_each_rank_parses_only_its_own_lines(tmp_path, cache_dir):
    """An invalid last line fails only the rank that holds it; the others stream their parts untouched."""
    from datasets.distributed import split_dataset_by_node

    records = [{"audio_id": f"{i:011d}.wav", "dialogue": dialogue(1)} for i in range(3357)]
    path = write_release(tmp_path / "r", MUSIC, "train", records, fmt="jsonl")
    with open(path, "a") as file:
        file.write('{"audio_id": "not an id", "dialogue": []}\n')  # line 3358: the published size holds
    failed, ids = [], []
    for rank in range(4):
        ds = load_dataset(MUSIC, "train", data_files={"train": str(path)}, streaming=True, cache_dir=cache_dir)
        try:
            ids += [row["id"] for row in split_dataset_by_node(ds, rank=rank, world_size=4)]
        except ReleaseFormatError as err:
            failed.append((rank, str(err)))
    assert [rank for rank, _ in failed] == [3] and f"{path}, line 3358, field 'audio_id'" in failed[0][1]
    assert len(set(ids)) == len(ids) and 3358 * 3 // 4 - 60 < len(ids) < 3358 * 3 // 4 + 60  # three ranks' parts
    short = write_release(tmp_path / "s", MUSIC, "train", records[:3], fmt="jsonl")
    with pytest.raises(NonMatchingSplitsSizesError, match="expected 3358 records, found 3"):
        next(iter(load_dataset(MUSIC, "train", data_files={"train": str(short)}, streaming=True, cache_dir=cache_dir)))
