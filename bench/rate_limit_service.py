"""The rate-limit service for the bench's cluster-wide limit scenario:
mcp-policy-rls (rls/, the release build when there is one) over a
redis-server, on free loopback ports, stopped at the end. Neither is pinned:
they run beside Envoy and wrk, and their CPU is reported apart (run.py)."""
import pathlib
import subprocess
import time
import urllib.error
import urllib.request

from ports import free_port

ROOT = pathlib.Path(__file__).resolve().parent.parent
BINARIES = [ROOT / "rls" / "target" / profile / "mcp-policy-rls" for profile in ("release", "debug")]
START_TIMEOUT = 30


class RateLimitService:
    def __init__(self, workdir):
        built = [path for path in BINARIES if path.exists()]
        if not built:
            raise SystemExit("bench: mcp-policy-rls is not built; run make rls")
        self.binary = built[0]
        self.workdir = pathlib.Path(workdir)
        self.redis_port = free_port()
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.processes = []

    def start(self):
        log = open(self.workdir / "rls-redis.log", "w")
        self.processes.append(subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--maxmemory", "64mb", "--maxmemory-policy", "noeviction",
             "--dir", str(self.workdir)], stdout=log, stderr=subprocess.STDOUT))
        log = open(self.workdir / "rls.log", "w")
        self.processes.append(subprocess.Popen(
            [str(self.binary), "--grpc-addr", f"127.0.0.1:{self.grpc_port}",
             "--http-addr", f"127.0.0.1:{self.http_port}", "--redis-url", f"redis://127.0.0.1:{self.redis_port}",
             "--log-level", "warn"], stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                raise RuntimeError("the rate-limit service or its Redis exited; see .build/bench/rls*.log")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        raise RuntimeError("the rate-limit service did not become ready")

    def requests(self):
        """ShouldRateLimit calls the service received."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("mcp_policy_rls_requests_total "):
                    return int(float(line.split()[1]))
        return 0

    def pids(self):
        return [process.pid for process in self.processes]

    def stop(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
