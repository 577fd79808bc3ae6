"""Validate an ECS task definition JSON against botocore's RegisterTaskDefinition input shape.

botocore's ParamValidator checks names, types and required members but not enum values, so a
second pass walks the shape and the document together and checks every enum (e.g. the
`condition` of `dependsOn` must be START, COMPLETE, SUCCESS or HEALTHY). Then the properties a
Trellis sidecar relies on are asserted: shutdown ordering (dependsOn is reversed at shutdown),
stopTimeout against the shutdown delay and drain, the memory limit against
TRELLIS_MAX_CONNECTIONS (from the committed bench results), explicit logging. Offline: the service model ships with botocore.
"""
import json
import sys

import botocore.session
from botocore.validate import ParamValidator

from check_k8s import DIGEST, bench_memory, duration_seconds


def enum_errors(shape, value, path):
    errors = []
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                errors += enum_errors(member, value[name], f"{path}.{name}")
    elif kind == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            errors += enum_errors(shape.member, item, f"{path}[{i}]")
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            errors += enum_errors(shape.key, key, f"{path} key {key!r}")
            errors += enum_errors(shape.value, item, f"{path}[{key!r}]")
    elif kind == "string" and isinstance(value, str):
        allowed = shape.enum
        if allowed and value not in allowed:
            errors.append(f"{path}: `{value}` is not one of {', '.join(allowed)}")
    return errors


def sidecar_errors(doc):
    errors = []
    containers = {c.get("name"): c for c in doc.get("containerDefinitions", [])}
    trellis = containers.get("trellis")
    if trellis is None:
        return ["no container named `trellis`"]
    if doc.get("networkMode") != "awsvpc":
        errors.append("networkMode must be `awsvpc` (the app is reached on loopback)")
    if "FARGATE" not in doc.get("requiresCompatibilities", []):
        errors.append("requiresCompatibilities must include FARGATE")
    if not doc.get("executionRoleArn"):
        errors.append("executionRoleArn is required (image pull, logs, secrets)")
    want = {
        "essential": True,
        "user": "65532:65532",
        "readonlyRootFilesystem": True,
    }
    for key, expected in want.items():
        if trellis.get(key) != expected:
            errors.append(f"trellis.{key} must be {expected!r}, found {trellis.get(key)!r}")
    if not DIGEST.search(trellis.get("image", "")):
        errors.append(f"trellis image must be pinned by digest (…@sha256:<64 hex>), found {trellis.get('image')!r}")
    if trellis.get("healthCheck", {}).get("command") != ["CMD", "/usr/local/bin/trellis", "healthcheck"]:
        errors.append('trellis.healthCheck.command must be ["CMD","/usr/local/bin/trellis","healthcheck"]')
    if [p.get("containerPort") for p in trellis.get("portMappings", [])] != [8080]:
        errors.append("trellis must map exactly port 8080")
    env = {e["name"]: e["value"] for e in trellis.get("environment", [])}
    for name, prefix in (("TRELLIS_UPSTREAM", "http://127.0.0.1:"), ("TRELLIS_ADMIN", "127.0.0.1:")):
        if not env.get(name, "").startswith(prefix):
            errors.append(f"trellis env {name} must be on loopback ({prefix}...), found {env.get(name)!r}")
    if "TRELLIS_SERVICE_ARN" not in env:
        errors.append("trellis env TRELLIS_SERVICE_ARN is required")
    errors += shutdown_errors(trellis, env)
    errors += memory_errors(trellis, env)
    errors += logging_errors(trellis, containers)
    errors += ordering_errors(trellis, containers)
    return errors


def shutdown_errors(trellis, env):
    """ECS sends SIGTERM, waits stopTimeout, then SIGKILL: the delay and the drain must fit."""
    delay = duration_seconds(env.get("TRELLIS_SHUTDOWN_DELAY", ""))
    drain = duration_seconds(env.get("TRELLIS_DRAIN_TIMEOUT", "20s"))
    if not delay:
        return ["trellis env TRELLIS_SHUTDOWN_DELAY must be set (> 0): Trellis keeps serving while Lattice or the ALB stop sending"]
    if drain is None:
        return [f"trellis env TRELLIS_DRAIN_TIMEOUT {env.get('TRELLIS_DRAIN_TIMEOUT')!r} is not a duration"]
    stop = trellis.get("stopTimeout", 30)
    if not delay + drain <= stop <= 120:
        return [f"trellis.stopTimeout {stop} must cover TRELLIS_SHUTDOWN_DELAY {delay:g} s + TRELLIS_DRAIN_TIMEOUT "
                f"{drain:g} s (and Fargate allows at most 120)"]
    return []


def memory_errors(trellis, env):
    """The container's hard limit (MiB) holds the connections TRELLIS_MAX_CONNECTIONS admits."""
    limit, reservation = trellis.get("memory"), trellis.get("memoryReservation")
    raw = env.get("TRELLIS_MAX_CONNECTIONS", "")
    if limit is None:
        return ["trellis.memory (a hard limit) is required: without it a connection flood takes the task's memory"]
    errors = []
    if reservation is not None and reservation > limit:
        errors.append(f"trellis.memoryReservation {reservation} > memory {limit}")
    if not raw.isdigit():
        return errors + ["trellis env TRELLIS_MAX_CONNECTIONS must be set: the default (10,000) outgrows any small limit"]
    per_conn_kib, idle_kib = bench_memory()
    need_mib = (int(raw) * per_conn_kib + idle_kib) / 1024
    if need_mib > limit:
        errors.append(f"TRELLIS_MAX_CONNECTIONS={raw} x {per_conn_kib:.1f} KiB + {idle_kib / 1024:.1f} MiB idle = "
                      f"{need_mib:.1f} MiB > trellis.memory {limit} MiB (benches/results/results.json)")
    return errors


def logging_errors(trellis, containers):
    """awslogs with an explicit mode (blocking stalls stdout when CloudWatch is slow; the choice
    must be made, not inherited), or FireLens with its log router in the task."""
    log = trellis.get("logConfiguration", {})
    if log.get("logDriver") == "awslogs":
        if log.get("options", {}).get("mode") not in ("blocking", "non-blocking"):
            return ["trellis awslogs needs an explicit options.mode (blocking or non-blocking)"]
        return []
    if log.get("logDriver") == "awsfirelens":
        if not any("firelensConfiguration" in c for c in containers.values()):
            return ["trellis logs with awsfirelens but no container has a firelensConfiguration"]
        return []
    return ["trellis must log with awslogs (explicit mode) or awsfirelens"]


def ordering_errors(trellis, containers):
    """ECS reverses dependsOn at shutdown. Trellis must stop before the application (so nothing
    reaches an exited app) and before the sidecars that watch it (collector, log router):
    Trellis depends on every essential container, and no container depends on Trellis.
    Non-essential sidecars may start before Trellis without being depended on."""
    errors = []
    deps = {d.get("containerName") for d in trellis.get("dependsOn", [])}
    for name, c in containers.items():
        if name == "trellis":
            continue
        if any(d.get("containerName") == "trellis" for d in c.get("dependsOn", [])):
            errors.append(f"container `{name}` must not dependsOn trellis: ECS would stop it before Trellis at "
                          "shutdown (reversed order), and Trellis would forward to a stopped container")
        if c.get("essential", True) and name not in deps:
            errors.append(f"trellis must dependsOn the essential container `{name}` (START or HEALTHY) so that "
                          "ECS stops Trellis first")
        if c.get("portMappings"):
            errors.append(f"container `{name}` must not map ports: callers would bypass Trellis")
    return errors


def main(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    report = ParamValidator().validate(doc, shape)
    errors = [report.generate_report()] if report.has_errors() else []
    errors += enum_errors(shape, doc, "task")
    errors += sidecar_errors(doc)
    for e in errors:
        print(f"{path}: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"{path}: valid RegisterTaskDefinition input (botocore {botocore.__version__}), enums and sidecar checks pass")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
