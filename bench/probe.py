"""The probe module (bench/hostcalls): built for `bench/hostcalls.py`, which
reads each host call's cost off it, and for `make bench`, whose floor
scenarios run its `minimal` mode (the issue's reference filter)."""
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROJECT = ROOT / "bench" / "hostcalls"
MODULE = ROOT / "target" / "bench-hostcalls" / "wasm32-unknown-unknown" / "release" / "mcp_policy_bench_hostcalls.wasm"


def build():
    """Builds the probe with the same toolchain as the filter (scripts/build-wasm.sh)."""
    command = ["/usr/bin/cargo", "build", "--release", "--quiet", "--target", "wasm32-unknown-unknown",
               "-Zbuild-std=std,panic_abort"]
    env = dict(os.environ, PATH="/usr/bin:" + os.environ["PATH"], RUSTC_BOOTSTRAP="1")
    subprocess.run(command, cwd=PROJECT, check=True, timeout=900, env=env)
    return MODULE


def probe_filter(call, count):
    """The probe as an Envoy HTTP filter: `<call> <count>` is its configuration."""
    return {"name": "probe", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {"name": "probe", "root_id": "probe",
                   "vm_config": {"vm_id": f"probe-{call}-{count}", "runtime": "envoy.wasm.runtime.v8",
                                 "code": {"local": {"filename": str(MODULE)}}},
                   "allow_on_headers_stop_iteration": True, "failure_policy": "FAIL_CLOSED",
                   "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                     "value": f"{call} {count}"}}}}
