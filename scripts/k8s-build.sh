#!/usr/bin/env bash
# What `npm run test:k8s` needs to run a real one-node Kubernetes here (docs/facts.md,
# "Kubernetes on this machine"), with nothing from the Internet but Debian and the Go proxy:
#
#   scripts/k8s-build.sh install   containerd, runc, CNI plugins, etcd, conntrack, iptables
#                                  (apt-get, when missing)
#   scripts/k8s-build.sh build     Kubernetes, helm, CoreDNS and the pause program, built once
#                                  with Go (about 13 min on 2 cores, cold) and cached
#   scripts/k8s-build.sh paths     prints KUBE_BIN=, HELM=, COREDNS=, PAUSE= for the cached
#                                  builds (scripts/k8s-cluster.sh and the test read them)
#
# Cached in $DW_CACHE_DIR/k8s (default ~/.cache/distributed-workers/k8s), one file or
# directory per version: a new version builds anew, an old one is never reused by mistake.
set -euo pipefail

K8S_VERSION=v1.33.13
HELM_VERSION=v3.22.0
COREDNS_VERSION=v1.15.0
PAUSE_VERSION=1

cache_dir=${DW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/distributed-workers}
k8s_cache="$cache_dir/k8s"
bin_dir="$k8s_cache/kubernetes-$K8S_VERSION"

log() { echo "k8s-build: $*" >&2; }
# Each step's output goes to a log file; on failure its tail is shown.
quiet() {
  local logf; logf=$(mktemp)
  if "$@" >"$logf" 2>&1; then rm -f "$logf"; else
    local rc=$?; log "failed ($rc): $*"; tail -n 25 "$logf" >&2; rm -f "$logf"; return "$rc"
  fi
}

install() {
  local missing=() pkg
  for pkg in containerd runc containernetworking-plugins etcd-server conntrack iptables openssl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} = 0 ] && return 0
  log "installing ${missing[*]} (apt-get)"
  quiet apt-get update -qq
  # The packages' own services are not started (no systemd here); ours run under DIR.
  DEBIAN_FRONTEND=noninteractive quiet apt-get install -y -qq "${missing[@]}"
}

# Kubernetes from the Go module proxy. The staging replaces point into vendor/ trees the
# module zip lacks, so they are pointed at the published modules of the same version; the -X
# flags give the binaries their real version (charts with kubeVersion refuse v0.0.0).
build_kubernetes() {
  [ -x "$bin_dir/kubelet" ] && return 0
  log "building Kubernetes $K8S_VERSION (once, about 10 min on 2 cores; cached in $bin_dir)"
  local started=$SECONDS work src
  work=$(mktemp -d)
  src=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  cp -r "$src" "$work/src"
  chmod -R u+w "$work/src"
  (
    cd "$work/src"
    rm -rf vendor go.work go.work.sum
    sed -i -E "s#=> \./staging/src/(k8s\.io/[a-z-]+)#=> \1 v0${K8S_VERSION#v1}#" go.mod
    mkdir -p "$work/out"
    local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
    GOWORK=off GOSUMDB=off GOFLAGS=-mod=mod CGO_ENABLED=0 quiet go build -o "$work/out/" -ldflags "-s -w \
      -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
      -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
      ./cmd/kube-apiserver ./cmd/kube-controller-manager ./cmd/kube-scheduler ./cmd/kubelet \
      ./cmd/kubectl ./cmd/kube-proxy
  )
  mkdir -p "$k8s_cache"
  rm -rf "$bin_dir.tmp" && mv "$work/out" "$bin_dir.tmp" && mv "$bin_dir.tmp" "$bin_dir"
  rm -rf "$work"
  log "Kubernetes built in $((SECONDS - started)) s"
}

# One `go install` into the cache under a versioned name.
go_tool() {
  local name=$1 module=$2 version=$3 target="$k8s_cache/$1-$3"
  [ -x "$target" ] && return 0
  log "building $module@$version (once)"
  local work started=$SECONDS; work=$(mktemp -d)
  CGO_ENABLED=0 GOBIN="$work" GOFLAGS=-mod=mod quiet go install "$module@$version"
  mkdir -p "$k8s_cache"
  mv "$work/$(basename "$module")" "$target"
  rm -rf "$work"
  log "$name built in $((SECONDS - started)) s"
}

# The sandbox ("pause") container's process: it only has to live until it is told to stop.
build_pause() {
  local target="$k8s_cache/pause-$PAUSE_VERSION"
  [ -x "$target" ] && return 0
  local work; work=$(mktemp -d)
  cat >"$work/main.go" <<'GO'
// pause holds a pod's namespaces open until the runtime stops it.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
GO
  (cd "$work" && printf 'module pause\n\ngo 1.22\n' >go.mod && CGO_ENABLED=0 quiet go build -ldflags '-s -w' -o pause .)
  mkdir -p "$k8s_cache"
  mv "$work/pause" "$target"
  rm -rf "$work"
}

# The helm that install-deploy-tools.sh builds is the same version: reuse it, else build it.
helm_path() {
  local shared="$cache_dir/tools/helm-$HELM_VERSION"
  if [ -x "$shared" ]; then echo "$shared"; else echo "$k8s_cache/helm-$HELM_VERSION"; fi
}

build() {
  command -v go >/dev/null || { log "Go is needed to build Kubernetes"; return 1; }
  build_pause
  [ -x "$(helm_path)" ] || go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
  go_tool coredns github.com/coredns/coredns "$COREDNS_VERSION"
  build_kubernetes
}

paths() {
  echo "KUBE_BIN=$bin_dir"
  echo "HELM=$(helm_path)"
  echo "COREDNS=$k8s_cache/coredns-$COREDNS_VERSION"
  echo "PAUSE=$k8s_cache/pause-$PAUSE_VERSION"
  echo "K8S_VERSION=$K8S_VERSION"
}

cmd=${1:-}
case "$cmd" in
  install) install ;;
  build) build ;;
  paths) paths ;;
  *) echo "usage: $0 install | build | paths" >&2; exit 2 ;;
esac
