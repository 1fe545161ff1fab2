#!/usr/bin/env python3
"""Issue 17's attacks ("no grant can hurt another") against one build of the
module, in real Envoy (.venv/bin/envoy, one worker) in front of the
afip-double, on free loopback ports; each attack gets a fresh Envoy and double.
alice holds one valid token and attacks; other grants are the victims.

  sessions          alice sends denied tools/calls, each with a new made-up
                    Mcp-Session-Id, in batches (--batch); after each batch bob
                    opens 5 new sessions (initialize, initialized, tools/call),
                    50 more when all 5 fail, and 50 at the end.
  sessions-crafted  the same, with the first 65,536 ids crafted to take one
                    slot each of git 03d4a5d's session table.
  counters          alice calls a tool limited per `header:x-team`, with a new
                    x-team value per call, answered 400 (so refunded, as in
                    the issue) by a direct_response route of Envoy's, not by
                    the afip-double, which is too slow; after each batch a victim grant that has not
                    called yet calls its grant-limited tool and its globally
                    limited tool 5 times each: each limit must admit exactly 3.
  counters-kept     the same, with the calls answered by a result (no refund).
  slow-bodies       200 connections without a token: headers with
                    Content-Length 1,040,000, all of the body but 64 bytes,
                    then a byte a second; Envoy's VmRSS, and when (and after
                    how many body bytes) each connection is answered.
  slow-bodies-granted  the same with alice's token: what a grant can still hold.
  slow-bodies-h2    one HTTP/2 connection opening 500 such streams without a
                    token (as many at once as Envoy allows), each as above:
                    Envoy's VmRSS, and when each stream is answered.
  timeouts          the route times out after 1 s; alice calls a tool limited
                    to 3 per day that takes 2 s, 6 times, then 5 times more
                    without the delay: how many calls the upstream received,
                    against the max of 3.
  decide            1 MiB tools/calls (one string argument) to a tool with no
                    conditions and to one with 7 (the last a regex over the
                    string), and for a module with max_regex_subject_bytes
                    the 7 with that cap raised to 1 MiB: the filter's
                    decide_us from the audit log.

A session flood stops once 55 of bob's new sessions in a row fail (5 probes
after a batch, then 50 more), a counter flood at the first victim whose limits
do not admit exactly 3, and either at --cap attacker requests (as counted by
Envoy) at most: a victim still served at the cap was "not locked out after
--cap requests".

    .venv/bin/python bench/attacks.py                     # dist/mcp_policy_filter.wasm
    .venv/bin/python bench/attacks.py --module OLD/dist/mcp_policy_filter.wasm \\
        --legacy --template OLD/envoy/demo.yaml           # a build from before session_keys
    .venv/bin/python bench/attacks.py --only decide --criterion

--criterion also runs this tree's criterion group decide_1MiB_body. A
measurement, not a test (not in `make test`): about 7 minutes for the current
module (docs/benchmarks.md, "Attacks").
"""
import argparse
import concurrent.futures
import contextlib
import hashlib
import json
import os
import pathlib
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import harness  # noqa: E402

LUA = ROOT / "bench" / "flood.lua"
ALICE, BOB = "demo-token-alice", "demo-token-bob"
VICTIM_MAX = 3
PROTOCOL = "2025-06-18"
# The 7 conditions of the criterion group decide_1MiB_body: all hold but the
# regex, which scans the whole string (or is refused by a length cap).
CONDITIONS = [
    {"path": "args.number", "op": "in", "value": ["1", "2"]},
    {"path": "args.text", "op": "exists", "value": True},
    {"path": "args.text", "op": "neq", "value": "x"},
    {"path": "args.text", "op": "not_in", "value": ["x", "y"]},
    {"path": "request.grant", "op": "eq", "value": "alice"},
    {"path": "args.text", "op": "contains", "value": "aaaa"},
    {"path": "args.text", "op": "regex", "value": "(?i)wire .* transfer"},
]
POLICY = {
    "version": "1",
    "default": "deny",
    "tools": {
        "get_server_status": {},
        "list_invoice_types": {"limits": [
            {"counter": "per_team", "window": "hour", "max": 1000, "scope": "header:x-team"}]},
        "send_text": {"require": CONDITIONS},
        # No conditions: decide's other case.
        "send_image": {},
        # timeouts: limited to 3 per day for everyone.
        "check_number": {"limits": [{"counter": "slow_checks", "window": "day", "max": 3, "scope": "global"}]},
    },
}
OLD_SESSION_SLOTS = 65_536


class AttackError(Exception):
    pass


def say(message):
    print(message, file=sys.stderr, flush=True)


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def victim_policy(index):
    """A victim's own policy: a grant-scoped limit and a global limit of its
    own, so that each probe needs counters nobody has used yet."""
    return {"version": "1", "default": "deny", "tools": {
        "check_number": {"limits": [{"counter": "checks", "window": "hour", "max": VICTIM_MAX, "scope": "grant"}]},
        "get_contacts": {"limits": [{"counter": f"contacts_{index}", "window": "hour", "max": VICTIM_MAX,
                                     "scope": "global"}]},
    }}


def configuration(legacy, victims=0, **settings):
    """The filter's configuration: alice and bob on POLICY, and `victims`
    grants victim-<i> (token victim-token-<i>) on their own policies. A legacy
    module (git 03d4a5d) has no session_keys or counter_key: it kept a session
    table instead, and its counters' hash had no key. `settings`: more wrapper
    settings (only for a current module)."""
    grants = [{"name": "alice", "token_sha256": [token_hash(ALICE)]},
              {"name": "bob", "token_sha256": [token_hash(BOB)]}]
    grants += [{"name": f"victim-{i}", "token_sha256": [token_hash(f"victim-token-{i}")], "policy": f"victim-{i}"}
               for i in range(victims)]
    config = {"policy": POLICY, "grants": grants, "policies": {f"victim-{i}": victim_policy(i) for i in range(victims)}}
    if legacy and settings:
        raise AttackError(f"a legacy module takes none of {sorted(settings)}")
    return json.dumps(config if legacy else harness.wrapper_config(POLICY, grants, policies=config["policies"],
                                                                   **settings))


@contextlib.contextmanager
def stack(args, directory, victims=0, mutate=None, **settings):
    """The afip-double behind Envoy with the module under test; both stopped on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    double = harness.AfipDouble(directory / "double.log", json_response=True)
    try:
        gateway = harness.Gateway(directory, double.port, configuration(args.legacy, victims, **settings),
                                  module=args.module, template=args.template, mutate=mutate)
        try:
            yield double, gateway
        finally:
            gateway.stop()
    finally:
        double.stop()


# --- requests ---------------------------------------------------------------------------

def headers(token, session=None):
    all_headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "MCP-Protocol-Version": PROTOCOL}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    if session:
        all_headers["Mcp-Session-Id"] = session
    return all_headers


def post(gateway, token, message, session=None):
    return harness.http("POST", gateway.url, json.dumps(message), headers(token, session))


def tool_call(name, arguments, id=1):
    return harness.rpc("tools/call", {"name": name, "arguments": arguments}, id=id)


def initialize(gateway, token):
    """A new session's (sealed) id, or None when the gateway refused it."""
    status, response_headers, _ = post(gateway, token, harness.rpc("initialize", harness.initialize_params(), id=0))
    session = response_headers.get("mcp-session-id")
    if status != 200 or not session:
        return None
    status, _, _ = post(gateway, token, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    return session if status in (200, 202) else None


def succeeded(response):
    """Whether a tools/call got a result that is no policy refusal."""
    status, _, body = response
    if status != 200:
        return False
    message = harness.response_messages(response)[0]
    return "result" in message and not message["result"].get("isError")


def envoy_requests(gateway):
    _, _, body = harness.http("GET", gateway.admin + "/stats?filter=^http\\.mcp\\.downstream_rq_total$")
    return int(body.decode().split(":")[1])


def flood(gateway, count, header, prefix, message, token, values=(), mark="POLICY DENIED"):
    """`count` requests from wrk (one thread, 8 connections), each with its own
    `header` value (`values` first, then prefix + a sequence number); returns
    {"requests": as counted by Envoy, "marked": responses containing `mark`,
    "statuses": {status: n}}."""
    with tempfile.TemporaryDirectory(prefix="attacks-") as directory:
        directory = pathlib.Path(directory)
        (directory / "body.json").write_text(json.dumps(message))
        (directory / "headers.txt").write_text("".join(f"{k}: {v}\n" for k, v in headers(token).items()))
        (directory / "values.txt").write_text("".join(f"{value}\n" for value in values))
        env = dict(os.environ, FLOOD_BODY_FILE=str(directory / "body.json"),
                   FLOOD_HEADERS_FILE=str(directory / "headers.txt"), FLOOD_HEADER=header,
                   FLOOD_VALUES_FILE=str(directory / "values.txt"), FLOOD_PREFIX=prefix,
                   FLOOD_COUNT=str(count), FLOOD_MARK=mark)
        before = envoy_requests(gateway)
        process = subprocess.Popen(["wrk", "-t1", "-c8", "-d300s", "--timeout", "10s", "-s", str(LUA), gateway.url],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            output = []
            for line in process.stdout:
                output.append(line)
                if line.startswith("FLOOD_DONE"):
                    process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        result = next((json.loads(line.split(" ", 1)[1]) for line in output if line.startswith("FLOOD_RESULT ")), None)
        if result is None or result["responses"] < count:
            raise AttackError("wrk did not complete the flood:\n" + "".join(output)[-2000:])
        return {"requests": envoy_requests(gateway) - before, "marked": result["marked"],
                "statuses": {int(k): v for k, v in result["statuses"].items()}}


# --- 1. session flood ---------------------------------------------------------------------

def old_session_slot(session_id):
    """The slot of git 03d4a5d's session table where `session_id` is bound
    first: FNV-1a 64 (no seed) of "s\\x1f" + id, modulo 65,536; the next 3
    slots are its other candidates."""
    value = 0xcbf2_9ce4_8422_2325
    for byte in b"s\x1f" + session_id.encode():
        value = ((value ^ byte) * 0x0000_0100_0000_01b3) & 0xFFFF_FFFF_FFFF_FFFF
    return value % OLD_SESSION_SLOTS


def crafted_session_ids():
    """65,536 made-up ids, one per slot of the old table, in slot order: each
    takes a slot nobody else holds, so that the table fills in one pass."""
    by_slot = {}
    index = 0
    while len(by_slot) < OLD_SESSION_SLOTS:
        session_id = f"crafted-{index:x}"
        by_slot.setdefault(old_session_slot(session_id), session_id)
        index += 1
    return [by_slot[slot] for slot in range(OLD_SESSION_SLOTS)]


def victim_sessions(gateway, count):
    """How many of `count` new sessions of bob's work: initialize,
    notifications/initialized and a tools/call in the session."""
    works = 0
    for index in range(count):
        session = initialize(gateway, BOB)
        works += bool(session) and succeeded(post(gateway, BOB, tool_call("get_server_status", {}, id=index), session))
    return works


def session_flood(args, directory, crafted):
    ids = crafted_session_ids() if crafted else []
    denied = tool_call("delete_instance", {"instance": "victim"}, id=7)
    with stack(args, directory) as (_, gateway):
        sent, used_ids, first_failure, locked_out, statuses = 0, 0, None, None, {}
        while sent < args.cap and locked_out is None:
            batch = min(args.batch, args.cap - sent)
            result = flood(gateway, batch, "Mcp-Session-Id", f"made-up-{sent}-", denied, ALICE,
                           values=ids[used_ids:used_ids + batch])
            used_ids += batch
            sent += result["requests"]
            for status, n in result["statuses"].items():
                statuses[status] = statuses.get(status, 0) + n
            works = victim_sessions(gateway, 5)
            say(f"attacks: sessions{' (crafted)' if crafted else ''}: {sent:,} attacker requests "
                f"{result['statuses']}: bob's new sessions {works}/5")
            if works < 5 and first_failure is None:
                first_failure = sent
            if works == 0 and victim_sessions(gateway, 50) == 0:
                locked_out = sent
        final = victim_sessions(gateway, 50)
        if final < 50 and first_failure is None:
            first_failure = sent
    return {"attacker_requests": sent, "attacker_statuses": statuses, "first_victim_failure": first_failure,
            "victim_locked_out": locked_out, "victim_sessions_after": final}


# --- 2. counter flood ---------------------------------------------------------------------

def victim_limits(gateway, double, index):
    """Victim-<index>'s first calls: 5 to its grant-limited tool and 5 to its
    globally limited one (each max 3); how many of each were admitted, and
    how many reached the upstream."""
    token = f"victim-token-{index}"
    session = initialize(gateway, token)
    if session is None:
        raise AttackError(f"victim-{index} could not initialize")
    double.reset()
    admitted = {}
    for tool, arguments in (("check_number", {"instance": "i", "numbers": ["1"]}),
                            ("get_contacts", {"instance": "i"})):
        admitted[tool] = sum(succeeded(post(gateway, token, tool_call(tool, arguments, id=i), session))
                             for i in range(VICTIM_MAX + 2))
    upstream = {tool: len(double.calls(tool)) for tool in admitted}
    return {"grant_limit_admitted": admitted["check_number"], "global_limit_admitted": admitted["get_contacts"],
            "upstream": upstream}


def answer_attacker_calls(status, message):
    """A route ahead of the upstream's: requests with an x-team header are
    answered by Envoy itself with `status` and `message` (the afip-double
    manages some 600 requests a second here, Envoy several times that)."""
    def mutate(config):
        hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
        hcm["route_config"]["virtual_hosts"][0]["routes"].insert(0, {
            "match": {"prefix": "/", "headers": [{"name": "x-team", "present_match": True}]},
            "direct_response": {"status": status, "body": {"inline_string": json.dumps(message)}},
            "response_headers_to_add": [{"header": {"key": "content-type", "value": "application/json"},
                                         "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}],
        })
    return mutate


def counter_flood(args, directory, kept):
    """Each attacker call is answered as the afip-double answers a call
    without a session, 400 (so its unit is refunded, as in the issue), or
    (`kept`) with a result, so that it keeps its unit."""
    probes = -(-args.cap // args.batch)
    call = tool_call("list_invoice_types", {}, id=5)
    answer = ((200, {"jsonrpc": "2.0", "id": 5, "result": {"content": [{"type": "text", "text": "ok"}]}}) if kept
              else (400, {"jsonrpc": "2.0", "error": {"code": -32000, "message": "Bad Request"}, "id": None}))
    with stack(args, directory, victims=probes + 1, mutate=answer_attacker_calls(*answer)) as (double, gateway):
        sent, refused, locked_out, probe = 0, 0, None, None
        for index in range(probes):
            result = flood(gateway, min(args.batch, args.cap - sent), "x-team", f"team-{sent}-", call, ALICE)
            sent += result["requests"]
            refused += result["marked"]
            probe = victim_limits(gateway, double, index)
            say(f"attacks: counters{' (kept)' if kept else ''}: {sent:,} attacker requests {result['statuses']} "
                f"({result['marked']:,} refused): victim-{index} admitted {probe['grant_limit_admitted']}/{VICTIM_MAX}"
                f" (grant), {probe['global_limit_admitted']}/{VICTIM_MAX} (global)")
            if (probe["grant_limit_admitted"], probe["global_limit_admitted"]) != (VICTIM_MAX, VICTIM_MAX):
                locked_out = sent
                break
    return {"attacker_requests": sent, "attacker_refused": refused, "victim_wrong_after": locked_out,
            "last_probe": probe}


# --- 3. slow unauthenticated bodies ---------------------------------------------------------

def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AttackError(f"no VmRSS for {pid}")


def slow_client(port, length, held_back, deadline, token=None):
    """One connection (with `token`, if any): headers, a second's pause, then all of
    a `length`-byte body but `held_back` bytes as fast as Envoy reads it, then
    a byte a second, whatever comes back, until Envoy closes or `deadline`.
    Returns (status line or None, seconds until it came, body bytes sent by
    then)."""
    started = time.monotonic()
    body = b"{" + b" " * (length - held_back - 1)
    status, answered_after, sent_by_then = None, None, None
    sent, next_byte = 0, started + 1
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        authorization = f"Authorization: Bearer {token}\r\n".encode() if token else b""
        sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
                     b"Accept: application/json, text/event-stream\r\n%sContent-Length: %d\r\n\r\n"
                     % (authorization, length))
        sock.setblocking(False)
        try:
            while (now := time.monotonic()) < deadline:
                filling = now >= started + 1 and sent < len(body)
                readable, writable, _ = select.select([sock], [sock] if filling else [], [], min(1.0, deadline - now))
                if readable:
                    data = sock.recv(65536)
                    if not data:
                        break
                    if status is None:
                        status = data.split(b"\r\n", 1)[0].decode(errors="replace")
                        answered_after, sent_by_then = time.monotonic() - started, sent
                elif filling and writable:
                    sent += sock.send(body[sent:sent + 65536])
                elif sent >= len(body) and now >= next_byte and sent < length - 1:
                    sent += sock.send(b" ")
                    next_byte = now + 1
        except OSError:
            pass
    return status, answered_after, sent_by_then


def slow_bodies(args, directory, token=None):
    with stack(args, directory) as (_, gateway):
        pid = gateway.process.pid
        time.sleep(2)
        idle = rss_kib(pid)
        deadline = time.monotonic() + args.slow_seconds
        samples = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.connections) as pool:
            clients = [pool.submit(slow_client, gateway.port, 1_040_000, 64, deadline, token)
                       for _ in range(args.connections)]
            while not all(client.done() for client in clients):
                samples.append((time.monotonic() - deadline + args.slow_seconds, rss_kib(pid)))
                time.sleep(0.25)
        outcomes = [client.result() for client in clients]
    return {"connections": args.connections, "seconds": args.slow_seconds, **summary(idle, samples, outcomes)}


def summary(idle, samples, outcomes):
    """Envoy's VmRSS (idle, peak, at the end) and the answers: (status, seconds
    until it came, body bytes sent by then) per connection or stream."""
    answered = [outcome for outcome in outcomes if outcome[0]]
    statuses = {}
    for line, _, _ in answered:
        statuses[line] = statuses.get(line, 0) + 1
    times = sorted(after for _, after, _ in answered)
    peak_at, peak = max(samples, key=lambda sample: sample[1])
    return {"rss_idle_mib": round(idle / 1024, 1),
            "rss_peak_mib": round(peak / 1024, 1), "rss_peak_at_s": round(peak_at, 1),
            "rss_end_mib": round(samples[-1][1] / 1024, 1), "answered": len(answered), "statuses": statuses,
            "answer_s": [round(times[0], 3), round(statistics.median(times), 3), round(times[-1], 3)] if times else None,
            "body_bytes_sent_when_answered_max": max((sent for _, _, sent in answered), default=None)}


# --- 4. slow bodies over HTTP/2 ---------------------------------------------------------------

def slow_h2_client(port, streams, length, held_back, deadline, token=None):
    """One cleartext HTTP/2 connection (prior knowledge) that opens `streams`
    streams, as many at a time as Envoy's SETTINGS allow: each sends its
    headers with content-length `length`, a second later all of its body but
    `held_back` bytes as flow control allows, then a byte a second. Returns, per stream,
    (status or None, seconds until it came, body bytes sent by then), and
    how many streams Envoy allowed at once."""
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions

    connection = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    state = {}  # stream id -> {"sent", "started", "status", "after", "sent_by_then", "closed"}
    opened, most_at_once, next_byte = 0, 0, time.monotonic() + 1
    request_headers = [(":method", "POST"), (":path", "/mcp"), (":scheme", "http"),
                       (":authority", f"127.0.0.1:{port}"), ("content-type", "application/json"),
                       ("accept", "application/json, text/event-stream"), ("content-length", str(length))]
    if token:
        request_headers.append(("authorization", f"Bearer {token}"))
    filler = b"{" + b" " * (length - 1)

    def handle(events):
        for event in events:
            stream = state.get(getattr(event, "stream_id", None))
            if isinstance(event, h2.events.ResponseReceived) and stream is not None and stream["status"] is None:
                stream["status"] = dict((k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes)
                                         else v) for k, v in event.headers).get(":status")
                stream["after"], stream["sent_by_then"] = time.monotonic() - stream["started"], stream["sent"]
            elif isinstance(event, h2.events.DataReceived):
                connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)) and stream is not None:
                stream["closed"] = True
            elif isinstance(event, h2.events.ConnectionTerminated):
                return False
        return True

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        connection.initiate_connection()
        sock.sendall(connection.data_to_send())
        sock.settimeout(2)
        handle(connection.receive_data(sock.recv(65536)))  # Envoy's SETTINGS
        sock.settimeout(10)
        alive = True
        while alive and time.monotonic() < deadline:
            limit = connection.remote_settings.max_concurrent_streams
            while opened < streams and connection.open_outbound_streams < limit:
                stream_id = connection.get_next_available_stream_id()
                connection.send_headers(stream_id, request_headers)
                state[stream_id] = {"sent": 0, "started": time.monotonic(), "status": None, "after": None,
                                    "sent_by_then": None, "closed": False}
                opened += 1
            most_at_once = max(most_at_once, connection.open_outbound_streams)
            budget = 1 << 20  # body bytes per pass, so that replies are read in between
            now = time.monotonic()
            trickle = now >= next_byte
            for stream_id, stream in state.items():
                if stream["closed"] or now < stream["started"] + 1:
                    continue
                try:
                    while budget > 0 and stream["sent"] < length - held_back:
                        window = min(connection.local_flow_control_window(stream_id),
                                     connection.max_outbound_frame_size, length - held_back - stream["sent"], budget)
                        if window <= 0:
                            break
                        connection.send_data(stream_id, filler[stream["sent"]:stream["sent"] + window])
                        stream["sent"] += window
                        budget -= window
                    if trickle and stream["sent"] >= length - held_back and stream["sent"] < length - 1 \
                            and connection.local_flow_control_window(stream_id) > 0:
                        connection.send_data(stream_id, b" ")
                        stream["sent"] += 1
                except h2.exceptions.StreamClosedError:
                    stream["closed"] = True
            if trickle:
                next_byte = time.monotonic() + 1
            try:
                sock.sendall(connection.data_to_send())
                readable, _, _ = select.select([sock], [], [], 0.05 if budget <= 0 else 0.2)
                if readable:
                    data = sock.recv(1 << 20)
                    alive = bool(data) and handle(connection.receive_data(data))
                    sock.sendall(connection.data_to_send())
            except (OSError, h2.exceptions.ProtocolError):
                alive = False
            if opened == streams and all(stream["closed"] for stream in state.values()):
                break
    return [(stream["status"], stream["after"], stream["sent_by_then"]) for stream in state.values()], most_at_once


def slow_bodies_h2(args, directory):
    with stack(args, directory) as (_, gateway):
        pid = gateway.process.pid
        time.sleep(2)
        idle = rss_kib(pid)
        deadline = time.monotonic() + args.slow_seconds
        samples = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            client = pool.submit(slow_h2_client, gateway.port, args.h2_streams, 1_040_000, 64, deadline)
            while not client.done():
                samples.append((time.monotonic() - deadline + args.slow_seconds, rss_kib(pid)))
                time.sleep(0.25)
            outcomes, most_at_once = client.result()
    result = summary(idle, samples, outcomes)
    return {"streams": args.h2_streams, "opened": len(outcomes), "most_at_once": most_at_once,
            "seconds": args.slow_seconds, **result}


# --- 5. calls that outlive the route timeout ----------------------------------------------------

def short_route_timeout(config):
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["timeout"] = "1s"


def timeouts(args, directory):
    """alice's check_number (3 per day, for everyone) with the route timing
    out after 1 s: 6 calls that take 2 s upstream, then 5 that answer at once."""
    slow_calls, fast_calls, limit = 6, 5, 3
    with stack(args, directory, mutate=short_route_timeout) as (double, gateway):
        session = initialize(gateway, ALICE)
        if session is None:
            raise AttackError("timeouts: alice could not initialize")
        double.reset()
        statuses = {}
        for index in range(slow_calls):
            status, _, _ = post(gateway, ALICE, tool_call("check_number", {"instance": "i", "number": "1",
                                                                          "__sleep_ms": 2000}, id=index), session)
            statuses[status] = statuses.get(status, 0) + 1
        admitted = sum(succeeded(post(gateway, ALICE, tool_call("check_number", {"instance": "i", "number": "1"},
                                                                id=100 + index), session))
                       for index in range(fast_calls))
        time.sleep(3)  # the slow calls end upstream
        upstream = len(double.calls("check_number"))
    return {"max": limit, "slow_calls": slow_calls, "slow_statuses": statuses, "fast_calls": fast_calls,
            "fast_admitted": admitted, "upstream_runs": upstream}


# --- 6. worst-case decide ---------------------------------------------------------------------

def decide(args, directory):
    """`--decide-requests` 1 MiB tools/calls to each case's tool, in alice's
    session; each case's decide_us from the audit log."""
    text = "a" * (1024 * 1024 - 160)
    cases = {"no_conditions": ("send_image", {}), "7_conditions": ("send_text", {})}
    if not args.legacy:
        # The operator's way to the old worst case: the regex cap raised to 1 MiB.
        cases["7_conditions_uncapped_regex"] = ("send_text", {"max_regex_subject_bytes": 1024 * 1024})
    result = {}
    for case, (tool, settings) in cases.items():
        with stack(args, directory / case, **settings) as (_, gateway):
            session = initialize(gateway, ALICE)
            if session is None:
                raise AttackError("decide: alice could not initialize")
            # An allowed call goes upstream, where the afip-double refuses a
            # body this large (413): only the filter's decision is measured.
            statuses = {}
            for index in range(args.decide_requests):
                status, _, _ = post(gateway, ALICE, tool_call(tool, {"text": text, "number": "1"}, id=index), session)
                statuses[status] = statuses.get(status, 0) + 1
            lines = [line for line in gateway.audit_lines(at_least=args.decide_requests + 2)
                     if line.get("tool") == tool]
        times = [float(line["decide_us"]) for line in lines if line.get("decide_us") not in (None, "", "-")]
        result[case] = {"tool": tool, "decide_us_median": statistics.median(times) if times else None,
                        "decide_us_max": max(times) if times else None, "requests": len(times),
                        "decisions": sorted({str(line.get("decision")) for line in lines}), "statuses": statuses,
                        "rules": sorted({str(line.get("rule"))[:160] for line in lines})}
    return result


def criterion():
    """This tree's criterion group decide_1MiB_body: median ns per case."""
    subprocess.run(["cargo", "bench", "--no-default-features", "--bench", "policy", "--", "decide_1MiB_body"],
                   cwd=ROOT, check=True, timeout=1800, stdout=sys.stderr)
    group = ROOT / "target" / "criterion" / "decide_1MiB_body"
    return {case.name: json.loads((case / "new" / "estimates.json").read_text())["median"]["point_estimate"]
            for case in sorted(group.iterdir()) if (case / "new" / "estimates.json").exists()}


# --- main --------------------------------------------------------------------------------------

def reached(count, result):
    """"after N requests", or, for a flood that reached the cap without it,
    "not after N requests (cap)"."""
    if count is not None:
        return f"after {count:,} attacker requests"
    return f"not after {result['attacker_requests']:,} attacker requests (cap)"


def answers(result, units):
    times = result["answer_s"]
    return (f"Envoy RSS {result['rss_idle_mib']} MiB idle, peak {result['rss_peak_mib']} MiB at "
            f"{result['rss_peak_at_s']} s, {result['rss_end_mib']} MiB at the end; answered "
            f"{result['answered']}/{len(units) if not isinstance(units, int) else units} {result['statuses']}"
            + (f" after {times[0]}/{times[1]}/{times[2]} s (min/median/max), with at most "
               f"{result['body_bytes_sent_when_answered_max']:,} body bytes sent by then" if times else ""))


def report(name, result):
    """One attack's figures as a line of text."""
    if name.startswith("sessions"):
        return (f"{name}: {result['attacker_requests']:,} attacker requests {result['attacker_statuses']}; "
                f"bob's first failed new session {reached(result['first_victim_failure'], result)}; bob locked out "
                f"(55 new sessions in a row failing) {reached(result['victim_locked_out'], result)}; "
                f"at the end {result['victim_sessions_after']}/50 of bob's new sessions work")
    if name.startswith("counters"):
        probe = result["last_probe"]
        return (f"{name}: {result['attacker_requests']:,} attacker requests, {result['attacker_refused']:,} of them "
                f"refused; a victim's limits not admitting exactly {VICTIM_MAX}: "
                f"{reached(result['victim_wrong_after'], result)}; last victim admitted "
                f"{probe['grant_limit_admitted']}/{VICTIM_MAX} (grant), {probe['global_limit_admitted']}/{VICTIM_MAX}"
                f" (global), upstream calls {probe['upstream']}")
    if name == "slow-bodies-h2":
        return (f"{name}: {result['streams']} streams on one connection ({result['opened']} opened, at most "
                f"{result['most_at_once']} at once), held up to {result['seconds']} s: " + answers(result, result["opened"]))
    if name.startswith("slow-bodies"):
        return f"{name}: {result['connections']} connections, each held up to {result['seconds']} s: " + answers(
            result, result["connections"])
    if name == "timeouts":
        return (f"{name}: {result['slow_calls']} calls taking 2 s (route timeout 1 s) {result['slow_statuses']}, then "
                f"{result['fast_admitted']}/{result['fast_calls']} quick calls admitted: the upstream ran "
                f"{result['upstream_runs']} calls for a max of {result['max']}")
    if name == "decide":
        return f"{name}: " + "; ".join(
            f"{case} ({figures['tool']}) decide_us median {figures['decide_us_median']:,.0f}, max "
            f"{figures['decide_us_max']:,.0f} ({figures['requests']} requests, {'/'.join(figures['decisions'])})"
            for case, figures in result.items())
    return f"{name}: " + ", ".join(f"{case} {ns / 1e6:.3f} ms" for case, ns in result.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", default=str(harness.MODULE), help="the Wasm module (default dist/)")
    parser.add_argument("--template", help="the Envoy config to render (default envoy/demo.yaml)")
    parser.add_argument("--legacy", action="store_true",
                        help="the module predates session_keys and counter_key (git 03d4a5d): configure it without")
    parser.add_argument("--only", help="comma-separated attacks (default: all)")
    parser.add_argument("--cap", type=int, default=200_000, help="attacker requests per flood, at most")
    parser.add_argument("--batch", type=int, default=10_000, help="attacker requests between two victim probes")
    parser.add_argument("--connections", type=int, default=200, help="slow-bodies: connections")
    parser.add_argument("--slow-seconds", type=int, default=45, help="slow-bodies: how long they are held")
    parser.add_argument("--h2-streams", type=int, default=500, help="slow-bodies-h2: streams")
    parser.add_argument("--decide-requests", type=int, default=10, help="decide: requests per case")
    parser.add_argument("--criterion", action="store_true", help="also run the criterion group decide_1MiB_body")
    parser.add_argument("--out", help="also write the figures as JSON here")
    args = parser.parse_args()
    args.module = str(pathlib.Path(args.module).resolve())
    if not pathlib.Path(args.module).exists():
        raise SystemExit(f"attacks: {args.module} is missing; run make build")

    attacks = {
        "sessions": lambda directory: session_flood(args, directory, crafted=False),
        "sessions-crafted": lambda directory: session_flood(args, directory, crafted=True),
        "counters": lambda directory: counter_flood(args, directory, kept=False),
        "counters-kept": lambda directory: counter_flood(args, directory, kept=True),
        "slow-bodies": lambda directory: slow_bodies(args, directory),
        "slow-bodies-granted": lambda directory: slow_bodies(args, directory, token=ALICE),
        "slow-bodies-h2": lambda directory: slow_bodies_h2(args, directory),
        "timeouts": lambda directory: timeouts(args, directory),
        "decide": lambda directory: decide(args, directory),
    }
    wanted = args.only.split(",") if args.only else list(attacks)
    unknown = set(wanted) - set(attacks)
    if unknown:
        raise SystemExit(f"attacks: unknown attacks {sorted(unknown)}")
    results = {"module": args.module, "legacy": args.legacy}
    with tempfile.TemporaryDirectory(prefix="attacks-") as workdir:
        for name in wanted:
            started = time.monotonic()
            say(f"attacks: {name} ...")
            results[name] = attacks[name](pathlib.Path(workdir) / name)
            say(f"attacks: {name} took {time.monotonic() - started:.0f} s")
    if args.criterion:
        results["criterion decide_1MiB_body"] = criterion()
    print(f"module {args.module}{' (legacy configuration)' if args.legacy else ''}")
    for name, result in results.items():
        if isinstance(result, dict):
            print(report(name, result))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(f"attacks: stopped by signal {signum}"))
    try:
        sys.exit(main())
    except AttackError as error:
        sys.exit(f"attacks: FAILED: {error}")
