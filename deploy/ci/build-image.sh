#!/usr/bin/env bash
# Builds the static binary as the image's build stage does and checks the runtime image around
# it. Run `bash deploy/ci/install-tools.sh` first (as root it installs buildah and musl-tools).
#
#   bash deploy/ci/build-image.sh              build and check
#   bash deploy/ci/build-image.sh --self-test  the broken fixtures of these checks must FAIL
#
# The static binary: `cargo build --release --locked --target x86_64-unknown-linux-musl -p
# trellis` (the release profile, fat LTO: the size measured is the size shipped); a failed build
# fails even when an older binary is still in target/. The image (root with buildah): the
# `runtime-prebuilt` stage of deploy/docker/Dockerfile around that binary, holding exactly
# /etc/passwd, /etc/group and the binary; `trellis --version` and `trellis healthcheck` (0
# against the demo, 1 once it is gone) run in the image as its USER; that user is 65532 and not
# root; there is no shell; the compressed size (gzip layers of an OCI layout) is at most 20 MB.
# Not root: the image is skipped.
#
# Environment:
#   TRELLIS_MUSL_BIN=PATH   use this static binary instead of building it.
#   TRELLIS_SKIP_IMAGE=1    skip the image (the static binary is still built).
set -euo pipefail

MUSL_TARGET=x86_64-unknown-linux-musl
MAX_IMAGE_BYTES=$((20 * 1000 * 1000))
# The files the runtime-prebuilt image holds: its Dockerfile stage copies exactly these.
IMAGE_FILES="./etc/group ./etc/passwd ./usr/local/bin/trellis"

# shellcheck source=deploy/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# image_skip_reason: why the image check cannot run here (empty when it can).
image_skip_reason() {
  if [[ "${TRELLIS_SKIP_IMAGE:-}" == 1 ]]; then
    echo "TRELLIS_SKIP_IMAGE=1"
  elif [[ $EUID -ne 0 ]]; then
    echo "needs root (buildah with the vfs driver and chroot isolation)"
  elif ! command -v buildah >/dev/null 2>&1; then
    echo "buildah is not installed (bash deploy/ci/install-tools.sh, as root)"
  fi
}

# build_musl_binary [ROOT]: the static binary exactly as the Dockerfile's build stage makes it,
# from the workspace at ROOT (default: this repository).
build_musl_binary() {
  local root="${1:-$ROOT}" tool
  for tool in cargo musl-gcc file; do
    command -v "$tool" >/dev/null 2>&1 \
      || { echo "$tool is required to build the static binary (bash deploy/ci/install-tools.sh, or set TRELLIS_MUSL_BIN)" >&2; return 1; }
  done
  local t0=$SECONDS log="$WORK/musl-build.log"
  (cd "$root" && cargo build --release --locked --target "$MUSL_TARGET" -p trellis --bin trellis) >"$log" 2>&1 \
    || { tail -n 20 "$log" >&2; echo "cargo build --release --target $MUSL_TARGET failed in $root" >&2; return 1; }
  tail -n 3 "$log"
  local bin="$root/target/$MUSL_TARGET/release/trellis"
  [[ -x "$bin" ]] || { echo "cargo build did not produce $bin" >&2; return 1; }
  echo "built $bin in $((SECONDS - t0)) s: $(file -b "$bin" | cut -d, -f1-5)"
  file -b "$bin" | grep -q 'statically linked\|static-pie' || { echo "$bin is not statically linked" >&2; return 1; }
}

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

check_image_size() { "$PY" "$CI/check_image_size.py" "$1" "$MAX_IMAGE_BYTES"; }

# A policy `trellis policy check` accepts, for the user probe.
probe_policy() {
  printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}\n'
}

# check_image BIN: builds the runtime-prebuilt image around BIN and checks it (see the top).
# Every finding is reported before the check fails (rc), except those that stop the rest.
check_image() {
  local bin="$1"
  local b=(buildah --storage-driver vfs)
  local tag="localhost/trellis-validate:prebuilt" ctx="$WORK/image-context" ctr="" rc=0
  # A minimal context: exactly what the runtime-prebuilt stage copies.
  if ! { mkdir -p "$ctx/deploy/docker" "$ctx/target/$MUSL_TARGET/release" \
    && cp "$DEPLOY/docker/passwd" "$DEPLOY/docker/group" "$ctx/deploy/docker/" \
    && cp "$bin" "$ctx/target/$MUSL_TARGET/release/trellis"; }; then
    echo "cannot prepare the build context in $ctx" >&2
    return 1
  fi
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
    echo "the image has a shell" >&2
    rc=1
  elif "${brun[@]}" "$ctr" -- /bin/sh -c true >/dev/null 2>&1; then
    echo "the image runs /bin/sh" >&2
    rc=1
  else
    echo "no shell in the image: /bin/sh absent and cannot be run"
  fi
  "${b[@]}" umount "$ctr" >/dev/null
  echo "-- trellis --version as the image's USER"
  "${brun[@]}" "$ctr" -- /usr/local/bin/trellis --version || { echo "trellis --version failed in the image" >&2; rc=1; }
  # The user is 65532 and not root: it reads a 0400 file owned by 65532 and cannot read a 0400
  # file owned by root (root could read both).
  local probe="$WORK/user-probe"
  mkdir -p "$probe"
  probe_policy >"$probe/mine.json"
  probe_policy >"$probe/roots.json"
  chown 65532:65532 "$probe/mine.json"
  chown 0:0 "$probe/roots.json"
  chmod 0400 "$probe/mine.json" "$probe/roots.json"
  chmod 0755 "$probe"
  local vol=(--volume "$probe:/probe:ro")
  if "${brun[@]}" "${vol[@]}" "$ctr" -- /usr/local/bin/trellis policy check /probe/mine.json >"$WORK/probe.out" 2>&1 \
    && ! "${brun[@]}" "${vol[@]}" "$ctr" -- /usr/local/bin/trellis policy check /probe/roots.json >>"$WORK/probe.out" 2>&1; then
    echo "runs as 65532: reads a 0400 file of 65532's, is refused a 0400 file of root's ($(grep -io 'permission denied' "$WORK/probe.out" | head -1))"
  else
    cat "$WORK/probe.out" >&2
    echo "the image does not run as 65532 (user probe failed)" >&2
    rc=1
  fi
  check_image_healthcheck "$bin" "$ctr" || rc=1
  "${b[@]}" rm "$ctr" >/dev/null
  rm -rf "$WORK/oci"
  "${b[@]}" push --quiet --compression-format gzip "$tag" "oci:$WORK/oci:trellis" >/dev/null \
    || { echo "buildah push to an OCI layout failed: the size cannot be measured" >&2; return 1; }
  "${b[@]}" rmi "$tag" >/dev/null 2>&1 || true
  echo "binary: $(stat -c %s "$bin") bytes uncompressed"
  check_image_size "$WORK/oci" || rc=1
  return $rc
}

# check_image_healthcheck BIN CONTAINER: the image's HEALTHCHECK command, run in the image
# CONTAINER, exits 0 against the demo (BIN, on the host) and 1 once it is gone.
check_image_healthcheck() {
  local bin="$1" ctr="$2" admin listen pid hc
  local brun=(buildah --storage-driver vfs run --isolation chroot)
  admin="$(free_addr)"
  listen="$(free_addr)"
  "$bin" demo --listen "$listen" --admin "$admin" --access-log off >"$WORK/image-demo.log" 2>&1 &
  pid=$!
  BACKGROUND_PIDS+=("$pid")
  wait_http "http://$admin/readyz" "$pid" \
    || { cat "$WORK/image-demo.log" >&2; echo "the demo did not become ready on $admin" >&2; return 1; }
  hc=0
  "${brun[@]}" "$ctr" -- /usr/local/bin/trellis healthcheck --admin "$admin" || hc=$?
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  [[ $hc -eq 0 ]] || { echo "healthcheck in the image exited $hc against the running demo, expected 0" >&2; return 1; }
  echo "healthcheck in the image against the demo: exit 0"
  hc=0
  "${brun[@]}" "$ctr" -- /usr/local/bin/trellis healthcheck --admin "$admin" --timeout 1s 2>"$WORK/hc.err" || hc=$?
  [[ $hc -eq 1 ]] \
    || { cat "$WORK/hc.err" >&2; echo "healthcheck in the image exited $hc with the admin endpoint down, expected 1" >&2; return 1; }
  # buildah adds its own line about the exit status; show trellis's reason.
  echo "healthcheck in the image with the demo gone: exit 1 ($(grep -m 1 -v '^subprocess exited' "$WORK/hc.err"))"
}

build() {
  local image="image: buildah runtime-prebuilt, runs as 65532, healthcheck 0/1, no shell, size <= 20 MB"
  local bin="${TRELLIS_MUSL_BIN:-}" reason
  if [[ -n "$bin" ]]; then
    require_binary TRELLIS_MUSL_BIN
  else
    run "static musl binary (cargo build --release --locked --target $MUSL_TARGET)" build_musl_binary
    if [[ ${#FAILED[@]} -gt 0 ]]; then
      skip "$image" "the static binary did not build"
      return
    fi
    bin="$ROOT/target/$MUSL_TARGET/release/trellis"
  fi
  reason="$(image_skip_reason)"
  if [[ -n "$reason" ]]; then
    skip "$image" "$reason"
  else
    require python
    run "$image" check_image "$bin"
  fi
}

self_test() {
  local B="$CI/broken"
  expect_failure "image holding a file besides passwd, group and the binary" \
    "debug-notes\.txt" check_image_files "$B/image-root"
  expect_failure "image whose gzip layers exceed 20 MB" \
    "25000000 bytes, over the limit of 20000000" check_image_size "$B/oci-too-large"
  # A crate that does not compile, with an old binary left where the build would put it.
  local name="static build that fails while an old binary is in target/"
  if ! command -v musl-gcc >/dev/null 2>&1; then
    skip "broken: $name" "needs musl-gcc (bash deploy/ci/install-tools.sh, as root)"
    return
  fi
  local crate="$WORK/musl-build"
  local planted="$crate/target/$MUSL_TARGET/release/trellis"
  cp -R "$B/musl-build" "$crate" || die "cannot copy the musl-build fixture to $crate"
  mkdir -p "$(dirname "$planted")" || die "cannot create $(dirname "$planted")"
  printf '#!/bin/true\n' >"$planted" || die "cannot plant $planted"
  chmod +x "$planted" || die "cannot make $planted executable"
  expect_failure "$name" "broken_fixture_does_not_compile" build_musl_binary "$crate"
}

main() {
  case "${1:-}" in
    "") build ;;
    --self-test) require python; self_test ;;
    -h | --help) usage; exit 0 ;;
    *) echo "usage: build-image.sh [--self-test]" >&2; exit 2 ;;
  esac
  summary
}

main "$@"
