#!/usr/bin/env python3
"""What each kind of proxy-wasm host call costs in Envoy (V8), per call.

A probe module (bench/hostcalls) makes one kind of call N times per request;
the CPU per request of Envoy (pinned, one worker, front listener answering
with a direct_response so there is no upstream hop) is measured for N = 0
and N = COUNT, and the slope is the cost of one call. It also gives the cost
of any Wasm filter at all (`none 0` against no filter).

    bench/hostcalls.py [--count 32] [--seconds 4] [--rounds 2]

Writes .build/bench/hostcalls.json and prints a table.
"""
import argparse
import json
import pathlib
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import configs as c  # noqa: E402
from probe import build, probe_filter  # noqa: E402
import run  # noqa: E402

CALLS = ["get_header_map_pairs", "get_header", "replace_header", "remove_header", "set_property",
         "get_property", "current_time", "increment_metric", "shared_data_cas", "log_info"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    build()
    run.raise_priority()
    out = run.OUT
    out.mkdir(parents=True, exist_ok=True)
    responses = run.upstream_responses()
    # The buffer filter first: the front listener's direct_response must not
    # answer before the body is in (Envoy would then close the connection).
    configs = {"no-filter": [c.BUFFER], "none-0": [c.BUFFER, probe_filter("none", 0)],
               "body-0": [c.BUFFER, probe_filter("body", 0)],
               f"body-{args.count}": [c.BUFFER, probe_filter("body", args.count)]}
    for call in CALLS:
        configs[f"{call}-{args.count}"] = [c.BUFFER, probe_filter(call, args.count)]
    gateways = {name: run.Gateway(name, name, filters, responses, out, True, direct_route=True)
                for name, filters in configs.items()}
    scenario = run.Scenario("probe", "probe", None, c.ALLOWED_CALL, response="direct")
    results = {name: [] for name in gateways}
    try:
        for gateway in gateways.values():
            gateway.start()
        for gateway in gateways.values():
            gateway.wait_ready()
            run.check_upstream_result(*gateway.post(c.ALLOWED_CALL, response="direct"), gateway.name)
        for _ in range(args.rounds):
            for name, gateway in gateways.items():
                run.run_wrk(scenario, gateway, 1, 16, out, True)
                result = run.run_wrk(scenario, gateway, args.seconds, 16, out, True)
                results[name].append(result["cpu_us_per_request"])
                print(f"hostcalls: {name:>28}: {result['rps']:9,.0f} req/s {result['cpu_us_per_request']:6.2f} µs/req",
                      file=sys.stderr)
        read = gateways[f"body-{args.count}"].stats("wasmcustom").get("wasmcustom.bench_probe", 0)
        if read == 0:
            raise SystemExit("hostcalls: the body probe never read the body")
    finally:
        for gateway in gateways.values():
            gateway.stop()
    cpu = {name: statistics.median(values) for name, values in results.items()}
    rows = [("Envoy alone (buffer filter + direct_response), per request", cpu["no-filter"]),
            ("any Wasm filter (none 0 vs no filter), per request", cpu["none-0"] - cpu["no-filter"]),
            ("holding the headers until the body is in (body 0 vs none 0), per request",
             cpu["body-0"] - cpu["none-0"])]
    rows.append(("proxy_get_buffer_bytes (whole 125-byte body)",
                 (cpu[f"body-{args.count}"] - cpu["body-0"]) / args.count))
    for call in CALLS:
        rows.append((f"proxy {call}", (cpu[f"{call}-{args.count}"] - cpu["none-0"]) / args.count))
    (out / "hostcalls.json").write_text(json.dumps({"count": args.count, "cpu_us_per_request": cpu,
                                                      "rows": rows, "machine": run.machine()}, indent=1))
    print(f"| host call (Envoy {run.machine()['envoy'].split('/')[1]}, V8) | µs per call |")
    print("|---|---|")
    for label, value in rows:
        print(f"| {label} | {value:.2f} |")


if __name__ == "__main__":
    main()
