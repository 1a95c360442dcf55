#!/usr/bin/env bash
# `npm run test:k8s`: the Helm chart on a real one-node Kubernetes (docs/deploy.md; issue 26,
# "Kubernetes for real"). Installs containerd, etcd and the CNI plugins if missing, builds
# Kubernetes, helm, CoreDNS and a pause program once (cached), builds the images with its own
# dockerd (scripts/swarm-engine.sh, no registry) and stops it, starts the cluster under a
# temp dir (scripts/k8s-cluster.sh), imports the images, and runs test/k8s/ (helm install,
# the scenarios). Always tears everything down, also on failure or Ctrl-C, and then checks
# that no process, mount or iptables chain of the run is left.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step=$SECONDS
lap() { echo "test-k8s: $1: $((SECONDS - step)) s" >&2; step=$SECONDS; }

dir=$(mktemp -d /tmp/dw-k8s.XXXXXX)
export DW_K8S_DIR=$dir/cluster
docker_dir=$dir/docker
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  step=$SECONDS
  if [ -f "$DW_K8S_DIR/admin.kubeconfig" ] && [ -n "${HELM:-}" ]; then
    # What the test did not get to: uninstall, and let the kubelet stop the pods through the
    # runtime (which also releases their network) before the cluster goes.
    KUBECONFIG=$DW_K8S_DIR/admin.kubeconfig timeout 60 "$HELM" uninstall dw -n dw --wait >/dev/null 2>&1 || true
    KUBECONFIG=$DW_K8S_DIR/admin.kubeconfig timeout 90 "$KUBE_BIN/kubectl" delete namespace dw --wait >/dev/null 2>&1 || true
  fi
  bash scripts/k8s-cluster.sh stop "$DW_K8S_DIR"
  bash scripts/swarm-engine.sh stop "$docker_dir"
  rm -rf "$dir"
  lap "cluster and engine stopped, $dir deleted"
  local left; left=$(iptables-save | grep -c KUBE || true)
  # A run that leaves state behind fails, even when its scenarios passed.
  if [ "$left" != 0 ]; then echo "test-k8s: $left KUBE iptables lines left" >&2; [ "$rc" = 0 ] && rc=1; fi
  if grep -q " $dir" /proc/mounts; then echo "test-k8s: mounts left under $dir" >&2; [ "$rc" = 0 ] && rc=1; fi
  echo "test-k8s: total $((SECONDS - started)) s" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash scripts/k8s-build.sh install
bash scripts/swarm-engine.sh install
lap "install check"
bash scripts/k8s-build.sh build
eval "$(bash scripts/k8s-build.sh paths)"
lap "Kubernetes $K8S_VERSION, helm, CoreDNS ready"

# The images, built by an engine of our own which is stopped once they are saved: the
# cluster runs on containerd, and 2 cores cannot spare a second runtime.
eval "export $(bash scripts/swarm-engine.sh start "$docker_dir")"
bash scripts/swarm-engine.sh images
mkdir -p "$dir/pause"
cp "$PAUSE" "$dir/pause/pause"
printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' >"$dir/pause/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t distributed-workers-pause:1 "$dir/pause" >/dev/null 2>"$dir/pause/log" ||
  { cat "$dir/pause/log" >&2; exit 1; }
# Two tags of one image: scenario e upgrades the release from one to the other.
docker tag distributed-workers:0.1.0 distributed-workers:k8s-a
docker tag distributed-workers:0.1.0 distributed-workers:k8s-b
docker save -o "$dir/images.tar" distributed-workers-pause:1 distributed-workers:k8s-a distributed-workers:k8s-b \
  distributed-workers-beanstalkd:1.12 distributed-workers-ferretdb:1.24.2
unset DOCKER_HOST
bash scripts/swarm-engine.sh stop "$docker_dir"
lap "images built and saved ($(du -h "$dir/images.tar" | cut -f1))"

eval "export $(bash scripts/k8s-cluster.sh start "$DW_K8S_DIR")"
lap "cluster started (node Ready)"
bash scripts/k8s-cluster.sh import "$DW_K8S_DIR" "$dir/images.tar"
rm -f "$dir/images.tar"
lap "images imported into containerd"

# The API key as docker-compose.yml's header has users write it; the test makes it a Secret.
(umask 077 && printf 'ops:%s\n' "$(openssl rand -hex 32)" >"$dir/api_keys")
export DW_API_KEYS_FILE=$dir/api_keys DW_HELM=$HELM DW_KUBECTL=$KUBE_BIN/kubectl
export DW_K8S_TRANSCRIPT=${DW_K8S_TRANSCRIPT:-$dir/transcript.txt}
npx mocha --config test/k8s/mocharc.cjs 'test/k8s/**/*.test.ts'
lap "scenarios"
