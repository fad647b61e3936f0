"""What a new user sees: wrong first arguments named, quiet loads, no silent empty output, and a player."""

from __future__ import annotations

import base64
import io
import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import REPO, dialogue, write_clip, write_release

from _audio_dialogues.cli.main import main
from _audio_dialogues.core.audio_files import DOWNLOAD_FOLDER_FILES, index_audio_dirs
from _audio_dialogues.core.reports import JoinReport, in_worker_process
from _audio_dialogues.download import run as download_run
from audio_dialogues import export, load_dataset, run_protocol, show_dialogue

A, B = "abcdefghijk", "bcdefghijkl"


def small_release(root):
    for split in ("train", "test"):
        write_release(root, "music_dialogues", split, [{"audio_id": f"Y{A}.wav", "dialogue": dialogue(2)}], "jsonl")
    return root


@pytest.mark.parametrize("hub_id", ["nvidia/audio_dialogues", "someone/audio_dialogues"])
def test_a_hub_id_is_refused_with_what_to_do_instead_of_loading_the_sample(hub_id, cache_dir):
    with pytest.raises(ValueError, match="loads no Hub repository.*never published.*audio-dialogues generate"):
        load_dataset(hub_id, "music_dialogues", cache_dir=cache_dir)


def test_an_export_folder_is_refused_as_first_argument_and_as_data_dir(tmp_path, cache_dir):
    out = tmp_path / "hub"
    export(out, ["music_dialogues"], cache_dir=cache_dir)
    with pytest.raises(ValueError, match=r"that folder is an export .*datasets.load_dataset\("):
        load_dataset(str(out), "music_dialogues", cache_dir=cache_dir)
    with pytest.raises(ValueError, match="is an export .*not a release"):
        load_dataset("music_dialogues", data_dir=out, cache_dir=cache_dir)


def test_the_download_folders_own_files_are_not_reported(tmp_path):
    from _audio_dialogues.download.fetch import TEMP_DIR
    from _audio_dialogues.engine.ledger import Ledger
    from _audio_dialogues.engine.lock import FolderLock

    lock = FolderLock(Path("out"), "download").path.name
    torn = Ledger.torn_path.fget(type("L", (), {"path": Path(download_run.LEDGER)})()).name
    from _audio_dialogues.download.archive import INDEX_FILE

    expected = (download_run.LEDGER, lock, TEMP_DIR, download_run.SETTINGS_FILE, torn, INDEX_FILE)
    assert DOWNLOAD_FOLDER_FILES == expected
    clips = tmp_path / "clips"
    write_clip(clips / f"{A}_30_40.flac")
    (clips / "download_status.tsv").write_text("youtube_id\tstatus\n")
    (clips / ".download.lock").write_text("")
    write_clip(clips / ".download_tmp" / f"{B}.part.flac")  # a clip still being fetched is not a clip yet
    index = index_audio_dirs([clips])
    assert index.num_files == 1 and list(index.by_youtube_id) == [A]
    assert not index.needs_a_word() and "ignored" not in index.summary()
    (clips / "notes.txt").write_text("mine")  # the user's own file is still counted
    assert "1 other files ignored" in index_audio_dirs([clips]).summary()


def test_a_sharded_download_folders_own_files_are_not_reported(tmp_path):
    """Before the merge a folder holds only the shards' ledgers, settings and locks, and the archive index."""
    from _audio_dialogues.engine.shard import Shard

    clips = tmp_path / "clips"
    write_clip(clips / f"{A}_30_40.flac")
    shard = Shard(2, 4)
    for name in (download_run.LEDGER, download_run.SETTINGS_FILE, ".download.lock", ".archive_index.jsonl"):
        shard.path(clips / name).write_text("")
    (clips / ".archive_index.jsonl").write_text("")
    index = index_audio_dirs([clips])
    assert index.num_files == 1 and "ignored" not in index.summary()
    (clips / "download_status.shard-2-of-4.tsv.bak").write_text("mine")  # not a name download writes
    assert "1 other files ignored" in index_audio_dirs([clips]).summary()


def test_an_empty_missing_clip_list_is_not_named():
    report = JoinReport(
        "music_dialogues/train", "keep", 3, with_audio=3, missing_file="/cache/reports/train.missing.tsv"
    )
    assert "listed in" not in report.summary()
    report.missing_records = report.missing_clip_count = 1
    assert "missing clips listed in /cache/reports/train.missing.tsv" in report.summary()


def test_convert_that_would_write_nothing_fails_in_one_line(tmp_path, cache_dir, capsys):
    release, empty = small_release(tmp_path / "release"), tmp_path / "clips"
    empty.mkdir()
    out = tmp_path / "train.jsonl"
    argv = ["convert", "--format", "openai", str(out), "--data-dir", str(release), "--audio-dir", str(empty)]
    assert (
        main(argv + ["--config", "music_dialogues", "--cache-dir", cache_dir, "--verification-mode", "no_checks"]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()  # the loader's progress bars, then the error
    mine = [line for line in err if line.startswith("audio-dialogues convert:")]
    assert len(mine) == 1 and mine[0] == err[-1] and "Traceback" not in "".join(err)
    assert mine[0].startswith("audio-dialogues convert: error: nothing to write to") and "--audio-dir" in mine[0]
    assert not out.exists() and not (tmp_path / "train.jsonl.parts").exists()


def test_run_protocol_refuses_a_release_without_audio_unless_asked(tmp_path, cache_dir):
    release = small_release(tmp_path / "release")
    args = dict(data_dir=release, cache_dir=cache_dir, verification_mode="no_checks", progress=False)
    with pytest.raises(ValueError, match="no audio_dir=.*without_audio=True"):
        run_protocol(lambda audio, history, question: "x", "music_dialogues", out=tmp_path / "p.jsonl", **args)
    assert not (tmp_path / "p.jsonl").exists()
    report = run_protocol(
        lambda audio, history, question: "x", "music_dialogues", out=tmp_path / "p.jsonl", without_audio=True, **args
    )
    assert report.answered == 1 and report.without_audio == 1


def test_show_dialogue_renders_a_player_holding_the_clip_and_the_turns(cache_dir):
    ds = load_dataset("music_dialogues", "train", cache_dir=cache_dir)
    row = next(r for r in ds if r["audio"] is not None)
    html = show_dialogue(row)._repr_html_()
    uri = html.split("<audio controls src='", 1)[1].split("'", 1)[0]
    assert uri.startswith("data:audio/wav;base64,")
    samples, rate = soundfile.read(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), dtype="float32")
    assert rate == row["audio"]["sampling_rate"] and np.allclose(samples, row["audio"]["array"], atol=1 / 2**14)
    assert all(turn["user"].replace("'", "&#x27;") in html for turn in row["dialogue"])
    missing = next(r for r in ds if r["audio"] is None)
    assert (
        "no audio (the clip is missing" in show_dialogue(missing)._repr_html_()
        and "<audio" not in show_dialogue(missing)._repr_html_()
    )
    with pytest.raises(ValueError, match="expects a loaded row with an 'audio' or 'audios' column"):
        show_dialogue({k: v for k, v in row.items() if k != "audio"})


def test_show_dialogue_escapes_text_and_plays_every_clip_of_a_comparison(cache_dir):
    row = next(r for r in load_dataset("audioset_comparison", "train", cache_dir=cache_dir) if None not in r["audios"])
    row = {**row, "dialogue": [{"user": "<script>x</script>", "assistant": "a & b"}]}
    html = show_dialogue(row)._repr_html_()
    assert html.count("<audio controls") == len(row["audios"]) >= 2
    assert "<script>" not in html and "&lt;script&gt;" in html and "a &amp; b" in html
    assert "clip " in str(show_dialogue(row)) and "<script>x</script>" in str(show_dialogue(row))


def _report_from_child(queue) -> None:
    queue.put(in_worker_process())


def test_a_worker_process_logs_its_summaries_at_debug():
    assert not in_worker_process()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_report_from_child, args=(queue,))
    child.start()
    assert queue.get(timeout=30) is True
    child.join(30)


_TWO_LOADS = """
import sys
from audio_dialogues import load_dataset
for _ in range(2):
    load_dataset("music_dialogues", "test", cache_dir=sys.argv[1])
"""


def test_a_sample_load_says_so_once_and_names_no_path_when_nothing_is_missing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", _TWO_LOADS, str(tmp_path / "cache")], capture_output=True, text=True, check=True
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("[audio_dialogues]")]
    assert sum("the bundled sample (synthesized clips)" in line for line in lines) == 1
    assert not any(line.startswith("[audio_dialogues] audio_dir ") for line in lines)  # nothing to say of the listing


def test_the_demo_says_the_clips_are_synthesized_and_what_to_do_next(cache_dir, capsys):
    main(["demo", "--config", "music_dialogues", "--cache-dir", cache_dir])
    out = capsys.readouterr().out
    assert "clips are\nsynthesized tones and noise, unrelated to the text" in out
    assert "audio-dialogues generate release --config music_dialogues" in out


def test_the_readme_is_short_and_tells_the_key_fact_first():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) < 12 * 1024
    body = text.split("\n---\n", 1)[1]
    assert body.index("never published") < 1500  # on the first screen of the prose
    assert "make demo" in text and "make test" in text and "IPython.display" in text
    for link in {part.split(")", 1)[0] for part in text.split("](docs/")[1:]}:
        assert (REPO / "docs" / link.split("#")[0]).is_file(), link
    json.dumps(text)  # plain text
