"""The files every configuration needs: auth policies of any size, principals files with one
or many keys, and the nginx and Envoy configurations, rendered from `benches/compare/templates`
— or, for the systems that ask `trellis authz`, the configurations users deploy
(`deploy/authz`) with only their ports replaced.
"""

import json
import os
import string
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
DEPLOY_AUTHZ = Path(__file__).resolve().parents[3] / "deploy" / "authz"
# The `path_prefix` of deploy/authz/envoy-http.yaml, given to `trellis authz --path-prefix`.
ENVOY_HTTP_PATH_PREFIX = "/check"

REGION = "us-west-2"
ACCOUNT = "111122223333"
SERVICE_ARN = f"arn:aws:vpc-lattice:{REGION}:{ACCOUNT}:service/svc-0123456789abcdef0"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/bench"
WARM_KEY = ("AKIABENCHWARM0000001", "bench/EXAMPLE/secret/key/do/not/use/00001")
# What callers with STS identity tokens sign as `x-k8s-aws-id` and Trellis's `--sts-audience`.
STS_AUDIENCE = "svc-0123456789abcdef0"
STS_ROLE, STS_SESSION = "bench", "bench-1"


def _render(name, **values):
    return string.Template((TEMPLATES / name).read_text()).substitute(**values)


def auth_policy(statements, probe_effect="Allow"):
    """An auth policy with exactly `statements` statements.

    The statements the benchmark requests hit come last, so an evaluator that scans in order
    pays for every filler statement before it: the fillers are realistic shapes (roles,
    accounts, organizations, conditions on headers, IPs, dates, query strings) on paths the
    benchmark never requests, and two per ten apply to every path and need their conditions
    evaluated. A one-statement policy is a single `Principal: *` allow of the whole service.
    """
    if statements == 1:
        return {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "AllowAll", "Effect": "Allow", "Principal": "*",
                "Action": "vpc-lattice-svcs:Invoke", "Resource": f"{SERVICE_ARN}/*",
            }],
        }
    shapes = (TEMPLATES / "statements.json").read_text()
    shapes = [json.dumps(s) for s in json.loads(shapes)]
    bench = json.loads(_render("bench-statements.json", role=ROLE_ARN, svc=SERVICE_ARN,
                               probe_effect=probe_effect))
    fill = max(statements - len(bench), 0)
    out = []
    for i in range(fill):
        text = string.Template(shapes[i % len(shapes)]).substitute(
            i=i, i5=f"{i % 100000:05}", i13=i % 13, i256=i % 256, svc=SERVICE_ARN,
            account=ACCOUNT)
        out.append(json.loads(text))
    out.extend(bench[: statements - fill])
    return {"Version": "2012-10-17", "Statement": out}


def cold_keys(count):
    """`count` distinct keys: each request of a cold run carries a key whose signing key the
    proxy has not derived yet."""
    return [(f"AKIABENCHCOLD{i:07d}", f"cold/EXAMPLE/secret/{i:07d}/do/not/use") for i in range(count)]


def principals(keys):
    """One role session holding `keys`, with an identity policy that allows the service."""
    return {"principals": [{
        "arn": ROLE_ARN,
        "session_name": "bench-1",
        "org_id": "o-a1b2c3d4e5",
        "tags": {"team": "bench"},
        "keys": [{"access_key_id": k, "secret_access_key": s} for k, s in keys],
        "policies": [{"Version": "2012-10-17", "Statement": [{
            "Sid": "InvokeBenchService", "Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke",
            "Resource": f"{SERVICE_ARN}/*"}]}],
    }]}


def sts_principals():
    """The same caller as `principals()` for callers with STS identity tokens: no keys, the
    role's tags and identity policy under `roles`, its organization under `accounts`, so
    `trellis-sts` decides exactly what `trellis-sigv4` decides."""
    p = principals([])["principals"][0]
    return {
        "roles": [{"arn": ROLE_ARN, "tags": p["tags"], "policies": p["policies"]}],
        "accounts": [{"id": ACCOUNT, "org_id": p["org_id"]}],
    }


def write_json(path, value):
    """Writes `value` next to `path` and renames it into place, as editors and kubelet do: the
    watcher must only ever see a complete file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=1))
    os.rename(tmp, path)


def write_keys_file(path, keys):
    """The `--keys-file` of trellis-load: `ACCESS_KEY_ID SECRET` per line."""
    Path(path).write_text("".join(f"{k} {s}\n" for k, s in keys))


def nginx_conf(directory, listen, upstream, authorizer=None, access_log=False):
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (Path(directory) / sub).mkdir(parents=True, exist_ok=True)
    auth_up = _render("nginx-auth.inc", authorizer=authorizer) if authorizer else ""
    auth_loc = _render("nginx-auth-location.inc") if authorizer else ""
    log = f"{directory}/access.log" if access_log else "off"
    return _render("nginx.conf", dir=directory, listen=listen, upstream=upstream,
                   authorizer_upstream=auth_up, auth_location=auth_loc,
                   auth_request="            auth_request /_auth;" if authorizer else "",
                   access_log=log)


def envoy_yaml(listen_port, admin_port, upstream_port):
    return _render("envoy.yaml", listen_port=listen_port, admin_port=admin_port,
                   upstream_port=upstream_port)


def deploy_config(name, replacements):
    """`deploy/authz/NAME` with each `(from, to)` replaced; a `from` the file no longer holds is
    an error, so the benches never silently measure a configuration other than the shipped one."""
    text = (DEPLOY_AUTHZ / name).read_text()
    for old, new in replacements:
        if old not in text:
            raise RuntimeError(f"deploy/authz/{name} has no `{old}`: update the bench's port mapping")
        text = text.replace(old, new)
    return text


def envoy_authz_yaml(front, listen_port, admin_port, upstream_port, authz_port):
    """deploy/authz/envoy-grpc.yaml or envoy-http.yaml on loopback ports."""
    name = f"envoy-{front}.yaml"
    shipped_authz = 9000 if front == "grpc" else 8000
    replacements = [
        ("address: 0.0.0.0, port_value: 10000", f"address: 127.0.0.1, port_value: {listen_port}"),
        ("port_value: 9902", f"port_value: {admin_port}"),
        ("port_value: 8081", f"port_value: {upstream_port}"),
        (f"port_value: {shipped_authz}", f"port_value: {authz_port}"),
    ]
    if front == "http":
        replacements.append(("uri: http://127.0.0.1:8000", f"uri: http://127.0.0.1:{authz_port}"))
    text = deploy_config(name, replacements)
    if front == "http" and f"path_prefix: {ENVOY_HTTP_PATH_PREFIX}\n" not in text:
        raise RuntimeError(f"deploy/authz/{name} no longer uses `path_prefix: "
                           f"{ENVOY_HTTP_PATH_PREFIX}`: update ENVOY_HTTP_PATH_PREFIX")
    return text


def nginx_authz_conf(directory, listen_port, upstream_port, authz_port):
    """The main configuration of `nginx-trellis`: the bench's `nginx` settings (1 worker,
    access log off) around deploy/authz/nginx.conf's server block, included as shipped but for
    its ports."""
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (Path(directory) / sub).mkdir(parents=True, exist_ok=True)
    server = Path(directory) / "trellis-server.conf"
    server.write_text(deploy_config("nginx.conf", [
        ("listen 10000;", f"listen 127.0.0.1:{listen_port};"),
        ("server 127.0.0.1:8081;", f"server 127.0.0.1:{upstream_port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{authz_port};"),
    ]))
    return _render("nginx-authz.conf", dir=directory, server=str(server))
