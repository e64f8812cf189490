#!/usr/bin/env bash
# Benchmark: `patchkit audit` on a generated cpanm-style library of N
# installed dists (default 5,000), with the release build. Prints the
# figures; asserts nothing (timings belong here, not in tests).
#
#   bench/audit_library.sh [N] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
RUNS=${2:-7}

cargo build --release --quiet --bin patchkit
BIN=target/release/patchkit
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== generating a library of $N installed dists in $WORK"
python3 bench/gen_library.py "$WORK" "$N"

run() {
    "$BIN" --home "$WORK/home" audit --source "$WORK/patches" "$@" "$WORK/local" \
        >"$WORK/out" 2>"$WORK/err" || true
}

echo "== checking the result once"
"$BIN" --home "$WORK/home" audit --json --source "$WORK/patches" "$WORK/local" 2>/dev/null \
    | python3 -c 'import json,sys; print("summary:", json.dumps(json.load(sys.stdin)["summary"]))'

echo "== timing $RUNS runs (table output to a file; first run warms the page cache)"
run
python3 - "$RUNS" "$BIN" "$WORK" <<'PY'
import statistics, subprocess, sys, time
runs, binary, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for mode in ([], ["--json"]):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([binary, "--home", f"{work}/home", "audit", *mode, "--source",
                        f"{work}/patches", f"{work}/local"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    label = "json " if mode else "table"
    print(f"audit ({label}): min {min(times)*1000:.0f} ms, median "
          f"{statistics.median(times)*1000:.0f} ms, max {max(times)*1000:.0f} ms")
PY
echo "cpus: $(nproc)"
