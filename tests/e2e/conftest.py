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

    def start(upstream, configuration, concurrency=1, log_level="warn", mutate=None):
        gateway = Gateway(tmp_path / f"gw{len(started)}", upstream.port, configuration, concurrency, log_level, mutate)
        started.append(gateway)
        return gateway

    (tmp_path / "gw0").mkdir(exist_ok=True)
    for i in range(1, 4):
        (tmp_path / f"gw{i}").mkdir(exist_ok=True)
    yield start
    for gateway in started:
        gateway.stop()


# --- the Python SDK upstreams (tests/upstream/legacy-sse, tests/upstream/stateless) ---

@pytest.fixture
def legacy_sse(tmp_path):
    from harness import LegacySseUpstream
    upstream = LegacySseUpstream(tmp_path / "legacy-sse.log")
    yield upstream
    upstream.stop()


@pytest.fixture
def stateless(tmp_path):
    from harness import StatelessUpstream
    upstream = StatelessUpstream(tmp_path / "stateless.log")
    yield upstream
    upstream.stop()


@pytest.fixture
def stateless_json(tmp_path):
    from harness import StatelessUpstream
    upstream = StatelessUpstream(tmp_path / "stateless-json.log", "--json-response")
    yield upstream
    upstream.stop()


# --- one catalogue behind one gateway, shared by a module's tests -------------
# (tests/e2e/test_catalogue_*.py define `served`: (double, gateway), module-scoped)

@pytest.fixture
def upstream(served):
    """The module's double, its /__calls log emptied."""
    served[0].reset()
    return served[0]


@pytest.fixture
def url(served):
    """The module's gateway MCP endpoint."""
    return served[1].url
