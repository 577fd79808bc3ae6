"""The ECS template makes the service reachable and observable, which cfn-lint (shapes) and the
task-definition mirror cannot tell:

- the ECS service registers its tasks with a VPC Lattice target group of type IP (through
  VpcLatticeConfigurations, on Trellis's named port mapping, with an infrastructure role), the
  target group sits behind a Lattice listener of a service associated with a service network;
  the ALB variant (optional) uses an ip target group whose deregistration delay is bounded;
- Trellis's port 8080 is open to Lattice's managed prefix list (or to the ALB's security
  group), never to a CIDR: Lattice does not connect from the callers' addresses;
- health checks go to 8080 (through Trellis, on an anonymous-allowed path), not to the admin
  port;
- log groups are retained when the stack goes, with a retention;
- the access-log alarms divide by a request count with a minimum-traffic guard;
- an STS interface endpoint (IAM-role callers) has private DNS and admits the tasks on 443.

  check_cfn_service.py TEMPLATE
"""
import sys

from cfnlint.decode import cfn_yaml


def resources(template, kind):
    return {name: r for name, r in template.get("Resources", {}).items() if r.get("Type") == kind}


def refs(value):
    """Logical ids a property value refers to (Ref / GetAtt), through Fn::If branches."""
    found = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            else:
                found |= refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= refs(inner)
    return found


def if_branches(value):
    """The values an `Fn::If` may take (the value itself otherwise); AWS::NoValue dropped."""
    if isinstance(value, dict) and "Fn::If" in value:
        out = []
        for branch in value["Fn::If"][1:]:
            out += if_branches(branch)
        return out
    if isinstance(value, dict) and value.get("Ref") == "AWS::NoValue":
        return []
    return [value]


def main(path):
    t = cfn_yaml.load(path)
    errors = []
    services = resources(t, "AWS::ECS::Service")
    task_defs = resources(t, "AWS::ECS::TaskDefinition")
    lattice_tgs = resources(t, "AWS::VpcLattice::TargetGroup")
    alb_tgs = resources(t, "AWS::ElasticLoadBalancingV2::TargetGroup")
    if len(services) != 1 or len(task_defs) != 1:
        return report(path, ["expected one AWS::ECS::Service and one AWS::ECS::TaskDefinition"])
    svc = next(iter(services.values()))["Properties"]
    containers = {c["Name"]: c for c in next(iter(task_defs.values()))["Properties"]["ContainerDefinitions"]}
    trellis_ports = {p.get("Name"): p.get("ContainerPort") for p in containers.get("trellis", {}).get("PortMappings", [])}

    lattice_cfgs = [c for v in if_branches(svc.get("VpcLatticeConfigurations")) for c in (v or [])]
    alb_cfgs = [c for v in if_branches(svc.get("LoadBalancers")) for c in (v or [])]
    if not lattice_cfgs:
        errors.append("the ECS service has no VpcLatticeConfigurations: no Lattice target group ever holds the tasks")
    for cfg in lattice_cfgs:
        if trellis_ports.get(cfg.get("PortName")) != 8080:
            errors.append(f"VpcLatticeConfigurations PortName {cfg.get('PortName')!r} must name Trellis's 8080 port mapping")
        if not cfg.get("RoleArn"):
            errors.append("VpcLatticeConfigurations needs RoleArn (the ECS infrastructure role for Lattice)")
        tg_ids = refs(cfg.get("TargetGroupArn")) & lattice_tgs.keys()
        if not tg_ids:
            errors.append("VpcLatticeConfigurations TargetGroupArn must reference an AWS::VpcLattice::TargetGroup")
        for tg_id in tg_ids:
            tg = lattice_tgs[tg_id]["Properties"]
            config = tg.get("Config", {})
            if tg.get("Type") != "IP":
                errors.append(f"{tg_id}: Type must be IP (awsvpc tasks register by IP)")
            if config.get("Port") != 8080 or config.get("HealthCheck", {}).get("Port", 8080) != 8080:
                errors.append(f"{tg_id}: traffic and health checks must go to Trellis on 8080")
            listeners = [n for n, r in resources(t, "AWS::VpcLattice::Listener").items() if tg_id in refs(r["Properties"].get("DefaultAction"))]
            if not listeners:
                errors.append(f"{tg_id}: no AWS::VpcLattice::Listener forwards to it")
            for name in listeners:
                service_ids = refs(resources(t, "AWS::VpcLattice::Listener")[name]["Properties"].get("ServiceIdentifier"))
                assoc = [a for a in resources(t, "AWS::VpcLattice::ServiceNetworkServiceAssociation").values()
                         if refs(a["Properties"].get("ServiceIdentifier")) & service_ids]
                if not assoc:
                    errors.append(f"{name}: its Lattice service is associated with no service network")
    for cfg in alb_cfgs:
        if cfg.get("ContainerName") != "trellis" or cfg.get("ContainerPort") != 8080:
            errors.append("LoadBalancers must point at the trellis container on 8080")
        for tg_id in refs(cfg.get("TargetGroupArn")) & alb_tgs.keys():
            tg = alb_tgs[tg_id]["Properties"]
            attrs = {a["Key"]: a["Value"] for a in tg.get("TargetGroupAttributes", [])}
            delay = int(attrs.get("deregistration_delay.timeout_seconds", "300"))
            if tg.get("TargetType") != "ip" or tg.get("Port") != 8080:
                errors.append(f"{tg_id}: TargetType ip on port 8080")
            if not 5 <= delay <= 120:
                errors.append(f"{tg_id}: deregistration_delay.timeout_seconds {delay} (default 300) must be 5-120: "
                              "long enough for in-flight requests, short enough for rollouts")

    # Who may reach 8080: Lattice's prefix list or the ALB's security group, never a CIDR.
    ingress = [r["Properties"] for r in resources(t, "AWS::EC2::SecurityGroupIngress").values()]
    for sg in resources(t, "AWS::EC2::SecurityGroup").values():
        ingress += sg["Properties"].get("SecurityGroupIngress", [])
    to_trellis = [i for i in ingress if i.get("FromPort", 0) <= 8080 <= i.get("ToPort", -1)]
    for rule in to_trellis:
        if "CidrIp" in rule or "CidrIpv6" in rule:
            errors.append(f"port 8080 is open to a CIDR ({rule.get('CidrIp') or rule.get('CidrIpv6')}): Lattice "
                          "connects from its managed prefix list (com.amazonaws.<region>.vpc-lattice), the ALB from "
                          "its security group")
    if lattice_cfgs and not any("SourcePrefixListId" in r for r in to_trellis):
        errors.append("with VpcLatticeConfigurations, 8080 must admit the Lattice managed prefix list (SourcePrefixListId)")
    if alb_cfgs and not any("SourceSecurityGroupId" in r for r in to_trellis):
        errors.append("with LoadBalancers, 8080 must admit the ALB's security group (SourceSecurityGroupId)")

    for name, r in resources(t, "AWS::Logs::LogGroup").items():
        if r.get("DeletionPolicy") != "Retain" or r.get("UpdateReplacePolicy") != "Retain":
            errors.append(f"{name}: DeletionPolicy and UpdateReplacePolicy must be Retain (the logs outlive the stack)")
        if "RetentionInDays" not in r.get("Properties", {}):
            errors.append(f"{name}: RetentionInDays is required (never-expiring logs are a cost and a liability)")

    # IAM-role callers: Trellis calls sts.<region>.amazonaws.com; an STS interface endpoint
    # serves that name only with private DNS, and must admit the tasks on 443.
    for name, r in resources(t, "AWS::EC2::VPCEndpoint").items():
        props = r.get("Properties", {})
        if ".sts" not in str(props.get("ServiceName", "")):
            continue
        if props.get("VpcEndpointType") != "Interface" or props.get("PrivateDnsEnabled") is not True:
            errors.append(f"{name}: the STS endpoint must be an Interface endpoint with PrivateDnsEnabled: true, "
                          "or Trellis's calls to sts.<region>.amazonaws.com do not reach it")
        groups = refs(props.get("SecurityGroupIds", []))
        admits = any(rule.get("FromPort", 0) <= 443 <= rule.get("ToPort", -1) and "SecurityGroup" in refs(rule)
                     for g in groups for rule in t["Resources"].get(g, {}).get("Properties", {}).get("SecurityGroupIngress", []))
        if not admits:
            errors.append(f"{name}: its security group must admit the task security group on 443")

    alarms = resources(t, "AWS::CloudWatch::Alarm")
    if not alarms:
        errors.append("no CloudWatch alarm on the access log")
    for name, r in alarms.items():
        exprs = [m.get("Expression", "") for m in r["Properties"].get("Metrics", [])]
        if not any(e.replace(" ", "").startswith("IF(requests>=") for e in exprs):
            errors.append(f"{name}: a ratio alarm needs a minimum-traffic guard (IF(requests >= N, ..., 0))")
    return report(path, errors)


def report(path, errors):
    for e in errors:
        print(f"{path}: {e}", file=sys.stderr)
    if not errors:
        print(f"{path}: the service is reachable (Lattice / ALB), 8080 admits only them, logs retained, alarms guarded")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
