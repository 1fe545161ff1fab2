import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
# tests/deploy (helpers), tests/e2e (harness), tests (validate_envoy_configs)
# and deploy (ecds_resource).
for path in (HERE, HERE.parent / "e2e", HERE.parent, HERE.parents[1] / "deploy"):
    sys.path.insert(0, str(path))

from harness import AfipDouble  # noqa: E402


@pytest.fixture
def double(tmp_path):
    upstream = AfipDouble(tmp_path / "double.log")
    yield upstream
    upstream.stop()


@pytest.fixture
def sidecar_factory(tmp_path):
    from sidecar import Sidecar
    started = []

    def start(upstream, resource, **kwargs):
        sidecar = Sidecar(tmp_path / f"sidecar{len(started)}", upstream.port, resource, **kwargs)
        started.append(sidecar)
        return sidecar

    yield start
    for sidecar in started:
        sidecar.stop()
