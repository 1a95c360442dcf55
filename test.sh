#!/usr/bin/env bash
# Posts <count> jobs to a manager at <host:port>, several at a time, and prints a summary.
#
#   ./test.sh <host:port> <count>          e.g. ./test.sh 127.0.0.1:8080 1000
#   API_KEY=<key> ./test.sh <host:port> <count>     for a manager with API_KEYS (the stack)
#
# Each job is {"example":"data","n":N} POSTed to http://<host:port>/ as the original did;
# PARALLEL (default 16) requests run at once. API_KEY, when set, goes out as
# `Authorization: Bearer <key>`; curl reads that header from a private temp file, so the key
# appears neither in the output nor in the process list. Needs bash, curl and xargs. Exits 0
# when every job was accepted (HTTP 202), 1 otherwise, 2 on bad usage. For latency figures
# and waiting until the jobs complete, use `distributed-workers load`.
set -euo pipefail

usage() {
  echo "usage: [API_KEY=<key>] $0 <host:port> <count>   (PARALLEL=16 requests at once by default)" >&2
  exit 2
}
[ $# -eq 2 ] || usage
target=$1
count=$2
parallel=${PARALLEL:-16}
target_re='^[][A-Za-z0-9._:-]+$'
[[ $target =~ $target_re ]] || usage
[[ $count =~ ^[0-9]+$ ]] || usage
[[ $parallel =~ ^[1-9][0-9]*$ ]] || usage
command -v curl >/dev/null || { echo "$0: curl is needed" >&2; exit 2; }

url="http://${target}/"
codes=$(mktemp)
headers=$(mktemp) # mode 600: only this user can read the key in it
trap 'rm -f "$codes" "$headers"' EXIT
auth=()
with_key=
if [ -n "${API_KEY:-}" ]; then
  # A space, newline or control character would break (or add to) the header line.
  if [[ $API_KEY =~ [[:space:][:cntrl:]] ]] || [ "${#API_KEY}" -gt 256 ]; then
    echo "$0: API_KEY must be 1-256 visible characters" >&2
    exit 2
  fi
  printf 'Authorization: Bearer %s\n' "$API_KEY" >"$headers"
  auth=(-H "@$headers")
  with_key=", with API_KEY"
fi

start=$(date +%s%N)
# One curl per job; each prints only the status code (000: no answer within 30 s).
seq 1 "$count" | xargs -P "$parallel" -I{} \
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 -X POST ${auth[@]+"${auth[@]}"} \
  -H 'Content-Type: application/json' -d '{"example":"data","n":{}}' "$url" >"$codes" || true
end=$(date +%s%N)

accepted=$(grep -c '^202$' "$codes" || true)
answered=$(wc -l <"$codes")
errors=$((count - accepted))
elapsed_ms=$(((end - start) / 1000000))
rate=0
[ "$elapsed_ms" -gt 0 ] && rate=$((accepted * 1000 / elapsed_ms))

echo "sent:     $count to $url ($parallel at a time$with_key)"
echo "accepted: $accepted (HTTP 202)"
echo "errors:   $errors"
if [ "$errors" -gt 0 ]; then
  grep -v '^202$' "$codes" | sort | uniq -c | while read -r n status; do
    if [ "$status" = 000 ]; then
      echo "  $n × no answer"
    elif [ "$status" = 401 ] && [ -z "$with_key" ]; then
      echo "  $n × HTTP 401 (the manager wants an API key: set API_KEY)"
    elif [ "$status" = 401 ]; then
      echo "  $n × HTTP 401 (the manager refused API_KEY)"
    else
      echo "  $n × HTTP $status"
    fi
  done
  missing=$((count - answered))
  [ "$missing" -gt 0 ] && echo "  $missing × not sent (curl did not run)"
fi
printf 'elapsed:  %d.%03d s (%d jobs/s accepted)\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000)) "$rate"
[ "$accepted" -eq "$count" ]
