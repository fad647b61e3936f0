"""The package's layout holds: wings in folders, the core importing only the core, every subpackage in the wheel,
and the cache's code fingerprint covering modules in subfolders."""

from __future__ import annotations

import ast
import configparser
import subprocess
import sys
from pathlib import Path

from _audio_dialogues.core import sources

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "_audio_dialogues"


def imports_of(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved against its package)."""
    package = path.relative_to(REPO).with_suffix("").parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.add(node.module or "")
            else:
                base = package[: len(package) - node.level + 1]
                names.add(".".join([*base, *([node.module] if node.module else [])]))
    return names


def test_every_subpackage_is_listed_for_the_wheel():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    folders = {
        ".".join(p.parent.relative_to(REPO).parts) for p in PACKAGE.rglob("__init__.py") if "__pycache__" not in p.parts
    }
    assert folders <= listed, f"add to setup.cfg's packages: {sorted(folders - listed)}"


def test_the_core_imports_only_the_core():
    offenders = {}
    for path in (PACKAGE / "core").rglob("*.py"):
        ours = {m for m in imports_of(path) if m.startswith("_audio_dialogues")}
        outside = {m for m in ours if not m.startswith("_audio_dialogues.core") and m != "_audio_dialogues"}
        third = {m for m in imports_of(path) if m.split(".")[0] in {"datasets", "pyarrow", "pandas", "argparse"}}
        if outside or third:
            offenders[path.name] = sorted(outside | third)
    # verify_record_count raises datasets' own NonMatchingSplitsSizesError, imported when a count is wrong
    assert offenders == {"sources.py": ["datasets.exceptions", "datasets.utils.info_utils"]}


def test_the_code_fingerprint_covers_modules_in_subfolders(tmp_path, monkeypatch):
    fake = tmp_path / "_audio_dialogues"
    (fake / "core").mkdir(parents=True)
    (fake / "wing").mkdir()
    (fake / "core" / "sources.py").write_text("# core\n")
    (fake / "wing" / "deep.py").write_text("x = 1\n")
    monkeypatch.setattr(sources, "__file__", str(fake / "core" / "sources.py"))
    sources.code_fingerprint.cache_clear()
    try:
        before = sources.code_fingerprint()
        sources.code_fingerprint.cache_clear()
        (fake / "wing" / "deep.py").write_text("x = 2\n")
        assert sources.code_fingerprint() != before
    finally:
        sources.code_fingerprint.cache_clear()


def test_only_the_command_line_imports_argparse():
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if "cli" not in p.relative_to(PACKAGE).parts and "argparse" in imports_of(p)
    ]
    assert offenders == []


def test_the_command_line_starts_without_datasets():
    """Every command's parser is built (as for --help, or before a generate --dry-run) without importing datasets,
    pyarrow or pandas: 0.4 s and ~100 MB a short run does not need."""
    code = (
        "import sys; from _audio_dialogues.cli.main import build_parser; build_parser(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'datasets', 'pyarrow', 'pandas'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
