"""The bundled sample is exactly what scripts/make_sample.py writes (nobody edits it by hand)."""

import importlib.util
import sys

from conftest import REPO


def test_make_sample_regenerates_the_bundled_sample_byte_for_byte(tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample", REPO / "scripts" / "make_sample.py")
    make_sample = importlib.util.module_from_spec(spec)
    sys.modules["make_sample"] = make_sample  # dataclasses look their module up
    spec.loader.exec_module(make_sample)
    make_sample.make_sample(tmp_path / "sample")
    bundled = REPO / "data" / "sample"
    written = {
        p.relative_to(tmp_path / "sample"): p.read_bytes() for p in (tmp_path / "sample").rglob("*") if p.is_file()
    }
    shipped = {p.relative_to(bundled): p.read_bytes() for p in bundled.rglob("*") if p.is_file()}
    assert written.keys() == shipped.keys()
    assert [name for name in written if written[name] != shipped[name]] == []
