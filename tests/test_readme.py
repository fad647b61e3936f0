"""The README's recipe, run as written: from nothing to a dialogue you can hear.

Every fenced block of README.md marked ``recipe`` (```` ```sh recipe ```` or ```` ```python recipe ````)
is run in order in an empty folder, the shell blocks with bash and the Python blocks in one namespace,
as a reader would paste them. Two stand-ins replace the internet: the tests' chat server
(``tests/chat_server.py``) for the model, appended to ``generate`` as ``--base-url``, and the clip
server of ``tests/test_download.py`` for YouTube, appended to ``download`` as ``--url-template``
(the real yt-dlp and ffmpeg fetch and cut the clips). A block marked ``notebook`` needs IPython and
is run when it is installed. Nothing else of the text is changed, so a README that drifts from the
commands fails here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest
from chat_server import ChatServer, four_turn_reply
from conftest import REPO
from test_download import ClipServer, tone_clip

from _audio_dialogues.core.musiccaps import shipped_musiccaps
from _audio_dialogues.download.plan import ClipTime

RECIPE = re.compile(r"^```(sh|python) recipe( notebook)?\n(.*?)^```", re.DOTALL | re.MULTILINE)
MODEL = "gpt-4o-mini"  # what the README's generate step names


def recipe_blocks(text: str) -> list[tuple[str, bool, str]]:
    """(language, needs a notebook, code) of every recipe block, in order."""
    return [(m[1], bool(m[2]), m[3]) for m in RECIPE.finditer(text)]


def with_stand_ins(command: str, chat_url: str, clip_url: str) -> str:
    """A shell line of the recipe with the stand-ins' URLs appended to the commands that reach the internet."""
    if command.startswith("audio-dialogues generate"):
        return f"{command} --base-url {chat_url}"
    if command.startswith("audio-dialogues download"):
        return f"{command} --url-template '{clip_url}' --no-progress"
    return command


def test_the_recipe_has_every_step_in_order():
    blocks = recipe_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    text = "\n".join(code for _, _, code in blocks)
    steps = ["demo", "generate", "download", "load_dataset(", "Audio(", "show_dialogue", "stats", "convert"]
    steps += ["run_protocol", "evaluate", "export"]
    positions = [text.index(step) for step in steps]
    assert positions == sorted(positions)


@pytest.fixture
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def test_the_readme_recipe_runs_as_written(tmp_path, monkeypatch, no_proxy, capsys):
    work = tmp_path / "work"
    work.mkdir()
    cache = tmp_path / "hf_cache"
    monkeypatch.chdir(work)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    env = {
        **os.environ,
        "HF_DATASETS_CACHE": str(cache),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # audio-dialogues
    }
    blocks = recipe_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    namespace: dict = {"__name__": "__main__"}
    timings: list[tuple[str, float]] = []
    outputs: list[str] = []
    clips = ClipServer({})
    try:
        with ChatServer(default=four_turn_reply) as chat:  # the paper's four turns, as the prompt asks
            for language, notebook, code in blocks:
                if notebook and not _has_ipython():
                    continue
                started = time.monotonic()
                if language == "sh":
                    for line in code.strip().splitlines():
                        if line.startswith("audio-dialogues download"):
                            serve_the_release_clips(clips, work / "release")
                        result = subprocess.run(
                            with_stand_ins(line, chat.base_url, clips.url_template),
                            shell=True,
                            cwd=work,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=600,
                        )
                        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
                        outputs.append(result.stdout + result.stderr)
                        timings.append((line.split()[1], time.monotonic() - started))
                else:
                    exec(code, namespace)
                    timings.append((_step_name(code), time.monotonic() - started))
            requests = len(chat.requests)
    finally:
        clips.close()
    with capsys.disabled():
        print("\nREADME recipe timings: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings))

    assert 0 < requests <= 10  # --max-requests 10
    manifest = json.loads((work / "release" / "release_manifest.json").read_text(encoding="utf-8"))
    entry = manifest["configs"]["music_dialogues"]
    assert entry["model"] == MODEL and sum(entry["splits"].values()) > 0
    row = namespace["row"]
    assert row["audio"] is not None and len(row["audio"]["array"]) == 10 * row["audio"]["sampling_rate"]
    html = namespace["show_dialogue"](row)._repr_html_()
    assert "<audio controls src='data:audio/wav;base64," in html and row["dialogue"][0]["user"] in html
    assert (work / "train.jsonl").read_text(encoding="utf-8").count("\n") == entry["splits"]["train"]
    assert "CIDEr" in outputs[-2]  # evaluate's table
    stats = json.loads((work / "report" / "stats.json").read_text(encoding="utf-8"))
    assert (work / "report" / "index.html").is_file() and "music_dialogues" in json.dumps(stats)
    if _has_ipython():  # the notebook's own player was made from the row's clip
        player = namespace["Audio"](row["audio"]["array"], rate=row["audio"]["sampling_rate"])
        assert player._repr_html_().count("<audio") == 1 and len(player.data) > 2 * len(row["audio"]["array"])
    card = (work / "hub" / "README.md").read_text(encoding="utf-8")
    assert f"**`{MODEL}`**" in card and entry["prompt_sha256"][:12] in card and "GPT-4 and filtered" not in card


def serve_the_release_clips(clips: ClipServer, release: Path) -> None:
    """The stand-in for YouTube serves each clip of the generated release (a tone, longer than its window)."""
    musiccaps = shipped_musiccaps()
    for path in (release / "music_dialogues" / "train.jsonl", release / "music_dialogues" / "test.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            youtube_id = json.loads(line)["audio_id"][1:12]  # Y<id>.wav
            row = musiccaps[youtube_id]
            clips.clips[youtube_id] = tone_clip(ClipTime(row.start_s, row.end_s))


def _step_name(code: str) -> str:
    for name in ("run_protocol", "show_dialogue", "Audio", "load_dataset"):
        if f"{name}(" in code:
            return name
    return code.strip().splitlines()[-1][:30]


def _has_ipython() -> bool:
    try:
        import IPython.display  # noqa: F401
    except ImportError:
        return False
    return True
