"""Bad audio files: every decode failure is our AudioDecodeError naming the file, the cause and the fix."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import write_clip

from _audio_dialogues.core.decoding import AudioDecodeError, decode_audio


def wav_bytes(tmp_path: Path) -> bytes:
    return write_clip(tmp_path / "good.wav", seconds=0.5).read_bytes()


@pytest.mark.parametrize(
    "name, make, expected",
    [
        ("empty.wav", lambda tmp: b"", "empty \\(0 bytes\\).*download the clip again"),
        (
            "page.wav",
            lambda tmp: b"<!DOCTYPE html><html><body>Video unavailable</body></html>",
            "text, not audio.*<!DOCTYPE html",
        ),
        ("error.flac", lambda tmp: b'{"error": "429 Too Many Requests"}', "text, not audio"),
        ("truncated.wav", lambda tmp: wav_bytes(tmp)[:30], "truncated or corrupt"),
        ("noise.mp3", lambda tmp: bytes(range(256)) * 8, "truncated or corrupt|codec"),
    ],
)
def test_undecodable_files_say_what_is_wrong(tmp_path, name, make, expected):
    path = tmp_path / name
    path.write_bytes(make(tmp_path))
    with pytest.raises(AudioDecodeError, match=expected) as info:
        decode_audio(str(path), 16000)
    assert str(path) in str(info.value)
    with pytest.raises(AudioDecodeError):  # the same bytes, not from a file (an embedded export)
        decode_audio(path.read_bytes() or b"\0", 16000)


def test_a_file_gone_since_the_prepare_says_so(tmp_path):
    path = write_clip(tmp_path / "gone.wav")
    path.unlink()
    with pytest.raises(AudioDecodeError, match="does not exist.*load again"):
        decode_audio(str(path), 16000)


def test_nan_or_inf_samples_are_refused(tmp_path):
    for bad in (np.nan, np.inf):
        samples = np.zeros(1600, np.float32)
        samples[7] = bad
        path = tmp_path / f"bad-{bad}.wav"
        soundfile.write(path, samples, 16000, subtype="FLOAT")
        with pytest.raises(AudioDecodeError, match="NaN or infinite"):
            decode_audio(str(path), 16000)


@pytest.mark.parametrize("rate", [8000, 96000])
def test_unusual_rates_are_resampled(tmp_path, rate):
    array, out_rate = decode_audio(str(write_clip(tmp_path / "clip.wav", seconds=1.0, sampling_rate=rate)), 16000)
    assert out_rate == 16000 and array.dtype == np.float32 and len(array) == 16000


def test_eight_channels_are_averaged(tmp_path):
    frames = np.random.default_rng(0).uniform(-0.5, 0.5, (1600, 8)).astype(np.float32)
    soundfile.write(tmp_path / "eight.wav", frames, 16000, subtype="FLOAT")
    array, _ = decode_audio(str(tmp_path / "eight.wav"), 16000)
    np.testing.assert_allclose(array, frames.mean(axis=1), atol=1e-6)


def test_a_one_sample_clip_decodes_to_what_resampling_leaves(tmp_path):
    soundfile.write(tmp_path / "one.wav", np.array([0.5], np.float32), 16000, subtype="FLOAT")
    array, rate = decode_audio(str(tmp_path / "one.wav"), 16000)
    assert rate == 16000 and array.tolist() == [0.5]
    soundfile.write(tmp_path / "one44.wav", np.array([0.5], np.float32), 44100, subtype="FLOAT")
    array, _ = decode_audio(str(tmp_path / "one44.wav"), 16000)  # 1 sample at 44.1 kHz is 0.36 at 16 kHz
    assert array.dtype == np.float32 and len(array) <= 1


@pytest.mark.skipif(shutil.which("ffmpeg") is not None, reason="with FFmpeg installed, m4a decodes")
def test_m4a_without_ffmpeg_says_how_to_fix(tmp_path):
    path = tmp_path / "clip.m4a"
    path.write_bytes(b"\0\0\0\x20ftypM4A " + bytes(64))
    with pytest.raises(AudioDecodeError, match="FFmpeg"):
        decode_audio(str(path), 16000)


def test_a_bad_clip_in_a_load_names_the_file_and_the_records_or_becomes_none(tmp_path, cache_dir, monkeypatch, caplog):

    from conftest import dialogue, write_release

    from _audio_dialogues.core import decoding
    from audio_dialogues import load_dataset

    clips = tmp_path / "clips"
    write_clip(clips / "aaaaaaaaaaa.wav")
    (clips / "Ybbbbbbbbbbb.wav").write_text("<html>429 Too Many Requests</html>")
    records = [{"audio_id": f"{yid}.wav", "dialogue": dialogue(1)} for yid in ("aaaaaaaaaaa", "bbbbbbbbbbb")]
    write_release(tmp_path, "music_dialogues", "train", records)
    write_release(tmp_path, "music_dialogues", "test", records[:1])
    load = dict(data_dir=tmp_path, audio_dir=clips, verification_mode="no_checks", cache_dir=cache_dir)

    strict = load_dataset("music_dialogues", "train", **load)
    assert strict[0]["audio"]["array"].size
    with pytest.raises(AudioDecodeError, match=r"Ybbbbbbbbbbb\.wav.*text, not audio.*YouTube id bbbbbbbbbbb"):
        strict[1]
    with pytest.raises(AudioDecodeError, match="YouTube id bbbbbbbbbbb"):
        list(load_dataset("music_dialogues", "train", streaming=True, **load))

    monkeypatch.setattr(decoding, "_DECODE_FAILURES", [])
    caplog.clear()
    lenient = load_dataset("music_dialogues", "train", on_decode_error="none", **load)
    rows = list(lenient) + list(
        load_dataset("music_dialogues", "train", streaming=True, on_decode_error="none", **load)
    )
    warnings = [r.getMessage() for r in caplog.records if r.name == "audio_dialogues" and r.levelno == logging.WARNING]
    assert [row["audio"] is None for row in rows] == [False, True, False, True]
    assert len(decoding.decode_failures()) == 2 and "bbbbbbbbbbb" in decoding.decode_failures()[-1]
    assert len(warnings) == 1 and "on_decode_error='none'" in warnings[0]  # warned once, then counted
    with pytest.raises(ValueError, match="on_decode_error"):
        load_dataset("music_dialogues", on_decode_error="skip", **load)
