"""Faults: a prepare killed midway, two loads racing, unusable cache folders, a vanished release,
no network, and audio ids that are paths.

What ``datasets`` (3.6 and 5.x alike) does, and these tests rely on: a build is written into
``<cache>/.../<version>.incomplete`` and renamed to ``<version>`` only once complete; a cached
dataset is one whose ``dataset_info.json`` exists (written last, inside the renamed folder); the
build runs under ``<version>_builder.lock``, an ``flock`` the kernel releases when its holder dies.
So a killed build leaves only an ``.incomplete`` folder, which no load serves and the next build
writes over; and of two racing loads, the second waits for the lock, then finds the first's build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import datasets
import pytest
from conftest import REPO, dialogue, write_release
from synthetic import write_release as write_synthetic

import audio_dialogues
from _audio_dialogues.core.release import ReleaseFormatError
from audio_dialogues import SUBSETS, AudioDialogues, load_dataset

DATASETS_3 = datasets.__version__.startswith("3.")
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child Python: this package importable, the same offline settings as the tests."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    env.update(extra)
    return env


def release_rows(path: Path) -> list[tuple[str, str, list]]:
    """(id, audio_id, dialogue) of each record of a JSON Lines release split, read without the loader."""
    split = path.name.split(".")[0]
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(f"{split}-{i:06d}", r["audio_id"], r["dialogue"]) for i, r in enumerate(records)]


def loaded_rows(ds: datasets.Dataset) -> list[tuple[str, str, list]]:
    return list(zip(ds["id"], ds["audio_id"], ds["dialogue"]))


def digest(rows: list[tuple[str, str, list]]) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


# --- A prepare killed midway -------------------------------------------------------------------------

# Loads the release, but stops (without finishing the build) after PAUSE_AT examples, which puts
# 2,000 rows (two writer batches) into the build's Arrow file; then a marker file says "kill me now".
_PAUSED_LOAD = """
import sys, time
import audio_dialogues
from _audio_dialogues.loading import builder

data_dir, cache_dir, marker, pause_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
to_example, made = builder.to_example, 0

def paused_to_example(*args, **kwargs):
    global made
    made += 1
    if made == pause_at:
        open(marker, "w").close()
        time.sleep(600)
    return to_example(*args, **kwargs)

builder.to_example = paused_to_example
audio_dialogues.load_dataset("music_dialogues", data_dir=data_dir, cache_dir=cache_dir)
"""


def test_a_prepare_killed_midway_is_never_served_and_the_next_load_rebuilds(tmp_path, cache_dir):
    paths = write_synthetic(
        tmp_path / "release", {"music_dialogues": SUBSETS["music_dialogues"].published}, fmt="jsonl"
    )
    marker = tmp_path / "paused"
    child = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_LOAD, str(tmp_path / "release"), cache_dir, str(marker), "2500"],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never reached the pause"
            time.sleep(0.05)
        output_dir = Path(
            AudioDialogues("music_dialogues", data_dir=tmp_path / "release", cache_dir=cache_dir).cache_dir
        )
        incomplete = Path(f"{output_dir}.incomplete")
        (half_built,) = incomplete.glob("*.arrow")  # killed while writing train (under a temporary shard name)
        assert half_built.name.startswith("audio_dialogues-train") and half_built.stat().st_size > 0
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert not (output_dir / "dataset_info.json").exists()  # nothing a load would take for a cached build

    ds = load_dataset("music_dialogues", data_dir=tmp_path / "release", cache_dir=cache_dir)
    for split, path in paths["music_dialogues"].items():
        assert loaded_rows(ds[split]) == release_rows(path)  # complete, in order, the release's text
    assert not incomplete.exists()
    assert sorted(p.name for p in output_dir.glob("*.arrow")) == [
        "audio_dialogues-test.arrow",
        "audio_dialogues-train.arrow",
    ]
    assert not list(Path(cache_dir).rglob("*.incomplete"))


# --- Two loads at once --------------------------------------------------------------------------------

# Waits for the go file (so both children start loading together), loads, prints a digest of the rows.
_RACING_LOAD = """
import hashlib, json, os, sys, time
import audio_dialogues
from _audio_dialogues.loading import builder

data_dir, cache_dir, go = sys.argv[1], sys.argv[2], sys.argv[3]
while not os.path.exists(go):
    time.sleep(0.01)
ds = audio_dialogues.load_dataset("music_dialogues", data_dir=data_dir, cache_dir=cache_dir)
for split in ("train", "test"):
    rows = list(zip(ds[split]["id"], ds[split]["audio_id"], ds[split]["dialogue"]))
    print(split, len(rows), hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest())
"""


def test_two_processes_loading_into_one_cache_both_get_the_whole_dataset(tmp_path, cache_dir):
    paths = write_synthetic(
        tmp_path / "release", {"music_dialogues": SUBSETS["music_dialogues"].published}, fmt="jsonl"
    )
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _RACING_LOAD, str(tmp_path / "release"), cache_dir, str(go)],
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)  # both import datasets meanwhile
    go.touch()
    outputs = [child.communicate(timeout=120) for child in children]
    for child, (_, stderr) in zip(children, outputs):
        assert child.returncode == 0, stderr
    expected = "".join(
        f"{split} {len(release_rows(path))} {digest(release_rows(path))}\n"
        for split, path in paths["music_dialogues"].items()
    )
    assert [stdout for stdout, _ in outputs] == [expected, expected]
    assert not list(Path(cache_dir).rglob("*.incomplete"))


# --- Cache folders that cannot be used, and one that does not exist yet ---------------------------------

# A cache folder without write permission. Root ignores permissions, so when the tests run as root
# the child drops to the unprivileged user "nobody" (uid 65534) after importing, like any user
# whose cache_dir is read-only; the folder then lives in a fresh /tmp folder nobody can traverse.
_READ_ONLY_LOAD = """
import os, sys
import encodings.utf_8_sig  # imported while the interpreter's own files are still readable
import audio_dialogues

if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
try:
    audio_dialogues.load_dataset("music_dialogues", cache_dir=sys.argv[1])
except Exception as err:
    print(type(err).__name__, err)
else:
    print("loaded")
"""


@pytest.fixture
def read_only_cache_load():
    """Runs a load into a fresh read-only cache folder; returns its path and the child's "<error type> <message>"."""
    base = Path(tempfile.mkdtemp(prefix="audio_dialogues_ro_"))
    read_only, hf_home = base / "cache", base / "hf_home"
    try:
        base.chmod(0o755)
        read_only.mkdir()
        hf_home.mkdir()
        hf_home.chmod(0o777)
        read_only.chmod(0o555)
        result = subprocess.run(
            [sys.executable, "-c", _READ_ONLY_LOAD, str(read_only)],
            env=child_env(HF_HOME=str(hf_home)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert os.listdir(read_only) == []
        yield read_only, result.stdout.strip()
    finally:
        if read_only.exists():
            read_only.chmod(0o755)
        shutil.rmtree(base)


def test_a_read_only_cache_dir_error_says_which_argument_fixes_it(read_only_cache_load):
    read_only, message = read_only_cache_load
    assert message.startswith("PermissionError ")
    assert f"cache_dir {read_only} is not writable" in message and "pass a writable cache_dir=" in message


def test_a_cache_dir_that_is_a_file_error_says_which_argument_fixes_it(tmp_path):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("")
    with pytest.raises(NotADirectoryError, match=f"cache_dir {not_a_folder} is not a folder"):
        load_dataset("music_dialogues", cache_dir=not_a_folder)
    with pytest.raises(NotADirectoryError, match=f"cache_dir {not_a_folder / 'sub'} is not a folder"):
        load_dataset("music_dialogues", cache_dir=not_a_folder / "sub")


def test_a_missing_cache_dir_is_created(tmp_path):
    cache = tmp_path / "not" / "yet" / "there"
    ds = load_dataset("music_dialogues", "test", cache_dir=cache)
    assert len(ds) == 12 and cache.is_dir()
    assert all(Path(f["filename"]).is_relative_to(cache) for f in ds.cache_files)


# --- A release that disappears between two loads ------------------------------------------------------


def test_a_release_folder_that_disappears_is_an_error_not_the_stale_cache(tmp_path, cache_dir):
    """The cache key holds the release files' size and mtime; a release that is gone cannot be checked
    against it, so the loader does not serve the cache but says which folder is missing."""
    release = tmp_path / "release"
    paths = write_synthetic(release, {"music_dialogues": {"train": 5, "test": 3}}, fmt="jsonl")
    args = dict(cache_dir=cache_dir, verification_mode="no_checks")
    assert len(load_dataset("music_dialogues", "train", data_dir=release, **args)) == 5
    files = {split: str(path) for split, path in paths["music_dialogues"].items()}
    assert len(load_dataset("music_dialogues", "train", data_files=files, **args)) == 5

    release.rename(tmp_path / "moved")
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("music_dialogues", "train", data_dir=release, **args)
    assert f"data_dir {release} is not a folder" in str(info.value) and "Point data_dir at the folder" in str(
        info.value
    )
    with pytest.raises(FileNotFoundError, match=f"data_files: no file matches '{files['train']}'"):
        load_dataset("music_dialogues", "train", data_files=files, **args)

    (tmp_path / "moved").rename(release)  # back in place, unchanged: the cached build is valid again
    assert loaded_rows(load_dataset("music_dialogues", "train", data_dir=release, **args)) == release_rows(
        paths["music_dialogues"]["train"]
    )


def test_a_split_file_removed_from_the_release_is_named(tmp_path, cache_dir):
    release = tmp_path / "release"
    paths = write_synthetic(release, {"music_dialogues": {"train": 5, "test": 3}}, fmt="jsonl")
    load_dataset("music_dialogues", data_dir=release, cache_dir=cache_dir, verification_mode="no_checks")
    paths["music_dialogues"]["test"].unlink()
    with pytest.raises(
        FileNotFoundError, match=rf"No test file for music_dialogues under {release}: expected one of .*test\.json"
    ):
        load_dataset("music_dialogues", data_dir=release, cache_dir=cache_dir, verification_mode="no_checks")


# --- No network ------------------------------------------------------------------------------------


@pytest.fixture
def sockets_created(monkeypatch) -> list:
    """Every socket created and every name looked up, recorded (and internet ones refused)."""
    created: list = []
    original_init = socket.socket.__init__

    def init(self, family=-1, *args, **kwargs):
        created.append(("socket", family))
        if family in (socket.AF_INET, socket.AF_INET6, -1):
            raise RuntimeError(f"a load created a socket of family {family!r}")
        original_init(self, family, *args, **kwargs)

    def getaddrinfo(host, *args, **kwargs):
        created.append(("getaddrinfo", host))
        raise RuntimeError(f"a load looked up {host!r}")

    monkeypatch.setattr(socket.socket, "__init__", init)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return created


def test_loading_creates_no_socket_at_all(tmp_path, cache_dir, sockets_created):
    for config in SUBSETS:
        load_dataset(config, cache_dir=cache_dir)
        list(load_dataset(config, "test", cache_dir=cache_dir, streaming=True))
    write_synthetic(tmp_path / "release", {"music_dialogues": {"train": 20, "test": 5}}, fmt="jsonl", gzip=True)
    load_dataset("music_dialogues", data_dir=tmp_path / "release", cache_dir=cache_dir, verification_mode="no_checks")
    if DATASETS_3:
        datasets.load_dataset(audio_dialogues.__file__, "music_dialogues", trust_remote_code=True, cache_dir=cache_dir)
    assert sockets_created == []


# A sitecustomize for the child: records (to stderr) and refuses every internet connection and name
# lookup from the start, and, once the child sets ARMED after its imports, every internet socket
# created. (Importing urllib3, which datasets 3.6 does, creates an AF_INET6 socket and binds it to
# ::1 to probe for IPv6 support: local, no traffic, and not the loader's doing.)
_SITECUSTOMIZE = """
import socket, sys

ATTEMPTS = []
ARMED = False

def _refuse(what):
    ATTEMPTS.append(what)
    sys.stderr.write(f"NETWORK ATTEMPT: {what}\\n")
    raise OSError(f"network blocked by the test: {what}")

_init, _connect = socket.socket.__init__, socket.socket.connect

def _socket_init(self, family=-1, *args, **kwargs):
    if ARMED and family in (socket.AF_INET, socket.AF_INET6, -1):
        _refuse(f"socket({family!r})")
    _init(self, family, *args, **kwargs)

def _socket_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _refuse(f"connect({address!r})")
    return _connect(self, address)

socket.socket.__init__ = _socket_init
socket.socket.connect = _socket_connect
socket.getaddrinfo = lambda host, *a, **k: _refuse(f"getaddrinfo({host!r})")
socket.create_connection = lambda address, *a, **k: _refuse(f"create_connection({address!r})")
"""

_ONLINE_LOAD = """
import os, sys
import sitecustomize
import datasets
import audio_dialogues

assert hasattr(sitecustomize, "ATTEMPTS"), "the test's sitecustomize did not load"
assert not [k for k in os.environ if k.endswith("_OFFLINE")], "offline variables set"
sitecustomize.ARMED = True
release, cache_dir = sys.argv[1], sys.argv[2]
for config in audio_dialogues.SUBSETS:
    audio_dialogues.load_dataset(config, cache_dir=cache_dir)
audio_dialogues.load_dataset("music_dialogues", data_dir=release, cache_dir=cache_dir, verification_mode="no_checks")
options = dict(data_dir=release, streaming=True, verification_mode="no_checks")
stream = audio_dialogues.load_dataset("music_dialogues", "test", **options)
list(stream)
if datasets.__version__.startswith("3."):
    datasets.load_dataset(audio_dialogues.__file__, "music_dialogues", trust_remote_code=True, cache_dir=cache_dir)
print("attempts:", sitecustomize.ATTEMPTS)
"""


def test_loading_makes_no_network_attempt_without_offline_variables(tmp_path):
    """Offline variables are not what keeps loads local: the child runs without them, with sockets blocked."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
    write_synthetic(tmp_path / "release", {"music_dialogues": {"train": 20, "test": 5}}, fmt="jsonl")
    env = {k: v for k, v in child_env(HF_HOME=str(tmp_path / "hf_home")).items() if not k.endswith("_OFFLINE")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    result = subprocess.run(
        [sys.executable, "-c", _ONLINE_LOAD, str(tmp_path / "release"), str(tmp_path / "cache")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "NETWORK ATTEMPT" not in result.stderr
    assert result.stdout.strip().endswith("attempts: []")


# --- Audio ids that are paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "../x.wav",
        "/etc/passwd",
        "C:\\x.wav",
        "sub/x.wav",
        "../abcdefghijk.wav",
        "/tmp/abcdefghijk.wav",
        "C:\\abcdefghijk.wav",
        "sub/abcdefghijk.wav",
    ],
)
def test_an_audio_id_that_is_a_path_is_rejected_naming_file_record_and_field(bad, tmp_path, cache_dir):
    good = {"audio_id": "abcdefghijk.wav", "dialogue": dialogue(1)}
    path = write_release(
        tmp_path, "music_dialogues", "train", [good, {"audio_id": bad, "dialogue": dialogue(1)}], "jsonl"
    )
    write_release(tmp_path, "music_dialogues", "test", [good])
    (tmp_path / "clips").mkdir()
    with pytest.raises(ReleaseFormatError) as info:
        load_dataset(
            "music_dialogues",
            data_dir=tmp_path,
            audio_dir=tmp_path / "clips",
            cache_dir=cache_dir,
            verification_mode="no_checks",
        )
    assert (info.value.file, info.value.position, info.value.field) == (str(path), "line 2", "audio_id")
    assert f"{path}, line 2, field 'audio_id'" in str(info.value) and repr(bad) in str(info.value)

    comparison = {"audio_ids": ["Yabcdefghijk.wav", bad], "dialogue": dialogue(1)}
    path = write_release(tmp_path, "audioset_comparison", "train", [comparison])
    write_release(tmp_path, "audioset_comparison", "test", [{**comparison, "audio_ids": ["Yabcdefghijk.wav"] * 2}])
    with pytest.raises(ReleaseFormatError) as info:
        load_dataset("audioset_comparison", data_dir=tmp_path, cache_dir=cache_dir, verification_mode="no_checks")
    assert f"{path}, record 0, field 'audio_ids[1]'" in str(info.value) and repr(bad) in str(info.value)
