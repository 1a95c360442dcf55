#!/usr/bin/env bash
# A real one-node Kubernetes for `npm run test:k8s`, every file of it under one directory
# (docs/facts.md, "Kubernetes on this machine"; the binaries from scripts/k8s-build.sh):
#
#   scripts/k8s-cluster.sh start DIR          certificates, etcd, the control plane,
#                                             containerd, kubelet, kube-proxy and CoreDNS;
#                                             prints KUBECONFIG=…
#   scripts/k8s-cluster.sh import DIR TAR...  `docker save` tarballs into its containerd
#   scripts/k8s-cluster.sh stop DIR           stops what start started (by pid), unmounts,
#                                             removes the network state it made, deletes DIR
#
# It uses no system service: containerd's root, state and socket, the kubelet's root dir,
# the CNI config and IP allocations are all under DIR. What cannot be (the cni0 bridge,
# iptables chains, /run/netns, /var/lib/cni/results, /var/log/pods) `stop` removes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
eval "$(bash "$here/k8s-build.sh" paths)"
CNI_NET=dw-k8s
POD_CIDR=10.88.0.0/16
GATEWAY=10.88.0.1
SERVICE_CIDR=10.96.0.0/16
DNS_IP=10.96.0.10
PAUSE_IMAGE=docker.io/library/distributed-workers-pause:1
node_name=$(hostname | tr '[:upper:]' '[:lower:]')

log() { echo "k8s-cluster: $*" >&2; }
kubectl() { "$KUBE_BIN/kubectl" --kubeconfig "$dir/admin.kubeconfig" "$@"; }

# A key and a certificate signed by DIR's CA: cert NAME SUBJECT [SAN list].
cert() {
  local name=$1 subject=$2 sans=${3:-} pki="$dir/pki"
  openssl genrsa -out "$pki/$name.key" 2048 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr" 2>/dev/null
  local ext="$pki/$name.ext"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' >"$ext"
  [ -n "$sans" ] && echo "subjectAltName=$sans" >>"$ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
}

kubeconfig() {
  local name=$1 file="$dir/$1.kubeconfig" k="$KUBE_BIN/kubectl"
  "$k" config set-cluster local --server=https://127.0.0.1:6443 --certificate-authority="$dir/pki/ca.crt" \
    --embed-certs --kubeconfig "$file" >/dev/null
  "$k" config set-credentials "$name" --client-certificate="$dir/pki/$name.crt" \
    --client-key="$dir/pki/$name.key" --embed-certs --kubeconfig "$file" >/dev/null
  "$k" config set-context local --cluster=local --user="$name" --kubeconfig "$file" >/dev/null
  "$k" config use-context local --kubeconfig "$file" >/dev/null
}

certificates() {
  mkdir -p "$dir/pki" && chmod 700 "$dir/pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=dw-k8s-ca" \
    -keyout "$dir/pki/ca.key" -out "$dir/pki/ca.crt" 2>/dev/null
  cert apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,IP:10.96.0.1,IP:$GATEWAY,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert admin "/O=system:masters/CN=admin"
  cert node "/O=system:nodes/CN=system:node:$node_name" "DNS:$node_name,IP:127.0.0.1"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  cert kube-proxy "/CN=system:kube-proxy"
  openssl genrsa -out "$dir/pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$dir/pki/sa.key" -pubout -out "$dir/pki/sa.pub" 2>/dev/null
  for name in admin node controller-manager scheduler kube-proxy; do kubeconfig "$name"; done
}

# Runs one component in its own session (a Ctrl-C reaches the test, which then stops it),
# logging to DIR/logs and recording its pid for `stop`.
launch() {
  local name=$1; shift
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name.pid"
}

wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then log "$what did not come up"; return 1; fi
    sleep 0.5
  done
}

network() {
  # Remember what existed, so stop removes only what this run made.
  for path in /var/lib/cni /run/netns /var/log/pods /var/log/containers; do
    [ -e "$path" ] || echo "$path" >>"$dir/made-paths"
  done
  { ls -d /run/netns/cni-* 2>/dev/null || true; } >"$dir/netns-before"
  cat /proc/sys/net/bridge/bridge-nf-call-iptables >"$dir/bridge-nf-call-iptables.before" 2>/dev/null || true
  ip link add cni0 type bridge
  ip addr add "$GATEWAY/16" dev cni0
  ip link set cni0 up
  # Service traffic between pods on the one bridge must pass through iptables (kube-proxy).
  echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
  # Docker leaves FORWARD at DROP; these two are removed again by stop.
  iptables -I FORWARD -i cni0 -j ACCEPT
  iptables -I FORWARD -o cni0 -j ACCEPT
  mkdir -p "$dir/cni"
  cat >"$dir/cni/10-$CNI_NET.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "$CNI_NET", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$dir/cni-ipam",
            "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$GATEWAY"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON
}

containerd_start() {
  mkdir -p "$dir/containerd"
  # restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE; without it every sandbox fails
  # with "can't get final child's PID from pipe: EOF".
  cat >"$dir/containerd/config.toml" <<TOML
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.ttrpc.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
TOML
  launch containerd containerd --config "$dir/containerd/config.toml"
  wait_for containerd 30 ctr -a "$dir/containerd.sock" version
}

control_plane() {
  local pki="$dir/pki"
  launch etcd etcd --name dw --data-dir "$dir/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster dw=http://127.0.0.1:2380
  launch kube-apiserver "$KUBE_BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --secure-port=6443 --advertise-address="$GATEWAY" --service-cluster-ip-range="$SERVICE_CIDR" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
    --client-ca-file="$pki/ca.crt" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local --profiling=false
  wait_for kube-apiserver 90 kubectl get --raw /readyz
  launch kube-controller-manager "$KUBE_BIN/kube-controller-manager" --kubeconfig="$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$dir/controller-manager.kubeconfig" --authorization-kubeconfig="$dir/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials \
    --root-ca-file="$pki/ca.crt" --service-account-private-key-file="$pki/sa.key" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false
  launch kube-scheduler "$KUBE_BIN/kube-scheduler" --kubeconfig="$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig="$dir/scheduler.kubeconfig" --authorization-kubeconfig="$dir/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --profiling=false
}

node_start() {
  cat >"$dir/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: "$dir/pki/ca.crt" }
authorization: { mode: Webhook }
tlsCertFile: "$dir/pki/node.crt"
tlsPrivateKeyFile: "$dir/pki/node.key"
clusterDomain: cluster.local
clusterDNS: ["$DNS_IP"]
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%" }
YAML
  launch kubelet "$KUBE_BIN/kubelet" --config="$dir/kubelet.yaml" --kubeconfig="$dir/node.kubeconfig" \
    --root-dir="$dir/kubelet" --container-runtime-endpoint="unix://$dir/containerd.sock" \
    --hostname-override="$node_name" --node-ip="$(hostname -I | cut -d' ' -f1)"
  # conntrack-max-per-core=0: leave the host's conntrack table size alone.
  launch kube-proxy "$KUBE_BIN/kube-proxy" --kubeconfig="$dir/kube-proxy.kubeconfig" \
    --proxy-mode=iptables --cluster-cidr="$POD_CIDR" --hostname-override="$node_name" \
    --conntrack-max-per-core=0 --nodeport-addresses=primary --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256
  wait_for "node $node_name Ready" 120 kubectl wait --for=condition=Ready "node/$node_name" --timeout=2s
}

# CoreDNS as a host process on the bridge's address (no image needed), behind the usual
# kube-dns Service at DNS_IP with a hand-written EndpointSlice. No `forward`: no upstream here.
dns_start() {
  cat >"$dir/Corefile" <<COREFILE
.:53 {
    bind $GATEWAY
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $dir/admin.kubeconfig local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
}
COREFILE
  launch coredns "$COREDNS" -conf "$dir/Corefile"
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: { name: kube-dns, namespace: kube-system, labels: { k8s-app: kube-dns } }
spec:
  clusterIP: $DNS_IP
  ports: [{ name: dns, port: 53, protocol: UDP }, { name: dns-tcp, port: 53, protocol: TCP }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels: { kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: test-k8s.sh }
addressType: IPv4
endpoints: [{ addresses: ["$GATEWAY"], conditions: { ready: true } }]
ports: [{ name: dns, port: 53, protocol: UDP }, { name: dns-tcp, port: 53, protocol: TCP }]
YAML
}

# The storage a cluster admin would provide: hostPath volumes under DIR, with no class, which
# the chart's claims (storageClass "") bind to. Open to every uid: the pods run as their own.
volumes() {
  local n
  for n in 1 2 3 4; do
    mkdir -p "$dir/volumes/pv$n" && chmod 1777 "$dir/volumes/pv$n"
    kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: { name: dw-local-$n }
spec:
  capacity: { storage: 10Gi }
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: { path: "$dir/volumes/pv$n", type: Directory }
YAML
  done
}

start() {
  dir=$1
  mkdir -p "$dir/logs" "$dir/pids"
  certificates
  network
  containerd_start
  control_plane
  node_start
  dns_start
  volumes
  echo "KUBECONFIG=$dir/admin.kubeconfig"
}

import() {
  dir=$1; shift
  local tar
  for tar in "$@"; do
    ctr -a "$dir/containerd.sock" -n k8s.io images import --snapshotter overlayfs "$tar" >/dev/null
  done
}

cmd=${1:-}
case "$cmd" in
  start) start "${2:?start DIR}" ;;
  import) import "${2:?import DIR TAR...}" "${@:3}" ;;
  stop) bash "$here/k8s-teardown.sh" "${2:?stop DIR}" ;;
  *) echo "usage: $0 start DIR | import DIR TAR... | stop DIR" >&2; exit 2 ;;
esac
