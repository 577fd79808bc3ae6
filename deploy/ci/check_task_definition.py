"""Validate an ECS task definition JSON against botocore's RegisterTaskDefinition input shape.

botocore's ParamValidator checks names, types and required members but not enum values, so a
second pass walks the shape and the document together and checks every enum (e.g. the
`condition` of `dependsOn` must be START, COMPLETE, SUCCESS or HEALTHY). Then the properties a
Trellis sidecar relies on are asserted. Offline: the service model ships with botocore.
"""
import json
import sys

import botocore.session
from botocore.validate import ParamValidator


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
        "stopTimeout": 30,
    }
    for key, expected in want.items():
        if trellis.get(key) != expected:
            errors.append(f"trellis.{key} must be {expected!r}, found {trellis.get(key)!r}")
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
    if trellis.get("logConfiguration", {}).get("logDriver") != "awslogs":
        errors.append("trellis must log with awslogs")
    for name, c in containers.items():
        if name == "trellis":
            continue
        deps = {(d.get("containerName"), d.get("condition")) for d in c.get("dependsOn", [])}
        if ("trellis", "HEALTHY") not in deps:
            errors.append(f"container `{name}` must dependsOn trellis HEALTHY")
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
