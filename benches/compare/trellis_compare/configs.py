"""The configurations compared: what runs as the system under test (SUT), with which exact
command line and files, and what the generator sends through it.

Every SUT is pinned to core 0 and listens on a fresh loopback port; the generator, the
upstream and this harness run on core 1. nginx + auth_request counts its authorizer as part
of the SUT (it runs on core 0 too): Trellis decides in-process, so the fair comparison is
with everything nginx needs to decide. The same holds for Envoy or nginx asking `trellis authz`
and for Envoy in front of the sidecar: every process of the system is on core 0 and counted,
and each is also counted alone (`System.parts`).
"""

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import files, procs


@dataclass
class Config:
    name: str
    kind: str  # direct | passthrough | nginx | envoy | trellis | envoy-authz | nginx-authz | envoy-series
    what: str
    path: str = "/bench/item"
    sign: str = "none"  # none | warm | cold | sts | sts-cold
    expect: int = 200
    statements: int = 10
    access_log: bool = False
    authorizer: bool = False
    reload: bool = False
    shadow: bool = False  # also decide against a shadow service policy of the same size
    needs: str = ""  # a peer that must be installed: nginx | envoy
    baseline: bool = False  # run `Tools.baseline` (another build of trellis) instead
    front: str = ""  # envoy-authz: `grpc` or `http`, the ext_authz service Envoy asks


CONFIGS = [
    Config("direct", "direct", "generator → upstream, no hop (the baseline of added latency)"),
    Config("passthrough", "passthrough",
           "`trellis-passthrough`: hyper-util auto server → pooled legacy client, nothing else"),
    Config("nginx", "nginx", "nginx `proxy_pass`, 1 worker, keep-alive upstream, access log off",
           needs="nginx"),
    Config("nginx-auth", "nginx",
           "nginx + `auth_request` to `trellis-upstream --mode authorizer` (204), both on the SUT core",
           authorizer=True, needs="nginx"),
    Config("nginx-log", "nginx", "nginx `proxy_pass` with its default access log to a file",
           access_log=True, needs="nginx"),
    Config("envoy", "envoy", "Envoy plain router, `--concurrency 1`", needs="envoy"),
    Config("trellis-anon", "trellis", "Trellis, anonymous caller, 10-statement policy, log off",
           path="/public/item"),
    Config("trellis-sigv4", "trellis",
           "Trellis, SigV4 (warm signing key), 10-statement policy + identity policy, metrics, log off",
           sign="warm"),
    Config("trellis-shadow", "trellis",
           "Trellis, `trellis-sigv4` plus a shadow service policy of the same size (10 statements) "
           "decided beside the enforced one on every request",
           sign="warm", shadow=True),
    Config("trellis-sigv4-cold", "trellis",
           "Trellis, SigV4 where every request carries a key not seen before (signing key derived per request)",
           sign="cold"),
    Config("trellis-sts", "trellis",
           "Trellis, STS identity token (`aws eks get-token` shape, verified once through the "
           "local STS stand-in, then cached), 10-statement policy + identity policy, metrics, log off",
           sign="sts"),
    Config("trellis-sts-cold", "trellis",
           "Trellis, STS identity token where every request carries a token not seen before: "
           "each is a cache miss answered by the local STS stand-in",
           sign="sts-cold"),
    Config("trellis-deny", "trellis", "Trellis, SigV4, explicit deny → 403", path="/deny/item",
           sign="warm", expect=403),
    Config("trellis-policy-1", "trellis", "Trellis, SigV4, 1-statement policy", sign="warm",
           statements=1),
    Config("trellis-policy-100", "trellis", "Trellis, SigV4, 100-statement policy", sign="warm",
           statements=100),
    Config("trellis-policy-1000", "trellis", "Trellis, SigV4, 1,000-statement policy", sign="warm",
           statements=1000),
    Config("trellis-sigv4-log", "trellis", "Trellis, SigV4, 10 statements, JSON access log to a file",
           sign="warm", access_log=True),
    Config("trellis-reload", "trellis",
           "Trellis, SigV4, 1,000 statements: reload latency and a 1 Hz reload storm",
           sign="warm", statements=1000, reload=True),
    Config("envoy-trellis-grpc", "envoy-authz",
           "Envoy (`deploy/authz/envoy-grpc.yaml`) + gRPC ext_authz to `trellis authz`, "
           "`trellis-sigv4`'s requests, policy and principals, both on the SUT core",
           sign="warm", needs="envoy", front="grpc"),
    Config("envoy-trellis-http", "envoy-authz",
           "Envoy (`deploy/authz/envoy-http.yaml`) + HTTP ext_authz to `trellis authz "
           "--path-prefix /check`, `trellis-sigv4`'s requests, policy and principals",
           sign="warm", needs="envoy", front="http"),
    Config("nginx-trellis", "nginx-authz",
           "nginx (`deploy/authz/nginx.conf`) + `auth_request` to `trellis authz`, "
           "`trellis-sigv4`'s requests, policy and principals, both on the SUT core",
           sign="warm", needs="nginx"),
    Config("envoy-trellis-series", "envoy-series",
           "Envoy (`envoy`'s plain router) → `trellis run` as in `trellis-sigv4` → upstream: "
           "the sidecar hop in series behind Envoy, both on the SUT core",
           sign="warm", needs="envoy"),
]

BY_NAME = {c.name: c for c in CONFIGS}
# Configurations whose callers send STS identity tokens: they need the local STS stand-in.
STS_SIGNS = ("sts", "sts-cold")
BASELINE_SUFFIX = "@baseline"


# Configurations with a Trellis process in them: `trellis run` alone, `trellis authz` behind
# Envoy or nginx, `trellis run` behind Envoy.
BASELINE_KINDS = ("trellis", "envoy-authz", "nginx-authz", "envoy-series")


def with_baselines(chosen):
    """`chosen` plus, after each Trellis configuration, the same configuration run with the
    baseline binary: before/after figures of a change come from one run, interleaved."""
    out = []
    for c in chosen:
        out.append(c)
        if c.kind in BASELINE_KINDS:
            out.append(replace(c, name=c.name + BASELINE_SUFFIX, baseline=True,
                               what=c.what + " — baseline binary"))
    return out


@dataclass
class Tools:
    trellis: str
    passthrough: str
    upstream: str
    load: str
    nginx: str | None
    envoy: str | None
    upstream_port: int
    work: Path
    cold_keys: int = 0
    baseline: str | None = None
    sts_port: int = 0  # the local STS stand-in, when an STS configuration runs
    sts_cold_rate: int = 20
    sts_cold_keys: int = 0


@dataclass
class System:
    """A started SUT."""

    config: Config
    port: int
    procs: list = field(default_factory=list)
    started: float = 0.0
    policy_path: str = ""
    argv: list = field(default_factory=list)

    # Each process of the system by what it is (`envoy`, `trellis authz`, ...), for the CPU
    # of each alone; empty for a system of one process.
    parts: dict = field(default_factory=dict)

    @property
    def pids(self):
        return [p.pid for p in self.procs]

    def add(self, part, proc):
        self.procs.append(proc)
        self.parts[part] = [proc.pid]

    def stop(self):
        for p in reversed(self.procs):
            p.stop()


def trellis_argv(tools, cfg, d, port):
    """`trellis run` on `port` in front of the upstream: argv and the service policy's path."""
    binary = tools.baseline if cfg.baseline else tools.trellis
    head = [binary, "run", "--listen", f"127.0.0.1:{port}",
            "--upstream", f"http://127.0.0.1:{tools.upstream_port}"]
    return decision_argv(head, tools, cfg, d)


def authz_argv(tools, cfg, d, grpc_port, http_port):
    """`trellis authz` with `trellis run`'s decision flags (`trellis_argv`): the same policy,
    principals, metrics and log, so the two decide the same requests the same way."""
    binary = tools.baseline if cfg.baseline else tools.trellis
    head = [binary, "authz", "--grpc-listen", f"127.0.0.1:{grpc_port}",
            "--http-listen", f"127.0.0.1:{http_port}"]
    if cfg.front == "http":
        head += ["--path-prefix", files.ENVOY_HTTP_PATH_PREFIX]
    return decision_argv(head, tools, cfg, d)


def decision_argv(head, tools, cfg, d):
    policy_dir = d / "policy"
    policy_dir.mkdir(parents=True, exist_ok=True)
    policy = policy_dir / "service-policy.json"
    files.write_json(policy, files.auth_policy(cfg.statements))
    principals = tools.work / {"cold": "principals-cold.json", "sts": "principals-sts.json",
                               "sts-cold": "principals-sts.json"}.get(cfg.sign, "principals.json")
    log = str(d / "access.log") if cfg.access_log else "off"
    argv = head + ["--admin", f"127.0.0.1:{procs.free_port()}",
                   "--service-arn", files.SERVICE_ARN, "--service-policy", str(policy),
                   "--principals", str(principals), "--access-log", log, "--drain-timeout", "1s"]
    if cfg.shadow:
        shadow = policy_dir / "shadow-service-policy.json"
        files.write_json(shadow, files.auth_policy(cfg.statements))
        argv += ["--shadow-service-policy", str(shadow)]
    if cfg.sign in STS_SIGNS:
        argv += ["--sts-audience", files.STS_AUDIENCE,
                 "--sts-endpoint", f"http://127.0.0.1:{tools.sts_port}"]
    return argv, str(policy)


def start(cfg, tools, round_no, env=None, pinned=True):
    """Starts `cfg`'s SUT pinned to the SUT core (`pinned=False`: free on every core, as an
    app's sidecar shares a node); returns it as soon as the processes exist (`started` is
    taken just before the first exec, for the time to first 200). `env`, when given, is the
    environment of a single-process SUT."""
    d = tools.work / f"{cfg.name}-r{round_no}" / ("" if pinned else "unpinned")
    d.mkdir(parents=True, exist_ok=True)
    if cfg.kind == "direct":
        return System(cfg, tools.upstream_port)
    port = procs.free_port()
    sys = System(cfg, port)
    core = procs.SUT_CORE if pinned else None
    log = str(d / "sut.log")
    if cfg.kind == "passthrough":
        sys.argv = [tools.passthrough, "--listen", f"127.0.0.1:{port}",
                    "--upstream", f"http://127.0.0.1:{tools.upstream_port}"]
    elif cfg.kind == "nginx":
        auth = None
        if cfg.authorizer:
            auth_port = procs.free_port()
            p = procs.Proc([tools.upstream, "--listen", f"127.0.0.1:{auth_port}", "--mode",
                            "authorizer"], core, str(d / "authorizer.log"))
            sys.procs.append(p)
            procs.wait_listening(auth_port, p)
            auth = f"127.0.0.1:{auth_port}"
        conf = d / "nginx.conf"
        conf.write_text(files.nginx_conf(str(d), f"127.0.0.1:{port}",
                                         f"127.0.0.1:{tools.upstream_port}", auth, cfg.access_log))
        sys.argv = [tools.nginx, "-p", str(d), "-c", str(conf), "-e", str(d / "nginx-error.log")]
    elif cfg.kind == "envoy":
        conf = d / "envoy.yaml"
        conf.write_text(files.envoy_yaml(port, procs.free_port(), tools.upstream_port))
        sys.argv = envoy_argv(tools, conf)
    elif cfg.kind == "trellis":
        sys.argv, sys.policy_path = trellis_argv(tools, cfg, d, port)
    elif cfg.kind in ("envoy-authz", "nginx-authz", "envoy-series"):
        return start_pair(cfg, tools, d, sys, core)
    sys.started = time.perf_counter()
    sys.procs.append(procs.Proc(sys.argv, core, log, env=env))
    return sys


def start_pair(cfg, tools, d, sys, core):
    """A proxy users run with Trellis beside it, both on the SUT core: Envoy or nginx asking
    `trellis authz` (the shipped `deploy/authz` configurations, ports replaced), or Envoy in
    front of `trellis run`. `started` is taken before Trellis's exec: the time to the first
    200 is the whole system's."""
    sys.started = time.perf_counter()
    if cfg.kind == "envoy-series":
        hop = procs.free_port()
        argv, sys.policy_path = trellis_argv(tools, cfg, d, hop)
        trellis = procs.Proc(argv, core, str(d / "trellis.log"))
        sys.add("trellis run", trellis)
        procs.wait_listening(hop, trellis)
        conf = d / "envoy.yaml"
        conf.write_text(files.envoy_yaml(sys.port, procs.free_port(), hop))
        sys.argv = envoy_argv(tools, conf)
        sys.add("envoy", procs.Proc(sys.argv, core, str(d / "sut.log")))
        return sys
    grpc, http = procs.free_port(), procs.free_port()
    argv, sys.policy_path = authz_argv(tools, cfg, d, grpc, http)
    authz = procs.Proc(argv, core, str(d / "trellis.log"))
    sys.add("trellis authz", authz)
    procs.wait_listening(grpc if cfg.front == "grpc" else http, authz)
    if cfg.kind == "envoy-authz":
        conf = d / "envoy.yaml"
        conf.write_text(files.envoy_authz_yaml(cfg.front, sys.port, procs.free_port(),
                                               tools.upstream_port, grpc if cfg.front == "grpc" else http))
        sys.argv = envoy_argv(tools, conf)
        sys.add("envoy", procs.Proc(sys.argv, core, str(d / "sut.log")))
    else:
        conf = d / "nginx.conf"
        conf.write_text(files.nginx_authz_conf(str(d), sys.port, tools.upstream_port, http))
        sys.argv = [tools.nginx, "-p", str(d), "-c", str(conf), "-e", str(d / "nginx-error.log")]
        sys.add("nginx", procs.Proc(sys.argv, core, str(d / "sut.log")))
    return sys


def envoy_argv(tools, conf):
    """Envoy as the `envoy` configuration runs it: one worker thread."""
    return [tools.envoy, "-c", str(conf), "--concurrency", "1", "--disable-hot-restart",
            "-l", "warning"]


def probe_path(cfg):
    """A path every SUT answers `200` without a signature (the readiness and memory probes)."""
    return "/bench/probe" if cfg.kind in ("passthrough", "nginx", "envoy", "direct") else "/public/probe"

