#!/usr/bin/env bash
# `npm run test:swarm`: the stack file on a real one-node swarm (docs/deploy.md; issue
# "Swarm for real"). Installs docker.io and debootstrap if missing, writes the secrets with
# the stack file's own header lines, starts its own dockerd under a temp dir (never any
# other daemon), builds the images with no registry, runs
# test/swarm/ (swarm init, stack deploy, the scenarios, stack rm, swarm leave), and always
# stops that dockerd and deletes its dirs, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step=$SECONDS
lap() { echo "test-swarm: $1: $((SECONDS - step)) s" >&2; step=$SECONDS; }

dir=$(mktemp -d /tmp/dw-swarm.XXXXXX)
export DW_SWARM_DIR=$dir
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -S "$dir/docker.sock" ]; then
    export DOCKER_HOST="unix://$dir/docker.sock"
    # What the test's own teardown did not get to (interrupted): best effort, quietly.
    docker stack rm dw >/dev/null 2>&1 || true
    docker swarm leave --force >/dev/null 2>&1 || true
    echo "test-swarm: disk used by the engine: $(du -sh "$dir/data" 2>/dev/null | cut -f1)" >&2
  fi
  step=$SECONDS
  bash scripts/swarm-engine.sh stop "$dir"
  lap "engine stopped and $dir deleted"
  echo "test-swarm: total $((SECONDS - started)) s" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash scripts/swarm-engine.sh install
lap "install check"
# The secrets as docker-compose.yml's header tells users to write them, by running its own
# lines in $dir (the test deploys with DW_SECRETS_DIR=$dir/secrets and reads the key there).
bash scripts/swarm-engine.sh secrets "$dir"
eval "export $(bash scripts/swarm-engine.sh start "$dir")"
lap "dockerd started"
bash scripts/swarm-engine.sh images
lap "images built"
export DW_SWARM_TRANSCRIPT=${DW_SWARM_TRANSCRIPT:-$dir/transcript.txt}
npx mocha --config test/swarm/mocharc.cjs 'test/swarm/**/*.test.ts'
lap "scenarios"
