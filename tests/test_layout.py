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


def test_download_and_generation_import_neither_datasets_nor_the_loader():
    offenders = {}
    for wing in ("download", "generation", "engine"):
        for path in (PACKAGE / wing).rglob("*.py"):
            bad = {
                m for m in imports_of(path) if m.split(".")[0] == "datasets" or m.startswith("_audio_dialogues.loading")
            }
            if bad:
                offenders[f"{wing}/{path.name}"] = sorted(bad)
    assert offenders == {}


def test_no_library_module_outside_the_cli_imports_argparse():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "cli" not in path.relative_to(PACKAGE).parts and "argparse" in imports_of(path)
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


def test_no_library_module_is_over_about_500_lines():
    lengths = {
        str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
        for wing in ("engine", "download", "generation", "evaluation")
        for p in (PACKAGE / wing).rglob("*.py")
    }
    assert {name: n for name, n in lengths.items() if n > 500} == {}


def test_a_dry_run_and_a_download_plan_never_import_datasets(tmp_path):
    """Measured in a fresh interpreter: what generate --dry-run and download's planning load."""
    import subprocess
    import sys

    code = f"""
import sys
from _audio_dialogues.core.musiccaps import shipped_musiccaps
from _audio_dialogues.download.plan import plan_clips
from _audio_dialogues.generation.pipeline import generate
summary = generate({str(tmp_path)!r}, "music_dialogues", ids=list(shipped_musiccaps())[:3], dry_run=True,
                   echo=lambda text: None, progress=False)
assert summary.pending == 3, summary.summary()
assert len(plan_clips("music_dialogues").clips) > 0
print(sorted(m for m in sys.modules if m.split(".")[0] == "datasets" or m.startswith("_audio_dialogues.loading")))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
