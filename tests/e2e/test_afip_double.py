"""The afip-double in each of its modes passes its own self-test
(tests/upstream/afip-double/selftest.mjs, official TypeScript SDK client):
`both` serves its merged 45 tools, `afip` and `evolution` the real servers'
tools/list verbatim, and every tool answers with fields of its own."""
import subprocess

import pytest

from harness import ROOT, AfipDouble

SELFTEST = ROOT / "tests" / "upstream" / "afip-double" / "selftest.mjs"


@pytest.mark.parametrize("catalogue", ["both", "afip", "evolution"])
def test_the_double_passes_its_selftest(tmp_path, catalogue):
    double = AfipDouble(tmp_path / "double.log", catalogue=catalogue)
    try:
        done = subprocess.run(["node", str(SELFTEST), f"{double.base}/mcp", "--catalogue", catalogue],
                              capture_output=True, text=True, timeout=60)
    finally:
        double.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.endswith("selftest: OK\n")


def test_an_unknown_catalogue_stops_the_double(tmp_path):
    with pytest.raises(RuntimeError, match="afip-double exited"):
        AfipDouble(tmp_path / "double.log", catalogue="whatsapp")
    assert "unknown catalogue \"whatsapp\"" in (tmp_path / "double.log").read_text()
