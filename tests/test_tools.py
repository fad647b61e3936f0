"""The benchmark and maintenance scripts start (their imports and sys.path set-up work): each prints its --help."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

SCRIPTS = sorted(
    p.relative_to(REPO).as_posix()
    for p in [*(REPO / "benchmarks").glob("bench_*.py"), *(REPO / "scripts").glob("*.py")]
    if p.name not in ("write_dataset_infos.py", "consumer_probes.py")  # no options: running them writes / probes
)


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_script_starts(script):
    result = subprocess.run([sys.executable, str(REPO / script), "--help"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0 and "usage" in result.stdout.lower(), result.stderr[-2000:]
