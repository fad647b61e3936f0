"""What ships with the package: the bundled sample release and the metadata files (``data/`` of a checkout,
installed as the package data ``_audio_dialogues.sample`` and ``_audio_dialogues.metadata``). It imports nothing of
ours, so any module of the core may use it."""

from __future__ import annotations

import importlib.resources
import json
from functools import lru_cache
from pathlib import Path

_ROOT_PACKAGE = __name__.split(".")[0]  # "_audio_dialogues": bundled data is its subpackage


def bundled_file(folder: str, name: str = "") -> Path:
    """A file shipped with the package: ``data/<folder>/<name>`` of a checkout, which is installed as the
    package data ``_audio_dialogues.<folder>``; found with ``importlib.resources`` either way."""
    try:
        path = Path(str(importlib.resources.files(f"{_ROOT_PACKAGE}.{folder}").joinpath(name)))
    except ModuleNotFoundError as err:
        raise FileNotFoundError(f"The bundled data {folder!r} is missing: reinstall audio-dialogues ({err}).") from err
    if not path.exists():
        raise FileNotFoundError(f"The bundled file {path} is missing: reinstall audio-dialogues.")
    return path


def sample_dir() -> Path:
    """The bundled sample release (``data/sample``)."""
    return bundled_file("sample")


def sample_audio_dir() -> Path:
    return sample_dir() / "audio"


@lru_cache(maxsize=1)
def sample_manifest() -> dict:
    """The sample's manifest (record counts, which ids have no audio, the clips' properties)."""
    return json.loads((sample_dir() / "manifest.json").read_text(encoding="utf-8"))
