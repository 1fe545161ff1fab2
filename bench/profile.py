#!/usr/bin/env python3
"""The filter's hot path, per request, for the bench scenarios.

1. Native counts (bench/native, the filter driven through a counting fake
   host with the bench's exact configurations and bodies): proxy-wasm host
   calls by ABI name, bytes across the host boundary, heap allocations, log
   records, native time.
2. An instruction profile of scenario 2 (and the others named with --cases)
   under valgrind --tool=callgrind, grouped by what the filter is doing.
   The fake host's own work is excluded: in Envoy it is Envoy's.
3. Where `perf` works: where Envoy's CPU goes in scenario 2 against
   passthrough and against the minimal Wasm filter of scenario 1w (the Envoy
   binary, V8's generated code for the module, the kernel), from cpu-clock
   samples.

    bench/profile.py [--cases s2-allowed,s5-denied] [--no-perf]

Writes .build/bench/profile.json and .build/bench/profile.md.
"""
import argparse
import json
import pathlib
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import configs as c  # noqa: E402
import probe  # noqa: E402
import run  # noqa: E402

ROOT = c.ROOT
OUT = ROOT / ".build" / "bench"
INPUTS = OUT / "native"
NATIVE = ROOT / "bench" / "native"
TARGET = ROOT / "target" / "bench-native"

# What the filter does, by the functions that do it (inclusive instructions;
# the patterns of one entry are alternatives, possibly nested: the largest
# counts, except for the metrics entry whose two functions are siblings).
CATEGORIES = [
    ("request head: headers parsed (RequestHead::from_headers)", [r"RequestHead::from_headers$"]),
    ("grant lookup: SHA-256 of the bearer token + map lookup", [r"GrantTable::lookup$"]),
    ("strict JSON parse into serde_json::Value (parse_strict: request, and tools/list responses)",
     [r"strict_json::parse_strict$"]),
    ("request body: JSON-RPC/MCP message read (incl. parse)", [r"mcp::message::read_payload$"]),
    ("policy decision", [r"filter::verdict::decide(_all)?$"]),
    ("rate limits: counter keys + shared-data CAS", [r"filter::limits::charge$", r"counter::limiter::reserve(_in)?$",
                                                      r"filter::charging::.*charge"]),
    ("metrics + filter state (observe::publish/count)", [r"filter::observe::publish$", r"filter::observe::count$"]),
    ("response watch: reply parsed for refunds/tasks", [r"RefundWatch::on_body$", r"RefundWatch::on_headers$"]),
    ("tools/list: response parsed strictly + rewritten", [r"tools_list::filter_tools_list_json$"]),
    ("tools/list: visibility of each tool (policy listing)", [r"policy::evaluate::listing$"]),
    ("local reply built (denials)", [r"filter::reply::"]),
    ("audit/log formatting", [r"log::__private_api::log", r"CountingLogger"]),
]
ENTRY_POINTS = [r"HttpFilter::on_request_headers$", r"HttpFilter::on_request_body$",
                r"HttpFilter::on_response_headers$", r"HttpFilter::on_response_body$",
                r"HttpFilter::new$", r"drop_in_place<mcp_policy_filter::filter::HttpFilter>$"]
HOST = r"<mcp_policy_bench_native::CountingHost as "
ALLOCATOR = r"(^|::)(malloc|free|_int_free|_int_malloc|realloc|_int_realloc|calloc|malloc_consolidate|unlink_chunk.*)$"


def say(message):
    print(message, file=sys.stderr, flush=True)


def build():
    c.write_native_inputs(INPUTS)
    say("profile: building bench/native (release)")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=NATIVE, check=True, timeout=900)
    return TARGET / "release" / "mcp-policy-bench-native"


def counts(binary, cases):
    results = {}
    for case in cases:
        iterations = "300" if "1300" in case else "20000"
        done = subprocess.run([str(binary), str(INPUTS), case, iterations], capture_output=True,
                              text=True, timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"profile: {case}: {done.stderr}")
        results[case] = json.loads(done.stdout)
    return results


def callgrind(binary, case, iterations):
    out = OUT / f"callgrind.{case}.out"
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(binary),
                    str(INPUTS), case, str(iterations)], capture_output=True, text=True, check=True, timeout=900)
    annotate = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out)],
                              capture_output=True, text=True, check=True).stdout
    exclusive = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", str(out)],
                               capture_output=True, text=True, check=True).stdout
    return out, parse_annotate(annotate), parse_annotate(exclusive)


LINE = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S+?):(.+?)(?: \[(.+)\])?$")


def parse_annotate(text):
    """function -> instructions. Callgrind lists a function once per source
    file its (inlined) code comes from; the largest entry is taken, a lower
    bound of the inclusive cost that never double counts."""
    functions = {}
    for line in text.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        count = int(match.group(1).replace(",", ""))
        name = match.group(3).strip()
        functions[name] = max(functions.get(name, 0), count)
    return functions


def pick(functions, patterns):
    return sum(count for name, count in functions.items() if any(re.search(p, name) for p in patterns))


def profile_case(binary, case, iterations, native):
    # The harness checks the first request, then warms up on every grant (at
    # least 100 requests), then measures `iterations`.
    tokens = (INPUTS / case / "tokens.txt").read_text().split()
    requests = 1 + max(len(tokens), 100) - 1 + iterations
    _, inclusive, exclusive = callgrind(binary, case, iterations)
    host = sum(count for name, count in inclusive.items() if name.startswith(HOST))
    filter_total = pick(inclusive, ENTRY_POINTS) - host
    rows = []
    for label, patterns in CATEGORIES:
        if label.startswith("metrics"):
            value = pick(inclusive, patterns)
        else:
            value = max((pick(inclusive, [pattern]) for pattern in patterns), default=0)
        rows.append((label, value / requests))
    allocator = sum(count for name, count in exclusive.items() if re.search(ALLOCATOR, name))
    program = sum(exclusive.values())
    top = sorted(((count, name) for name, count in exclusive.items() if not name.startswith(HOST)),
                 reverse=True)[:15]
    return {
        "case": case,
        "requests_profiled": requests,
        "filter_instructions_per_request": filter_total / requests,
        "host_instructions_per_request_fake": host / requests,
        "categories": [{"what": label, "instructions": round(value)} for label, value in rows],
        "allocator_share_of_program": allocator / program if program else None,
        "top_self": [{"function": name, "instructions_per_request": round(count / requests)} for count, name in top],
        "native": native.get(case),
    }


def perf_split(seconds=5):
    """Envoy's CPU per request by DSO (cpu-clock samples): passthrough, the
    minimal Wasm filter (1w) and scenario 2."""
    if shutil.which("perf") is None:
        return None
    perf_works = subprocess.run(["perf", "stat", "-e", "cpu-clock", "true"], capture_output=True, text=True)
    if perf_works.returncode != 0:
        return None
    specs = run.gateway_specs()
    results = {}
    OUT.mkdir(parents=True, exist_ok=True)
    probe.build()
    for name, key in (("passthrough", "1"), ("floor", "1w"), ("afip", "2")):
        gateway = run.Gateway(name, *specs[name], run.upstream_responses(), OUT, True)
        gateway.start()
        try:
            gateway.wait_ready()
            scenario = next(s for s in run.scenarios({n: gateway for n in specs}, OUT) if s.key == key)
            scenario.verify()
            run.run_wrk(scenario, gateway, 1, 16, OUT, True)
            data = OUT / f"perf-{name}.data"
            recorder = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-p",
                                         str(gateway.process.pid), "-o", str(data), "--", "sleep", str(seconds)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            result = run.run_wrk(scenario, gateway, seconds, 16, OUT, True)
            recorder.wait(timeout=seconds + 30)
        finally:
            gateway.stop()
        report = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort", "dso", "--stdio",
                                 "-g", "none"], capture_output=True, text=True).stdout
        shares = {}
        for line in report.splitlines():
            match = re.match(r"^\s*([\d.]+)%\s+(.+?)\s*$", line)
            if match:
                dso = match.group(2)
                dso = "V8 generated code (the module, JIT)" if dso.startswith("[JIT]") else dso
                shares[dso] = shares.get(dso, 0) + float(match.group(1)) / 100
        per_request = result["cpu_us_per_request"]
        results[name] = {"rps": result["rps"], "cpu_us_per_request": per_request,
                         "by_dso_us": {dso: share * per_request for dso, share in shares.items()}}
    return results


def markdown(report):
    lines = []
    native = report["native"]
    lines.append("| case | native ns/req | host calls/req | allocations/req (bytes) | bytes from / to host | log records |")
    lines.append("|---|---|---|---|---|---|")
    for case, n in native.items():
        lines.append(f"| {case} | {n['ns_per_request']:,.0f} | {n['host_calls']:.0f} | "
                     f"{n['allocations']:.0f} ({n['allocated_bytes']:,.0f}) | "
                     f"{n['bytes_from_host']:,.0f} / {n['bytes_to_host']:,.0f} | {n['log_records']:.0f} |")
    lines.append("")
    first = next(iter(native.values()))
    lines.append("Host calls per request, " + first["case"] + ": "
                 + ", ".join(f"{call.replace('proxy_', '')} {n:g}" for call, n in first["calls"].items()))
    lines.append("")
    lines.append(f"| {first['case']} by callback | allocations | allocated bytes | host calls |")
    lines.append("|---|---|---|---|")
    for phase, values in first.get("phases", {}).items():
        if any(values.values()):
            lines.append(f"| {phase} | {values['allocations']:.0f} | {values['allocated_bytes']:,.0f} | "
                         f"{values['host_calls']:g} |")
    for profile in report["callgrind"]:
        lines.append("")
        lines.append(f"**{profile['case']}**: {profile['filter_instructions_per_request']:,.0f} instructions per "
                     f"request in the filter (native, fake host excluded); malloc/free "
                     f"{profile['allocator_share_of_program']:.0%} of the whole program's instructions.")
        lines.append("")
        lines.append("| what (inclusive) | instructions/req |")
        lines.append("|---|---|")
        for row in profile["categories"]:
            if row["instructions"]:
                lines.append(f"| {row['what']} | {row['instructions']:,} |")
        lines.append("")
        lines.append("| top self cost | instructions/req |")
        lines.append("|---|---|")
        for row in profile["top_self"][:10]:
            lines.append(f"| `{row['function'][:110]}` | {row['instructions_per_request']:,} |")
    if report.get("perf"):
        lines.append("")
        lines.append("| Envoy CPU µs/req by where it runs (perf cpu-clock) | passthrough (1) | minimal Wasm "
                     "filter (1w) | scenario 2 | 2 − 1 | 2 − 1w |")
        lines.append("|---|---|---|---|---|---|")
        p, f, a = report["perf"]["passthrough"], report["perf"]["floor"], report["perf"]["afip"]
        for dso in sorted(set(p["by_dso_us"]) | set(f["by_dso_us"]) | set(a["by_dso_us"]),
                          key=lambda d: -a["by_dso_us"].get(d, 0)):
            pv, fv, av = (r["by_dso_us"].get(dso, 0) for r in (p, f, a))
            if max(pv, fv, av) >= 0.5:
                lines.append(f"| {dso} | {pv:.1f} | {fv:.1f} | {av:.1f} | {av - pv:+.1f} | {av - fv:+.1f} |")
        pt, ft, at = (r["cpu_us_per_request"] for r in (p, f, a))
        lines.append(f"| total | {pt:.1f} | {ft:.1f} | {at:.1f} | {at - pt:+.1f} | {at - ft:+.1f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="s2-allowed,s3-big-hot,s5-denied,s6a-list45",
                        help="cases to profile under callgrind")
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--no-perf", action="store_true")
    args = parser.parse_args()
    for tool in ("cargo", "valgrind", "callgrind_annotate"):
        if shutil.which(tool) is None:
            raise SystemExit(f"profile: {tool} is missing (valgrind: apt-get install valgrind)")
    OUT.mkdir(parents=True, exist_ok=True)
    binary = build()
    cases = c.write_native_inputs(INPUTS)
    started = time.monotonic()
    native = counts(binary, cases)
    profiles = []
    for case in args.cases.split(","):
        say(f"profile: callgrind {case}")
        iterations = 20 if "1300" in case else args.iterations
        profiles.append(profile_case(binary, case, iterations, native))
    perf = None if args.no_perf else perf_split()
    report = {"machine": run.machine(), "native": native, "callgrind": profiles, "perf": perf,
              "elapsed_s": round(time.monotonic() - started)}
    (OUT / "profile.json").write_text(json.dumps(report, indent=1))
    text = markdown(report)
    (OUT / "profile.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
