#!/usr/bin/env bash
# Offline validation of the deployment kit (deploy/), in the three steps CI (.ci/run) runs one
# by one:
#
#   install-tools.sh   the pinned tools (the first run needs the network; as root, with apt-get)
#   lint-kit.sh        Dockerfiles, Kubernetes overlays, ECS task and template, alerts,
#                      dashboard; with TRELLIS_BIN, the kit's policies and principals and the
#                      binary's real /metrics
#   build-image.sh     the static binary, and as root the runtime image around it
#
#   bash deploy/ci/validate.sh              every check
#   bash deploy/ci/validate.sh --self-test  every broken fixture in deploy/ci/broken must FAIL
#                                           its check, for the reason it was broken for
#
# The environment variables of each step apply (see `bash deploy/ci/STEP.sh --help`).
set -euo pipefail

dir="$(dirname "${BASH_SOURCE[0]}")"
case "${1:-}" in
  "" | --self-test) ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: validate.sh [--self-test]" >&2; exit 2 ;;
esac
bash "$dir/install-tools.sh"
status=0
bash "$dir/lint-kit.sh" "$@" || status=1
bash "$dir/build-image.sh" "$@" || status=1
exit "$status"
