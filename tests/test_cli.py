import contextlib
import json
import re
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import DatasetCard

from _audio_dialogues import __version__
from _audio_dialogues.cli.flags import GROUPS
from _audio_dialogues.cli.main import build_parser, main
from _audio_dialogues.core.bundled import sample_audio_dir, sample_manifest
from _audio_dialogues.core.load_options import OPTIONS
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

    # a user error (FileExistsError): one line naming the fix, exit 2 (was a traceback)
    assert main(["export", str(out), "--config", "music_dialogues", "--cache-dir", cache_dir]) == 2
    assert "--overwrite" in capsys.readouterr().err.splitlines()[-1]


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


# The command line as a shell user meets it: one error handler, one line, exit 2.


def test_every_load_option_is_in_exactly_one_flag_group():
    grouped = [name for _, names in GROUPS.values() for name in names]
    assert sorted(grouped) == sorted({*OPTIONS, "verification_mode", "cache_dir", "num_proc"})


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--data-dir", "/nonexistent"], "audio-dialogues demo: error: data_dir /nonexistent is not a folder"),
        (["evaluate", "p.jsonl", "--config", "music_dialogues", "--sampling-rate", "8000"], "--sampling-rate is not"),
        (["evaluate", "p.jsonl", "--config", "music_dialogues", "--audio-dir", "/x"], "--audio-dir is not an option"),
        (["download", "out", "--config", "music_dialogues", "--sampling-rate", "8000"], "--sampling-rate is not"),
        (["generate", "out", "--config", "music_dialogues", "--data-dir", "x"], "--data-dir is not an option"),
        (
            ["demo", "--missing-audio", "error", "--audio-dir", "EMPTY"],
            "audio-dialogues demo: error: audioset_dialogues",
        ),
        (["evaluate", "/nonexistent.jsonl", "--config", "music_dialogues"], "audio-dialogues evaluate: error:"),
    ],
)
def test_a_user_error_is_one_line_and_exit_2(argv, message, tmp_path, cache_dir, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = [str(empty) if a == "EMPTY" else a for a in argv]
    with contextlib.suppress(SystemExit):  # argparse's own errors exit; ours return
        assert main([*argv, "--cache-dir", cache_dir] if argv[0] == "demo" else argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("[audio_dialogues]")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


def test_a_non_empty_export_folder_is_one_line(tmp_path, cache_dir, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("the user's")
    assert main(["export", str(tmp_path / "out"), "--cache-dir", cache_dir]) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("audio-dialogues export: error: ")
    assert (tmp_path / "out" / "mine.txt").read_text() == "the user's"


def test_debug_shows_the_traceback(cache_dir):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        main(["demo", "--data-dir", "/nonexistent", "--cache-dir", cache_dir, "--debug"])


def test_a_bug_is_named_as_one_and_exits_1(monkeypatch, capsys, cache_dir):
    from _audio_dialogues.cli import demo

    monkeypatch.setattr(demo, "describe_split", lambda ds: {}["no such key"])
    assert main(["demo", "--config", "music_dialogues", "--cache-dir", cache_dir]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("audio-dialogues demo: internal error: KeyError") and "--debug" in err


def test_version_and_python_dash_m(tmp_path):
    version = subprocess.run([sys.executable, "-m", "audio_dialogues", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == f"audio-dialogues {__version__}"
    for module in ("audio_dialogues", "_audio_dialogues"):
        shown = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=tmp_path)
        assert shown.returncode == 0 and shown.stdout.startswith("usage: audio-dialogues COMMAND"), module


def test_help_pages_put_what_is_required_first_and_explain_every_positional():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        page = command.format_help()
        usage = page.splitlines()[0]
        positionals = [a for a in command._actions if not a.option_strings]
        required = [a.option_strings[0] for a in command._actions if a.option_strings and a.required]
        expected = " ".join([f"usage: audio-dialogues {name}", *(a.metavar or a.dest for a in positionals)])
        assert usage.startswith(expected), usage
        for flag in required:
            assert usage.index(flag) < usage.index("[options]"), usage
        assert all(a.help for a in positionals), name
        assert "None" not in page, name  # a shell user types none
        assert len(page.splitlines()) < 100, (name, len(page.splitlines()))  # only what the command uses
