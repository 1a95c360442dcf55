#!/usr/bin/env bash
# Installs the tools the deploy checks in test/deploy/ need, when missing. None needs a
# running Docker engine or a cluster, and this script never starts one:
#   - docker-compose 1.29 (Debian package, without its recommended docker.io engine):
#     `docker-compose -f docker-compose.yml config`
#   - a Docker client with `docker stack config` (Swarm's own parser, client side): the
#     machine's `docker` (this machine image ships Docker 28). Not installable otherwise here:
#     Debian's docker.io 20.10 client lacks `stack config`, and the Docker CLI does not build
#     with `go install` (no go.mod; the module proxy refuses one of its dependencies).
#   - helm (Go module proxy): `helm lint`, `helm template`
#   - actionlint (Go module proxy): checks .github/workflows/
# Go-built tools are cached in $DW_CACHE_DIR (default ~/.cache/distributed-workers/tools).
# Prints one line per tool it installs, then one `name=path` line per tool on stdout, or
# `name=` with the reason on stderr when a tool could not be had.
set -euo pipefail

HELM_VERSION=v3.22.0
ACTIONLINT_VERSION=v1.7.12

cache_dir=${DW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/distributed-workers}
tools_dir="$cache_dir/tools"
mkdir -p "$tools_dir"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
log() { echo "install-deploy-tools: $*" >&2; }

# go install of one module into the cache, under a versioned name. Output goes to a log.
go_tool() {
  local name=$1 module=$2 version=$3
  local target="$tools_dir/$name-${version%%+*}"
  if [ -x "$target" ]; then echo "$target"; return 0; fi
  if ! command -v go >/dev/null 2>&1; then log "$name: Go is not installed"; return 1; fi
  log "$name: building $module@$version with Go (once; cached in $tools_dir)"
  local work; work=$(mktemp -d)
  local started=$SECONDS
  if GOBIN="$work" GOFLAGS=-mod=mod go install "$module@$version" >"$work/log" 2>&1; then
    mv "$work/$(basename "$module")" "$target"
    log "$name: built in $((SECONDS - started)) s"
    rm -rf "$work"
    echo "$target"
  else
    log "$name: go install failed after $((SECONDS - started)) s: $(tail -n 3 "$work/log" | tr '\n' ' ')"
    rm -rf "$work"
    return 1
  fi
}

docker_compose() {
  if command -v docker-compose >/dev/null 2>&1; then command -v docker-compose; return 0; fi
  log "docker-compose: installing Debian's package (apt-get, no engine)"
  local apt_log; apt_log=$(mktemp)
  # --no-install-recommends: docker.io (the engine) is only recommended; we need none.
  if as_root apt-get update -qq >"$apt_log" 2>&1 &&
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends docker-compose >>"$apt_log" 2>&1; then
    rm -f "$apt_log"
    command -v docker-compose
  else
    log "docker-compose: apt-get failed: $(tail -n 3 "$apt_log" | tr '\n' ' ')"
    rm -f "$apt_log"
    return 1
  fi
}

docker_with_stack_config() {
  local docker; docker=$(command -v docker 2>/dev/null || true)
  if [ -n "$docker" ] && "$docker" stack config --help >/dev/null 2>&1; then echo "$docker"; return 0; fi
  log "docker: no Docker client with 'stack config' on the PATH (it needs Docker 23 or later)"
  return 1
}

report() {
  local name=$1; shift
  local path
  if path=$("$@"); then echo "$name=$path"; else echo "$name="; log "$name: not available; its checks are skipped (in CI they fail)"; fi
}

report docker-compose docker_compose
report docker docker_with_stack_config
report helm go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
report actionlint go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION"
