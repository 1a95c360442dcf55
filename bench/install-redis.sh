#!/usr/bin/env bash
# Installs Debian's redis-server for the bench's BullMQ peer when it is missing, the way
# scripts/install-backends.sh installs beanstalkd. Prints nothing unless it installs.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

command -v redis-server >/dev/null 2>&1 && exit 0
[ -x /usr/bin/redis-server ] && exit 0
echo "install-redis: installing redis-server (apt-get)" >&2
as_root apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq redis-server >&2
# The Debian package may start a system service on port 6379; the bench runs its own on a free port.
if command -v systemctl >/dev/null 2>&1; then as_root systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
