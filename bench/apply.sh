#!/usr/bin/env bash
# Benchmark: `patchkit apply` against the shell pipeline (tar xzf; patch
# -p1 --fuzz=0; tar czf) and the bare `gzip -dc | gzip -c` round trip, per
# tarball and in total, on one core and on all (and every tarball in one
# call: throughput on one core against all); output size against
# gzip -6; peak memory on the largest tarballs. All from one run.
#
#   bash bench/apply.sh                 # builds --release, makes a corpus
#   CORPUS=/tmp/corpus bash bench/apply.sh   # reuse (or keep) a corpus
#
# Knobs: COUNT tarballs from 10 KB to 5 MB (default 16), BIG_MB unpacked
# size of the extra peak-memory tarball (default 50, 0 for none), RUNS
# rounds per tarball (default 5).
#
# Needs: cargo, python3, GNU tar, gzip, patch, taskset (util-linux) and
# /usr/bin/time (Debian package `time`). Nothing here asserts a time: it
# prints figures to compare across commits and machines
# (docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-16}
BIG_MB=${BIG_MB:-50}
RUNS=${RUNS:-5}
cargo build --release --quiet -p patchkit
BIN="$PWD/target/release/patchkit"
if [ -z "${CORPUS:-}" ]; then
  CORPUS=$(mktemp -d)
  trap 'rm -rf "$CORPUS"' EXIT
fi
if [ ! -d "$CORPUS/tarballs" ] || [ -z "$(ls -A "$CORPUS/tarballs")" ]; then
  python3 bench/gen_corpus.py "$CORPUS" --count "$COUNT" --big-mb "$BIG_MB"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "gzip: $(gzip --version | head -1); tar: $(tar --version | head -1)"
python3 bench/apply_corpus.py "$BIN" "$CORPUS" --runs "$RUNS"
