import re

from audio_dialogues_support.cli import main
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
