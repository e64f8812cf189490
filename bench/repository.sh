#!/usr/bin/env bash
# Benchmark: the signed repository at scale (docs/performance.md, "The
# repository at scale"). For each size it generates a patch source tree
# (bench/gen_repository.py), publishes it, serves it on 127.0.0.1
# (bench/serve.py: HTTP/1.1, gzip for JSON when asked, byte counting) and
# prints: publish time, metadata bytes, cold `repo add` + `update` (time,
# requests, bytes), `update` after one new record (time, bytes gzip'd and
# plain), `update` with nothing new, and `check` of one tarball, offline and
# online (median of 11).
#
#   bash bench/repository.sh                 # 100, 1,000 and 10,000 records
#   SIZES="100 10000" bash bench/repository.sh
#
# Wall times are printed with, in brackets, the CPU time patchkit itself
# used (user + system): on a shared machine the wall time also counts the
# time other processes held the cores, and the cold update the time the
# Python server needs per request.
#
# Nothing here asserts a time; it prints figures to compare across commits.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"100 1000 10000"}
cargo build --release --quiet -p patchkit
BIN="$PWD/target/release/patchkit"
W=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Runs "$@" and sets WALL and CPU (ms).
timed() {
  /usr/bin/time -o "$W/time" -f "%e %U %S" "$@" >/dev/null 2>&1
  local out; out=$(tail -1 "$W/time")
  WALL=$(python3 -c "import sys;print(round(float(sys.argv[1])*1000))" ${out%% *})
  CPU=$(python3 -c "import sys;a=sys.argv[1].split();print(round((float(a[1])+float(a[2]))*1000))" "$out")
}
# Median wall time in ms of 11 runs of "$@" (output discarded, any status).
median5() {
  local times=()
  for _ in 1 2 3 4 5 6 7 8 9 10 11; do
    local t0; t0=$(now_ms)
    "$@" >/dev/null 2>&1 || true
    times+=($(( $(now_ms) - t0 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 6p
}
stats() { python3 -c "import urllib.request,sys;print(urllib.request.urlopen('http://127.0.0.1:$1/__$2').read().decode())"; }
field() { python3 -c "import json,sys;print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
serve() {
  python3 bench/serve.py "$1" "$2" ${3:-} &
  PIDS+=($!)
  for _ in $(seq 50); do stats "$2" stats >/dev/null 2>&1 && return; sleep 0.1; done
}

mkdir -p "$W/keys"
for role in root targets snapshot timestamp; do
  "$BIN" key generate "$W/keys/$role" >/dev/null
done
printf '[root]\nkeys = ["root.pem"]\n[targets]\nkeys = ["targets.pem"]\n[snapshot]\nkeys = ["snapshot.pem"]\n[timestamp]\nkeys = ["timestamp.pem"]\n' >"$W/keys/keys.toml"

echo "| records | publish | metadata | cold update | update after 1 new record (gzip / plain) | update, nothing new | check --offline | check |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
port=18700
for n in $SIZES; do
  d="$W/n$n"; mkdir -p "$d"
  python3 bench/gen_repository.py "$d/src" "$n" "$d/tb"
  timed "$BIN" publish --source "$d/src" --out "$d/pub" --keys "$W/keys/keys.toml"
  publish="$WALL ms [$CPU]"
  meta_kb=$(( $(du -sb "$d/pub/metadata" | cut -f1) / 1024 ))
  gz=$((port++)); plain=$((port++))
  serve "$d/pub" "$gz"
  serve "$d/pub" "$plain" --no-gzip
  for home in gz plain; do
    p=$gz; [ $home = plain ] && p=$plain
    "$BIN" --home "$d/home-$home" repo add main "http://127.0.0.1:$p" --root "$d/pub/metadata/1.root.json" >/dev/null
  done
  stats "$gz" reset >/dev/null
  timed "$BIN" --home "$d/home-gz" update
  cold="$WALL ms [$CPU]"
  s=$(stats "$gz" stats)
  cold_req=$(field "$s" requests); cold_kb=$(( $(field "$s" bytes) / 1024 ))
  "$BIN" --home "$d/home-plain" update >/dev/null
  # One new record (a new dist), published; then the incremental updates.
  python3 bench/gen_repository.py "$d/src" 1 "$d/tb" "$n"
  "$BIN" publish --source "$d/src" --out "$d/pub" --keys "$W/keys/keys.toml" >/dev/null
  stats "$gz" reset >/dev/null; stats "$plain" reset >/dev/null
  timed "$BIN" --home "$d/home-gz" update
  inc="$WALL ms [$CPU]"
  inc_gz=$(field "$(stats "$gz" stats)" bytes)
  "$BIN" --home "$d/home-plain" update >/dev/null
  inc_plain=$(field "$(stats "$plain" stats)" bytes)
  same=$(median5 "$BIN" --home "$d/home-gz" update)
  off=$(median5 "$BIN" --home "$d/home-gz" check --offline "$d/tb/Dist-0-1.0.tar.gz")
  on=$(median5 "$BIN" --home "$d/home-gz" check "$d/tb/Dist-0-1.0.tar.gz")
  printf '| %s | %s | %s KB | %s, %s requests, %s KB | %s, %s / %s bytes | %s ms | %s ms | %s ms |\n' \
    "$n" "$publish" "$meta_kb" "$cold" "$cold_req" "$cold_kb" "$inc" "$inc_gz" "$inc_plain" "$same" "$off" "$on"
done

# `check --offline` of one tarball, the smallest repository against the
# largest, interleaved (A B A B …, 51 pairs) so that both see the same
# machine: medians in ms and the median of the per-pair ratios.
set -- $SIZES
if [ $# -ge 2 ]; then
  small=$1; eval "large=\${$#}"
  python3 - "$BIN" "$W/n$small" "$W/n$large" "$small" "$large" <<'PY'
import statistics, subprocess, sys, time
bin_, small, large, ns, nl = sys.argv[1:]
def run(d):
    t = time.perf_counter()
    subprocess.run([bin_, "--home", d + "/home-gz", "check", "--offline", d + "/tb/Dist-0-1.0.tar.gz"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t) * 1000
for _ in range(3):
    run(small); run(large)
a, b = [], []
for _ in range(51):
    a.append(run(small)); b.append(run(large))
ratio = statistics.median(y / x for x, y in zip(a, b))
print(f"check --offline, interleaved: {ns} records {statistics.median(a):.2f} ms, "
      f"{nl} records {statistics.median(b):.2f} ms, ratio {ratio:.3f}")
PY
fi
