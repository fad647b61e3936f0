"""The load options: one table checks them all, unknown ones are refused, only row-shaping ones are in the cache key."""

from __future__ import annotations

import ast
import dataclasses
import logging
import subprocess
import sys

import datasets
import pytest
from conftest import REPO

from _audio_dialogues.cli.flags import LOAD_ARGUMENTS, load_kwargs
from _audio_dialogues.cli.main import build_parser
from _audio_dialogues.core.load_options import OPTIONS, check_options
from _audio_dialogues.loading.options import AudioDialoguesConfig
from audio_dialogues import AudioDialogues, load_dataset


def test_every_option_is_a_config_field_with_a_table_row():
    fields = {f.name for f in dataclasses.fields(AudioDialoguesConfig)}
    assert set(OPTIONS) <= fields
    own = fields - {f.name for f in dataclasses.fields(datasets.BuilderConfig)} - {"rows_fingerprint"}
    assert own <= set(OPTIONS), "a config field without a row in OPTIONS is never checked"


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"follow_symlinks": "no"}, TypeError, "follow_symlinks='no': expected True or False"),
        ({"decode": 1}, TypeError, "decode=1: expected True or False"),
        ({"with_metadata": None}, TypeError, "with_metadata=None: expected True or False"),
        ({"sampling_rate": True}, TypeError, "sampling_rate=True: expected a positive int"),
        ({"sampling_rate": 0}, ValueError, "sampling_rate=0: expected a positive int"),
        ({"sampling_rate": 16000.0}, TypeError, "sampling_rate=16000.0"),
        ({"min_audio_bytes": -1}, ValueError, "min_audio_bytes=-1: expected a size in bytes"),
        ({"min_audio_bytes": False}, TypeError, "min_audio_bytes=False"),
        ({"missing_audio": "drop"}, ValueError, "missing_audio='drop': choose one of keep, skip, error"),
        ({"on_decode_error": "nope"}, ValueError, "Did you mean 'none'"),
        ({"audio_dir": 3}, TypeError, "audio_dir=3: expected a folder path"),
    ],
)
def test_wrong_values_are_refused_by_one_rule_per_kind(options, error, message, cache_dir):
    with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):
        check_options(options)
    with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):  # the same through a load
        load_dataset("music_dialogues", "test", cache_dir=cache_dir, **options)


def test_an_unknown_option_lists_the_valid_ones_and_guesses(cache_dir):
    with pytest.raises(TypeError) as info:
        load_dataset("music_dialogues", "test", cache_dir=cache_dir, sampling_rte=22050)
    message = str(info.value)
    assert "Unknown option 'sampling_rte'" in message and "Did you mean 'sampling_rate'?" in message
    assert all(name in message for name in OPTIONS) and len(message) < 400
    with pytest.raises(TypeError, match="Unknown option 'data_dri'.*Did you mean 'data_dir'"):
        AudioDialogues("music_dialogues", data_dri="x", cache_dir=cache_dir)


def test_the_cards_two_argument_call_and_the_short_form_give_the_same_rows(cache_dir):
    card = load_dataset("audio_dialogues", "music_dialogues", split="test", cache_dir=cache_dir, decode=False)
    short = load_dataset("music_dialogues", "test", cache_dir=cache_dir, decode=False)
    by_name = load_dataset(
        str(REPO / "audio_dialogues.py"), name="music_dialogues", split="test", cache_dir=cache_dir, decode=False
    )
    assert card.to_list() == short.to_list() == by_name.to_list() and len(card) == 12
    sliced = load_dataset("audio_dialogues", "music_dialogues", split="test[:25%]", cache_dir=cache_dir, decode=False)
    assert sliced.to_list() == card.to_list()[:3]
    assert set(load_dataset("audio_dialogues", "audioset_comparison", cache_dir=cache_dir, decode=False)) == {
        "train",
        "test",
    }
    with pytest.raises(ValueError, match="needs a config"):
        load_dataset("audio_dialogues", cache_dir=cache_dir)
    with pytest.raises(ValueError, match="Unknown config 'music_dialogue'.*Did you mean 'music_dialogues'"):
        load_dataset("audio_dialogues", "music_dialogue", cache_dir=cache_dir)


def test_a_rate_change_reuses_the_prepared_split(cache_dir, summaries):
    first = load_dataset("music_dialogues", "train", cache_dir=cache_dir)
    assert any("Generating" in s or s.startswith("music_dialogues/train") for s in summaries)
    builder = AudioDialogues("music_dialogues", cache_dir=cache_dir, sampling_rate=22050, decode=True)
    arrow_files = sorted(p.stat().st_mtime_ns for p in __import__("pathlib").Path(builder.cache_dir).glob("*.arrow"))
    assert arrow_files, "the first load prepared this very cache folder"
    resampled = load_dataset("music_dialogues", "train", cache_dir=cache_dir, sampling_rate=22050)
    undecoded = load_dataset("music_dialogues", "train", cache_dir=cache_dir, decode=False, on_decode_error="none")
    assert (
        sorted(p.stat().st_mtime_ns for p in __import__("pathlib").Path(builder.cache_dir).glob("*.arrow"))
        == arrow_files
    )
    row = next(i for i, r in enumerate(first) if r["audio"] is not None)
    assert resampled[row]["audio"]["sampling_rate"] == 22050 and first[row]["audio"]["sampling_rate"] == 16000
    assert abs(len(resampled[row]["audio"]["array"]) / len(first[row]["audio"]["array"]) - 22050 / 16000) < 0.01
    assert undecoded[row]["audio"] == {"path": first[row]["audio"]["path"], "bytes": None}
    assert resampled.cache_files == first.cache_files == undecoded.cache_files


def test_each_command_takes_the_load_flags_it_uses_and_only_those():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    every = {"--" + option.replace("_", "-") for option in LOAD_ARGUMENTS}
    release = {"--data-dir", "--data-files", "--on-invalid", "--verification-mode"}
    audio = {"--audio-dir", "--follow-symlinks", "--min-audio-bytes"}
    uses = {
        "demo": every,
        "convert": every,
        "export": every,
        "download": release,
        "evaluate": release | {"--strong-labels", "--cache-dir", "--num-proc"},  # the judge loads the rows
        "stats": every - {"--sampling-rate", "--decode", "--max-audio-seconds", "--on-decode-error"},
        "review": release | {"--strong-labels"} | audio,
        "generate": audio,
    }
    for name, expected in uses.items():
        flags = {s for action in commands[name]._actions for s in action.option_strings}
        assert flags & every == expected, name
    args = parser.parse_args(
        [
            "demo",
            "--audio-dir",
            "a",
            "--audio-dir",
            "b",
            "--no-decode",
            "--sampling-rate",
            "none",
            "--data-files",
            "train=x.json",
            "--min-audio-bytes",
            "10",
            "--verification-mode",
            "no_checks",
        ]
    )
    assert load_kwargs(args) == {
        "audio_dir": ["a", "b"],
        "decode": False,
        "sampling_rate": None,
        "data_files": {"train": ["x.json"]},
        "min_audio_bytes": 10,
        "verification_mode": "no_checks",
    }


def test_the_package_never_imports_the_script():
    def imported(path):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                yield node.module

    package = REPO / "_audio_dialogues"
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py") if "audio_dialogues" in set(imported(p))]
    assert offenders == []


def test_summaries_reach_caplog(cache_dir, caplog):
    caplog.set_level(logging.INFO)
    load_dataset("music_dialogues", "test", cache_dir=cache_dir, decode=False)
    assert any(
        r.name == "audio_dialogues" and r.getMessage().startswith("music_dialogues/test: 12 records")
        for r in caplog.records
    )


_SCRIPT = """
import logging, sys
if sys.argv[1] == "configured":
    logging.basicConfig(level=logging.INFO, format="ROOT %(message)s")
from audio_dialogues import load_dataset
load_dataset("music_dialogues", "test", cache_dir=sys.argv[2], decode=False)
"""


@pytest.mark.parametrize("setup", ["plain", "configured"])
def test_summaries_are_printed_once_with_or_without_a_logging_setup(setup, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, setup, str(tmp_path / "cache")], capture_output=True, text=True, check=True
    )
    lines = [line for line in result.stderr.splitlines() if "music_dialogues/test: 12 records" in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ROOT " if setup == "configured" else "[audio_dialogues] ")


def test_the_reference_options_table_is_the_table():
    rows = {}
    for line in (REPO / "docs" / "reference.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4 and cells[2] in ("yes", "no"):
            rows[cells[0].strip("`")] = cells[2] == "yes"
    assert rows == {name: option.rows for name, option in OPTIONS.items()}


def test_the_reference_api_table_names_every_public_name():
    import audio_dialogues

    text = (REPO / "docs" / "reference.md").read_text(encoding="utf-8")
    api = text[text.index("## API") :]
    assert [name for name in audio_dialogues.__all__ if name != "__version__" and f"`{name}`" not in api] == []
