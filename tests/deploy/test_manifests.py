"""The Kubernetes and Istio manifests under deploy/: schemas, the invariants
the design relies on, and the Envoy they configure, run for real."""
import copy
import json
import pathlib
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.istio.extensions.v1alpha1 import WasmPluginSpec
from cloudcoil.models.istio.networking.v1alpha3 import EnvoyFilter
from cloudcoil.models.istio.security.v1beta1 import PeerAuthentication

import sync_manifests
import validate_envoy_configs as configs
from cluster_harness import RateLimitService, Redis
from harness import http, rpc, wrapper_config
from sidecar import ECDS_STATS, RESOURCE_FILE, ROOT, poll, resource_text

KUBERNETES_VERSIONS = ["1.30.0", "1.33.0", kubernetes_validate.latest_version()]
ISTIO_MODELS = {("networking.istio.io/v1alpha3", "EnvoyFilter"): EnvoyFilter,
                ("security.istio.io/v1beta1", "PeerAuthentication"): PeerAuthentication}
DEMO_TOKEN = "demo-token-alice"
RATELIMIT = "kubernetes/ratelimit"


def documents(directory):
    found = []
    for path in sorted((ROOT / "deploy" / directory).glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                found.append((path, document))
    return found


def kubernetes_objects():
    return [(p, d) for p, d in documents("kubernetes") + documents(RATELIMIT) + documents("istio")
            if not d["apiVersion"].split("/")[0].endswith("istio.io")]


def istio_objects():
    return [(p, d) for p, d in documents("istio") if d["apiVersion"].split("/")[0].endswith("istio.io")]


def one(kind, directory="kubernetes"):
    [document] = [d for _, d in documents(directory) if d["kind"] == kind]
    return document


def named(kind, name, directory=RATELIMIT):
    [document] = [d for _, d in documents(directory) if d["kind"] == kind and d["metadata"]["name"] == name]
    return document


def container(deployment, name):
    [found] = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    return found


# --- schemas ---------------------------------------------------------------------

def test_generated_manifests_are_current():
    assert sync_manifests.stale() == [], "run: python3 tests/deploy/sync_manifests.py"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_manifests_validate_against_the_kubernetes_schemas(version):
    objects = kubernetes_objects()
    assert {d["kind"] for _, d in objects} >= {"Deployment", "Service", "Secret", "ConfigMap", "NetworkPolicy"}
    assert {p.name for p, _ in objects} >= {p.name for p in (ROOT / "deploy" / RATELIMIT).glob("*.yaml")}
    for path, document in objects:
        kubernetes_validate.validate(document, version, strict=True)


def test_the_schema_validation_catches_mistakes():
    deployment = one("Deployment")
    typo = copy.deepcopy(deployment)
    container(typo, "envoy")["readinesProbe"] = container(typo, "envoy").pop("readinessProbe")
    wrong_type = copy.deepcopy(deployment)
    container(wrong_type, "envoy")["ports"][0]["containerPort"] = "10000"
    for broken in (typo, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_istio_resources_match_their_crd_models():
    """Istio 1.24's CRD schemas, as pydantic models: enums and types are
    checked, and a round trip that loses a field shows an unknown field."""
    objects = istio_objects()
    assert sorted(d["kind"] for _, d in objects) == ["EnvoyFilter", "PeerAuthentication"]
    for path, document in objects:
        model = ISTIO_MODELS[(document["apiVersion"], document["kind"])]
        parsed = model.model_validate(document)
        assert parsed.model_dump(by_alias=True, exclude_unset=True, mode="json") == document, path
        assert document["metadata"]["name"] and document["spec"]
    broken = copy.deepcopy(one("EnvoyFilter", "istio"))
    broken["spec"]["configPatches"][1]["match"]["context"] = "SIDECAR_INBOUN"
    with pytest.raises(ValueError):
        EnvoyFilter.model_validate(broken)


def test_wasmplugin_has_no_field_for_allow_on_headers_stop_iteration():
    """Why deploy/istio uses an EnvoyFilter (docs/deployment.md)."""
    fields = {name for name in WasmPluginSpec.model_fields} | \
             {f.alias for f in WasmPluginSpec.model_fields.values() if f.alias}
    assert "failStrategy" in fields
    assert not [f for f in fields if "stop" in f.lower() or "iteration" in f.lower() or "headers" in f.lower()]


# --- design invariants -------------------------------------------------------------

def test_every_wasm_config_keeps_the_settings_the_filter_needs():
    found = configs.wasm_configs()
    assert len(found) >= 3  # demo.yaml, the Secret, the Istio EnvoyFilter
    for label, typed_config in found:
        config = typed_config["config"]
        assert config["allow_on_headers_stop_iteration"] is True, label
        assert config["failure_policy"] == "FAIL_CLOSED", label
        assert config["vm_config"]["vm_id"] == "mcp_policy", label
        assert config["root_id"] == "mcp_policy", label
        assert config["vm_config"]["runtime"] == "envoy.wasm.runtime.v8", label


def test_sidecar_deployment_layout():
    deployment = one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    bootstrap = yaml.safe_load(one("ConfigMap")["data"]["envoy.yaml"])
    envoy = container(deployment, "envoy")
    server = container(deployment, "mcp-afip")
    listeners = {l["name"]: l["address"]["socket_address"] for l in bootstrap["static_resources"]["listeners"]}

    # Only Envoy's ports; the MCP server is reached over the pod's loopback.
    assert "ports" not in server
    assert {p["name"]: p["containerPort"] for p in envoy["ports"]} == \
        {"mcp": listeners["mcp"]["port_value"], "health": listeners["health"]["port_value"]}
    env = {e["name"]: e["value"] for e in server["env"]}
    assert env == {"MCP_HTTP": "true", "MCP_PORT": "3000"}
    clusters = {c["name"]: c for c in bootstrap["static_resources"]["clusters"]}
    upstream = clusters["mcp_upstream"]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert upstream["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 3000}
    assert bootstrap["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    assert bootstrap["node"]["id"] and bootstrap["node"]["cluster"]

    # The Service exposes the MCP port only; the NetworkPolicy admits Envoy's ports only.
    [port] = one("Service")["spec"]["ports"]
    assert port["targetPort"] == "mcp"
    ingress = one("NetworkPolicy")["spec"]["ingress"]
    assert sorted(p["port"] for rule in ingress for p in rule["ports"]) == [8081, 10000]

    # Probes on the health listener, which has no route to any cluster.
    assert envoy["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "health"}
    assert envoy["livenessProbe"]["httpGet"] == {"path": "/live", "port": "health"}
    [health] = [l for l in bootstrap["static_resources"]["listeners"] if l["name"] == "health"]
    hcm = health["filter_chains"][0]["filters"][0]["typed_config"]
    assert all("direct_response" in r for vh in hcm["route_config"]["virtual_hosts"] for r in vh["routes"])
    assert [f["name"] for f in hcm["http_filters"]] == ["envoy.filters.http.health_check", "envoy.filters.http.router"]

    # Non-root, read-only root filesystem, resource requests.
    assert pod["securityContext"]["runAsNonRoot"] is True
    for c in (envoy, server):
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert envoy["securityContext"]["runAsUser"] != 0

    # The bootstrap is the ConfigMap's; the policy directory is the Secret,
    # mounted whole (no subPath: subPath mounts never see updates) where the
    # ECDS source watches.
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in envoy["volumeMounts"]}
    config_path = pathlib.PurePosixPath(envoy["args"][envoy["args"].index("-c") + 1])
    assert volumes[mounts[str(config_path.parent)]["name"]]["configMap"]["name"] == one("ConfigMap")["metadata"]["name"]
    [source] = [f["config_discovery"]["config_source"]["path_config_source"]
                for f in configs.http_filters(bootstrap) if f["name"] == "mcp_policy"]
    policy_dir = source["watched_directory"]["path"]
    assert source["path"] == f"{policy_dir}/{RESOURCE_FILE}"
    assert "subPath" not in mounts[policy_dir]
    secret = one("Secret")
    assert volumes[mounts[policy_dir]["name"]]["secret"]["secretName"] == secret["metadata"]["name"]
    assert RESOURCE_FILE in secret["stringData"]
    assert all(m["readOnly"] for path, m in mounts.items() if path != "/tmp")


def test_ratelimit_service_and_redis_layout():
    """deploy/kubernetes/ratelimit: mcp-policy-rls (rls/) and its Redis."""
    rls_deployment, redis_deployment = named("Deployment", "mcp-policy-rls"), named("Deployment", "mcp-policy-redis")
    rls, redis = container(rls_deployment, "mcp-policy-rls"), container(redis_deployment, "redis")
    env = {e["name"]: e["value"] for e in rls["env"]}
    ports = {p["name"]: p["containerPort"] for p in rls["ports"]}

    # Every variable is one the binary reads, and the listeners are the declared ports.
    settings = (ROOT / "rls" / "src" / "settings.rs").read_text()
    assert all(f'env = "{name}"' in settings for name in env), env
    assert env["RLS_GRPC_ADDR"].endswith(f":{ports['grpc']}") and env["RLS_HTTP_ADDR"].endswith(f":{ports['http']}")
    assert rls["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert rls["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}

    # The gRPC Service selects the service's pods; RLS_REDIS_URL names the Redis Service.
    [grpc] = named("Service", "mcp-policy-rls")["spec"]["ports"]
    assert grpc["targetPort"] == "grpc"
    pod_labels = rls_deployment["spec"]["template"]["metadata"]["labels"]
    assert named("Service", "mcp-policy-rls")["spec"]["selector"].items() <= pod_labels.items()
    redis_service = named("Service", "mcp-policy-redis")
    [redis_port] = redis_service["spec"]["ports"]
    assert env["RLS_REDIS_URL"] == f"redis://{redis_service['metadata']['name']}:{redis_port['port']}"
    assert redis_service["spec"]["selector"].items() <= redis_deployment["spec"]["template"]["metadata"]["labels"].items()

    # Redis: one instance at a time, capped memory that refuses writes when full.
    args = redis["args"]
    option = lambda name: args[args.index(name) + 1]  # noqa: E731
    assert option("--maxmemory-policy") == "noeviction"
    assert option("--save") == "" and option("--appendonly") == "no"
    maxmemory_mb = int(option("--maxmemory").removesuffix("mb"))
    assert int(redis["resources"]["limits"]["memory"].removesuffix("Mi")) > maxmemory_mb
    assert redis_deployment["spec"]["replicas"] == 1
    assert redis_deployment["spec"]["strategy"]["type"] == "Recreate"

    # Redis admits the service only; the service's gRPC port admits the gateway only.
    policies = {d["metadata"]["name"]: d["spec"] for _, d in documents(RATELIMIT) if d["kind"] == "NetworkPolicy"}
    [redis_rule] = policies["mcp-policy-redis"]["ingress"]
    assert [f["podSelector"]["matchLabels"] for f in redis_rule["from"]] == [rls_deployment["spec"]["selector"]["matchLabels"]]
    grpc_rules = [r for r in policies["mcp-policy-rls"]["ingress"] if any(p["port"] == ports["grpc"] for p in r["ports"])]
    gateway = one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert [f["podSelector"]["matchLabels"].items() <= gateway.items() for r in grpc_rules for f in r["from"]] == [True]

    # Non-root, read-only root filesystem, resource requests and a memory limit.
    for deployment, c in ((rls_deployment, rls), (redis_deployment, redis)):
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
        assert c["securityContext"]["runAsUser"] != 0
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
        assert c["resources"]["limits"]["memory"]


def test_the_filter_never_serves_without_its_configuration():
    bootstrap = yaml.safe_load((ROOT / "envoy" / "sidecar.yaml").read_text())
    [discovery] = [f["config_discovery"] for f in configs.http_filters(bootstrap) if f["name"] == "mcp_policy"]
    assert "default_config" not in discovery
    assert discovery.get("apply_default_config_without_warming", False) is False
    assert discovery["type_urls"] == [configs.WASM_TYPE]
    # The Secret's resource is the one the filter subscribes to.
    resource = yaml.safe_load(one("Secret")["stringData"][RESOURCE_FILE])
    [typed] = resource["resources"]
    assert typed["name"] == "mcp_policy"
    assert typed["@type"] == "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"


def test_istio_envoyfilter_inserts_the_filter_before_the_router_of_the_inbound_port():
    envoyfilter = one("EnvoyFilter", "istio")
    deployment = one("Deployment", "istio")
    patches = {p["applyTo"]: p for p in envoyfilter["spec"]["configPatches"]}
    extension, http_filter = patches["EXTENSION_CONFIG"], patches["HTTP_FILTER"]
    assert extension["patch"]["operation"] == "ADD"
    match = http_filter["match"]
    assert match["context"] == "SIDECAR_INBOUND"
    assert match["listener"]["filterChain"]["filter"]["subFilter"]["name"] == "envoy.filters.http.router"
    assert http_filter["patch"]["operation"] == "INSERT_BEFORE"
    value = http_filter["patch"]["value"]
    assert value["name"] == extension["patch"]["value"]["name"]
    assert value["config_discovery"]["config_source"] == {"ads": {}, "initial_fetch_timeout": "0s"}
    assert value["config_discovery"]["type_urls"] == [configs.WASM_TYPE]
    code = extension["patch"]["value"]["typed_config"]["config"]["vm_config"]["code"]
    assert code["remote"]["http_uri"]["uri"].startswith("oci://")
    # It selects the pods of the Istio Deployment, on the server's port.
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert envoyfilter["spec"]["workloadSelector"]["labels"].items() <= labels.items()
    containers = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}
    server = containers["mcp-afip"]
    assert match["listener"]["portNumber"] == server["ports"][0]["containerPort"] == 3000
    # The injected proxy gets the filter's secrets from a Secret, by the names
    # the configuration reads (customized injection: a container named istio-proxy).
    proxy_env = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in containers["istio-proxy"]["env"]}
    host_env_keys = extension["patch"]["value"]["typed_config"]["config"]["vm_config"]["environment_variables"]
    assert set(proxy_env) == set(host_env_keys["host_env_keys"])
    assert set(proxy_env.values()) == {"mcp-policy-keys"}
    # The Istio policy is the Kubernetes Secret's; its grants match the
    # callers' mesh identities, with mTLS STRICT for the same pods.
    secret_resource = yaml.safe_load(one("Secret")["stringData"][RESOURCE_FILE])["resources"][0]
    secret_value = json.loads(secret_resource["typed_config"]["config"]["configuration"]["value"])
    istio_value = json.loads(extension["patch"]["value"]["typed_config"]["config"]["configuration"]["value"])
    assert istio_value["policy"] == secret_value["policy"]
    assert any(grant.get("mtls", {}).get("uri_san", "").startswith("spiffe://") for grant in istio_value["grants"])
    peer = one("PeerAuthentication", "istio")
    assert peer["spec"]["mtls"]["mode"] == "STRICT"
    assert peer["spec"]["selector"]["matchLabels"].items() <= labels.items()


# --- Envoy ---------------------------------------------------------------------------

def test_every_envoy_config_in_the_repository_validates():
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "validate_envoy_configs.py")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].endswith(" 0 failed")
    for expected in ("envoy/sidecar.yaml", "ConfigMap/mcp-policy-envoy", "Secret/mcp-policy",
                     "EnvoyFilter/mcp-policy configPatches[0]", "EnvoyFilter/mcp-policy configPatches[1]"):
        assert any(expected in line and line.endswith(": OK") for line in lines), expected


def test_envoy_validation_catches_a_bad_policy_and_a_bad_bootstrap(tmp_path):
    [(_, resource)] = [(l, r) for l, r in configs.ecds_resources()
                       if "Secret/" in l and l.startswith("deploy/kubernetes/secret-policy.yaml")]
    broken = copy.deepcopy(resource)
    value = json.loads(broken["typed_config"]["config"]["configuration"]["value"])
    value["policy"]["default"] = "maybe"
    broken["typed_config"]["config"]["configuration"]["value"] = json.dumps(value)
    bootstrap = yaml.safe_load(one("ConfigMap")["data"]["envoy.yaml"])
    bootstrap["static_resources"]["clusters"][0]["type"] = "STATICK"
    for number, config in enumerate((configs.static_filter_bootstrap(broken),
                                     configs.localize_bootstrap(bootstrap, tmp_path, "resources: []\n"))):
        path = tmp_path / f"{number}.yaml"
        path.write_text(yaml.safe_dump(config))
        assert configs.envoy_validate(path).returncode != 0


def test_the_manifests_envoy_runs_and_enforces_the_secrets_policy(tmp_path, double, sidecar_factory, request):
    """The ConfigMap's bootstrap with the Secret's resource: ready, and the
    placeholder grant admits nobody. With a real grant, the Secret's policy,
    its limit counted by the rate-limit service (mcp-policy-rls, Redis)."""
    bootstrap = yaml.safe_load(one("ConfigMap")["data"]["envoy.yaml"])
    resource = yaml.safe_load(one("Secret")["stringData"][RESOURCE_FILE])["resources"][0]
    redis = Redis(tmp_path)
    rls = RateLimitService(tmp_path, redis)
    request.addfinalizer(redis.stop)
    request.addfinalizer(rls.stop)
    sidecar = sidecar_factory(double, configs.resource_file_text(resource), bootstrap=bootstrap,
                              rls_port=rls.grpc_port)
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "Authorization": f"Bearer {DEMO_TOKEN}"}
    status, _, _ = http("POST", sidecar.url, json.dumps(rpc("tools/list", id=1)), headers)
    assert status == 401
    assert double.methods() == []

    configuration = json.loads(resource["typed_config"]["config"]["configuration"]["value"])
    sidecar.volume.publish({RESOURCE_FILE: resource_text(wrapper_config(
        configuration["policy"], rate_limit_service=configuration["rate_limit_service"]))})
    poll(lambda: sidecar.stats()[f"{ECDS_STATS}.update_success"] == 2, "ECDS update_success 2")
    status, response_headers, body = http("POST", sidecar.url, json.dumps(rpc("initialize", {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}, id=1)),
        headers)
    assert status == 200, body
    session = dict(headers, **{"Mcp-Session-Id": response_headers["mcp-session-id"],
                               "MCP-Protocol-Version": "2025-06-18"})
    http("POST", sidecar.url, json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}), session)
    for tool, denied in (("logout_instance", False), ("create_invoice", True)):
        status, _, body = http("POST", sidecar.url, json.dumps(
            rpc("tools/call", {"name": tool, "arguments": {"instance": "x"}}, id=2)), session)
        assert status == 200
        assert ("[POLICY DENIED]" in body.decode()) is denied, (tool, body)
    assert [c["name"] for c in double.calls()] == ["logout_instance"]
    counted = [key for key in redis.cli("--scan", "--pattern", "*logout_instance_rate*").splitlines() if key]
    assert len(counted) == 1 and redis.cli("GET", counted[0]) == "1"
