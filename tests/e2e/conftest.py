import pytest

from harness import AfipDouble, Gateway


@pytest.fixture
def double(tmp_path):
    upstream = AfipDouble(tmp_path / "double.log")
    yield upstream
    upstream.stop()


@pytest.fixture
def json_double(tmp_path):
    upstream = AfipDouble(tmp_path / "double-json.log", json_response=True)
    yield upstream
    upstream.stop()


@pytest.fixture
def gateway_factory(tmp_path):
    started = []

    def start(upstream, configuration, concurrency=1):
        gateway = Gateway(tmp_path / f"gw{len(started)}", upstream.port, configuration, concurrency)
        started.append(gateway)
        return gateway

    (tmp_path / "gw0").mkdir(exist_ok=True)
    for i in range(1, 4):
        (tmp_path / f"gw{i}").mkdir(exist_ok=True)
    yield start
    for gateway in started:
        gateway.stop()
