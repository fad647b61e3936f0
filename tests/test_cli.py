import json
import re
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import DatasetCard

from _audio_dialogues.cli.main import main
from _audio_dialogues.core.sources import sample_audio_dir, sample_manifest
from _audio_dialogues.outputs.convert import to_dialogue


def test_demo_describes_every_config_and_split(capsys, cache_dir):
    assert main(["demo", "--cache-dir", cache_dir]) == 0
    out = capsys.readouterr().out
    manifest = sample_manifest()
    for config, splits in manifest["records"].items():
        for split, count in splits.items():
            block = out.split(f"=== {config} / {split} ===")[1].split("===")[0]
            missing = len(manifest["missing_youtube_ids"][config][split])
            assert f"dialogues: {count}" in block
            assert re.search(r"turns: 1 turn: \d+", block)
            assert "user:" in block and "assistant:" in block
            assert re.search(r"first clip: .+: \d+\.\d\d s at 16000 Hz", block)
            found, absent = map(int, re.search(r"audio: found for (\d+), missing for (\d+)", block).groups())
            assert found + absent == count and absent >= (missing if config != "audioset_comparison" else 1)


def test_convert_writes_the_sample_in_each_format(capsys, cache_dir, tmp_path):
    for config, fmt in (
        ("audioset_dialogues", "openai"),
        ("music_dialogues", "llava"),
        ("audioset_comparison", "swift"),
    ):
        out = tmp_path / f"{config}.{fmt}.jsonl"
        assert main(["convert", "--format", fmt, str(out), "--config", config, "--cache-dir", cache_dir]) == 0
        printed = capsys.readouterr().out
        written, skipped = map(
            int,
            re.search(
                rf"{config}/train -> {re.escape(str(out))}\n{fmt}: wrote (\d+) examples; skipped (\d+) "
                rf"whose audio is missing",
                printed,
            ).groups(),
        )
        lines = out.read_text(encoding="utf-8").splitlines()
        assert len(lines) == written and written + skipped == sample_manifest()["records"][config]["train"]
        assert all(Path(path).is_file() for line in lines for path in to_dialogue(json.loads(line), fmt)["audio_paths"])

    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "--format", "sharegpt", str(tmp_path / "bad.jsonl"), "--cache-dir", cache_dir])
    assert exit_info.value.code == 2
    assert "invalid choice: 'sharegpt'" in capsys.readouterr().err and not (tmp_path / "bad.jsonl").exists()


def test_export_writes_parquet_and_a_card(capsys, cache_dir, tmp_path):
    out = tmp_path / "export"
    assert (
        main(
            [
                "export",
                str(out),
                "--config",
                "music_dialogues",
                "--config",
                "audioset_dialogues",
                "--max-shard-size",
                "1KB",
                "--cache-dir",
                cache_dir,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert f"exported to {out} (text and ids only, no audio)" in printed
    assert re.search(r"music_dialogues/train: 12 rows, \d+ file\(s\), row groups of 1000 rows", printed)
    card = DatasetCard.load(out / "README.md")
    assert [(c["config_name"], c.get("default", False)) for c in card.data.configs] == [
        ("music_dialogues", True),
        ("audioset_dialogues", False),
    ]
    shards = sorted(p.name for p in (out / "data" / "music_dialogues").glob("train-*.parquet"))
    assert len(shards) > 1 and shards[-1].endswith(f"-of-{len(shards):05d}.parquet")

    with pytest.raises(FileExistsError, match="--overwrite"):
        main(["export", str(out), "--config", "music_dialogues", "--cache-dir", cache_dir])


def test_export_embeds_audio_and_pushes_privately(capsys, cache_dir, tmp_path, monkeypatch):
    calls = []

    class FakeHfApi:  # huggingface_hub.HfApi as push_to_hub uses it; no network
        def __init__(self, token=None):
            pass

        def create_repo(self, **kwargs):
            calls.append(("create_repo", kwargs))
            return f"https://huggingface.co/datasets/{kwargs['repo_id']}"

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs))

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    out = tmp_path / "export"
    assert (
        main(
            [
                "export",
                str(out),
                "--config",
                "audioset_comparison",
                "--embed-audio",
                "--audio-dir",
                str(sample_audio_dir()),
                "--push-to-hub",
                "me/audio-dialogues",
                "--cache-dir",
                cache_dir,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "(with embedded audio)" in printed and "not found (written as None)" in printed
    assert "uploaded to https://huggingface.co/datasets/me/audio-dialogues" in printed
    assert [name for name, _ in calls] == ["create_repo", "upload_folder"]
    assert calls[0][1]["private"] is True and calls[1][1]["folder_path"] == str(out)
    assert "embeds the audio" in DatasetCard.load(out / "README.md").text
