import io

import numpy as np
import pytest
import soundfile
from conftest import write_clip

from _audio_dialogues.core.decoding import AudioDecodeError, decode_audio
from _audio_dialogues.loading.features import SoundfileAudio
from audio_dialogues import CONFIGS


@pytest.mark.parametrize(
    "rate, channels, target",
    [(16000, 1, 16000), (44100, 2, 16000), (22050, 1, 8000), (48000, 2, None), (16000, 1, 44100)],
)
def test_decode_resamples_to_mono_float32(tmp_path, rate, channels, target):
    path = write_clip(tmp_path / "clip.flac", seconds=0.5, sampling_rate=rate, channels=channels)
    array, out_rate = decode_audio(str(path), target)
    assert out_rate == (target or rate)
    assert array.dtype == np.float32 and array.ndim == 1
    assert len(array) == round(0.5 * out_rate)


def test_stereo_is_the_channel_average(tmp_path):
    path = write_clip(tmp_path / "stereo.wav", sampling_rate=16000, channels=2, subtype="FLOAT")
    both, _ = soundfile.read(path, dtype="float32")
    array, _ = decode_audio(str(path), 16000)
    np.testing.assert_allclose(array, both.mean(axis=1), atol=1e-6)


def test_bytes_and_paths_decode_the_same(tmp_path):
    path = write_clip(tmp_path / "clip.wav", sampling_rate=22050)
    from_path, _ = decode_audio(str(path), 16000)
    from_bytes, _ = decode_audio(path.read_bytes(), 16000)
    np.testing.assert_array_equal(from_path, from_bytes)


def test_undecodable_file_names_the_file(tmp_path):
    bad = tmp_path / "Yaaaaaaaaaaa.wav"
    bad.write_text("<html>404</html>")
    with pytest.raises(AudioDecodeError, match="Yaaaaaaaaaaa.wav"):
        decode_audio(str(bad), 16000)


def test_feature_decode_false_reads_nothing(tmp_path):
    feature = SoundfileAudio(sampling_rate=16000, decode=False)
    missing = str(tmp_path / "not-there.wav")
    assert feature.decode_example(feature.encode_example(missing)) == {"bytes": None, "path": missing}


def test_feature_roundtrip_of_an_array_is_lossless():
    feature = SoundfileAudio(sampling_rate=None)
    array = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    encoded = feature.encode_example({"array": array, "sampling_rate": 8000, "path": None})
    assert encoded["path"] is None and soundfile.info(io.BytesIO(encoded["bytes"])).samplerate == 8000
    decoded = feature.decode_example(encoded)
    np.testing.assert_array_equal(decoded["array"], array)
    assert decoded["sampling_rate"] == 8000


def test_feature_serialises_as_audio():
    import datasets

    features = datasets.Features({"audio": SoundfileAudio(sampling_rate=16000)})
    restored = datasets.Features.from_dict(features.to_dict())
    assert type(restored["audio"]) is datasets.Audio and restored["audio"].sampling_rate == 16000


@pytest.mark.parametrize("config", CONFIGS)
def test_rows_are_built_exactly_as_datasets_would_encode_them(config, cache_dir):
    """PreEncodedFeatures passes our rows through unencoded; that is only right if encoding changes nothing."""
    import pickle

    import datasets

    from _audio_dialogues.core.splits import SplitSource
    from _audio_dialogues.loading.features import PreEncodedFeatures, StorageRow, dataset_features, to_example
    from audio_dialogues import SUBSETS, AudioDialogues

    multi_audio = SUBSETS[config].rules.multi_audio
    builder = AudioDialogues(config, cache_dir=cache_dir)  # the bundled sample, with some clips missing on purpose
    features = dataset_features(multi_audio, 16000, True)
    rows = []
    for split, files in builder.release.files.items():
        source = SplitSource(config, split, files, SUBSETS[config].rules, 0, builder.audio_index, "keep", "no_checks")
        rows += [to_example(item, multi_audio) for item in source.read()[0]]
    audio_values = [a for row in rows for a in (row["audios"] if multi_audio else [row["audio"]])]
    assert None in audio_values and any(a is not None for a in audio_values)
    fast = pickle.loads(pickle.dumps(PreEncodedFeatures(features)))  # as num_proc jobs receive it
    assert type(fast) is PreEncodedFeatures
    for row in rows:
        assert type(row) is StorageRow and fast.encode_example(row) is row
        assert datasets.Features(features).encode_example(dict(row)) == row
    user_row = {**rows[0], "num_turns": "2"}  # anything not built by to_example is encoded as usual
    assert fast.encode_example(user_row)["num_turns"] == 2
