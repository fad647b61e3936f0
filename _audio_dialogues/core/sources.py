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
import os
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence, Union

from .bundled import sample_dir, sample_manifest
from .errors import did_you_mean, option_fix
from .manifest import MANIFEST_NAME, config_entry
from .release import RELEASE_SUFFIXES

# What ``data_files`` may be: one path or glob, a list of them, or a mapping of split to either.
DataFiles = Union[str, Sequence[str], Mapping[str, Union[str, Sequence[str]]]]


@dataclass(frozen=True)
class ReleaseSource:
    """The files of one config's release, per split, and how many records each split must hold."""

    files: dict[str, tuple[str, ...]]
    expected_records: dict[str, int]
    is_sample: bool
    expected_from: str = "the published size"  # what the counts are: published, the sample's or a manifest's
    manifest: dict | None = None  # the release manifest's entry of this config (a generated release)

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
        return _with_manifest(config, files, published, _manifest_root(config, files))
    if data_dir is not None:
        root = Path(data_dir).expanduser().resolve()
        if not root.is_dir():
            raise FileNotFoundError(
                f"data_dir {root} is not a folder. Point data_dir at the folder holding "
                f"{config}/train.json and {config}/test.json of the Audio Dialogues release."
            )
        _refuse_export(root)
        files = {split: (_find_split_file(root, config, split),) for split in published}
        return _with_manifest(config, files, published, root)
    root = sample_dir()
    files = {split: (_find_split_file(root, config, split),) for split in published}
    return ReleaseSource(
        files, dict(sample_manifest()["records"][config]), True, expected_from="the bundled sample's manifest"
    )


def _with_manifest(
    config: str, files: dict[str, tuple[str, ...]], published: Mapping[str, int], root: Path | None
) -> ReleaseSource:
    """The release of ``files``, checked against its manifest's counts when ``root`` has a manifest with
    ``config`` (a generated release), else against the published sizes."""
    entry = config_entry(root, config) if root is not None else None
    if entry is None:
        return ReleaseSource(files, {s: published[s] for s in files}, is_sample=False)
    counts = entry.get("splits", {})
    lacking = [s for s in files if not isinstance(counts.get(s), int)]
    if lacking:
        raise ValueError(
            f"{root / MANIFEST_NAME} gives no count for {config}/{lacking[0]}: rerun `audio-dialogues generate "
            f"{root} --config {config}` to write the manifest again."
        )
    where = f"the count in {root / MANIFEST_NAME}"
    return ReleaseSource(files, {s: counts[s] for s in files}, False, expected_from=where, manifest=entry)


def _manifest_root(config: str, files: Mapping[str, Sequence[str]]) -> Path | None:
    """The release folder of ``data_files`` that are a generated release's own files (``ROOT/<config>/<split>...``)."""
    roots = {Path(path).parent.parent for paths in files.values() for path in paths}
    named = all(Path(path).parent.name == config for paths in files.values() for path in paths)
    if named and len(roots) == 1 and all(len(paths) == 1 for paths in files.values()):
        return roots.pop()
    return None


def _refuse_export(root: Path) -> None:
    """An ``export`` folder (Parquet and a card) is not a release: say how to read it instead."""
    if (root / "README.md").is_file() and any(root.glob("data/*/*.parquet")):
        raise ValueError(
            f"{root} is an export (Parquet files and a dataset card), not a release of dialogue files: read it "
            f"with datasets.load_dataset({str(root)!r}, CONFIG), or pass data_dir= the folder that generate wrote."
        )


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
            f"{', '.join(str(p) for p in candidates)}. See docs/reference.md ('The release files'), or pass "
            "data_files=."
        )
    return str(existing[0])


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
    name: str,
    files: Sequence[str],
    found: int,
    expected: int,
    verification_mode: str | None,
    expected_from: str = "the published size",
) -> None:
    """Fail like ``datasets``' split verification when a release split does not hold the count it should:
    ``expected_from`` says which (the published size, the sample's, or a generated release's manifest).

    Checked on the release records, before any record without audio is skipped. ``verification_mode``
    ``"no_checks"`` (a partial or edited release) turns it off.
    """
    if found == expected or verification_mode == "no_checks":  # no need to import datasets (download never does)
        return
    from datasets.exceptions import NonMatchingSplitsSizesError
    from datasets.utils.info_utils import VerificationMode

    if VerificationMode(verification_mode or VerificationMode.BASIC_CHECKS) == VerificationMode.NO_CHECKS:
        return
    difference = f"{found - expected} more" if found > expected else f"{expected - found} fewer"
    why = (
        "Is a file from another split, or edited?" if found > expected else "Is a file cut short, or a copy unfinished?"
    )
    raise NonMatchingSplitsSizesError(
        f"{name}: expected {expected} records, found {found} in {', '.join(files)}: {difference} than "
        f"{expected_from}. {why} Re-copy it; to load a partial or edited release on purpose, "
        f"{option_fix('verification_mode', 'no_checks')}."
    )
