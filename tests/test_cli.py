import json
import re
from pathlib import Path

import pytest

from audio_dialogues_support.cli import main
from audio_dialogues_support.convert import to_dialogue
from audio_dialogues_support.sources import sample_manifest


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
    for config, fmt in (("audioset_dialogues", "openai"), ("music_dialogues", "llava"), ("audioset_comparison", "swift")):
        out = tmp_path / f"{config}.{fmt}.jsonl"
        assert main(["convert", "--format", fmt, str(out), "--config", config, "--cache-dir", cache_dir]) == 0
        printed = capsys.readouterr().out
        written, skipped = map(int, re.search(rf"{config}/train -> {re.escape(str(out))}\n{fmt}: wrote (\d+) examples; skipped (\d+) whose audio is missing", printed).groups())
        lines = out.read_text(encoding="utf-8").splitlines()
        assert len(lines) == written and written + skipped == sample_manifest()["records"][config]["train"]
        assert all(Path(path).is_file() for line in lines for path in to_dialogue(json.loads(line), fmt)["audio_paths"])

    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "--format", "sharegpt", str(tmp_path / "bad.jsonl"), "--cache-dir", cache_dir])
    assert exit_info.value.code == 2
    assert "invalid choice: 'sharegpt'" in capsys.readouterr().err and not (tmp_path / "bad.jsonl").exists()
