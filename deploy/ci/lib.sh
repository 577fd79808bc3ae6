# shellcheck shell=bash
# Sourced by the deployment-kit scripts in deploy/ci/ (lint-kit.sh, build-image.sh): where things
# are, the tools install-tools.sh put in the cache, a scratch directory removed on exit, and the
# runner that reports each check and proves, in --self-test, that each one can fail.
#
# Checks are run as the condition of an `if` (by `run` and `expect_failure`), which turns
# `set -e` off for everything they run, functions included. A check's status is that of its last
# command, so every command before the last tests its own status
# (`cmd || { echo why >&2; return 1; }`).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEPLOY="$ROOT/deploy"
CACHE="${TRELLIS_VALIDATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis-deploy-validate}"
VENV="$CACHE/venv"
# shellcheck disable=SC2034 # CI and PY are for the scripts that source this file.
{
  CI="$DEPLOY/ci"
  PY="$VENV/bin/python"
}
WORK="$(mktemp -d "${TMPDIR:-/tmp}/trellis-validate.XXXXXX")"
SCRIPT="$(basename "$0")"

# Background processes a check started; cleanup stops those still running.
BACKGROUND_PIDS=()
cleanup() {
  local pid
  for pid in "${BACKGROUND_PIDS[@]+"${BACKGROUND_PIDS[@]}"}"; do
    kill "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "$SCRIPT: $*" >&2; exit 1; }

# require TOOL...: each is on PATH or in the venv install-tools.sh made.
require() {
  local tool
  for tool in "$@"; do
    [[ -x "$VENV/bin/$tool" ]] || command -v "$tool" >/dev/null 2>&1 \
      || die "$tool is missing: run \`bash deploy/ci/install-tools.sh\` first"
  done
}

# free_addr: a loopback address with a port nobody listens on (other jobs may share the machine).
free_addr() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print("127.0.0.1:%d" % s.getsockname()[1])'
}

# wait_http URL [PID]: until URL answers 2xx, for up to 10 s, or until PID exits.
wait_http() {
  local url="$1" pid="${2:-}"
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

# require_binary VAR: the executable named by the environment variable VAR, or die.
require_binary() {
  local var="$1"
  [[ -x "${!var}" ]] || die "$var=${!var} is not an executable"
}

PASSED=()
FAILED=()
SKIPPED=()

# run NAME CHECK ARGS...: runs a check as the condition of an `if` (see the top of this file).
run() {
  local name="$1"
  shift
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

# expect_failure NAME PATTERN CHECK ARGS...: the check must fail, and its output must match
# PATTERN (so it failed for the reason the fixture was broken for).
expect_failure() {
  local name="$1" pattern="$2"
  shift 2
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
  echo "== $SCRIPT summary: ${#PASSED[@]} passed, ${#FAILED[@]} failed, ${#SKIPPED[@]} skipped"
  local s
  for s in "${SKIPPED[@]+"${SKIPPED[@]}"}"; do echo "   skipped: $s"; done
  for s in "${FAILED[@]+"${FAILED[@]}"}"; do echo "   failed: $s"; done
  [[ ${#FAILED[@]} -eq 0 ]]
}

# usage: the comment block at the top of the running script, from its second line.
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}
