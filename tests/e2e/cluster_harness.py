"""Processes for the cluster-wide limit tests: a real redis-server and the
project's rate-limit service (rls/, mcp-policy-rls), each on free loopback
ports, restartable on the same ports, always stopped; and gateways whose
filter calls that service."""
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.error

import render_envoy
from harness import ROOT, START_TIMEOUT, Gateway, http, wrapper_config

RLS_BINARIES = [ROOT / "rls" / "target" / profile / "mcp-policy-rls" for profile in ("release", "debug")]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rls_binary():
    """The newest build of mcp-policy-rls (make rls, or the debug build of make test-rls)."""
    built = [path for path in RLS_BINARIES if path.exists()]
    if not built:
        raise RuntimeError("mcp-policy-rls is not built: run `make rls` (or `cd rls && cargo build`)")
    return max(built, key=lambda path: path.stat().st_mtime)


def wait_until(condition, what, timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise RuntimeError(f"not within {timeout} s: {what}")


class Redis:
    """redis-server as the RLS README runs it: no persistence, a memory cap, noeviction."""

    def __init__(self, directory, maxmemory="8mb"):
        self.dir = pathlib.Path(directory)
        self.port = free_port()
        self.maxmemory = maxmemory
        self.process = None
        self.start()

    def start(self):
        self.log = open(self.dir / "redis.log", "a")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--maxmemory", self.maxmemory, "--maxmemory-policy", "noeviction", "--dir", str(self.dir)],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.cli("PING") == "PONG", "redis-server answers PING")

    def cli(self, *args):
        done = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=10)
        return done.stdout.strip()

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()

    stop = kill

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"


class RateLimitService:
    """mcp-policy-rls on free ports, against `redis`; stop and start keep its ports."""

    def __init__(self, directory, redis):
        self.dir = pathlib.Path(directory)
        self.redis = redis
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.process = None
        self.start()

    def start(self):
        self.log = open(self.dir / "rls.log", "a")
        self.process = subprocess.Popen(
            [str(rls_binary()), "--grpc-addr", f"127.0.0.1:{self.grpc_port}",
             "--http-addr", f"127.0.0.1:{self.http_port}", "--redis-url", self.redis.url,
             # A loaded test machine can take longer than the default 100 ms.
             "--redis-timeout", "1s", "--drain-timeout", "1s", "--log-level", "warn"],
            stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ))
        wait_until(self.ready, "mcp-policy-rls is ready")

    def ready(self):
        if self.process.poll() is not None:
            raise RuntimeError("mcp-policy-rls exited: " + (self.dir / "rls.log").read_text()[-2000:])
        try:
            return http("GET", f"http://127.0.0.1:{self.http_port}/readyz", timeout=2)[0] == 200
        except (OSError, urllib.error.URLError):
            return False

    def metrics(self):
        return http("GET", f"http://127.0.0.1:{self.http_port}/metrics")[2].decode()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()

    @property
    def address(self):
        return f"127.0.0.1:{self.grpc_port}"


def counted_by_service(policy, grants=None, service=None, **settings):
    """The wrapper for `policy` with every limit counted by the rate-limit service."""
    configuration = render_envoy.counted_by_service(wrapper_config(policy, grants, **settings))
    if service:
        configuration["rate_limit_service"] = dict(configuration["rate_limit_service"], **service)
    return configuration


def cluster_gateway(directory, upstream_port, configuration, rls, concurrency=2, mutate=None):
    """A real Envoy whose filter calls `rls` (the cluster mcp_policy_rls)."""
    def point_at_rls(config):
        render_envoy.set_cluster_address(config, render_envoy.RLS_CLUSTER, rls.address)
        if mutate is not None:
            mutate(config)
    pathlib.Path(directory).mkdir(parents=True, exist_ok=True)
    return Gateway(directory, upstream_port, configuration, concurrency=concurrency, mutate=point_at_rls)

