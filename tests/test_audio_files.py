from pathlib import Path

import pytest

from _audio_dialogues.core.audio_files import AudioName, index_audio_dirs, parse_audio_name

YTID = "2oSP0SN3d2g"


@pytest.mark.parametrize(
    "name, expected",
    [
        (f"Y{YTID}.wav", AudioName(YTID, extension="wav")),
        (f"{YTID}.flac", AudioName(YTID, extension="flac")),
        (f"{YTID}", AudioName(YTID)),
        (f"{YTID}_30000.wav", AudioName(YTID, start="30000", extension="wav")),
        (f"{YTID}_30.000_40.000.mp3", AudioName(YTID, start="30.000", end="40.000", extension="mp3")),
        (f"{YTID}_30.000_40.000", AudioName(YTID, start="30.000", end="40.000")),  # times with dots, no extension
        (f"Y{YTID}_30_40.OGG", AudioName(YTID, start="30", end="40", extension="ogg")),
        (f"{YTID}.opus", AudioName(YTID, extension="opus")),
        (f"{YTID}.m4a", AudioName(YTID, extension="m4a")),
        # An id may itself start with "Y" (11 characters): not an AudioSet prefix.
        ("Yeiz9E9N-FI.wav", AudioName("Yeiz9E9N-FI", extension="wav")),
        ("Yeiz9E9N-FIw.wav", AudioName("eiz9E9N-FIw", extension="wav")),
        # Ids hold "_" and "-"; the suffix is only ever digits.
        ("a_b-c_d-e_f_10.wav", AudioName("a_b-c_d-e_f", start="10", extension="wav")),
    ],
)
def test_recognised_forms(name, expected):
    assert parse_audio_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "../x.wav",
        f"../{YTID}.wav",
        f"sub/{YTID}.wav",
        f"C:\\{YTID}.wav",
        "/etc/passwd",
        f"{YTID}.txt",
        "short.wav",
        f"{YTID}x.wav",
        f"{YTID}_start.wav",
        f"{YTID}_1_2_3.wav",
        "",
        f"{YTID}.wav.bak",
        "YY" + YTID + ".wav",
        f"{YTID}.wav\n",
        f"{YTID}.",
        f"{YTID}.WAV ",
        None,
        42,
    ],
)
def test_rejected_names(name):
    assert parse_audio_name(name) is None


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_index_resolves_every_form_recursively(tmp_path):
    ids = ["aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc", "ddddddddddd"]
    files = [
        touch(tmp_path / "Yaaaaaaaaaaa.wav"),
        touch(tmp_path / "x" / "bbbbbbbbbbb.flac"),
        touch(tmp_path / "x" / "y" / "ccccccccccc_30000.mp3"),
        touch(tmp_path / "ddddddddddd_30.0_40.0.ogg"),
    ]
    touch(tmp_path / "notes.txt")
    touch(tmp_path / "not-a-youtube-id.wav")
    index = index_audio_dirs([tmp_path])
    for youtube_id, path in zip(ids, files):
        assert index.resolve(f"Y{youtube_id}.wav", youtube_id).path == str(path.resolve())
    assert index.resolve("Yeeeeeeeeeee.wav", "eeeeeeeeeee").path is None
    assert index.num_files == 4 and index.other_files == 1
    assert [Path(p).name for p in index.unrecognized] == ["not-a-youtube-id.wav"]
    summary = index.summary()
    assert "4 audio files for 4 YouTube ids, 1 other files ignored" in summary
    assert "1 audio files ignored because their name holds no YouTube id (e.g. not-a-youtube-id.wav" in summary


def test_exact_name_wins_and_ties_are_deterministic_and_counted(tmp_path):
    touch(tmp_path / "a" / "aaaaaaaaaaa.mp3")
    touch(tmp_path / "b" / "aaaaaaaaaaa_0_10.wav")
    exact = touch(tmp_path / "c" / "Yaaaaaaaaaaa.mp3")
    index = index_audio_dirs([tmp_path])
    found = index.resolve("Yaaaaaaaaaaa.mp3", "aaaaaaaaaaa")
    assert (found.path, found.tie) == (str(exact.resolve()), False)
    # No exact name: wav is preferred over mp3, and the choice is counted as a tie.
    found = index.resolve("Yaaaaaaaaaaa.wav", "aaaaaaaaaaa")
    assert Path(found.path).name == "aaaaaaaaaaa_0_10.wav" and found.tie


def test_several_folders_and_fingerprint_follows_the_listing(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    touch(one / "aaaaaaaaaaa.wav")
    two.mkdir()
    before = index_audio_dirs([one, two])
    assert before.resolve("aaaaaaaaaaa.wav", "aaaaaaaaaaa").path
    assert index_audio_dirs([one, two]).fingerprint == before.fingerprint
    touch(two / "bbbbbbbbbbb.wav")
    after = index_audio_dirs([one, two])
    assert after.fingerprint != before.fingerprint
    assert after.resolve("bbbbbbbbbbb.wav", "bbbbbbbbbbb").path


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="audio_dir .*nope.* is not a folder"):
        index_audio_dirs([tmp_path / "nope"])
