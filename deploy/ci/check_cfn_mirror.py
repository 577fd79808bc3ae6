"""The CloudFormation template and task-definition.json describe the same task: compare what
matters for the sidecar, container by container, so the two cannot drift apart. Values that
the template takes from parameters (!Ref, !Sub, ...) are compared by presence only.
"""
import json
import sys

from cfnlint.decode import cfn_yaml


def lower_first(name):
    return name[0].lower() + name[1:]


def plain(value):
    """CFN property value -> JSON-ish value; intrinsic functions become the marker `<ref>`."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Ref", "Fn::Sub", "Fn::GetAtt", "Fn::Join", "Fn::If"):
            return "<ref>"
        return {lower_first(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(optional_item(v)) for v in value]
    return value


def optional_item(value):
    """A list item present under a condition (`!If [Cond, item, !Ref AWS::NoValue]`, e.g. an
    environment variable set only with a parameter) is compared as the item: the mirror shows
    the task with the option on."""
    if isinstance(value, dict) and list(value) == ["Fn::If"]:
        _, then, otherwise = value["Fn::If"]
        if otherwise == {"Ref": "AWS::NoValue"} and isinstance(then, dict):
            return then
    return value


def same(cfn, task):
    if cfn == "<ref>":
        return task is not None
    if isinstance(cfn, dict) and isinstance(task, dict):
        return cfn.keys() == task.keys() and all(same(cfn[k], task[k]) for k in cfn)
    if isinstance(cfn, list) and isinstance(task, list):
        return len(cfn) == len(task) and all(same(a, b) for a, b in zip(cfn, task))
    return cfn == task


def main(template_path, task_path):
    template = cfn_yaml.load(template_path)
    with open(task_path, encoding="utf-8") as f:
        task = json.load(f)
    defs = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    if len(defs) != 1:
        print(f"{template_path}: expected one AWS::ECS::TaskDefinition", file=sys.stderr)
        return 1
    props = plain(defs[0]["Properties"])
    errors = []
    for key in ("requiresCompatibilities", "networkMode", "cpu", "memory", "runtimePlatform"):
        if not same(props.get(key), task.get(key)):
            errors.append(f"{key}: template {props.get(key)!r} != task {task.get(key)!r}")
    cfn_containers = {c["name"]: c for c in props["containerDefinitions"]}
    task_containers = {c["name"]: c for c in task["containerDefinitions"]}
    if cfn_containers.keys() != task_containers.keys():
        errors.append(f"containers: template {sorted(cfn_containers)} != task {sorted(task_containers)}")
    for name in cfn_containers.keys() & task_containers.keys():
        c, t = cfn_containers[name], task_containers[name]
        for key in sorted(c.keys() | t.keys()):
            if key in ("environment", "secrets"):
                cv = {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get(key, [])}
                tv = {e["name"]: e.get("value", e.get("valueFrom")) for e in t.get(key, [])}
                if not same(cv, tv):
                    errors.append(f"{name}.{key}: template {cv} != task {tv}")
            elif key == "logConfiguration":
                if c.get(key, {}).get("logDriver") != t.get(key, {}).get("logDriver") or \
                        c.get(key, {}).get("options", {}).keys() != t.get(key, {}).get("options", {}).keys():
                    errors.append(f"{name}.logConfiguration differs")
            elif not same(c.get(key), t.get(key)):
                errors.append(f"{name}.{key}: template {c.get(key)!r} != task {t.get(key)!r}")
    for e in errors:
        print(f"{template_path} vs {task_path}: {e}", file=sys.stderr)
    if not errors:
        print(f"{template_path} and {task_path} describe the same task")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
