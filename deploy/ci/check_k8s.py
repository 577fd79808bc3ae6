"""Checks on a rendered overlay (`kubectl kustomize OVERLAY | check_k8s.py native|classic -`)
that a schema cannot express: what makes the sidecar secure and correct.

kubernetes-validate has no schema for the Prometheus Operator's PodMonitor (a CRD), so its
fields are checked here against the subset of the CRD the kit uses, strictly.
"""
import re
import sys

import yaml

POD_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PodMonitor"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["selector", "podMetricsEndpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": {"type": "object"},
                "namespaceSelector": {"type": "object"},
                "podMetricsEndpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": {"type": "string", "pattern": "^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"},
                            "scrapeTimeout": {"type": "string"},
                            "honorLabels": {"type": "boolean"},
                            "relabelings": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "action": {"enum": ["replace", "Replace", "keep", "Keep", "drop", "Drop", "labelmap", "LabelMap", "labeldrop", "LabelDrop", "labelkeep", "LabelKeep", "hashmod", "HashMod", "lowercase", "Lowercase", "uppercase", "Uppercase", "keepequal", "KeepEqual", "dropequal", "DropEqual"]},
                                        "sourceLabels": {"type": "array", "items": {"type": "string"}},
                                        "separator": {"type": "string"},
                                        "targetLabel": {"type": "string"},
                                        "regex": {"type": "string"},
                                        "modulus": {"type": "integer"},
                                        "replacement": {"type": "string"},
                                    },
                                },
                            },
                            "metricRelabelings": {"type": "array"},
                        },
                    },
                },
            },
        },
    },
}


def duration_seconds(text):
    m = re.fullmatch(r"(\d+)s", text or "")
    return int(m.group(1)) if m else None


class Checker:
    def __init__(self, docs, flavour):
        self.errors = []
        self.flavour = flavour
        self.by_kind = {}
        for d in docs:
            self.by_kind.setdefault(d["kind"], []).append(d)

    def need(self, cond, message):
        if not cond:
            self.errors.append(message)

    def one(self, kind):
        items = self.by_kind.get(kind, [])
        self.need(len(items) == 1, f"expected exactly one {kind}, found {len(items)}")
        return items[0] if items else {}

    def run(self):
        deploy = self.one("Deployment")
        pod = deploy.get("spec", {}).get("template", {}).get("spec", {})
        containers = {c["name"]: c for c in pod.get("containers", [])}
        inits = {c["name"]: c for c in pod.get("initContainers", [])}
        trellis = inits.get("trellis") if self.flavour == "native" else containers.get("trellis")
        app = containers.get("app")
        self.need(trellis is not None, f"{self.flavour}: container `trellis` not where expected")
        self.need(app is not None, "container `app` missing")
        if not trellis or not app:
            return
        if self.flavour == "native":
            self.need(trellis.get("restartPolicy") == "Always", "native: trellis needs restartPolicy Always")
            probe = trellis.get("startupProbe", {}).get("httpGet", {})
            self.need(probe.get("path") == "/readyz", "native: trellis needs a startupProbe on /readyz")
            self.need("trellis" not in containers, "native: trellis must not also be a container")
        else:
            self.need(trellis.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0) > 0,
                      "classic: trellis needs a preStop sleep")
        # Admin on the pod IP, probes on it.
        self.need("--admin=0.0.0.0:9901" in trellis.get("args", []), "trellis needs --admin=0.0.0.0:9901")
        self.need(trellis.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", "readiness must probe /readyz")
        self.need(trellis.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", "liveness must probe /healthz")
        env = {e["name"]: e.get("value") for e in trellis.get("env", [])}
        self.need(env.get("TRELLIS_UPSTREAM") == "http://127.0.0.1:8081", "TRELLIS_UPSTREAM must be http://127.0.0.1:8081")
        self.need(bool(env.get("TRELLIS_SERVICE_ARN")), "TRELLIS_SERVICE_ARN is required")
        self.need(any("127.0.0.1:8081" in a for a in app.get("args", []) + [str(v.get("value")) for v in app.get("env", [])]),
                  "the app must be told to listen on 127.0.0.1:8081")
        self.need(not app.get("ports"), "the app must expose no port: callers would bypass Trellis")
        ports = {p["containerPort"] for p in trellis.get("ports", [])}
        self.need(ports == {8080, 9901}, f"trellis ports must be 8080 and 9901, found {sorted(ports)}")
        # Hardening.
        psc = pod.get("securityContext", {})
        self.need(psc.get("fsGroup") == 65532, "pod fsGroup must be 65532")
        self.need(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "pod seccomp must be RuntimeDefault")
        self.need(pod.get("automountServiceAccountToken") is False, "automountServiceAccountToken must be false")
        for c in (trellis, app):
            sc = c.get("securityContext", {})
            n = c["name"]
            self.need(sc.get("runAsUser") == 65532 and sc.get("runAsGroup") == 65532, f"{n}: must run as 65532:65532")
            self.need(sc.get("runAsNonRoot") is True, f"{n}: runAsNonRoot")
            self.need(sc.get("readOnlyRootFilesystem") is True, f"{n}: readOnlyRootFilesystem")
            self.need(sc.get("allowPrivilegeEscalation") is False, f"{n}: allowPrivilegeEscalation false")
            self.need(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{n}: drop ALL capabilities")
            self.need(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{n}: seccomp RuntimeDefault")
            self.need(all("subPath" not in m and "subPathExpr" not in m for m in c.get("volumeMounts", [])),
                      f"{n}: no subPath mounts (they never see ConfigMap/Secret updates)")
        res = trellis.get("resources", {})
        self.need(res.get("requests") == {"cpu": "50m", "memory": "32Mi"}, "trellis requests must be 50m / 32Mi")
        self.need(res.get("limits", {}).get("memory") == "128Mi", "trellis memory limit must be 128Mi")
        self.need("cpu" not in res.get("limits", {}), "no CPU limit on trellis (throttling shows as auth latency)")
        drain = duration_seconds(env.get("TRELLIS_DRAIN_TIMEOUT", "20s"))
        sleep = trellis.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        grace = pod.get("terminationGracePeriodSeconds", 30)
        self.need(drain is not None and grace >= sleep + drain + 10,
                  f"terminationGracePeriodSeconds {grace} < preStop {sleep} s + drain {drain} s + 10 s")
        # Volumes: stable ConfigMap name, 0440 Secret.
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        cms = {c["metadata"]["name"] for c in self.by_kind.get("ConfigMap", [])}
        secrets = {s["metadata"]["name"] for s in self.by_kind.get("Secret", [])}
        policy = volumes.get("policy", {}).get("configMap", {})
        self.need(policy.get("name") in cms, "volume `policy` must mount the generated ConfigMap")
        self.need(not re.search(r"-[a-z0-9]{10}$", policy.get("name", "")), "policy ConfigMap name must be stable (disableNameSuffixHash)")
        principals = volumes.get("principals", {}).get("secret", {})
        self.need(principals.get("secretName") in secrets, "volume `principals` must mount the generated Secret")
        self.need(principals.get("defaultMode") == 0o440, "principals Secret mode must be 0440")
        # Service, NetworkPolicy, PDB, PodMonitor.
        svc = self.one("Service")
        self.need([p.get("targetPort") for p in svc.get("spec", {}).get("ports", [])] in ([8080], ["http"]),
                  "the Service must target 8080 only")
        netpol = self.one("NetworkPolicy")
        rules = netpol.get("spec", {}).get("ingress", [])
        open_ports = sorted({p.get("port") for r in rules for p in r.get("ports", [])})
        self.need(open_ports == [8080, 9901], f"NetworkPolicy must open 8080 and 9901 only, found {open_ports}")
        for r in rules:
            if any(p.get("port") == 9901 for p in r.get("ports", [])):
                self.need(bool(r.get("from")), "NetworkPolicy: 9901 only from the monitoring namespace")
        self.one("PodDisruptionBudget")
        pm = self.one("PodMonitor")
        import jsonschema
        for e in jsonschema.Draft7Validator(POD_MONITOR_SCHEMA).iter_errors(pm):
            self.errors.append(f"PodMonitor {'/'.join(map(str, e.absolute_path))}: {e.message}")
        return self.errors


def main(flavour, path):
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    docs = [d for d in yaml.safe_load_all(text) if d]
    errors = Checker(docs, flavour).run()
    for e in errors:
        print(f"{flavour}: {e}", file=sys.stderr)
    if not errors:
        print(f"{flavour}: sidecar invariants hold (loopback app, Service->8080, NetworkPolicy, hardening, probes, volumes, grace; PodMonitor against its CRD fields)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
