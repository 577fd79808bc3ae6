#!/usr/bin/env bash
# Offline checks of the deployment kit's files (deploy/): Dockerfiles, Kubernetes overlays, ECS
# task and template, alerts, dashboard, and, with the binary, the kit's policies and principals
# and the metrics the dashboard and alerts read. Run `bash deploy/ci/install-tools.sh` first.
#
#   bash deploy/ci/lint-kit.sh              every check
#   bash deploy/ci/lint-kit.sh --self-test  every broken fixture in deploy/ci/broken must FAIL
#                                           its check, for the reason it was broken for
#
# Environment:
#   TRELLIS_BIN=PATH        a built `trellis` (e.g. target/debug/trellis). Enables the checks
#                           that run it: the kit's policies and principals pass `trellis policy
#                           check` / `principals check` and the deploy copies of the policies
#                           their tests (`policy eval --check`); `trellis demo`'s /metrics passes
#                           `promtool check metrics` and exposes every family
#                           expected-metrics.txt lists; every metric the dashboard and alerts use
#                           exists in that real /metrics (instead of in expected-metrics.txt).
#   TRELLIS_VALIDATE_CACHE  tool cache (default ${XDG_CACHE_HOME:-~/.cache}/trellis-deploy-validate)
#
# What the end-to-end tests already prove with the real binary is not repeated here: policy
# swaps through a kubelet-style `..data` volume and `trellis healthcheck` against the demo
# (tests/sidecar.rs), deploy/examples/ and deploy/ecs/principals.json (tests/examples.rs,
# tests/cli_principals.rs).
set -euo pipefail

# Kubernetes versions each overlay must validate against (strict).
NATIVE_K8S_VERSIONS="1.30.0 1.33.0"
CLASSIC_K8S_VERSIONS="1.30.0"
# The broken overlays break one thing each, which any version rejects: they are validated
# against the oldest only, except the misspelled field, which each version must reject.
FIXTURE_K8S_VERSION="1.30.0"

# shellcheck source=deploy/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------------------------------------
# Checks: each takes its inputs, so --self-test can point it at a broken fixture.
# ---------------------------------------------------------------------------------------------

check_dockerfile() { "$VENV/bin/hadolint" --no-color "$@"; }

# check_overlay DIR FLAVOUR "VERSIONS": renders DIR, validates it strictly against each
# Kubernetes version, then checks the sidecar's invariants for FLAVOUR (check_k8s.py).
check_overlay() {
  local dir="$1" flavour="$2" versions="$3" out v
  out="$WORK/overlay-$flavour-$RANDOM.yaml"
  "$VENV/bin/kubectl" kustomize "$dir" >"$out" || { echo "kubectl kustomize $dir failed" >&2; return 1; }
  for v in $versions; do
    "$VENV/bin/kubernetes-validate" --strict --quiet -k "$v" "$out" \
      || { echo "strict validation against Kubernetes $v failed" >&2; return 1; }
  done
  "$PY" "$CI/check_k8s.py" "$flavour" "$out"
}

check_rules() { promtool check rules "$@"; }
check_rule_tests() { promtool test rules "$@"; }
check_cfn() { "$VENV/bin/cfn-lint" "$@"; }
check_dashboard() { "$PY" "$CI/check_dashboard.py" "$1" "$2"; }
# check_metrics_used LIST RULE_FILE...: every metric an expression names is exposed.
check_metrics_used() { "$PY" "$CI/promql_metrics.py" check "$@"; }
# check_scraped_metrics METRICS: a /metrics scrape passes `promtool check metrics` and exposes
# every family expected-metrics.txt lists; its families go to $WORK/exposed-metrics.txt.
check_scraped_metrics() { "$PY" "$CI/promql_metrics.py" scrape "$1" "$WORK/exposed-metrics.txt"; }

# check_demo: runs `trellis demo`, drives an allowed, an anonymous and a rejected request, and
# checks its /metrics (check_scraped_metrics).
check_demo() {
  local listen admin pid
  listen="$(free_addr)" admin="$(free_addr)"
  "$TRELLIS_BIN" demo --listen "$listen" --admin "$admin" --access-log off >"$WORK/demo.log" 2>&1 &
  pid=$!
  BACKGROUND_PIDS+=("$pid")
  wait_http "http://$admin/readyz" "$pid" \
    || { cat "$WORK/demo.log" >&2; echo "trellis demo did not become ready on $admin" >&2; return 1; }
  curl -s -o /dev/null "http://$listen/" || true
  curl -s -o /dev/null "http://$listen/public/ping" || true
  curl -s -o /dev/null -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEUNKNOWN00/20260101/us-west-2/vpc-lattice-svcs/aws4_request, SignedHeaders=host, Signature=00' "http://$listen/orders" || true
  curl -fsS "http://$admin/metrics" >"$WORK/metrics.txt" || { echo "cannot scrape http://$admin/metrics" >&2; return 1; }
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  check_scraped_metrics "$WORK/metrics.txt"
}

# ---------------------------------------------------------------------------------------------

validate() {
  run "hadolint deploy/docker/Dockerfile deploy/ecs/Dockerfile" \
    check_dockerfile "$DEPLOY/docker/Dockerfile" "$DEPLOY/ecs/Dockerfile"
  run "Dockerfiles: bases pinned by digest, TARGETARCH -> musl target (amd64, arm64)" \
    "$PY" "$CI/check_dockerfile.py" "$DEPLOY/docker/Dockerfile" "$DEPLOY/ecs/Dockerfile"
  run "overlay native-sidecar: strict against Kubernetes $NATIVE_K8S_VERSIONS + sidecar invariants" \
    check_overlay "$DEPLOY/k8s/overlays/native-sidecar" native "$NATIVE_K8S_VERSIONS"
  run "overlay classic-sidecar: strict against Kubernetes $CLASSIC_K8S_VERSIONS + sidecar invariants" \
    check_overlay "$DEPLOY/k8s/overlays/classic-sidecar" classic "$CLASSIC_K8S_VERSIONS"
  run "overlay examples (example keys, hashed Secret name)" \
    check_overlay "$DEPLOY/k8s/overlays/examples" examples "$NATIVE_K8S_VERSIONS"
  run "component trellis-sidecar on a plain Deployment" \
    check_overlay "$DEPLOY/k8s/components/example" component "$NATIVE_K8S_VERSIONS"
  run "overlay sts: IAM-role callers (STS audience, egress to STS)" \
    check_overlay "$DEPLOY/k8s/overlays/sts" sts "$NATIVE_K8S_VERSIONS"
  run "callers/sts-token: IRSA caller renewing its STS token" \
    check_overlay "$DEPLOY/k8s/callers/sts-token" sts-caller "$NATIVE_K8S_VERSIONS"
  run "promtool check rules (alerts)" check_rules "$DEPLOY/observability/alerts.yaml"
  run "promtool test rules (alert unit tests)" check_rule_tests "$DEPLOY/observability/tests/alerts_test.yaml"
  run "prometheusrule.yaml carries alerts.yaml" \
    "$PY" "$CI/check_prometheusrule.py" "$DEPLOY/observability/prometheusrule.yaml" "$DEPLOY/observability/alerts.yaml"
  run "dashboard: its variables, every expr parsed by promtool" \
    check_dashboard "$DEPLOY/observability/dashboard.json" "$WORK/dashboard-rules.json"
  run "cfn-lint deploy/ecs/cloudformation.yaml" check_cfn "$DEPLOY/ecs/cloudformation.yaml"
  run "cloudformation.yaml and task-definition.json describe the same task" \
    "$PY" "$CI/check_cfn_mirror.py" "$DEPLOY/ecs/cloudformation.yaml" "$DEPLOY/ecs/task-definition.json"
  run "ECS task definition against botocore RegisterTaskDefinition (+ enum walk)" \
    "$PY" "$CI/check_task_definition.py" "$DEPLOY/ecs/task-definition.json"
  run "ECS template: Lattice/ALB exposure, 8080 ingress, log retention, alarm guards, STS endpoint" \
    "$PY" "$CI/check_cfn_service.py" "$DEPLOY/ecs/cloudformation.yaml"

  local metrics_list="$CI/expected-metrics.txt"
  local source="deploy/ci/expected-metrics.txt (from the contract; set TRELLIS_BIN to check the real /metrics)"
  if [[ -n "${TRELLIS_BIN:-}" ]]; then
    require_binary TRELLIS_BIN
    run "the kit's policies and principals: trellis policy check + eval --check, principals check" \
      "$PY" "$CI/check_kit_files.py" "$TRELLIS_BIN"
    run "trellis demo: promtool check metrics, every family expected-metrics.txt lists" check_demo
    if [[ -s "$WORK/exposed-metrics.txt" ]]; then
      metrics_list="$WORK/exposed-metrics.txt" source="the /metrics of \`trellis demo\`"
    fi
  else
    skip "the kit's policies and principals" "set TRELLIS_BIN=path/to/trellis"
    skip "trellis demo: promtool check metrics" "set TRELLIS_BIN=path/to/trellis"
  fi
  run "every metric in the dashboard and alerts exists (checked against $source)" \
    check_metrics_used "$metrics_list" "$DEPLOY/observability/alerts.yaml" "$WORK/dashboard-rules.json"
}

self_test() {
  local B="$CI/broken"
  expect_failure "Dockerfile with ADD (hadolint DL3020)" "DL3020" check_dockerfile "$B/Dockerfile.add"
  expect_failure "Dockerfile mapping arm64 to the x86_64 target" "arm64 must map to aarch64" \
    "$PY" "$CI/check_dockerfile.py" "$B/Dockerfile.arch-mapping"
  expect_failure "Dockerfile with a base image by tag only" "not pinned by digest" \
    "$PY" "$CI/check_dockerfile.py" "$B/Dockerfile.unpinned"
  expect_failure "overlay naming a resource file that does not exist (kubectl kustomize fails)" \
    "kubectl kustomize .*/kustomize-missing-resource failed" \
    check_overlay "$B/kustomize-missing-resource" native "$FIXTURE_K8S_VERSION"
  local v
  for v in $NATIVE_K8S_VERSIONS; do
    expect_failure "manifest with a misspelled field (readinesProbe), Kubernetes $v" "readinesProbe" \
      check_overlay "$B/misspelled-field" native "$v"
  done
  expect_failure "overlay whose app listens on 0.0.0.0" "127.0.0.1:8081|bypass" \
    check_overlay "$B/app-not-on-loopback" native "$FIXTURE_K8S_VERSION"
  expect_failure "app preStop shorter than the shutdown delay" "preStop sleep" \
    check_overlay "$B/app-prestop-short" native "$FIXTURE_K8S_VERSION"
  expect_failure "grace period below preStop + delay + drain" "terminationGracePeriodSeconds 20" \
    check_overlay "$B/grace-too-short" classic "$FIXTURE_K8S_VERSION"
  expect_failure "overlay generating the principals Secret" "must not be generated" \
    check_overlay "$B/base-generates-principals" native "$FIXTURE_K8S_VERSION"
  expect_failure "policy ConfigMap with a stable name" "content-hash name" \
    check_overlay "$B/policy-configmap-stable-name" native "$FIXTURE_K8S_VERSION"
  expect_failure "max connections beyond the memory limit" "TRELLIS_MAX_CONNECTIONS=10000" \
    check_overlay "$B/max-connections-over-limit" native "$FIXTURE_K8S_VERSION"
  expect_failure "Trellis image by tag, not digest" "pinned by digest" \
    check_overlay "$B/image-by-tag" native "$FIXTURE_K8S_VERSION"
  expect_failure "PDB without unhealthyPodEvictionPolicy" "AlwaysAllow" \
    check_overlay "$B/pdb-blocks-drains" native "$FIXTURE_K8S_VERSION"
  expect_failure "PodMonitor without the release label" "release" \
    check_overlay "$B/podmonitor-unselected" native "$FIXTURE_K8S_VERSION"
  expect_failure "app without a readiness probe" "readinessProbe" \
    check_overlay "$B/app-without-readiness" native "$FIXTURE_K8S_VERSION"
  expect_failure "1 s probe timeout at a 100m CPU request" "timeoutSeconds 1 < 2" \
    check_overlay "$B/probe-timeout-short" native "$FIXTURE_K8S_VERSION"
  expect_failure "no zone topology spread" "topologySpreadConstraints" \
    check_overlay "$B/no-zone-spread" native "$FIXTURE_K8S_VERSION"
  expect_failure "STS callers with egress but no rule to STS" "egress to STS" \
    check_overlay "$B/sts-no-sts-egress" sts "$FIXTURE_K8S_VERSION"
  expect_failure "caller renewing its STS token every 15 minutes" "TOKEN_REFRESH_SECONDS=900" \
    check_overlay "$B/sts-caller-slow-refresh" sts-caller "$FIXTURE_K8S_VERSION"
  expect_failure "alert rule with bad PromQL" "parse error|unexpected|unclosed" check_rules "$B/alerts-bad-promql.yaml"
  expect_failure "wrong alert unit test" "FAILED" check_rule_tests "$B/alerts-wrong-test.yaml"
  expect_failure "PrometheusRule drifted from alerts.yaml" "TrellisPolicyVersionSkew differs" \
    "$PY" "$CI/check_prometheusrule.py" "$B/prometheusrule-drift.yaml" "$DEPLOY/observability/alerts.yaml"
  expect_failure "dashboard with bad PromQL" "parse error|unexpected|unclosed" \
    check_dashboard "$B/dashboard-bad-promql.json" "$WORK/broken-dashboard-rules.json"
  expect_failure "dashboard without the pod variable" "missing: pod" \
    check_dashboard "$B/dashboard-no-pod-variable.json" "$WORK/no-pod-rules.json"
  check_dashboard "$B/dashboard-unknown-metric.json" "$WORK/unknown-metric-rules.json" >/dev/null 2>&1 \
    || die "fixture dashboard-unknown-metric.json must parse (it tests the metric check only)"
  expect_failure "dashboard naming a metric Trellis does not expose" "trellis_requests_count" \
    check_metrics_used "$CI/expected-metrics.txt" "$WORK/unknown-metric-rules.json"
  expect_failure "/metrics with a counter not named *_total (promtool check metrics)" \
    "promtool check metrics rejected .*/metrics-counter-without-total\.txt" \
    check_scraped_metrics "$B/metrics-counter-without-total.txt"
  expect_failure "/metrics without a family expected-metrics.txt lists" \
    "trellis_policy_reloads_total counter \(exposed: absent\)" \
    check_scraped_metrics "$B/metrics-missing-family.txt"
  expect_failure "CloudFormation with a misspelled property" "ContainerDefintions" check_cfn "$B/cloudformation-typo.yaml"
  expect_failure "CloudFormation drifted from task-definition.json (stopTimeout)" "stopTimeout" \
    "$PY" "$CI/check_cfn_mirror.py" "$B/cloudformation-drift.yaml" "$DEPLOY/ecs/task-definition.json"
  expect_failure "task definition with condition HEALTH" "HEALTH\` is not one of" \
    "$PY" "$CI/check_task_definition.py" "$B/task-definition-health.json"
  expect_failure "app dependsOn Trellis (stops after it at shutdown)" "must not dependsOn trellis" \
    "$PY" "$CI/check_task_definition.py" "$B/task-definition-app-depends-on-trellis.json"
  expect_failure "stopTimeout below shutdown delay + drain" "stopTimeout 20 must cover" \
    "$PY" "$CI/check_task_definition.py" "$B/task-definition-stoptimeout-short.json"
  expect_failure "Trellis memory below max connections" "TRELLIS_MAX_CONNECTIONS=3000" \
    "$PY" "$CI/check_task_definition.py" "$B/task-definition-memory-too-small.json"
  expect_failure "awslogs without an explicit mode" "explicit options.mode" \
    "$PY" "$CI/check_task_definition.py" "$B/task-definition-awslogs-no-mode.json"
  expect_failure "ECS service without VpcLatticeConfigurations" "no VpcLatticeConfigurations" \
    "$PY" "$CI/check_cfn_service.py" "$B/cloudformation-no-lattice.yaml"
  expect_failure "8080 open to a CIDR, not Lattice's prefix list" "open to a CIDR" \
    "$PY" "$CI/check_cfn_service.py" "$B/cloudformation-cidr-ingress.yaml"
  expect_failure "log group deleted with the stack" "must be Retain" \
    "$PY" "$CI/check_cfn_service.py" "$B/cloudformation-logs-deleted.yaml"
  expect_failure "STS endpoint without private DNS" "PrivateDnsEnabled: true" \
    "$PY" "$CI/check_cfn_service.py" "$B/cloudformation-sts-endpoint-no-private-dns.yaml"
  self_test_with_binary
}

# The fixtures of the checks that run `trellis` (TRELLIS_BIN).
self_test_with_binary() {
  local B="$CI/broken" name
  local names=("a deploy policy test that fails"
    "kit policy file that \`trellis policy check\` rejects"
    "kit principals file that \`trellis principals check\` rejects (not the last file checked)")
  if [[ -z "${TRELLIS_BIN:-}" ]]; then
    for name in "${names[@]}"; do skip "broken: $name" "set TRELLIS_BIN=path/to/trellis"; done
    return
  fi
  require_binary TRELLIS_BIN
  local policy="$DEPLOY/k8s/base/policy"
  expect_failure "${names[0]}" "FAIL checkout reaches admin" \
    "$PY" "$CI/check_kit_files.py" "$TRELLIS_BIN" policies "$B/policy-tests-wrong.jsonl" "$policy/service-policy.json"
  expect_failure "${names[1]}" "policy-invalid\.json:6:17: error: .*Permit" \
    "$PY" "$CI/check_kit_files.py" "$TRELLIS_BIN" policies "$policy/tests.jsonl" "$B/policy-invalid.json" "$policy/network-policy.json"
  expect_failure "${names[2]}" "principals-invalid\.json:4:14: error: .*group/checkout" \
    "$PY" "$CI/check_kit_files.py" "$TRELLIS_BIN" principals "$B/principals-invalid.json" "$DEPLOY/examples/principals-sts.json"
}

main() {
  case "${1:-}" in
    "") require promtool python kubectl kubernetes-validate hadolint cfn-lint; validate ;;
    --self-test) require promtool python kubectl kubernetes-validate hadolint cfn-lint; self_test ;;
    -h | --help) usage; exit 0 ;;
    *) echo "usage: lint-kit.sh [--self-test]" >&2; exit 2 ;;
  esac
  summary
}

main "$@"
