"""`audio-dialogues download --archive DIR`: clips from Parquet and WebDataset shards built here in the public
mirrors' layouts, then the YouTube stand-in (the real yt-dlp against 127.0.0.1) for what they lack."""

# ruff: noqa: F811 (the fixture download_release is imported from test_download and named as a parameter)

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile
from test_download import (
    IN_WINDOW_HZ,
    LIMITED_ID,
    MISSING_ID,
    OK_ID,
    OUTSIDE_HZ,
    UNTIMED_ID,
    WINDOWS,
    ClipServer,
    _missing_tsv,
    dominant_hz,
    ledger,
    tone_clip,
)
from test_download import release as download_release  # noqa: F401 (a fixture)

from _audio_dialogues.cli.main import main
from _audio_dialogues.download.archive import INDEX_FILE
from _audio_dialogues.download.run import LEDGER, download

ARCHIVE_RATE = 48000


def flac_bytes(seconds: float, lead: float = 0.0, rate: int = ARCHIVE_RATE) -> bytes:
    """A stereo FLAC: ``lead`` seconds of 300 Hz, then 1 kHz up to ``seconds``."""
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.4 * np.sin(2 * np.pi * np.where(t < lead, OUTSIDE_HZ, IN_WINDOW_HZ) * t)
    buffer = io.BytesIO()
    soundfile.write(buffer, np.stack([tone, tone], axis=1), rate, format="FLAC")
    return buffer.getvalue()


def write_parquet(path: Path, clips: dict[str, bytes]) -> None:
    """The layout of the Hub's agkphysics/AudioSet: ``video_id``, ``audio`` {bytes, path}, ``labels``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = pa.array(
        [{"bytes": data, "path": f"Y{youtube_id}.flac"} for youtube_id, data in clips.items()],
        type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
    )
    table = pa.table(
        {"video_id": list(clips), "audio": audio, "labels": [["/m/09x0r"] for _ in clips]},
    )
    pq.write_table(table, path, row_group_size=1)


def write_tar(path: Path, members: dict[str, bytes]) -> None:
    """A WebDataset shard: ``<key>.flac`` beside ``<key>.json``, as the 16 kHz AudioSet WebDataset mirrors are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def archives(tmp_path: Path) -> Path:
    """OK_ID in a Parquet shard (a bare id: the segment its window starts); LIMITED_ID (window 1.5-11.5) in a tar
    named by the strong-label segment id ``Y<id>_1500``; UNTIMED_ID in the tar too; MISSING_ID in neither."""
    root = tmp_path / "audioset"
    write_parquet(root / "parquet" / "train-00000-of-00001.parquet", {OK_ID: flac_bytes(10.0)})
    write_tar(
        root / "wds" / "shard-000000.tar",
        {
            f"Y{LIMITED_ID}_1500.flac": flac_bytes(10.0),
            f"Y{LIMITED_ID}_1500.json": json.dumps({"labels": ["/m/09x0r"]}).encode(),
            f"{UNTIMED_ID}.flac": flac_bytes(10.0),
        },
    )
    return root


@pytest.fixture
def youtube():
    """The YouTube stand-in serves every clip, so a request for an archived one would be seen."""
    server = ClipServer({youtube_id: tone_clip(window) for youtube_id, window in WINDOWS.items()})
    yield server
    server.close()


def _common(download_release: Path, tmp_path: Path, **more) -> dict:
    return dict(
        data_dir=str(download_release),
        verification_mode="no_checks",
        clip_times=[tmp_path / "segments.csv", tmp_path / "strong.tsv"],
        progress=False,
        backoff=0.1,
        **more,
    )


def _assert_window(path: Path) -> None:
    samples, rate = soundfile.read(path, always_2d=True)
    assert rate == 16000 and samples.shape[1] == 1  # the same rate and channels as a YouTube download
    assert abs(len(samples) / rate - 10.0) < 0.05
    head, tail = samples[160:4000, 0], samples[-4000:-160, 0]
    assert abs(dominant_hz(head, rate) - IN_WINDOW_HZ) < 10 and abs(dominant_hz(tail, rate) - IN_WINDOW_HZ) < 10


def test_archives_first_then_youtube_each_source_recorded_and_the_loader_finds_every_clip(
    download_release, archives, youtube, tmp_path, cache_dir
):
    out = tmp_path / "clips"
    result = download(out, "audioset_dialogues", archive=(str(archives),), url_template=youtube.url_template,
                      **_common(download_release, tmp_path))  # fmt: skip
    rows = ledger(out)
    assert {y: r["status"] for y, r in rows.items()} == {
        OK_ID: "ok",
        LIMITED_ID: "ok",
        MISSING_ID: "ok",
        UNTIMED_ID: "no-clip-time",  # in the tar, but no window known: not guessed
    }
    assert rows[OK_ID]["source"] == "archive train-00000-of-00001.parquet"
    assert rows[LIMITED_ID]["source"] == "archive shard-000000.tar"
    assert rows[MISSING_ID]["source"].startswith("youtube")
    assert [rows[y]["client"] for y in (OK_ID, LIMITED_ID, MISSING_ID)] == ["", "", "generic"]  # the fallback's
    assert set(youtube.requests) == {MISSING_ID}  # nothing the archives hold was asked of YouTube
    asked = sum(youtube.requests.values())
    for youtube_id in (OK_ID, LIMITED_ID, MISSING_ID):
        window = WINDOWS[youtube_id]
        assert rows[youtube_id]["file"] == f"{youtube_id}_{window.start:g}_{window.end:g}.flac"
        _assert_window(out / rows[youtube_id]["file"])
    assert "the archives hold 3 of the 4 clips (3 ids in 2 files, 2 indexed now" in result.summary()

    # The index is reused; a changed shard (size or mtime) is read again, the others are not.
    again = download(out, "audioset_dialogues", archive=(str(archives),), url_template=youtube.url_template,
                     **_common(download_release, tmp_path))  # fmt: skip
    assert again.tried == 0 and "2 files, 0 indexed now" in again.summary()
    tar = archives / "wds" / "shard-000000.tar"
    os.utime(tar, ns=(tar.stat().st_atime_ns, tar.stat().st_mtime_ns + 10**9))
    third = download(out, "audioset_dialogues", archive=(str(archives),), url_template=youtube.url_template,
                     **_common(download_release, tmp_path))  # fmt: skip
    assert "2 files, 1 indexed now" in third.summary()
    assert len((out / INDEX_FILE).read_text(encoding="utf-8").splitlines()) == 2
    assert sum(youtube.requests.values()) == asked  # the reruns asked YouTube nothing

    # The loader finds every clip, wherever it came from.
    from _audio_dialogues.loading.load import load_dataset

    ds = load_dataset("audioset_dialogues", "train", data_dir=str(download_release), audio_dir=str(out), decode=False,
                      verification_mode="no_checks", missing_audio="keep", cache_dir=cache_dir)  # fmt: skip
    names = [Path(a["path"]).name if a else None for a in ds["audio"]]
    assert names == [rows[y]["file"] for y in (OK_ID, MISSING_ID, LIMITED_ID, OK_ID)]


def test_a_window_is_cut_relative_to_where_the_archive_clip_starts(download_release, tmp_path):
    """A WebDataset member named ``<id>_<start>_<end>`` that starts 0.4 s before the window: the 0.4 s are cut."""
    root = tmp_path / "wds"
    write_tar(root / "a.tar", {f"{OK_ID}_2.6_13.json": b"{}", f"{OK_ID}_2.6_13.flac": flac_bytes(10.4, 0.4)})
    out = tmp_path / "clips"
    common = _common(download_release, tmp_path, only_missing=[_missing_tsv(tmp_path, OK_ID, MISSING_ID)])
    download(out, "audioset_dialogues", archive=(str(root),), youtube=False, **common)
    rows = ledger(out)
    assert rows[OK_ID]["status"] == "ok" and rows[OK_ID]["source"] == "archive a.tar"
    _assert_window(out / rows[OK_ID]["file"])  # 1 kHz from the first sample: the 300 Hz lead was cut off
    assert rows[MISSING_ID]["status"] == "not-found"
    assert rows[MISSING_ID]["detail"] == "no archive holds this id (and --no-youtube)"


def test_an_archive_clip_shorter_than_its_window_is_short_and_not_kept_or_else_asked_of_youtube(
    download_release, tmp_path
):
    """The archive path ends in the same conversion as yt-dlp's: what ffmpeg decodes is the clip's length."""
    root = tmp_path / "wds"
    write_tar(root / "a.tar", {f"{OK_ID}_3_13.flac": flac_bytes(4.0)})  # named a 10 s segment, holds 4 s
    out = tmp_path / "clips"
    common = _common(download_release, tmp_path, only_missing=[_missing_tsv(tmp_path, OK_ID)])
    download(out, "audioset_dialogues", archive=(str(root),), youtube=False, **common)
    row = ledger(out)[OK_ID]
    assert row["status"] == "short" and row["source"] == "archive a.tar"
    assert row["detail"].startswith(f"{root / 'a.tar'} at 0 s: 4.00 s of the 10 s window 3-13 s")
    assert not list(out.glob(f"{OK_ID}_*"))  # not kept: a rerun with another source may fetch it whole

    server = ClipServer({OK_ID: tone_clip(WINDOWS[OK_ID])})  # with YouTube allowed, its clip is asked instead
    try:
        download(tmp_path / "both", "audioset_dialogues", archive=(str(root),), url_template=server.url_template,
                 **common)  # fmt: skip
    finally:
        server.close()
    row = ledger(tmp_path / "both")[OK_ID]
    assert row["status"] == "ok" and row["source"].startswith("youtube") and set(server.requests) == {OK_ID}
    _assert_window(tmp_path / "both" / row["file"])


def test_archives_only_from_the_command_line_records_what_they_lack(download_release, archives, tmp_path, capsys):
    out = tmp_path / "clips"
    code = main(["download", str(out), "--config", "audioset_dialogues", "--data-dir", str(download_release),
                 "--verification-mode", "no_checks", "--clip-times", str(tmp_path / "segments.csv"),
                 "--clip-times", str(tmp_path / "strong.tsv"), "--archive", str(archives / "parquet"),
                 "--archive", str(archives / "wds"), "--no-youtube", "--no-progress"])  # fmt: skip
    assert code == 0
    rows = ledger(out)
    assert {y: r["status"] for y, r in rows.items()} == {
        OK_ID: "ok",
        LIMITED_ID: "ok",
        MISSING_ID: "not-found",
        UNTIMED_ID: "no-clip-time",
    }
    summary = capsys.readouterr().out
    assert "--no-youtube: the others are recorded not-found" in summary
    assert "status: ok 2, not-found 1, no-clip-time 1" in summary


def test_an_archive_in_another_layout_is_named_with_its_columns_and_the_fix(download_release, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    pq.write_table(pa.table({"name": ["x"], "wav": [b"RIFF"]}), bad / "x.parquet")
    with pytest.raises(ValueError, match=r"x\.parquet has columns \['name', 'wav'\]; expected an id column"):
        download(tmp_path / "clips", "audioset_dialogues", archive=(str(bad),), youtube=False,
                 **_common(download_release, tmp_path))  # fmt: skip
    with pytest.raises(ValueError, match="no .parquet or .tar shard in it"):
        download(tmp_path / "clips", "audioset_dialogues", archive=(str(tmp_path / "clips"),), youtube=False,
                 **_common(download_release, tmp_path))  # fmt: skip
    with pytest.raises(ValueError, match="--no-youtube leaves no source of audio"):
        download(tmp_path / "clips", "audioset_dialogues", youtube=False, **_common(download_release, tmp_path))


def _old_ledger(tmp_path: Path, *more_columns: tuple[str, str]) -> Path:
    """OUT with OK_ID's clip and a ledger of an earlier version: its 7 first columns, then ``more_columns``."""
    out = tmp_path / "clips"
    out.mkdir()
    window = WINDOWS[OK_ID]
    name = f"{OK_ID}_{window.start:g}_{window.end:g}.flac"
    soundfile.write(out / name, np.zeros(16000 * 10, dtype="float32"), 16000)
    header = ["youtube_id", "status", "attempts", "file", "start", "end", "detail", *(c for c, _ in more_columns)]
    row = [OK_ID, "ok", "1", name, "3", "13", "10.00 s", *(v for _, v in more_columns)]
    (out / LEDGER).write_text("\t".join(header) + "\n" + "\t".join(row) + "\n", encoding="utf-8")
    return out


def test_a_ledger_written_before_the_source_column_is_still_read(download_release, archives, tmp_path):
    out = _old_ledger(tmp_path)
    common = _common(download_release, tmp_path, only_missing=[_missing_tsv(tmp_path, OK_ID)])
    result = download(out, "audioset_dialogues", archive=(str(archives),), youtube=False, **common)
    assert result.skipped_done == 1 and result.tried == 0
    assert ledger(out)[OK_ID]["source"] == ""  # rewritten with the new column, the old row kept


def test_a_ledger_written_before_the_client_column_is_still_read(download_release, archives, tmp_path):
    out = _old_ledger(tmp_path, ("source", "youtube yt-dlp 2025.01.01"))
    only = [_missing_tsv(tmp_path, OK_ID, LIMITED_ID)]
    result = download(out, "audioset_dialogues", archive=(str(archives),), youtube=False,
                      **_common(download_release, tmp_path, only_missing=only))  # fmt: skip
    assert result.skipped_done == 1 and result.tried == 1
    rows = ledger(out)  # rewritten with the client column (the header is checked)
    assert (rows[OK_ID]["source"], rows[OK_ID]["client"]) == ("youtube yt-dlp 2025.01.01", "")  # the old row kept
    assert (rows[LIMITED_ID]["source"], rows[LIMITED_ID]["client"]) == ("archive shard-000000.tar", "")
