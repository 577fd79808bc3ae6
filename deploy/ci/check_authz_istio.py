"""What trellis authz needs from the Istio manifests, which no published schema checks:
the CUSTOM policy names a provider the mesh config registers, both providers fail closed and
point at the Service's ports, the HTTP provider passes every header and strips `/check`, and
the Deployment's flags match.

Usage: check_authz_istio.py ISTIO_YAML MESH_CONFIG_YAML
"""
import sys

import yaml


def fail(msg):
    print(f"check_authz_istio: {msg}", file=sys.stderr)
    sys.exit(1)


def main(manifests, mesh):
    docs = [d for d in yaml.safe_load_all(open(manifests)) if d]
    kinds = {d["kind"]: d for d in docs}
    for kind in ("Deployment", "Service", "AuthorizationPolicy"):
        if kind not in kinds:
            fail(f"{manifests}: no {kind}")
    providers = {p["name"]: p for p in yaml.safe_load(open(mesh))["extensionProviders"]}
    policy = kinds["AuthorizationPolicy"]
    if policy["apiVersion"] != "security.istio.io/v1" or policy["spec"].get("action") != "CUSTOM":
        fail("the AuthorizationPolicy must be security.istio.io/v1 with action CUSTOM")
    if policy["spec"]["provider"]["name"] not in providers:
        fail(f"the AuthorizationPolicy's provider is not one of {sorted(providers)}")
    svc = kinds["Service"]
    ports = {p["port"] for p in svc["spec"]["ports"]}
    host = f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc.cluster.local"
    env = {e["name"]: e.get("value") for e in
           kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    grpc = providers.get("trellis-authz-grpc", {}).get("envoyExtAuthzGrpc")
    http = providers.get("trellis-authz-http", {}).get("envoyExtAuthzHttp")
    if not grpc or not http:
        fail("the mesh config must register trellis-authz-grpc and trellis-authz-http")
    for name, p in (("grpc", grpc), ("http", http)):
        if p["service"] != host or p["port"] not in ports:
            fail(f"the {name} provider must point at {host} on a port of the Service")
        if p.get("failOpen", False):
            fail(f"the {name} provider must fail closed (failOpen: false)")
    if env.get("TRELLIS_GRPC_LISTEN", "").rsplit(":", 1)[-1] != str(grpc["port"]):
        fail("TRELLIS_GRPC_LISTEN does not listen on the gRPC provider's port")
    if env.get("TRELLIS_HTTP_LISTEN", "").rsplit(":", 1)[-1] != str(http["port"]):
        fail("TRELLIS_HTTP_LISTEN does not listen on the HTTP provider's port")
    if http.get("pathPrefix") != env.get("TRELLIS_PATH_PREFIX"):
        fail("the HTTP provider's pathPrefix must equal TRELLIS_PATH_PREFIX")
    if http.get("includeRequestHeadersInCheck") != ["*"]:
        fail("the HTTP provider must pass every header (includeRequestHeadersInCheck: ['*']): "
             "the signature may cover any of them")
    for h in ("x-amzn-lattice-identity", "x-amzn-lattice-identity-tags"):
        if h not in http.get("headersToUpstreamOnAllow", []):
            fail(f"the HTTP provider must send {h} upstream")
    print("check_authz_istio: ok")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: check_authz_istio.py ISTIO_YAML MESH_CONFIG_YAML")
    main(sys.argv[1], sys.argv[2])
