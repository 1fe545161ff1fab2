#!/usr/bin/env python3
"""`make bench`: the policy filter's cost in real Envoy, against Envoy without
it (passthrough) and against Envoy's own MCP filter with an RBAC allow-list.

One Envoy per configuration ("gateway"), each `--concurrency 1` and pinned to
core 0 with taskset; wrk (one thread, keep-alive connections) pinned to core
1. Each gateway has two listeners: the front one under test, and a fast
upstream (buffer filter + a fixed direct_response) that the front one proxies
to, so no Python or Node server is ever measured.

Every scenario is checked once before it is measured (the allowed call gets
the upstream's result, the denied call the denial, tools/list loses its
hidden tools, RBAC allows one tool and denies another), and the wrk script
checks every response of every run: any mismatch, socket error or unexpected
status fails the bench. Scenarios are interleaved over rounds and the median
is reported.

    bench/run.py                  # BENCH_SECONDS (8) x BENCH_ROUNDS (3), about 8 minutes
    bench/run.py --smoke          # each scenario ~1 s, 1 round, the growth set too: checks only
    bench/run.py --only 1,2,7     # a subset (passthrough baselines are added)
    bench/run.py --only 2,2-before --before OLD.wasm [--before-legacy]
                                  # scenario 2 on this build and on another
    bench/run.py --growth         # also the growth set (bench/growth.py), about 8 minutes more
    bench/run.py --only growth    # the growth set alone (with 1, 2, 6b and their baselines)
    bench/run.py --only features  # the feature scenarios 9s, 9j, 9m, 9a (and 1, 2, 1j, 1m)

Results: a table on stdout, .build/bench/results.json and .build/bench/table.md.
"""
import argparse
import json
import os
import resource
import pathlib
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import configs as c  # noqa: E402
import growth  # noqa: E402
import identity  # noqa: E402
import probe  # noqa: E402
from ports import free_port  # noqa: E402
from rate_limit_service import RateLimitService  # noqa: E402

ROOT = c.ROOT
OUT = ROOT / ".build" / "bench"
ENVOY = ROOT / ".venv" / "bin" / "envoy"
MODULE = ROOT / "dist" / "mcp_policy_filter.wasm"
LUA = ROOT / "bench" / "request.lua"
ENVOY_CORE = "0"
LOAD_CORE = "1"
START_TIMEOUT = 60
CLK_TCK = os.sysconf("SC_CLK_TCK")
# A run during which other processes used more than this share of a core is
# measured again (at most MAX_RETRIES_PER_RUN times, MAX_RETRIES in all).
OTHER_CPU_LIMIT = 0.15
STEAL_LIMIT = 0.05
MAX_RETRIES_PER_RUN = 2
MAX_RETRIES = 6
# Envoy and wrk run at this nice level (root only): on a machine shared with
# other work they then keep their cores. It changes no CPU cost per request.
NICE = int(os.environ.get("BENCH_NICE", -10 if os.geteuid() == 0 else 0))


def niced(command):
    return ["nice", "-n", str(NICE)] + command if NICE else command


def raise_priority():
    """With the scheduler's autogroups, nice only orders processes of one
    session: the session of the bench (Envoy and wrk are its children) gets
    the same nice level against other sessions."""
    if NICE:
        try:
            pathlib.Path("/proc/self/autogroup").write_text(str(NICE))
        except OSError:
            pass


class BenchError(Exception):
    pass


def say(message):
    print(message, file=sys.stderr, flush=True)


def http(method, url, body=None, headers=None, timeout=10):
    request = urllib.request.Request(url, data=body.encode() if isinstance(body, str) else body,
                                     method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# --- gateways ------------------------------------------------------------------------

def upstream_responses(with_growth=False):
    responses = {
        "call": c.compact(c.CALL_RESULT),
        "list45": c.compact(c.afip_tools_list()),
        "list1300": c.compact(c.big_tools_list()),
        # Scenario 9s: initialize opens a session; a call on it must reach the
        # upstream with the upstream's own id (the seal opened and removed).
        "init": {"body": c.compact(c.INITIALIZE_RESULT), "headers": {"mcp-session-id": c.UPSTREAM_SESSION}},
        "session": {"body": c.compact(c.CALL_RESULT), "require": {"mcp-session-id": c.UPSTREAM_SESSION},
                    "otherwise": 409},
    }
    return responses | (growth.responses() if with_growth else {})


def gateway_specs(module=MODULE, before=None, before_legacy=False, jwks=None, pki=None, with_growth=False):
    """name -> (description, front filters[, options]); `before` adds scenario 2 on
    another build of the module, to compare two builds in one run
    (`before_legacy`: a build that takes no session_keys or counter_key).
    `jwks` and `pki` (bench/identity.py) are the feature scenarios'
    identities; options {"pki": pki} puts mTLS in front (identity.py)."""
    module = pathlib.Path(module).resolve()
    extra = growth.gateway_specs(module) if with_growth else {}
    if before is not None:
        before = pathlib.Path(before).resolve()
        extra["afip-before"] = ("filter as in afip, the --before module",
                                [c.wasm_filter(before, c.afip_config(), "afip-before", secrets=not before_legacy)])
    return extra | {
        "passthrough": ("Envoy, buffer filter, no policy", [c.BUFFER]),
        "floor": ("the issue's minimal Wasm filter (bench/hostcalls, minimal mode)",
                  [probe.probe_filter("minimal", 1)]),
        "afip": ("filter, seed policy + get_server_status", [c.wasm_filter(module, c.afip_config(), "afip")]),
        "afip-lean": ("filter, as afip with filter_state none",
                      [c.wasm_filter(module, c.afip_lean_config(), "afip-lean")]),
        "afip-hide": ("filter, seed policy + 3 hidden tools", [c.wasm_filter(module, c.afip_hide_config(), "afip-hide")]),
        "big": ("filter, 1,300-tool policy", [c.wasm_filter(module, c.big_config(), "big")]),
        "rate": ("filter, per-grant limit, 10,000 grants", [c.wasm_filter(module, c.rate_config(), "rate")]),
        "limit-local": ("filter, one limit counted in shared data",
                        [c.wasm_filter(module, c.one_limit_config("envoy"), "limit-local")]),
        "limit-cluster": ("filter, one limit counted by the rate-limit service",
                          [c.wasm_filter(module, c.one_limit_config("rate_limit_service"), "limit-cluster")]),
        "envoy-mcp": ("Envoy MCP filter + RBAC", c.mcp_rbac_filters(["get_server_status", "logout_instance"])),
        "jwt-pass": ("Envoy, jwt_authn + buffer filter, no policy", [identity.jwt_authn_filter(jwks), c.BUFFER]),
        "jwt": ("filter as in afip, a JWT grant, jwt_authn in front",
                [identity.jwt_authn_filter(jwks), c.wasm_filter(module, c.jwt_config(), "jwt")]),
        "mtls-pass": ("Envoy, mTLS front listener reached through a client listener, buffer filter, no policy",
                      [c.BUFFER], {"pki": pki}),
        "mtls": ("filter as in afip, an mTLS grant, front listener reached over mTLS",
                 [c.wasm_filter(module, c.mtls_config(), "mtls")], {"pki": pki}),
        "approval": ("filter, seed policy + create_invoice require_approval, approvals enabled",
                     [c.wasm_filter(module, c.approval_config(), "approval")]),
    }


# Gateways whose filter calls the rate-limit service (started for them).
SERVICE_GATEWAYS = {"limit-cluster"}


def process_ticks(pid):
    """utime + stime of a process (fields 14, 15 of /proc/<pid>/stat)."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


class Gateway:
    def __init__(self, name, description, filters, responses, workdir, pin, direct_route=None, rls_port=None,
                 pki=None):
        self.name = name
        self.description = description
        self.config_path = workdir / f"envoy-{name}.json"
        self.log_path = workdir / f"envoy-{name}.log"
        self.render = lambda: c.bootstrap(
            name, filters, self.listen_port, self.upstream_port, self.admin_port, responses,
            direct_route=True if direct_route is None else direct_route, rls_port=rls_port,
            pki=pki, client_port=self.client_port)
        # Processes that serve this gateway's requests besides Envoy (the
        # rate-limit service and its Redis): their CPU is reported apart.
        self.helpers = []
        self.pin = pin
        self.process = None
        self.pki = pki
        self.place()

    def place(self):
        """Picks the gateway's ports and writes its config."""
        self.listen_port = free_port()
        self.upstream_port = free_port()
        self.admin_port = free_port()
        # With mTLS in front, load and checks go to the plain client listener.
        self.client_port = free_port() if self.pki else None
        self.config_path.write_text(json.dumps(self.render(), indent=1))
        self.url = f"http://127.0.0.1:{self.client_port or self.listen_port}/mcp"
        self.admin = f"http://127.0.0.1:{self.admin_port}"

    def command(self, *extra):
        prefix = ["taskset", "-c", ENVOY_CORE] if self.pin else []
        return niced(prefix + [str(ENVOY), "-c", str(self.config_path), "--concurrency", "1",
                               "--disable-hot-restart", "--log-level", "warn",
                               "--component-log-level", "wasm:info", *extra])

    def validate(self):
        return subprocess.Popen(self.command("--mode", "validate"), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    def start(self):
        self.log = open(self.log_path, "w")
        # .venv/bin/envoy execs the binary: the pid is Envoy's.
        self.process = subprocess.Popen(self.command(), stdout=self.log, stderr=self.log)

    def wait_ready(self, attempts=3):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if attempts > 1 and "Address already in use" in self.log_tail():
                    # Another process took a port between picking and binding.
                    self.log.close()
                    self.place()
                    self.start()
                    return self.wait_ready(attempts - 1)
                raise BenchError(f"gateway {self.name} exited:\n{self.log_tail()}")
            try:
                if http("GET", self.admin + "/ready", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise BenchError(f"gateway {self.name} did not become ready:\n{self.log_tail()}")

    def log_tail(self):
        return self.log_path.read_text(errors="replace")[-3000:]

    def cpu_ticks(self):
        return process_ticks(self.process.pid)

    def helper_ticks(self):
        return sum(process_ticks(pid) for pid in self.helpers)

    def rss_kib(self):
        for line in pathlib.Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stats(self, prefix):
        _, body = http("GET", f"{self.admin}/stats?filter=^{prefix}")
        values = {}
        for line in body.decode().splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                values[name] = int(value)
        return values

    def post(self, body, token=c.TOKEN, response="call", headers=None):
        return http("POST", self.url, body, request_headers(token, response, headers))

    def post_with_headers(self, body, token=c.TOKEN, response="call", headers=None):
        """(status, response headers, body)"""
        request = urllib.request.Request(self.url, data=body.encode(), method="POST",
                                         headers=request_headers(token, response, headers))
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


def request_headers(token=c.TOKEN, response="call", extra=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-06-18", c.RESPONSE_HEADER: response}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers | (extra or {})


# --- scenarios -------------------------------------------------------------------------

def expect(condition, message):
    if not condition:
        raise BenchError(message)


def check_upstream_result(status, body, what):
    expect(status == 200 and json.loads(body) == c.CALL_RESULT,
           f"{what}: expected the upstream's result, got {status} {body[:300]!r}")


def check_denied(status, body, what, rule):
    reply = json.loads(body) if status == 200 else {}
    result = reply.get("result", {})
    expect(status == 200 and result.get("isError") is True
           and result["content"][0]["text"].startswith("[POLICY DENIED]")
           and result.get("_meta", {}).get("mcp-policy/rule") == rule,
           f"{what}: expected a policy denial by {rule}, got {status} {body[:300]!r}")


def tool_names(body):
    return [tool["name"] for tool in json.loads(body)["result"]["tools"]]


class Scenario:
    """`token`: the bearer token (None: no Authorization header); `headers`:
    more request headers (a verify step may set them, as 9s's session id);
    `growth`: part of the growth set (bench/growth.py, --growth)."""

    def __init__(self, key, label, gateway, body, response="call", tokens=None, status=200,
                 expect_text=c.UPSTREAM_MARKER, reject_text="", baseline="1", verify=None, after=None,
                 token=c.TOKEN, headers=None, growth=False):
        self.key = key
        self.token = token
        self.headers = dict(headers or {})
        self.growth = growth
        self.label = label
        self.gateway = gateway
        self.body = body
        self.response = response
        self.tokens = tokens
        self.status = status
        self.expect_text = expect_text
        self.reject_text = reject_text
        self.baseline = baseline
        self.verify = verify
        self.after = after
        self.runs = []


def verify_allowed(gateway, body, response="call"):
    def run():
        check_upstream_result(*gateway.post(body, response=response), f"{gateway.name}: allowed call")
    return run


def verify_list(gateway, response, must_keep, must_hide):
    def run():
        status, body = gateway.post(c.TOOLS_LIST, response=response)
        expect(status == 200, f"{gateway.name}: tools/list answered {status}")
        names = tool_names(body)
        upstream = tool_names(upstream_responses(with_growth=True)[response])
        expect(must_keep in names, f"{gateway.name}: tools/list lost {must_keep}")
        if must_hide:
            expect(must_hide not in names and len(names) < len(upstream),
                   f"{gateway.name}: tools/list still has {must_hide} ({len(names)} of {len(upstream)} tools)")
        else:
            expect(names == upstream, f"{gateway.name}: tools/list was changed")
    return run


def scenarios(gateways, workdir, service=None, jwt_key=None):
    g = gateways
    tokens = workdir / "tokens.txt"
    tokens.write_text("".join(f"{token}\n" for token in [c.TOKEN] + [c.rate_token(i) for i in range(1, c.RATE_GRANTS)]))

    def verify_big():
        gateway = g["big"]
        check_upstream_result(*gateway.post(c.HOT_CALL), "big: call with conditions and a limit")
        # The probe grant shares the hot tool's global counter (max 1000):
        # before any load it is admitted...
        check_upstream_result(*gateway.post(c.HOT_CALL, token=c.PROBE_TOKEN), "big: probe before load")
        denied = c.call(c.HOT_TOOL, {"point_of_sale": 3, "invoice_type": 6, "doc_type": 96, "currency": "PES",
                                     "amount_total": 9_000_000, "items": []})
        check_denied(*gateway.post(denied), "big: deny_if", f"/tools/{c.HOT_TOOL}/deny_if/0")

    def after_big():
        # ...and after a measured run it is refused: the load charged the counter.
        status, body = g["big"].post(c.HOT_CALL, token=c.PROBE_TOKEN)
        check_denied(status, body, "big: probe after load (the load must have charged the counter)",
                     f"/tools/{c.HOT_TOOL}/limits/{c.HOT_COUNTER}")

    def verify_rate():
        gateway = g["rate"]
        check_upstream_result(*gateway.post(c.ALLOWED_CALL), "rate: alice")
        check_upstream_result(*gateway.post(c.ALLOWED_CALL, token=c.rate_token(c.RATE_GRANTS - 1)), "rate: last grant")
        status, _ = gateway.post(c.ALLOWED_CALL, token="not-a-grant")
        expect(status == 401, f"rate: unknown token answered {status}")

    def verify_floor():
        gateway = g["floor"]
        verify_allowed(gateway, c.ALLOWED_CALL)()
        status, _ = gateway.post("not json")
        expect(status == 400, f"floor: an unreadable body answered {status}")

    def verify_denied():
        check_denied(*g["afip"].post(c.DENIED_CALL), "afip: denied call", "(default deny)")

    def verify_envoy_mcp():
        gateway = g["envoy-mcp"]
        check_upstream_result(*gateway.post(c.ALLOWED_CALL), "envoy-mcp: allowed tool")
        status, body = gateway.post(c.DENIED_CALL)
        expect(status == 403 and b"RBAC" in body, f"envoy-mcp: denied tool answered {status} {body[:200]!r}")
        status, body = gateway.post(c.ALLOWED_CALL, token="not-a-grant")
        expect(status == 403, f"envoy-mcp: unknown token answered {status}")
        status, body = http("POST", gateway.url, "not json", request_headers())
        expect(status >= 400, f"envoy-mcp: a non-MCP body answered {status} (REJECT_NO_MCP)")

    def verify_one_limit(name):
        def run():
            gateway = g[name]
            before = service.requests() if name in SERVICE_GATEWAYS else 0
            check_upstream_result(*gateway.post(c.ALLOWED_CALL), f"{name}: call with one limit")
            if name in SERVICE_GATEWAYS:
                expect(service.requests() == before + 1, f"{name}: the rate-limit service did not count the call")
        return run

    # --- the features of this round (issue 24): each against scenario 2 -------------
    session = Scenario("9s", "Filter as in 2, allowed call on a sealed session (Mcp-Session-Id)", "afip",
                       c.ALLOWED_CALL, response="session", baseline="2")

    def verify_sealed():
        gateway = g["afip"]
        status, headers, body = gateway.post_with_headers(c.INITIALIZE, response="init")
        sealed = headers.get("mcp-session-id", "")
        expect(status == 200 and json.loads(body) == c.INITIALIZE_RESULT,
               f"9s: initialize answered {status} {body[:300]!r}")
        expect(sealed.startswith(c.UPSTREAM_SESSION + ".") and len(sealed) > len(c.UPSTREAM_SESSION) + 16,
               f"9s: the session id was not sealed: {sealed!r}")
        # The upstream's route only answers a call carrying its own id: the
        # filter opened the seal (409 otherwise, also in every measured run).
        check_upstream_result(*gateway.post(c.ALLOWED_CALL, response="session", headers={"Mcp-Session-Id": sealed}),
                              "9s: call on the sealed session")
        status, _ = gateway.post(c.ALLOWED_CALL, response="session", headers={"Mcp-Session-Id": c.UPSTREAM_SESSION})
        expect(status == 404, f"9s: the bare upstream id answered {status}, not 404")
        status, _ = gateway.post(c.ALLOWED_CALL, response="session", headers={"Mcp-Session-Id": sealed},
                                 token="demo-token-bob")
        expect(status == 404, f"9s: alice's sealed id with bob's token answered {status}, not 404")
        session.headers["Mcp-Session-Id"] = sealed
    session.verify = verify_sealed

    jwt_token = jwt_key.token() if jwt_key else None

    def verify_jwt():
        gateway = g["jwt"]
        check_upstream_result(*gateway.post(c.ALLOWED_CALL, token=jwt_token), "9j: call with the JWT grant's token")
        status, _ = gateway.post(c.ALLOWED_CALL, token=jwt_key.token(scope="mcp:other"))
        expect(status == 403, f"9j: a token without the grant's scope answered {status}, not 403")
        status, _ = gateway.post(c.ALLOWED_CALL, token=jwt_token[:-4] + ("AAAA" if not jwt_token.endswith("AAAA") else "BBBB"))
        expect(status == 401, f"9j: a forged token answered {status}, not 401")

    def verify_jwt_pass():
        check_upstream_result(*g["jwt-pass"].post(c.ALLOWED_CALL, token=jwt_token), "1j: passthrough with jwt_authn")

    def verify_mtls(name):
        def run():
            gateway = g[name]
            check_upstream_result(*gateway.post(c.ALLOWED_CALL, token=None),
                                  f"{name}: call through the client listener (mTLS to the front listener)")
            # The front listener itself refuses a client without a certificate.
            context = ssl.create_default_context(cafile=gateway.pki.ca_path)
            context.check_hostname = False
            try:
                with socket.create_connection(("127.0.0.1", gateway.listen_port), timeout=5) as raw:
                    with context.wrap_socket(raw, server_hostname="localhost") as tls:
                        tls.sendall(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                        answered = tls.recv(100)
            except (ssl.SSLError, OSError):
                answered = b""
            expect(not answered.startswith(b"HTTP/1.1 2"),
                   f"{name}: the front listener served a client without a certificate: {answered!r}")
            if name == "mtls":
                # Without the mTLS grant there is no grant: alice's token alone is 401.
                status, _ = g["afip"].post(c.ALLOWED_CALL, token=None)
                expect(status == 401, f"afip: a call without a credential answered {status}")
        return run

    def verify_approval():
        gateway = g["approval"]
        status, body = gateway.post(c.APPROVAL_CALL, headers=c.APPROVAL_HEADERS)
        result = json.loads(body).get("result", {}) if status == 200 else {}
        question = result.get("inputRequests", {}).get("mcp-policy/approval", {})
        expect(result.get("resultType") == "input_required" and question.get("method") == "elicitation/create"
               and c.APPROVAL_TOOL in question.get("params", {}).get("message", "") and result.get("requestState"),
               f"9a: expected the input_required question, got {status} {body[:300]!r}")
        # A client that declared no elicitation cannot be asked: a denial.
        older = c.APPROVAL_CALL.replace('{"elicitation":{"form":{}}}', "{}")
        status, body = gateway.post(older, headers=c.APPROVAL_HEADERS)
        expect(status == 200 and b"cannot ask its user" in body,
               f"9a: a client without elicitation answered {status} {body[:300]!r}")

    features = [
        session,
        Scenario("1j", "Passthrough with Envoy's jwt_authn (RS256, local JWKS) in front, no policy", "jwt-pass",
                 c.ALLOWED_CALL, token=jwt_token, verify=verify_jwt_pass),
        Scenario("9j", "Filter as in 2, allowed call from a JWT grant, jwt_authn in front", "jwt", c.ALLOWED_CALL,
                 token=jwt_token, baseline="2", verify=verify_jwt),
        Scenario("1m", "Passthrough over mTLS: client listener ─mTLS▶ front listener, no policy", "mtls-pass",
                 c.ALLOWED_CALL, token=None, verify=verify_mtls("mtls-pass")),
        Scenario("9m", "Filter as in 2, allowed call from an mTLS grant (SPIFFE URI SAN), as 1m", "mtls",
                 c.ALLOWED_CALL, token=None, baseline="1m", verify=verify_mtls("mtls")),
        Scenario("9a", "Filter, approval-required call: the input_required reply (2026-07-28, elicitation)",
                 "approval", c.APPROVAL_CALL, headers=c.APPROVAL_HEADERS, expect_text='"input_required"',
                 baseline="2", verify=verify_approval),
    ]

    def allowed_on(name, body, response):
        return lambda: verify_allowed(g[name], body, response)()

    def list_on(name, response, keep, hide):
        return lambda: verify_list(g[name], response, keep, hide)()

    growth_set = growth.scenarios(Scenario, allowed_on, list_on)

    before = []
    if "afip-before" in g:
        before.append(Scenario("2-before", "Scenario 2 on the --before module", "afip-before", c.ALLOWED_CALL,
                               verify=verify_allowed(g["afip-before"], c.ALLOWED_CALL)))
    return before + [
        Scenario("0", "No upstream hop: Envoy alone, buffer filter + direct_response", "passthrough",
                 c.ALLOWED_CALL, response="direct", verify=verify_allowed(g["passthrough"], c.ALLOWED_CALL, "direct")),
        Scenario("1", "Passthrough: buffer filter, no policy (tools/call)", "passthrough", c.ALLOWED_CALL,
                 baseline=None, verify=verify_allowed(g["passthrough"], c.ALLOWED_CALL)),
        Scenario("1w", "Floor: minimal Wasm filter (body held, serde_json::Value parse, one CAS)", "floor",
                 c.ALLOWED_CALL, verify=verify_floor),
        Scenario("2", "Filter, seed policy + get_server_status: allowed call", "afip", c.ALLOWED_CALL,
                 verify=verify_allowed(g["afip"], c.ALLOWED_CALL)),
        Scenario("2n", "Filter as in 2, filter_state none (no filter state published)", "afip-lean",
                 c.ALLOWED_CALL, verify=verify_allowed(g["afip-lean"], c.ALLOWED_CALL)),
        Scenario("3", "Filter, 1,300-tool policy: call with 7 conditions + a global limit", "big", c.HOT_CALL,
                 verify=verify_big, after=after_big),
        Scenario("4a", "Filter, per-grant limit: 1 grant (one hot key)", "rate", c.ALLOWED_CALL,
                 verify=verify_rate),
        Scenario("4b", "Filter, per-grant limit: 10,000 grants (tokens rotate)", "rate", c.ALLOWED_CALL,
                 tokens=tokens, verify=verify_rate),
        Scenario("8a", "Filter, one limit counted in shared data: allowed call", "limit-local", c.ALLOWED_CALL,
                 verify=verify_one_limit("limit-local")),
        Scenario("8b", "Filter, one limit counted by the rate-limit service (mcp-policy-rls, Redis): allowed call",
                 "limit-cluster", c.ALLOWED_CALL, baseline="8a", verify=verify_one_limit("limit-cluster")),
        Scenario("5", "Filter, denied call (local reply)", "afip", c.DENIED_CALL,
                 expect_text="[POLICY DENIED]", verify=verify_denied),
        Scenario("1-list45", "Passthrough: tools/list, 45 tools (18 KB)", "passthrough", c.TOOLS_LIST,
                 response="list45", expect_text='"delete_instance"', baseline=None,
                 verify=verify_list(g["passthrough"], "list45", "delete_instance", None)),
        Scenario("6a", "Filter, tools/list, 45 tools, 3 hidden", "afip-hide", c.TOOLS_LIST, response="list45",
                 expect_text='"get_server_status"', reject_text='"delete_instance"', baseline="1-list45",
                 verify=verify_list(g["afip-hide"], "list45", "get_server_status", "delete_instance")),
        Scenario("1-list1300", "Passthrough: tools/list, 1,360 tools (680 KB)", "passthrough", c.TOOLS_LIST,
                 response="list1300", expect_text='"drop_table_0"', baseline=None,
                 verify=verify_list(g["passthrough"], "list1300", "drop_table_0", None)),
        Scenario("6b", "Filter, tools/list, 1,360 tools, 40 hidden", "big", c.TOOLS_LIST, response="list1300",
                 expect_text=f'"{c.HOT_TOOL}"', reject_text='"drop_table_0"', baseline="1-list1300",
                 verify=verify_list(g["big"], "list1300", c.HOT_TOOL, "drop_table_0")),
        Scenario("7", "Envoy MCP filter (REJECT_NO_MCP) + RBAC allow-list: allowed call", "envoy-mcp",
                 c.ALLOWED_CALL, verify=verify_envoy_mcp),
        # The issue's first measurements had no upstream hop: the front
        # listener answered itself. The same comparison in that topology:
        Scenario("1wd", "No upstream hop: minimal Wasm filter as in 1w, direct_response", "floor",
                 c.ALLOWED_CALL, response="direct", baseline="0",
                 verify=verify_allowed(g["floor"], c.ALLOWED_CALL, "direct")),
        Scenario("2d", "No upstream hop: filter as in 2, direct_response", "afip", c.ALLOWED_CALL,
                 response="direct", baseline="0", verify=verify_allowed(g["afip"], c.ALLOWED_CALL, "direct")),
        Scenario("7d", "No upstream hop: Envoy MCP filter + RBAC as in 7, direct_response", "envoy-mcp",
                 c.ALLOWED_CALL, response="direct", baseline="0",
                 verify=verify_allowed(g["envoy-mcp"], c.ALLOWED_CALL, "direct")),
    ] + features + growth_set


# --- measuring -------------------------------------------------------------------------

def core_busy_ticks(core):
    for line in pathlib.Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            values = [int(v) for v in line.split()[1:]]
            return sum(values) - values[3] - values[4]  # all but idle and iowait
    return 0


def core_steal_ticks(core):
    """Time the hypervisor gave this virtual CPU's physical core to other
    guests (the `steal` column of /proc/stat)."""
    for line in pathlib.Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            values = [int(v) for v in line.split()[1:]]
            return values[7] if len(values) > 7 else 0
    return 0


def wait_for_quiet(limit):
    """Waits (at most `limit` seconds) until other processes use less than
    OTHER_CPU_LIMIT of a core over 3 seconds."""
    deadline = time.monotonic() + limit
    while True:
        before = busy_ticks_all()
        time.sleep(3)
        busy = (busy_ticks_all() - before) / CLK_TCK / 3
        if busy < OTHER_CPU_LIMIT:
            return
        if time.monotonic() > deadline:
            say(f"bench: other processes keep {busy:.0%} of a core busy; measuring anyway "
                "(throughput will suffer; CPU per request much less)")
            return
        say(f"bench: other processes use {busy:.0%} of a core; waiting for the machine to be quiet")


def busy_ticks_all():
    """user + nice + system ticks of all cores (not irq/softirq: that is the traffic's)."""
    values = [int(v) for v in pathlib.Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return values[0] + values[1] + values[2]


def run_wrk(scenario, gateway, seconds, connections, workdir, pin):
    body_file = workdir / f"body-{scenario.key}.json"
    body_file.write_text(scenario.body)
    headers_file = workdir / f"headers-{scenario.key}.txt"
    headers = request_headers(scenario.token, scenario.response, scenario.headers)
    headers_file.write_text("".join(f"{name}: {value}\n" for name, value in headers.items()))
    env = dict(os.environ, BENCH_BODY_FILE=str(body_file), BENCH_HEADERS_FILE=str(headers_file),
               BENCH_STATUS=str(scenario.status), BENCH_EXPECT=scenario.expect_text,
               BENCH_REJECT=scenario.reject_text, BENCH_TOKENS_FILE=str(scenario.tokens or ""))
    command = niced((["taskset", "-c", LOAD_CORE] if pin else []) + [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), gateway.url])
    ticks_before = gateway.cpu_ticks()
    helpers_before = gateway.helper_ticks()
    core_before = core_busy_ticks(ENVOY_CORE)
    steal_before = core_steal_ticks(ENVOY_CORE)
    all_before = busy_ticks_all()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall_before = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    wall = time.monotonic() - wall_before
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (children.ru_utime + children.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    ticks = gateway.cpu_ticks() - ticks_before
    helper_ticks = gateway.helper_ticks() - helpers_before
    core_ticks = core_busy_ticks(ENVOY_CORE) - core_before
    steal_ticks = core_steal_ticks(ENVOY_CORE) - steal_before
    all_ticks = busy_ticks_all() - all_before
    line = next((line for line in done.stdout.splitlines() if line.startswith("BENCH_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"wrk failed for scenario {scenario.key}:\n{done.stdout}\n{done.stderr}")
    result = json.loads(line.split(" ", 1)[1])
    problems = []
    for field in ("connect_errors", "read_errors", "write_errors", "timeouts", "non_2xx_3xx", "mismatches"):
        if result[field]:
            problems.append(f"{result[field]} {field}")
    if scenario.status == 200 and result["checked"] < result["requests"]:
        problems.append(f"only {result['checked']} of {result['requests']} responses checked")
    if result["requests"] == 0:
        problems.append("no request completed")
    if problems:
        raise BenchError(f"scenario {scenario.key} ({scenario.label}): unexpected responses: "
                         + ", ".join(problems) + f"; first: {result['sample']!r}")
    requests = result["requests"]
    cpu_seconds = ticks / CLK_TCK
    result.update({
        "rps": requests / (result["duration_us"] / 1e6),
        "cpu_us_per_request": cpu_seconds * 1e6 / requests,
        "envoy_cpu_share": cpu_seconds / wall,
        "wrk_cpu_share": wrk_cpu / wall,
        # CPU used by anything but this Envoy and wrk (other processes on the
        # machine): a run where it is high is repeated.
        "other_cpu_share": max(0.0, (all_ticks - ticks - helper_ticks) / CLK_TCK - wrk_cpu) / wall,
        # The rate-limit service and its Redis, per request (scenario 8b).
        "helper_cpu_us_per_request": helper_ticks / CLK_TCK * 1e6 / requests,
        # Envoy's share of core 0's busy time: below ~0.9 something else ran there.
        "envoy_share_of_core": ticks / core_ticks if core_ticks else None,
        # Envoy's core given to other guests by the hypervisor: a run where
        # it is high is repeated too (their work also cools the caches).
        "steal_share": steal_ticks / CLK_TCK / wall,
        "rss_kib": gateway.rss_kib(),
    })
    return result


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(scenario_list, idle_rss, module_size):
    by_key = {s.key: s for s in scenario_list}
    rows = []
    pass_rss = idle_rss.get("passthrough")
    for s in scenario_list:
        runs = s.runs
        row = {
            "key": s.key, "label": s.label, "gateway": s.gateway, "rounds": len(runs),
            "body_bytes": len(s.body.encode()),
            "rps": median(r["rps"] for r in runs),
            "rps_all": [round(r["rps"]) for r in runs],
            "p50_ms": median(r["p50_us"] for r in runs) / 1000,
            "p99_ms": median(r["p99_us"] for r in runs) / 1000,
            "cpu_us_per_request": median(r["cpu_us_per_request"] for r in runs),
            "helper_cpu_us_per_request": median(r.get("helper_cpu_us_per_request") for r in runs),
            # What one core would do at this CPU cost per request: the
            # throughput with the machine to itself, robust to other load.
            "capacity_rps": 1e6 / median(r["cpu_us_per_request"] for r in runs),
            "envoy_share_of_core": min((r["envoy_share_of_core"] or 0) for r in runs),
            "other_cpu_max": max(r["other_cpu_share"] for r in runs),
            "rss_idle_mib": idle_rss[s.gateway] / 1024,
            "rss_peak_mib": max(r["rss_kib"] for r in runs) / 1024,
            "requests": sum(r["requests"] for r in runs),
        }
        if pass_rss is not None and s.gateway != "passthrough":
            row["rss_delta_mib"] = (idle_rss[s.gateway] - pass_rss) / 1024
        base = by_key.get(s.baseline) if s.baseline else None
        if base is not None and base.runs:
            # Ratios are taken round by round (adjacent runs), then the median.
            pairs = list(zip(runs, base.runs))
            row["ratio"] = median(r["rps"] / b["rps"] for r, b in pairs)
            row["p99_ratio"] = median(r["p99_us"] / b["p99_us"] for r, b in pairs)
            row["cpu_delta_us"] = median(r["cpu_us_per_request"] - b["cpu_us_per_request"] for r, b in pairs)
            row["capacity_ratio"] = median(b["cpu_us_per_request"] / r["cpu_us_per_request"] for r, b in pairs)
            row["p50_delta_ms"] = median(r["p50_us"] - b["p50_us"] for r, b in pairs) / 1000
            row["p99_delta_ms"] = median(r["p99_us"] - b["p99_us"] for r, b in pairs) / 1000
        elif s.baseline is None:
            row["ratio"] = 1.0
            row["capacity_ratio"] = 1.0
        rows.append(row)
    return {"module_bytes": module_size, "rows": rows}


def ratio_of(rows, key, base_key):
    by_key = {row["key"]: row for row in rows}
    if key not in by_key or base_key not in by_key:
        return None
    return by_key[key]["rps"] / by_key[base_key]["rps"]


def paired_ratio(runs_by_key, key, base, field="rps"):
    """Scenario `key` against `base`, round by round, then the median: by
    throughput, or by CPU per request (`field="cpu"`, base over key)."""
    a, b = runs_by_key.get(key), runs_by_key.get(base)
    if not a or not b:
        return None
    if field == "cpu":
        return median(y["cpu_us_per_request"] / x["cpu_us_per_request"] for x, y in zip(a, b))
    return median(x["rps"] / y["rps"] for x, y in zip(a, b))


# Issue 24's table: (label, key, base, target, floor key, reach): a ratio of
# `key` to `base` paired by round, its target (None: reported, no target) and,
# where the minimal Wasm filter bounds it, the floor's own ratio to `base`.
# `reach` "min": the ratio must be at least the target.
ISSUE_RATIOS = [
    ("scenario 2 (seed policy, allowed) / passthrough (1)", "2", "1", None, None),
    ("scenario 2 / the minimal Wasm filter (1w)", "2", "1w", 0.95, None),
    ("scenario 2 / Envoy MCP filter + RBAC (7), with the upstream hop", "2", "7", 0.90, "1w"),
    ("2d / 7d, no upstream hop", "2d", "7d", 1.90, "1wd"),
    ("scenario 3 (1,300 tools, 7 conditions) / scenario 2", "3", "2", 0.90, None),
    ("6a: tools/list of 45 tools, filtered / passed through (1-list45)", "6a", "1-list45", 0.70, None),
    ("6b: tools/list of 1,360 tools (680 KB), filtered / passed through (1-list1300)", "6b", "1-list1300", 0.50,
     None),
]
MODULE_TARGET_KIB = 512


def missed_by(value, target, at_most=False):
    """How far `value` is from `target`, in % of the target."""
    return 100 * ((value - target) if at_most else (target - value)) / target


def verdicts(summary, runs_by_key):
    """Every ratio of issue 24's table with its target and verdict: dicts with
    label, value, cpu (the same ratio by CPU per request), target, floor and
    verdict ("met", "MISSED by N%", "unreachable (floor 0.NN×)", "no target"
    or "not measured")."""
    lines = []
    for label, key, base, target, floor_key in ISSUE_RATIOS:
        value = paired_ratio(runs_by_key, key, base)
        cpu = paired_ratio(runs_by_key, key, base, "cpu")
        floor = paired_ratio(runs_by_key, floor_key, base) if floor_key else None
        if value is None:
            verdict = "not measured"
        elif target is None:
            verdict = "no target"
        elif floor is not None and floor < target:
            verdict = f"unreachable (floor {floor:.2f}×)"
        elif value >= target:
            verdict = "met"
        else:
            verdict = f"MISSED by {missed_by(value, target):.0f}%"
        lines.append({"label": label, "key": key, "base": base, "value": value, "cpu": cpu, "target": target,
                      "target_text": "—" if target is None else f"≥ {target:.2f}×", "floor_key": floor_key,
                      "floor": floor, "verdict": verdict})
    kib = summary["module_bytes"] / 1024
    lines.append({"label": "module size", "key": None, "base": None, "value": kib, "cpu": None,
                  "target": MODULE_TARGET_KIB, "target_text": f"≤ {MODULE_TARGET_KIB} KiB", "floor": None,
                  "verdict": "met" if kib <= MODULE_TARGET_KIB
                  else f"MISSED by {missed_by(kib, MODULE_TARGET_KIB, at_most=True):.0f}%"})
    return lines


def verdict_line(line):
    if line["label"] == "module size":
        value = f"{line['value']:.0f} KiB ({line['value'] * 1024:,.0f} bytes)"
    elif line["value"] is None:
        value = "–"
    else:
        value = f"{line['value']:.2f}× ({line['cpu']:.2f}× by CPU per request)"
    floor = (f"; the floor ({line['floor_key']}) is at {line['floor']:.2f}×"
             if line.get("floor") is not None and not line["verdict"].startswith("unreachable") else "")
    if line["target"] is None:
        return f"ratio: {line['label']}: {value}; no target"
    return f"target: {line['label']}: {value}; target {line['target_text']}: {line['verdict']}{floor}"


def features(summary, runs_by_key):
    """The feature scenarios against scenario 2, paired by round, with their
    latency; 9m also against its own topology's passthrough (1m)."""
    rows = {row["key"]: row for row in summary["rows"]}
    found = []
    for key, what in (("9s", "allowed call on a sealed session"), ("9j", "allowed call from a JWT grant"),
                      ("9m", "allowed call from an mTLS grant"), ("9a", "approval-required call (input_required)")):
        if key not in rows or "2" not in rows:
            continue
        row = rows[key]
        feature = {"key": key, "what": what, "ratio_to_2": paired_ratio(runs_by_key, key, "2"),
                   "cpu_ratio_to_2": paired_ratio(runs_by_key, key, "2", "cpu"),
                   "p50_ms": row["p50_ms"], "p99_ms": row["p99_ms"],
                   "p50_ms_2": rows["2"]["p50_ms"], "p99_ms_2": rows["2"]["p99_ms"],
                   "cpu_delta_to_2_us": median(a["cpu_us_per_request"] - b["cpu_us_per_request"]
                                               for a, b in zip(runs_by_key[key], runs_by_key["2"]))}
        own_base = {"9j": "1j", "9m": "1m"}.get(key)
        if own_base in rows and "1" in rows:
            # 9j and 9m also pay Envoy's own work for the identity (jwt_authn;
            # the client listener and TLS both ways), which their passthrough
            # (1j, 1m) pays too. The filter's own CPU over that passthrough,
            # put on scenario 2's topology: CPU(2) / (CPU(1) + CPU(9x) -
            # CPU(1x)), round by round.
            runs = zip(runs_by_key[key], runs_by_key[own_base], runs_by_key["2"], runs_by_key["1"])
            feature.update({
                "own_base": own_base,
                "ratio_to_own_base": paired_ratio(runs_by_key, key, own_base),
                "own_base_to_1": paired_ratio(runs_by_key, own_base, "1"),
                "filter_cpu_us": median(x["cpu_us_per_request"] - base["cpu_us_per_request"]
                                        for x, base in zip(runs_by_key[key], runs_by_key[own_base])),
                "filter_cpu_us_2": rows["2"].get("cpu_delta_us"),
                "equivalent_to_2": median(two["cpu_us_per_request"] / (one["cpu_us_per_request"]
                                                                      + x["cpu_us_per_request"] - base["cpu_us_per_request"])
                                          for x, base, two, one in runs),
            })
        found.append(feature)
    return found


def feature_line(f):
    line = (f"feature {f['key']}, {f['what']}: {f['ratio_to_2']:.2f}× scenario 2 "
            f"({f['cpu_ratio_to_2']:.2f}× by CPU, {f['cpu_delta_to_2_us']:+.1f} µs/req); "
            f"p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms (2: {f['p50_ms_2']:.2f}, {f['p99_ms_2']:.2f})")
    if f.get("own_base"):
        line += (f"; {f['ratio_to_own_base']:.2f}× its own passthrough {f['own_base']} (itself "
                 f"{f['own_base_to_1']:.2f}× of 1); the filter's own CPU {f['filter_cpu_us']:+.1f} µs/req over "
                 f"{f['own_base']} against 2's {f['filter_cpu_us_2']:+.1f} over 1, so on scenario 2's topology "
                 f"{f['equivalent_to_2']:.2f}× scenario 2 by CPU")
    return line


def references(runs_by_key):
    """Not targets: where scenario 2d stands against the issue's minimal
    filter without the hop (1wd), and scenario 2 against the --before build, as (label,
    throughput ratio, CPU ratio)."""
    pairs = (("2d", "1wd", "the minimal Wasm filter 1wd"),
             ("2", "2-before", "the --before module (2-before)"))
    return [(f"scenario {key} against {what}",
             paired_ratio(runs_by_key, key, base), paired_ratio(runs_by_key, key, base, "cpu"))
            for key, base, what in pairs if runs_by_key.get(key) and runs_by_key.get(base)]


def fmt(value, spec, missing="–"):
    return missing if value is None else format(value, spec)


def table(summary):
    header = ("| # | scenario | body B | req/s | × pass | p50 ms | p99 ms | p99 × pass | CPU µs/req "
              "| Δ CPU µs/req | 1e6/CPU µs (× pass) | RSS MiB idle (Δ pass) / peak |")
    lines = [header, "|" + "---|" * 12]
    for row in summary["rows"]:
        rss = fmt(row["rss_idle_mib"], ".0f")
        if "rss_delta_mib" in row:
            rss += f" ({row['rss_delta_mib']:+.1f})"
        rss += f" / {row['rss_peak_mib']:.0f}"
        lines.append(
            f"| {row['key']} | {row['label']} | {row['body_bytes']} | {row['rps']:,.0f} | {fmt(row.get('ratio'), '.2f')} "
            f"| {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {fmt(row.get('p99_ratio'), '.2f')} "
            f"| {row['cpu_us_per_request']:.1f} | {fmt(row.get('cpu_delta_us'), '+.1f')} "
            f"| {row['capacity_rps']:,.0f} ({fmt(row.get('capacity_ratio'), '.2f')}) | {rss} |")
    return "\n".join(lines)


def machine():
    """What the numbers were measured on."""
    def run(*command):
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=ROOT).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    lscpu = dict(line.split(":", 1) for line in run("lscpu").splitlines() if ":" in line)
    memory = next((line.split()[1] for line in pathlib.Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), "0")
    version = run(str(ENVOY), "--version").rsplit("version:", 1)[-1].strip()
    dirty = run("git", "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock")
    return {
        "cpu": lscpu.get("Model name", "?").strip(),
        "cpus": os.cpu_count(),
        "hypervisor": lscpu.get("Hypervisor vendor", "none").strip(),
        "memory_gib": round(int(memory) / 1024 / 1024, 1),
        "kernel": os.uname().release,
        "envoy": version,
        "wrk": " ".join(run("wrk", "--version").split()[:2]) or "?",
        "git": os.environ.get("MCP_POLICY_GIT_REVISION")
        or (run("git", "rev-parse", "--short=12", "HEAD") + (" + uncommitted src changes" if dirty else "")) or "unknown",
    }


# --- main -----------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="each scenario ~1 s, 1 round, no warm-up: checks only")
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 8)))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)))
    parser.add_argument("--warmup", type=int, default=int(os.environ.get("BENCH_WARMUP", 1)))
    parser.add_argument("--connections", type=int, default=int(os.environ.get("BENCH_CONNECTIONS", 16)))
    parser.add_argument("--wait-quiet", type=int, default=int(os.environ.get("BENCH_WAIT_QUIET", 60)),
                        help="seconds to wait, at most, for other processes to leave the CPUs idle first")
    parser.add_argument("--only", help="comma-separated scenario keys (e.g. 1,2,7), or the groups "
                                       "features (9s, 9j, 9m, 9a) and growth (the growth set)")
    parser.add_argument("--growth", action="store_true", default=os.environ.get("BENCH_GROWTH") == "1",
                        help="also measure the growth set (body size, conditions, list size; bench/growth.py)")
    parser.add_argument("--module", default=os.environ.get("BENCH_MODULE", str(MODULE)),
                        help="the Wasm module to measure (default dist/mcp_policy_filter.wasm)")
    parser.add_argument("--before", default=os.environ.get("BENCH_BEFORE"),
                        help="another build of the module: scenario 2 also runs on it (2-before), "
                             "and the paired ratio of the two is reported")
    parser.add_argument("--before-legacy", action="store_true",
                        help="the --before module predates session_keys and counter_key (git 03d4a5d and "
                             "older): its configuration has neither")
    args = parser.parse_args()
    if args.smoke:
        # The smoke run checks every scenario, the growth set's too.
        args.seconds, args.rounds, args.warmup, args.wait_quiet, args.growth = 1, 1, 0, 0, True

    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} is missing; run scripts/setup.sh bench")
    module = pathlib.Path(args.module)
    if not module.exists():
        raise SystemExit(f"bench: {module} is missing; run make build")
    pin = len(os.sched_getaffinity(0)) >= 2 and {0, 1} <= os.sched_getaffinity(0)
    if not pin:
        say("bench: fewer than 2 usable cores: Envoy and wrk are not pinned, ratios mean little")

    OUT.mkdir(parents=True, exist_ok=True)
    workdir = OUT
    wanted = set(args.only.split(",")) if args.only else None
    with_growth = args.growth or bool(wanted and "growth" in wanted)
    responses = upstream_responses(with_growth)
    jwt_key = identity.JwtKey()
    pki = identity.Pki(workdir / "pki")
    specs = gateway_specs(module, args.before, args.before_legacy, jwt_key.jwks, pki, with_growth)
    try:
        service, service_missing = RateLimitService(workdir), None
    except SystemExit as missing:
        # Needed only if a scenario of the run counts a limit by it.
        service, service_missing = None, missing
    gateways = {name: Gateway(name, spec[0], spec[1], responses, workdir, pin,
                              rls_port=(service.grpc_port if service else free_port())
                              if name in SERVICE_GATEWAYS else None,
                              **(spec[2] if len(spec) > 2 else {}))
                for name, spec in specs.items()}
    scenario_list = scenarios(gateways, workdir, service, jwt_key)
    if not with_growth:
        scenario_list = [s for s in scenario_list if not s.growth]
    if wanted:
        groups = {"features": {"9s", "1j", "9j", "1m", "9m", "9a"},
                  "growth": {s.key for s in scenario_list if s.growth} | {"2", "6b"}}
        for group, keys in groups.items():
            if group in wanted:
                wanted = (wanted - {group}) | keys
        unknown = wanted - {s.key for s in scenario_list}
        if unknown:
            raise SystemExit(f"bench: unknown scenarios {sorted(unknown)}")
        by_key = {s.key: s for s in scenario_list}
        # Baselines, and theirs (9j -> 2 -> 1).
        while True:
            more = {by_key[key].baseline for key in wanted if by_key[key].baseline} - wanted
            if not more:
                break
            wanted |= more
        scenario_list = [s for s in scenario_list if s.key in wanted]
    used = {s.gateway for s in scenario_list}
    gateways = {name: gw for name, gw in gateways.items() if name in used}
    if not used & SERVICE_GATEWAYS:
        service = None
    elif service is None:
        raise service_missing
    if "floor" in gateways:
        say("bench: building the probe module for the floor scenarios (bench/hostcalls)")
        probe.build()

    raise_priority()
    if args.wait_quiet:
        wait_for_quiet(args.wait_quiet)
    started = time.monotonic()
    try:
        # Every config passes `envoy --mode validate` (the Wasm ones run on_configure).
        validations = {name: gw.validate() for name, gw in gateways.items()}
        for name, process in validations.items():
            output, _ = process.communicate(timeout=120)
            if process.returncode != 0:
                raise BenchError(f"envoy --mode validate rejected the {name} config:\n{output[-3000:]}")
        say(f"bench: {len(gateways)} configs pass envoy --mode validate")
        if service is not None:
            service.start()
            say(f"bench: the rate-limit service ({service.binary.relative_to(ROOT)}) and its Redis are ready")
            for name in gateways.keys() & SERVICE_GATEWAYS:
                gateways[name].helpers = service.pids()
        for gateway in gateways.values():
            gateway.start()
        for gateway in gateways.values():
            gateway.wait_ready()
        say(f"bench: {len(gateways)} gateways ready ({time.monotonic() - started:.0f} s); "
            f"{len(scenario_list)} scenarios x {args.rounds} rounds x {args.seconds} s, "
            f"{args.connections} connections")
        for scenario in scenario_list:
            scenario.verify()
        say("bench: every scenario answers as expected")
        # Memory with the configuration loaded and every path taken once, before load.
        idle_rss = {name: gw.rss_kib() for name, gw in gateways.items()}

        retries_left = MAX_RETRIES
        for round_index in range(args.rounds):
            for scenario in scenario_list:
                gateway = gateways[scenario.gateway]
                for attempt in range(1 + MAX_RETRIES_PER_RUN):
                    if args.warmup:
                        run_wrk(scenario, gateway, args.warmup, args.connections, workdir, pin)
                    result = run_wrk(scenario, gateway, args.seconds, args.connections, workdir, pin)
                    busy = result["other_cpu_share"] > OTHER_CPU_LIMIT
                    stolen = result["steal_share"] > STEAL_LIMIT
                    if args.smoke or not (busy or stolen) or retries_left == 0:
                        break
                    retries_left -= 1
                    say(f"bench: other processes used {result['other_cpu_share']:.0%} of a core and the "
                        f"hypervisor took {result['steal_share']:.0%} of core {ENVOY_CORE} during "
                        f"{scenario.key}; measuring it again")
                result["attempts"] = attempt + 1
                scenario.runs.append(result)
                if scenario.after:
                    scenario.after()
                share = result["envoy_share_of_core"]
                say(f"bench: round {round_index + 1}/{args.rounds} {scenario.key:>10}: "
                    f"{result['rps']:>9,.0f} req/s  p50 {result['p50_us'] / 1000:.2f} ms  "
                    f"p99 {result['p99_us'] / 1000:.2f} ms  {result['cpu_us_per_request']:.1f} CPU µs/req  "
                    f"envoy {result['envoy_cpu_share']:.0%} of a core, wrk {result['wrk_cpu_share']:.0%}, "
                    f"others {result['other_cpu_share']:.0%}, stolen {result['steal_share']:.0%}"
                    + (f" ({share:.0%} of core {ENVOY_CORE}'s busy time)" if share is not None else ""))
        wasm_stats = {name: gw.stats("wasm") for name, gw in gateways.items() if name not in ("passthrough", "envoy-mcp")}
    finally:
        for gateway in gateways.values():
            gateway.stop()
        if service is not None:
            service.stop()

    summary = summarize(scenario_list, idle_rss, module.stat().st_size)
    summary.update({"machine": machine(), "module": str(module), "nice": NICE, "seconds": args.seconds, "rounds": args.rounds, "warmup": args.warmup,
                    "connections": args.connections, "smoke": args.smoke, "pinned": pin,
                    "elapsed_s": round(time.monotonic() - started), "wasm_stats": wasm_stats,
                    "runs": {s.key: s.runs for s in scenario_list}})
    runs_by_key = {s.key: s.runs for s in scenario_list}
    checks = verdicts(summary, runs_by_key)
    summary["targets"] = checks
    refs = references(runs_by_key)
    summary["references"] = [{"comparison": label, "ratio": ratio, "cpu_ratio": cpu} for label, ratio, cpu in refs]
    summary["features"] = features(summary, runs_by_key)
    summary["growth"] = growth.report(summary, runs_by_key)
    (OUT / "results.json").write_text(json.dumps(summary, indent=1))
    text = table(summary)
    if summary["growth"]:
        text += "\n\n" + growth.table(summary["growth"])
    (OUT / "table.md").write_text(text + "\n")

    m = summary["machine"]
    print(f"\n{m['cpu']}, {m['cpus']} CPUs ({m['hypervisor']}), {m['memory_gib']} GiB, Linux {m['kernel']}; "
          f"Envoy {m['envoy']}; {m['wrk']}; git {m['git']}")
    print(f"{module.name}: {summary['module_bytes']:,} bytes "
          f"({summary['module_bytes'] / 1024:.0f} KiB); Envoy --concurrency 1 on core {ENVOY_CORE}, "
          f"wrk -t1 -c{args.connections} on core {LOAD_CORE}; {args.rounds} x {args.seconds} s, medians"
          + ("  [SMOKE RUN: numbers are not measurements]" if args.smoke else ""))
    print(text)
    print()
    if summary["growth"]:
        for line in growth.slopes(summary["growth"]):
            print(line)
    for feature in summary["features"]:
        print(feature_line(feature))
    for label, ratio, cpu in refs:
        print(f"reference: {label}: {ratio:.3f}x measured, {cpu:.3f}x by CPU per request")
    for line in checks:
        print(verdict_line(line))
    rows = {row["key"]: row for row in summary["rows"]}
    if "8b" in rows and rows["8b"].get("ratio") is not None:
        row = rows["8b"]
        print(f"cluster-wide limit (8b) against a shared-data limit (8a): throughput {row['ratio']:.2f}×, "
              f"p50 {row['p50_delta_ms']:+.2f} ms, p99 {row['p99_delta_ms']:+.2f} ms (the RLS round trip); "
              f"Envoy CPU {row['cpu_delta_us']:+.1f} µs/req, the service and Redis "
              f"{row['helper_cpu_us_per_request']:.1f} µs/req")
    if "2" in rows and rows["2"].get("ratio") is not None:
        print(f"filter/passthrough throughput: {rows['2']['ratio']:.2f}×")
    return 0


def interrupted(signum, _frame):
    raise BenchError(f"stopped by signal {signum}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, interrupted)
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"bench: FAILED: {error}", file=sys.stderr)
        sys.exit(1)
