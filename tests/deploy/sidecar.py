"""Run the shipped Envoy sidecar (envoy/sidecar.yaml, or the copy in the
Kubernetes ConfigMap) here: loopback addresses, free ports, the built module,
and the ECDS resource in a directory laid out and updated the way the kubelet
does it for a Secret volume. Bounded in time; always stopped."""
import http.client as http_client
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error

import yaml

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "deploy"))
import ecds_resource  # noqa: E402
import validate_envoy_configs as configs  # noqa: E402
from harness import ENVOY, MODULE, SECRETS_ENV, START_TIMEOUT, http  # noqa: E402

SIDECAR = ROOT / "envoy" / "sidecar.yaml"
RESOURCE_FILE = ecds_resource.FILE_NAME
ECDS_STATS = "extension_config_discovery.http_filter.mcp_policy"


def poll(condition, what, timeout=20, interval=0.2):
    """Wait, bounded, until condition() is true; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not seen within {timeout} s: {what}")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def resource_text(configuration, **overrides):
    """The ECDS resource for a filter configuration, with the local module.
    overrides set fields of the Wasm plugin config (e.g. allow_on_headers_stop_iteration)."""
    text = ecds_resource.resource_yaml(configuration, module=str(MODULE))
    if not overrides:
        return text
    document = yaml.safe_load(text)
    document["resources"][0]["typed_config"]["config"].update(overrides)
    return yaml.safe_dump(document, sort_keys=False)


class SecretVolume:
    """A directory like a kubelet Secret volume: `name -> ..data/name`, with
    `..data -> ..<timestamp>`. publish() updates it as the kubelet does (new
    timestamped directory, `..data_tmp` symlink renamed over `..data`)."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.generation = 0

    def publish(self, files):
        self.generation += 1
        old = os.readlink(self.path / "..data") if (self.path / "..data").is_symlink() else None
        version = self.path / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{self.generation}"
        version.mkdir()
        for name, text in files.items():
            (version / name).write_text(text)
        tmp_link = self.path / "..data_tmp"
        os.symlink(version.name, tmp_link)
        os.replace(tmp_link, self.path / "..data")
        for name in files:
            link = self.path / name
            if not link.is_symlink() and not link.exists():
                os.symlink(f"..data/{name}", link)
        if old:
            shutil.rmtree(self.path / old)

    def replace_file(self, name, text):
        """A plain atomic rename of one file (what an editor or `mv` does)."""
        tmp = self.path / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, self.path / name)


def render(bootstrap, workdir, upstream_port, mcp_port, rls_port=None):
    """The sidecar bootstrap, rewritten to run here (`rls_port`: where the
    rate-limit service listens; by default a closed port)."""
    config = configs.localize_bootstrap(bootstrap, workdir, "resources: []\n")
    config["admin"]["address"]["socket_address"].update(address="127.0.0.1", port_value=0)
    ports = {"mcp": mcp_port, "health": 0}
    for listener in config["static_resources"]["listeners"]:
        listener["address"]["socket_address"].update(address="127.0.0.1", port_value=ports[listener["name"]])
    endpoints = {"mcp_upstream": upstream_port, "policy_self": mcp_port,
                 "mcp_policy_rls": rls_port if rls_port is not None else free_port()}
    for cluster in config["static_resources"]["clusters"]:
        for locality in cluster["load_assignment"]["endpoints"]:
            for endpoint in locality["lb_endpoints"]:
                endpoint["endpoint"]["address"]["socket_address"].update(
                    address="127.0.0.1", port_value=endpoints[cluster["name"]])
    [source] = [f["config_discovery"]["config_source"]["path_config_source"]
                for f in configs.http_filters(config) if f["name"] == "mcp_policy"]
    return config, source


class Sidecar:
    """Envoy running envoy/sidecar.yaml (or `bootstrap`) in front of upstream_port."""

    def __init__(self, workdir, upstream_port, resource, bootstrap=None, wait_ready=True, rls_port=None):
        self.dir = pathlib.Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        bootstrap = bootstrap if bootstrap is not None else yaml.safe_load(SIDECAR.read_text())
        self.port = free_port()
        config, source = render(bootstrap, self.dir / "rendered", upstream_port, self.port, rls_port)
        # The policy directory is a Secret-like volume, not the rendered copy.
        self.volume = SecretVolume(self.dir / "policy")
        self.volume.publish({RESOURCE_FILE: resource})
        source["path"] = str(self.volume.path / RESOURCE_FILE)
        source["watched_directory"]["path"] = str(self.volume.path)
        self.config_path = self.dir / "envoy.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.admin_path = self.dir / "admin-address"
        self.log_path = self.dir / "envoy.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(ENVOY), "-c", str(self.config_path), "--concurrency", "2", "--disable-hot-restart",
             "--admin-address-path", str(self.admin_path), "--log-level", "warn",
             "--component-log-level", "wasm:info"],
            stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ, **SECRETS_ENV),
        )
        try:
            self._wait_admin()
            if wait_ready:
                self.wait_ready(200)
        except Exception:
            self.stop()
            raise

    def _wait_admin(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("envoy exited:\n" + self.log_text()[-3000:])
            if self.admin_path.exists() and self.admin_path.read_text().strip():
                self.admin = "http://" + self.admin_path.read_text().strip()
                try:
                    status, _, _ = http("GET", self.admin + "/ready", timeout=2)
                    if status == 200:
                        _, _, body = http("GET", self.admin + "/listeners?format=json")
                        for listener in json.loads(body)["listener_statuses"]:
                            if listener["name"] == "health":
                                self.health_port = listener["local_address"]["socket_address"]["port_value"]
                        self.url = f"http://127.0.0.1:{self.port}/mcp"
                        self.health = f"http://127.0.0.1:{self.health_port}"
                        return
                except (OSError, urllib.error.URLError):
                    pass
            time.sleep(0.1)
        raise RuntimeError("envoy did not start:\n" + self.log_text()[-3000:])

    def wait_ready(self, want, timeout=20):
        """Poll the probes' /ready until it answers `want` (200 or 503)."""
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            try:
                status, _, _ = http("GET", self.health + "/ready", timeout=2)
            except OSError:
                status = None
            if status == want:
                return
            time.sleep(0.2)
        raise AssertionError(f"/ready answered {status}, not {want}, within {timeout} s:\n"
                             + self.log_text()[-3000:])

    def stats(self, prefix=ECDS_STATS):
        _, _, body = http("GET", f"{self.admin}/stats?filter=^{prefix.replace('.', '[.]')}")
        values = {}
        for line in body.decode().splitlines():
            name, _, value = line.partition(": ")
            values[name] = int(value) if value.isdigit() else value
        return values

    def log_text(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


class KeepAlive:
    """One HTTP/1.1 connection to the MCP listener, reused for every request."""

    HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}

    def __init__(self, port, timeout=15):
        self.connection = http_client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.connection.connect()
        self.local = self.connection.sock.getsockname()

    def post(self, message, token, headers=None):
        all_headers = dict(self.HEADERS, Authorization=f"Bearer {token}")
        all_headers.update(headers or {})
        self.connection.request("POST", "/mcp", json.dumps(message), all_headers)
        response = self.connection.getresponse()
        body = response.read()
        assert self.connection.sock is not None, "the server closed the connection"
        assert self.connection.sock.getsockname() == self.local, "the connection was reopened"
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body

    def close(self):
        self.connection.close()
