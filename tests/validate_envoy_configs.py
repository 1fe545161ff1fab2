#!/usr/bin/env python3
"""Every Envoy config in envoy/ passes `envoy --mode validate`.

Configs name the module relative to the repository root, so validation runs
from there (the module must be built first).
"""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
ENVOY = ROOT / ".venv" / "bin" / "envoy"


def main():
    configs = sorted((ROOT / "envoy").glob("*.yaml"))
    if not configs:
        print("no Envoy configs found", file=sys.stderr)
        return 1
    failed = 0
    for config in configs:
        result = subprocess.run(
            [str(ENVOY), "--mode", "validate", "--disable-hot-restart", "-c", str(config), "--log-level", "error"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )
        status = "OK" if result.returncode == 0 else "FAILED"
        print(f"envoy --mode validate {config.relative_to(ROOT)}: {status}")
        if result.returncode != 0:
            failed += 1
            print(result.stdout[-4000:], result.stderr[-4000:], sep="\n", file=sys.stderr)
    print(f"{len(configs) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
