"""The export (_audio_dialogues/export.py) loads with plain datasets.load_dataset like the loader."""

from __future__ import annotations

import shutil
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCard

import audio_dialogues
from _audio_dialogues.core.bundled import sample_audio_dir, sample_manifest
from _audio_dialogues.core.decoding import decode_audio
from _audio_dialogues.loading.features import SoundfileAudio
from _audio_dialogues.outputs.export import CONFIGS, export, push_to_hub

AUDIO_COLUMNS = {"audio", "audios"}


def loaded(config: str, cache_dir: str, **kwargs) -> datasets.DatasetDict:
    return audio_dialogues.load_dataset(config, decode=False, cache_dir=cache_dir, **kwargs)


def text_part(ds: datasets.Dataset):
    """Rows and features of the non-audio columns; features as any reader sees them (plain datasets.Audio)."""
    ds = ds.remove_columns([c for c in ds.column_names if c in AUDIO_COLUMNS])
    return ds.to_list(), datasets.Features.from_dict(ds.features.to_dict())


def plain_audio(decode: bool = True):
    return datasets.Audio(sampling_rate=16000, decode=decode)


def audio_list(feature):
    return datasets.List(feature) if hasattr(datasets, "List") else [feature]


@pytest.fixture(scope="module")
def text_export(tmp_path_factory) -> tuple[Path, object, str]:
    root = tmp_path_factory.mktemp("text_export")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("HF_DATASETS_OFFLINE", "1")
        result = export(root / "out", cache_dir=str(root / "cache"))
    return root / "out", result, str(root / "cache")


@pytest.mark.parametrize("config", CONFIGS)
def test_text_export_loads_like_the_loader(text_export, config, tmp_path):
    out, result, loader_cache = text_export
    expected = loaded(config, loader_cache)
    files = sorted(p.relative_to(out).as_posix() for p in (out / "data" / config).iterdir())
    assert files == [f"data/{config}/{split}-00000-of-00001.parquet" for split in sorted(expected)]
    exported = datasets.load_dataset(str(out), config, cache_dir=str(tmp_path / "cache"))
    assert (
        {s: len(d) for s, d in exported.items()}
        == {s: len(d) for s, d in expected.items()}
        == sample_manifest()["records"][config]
    )
    for split in expected:
        assert not AUDIO_COLUMNS & set(exported[split].column_names)  # text and ids only
        rows, features = text_part(expected[split])
        assert exported[split].to_list() == rows
        assert exported[split].features == features
        streamed = datasets.load_dataset(str(out), config, split=split, streaming=True)
        assert list(streamed) == rows
    for path in (out / "data" / config).glob("*.parquet"):  # no local path is published
        assert str(sample_audio_dir()).encode() not in path.read_bytes()
        assert {
            pq.ParquetFile(path).metadata.row_group(i).num_rows for i in range(pq.ParquetFile(path).num_row_groups)
        } == {12}
    assert {s.row_group_rows for s in result.splits} == {1000}


def test_the_card_parses_and_describes_every_config(text_export):
    out, result, _ = text_export
    card = DatasetCard.load(out / "README.md")
    configs = {c["config_name"]: c for c in card.data.configs}
    assert list(configs) == list(CONFIGS) and configs[CONFIGS[0]].get("default") is True
    assert [c.get("default", False) for c in configs.values()] == [True, False, False]
    infos = DatasetInfosDict.from_dataset_card_data(card.data)
    for config in CONFIGS:
        assert configs[config]["data_files"] == [
            {"split": s, "path": f"data/{config}/{s}-*"} for s in ("train", "test")
        ]
        assert {s: i.num_examples for s, i in infos[config].splits.items()} == sample_manifest()["records"][config]
        assert not AUDIO_COLUMNS & set(infos[config].features)
    assert card.data.license == "other" and "audio" in card.data.tags
    for heading in ("## Structure", "## Audio", "## Citation", "## Licences", "No audio is included", "youtube_id"):
        assert heading in card.text
    assert "goel2024audiodialogues" in card.text
    assert str(out) in result.summary()


def test_shards_follow_max_shard_size(tmp_path, cache_dir):
    config = "audioset_dialogues"
    first = export(tmp_path / "one", [config], cache_dir=cache_dir)
    train_bytes = (
        DatasetInfosDict.from_dataset_card_data(DatasetCard.load(tmp_path / "one" / "README.md").data)[config]
        .splits["train"]
        .num_bytes
    )
    assert len(first.splits[0].files) == 1 and train_bytes > 100
    result = export(tmp_path / "three", [config], max_shard_size=train_bytes // 3 + 1, cache_dir=cache_dir)
    assert [s.files for s in result.splits if s.split == "train"] == [
        [f"data/{config}/train-0000{i}-of-00003.parquet" for i in range(3)]
    ]
    assert sorted(p.name for p in (tmp_path / "three" / "data" / config).iterdir() if p.name.startswith("train")) == [
        f"train-0000{i}-of-00003.parquet" for i in range(3)
    ]  # no temporary file left
    exported = datasets.load_dataset(str(tmp_path / "three"), config, split="train", cache_dir=str(tmp_path / "c3"))
    assert exported.to_list() == text_part(loaded(config, cache_dir)["train"])[0]  # all rows, in order
    streamed = datasets.load_dataset(str(tmp_path / "three"), config, split="train", streaming=True)
    assert streamed.n_shards == 3 and [r["id"] for r in streamed] == exported["id"]


def test_embedded_audio_decodes_after_the_clips_are_deleted(tmp_path, cache_dir):
    clips = tmp_path / "clips"
    shutil.copytree(sample_audio_dir(), clips)
    out = tmp_path / "out"
    result = export(
        out, ["audioset_dialogues", "audioset_comparison"], embed_audio=True, audio_dir=str(clips), cache_dir=cache_dir
    )
    expected = {
        config: loaded(config, cache_dir, audio_dir=str(clips))
        for config in ("audioset_dialogues", "audioset_comparison")
    }
    shutil.rmtree(clips)
    assert "embeds the audio" in DatasetCard.load(out / "README.md").text
    assert all(s.row_group_rows <= 100 for s in result.splits)
    for config, column in (("audioset_dialogues", "audio"), ("audioset_comparison", "audios")):
        exported = datasets.load_dataset(str(out), config, cache_dir=str(tmp_path / "read"))
        for split, ds in expected[config].items():
            got = exported[split]
            features = datasets.Features.from_dict(ds.features.to_dict())
            features[column] = plain_audio() if column == "audio" else audio_list(plain_audio())
            assert got.features == features
            raw_feature = plain_audio(decode=False) if column == "audio" else audio_list(plain_audio(decode=False))
            raw = got.cast_column(column, raw_feature)
            assert raw.remove_columns(column).to_list() == text_part(ds)[0]
            sources = ds[column]  # the loader's {"path", "bytes": None}, None when missing
            stored = raw[column]
            if column == "audio":
                sources, stored = [[x] for x in sources], [[x] for x in stored]
            assert sum(x is None for row in stored for x in row) == sum(x is None for row in sources for x in row) > 0
            for source_row, stored_row in zip(sources, stored):
                for source, value in zip(source_row, stored_row):
                    if source is None:
                        assert value is None
                        continue
                    name = Path(source["path"]).name
                    assert value["path"] == name and value["bytes"]
                    array, rate = decode_audio(value["bytes"], 16000)
                    original, original_rate = decode_audio(
                        str(sample_audio_dir() / Path(source["path"]).relative_to(clips)), 16000
                    )
                    assert rate == original_rate == 16000 and np.array_equal(array, original)
        # decoding through our soundfile Audio, from the Parquet alone
        single = exported["train"] if config == "audioset_dialogues" else None
        if single is not None:
            decoded = single.cast_column("audio", SoundfileAudio(sampling_rate=16000))
            first = next(i for i, a in enumerate(expected[config]["train"]["audio"]) if a is not None)
            assert (
                decoded[first]["audio"]["array"].dtype == np.float32
                and decoded[first]["audio"]["sampling_rate"] == 16000
            )
        streamed = datasets.load_dataset(str(out), config, split="train", streaming=True)
        streamed = streamed.cast_column(
            column, plain_audio(decode=False) if column == "audio" else audio_list(plain_audio(decode=False))
        )
        assert [r["id"] for r in streamed] == expected[config]["train"]["id"]


def test_a_single_file_carries_features_every_version_reads(text_export, tmp_path):
    out, _, _ = text_export
    path = next((out / "data" / "audioset_comparison").glob("train-*.parquet"))
    ds = datasets.load_dataset("parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "c"))
    assert isinstance(ds[0]["dialogue"], list) and isinstance(ds[0]["dialogue"][0], dict)
    assert b'"_type": "List"' not in pq.read_schema(path).metadata[b"huggingface"]


def test_export_refuses_bad_input(tmp_path, cache_dir):
    with pytest.raises(ValueError, match="choose from"):
        export(tmp_path / "a", ["audioset"], cache_dir=cache_dir)
    with pytest.raises(ValueError, match="decode"):
        export(tmp_path / "a", decode=True, cache_dir=cache_dir)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        export(tmp_path / "b", ["music_dialogues"], cache_dir=cache_dir)
    with pytest.raises(FileExistsError, match="does not look like a previous export"):
        export(tmp_path / "b", ["music_dialogues"], overwrite=True, cache_dir=cache_dir)
    assert (tmp_path / "b" / "notes.txt").read_text() == "mine"


def test_overwrite_replaces_a_previous_export(tmp_path, cache_dir):
    export(tmp_path / "out", ["music_dialogues", "audioset_dialogues"], cache_dir=cache_dir)
    export(tmp_path / "out", ["music_dialogues"], overwrite=True, cache_dir=cache_dir)
    assert sorted(p.name for p in (tmp_path / "out" / "data").iterdir()) == ["music_dialogues"]
    assert [c["config_name"] for c in DatasetCard.load(tmp_path / "out" / "README.md").data.configs] == [
        "music_dialogues"
    ]


class FakeHfApi:
    """Records what push_to_hub asks of huggingface_hub.HfApi; never touches the network."""

    def __init__(self, token=None):
        self.token, self.calls = token, []

    def create_repo(self, **kwargs):
        self.calls.append(("create_repo", kwargs))
        return f"https://huggingface.co/datasets/{kwargs['repo_id']}"

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))


def test_push_to_hub_uploads_the_folder(text_export):
    out, _, _ = text_export
    api = FakeHfApi()
    assert push_to_hub(out, "me/audio-dialogues", api=api) == "https://huggingface.co/datasets/me/audio-dialogues"
    assert api.calls == [
        ("create_repo", {"repo_id": "me/audio-dialogues", "repo_type": "dataset", "private": False, "exist_ok": True}),
        (
            "upload_folder",
            {
                "repo_id": "me/audio-dialogues",
                "repo_type": "dataset",
                "folder_path": str(out),
                "commit_message": "Audio Dialogues export (audio-dialogues export)",
            },
        ),
    ]


def test_an_export_with_audio_is_only_pushed_privately(tmp_path, cache_dir):
    export(tmp_path / "out", ["music_dialogues"], embed_audio=True, cache_dir=cache_dir)
    api = FakeHfApi()
    with pytest.raises(ValueError, match="must not be published"):
        push_to_hub(tmp_path / "out", "me/x", private=False, api=api)
    assert api.calls == []
    push_to_hub(tmp_path / "out", "me/x", api=api)
    assert api.calls[0][1]["private"] is True


def test_a_clip_larger_than_any_clip_is_refused_without_reading_it_whole(tmp_path, cache_dir, monkeypatch):
    """Issue 20, family 6: memory is bounded by what is read (at most the cap), not by a file's nominal size."""
    from _audio_dialogues.outputs import export as export_module

    monkeypatch.setattr(export_module, "MAX_EMBEDDED_CLIP_BYTES", 4_000_000)
    clips = tmp_path / "clips"
    shutil.copytree(sample_audio_dir(), clips)
    victim = sorted((clips / "audioset").glob("*.wav"))[0]
    with victim.open("r+b") as handle:  # a sparse file: its header is intact, its nominal size 64 MB
        handle.truncate(64_000_000)
    with pytest.raises(ValueError, match=rf"{victim.name}.*larger than 4000000 bytes"):
        export(tmp_path / "out", ["audioset_dialogues"], embed_audio=True, audio_dir=str(clips), cache_dir=cache_dir)
