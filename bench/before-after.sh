#!/usr/bin/env bash
# The write side of two versions in one run: `bash bench/before-after.sh COMMIT [ROUNDS]`
# (POST /jobs, batch, end to end, drain, pickup)
# checks COMMIT out into a temporary worktree (with its own FerretDB build, as its scripts
# name it) and runs `npm run bench -- --only post,batch,e2e,pickup --binlog none` for it and for this
# tree, alternating, ROUNDS times each (default 3), then prints every figure and the median
# of each. Alternating spreads the machine's drift (seen here: ceilings moving 25 % between
# runs minutes apart) over both sides, and the order turns each round (before first in odd
# rounds, after first in even ones): in an A/A set of three pairs, the same code on both sides,
# the first run of each pair drained faster every time, by 12 to 40 % (docs/performance-journal.md,
# "What stats-job costs the drain"). `bash bench/before-after.sh HEAD` is such an A/A set: the
# spread of this machine with nothing changed.
set -euo pipefail
before=${1:?usage: bash bench/before-after.sh COMMIT [ROUNDS]}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/before" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$root" worktree add -q "$work/before" "$before"
# Same package.json in both is the common case; otherwise install the old tree's own.
if cmp -s "$root/package-lock.json" "$work/before/package-lock.json"; then
  ln -s "$root/node_modules" "$work/before/node_modules"
else
  (cd "$work/before" && npm ci --silent >/dev/null)
fi

run() { # $1: tree, $2: label, $3: round
  local out="$work/$2-$3.txt"
  (cd "$1" && npm run bench -- --only post,batch,e2e,pickup --binlog none >"$out" 2>&1) || { cat "$out" >&2; exit 1; }
  local post batch e2e drain pickup
  post=$(grep -m1 'POST /jobs req/s' "$out" | sed -E 's/.*\): ([0-9,]+) .*/\1/' | tr -d ,)
  pickup=$(grep -m1 'pickup latency ms' "$out" | sed -E 's/.*: p50 ([0-9]+),.*/\1/')
  batch=$(grep -m1 'POST /jobs/batch jobs/s' "$out" | sed -E 's/.*\): ([0-9,]+) .*/\1/' | tr -d ,)
  e2e=$(grep -m1 'end to end jobs/s' "$out" | sed -E 's/.*drain: ([0-9,]+) .*/\1/' | tr -d ,)
  drain=$(grep -m1 'drain only jobs/s' "$out" | sed -E 's/.*beforehand \(job records already stored\): ([0-9,]+) .*/\1/' | tr -d ,)
  echo "$2 $3 $batch $e2e $drain $post $pickup" >>"$work/figures"
  echo "round $3 $2: POST $post req/s, batch $batch jobs/s, end to end $e2e jobs/s, drain $drain jobs/s, pickup p50 $pickup ms" >&2
}

for round in $(seq 1 "$rounds"); do
  if ((round % 2 == 1)); then
    run "$work/before" before "$round"
    run "$root" after "$round"
  else
    run "$root" after "$round"
    run "$work/before" before "$round"
  fi
done

python3 - "$work/figures" "$before" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
print(f"\nwrite side, {len(rows)//2} rounds each, the order turning each round; before = {sys.argv[2]}, after = this tree")
print("| measure | before (median) | after (median) | after / before | every run (before; after) |")
print("| --- | --- | --- | --- | --- |")
for i, name in [(5, "POST /jobs req/s"), (2, "POST /jobs/batch jobs/s"), (3, "end to end jobs/s"), (4, "drain only jobs/s"), (6, "pickup p50 ms (lower is better)")]:
    b = [int(r[i]) for r in rows if r[0] == "before"]
    a = [int(r[i]) for r in rows if r[0] == "after"]
    mb, ma = statistics.median(b), statistics.median(a)
    print(f"| {name} | {mb:,.0f} | {ma:,.0f} | {ma / mb:.2f}× | {', '.join(f'{x:,}' for x in b)}; {', '.join(f'{x:,}' for x in a)} |")
EOF
