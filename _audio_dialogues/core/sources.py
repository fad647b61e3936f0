"""Where a load's dialogue files come from: the user's full release, or the bundled sample.

The full release is a "manual download" read from a folder the user points to::

    <data_dir>/<config>/<split>.json      a JSON array
    <data_dir>/<config>/<split>.jsonl     one record a line      (either may end in .gz)

``data_files={"train": ..., "test": ...}`` names the files instead (globs allowed, relative to
``data_dir`` if given, else to the current directory). With neither, the bundled sample under
``data/sample/`` is used, and its own manifest gives the split sizes to verify.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.resources
import json
import os
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence, Union

from .errors import did_you_mean
from .release import RELEASE_SUFFIXES

_ROOT_PACKAGE = __name__.split(".")[0]  # "_audio_dialogues": bundled data is its subpackage

# What ``data_files`` may be: one path or glob, a list of them, or a mapping of split to either.
DataFiles = Union[str, Sequence[str], Mapping[str, Union[str, Sequence[str]]]]


@dataclass(frozen=True)
class ReleaseSource:
    """The files of one config's release, per split, and how many records each split must hold."""

    files: dict[str, tuple[str, ...]]
    expected_records: dict[str, int]
    is_sample: bool

    def shared_content(self) -> dict[str, list[str]]:
        """Per split, a phrase for each of its files with the same content as another split's file (train = test)."""
        notes: dict[str, list[str]] = {}
        entries = [
            (split, path, info.st_size)
            for split, paths in self.files.items()
            for path in paths
            if stat.S_ISREG((info := os.stat(path)).st_mode)  # a pipe or device is refused when read, never opened here
        ]
        for i, (split, path, size) in enumerate(entries):
            for other_split, other, other_size in entries[i + 1 :]:
                if other_split != split and size == other_size and _same_bytes(path, other):
                    notes.setdefault(split, []).append(f"{path} has the same content as the {other_split} file {other}")
                    notes.setdefault(other_split, []).append(f"{other} has the same content as the {split} file {path}")
        return notes

    def fingerprint(self) -> str:
        """Changes when a file is added, removed, rewritten or touched (path, size, mtime)."""
        digest = hashlib.sha256()
        for split in sorted(self.files):
            for path in self.files[split]:
                stat = os.stat(path)
                digest.update(f"{split}\0{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
        return digest.hexdigest()[:16]


def _same_bytes(a: str, b: str) -> bool:
    if os.path.samefile(a, b):
        return True
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            chunk = fa.read(1 << 20)
            if chunk != fb.read(1 << 20):
                return False
            if not chunk:
                return True


def locate_release(
    config: str,
    published: Mapping[str, int],
    data_dir: str | os.PathLike | None = None,
    data_files: DataFiles | None = None,
) -> ReleaseSource:
    """Find the release files of ``config``; raise ``FileNotFoundError`` saying where we looked."""
    if data_files is not None:
        base = Path(data_dir).expanduser() if data_dir is not None else Path.cwd()
        by_split = _by_split(data_files)
        for split in by_split:  # before globbing: a misspelt split is named as such, not as "no file matches"
            if split not in published:
                raise ValueError(
                    f"data_files names a split {split!r}; {config} has the splits {', '.join(published)}."
                    f"{did_you_mean(split, list(published))}"
                )
        files = {split: _expand(patterns, base) for split, patterns in by_split.items()}
        return ReleaseSource(files, {s: published[s] for s in files}, is_sample=False)
    if data_dir is not None:
        root = Path(data_dir).expanduser().resolve()
        if not root.is_dir():
            raise FileNotFoundError(
                f"data_dir {root} is not a folder. Point data_dir at the folder holding "
                f"{config}/train.json and {config}/test.json of the Audio Dialogues release."
            )
        files = {split: (_find_split_file(root, config, split),) for split in published}
        return ReleaseSource(files, dict(published), is_sample=False)
    root = sample_dir()
    files = {split: (_find_split_file(root, config, split),) for split in published}
    return ReleaseSource(files, dict(sample_manifest()["records"][config]), is_sample=True)


def _by_split(data_files: DataFiles) -> dict[str, list[str]]:
    if isinstance(data_files, (str, os.PathLike)):
        return {"train": [os.fspath(data_files)]}
    if isinstance(data_files, Mapping):
        return {
            str(k): [os.fspath(v)] if isinstance(v, (str, os.PathLike)) else [os.fspath(x) for x in v]
            for k, v in data_files.items()
        }
    return {"train": [os.fspath(x) for x in data_files]}


def _expand(patterns: list[str], base: Path) -> tuple[str, ...]:
    """Each pattern's files: a path that exists is taken literally (its name may hold ``[``, ``*``, ``?``);
    otherwise it is a glob, in which only the pattern (never ``base``, e.g. a ``data_dir`` named ``run[1]``) is one."""
    found: list[str] = []
    for pattern in patterns:
        given = Path(pattern).expanduser()
        full = given if given.is_absolute() else base / given
        if full.exists():
            matches = [str(full)]
        elif any(char in pattern for char in "*?["):
            pattern_path = str(given) if given.is_absolute() else os.path.join(glob.escape(str(base)), str(given))
            matches = sorted(glob.glob(pattern_path))
        else:
            matches = []
        if not matches:
            raise FileNotFoundError(f"data_files: no file matches {str(full)!r}")
        found.extend(str(Path(m).resolve()) for m in matches)
    return tuple(found)


def _find_split_file(root: Path, config: str, split: str) -> str:
    candidates = [root / config / f"{split}{suffix}" for suffix in RELEASE_SUFFIXES]
    existing = [p for p in candidates if p.is_file()]
    if len(existing) > 1:
        raise ValueError(
            f"Several files for {config}/{split}: {', '.join(map(str, existing))}. Keep one, or name it "
            f"with data_files."
        )
    if not existing:
        raise FileNotFoundError(
            f"No {split} file for {config} under {root}: expected one of "
            f"{', '.join(str(p) for p in candidates)}. See the README ('The release files'), or pass data_files=."
        )
    return str(existing[0])


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


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of this package's source, so a code change rebuilds."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]  # the package, with every subpackage's modules
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def check_cache_dir(cache_dir: str | os.PathLike) -> None:
    """Fail early, naming the argument, when ``cache_dir`` cannot hold a build (``datasets`` would say
    only "File exists" or "Permission denied" about a lock file inside it). A missing folder is fine:
    it is created, if its nearest existing parent is a writable folder."""
    path = Path(cache_dir).expanduser()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise NotADirectoryError(
            f"cache_dir {path} is not a folder ({existing} is a file): pass cache_dir= a folder, or leave "
            f"it out for datasets' default cache."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "is not writable" if existing == path else f"cannot be created ({existing} is not writable)"
        raise PermissionError(f"cache_dir {path} {what}: pass a writable cache_dir=, or fix the folder's permissions.")


def verify_record_count(
    name: str, files: Sequence[str], found: int, expected: int, verification_mode: str | None
) -> None:
    """Fail like ``datasets``' split verification when a release split does not hold its published size.

    Checked on the release records, before any record without audio is skipped. ``verification_mode``
    ``"no_checks"`` (a partial or edited release) turns it off.
    """
    if found == expected:  # the common case: no need to import datasets (download and generate never do)
        return
    from datasets.exceptions import NonMatchingSplitsSizesError
    from datasets.utils.info_utils import VerificationMode

    if VerificationMode(verification_mode or VerificationMode.BASIC_CHECKS) == VerificationMode.NO_CHECKS:
        return
    raise NonMatchingSplitsSizesError(
        f"{name}: expected {expected} records, found {found} in {', '.join(files)}. Is a file truncated or from "
        "another split? Re-copy it; to load a partial or edited release on purpose, pass verification_mode='no_checks'."
    )
