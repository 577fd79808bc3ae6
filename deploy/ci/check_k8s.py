"""Checks on a rendered overlay (`kubectl kustomize OVERLAY | check_k8s.py FLAVOUR -`) that a
schema cannot express: what makes the sidecar secure and correct. Invariants, not the
example's values, so a user may size, name and tune the kit without this check objecting.

Flavours: `native` and `classic` (the two overlays), `examples` (native plus a principals
Secret generated from the public example keys), `component` (the trellis-sidecar component
on a plain Deployment: the Deployment's invariants only), `sts` (native plus IAM-role callers:
an STS audience and egress to STS), `sts-caller` (the caller side of STS identity tokens: a
workload that renews its token well inside 15 minutes, never on disk).

kubernetes-validate has no schema for the Prometheus Operator's PodMonitor (a CRD), so its
fields are checked here against the subset of the CRD the kit uses, strictly.

Sizing invariants use the committed bench results (benches/results/results.json): the memory
limit must hold TRELLIS_MAX_CONNECTIONS connections at the largest measured per-connection
cost plus the largest measured idle RSS of any Trellis configuration.
"""
import json
import os
import re
import sys

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BENCH_RESULTS = os.path.join(ROOT, "benches", "results", "results.json")

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

# kustomize's content-hash suffix: `-` and 10 characters of its alphabet.
HASH_SUFFIX = re.compile(r"-[bcdfghkmt2456789]{10}$")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# What callers sign as x-k8s-aws-id and Trellis expects (CONTRACT 4b; conventionally svc-…).
AUDIENCE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+")
# A token lives 15 minutes from its X-Amz-Date: renewing every 10 minutes at the latest keeps
# a caller's token fresh with room for a failed renewal or two.
MAX_TOKEN_REFRESH_S = 600
MEMORY_UNITS = {"": 1, "k": 1000, "M": 1000 ** 2, "G": 1000 ** 3, "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3}


def duration_seconds(text):
    """Go-style durations as the kit writes them: `20s`, `1m`, `1m30s`, `500ms`."""
    m = re.fullmatch(r"(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?", text or "")
    if not text or not m or not any(m.groups()):
        return None
    minutes, seconds, millis = (int(g) if g else 0 for g in m.groups())
    return minutes * 60 + seconds + millis / 1000


def memory_bytes(q):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(k|M|G|Ki|Mi|Gi)?", str(q or ""))
    return float(m.group(1)) * MEMORY_UNITS[m.group(2) or ""] if m else None


def cpu_millis(q):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m)?", str(q or ""))
    if not m:
        return None
    return float(m.group(1)) if m.group(2) else float(m.group(1)) * 1000


def bench_memory():
    """(KiB per connection, KiB idle) over every Trellis configuration of the committed bench."""
    with open(BENCH_RESULTS, encoding="utf-8") as f:
        summary = json.load(f)["summary"]
    per_conn, idle = [], []
    for name, s in summary.items():
        if name.startswith("trellis") and s.get("idle_rss_kib") and s.get("conn1k_rss_kib"):
            per_conn.append((s["conn1k_rss_kib"] - s["idle_rss_kib"]) / 1000)
            idle.append(s["idle_rss_kib"])
    if not per_conn:
        raise SystemExit(f"{BENCH_RESULTS}: no Trellis configuration with idle_rss_kib and conn1k_rss_kib")
    return max(per_conn), max(idle)


def prestop_sleep_seconds(container):
    """A preStop that sleeps: the `sleep` action, or an exec of `sleep N` / `... sleep N`."""
    pre = container.get("lifecycle", {}).get("preStop", {})
    if "sleep" in pre:
        return pre["sleep"].get("seconds", 0)
    cmd = pre.get("exec", {}).get("command", [])
    for i, word in enumerate(cmd[:-1]):
        if os.path.basename(word) == "sleep" and re.fullmatch(r"\d+", cmd[i + 1]):
            return int(cmd[i + 1])
    return 0


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
        native = self.flavour in ("native", "examples", "component", "sts")
        trellis = inits.get("trellis") if native else containers.get("trellis")
        apps = [c for n, c in containers.items() if n != "trellis"]
        self.need(trellis is not None, f"{self.flavour}: container `trellis` not where expected")
        self.need(len(apps) == 1, f"expected one application container, found {[c['name'] for c in apps]}")
        if not trellis or len(apps) != 1:
            return self.errors
        app = apps[0]
        if native:
            self.need(trellis.get("restartPolicy") == "Always", "native: trellis needs restartPolicy Always")
            probe = trellis.get("startupProbe", {}).get("httpGet", {})
            self.need(probe.get("path") == "/readyz", "native: trellis needs a startupProbe on /readyz")
            self.need("trellis" not in containers, "native: trellis must not also be a container")
        self.check_trellis(trellis)
        self.check_app(app)
        self.check_pod(deploy, pod)
        self.check_resources(trellis)
        self.check_shutdown(pod, trellis, app)
        self.check_volumes(pod)
        if self.flavour != "component":
            self.check_companions()
        if self.flavour == "sts":
            self.check_sts(trellis)
        return self.errors

    def check_sts(self, trellis):
        """IAM-role callers: Trellis knows its audience and may reach STS (and DNS) when the
        pod's egress is restricted; a missing rule fails every new token with 503."""
        audience = self.env(trellis).get("TRELLIS_STS_AUDIENCE") or ""
        self.need(bool(AUDIENCE.fullmatch(audience)),
                  f"TRELLIS_STS_AUDIENCE {audience!r} must be set to the callers' --cluster-name (e.g. svc-…)")
        endpoint = self.env(trellis).get("TRELLIS_STS_ENDPOINT")
        if endpoint is not None:
            self.need(str(endpoint).startswith("https://"), f"TRELLIS_STS_ENDPOINT {endpoint!r} must be https")
        netpol = self.one("NetworkPolicy")
        spec = netpol.get("spec", {})
        if "Egress" not in spec.get("policyTypes", []):
            return  # egress unrestricted: STS is reachable
        ports = [(p.get("port"), p.get("protocol", "TCP")) for r in spec.get("egress", []) for p in r.get("ports", [])]
        self.need((443, "TCP") in ports,
                  "the NetworkPolicy restricts egress without a rule for TCP 443: Trellis needs egress to STS "
                  "(its VPC endpoint's subnets, or sts.<region>.amazonaws.com) or every new token fails with 503")
        self.need((53, "UDP") in ports, "the NetworkPolicy restricts egress without DNS (UDP 53): STS's name cannot resolve")


    def check_trellis(self, trellis):
        self.need("--admin=0.0.0.0:9901" in trellis.get("args", []), "trellis needs --admin=0.0.0.0:9901")
        self.need(bool(DIGEST.search(trellis.get("image", ""))),
                  f"trellis image must be pinned by digest (…@sha256:<64 hex>), found {trellis.get('image')!r}")
        ready = trellis.get("readinessProbe", {})
        live = trellis.get("livenessProbe", {})
        self.need(ready.get("httpGet", {}).get("path") == "/readyz", "readiness must probe /readyz")
        self.need(live.get("httpGet", {}).get("path") == "/healthz", "liveness must probe /healthz")
        # A probe waits behind the rest of a CPU-starved pod: below a quarter core, a 1 s
        # timeout (the default) turns a busy node into restarts.
        cpu = cpu_millis(trellis.get("resources", {}).get("requests", {}).get("cpu"))
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = trellis.get(kind)
            if probe and cpu is not None and cpu < 250:
                self.need(probe.get("timeoutSeconds", 1) >= 2,
                          f"trellis {kind}: timeoutSeconds {probe.get('timeoutSeconds', 1)} < 2 s with a CPU request of {cpu:g}m")
        self.need(live.get("periodSeconds", 10) * live.get("failureThreshold", 3) >= 30,
                  "trellis liveness must tolerate >= 30 s of failures (periodSeconds x failureThreshold)")
        env = self.env(trellis)
        self.need(env.get("TRELLIS_UPSTREAM") == "http://127.0.0.1:8081", "TRELLIS_UPSTREAM must be http://127.0.0.1:8081")
        self.need(bool(env.get("TRELLIS_SERVICE_ARN")), "TRELLIS_SERVICE_ARN is required")
        ports = {p["containerPort"] for p in trellis.get("ports", [])}
        self.need(ports == {8080, 9901}, f"trellis ports must be 8080 and 9901, found {sorted(ports)}")
        # Trellis's own container is held to the image's contract strictly.
        sc = trellis.get("securityContext", {})
        self.need(sc.get("runAsUser") == 65532 and sc.get("runAsGroup") == 65532, "trellis: must run as 65532:65532")
        self.need(sc.get("runAsNonRoot") is True, "trellis: runAsNonRoot")
        self.need(sc.get("readOnlyRootFilesystem") is True, "trellis: readOnlyRootFilesystem")
        self.need(sc.get("allowPrivilegeEscalation") is False, "trellis: allowPrivilegeEscalation false")
        self.need(sc.get("capabilities", {}).get("drop") == ["ALL"], "trellis: drop ALL capabilities")
        self.need(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "trellis: seccomp RuntimeDefault")
        self.need(all("subPath" not in m and "subPathExpr" not in m for m in trellis.get("volumeMounts", [])),
                  "trellis: no subPath mounts (they never see ConfigMap/Secret updates)")

    def check_app(self, app):
        self.need(any("127.0.0.1:8081" in a for a in app.get("args", []) + [str(v.get("value")) for v in app.get("env", [])]),
                  "the app must be told to listen on 127.0.0.1:8081")
        self.need(not app.get("ports"), "the app must expose no port: callers would bypass Trellis")
        # The kubelet cannot reach loopback: the app's readiness goes through Trellis (8080,
        # an anonymous-allowed path) or runs inside the container.
        probe = app.get("readinessProbe", {})
        self.need(probe.get("httpGet", {}).get("port") in (8080, "http") or "exec" in probe,
                  "the app needs a readinessProbe: httpGet through Trellis on 8080 (an anonymous-allowed path) or exec")

    def check_pod(self, deploy, pod):
        psc = pod.get("securityContext", {})
        self.need(psc.get("fsGroup") == 65532, "pod fsGroup must be 65532 (the principals Secret is 0440 root:65532)")
        self.need(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "pod seccomp must be RuntimeDefault")
        self.need(pod.get("automountServiceAccountToken") is False, "automountServiceAccountToken must be false")
        # A rejected policy must stall a rollout, never take running pods down.
        rolling = deploy.get("spec", {}).get("strategy", {}).get("rollingUpdate", {})
        self.need(str(rolling.get("maxUnavailable", "25%")) in ("0", "0%"),
                  "Deployment strategy.rollingUpdate.maxUnavailable must be 0 (a bad policy stalls the rollout on a new pod)")
        if self.flavour != "component":
            keys = {c.get("topologyKey") for c in pod.get("topologySpreadConstraints", [])}
            self.need("topology.kubernetes.io/zone" in keys, "topologySpreadConstraints must spread replicas over zones")

    def check_resources(self, trellis):
        res = trellis.get("resources", {})
        req, lim = res.get("requests", {}), res.get("limits", {})
        self.need("cpu" in req, "trellis needs a CPU request")
        self.need("cpu" not in lim, "no CPU limit on trellis (throttling shows as auth latency)")
        mem_req, mem_lim = memory_bytes(req.get("memory")), memory_bytes(lim.get("memory"))
        self.need(mem_req is not None and mem_lim is not None, "trellis needs a memory request and a memory limit")
        if mem_req is None or mem_lim is None:
            return
        self.need(mem_lim >= mem_req, f"trellis memory limit {lim['memory']} < request {req['memory']}")
        per_conn_kib, idle_kib = bench_memory()
        self.need(mem_req >= idle_kib * 1024, f"trellis memory request {req['memory']} < the idle RSS measured ({idle_kib / 1024:.1f} MiB)")
        raw = self.env(trellis).get("TRELLIS_MAX_CONNECTIONS")
        self.need(raw is not None and str(raw).isdigit(),
                  "TRELLIS_MAX_CONNECTIONS must be set: the default (10,000) outgrows any small memory limit")
        if raw is None or not str(raw).isdigit():
            return
        need_kib = int(raw) * per_conn_kib + idle_kib
        self.need(need_kib * 1024 <= mem_lim,
                  f"TRELLIS_MAX_CONNECTIONS={raw} x {per_conn_kib:.1f} KiB + {idle_kib / 1024:.1f} MiB idle = "
                  f"{need_kib / 1024:.1f} MiB > memory limit {lim['memory']} (benches/results/results.json): "
                  f"at most {int((mem_lim / 1024 - idle_kib) / per_conn_kib)} connections fit")

    def check_shutdown(self, pod, trellis, app):
        env = self.env(trellis)
        delay = duration_seconds(env.get("TRELLIS_SHUTDOWN_DELAY", ""))
        drain = duration_seconds(env.get("TRELLIS_DRAIN_TIMEOUT", "20s"))
        self.need(delay is not None and delay > 0,
                  "TRELLIS_SHUTDOWN_DELAY must be set (> 0): Trellis keeps serving while endpoints stop sending")
        self.need(drain is not None, f"TRELLIS_DRAIN_TIMEOUT {env.get('TRELLIS_DRAIN_TIMEOUT')!r} is not a duration")
        if delay is None or drain is None:
            return
        app_sleep = prestop_sleep_seconds(app)
        self.need(app_sleep >= delay,
                  f"the app's preStop sleep ({app_sleep} s) must last at least TRELLIS_SHUTDOWN_DELAY ({delay:g} s): "
                  "the app must not stop while Trellis still takes requests")
        # Native: the app stops first, then Trellis (delay + drain); classic: both at once.
        # The sum covers both.
        grace = pod.get("terminationGracePeriodSeconds", 30)
        self.need(grace >= app_sleep + delay + drain,
                  f"terminationGracePeriodSeconds {grace} < app preStop {app_sleep} s + shutdown delay {delay:g} s + drain {drain:g} s")

    def check_volumes(self, pod):
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        cms = {c["metadata"]["name"] for c in self.by_kind.get("ConfigMap", [])}
        secrets = {s["metadata"]["name"] for s in self.by_kind.get("Secret", [])}
        policy = next((v["configMap"] for v in volumes.values() if "configMap" in v), {})
        principals = next((v["secret"] for v in volumes.values() if "secret" in v), {})
        self.need(policy.get("name") in cms, "the policy volume must mount a ConfigMap the kustomization generates")
        self.need(bool(HASH_SUFFIX.search(policy.get("name", ""))),
                  f"policy ConfigMap `{policy.get('name')}` must have a content-hash name (configMapGenerator "
                  "without disableNameSuffixHash): a policy change is then a rollout, not an in-place edit of every pod")
        name = principals.get("secretName", "")
        if self.flavour == "examples":
            self.need(name in secrets, "examples: the principals Secret must be generated from the example keys")
            self.need(bool(HASH_SUFFIX.search(name)),
                      f"examples: principals Secret `{name}` must have a content-hash name, never the real Secret's")
        else:
            self.need(name not in secrets,
                      f"the principals Secret `{name}` must not be generated by the kit: it is created out of band, "
                      "and an apply would replace real keys with the ones in the repository")
        self.need(principals.get("defaultMode") == 0o440, "principals Secret mode must be 0440")

    def check_companions(self):
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
        pdb = self.one("PodDisruptionBudget")
        self.need(pdb.get("spec", {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow",
                  "PodDisruptionBudget needs unhealthyPodEvictionPolicy: AlwaysAllow (unready pods must not block drains)")
        pm = self.one("PodMonitor")
        import jsonschema
        for e in jsonschema.Draft7Validator(POD_MONITOR_SCHEMA).iter_errors(pm):
            self.errors.append(f"PodMonitor {'/'.join(map(str, e.absolute_path))}: {e.message}")
        self.need("release" in pm.get("metadata", {}).get("labels", {}),
                  "PodMonitor needs a `release` label (kube-prometheus-stack's default podMonitorSelector)")
        targets = {r.get("targetLabel") for ep in pm.get("spec", {}).get("podMetricsEndpoints", []) for r in ep.get("relabelings", [])}
        self.need({"job", "service"} <= targets, "PodMonitor must set the `job` and `service` labels the alerts aggregate by")

    @staticmethod
    def env(container):
        return {e["name"]: e.get("value") for e in container.get("env", [])}


class CallerChecker:
    """The caller side of STS identity tokens (deploy/k8s/callers/sts-token)."""

    def __init__(self, docs):
        self.errors = []
        self.docs = docs

    def need(self, cond, message):
        if not cond:
            self.errors.append(message)

    def run(self):
        deploys = [d for d in self.docs if d["kind"] == "Deployment"]
        accounts = {d["metadata"]["name"]: d for d in self.docs if d["kind"] == "ServiceAccount"}
        self.need(len(deploys) == 1, f"expected one caller Deployment, found {len(deploys)}")
        if len(deploys) != 1:
            return self.errors
        pod = deploys[0]["spec"]["template"]["spec"]
        sa = accounts.get(pod.get("serviceAccountName", ""))
        self.need(sa is not None, f"serviceAccountName {pod.get('serviceAccountName')!r} must be a ServiceAccount of the kustomization")
        if sa is not None:
            role = sa.get("metadata", {}).get("annotations", {}).get("eks.amazonaws.com/role-arn", "")
            self.need(bool(ROLE_ARN.fullmatch(role)),
                      f"ServiceAccount {sa['metadata']['name']}: eks.amazonaws.com/role-arn {role!r} must be an IAM role ARN (IRSA)")
        self.need(pod.get("automountServiceAccountToken") is False, "automountServiceAccountToken must be false")
        inits = pod.get("initContainers", [])
        refresher = next((c for c in inits if "aws eks get-token" in " ".join(c.get("command", []) + c.get("args", []))), None)
        self.need(refresher is not None, "no native sidecar runs `aws eks get-token --cluster-name …`")
        if refresher is None:
            return self.errors
        self.need(refresher.get("restartPolicy") == "Always", "the token refresher must be a native sidecar (restartPolicy Always)")
        env = {e["name"]: e.get("value") for e in refresher.get("env", [])}
        script = " ".join(refresher.get("command", []) + refresher.get("args", []))
        self.need("--cluster-name \"$TRELLIS_AUDIENCE\"" in script and AUDIENCE.fullmatch(env.get("TRELLIS_AUDIENCE") or ""),
                  f"the token refresher needs TRELLIS_AUDIENCE (the service's TRELLIS_STS_AUDIENCE) as --cluster-name, found {env.get('TRELLIS_AUDIENCE')!r}")
        every = env.get("TOKEN_REFRESH_SECONDS")
        self.need(str(every).isdigit() and 1 <= int(every) <= MAX_TOKEN_REFRESH_S and '"$TOKEN_REFRESH_SECONDS"' in script,
                  f"TOKEN_REFRESH_SECONDS={every} must be 1..{MAX_TOKEN_REFRESH_S} and used by the loop: a token lives 15 minutes "
                  "from its signing, and a caller must hold a fresh one long before that")
        self.need(env.get("AWS_STS_REGIONAL_ENDPOINTS") == "regional", "the token refresher needs AWS_STS_REGIONAL_ENDPOINTS=regional")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        token_mounts = [m for m in refresher.get("volumeMounts", []) if m.get("mountPath") == "/var/run/trellis-token"]
        self.need(len(token_mounts) == 1, "the token refresher must mount /var/run/trellis-token")
        if token_mounts:
            vol = volumes.get(token_mounts[0]["name"], {})
            self.need(vol.get("emptyDir", {}).get("medium") == "Memory",
                      f"token volume {token_mounts[0]['name']!r} must be an emptyDir with medium Memory: a bearer token never on the node's disk")
            for c in pod.get("containers", []):
                for m in c.get("volumeMounts", []):
                    if m["name"] == token_mounts[0]["name"]:
                        self.need(m.get("readOnly") is True, f"container {c['name']}: the token volume must be mounted readOnly")
        for c in inits + pod.get("containers", []):
            self.need(bool(DIGEST.search(c.get("image", ""))), f"container {c['name']}: image must be pinned by digest")
        return self.errors


def main(flavour, path):
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    docs = [d for d in yaml.safe_load_all(text) if d]
    if flavour == "sts-caller":
        errors = CallerChecker(docs).run()
        for e in errors:
            print(f"{flavour}: {e}", file=sys.stderr)
        if not errors:
            print(f"{flavour}: IRSA role, token renewed by a native sidecar within {MAX_TOKEN_REFRESH_S} s, "
                  "memory-backed token volume read-only in the app, images by digest")
        return 1 if errors else 0
    errors = Checker(docs, flavour).run()
    for e in errors:
        print(f"{flavour}: {e}", file=sys.stderr)
    if not errors:
        per_conn, idle = bench_memory()
        print(f"{flavour}: sidecar invariants hold (loopback app, shutdown ordering, sizing against "
              f"{per_conn:.1f} KiB/connection + {idle / 1024:.1f} MiB idle, hashed policy ConfigMap, no generated "
              "principals Secret, hardening, probes; companions and PodMonitor against its CRD fields)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
