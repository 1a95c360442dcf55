#!/usr/bin/env bash
# Installs what the test harness and the local stack need when it is missing:
# beanstalkd (Debian package) and FerretDB v1.24.2 with SQLite (built from the Go module
# proxy, recipe in docs/facts.md, "FerretDB", with scripts/ferretdb/*.patch applied so that reads by
# `_id` use the index, writes queue in Go, one at a time, and those that waited commit together,
# no command pays for leak tracking,
# a crash cannot leave a collection half created, SQLite is the C library, not its
# translation to Go, and a delete command's deletes by `_id` are one transaction; cached
# under $DW_CACHE_DIR).
# Prints nothing on success unless something had to be installed.
#
#   scripts/install-backends.sh                  beanstalkd and (unless MONGO_URL or mongod) FerretDB
#   scripts/install-backends.sh --ferretdb-path  only FerretDB; prints the binary's path (the
#                                                swarm images take it from here)
#   scripts/install-backends.sh --ferretdb-name  prints where that binary is cached, building
#                                                nothing (src/local/servers.ts runs it from there)
set -euo pipefail

FERRETDB_VERSION=v1.24.2
cache_dir=${DW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/distributed-workers}
patch_dir="$(cd "$(dirname "$0")" && pwd)/ferretdb"
# In code-point order whatever the locale, as src/local/servers.ts and the name below see them.
LC_COLLATE=C
patches=("$patch_dir"/*.patch)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_beanstalkd() {
  command -v beanstalkd >/dev/null 2>&1 && return 0
  [ -x /usr/bin/beanstalkd ] && return 0
  echo "install-backends: installing beanstalkd (apt-get)" >&2
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq beanstalkd >&2
  # The Debian package starts a system service on port 11300; we run our own on free ports.
  if command -v systemctl >/dev/null 2>&1; then as_root systemctl disable --now beanstalkd >/dev/null 2>&1 || true; fi
}

# native-sqlite.patch compiles SQLite's C source (cgo), statically linked: a C compiler and
# libc's static archive.
install_c_compiler() {
  command -v cc >/dev/null 2>&1 && [ -f /usr/include/stdio.h ] && return 0
  echo "install-backends: installing a C compiler for FerretDB's SQLite (apt-get)" >&2
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq gcc libc6-dev >&2
}

build_ferretdb() {
  [ -x "$ferretdb_bin" ] && return 0
  command -v go >/dev/null 2>&1 || { echo "install-backends: Go is needed to build FerretDB" >&2; exit 1; }
  install_c_compiler
  echo "install-backends: building FerretDB $FERRETDB_BUILD (about two minutes, once)" >&2
  mkdir -p "$cache_dir"
  local work; work=$(mktemp -d)
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' RETURN
  ( cd "$work" && mkdir mod && cd mod && go mod init w >/dev/null 2>&1 )
  local dir
  dir=$(cd "$work/mod" && GOSUMDB=off GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  cp -r "$dir" "$work/src"
  chmod -R u+w "$work/src"
  echo "$FERRETDB_VERSION" > "$work/src/build/version/version.txt"
  local patch
  for patch in "${patches[@]}"; do
    ( cd "$work/src" && git apply --whitespace=nowarn "$patch" ) \
      || { echo "install-backends: $patch does not apply to FerretDB $FERRETDB_VERSION" >&2; exit 1; }
  done
  # Static, so that the swarm image (debian-slim) and any other machine run it as it is: the
  # Go resolver and user lookup (netgo, osusergo), no SQLite extension loading (no dlopen);
  # SQLite's dbstat table, which FerretDB's dbStats and collStats read (Mongo Express asks them).
  ( cd "$work/src" && CGO_ENABLED=1 GOSUMDB=off GOFLAGS=-mod=mod go build \
      -tags 'netgo osusergo sqlite_omit_load_extension sqlite_dbstat' -ldflags '-linkmode external -extldflags -static' \
      -o "$ferretdb_bin.tmp" ./cmd/ferretdb )
  mv "$ferretdb_bin.tmp" "$ferretdb_bin"
}

# The build is named by what makes it: the version, this recipe (build_ferretdb's own text,
# as bash prints it) and each patch's name and content. A binary cached by any other build
# (unpatched, an earlier patch, other build flags) is never picked up under this name, and
# nobody has to remember to rename it (a stale binary under a hand-kept name once failed CI).
ferretdb_build_name() {
  local sum
  sum=$({
    echo "$FERRETDB_VERSION"
    declare -f build_ferretdb
    local patch
    for patch in "${patches[@]}"; do
      basename "$patch"
      cat "$patch"
    done
  } | sha256sum | cut -c1-12)
  echo "$FERRETDB_VERSION-$sum"
}
FERRETDB_BUILD=$(ferretdb_build_name)
ferretdb_bin="$cache_dir/ferretdb-$FERRETDB_BUILD"

[ $# -le 1 ] || { echo "usage: install-backends.sh [--ferretdb-path | --ferretdb-name]" >&2; exit 2; }
case "${1:-}" in
  --ferretdb-path)
    build_ferretdb
    echo "$ferretdb_bin"
    exit 0
    ;;
  --ferretdb-name)
    # Where the build is cached, built or not: what src/local/servers.ts runs.
    echo "$ferretdb_bin"
    exit 0
    ;;
  "") ;;
  *) echo "usage: install-backends.sh [--ferretdb-path | --ferretdb-name]" >&2; exit 2 ;;
esac

install_beanstalkd
if [ -z "${MONGO_URL:-}" ] && ! command -v mongod >/dev/null 2>&1; then build_ferretdb; fi
