"""The release manifest: what a release folder holds and how it was made, written by ``generate``.

A release made by ``audio-dialogues generate OUT --config C`` is a folder ``OUT`` with
``C/train.jsonl`` and ``C/test.jsonl``; beside them, at the folder's root, ``release_manifest.json``
says, per config, what ``generate`` wrote::

    {"format": 1, "tool": "audio-dialogues", "configs": {"music_dialogues": {
        "version": "0.1.0", "date": "2026-12-07T02:00:00Z",
        "splits": {"train": 3, "test": 1},
        "files": {"train": {"path": "music_dialogues/train.jsonl", "sha256": "..."}, ...},
        "model": "gpt-4", "base_url": null, "prompt": "built-in", "prompt_sha256": "...",
        "filters": {"low_confidence_phrases": {"file": "...", "sha256": "..."}, "similarity": null,
                    "min_similarity": 0.3, "removed": {"low_confidence_phrase": 2}},
        "sources": [{"path": "musiccaps-public.csv", "sha256": "..."}]}}}

The loader checks a release with a manifest against the manifest's counts (a regenerated release
never has the published sizes), and a release without one against the published sizes. The export
card states the manifest's model, prompt hash, filters, counts and date.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

MANIFEST_NAME = "release_manifest.json"
FORMAT = 1


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_manifest(root: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest at the root of a release folder, or ``None`` when it has none."""
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(
            f"{path}: not a readable release manifest ({err}). Rerun `audio-dialogues generate` on this folder "
            f"to write it again, or move it away to check the release against the published sizes."
        ) from err
    if not isinstance(data, dict) or not isinstance(data.get("configs"), dict):
        raise ValueError(f"{path}: a release manifest has a 'configs' object; rerun generate to write it again.")
    return data


def config_entry(root: str | os.PathLike, config: str) -> dict[str, Any] | None:
    """The manifest's entry of ``config`` (its counts, model, prompt hash, ...), or ``None``."""
    manifest = read_manifest(root)
    return None if manifest is None else manifest["configs"].get(config)


def write_manifest(
    root: str | os.PathLike,
    config: str,
    *,
    files: Mapping[str, str | os.PathLike],
    counts: Mapping[str, int],
    model: str,
    base_url: str | None,
    prompt: str,
    prompt_text: str,
    filters: Mapping[str, Any],
    sources: Sequence[str | os.PathLike],
) -> Path:
    """Write (or update) ``config``'s entry of the manifest at ``root``; other configs' entries are kept."""
    from .. import __version__

    root = Path(root)
    path = root / MANIFEST_NAME
    manifest = read_manifest(root) or {}
    manifest.update(format=FORMAT, tool="audio-dialogues")
    manifest.setdefault("configs", {})[config] = {
        "version": __version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "splits": dict(counts),
        "files": {
            split: {"path": Path(file).relative_to(root).as_posix(), "sha256": file_sha256(file)}
            for split, file in files.items()
        },
        "model": model,
        "base_url": base_url,
        "prompt": prompt,
        "prompt_sha256": text_sha256(prompt_text),
        "filters": dict(filters),
        "sources": [{"path": Path(s).name, "sha256": file_sha256(s)} for s in sources],
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
