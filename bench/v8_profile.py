#!/usr/bin/env python3
"""The module's own time per request in V8, without Envoy.

Runs the release module (built with its name section) in Node's V8, the
engine Envoy embeds, with Envoy's V8 flag (--no-liftoff: TurboFan only), under bench/v8/harness.cjs: a minimal proxy-wasm host in
JavaScript drives scenario 2's request and response through every callback.
Prints ns per request, the host calls made, and the functions that take the
module's time (`node --cpu-prof`).

    bench/v8_profile.py [--requests 100000] [--top 30]

Comparing its ns/request with `make bench`'s Δ CPU shows how much of the
filter's cost in Envoy is the module's code and how much is Envoy's side of
the host calls.
"""
import argparse
import collections
import json
import os
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import configs as c  # noqa: E402

ROOT = c.ROOT
TARGET = ROOT / "target" / "wasm-named"
HARNESS = ROOT / "bench" / "v8" / "harness.cjs"


def build(out):
    env = dict(os.environ, CARGO_PROFILE_RELEASE_STRIP="false", PATH="/usr/bin:" + os.environ["PATH"],
               RUSTC_BOOTSTRAP="1", RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort")
    subprocess.run(["/usr/bin/cargo", "build", "--release", "--quiet", "--target", "wasm32-unknown-unknown",
                    "-Zbuild-std=std,panic_abort", "--target-dir", str(TARGET)], cwd=ROOT, env=env, check=True,
                   timeout=900)
    built = TARGET / "wasm32-unknown-unknown" / "release" / "mcp_policy_filter.wasm"
    subprocess.run(["wasm-opt", "-Oz", "--debuginfo", "--enable-bulk-memory", "--enable-sign-ext",
                    "--enable-nontrapping-float-to-int", "--enable-mutable-globals", str(built), "-o", str(out)],
                   check=True, timeout=300)


def hot_functions(profile_path, top):
    profile = json.loads(pathlib.Path(profile_path).read_text())
    nodes = {node["id"]: node for node in profile["nodes"]}
    by_function = collections.Counter()
    for sample, delta in zip(profile["samples"], profile["timeDeltas"]):
        by_function[nodes[sample]["callFrame"]["functionName"] or "(anonymous)"] += delta
    total = sum(by_function.values()) or 1
    return [(name, share / total) for name, share in by_function.most_common(top)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        module = work / "named.wasm"
        build(module)
        (work / "config.json").write_text(json.dumps(c.afip_config()))
        (work / "headers.txt").write_text(f"content-type: application/json\n"
                                          f"accept: application/json, text/event-stream\n"
                                          f"mcp-protocol-version: 2025-06-18\n"
                                          f"authorization: Bearer {c.TOKEN}\n")
        (work / "body.json").write_text(c.ALLOWED_CALL)
        # Envoy's V8 compiles every function with TurboFan (proxy-wasm-cpp-host
        # passes --no-liftoff); Node's default tiers up from Liftoff instead.
        result = subprocess.run(["node", "--no-liftoff", "--cpu-prof", "--cpu-prof-dir", str(work), str(HARNESS), str(module),
                                 str(work / "config.json"), str(work / "headers.txt"), str(work / "body.json"),
                                 str(args.requests)], capture_output=True, text=True, check=True, timeout=600)
        print(result.stdout.strip())
        profile = next(work.glob("*.cpuprofile"))
        print(f"\n| function (self time, V8) | share |\n|---|---|")
        for name, share in hot_functions(profile, args.top):
            print(f"| `{name[:110]}` | {share:.1%} |")


if __name__ == "__main__":
    main()
