#!/usr/bin/env bash
# The Docker engine and images for `npm run test:swarm` (test/swarm/), on a machine where no
# Docker registry is reachable (docs/facts.md, "Docker and Swarm on this machine"):
#
#   scripts/swarm-engine.sh install          docker.io and debootstrap from Debian, if missing
#   scripts/swarm-engine.sh start DIR        its own dockerd: data root, exec root, pidfile and
#                                            socket under DIR; prints DOCKER_HOST=unix://…
#   scripts/swarm-engine.sh images           (DOCKER_HOST set) builds every image the stack needs
#   scripts/swarm-engine.sh secrets DIR      writes DIR/secrets/ by running docker-compose.yml's
#                                            own header lines in DIR (prints no secret)
#   scripts/swarm-engine.sh secret-steps     prints those lines (test/deploy/ checks them)
#   scripts/swarm-engine.sh stop DIR         stops that dockerd (by its pid) and deletes DIR
#
# It never talks to a Docker daemon it did not start: every docker command here runs with
# DOCKER_HOST pointing at the socket under DIR. Images built:
#   debian:12.11-slim          Debian bookworm minbase from debootstrap (docker import)
#   node:20-bookworm-slim      a stand-in: that base + this machine's node, npm and CA bundle
#   distributed-workers:0.1.0  the project's Dockerfile, unchanged
#   distributed-workers-beanstalkd:1.12   deploy/beanstalkd, unchanged
#   distributed-workers-mongo-express:1.0.0   deploy/mongo-express, unchanged (npm ci inside)
#   distributed-workers-ferretdb:1.24.2   FerretDB (SQLite backend) standing in for mongo
# Cached in $DW_CACHE_DIR/swarm (default ~/.cache/distributed-workers/swarm): the debootstrap
# tarball, and the five base images (not the app image) saved with `docker save`, keyed by a
# hash of what they are built from.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cache_dir=${DW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/distributed-workers}
swarm_cache="$cache_dir/swarm"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
log() { echo "swarm-engine: $*" >&2; }
# Each step's output goes to a log file; on failure its tail is shown.
quiet() {
  local logf; logf=$(mktemp)
  if "$@" >"$logf" 2>&1; then rm -f "$logf"; else
    local rc=$?; log "failed ($rc): $*"; tail -n 25 "$logf" >&2; rm -f "$logf"; return "$rc"
  fi
}

install() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  [ ${#missing[@]} = 0 ] && return 0
  log "installing ${missing[*]} (apt-get)"
  quiet as_root apt-get update -qq
  # policy-rc.d / no systemd: the package's own daemon is not started here; if a system one
  # is, it is not ours and we leave it alone (we use our own socket).
  DEBIAN_FRONTEND=noninteractive quiet as_root apt-get install -y -qq "${missing[@]}"
}

# The lines of docker-compose.yml's header comment that write the secrets (every indented
# command line there that writes under secrets/), without their "#   ".
secret_steps() {
  awk '!/^#/ { exit } /^#   / && /secrets\// { sub(/^#   /, ""); print }' "$root/docker-compose.yml"
}

# Writes the secrets as a user following the stack file's header would: its own lines, run in
# DIR, so the test deploys what those instructions produce and the two cannot drift apart.
# Nothing is printed: the files hold the API key.
secrets() {
  local dir=$1 steps
  steps=$(secret_steps)
  if [ -z "$steps" ]; then
    log "docker-compose.yml's header has no lines that write secrets/"
    return 1
  fi
  mkdir -p "$dir"
  (cd "$dir" && umask 077 && bash -euo pipefail -c "$steps")
}

start() {
  local dir=$1
  mkdir -p "$dir/data" "$dir/exec"
  local dockerd; dockerd=$(command -v dockerd || echo /usr/sbin/dockerd)
  local sock="$dir/docker.sock"
  # setsid: its own session, so a Ctrl-C on the test's terminal reaches the test (which then
  # stops it) rather than killing the engine under it.
  setsid "$dockerd" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
    -H "unix://$sock" --storage-driver=vfs >"$dir/dockerd.log" 2>&1 </dev/null &
  echo $! >"$dir/dockerd.launcher.pid"
  local deadline=$((SECONDS + 60))
  until DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$(cat "$dir/dockerd.launcher.pid")" 2>/dev/null; then
      log "dockerd did not come up; its log:"; tail -n 20 "$dir/dockerd.log" >&2; return 1
    fi
    sleep 0.5
  done
  echo "DOCKER_HOST=unix://$sock"
}

stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  local pid=""
  [ -f "$dir/dockerd.pid" ] && pid=$(cat "$dir/dockerd.pid")
  [ -z "$pid" ] && [ -f "$dir/dockerd.launcher.pid" ] && pid=$(cat "$dir/dockerd.launcher.pid")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.3; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  # Containers' mounts and network namespaces under the exec root go away with the engine;
  # anything left mounted under DIR is unmounted before deleting.
  { grep -o " $dir/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$dir"
}

key_of() { cat "$@" | sha256sum | cut -c1-16; }

images() {
  : "${DOCKER_HOST:?DOCKER_HOST must point at the engine started by this script}"
  export DOCKER_BUILDKIT=0
  mkdir -p "$swarm_cache"
  local work; work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  local node_bin; node_bin=$(readlink -f "$(command -v node)")
  local npm_dir; npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
  # Our patched build, named (and built when missing) by install-backends.sh: reads by _id use
  # the index, writes queue, no leak tracking.
  local ferretdb; ferretdb=$(bash "$root/scripts/install-backends.sh" --ferretdb-path)

  # The key for the cached base images: everything they are built from.
  local key; key=$(
    { sha256sum "$node_bin" "$ferretdb" /etc/ssl/certs/ca-certificates.crt "$root/deploy/beanstalkd/Dockerfile" "$0" \
        "$root"/deploy/mongo-express/{Dockerfile,package.json,package-lock.json,start.cjs}
      cat "$npm_dir/package.json"; } | key_of
  )
  local saved="$swarm_cache/base-images-$key.tar"
  if [ -f "$saved" ]; then
    log "loading the cached base images ($(du -h "$saved" | cut -f1))"
    quiet docker load -i "$saved"
  else
    # 1. Debian bookworm (minbase), imported under the tag deploy/beanstalkd names.
    local rootfs="$swarm_cache/debian-bookworm-minbase.tar"
    if [ ! -f "$rootfs" ]; then
      log "debootstrap bookworm (once, about 30 s)"
      quiet as_root debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian
      tar -C "$work/rootfs" -c . >"$rootfs.tmp" && mv "$rootfs.tmp" "$rootfs"
      as_root rm -rf "$work/rootfs"
    fi
    log "importing the Debian base as debian:12.11-slim"
    quiet docker import "$rootfs" debian:12.11-slim

    # 2. node:20-bookworm-slim, stood in: this machine's node (same major), npm, CA bundle.
    log "building the stand-in node:20-bookworm-slim"
    mkdir -p "$work/node"
    cp "$node_bin" "$work/node/node"
    cp -r "$npm_dir" "$work/node/npm"
    cp /etc/ssl/certs/ca-certificates.crt "$work/node/ca-certificates.crt"
    cat >"$work/node/Dockerfile" <<'EOF'
FROM debian:12.11-slim
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
  && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
EOF
    quiet docker build -t node:20-bookworm-slim "$work/node"

    # 3. beanstalkd from the project's own Dockerfile (apt-get inside the build).
    log "building distributed-workers-beanstalkd:1.12 (deploy/beanstalkd, unchanged)"
    quiet docker build -t distributed-workers-beanstalkd:1.12 "$root/deploy/beanstalkd"

    # Mongo Express from its npm package, on the stand-in node base (npm ci inside the build).
    log "building distributed-workers-mongo-express:1.0.0 (deploy/mongo-express, unchanged)"
    quiet docker build -t distributed-workers-mongo-express:1.0.0 "$root/deploy/mongo-express"

    # 4. FerretDB with SQLite on /data/db (the volume the stack gives mongo).
    log "building distributed-workers-ferretdb:1.24.2"
    mkdir -p "$work/ferretdb"
    cp "$ferretdb" "$work/ferretdb/ferretdb"
    # The stack's health check runs `mongosh --quiet --eval "…ping…"`; FerretDB is ready when
    # its port accepts connections (docs/facts.md, "FerretDB"), so this stand-in checks just that.
    printf '%s\n' '#!/bin/bash' '# Health-check stand-in for mongosh (distributed-workers test image): is 27017 open?' \
      'exec 3<>/dev/tcp/127.0.0.1/27017' >"$work/ferretdb/mongosh"
    chmod 755 "$work/ferretdb/mongosh"
    cat >"$work/ferretdb/Dockerfile" <<'EOF'
FROM debian:12.11-slim
COPY ferretdb mongosh /usr/local/bin/
RUN useradd --system --uid 10002 --user-group --home-dir /data --shell /usr/sbin/nologin ferretdb \
  && mkdir -p /data/db && chown 10002:10002 /data/db
VOLUME /data/db
USER 10002:10002
EXPOSE 27017
ENTRYPOINT ["ferretdb", "--handler=sqlite", "--sqlite-url=file:/data/db/", "--state-dir=/data/db", \
  "--listen-addr=0.0.0.0:27017", "--telemetry=disable", "--debug-addr=-", "--log-level=warn"]
EOF
    quiet docker build -t distributed-workers-ferretdb:1.24.2 "$work/ferretdb"

    rm -f "$swarm_cache"/base-images-*.tar
    log "saving the base images to the cache"
    docker save -o "$saved.tmp" debian:12.11-slim node:20-bookworm-slim \
      distributed-workers-beanstalkd:1.12 distributed-workers-mongo-express:1.0.0 \
      distributed-workers-ferretdb:1.24.2 && mv "$saved.tmp" "$saved"
  fi

  # 5. The app, from the project's Dockerfile as it is (never cached: it is what we test).
  log "building distributed-workers:0.1.0 (the project's Dockerfile, unchanged)"
  quiet docker build -t distributed-workers:0.1.0 "$root"
}

cmd=${1:-}
case "$cmd" in
  install) install ;;
  start) start "${2:?start DIR}" ;;
  stop) stop "${2:?stop DIR}" ;;
  images) images ;;
  secrets) secrets "${2:?secrets DIR}" ;;
  secret-steps) secret_steps ;;
  *) echo "usage: $0 install | start DIR | images | secrets DIR | secret-steps | stop DIR" >&2; exit 2 ;;
esac
