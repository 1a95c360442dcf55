#!/usr/bin/env bash
# `scripts/k8s-cluster.sh stop DIR`: undoes `start DIR`, whatever state it reached, and is
# safe to run twice. Every process is stopped by the pid `start` recorded (or, for the
# containerd shims and container processes, found by DIR's socket in their command line);
# then mounts under DIR and the netns mounts of its pods are unmounted, the cni0 bridge, the
# KUBE-* and CNI-* iptables chains and the two FORWARD rules removed, and DIR deleted.
set -uo pipefail

dir=${1:?usage: k8s-teardown.sh DIR}
[ -d "$dir" ] || exit 0
here=$(cd "$(dirname "$0")" && pwd)
eval "$(bash "$here/k8s-build.sh" paths)"
log() { echo "k8s-cluster: $*" >&2; }
sock="$dir/containerd.sock"

# Stops one recorded process: TERM, then KILL after `grace` seconds.
stop_pid() {
  local name=$1 grace=${2:-10} file="$dir/pids/$1.pid" pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    local deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$file"
}

# The pods' containers: kubelet is gone by now, so CRI cannot stop them; kill their tasks
# through containerd, then the shims that ran them (processes naming DIR's socket).
stop_containers() {
  [ -S "$sock" ] || return 0
  local c="ctr -a $sock -n k8s.io" id
  for id in $($c tasks ls -q 2>/dev/null); do $c tasks kill -s SIGKILL "$id" >/dev/null 2>&1; done
  sleep 1
  for id in $($c tasks ls -q 2>/dev/null); do $c tasks delete -f "$id" >/dev/null 2>&1; done
  for id in $($c containers ls -q 2>/dev/null); do $c containers delete "$id" >/dev/null 2>&1; done
}

stop_shims() {
  local pid cmdline
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || continue
    case "$cmdline" in *containerd-shim*"$sock"*) kill -KILL "$pid" 2>/dev/null ;; esac
  done
}

# Rules in built-in chains that jump to KUBE-*/CNI-* chains, then those chains themselves.
clean_iptables() {
  local bin table rule chain
  for bin in iptables ip6tables; do
    command -v "$bin" >/dev/null || continue
    for table in filter nat mangle raw; do
      "$bin-save" -t "$table" 2>/dev/null | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE-|CNI-)' |
        while read -r rule; do eval "$bin -t $table -D ${rule#-A }" 2>/dev/null; done
      for chain in $("$bin-save" -t "$table" 2>/dev/null | sed -n -E 's/^:((KUBE|CNI)-[^ ]+) .*/\1/p'); do
        "$bin" -t "$table" -F "$chain" 2>/dev/null
      done
      for chain in $("$bin-save" -t "$table" 2>/dev/null | sed -n -E 's/^:((KUBE|CNI)-[^ ]+) .*/\1/p'); do
        "$bin" -t "$table" -X "$chain" 2>/dev/null
      done
    done
  done
  while iptables -D FORWARD -i cni0 -j ACCEPT 2>/dev/null; do :; done
  while iptables -D FORWARD -o cni0 -j ACCEPT 2>/dev/null; do :; done
}

# The kubelet's pod cgroups (cgroup v1: one tree per controller), deepest first.
clean_cgroups() {
  local tree
  for tree in /sys/fs/cgroup/*/kubepods; do
    [ -d "$tree" ] && find "$tree" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
}

stop_pid kube-proxy 10
stop_pid kubelet 10
stop_containers
stop_pid coredns 5
stop_pid kube-scheduler 5
stop_pid kube-controller-manager 5
stop_pid kube-apiserver 15
stop_pid etcd 15
stop_pid containerd 15
stop_shims

# libcni's cached results of our pods: our network's, and the loopback ones of the same
# sandboxes (the container id names both).
for result in /var/lib/cni/results/dw-k8s-*-eth0; do
  [ -f "$result" ] || continue
  id=${result#/var/lib/cni/results/dw-k8s-}
  rm -f "$result" "/var/lib/cni/results/cni-loopback-${id%-eth0}-lo"
done
# Everything still mounted under DIR (kubelet volumes, container rootfs), deepest first.
{ grep -o " $dir/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
# Netns mounts left by sandboxes that never got a CNI result.
if [ -f "$dir/netns-before" ]; then
  for ns in /run/netns/cni-*; do
    [ -e "$ns" ] || continue
    grep -qxF "$ns" "$dir/netns-before" && continue
    umount "$ns" 2>/dev/null; rm -f "$ns"
  done
fi

clean_iptables
ip link delete cni0 2>/dev/null
[ -f "$dir/bridge-nf-call-iptables.before" ] &&
  cat "$dir/bridge-nf-call-iptables.before" >/proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null
clean_cgroups
# Pod logs: only those of this kubelet's pods (their uids name the dirs).
for uid in $(ls "$dir/kubelet/pods" 2>/dev/null); do
  rm -rf /var/log/pods/*_"$uid"
done
find /var/log/containers -xtype l -delete 2>/dev/null
# Directories that did not exist before start; /var/log/pods and /var/lib/cni/results were
# only ever ours then.
if [ -f "$dir/made-paths" ]; then
  while read -r path; do
    case "$path" in /run/netns) rmdir "$path" 2>/dev/null ;; *) rm -rf "$path" ;; esac
  done <"$dir/made-paths"
fi
rm -rf "$dir"
log "stopped; $dir deleted"
