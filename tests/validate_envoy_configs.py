#!/usr/bin/env python3
"""Every Envoy config in the repository passes `envoy --mode validate`.

What counts as an Envoy config:
- the bootstraps in envoy/*.yaml;
- the bootstraps embedded in Kubernetes ConfigMaps under deploy/;
- the ECDS resources of the policy filter: the ones in Kubernetes Secrets
  under deploy/, any resource file under envoy/ (a YAML file with top-level
  `resources`), and the EXTENSION_CONFIG patches of Istio EnvoyFilters. `envoy
  --mode validate` does not load ECDS, so each resource is validated as the
  static filter of a small bootstrap: Envoy then loads the module and runs the
  filter's on_configure, which rejects a bad policy;
- the HTTP_FILTER patches of Istio EnvoyFilters, put in place of the policy
  filter of envoy/sidecar.yaml, with an ADS config source.

Configs name container paths (/etc/envoy/...). Those are rewritten to local
files: a Wasm module path that does not exist to the built
dist/mcp_policy_filter.wasm, a remote module (Istio's OCI fetch) to the same,
and ECDS file paths to temporary copies of a resource. Relative paths are
left alone: configs run from the repository root (envoy/demo.yaml names the
module relative to it). The module must be built first.
"""
import copy
import os
import pathlib
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from harness import SECRETS_ENV  # noqa: E402
ENVOY = ROOT / ".venv" / "bin" / "envoy"
MODULE = ROOT / "dist" / "mcp_policy_filter.wasm"
SIDECAR = ROOT / "envoy" / "sidecar.yaml"
WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
ROUTER = {"name": "envoy.filters.http.router",
          "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}


def rel(path):
    try:
        return str(pathlib.Path(path).relative_to(ROOT))
    except ValueError:
        return str(path)


def yaml_documents(path):
    return [doc for doc in yaml.safe_load_all(pathlib.Path(path).read_text()) if doc is not None]


def manifests():
    """(path, document) of every Kubernetes object under deploy/."""
    for path in sorted((ROOT / "deploy").rglob("*.y*ml")):
        for document in yaml_documents(path):
            if isinstance(document, dict) and "kind" in document:
                yield path, document


def is_bootstrap(document):
    return isinstance(document, dict) and "static_resources" in document


def is_ecds_resource_file(document):
    return isinstance(document, dict) and isinstance(document.get("resources"), list)


# --- finding configs -----------------------------------------------------------

def bootstraps():
    """(label, bootstrap) for every Envoy bootstrap in the repository."""
    found = []
    for path in sorted((ROOT / "envoy").glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        # Anything in envoy/ that is not an ECDS resource file is a bootstrap
        # (and fails validation if it is not a good one).
        if not is_ecds_resource_file(document):
            found.append((rel(path), document if isinstance(document, dict) else {}))
    for path, document in manifests():
        if document["kind"] == "ConfigMap":
            for key, text in sorted((document.get("data") or {}).items()):
                if key.endswith((".yaml", ".yml")) and is_bootstrap(yaml.safe_load(text)):
                    label = f"{rel(path)} ConfigMap/{document['metadata']['name']} {key}"
                    found.append((label, yaml.safe_load(text)))
    return found


def ecds_resources():
    """(label, TypedExtensionConfig) for every ECDS resource in the repository."""
    found = []
    for path in sorted((ROOT / "envoy").rglob("*.y*ml")):
        document = yaml.safe_load(path.read_text())
        if is_ecds_resource_file(document):
            for index, resource in enumerate(document["resources"]):
                found.append((f"{rel(path)} resources[{index}]", resource))
    for path, document in manifests():
        if document["kind"] == "Secret":
            data = dict(document.get("stringData") or {})
            for key, text in sorted(data.items()):
                parsed = yaml.safe_load(text) if key.endswith((".yaml", ".yml")) else None
                if is_ecds_resource_file(parsed):
                    for index, resource in enumerate(parsed["resources"]):
                        label = f"{rel(path)} Secret/{document['metadata']['name']} {key} resources[{index}]"
                        found.append((label, resource))
        if document["kind"] == "EnvoyFilter":
            for index, patch in enumerate(document["spec"].get("configPatches", [])):
                if patch.get("applyTo") == "EXTENSION_CONFIG":
                    label = f"{rel(path)} EnvoyFilter/{document['metadata']['name']} configPatches[{index}]"
                    found.append((label, patch["patch"]["value"]))
    return found


def istio_http_filters():
    """(label, http filter) for every HTTP_FILTER patch of an Istio EnvoyFilter."""
    found = []
    for path, document in manifests():
        if document["kind"] == "EnvoyFilter":
            for index, patch in enumerate(document["spec"].get("configPatches", [])):
                if patch.get("applyTo") == "HTTP_FILTER":
                    label = f"{rel(path)} EnvoyFilter/{document['metadata']['name']} configPatches[{index}]"
                    found.append((label, patch["patch"]["value"]))
    return found


def wasm_configs():
    """(label, Wasm filter config) for every Wasm filter config in the repository."""
    found = []
    for label, resource in ecds_resources():
        found.append((label, resource["typed_config"]))
    for label, bootstrap in bootstraps():
        for http_filter in http_filters(bootstrap):
            if http_filter.get("typed_config", {}).get("@type") == WASM_TYPE:
                found.append((f"{label} {http_filter['name']}", http_filter["typed_config"]))
    return found


# --- rewriting for local use ---------------------------------------------------

def http_filters(bootstrap):
    for listener in bootstrap.get("static_resources", {}).get("listeners", []):
        for chain in listener.get("filter_chains", []):
            for network_filter in chain.get("filters", []):
                config = network_filter.get("typed_config", {})
                yield from config.get("http_filters", [])


def localize_wasm(typed_config, module=MODULE):
    """A Wasm filter config with its module read from a local file."""
    typed_config = copy.deepcopy(typed_config)
    code = typed_config["config"]["vm_config"]["code"]
    if "remote" in code:
        typed_config["config"]["vm_config"]["code"] = {"local": {"filename": str(module)}}
    elif "local" in code:
        filename = code["local"].get("filename")
        if filename and pathlib.Path(filename).is_absolute() and not pathlib.Path(filename).exists():
            code["local"]["filename"] = str(module)
    return typed_config


def resource_file_text(resource, module=MODULE):
    resource = dict(resource)
    resource.setdefault("@type", "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig")
    resource["typed_config"] = localize_wasm(resource["typed_config"], module)
    return yaml.safe_dump({"resources": [resource]}, sort_keys=False)


def localize_bootstrap(bootstrap, workdir, resource_text, module=MODULE):
    """A copy of a bootstrap that runs here: ECDS file sources read a copy of
    resource_text under workdir, absent absolute module paths name `module`."""
    bootstrap = copy.deepcopy(bootstrap)
    workdir = pathlib.Path(workdir)
    for index, http_filter in enumerate(http_filters(bootstrap)):
        source = http_filter.get("config_discovery", {}).get("config_source", {})
        if "path_config_source" in source:
            directory = workdir / f"ecds-{index}-{http_filter['name']}"
            directory.mkdir(parents=True, exist_ok=True)
            path_source = source["path_config_source"]
            target = directory / pathlib.Path(path_source["path"]).name
            target.write_text(resource_text)
            path_source["path"] = str(target)
            if "watched_directory" in path_source:
                path_source["watched_directory"]["path"] = str(directory)
        if http_filter.get("typed_config", {}).get("@type") == WASM_TYPE:
            http_filter["typed_config"] = localize_wasm(http_filter["typed_config"], module)
    return bootstrap


def static_filter_bootstrap(resource, module=MODULE):
    """A minimal bootstrap with the resource as a static HTTP filter."""
    return {
        "node": {"id": "validate", "cluster": "validate"},
        "static_resources": {"listeners": [{
            "name": "validate",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": "validate",
                    "route_config": {"virtual_hosts": [{
                        "name": "all", "domains": ["*"],
                        "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 404}}]}]},
                    "http_filters": [
                        {"name": resource["name"], "typed_config": localize_wasm(resource["typed_config"], module)},
                        ROUTER,
                    ],
                },
            }]}],
        }]},
    }


def with_http_filter(bootstrap, name, replacement):
    """The bootstrap with its HTTP filter `name` replaced; adds an ADS
    config source when the replacement discovers its config over ADS."""
    bootstrap = copy.deepcopy(bootstrap)
    replaced = False
    for listener in bootstrap["static_resources"]["listeners"]:
        for chain in listener["filter_chains"]:
            for network_filter in chain["filters"]:
                filters = network_filter.get("typed_config", {}).get("http_filters", [])
                for index, http_filter in enumerate(filters):
                    if http_filter["name"] == name:
                        filters[index] = copy.deepcopy(replacement)
                        replaced = True
    if not replaced:
        raise ValueError(f"no HTTP filter {name}")
    if "ads" in replacement.get("config_discovery", {}).get("config_source", {}):
        bootstrap["dynamic_resources"] = {"ads_config": {
            "api_type": "GRPC", "transport_api_version": "V3",
            "grpc_services": [{"envoy_grpc": {"cluster_name": "xds-grpc"}}]}}
        bootstrap["static_resources"]["clusters"].append({
            "name": "xds-grpc", "type": "STATIC", "connect_timeout": "1s",
            "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": {"http2_protocol_options": {}}}},
            "load_assignment": {"cluster_name": "xds-grpc", "endpoints": [{"lb_endpoints": [{"endpoint": {
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 15010}}}}]}]},
        })
    return bootstrap


# --- running envoy -------------------------------------------------------------

def envoy_validate(config_path):
    # Configurations read their secrets from Envoy's environment: give the
    # validating Envoy the test ones.
    return subprocess.run(
        [str(ENVOY), "--mode", "validate", "--disable-hot-restart", "-c", str(config_path), "--log-level", "error"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=dict(os.environ, **SECRETS_ENV),
    )


def checks(workdir):
    """(label, bootstrap to validate) for everything listed in the docstring."""
    workdir = pathlib.Path(workdir)
    resources = ecds_resources()
    # ECDS file sources need a file to exist; any resource of the repository will do.
    resource_text = resource_file_text(resources[0][1]) if resources else "resources: []\n"
    found = []
    for number, (label, bootstrap) in enumerate(bootstraps()):
        found.append((label, localize_bootstrap(bootstrap, workdir / f"b{number}", resource_text)))
    for label, resource in resources:
        found.append((f"{label} (ECDS resource, as a static filter)", static_filter_bootstrap(resource)))
    sidecar = yaml.safe_load(SIDECAR.read_text())
    for number, (label, http_filter) in enumerate(istio_http_filters()):
        bootstrap = with_http_filter(sidecar, "mcp_policy", http_filter)
        found.append((f"{label} (HTTP filter, in envoy/sidecar.yaml)",
                      localize_bootstrap(bootstrap, workdir / f"i{number}", resource_text)))
    return found


def main():
    with tempfile.TemporaryDirectory(prefix="validate-envoy-") as tmp:
        tmp = pathlib.Path(tmp)
        found = checks(tmp)
        if not found:
            print("no Envoy configs found", file=sys.stderr)
            return 1
        failed = 0
        for number, (label, bootstrap) in enumerate(found):
            if label.startswith("envoy/") and " " not in label:
                config_path = ROOT / label
                if bootstrap != yaml.safe_load(config_path.read_text()):
                    config_path = tmp / f"config-{number}.yaml"
                    config_path.write_text(yaml.safe_dump(bootstrap, sort_keys=False))
            else:
                config_path = tmp / f"config-{number}.yaml"
                config_path.write_text(yaml.safe_dump(bootstrap, sort_keys=False))
            result = envoy_validate(config_path)
            status = "OK" if result.returncode == 0 else "FAILED"
            print(f"envoy --mode validate {label}: {status}")
            if result.returncode != 0:
                failed += 1
                print(result.stdout[-4000:], result.stderr[-4000:], sep="\n", file=sys.stderr)
        print(f"{len(found) - failed} passed, {failed} failed")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
