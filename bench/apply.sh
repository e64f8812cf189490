#!/usr/bin/env bash
# Benchmark: what patching costs compared with decompressing and
# recompressing the same tarball once (the floor docs/ARCHITECTURE.md sets), and how
# many targets per second `apply` handles in one call.
#
#   bash bench/apply.sh            # builds --release, prints figures
#
# It builds its own fixtures: a large distribution (N_FILES files, about
# SIZE_MB of Perl-like text) with one patch, and BATCH small distributions.
# Nothing here asserts a time; it prints figures to compare across commits.
set -euo pipefail
cd "$(dirname "$0")/.."
N_FILES=${N_FILES:-3000}
BATCH=${BATCH:-200}
cargo build --release --quiet -p patchkit
BIN="$PWD/target/release/patchkit"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

python3 - "$W" "$N_FILES" "$BATCH" <<'PY'
import io, os, random, sys, tarfile, gzip
w, n, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)
words = "my our sub return if else unless while for foreach package use strict warnings local die eval".split()
def perl_file(lines):
    return "".join(" ".join(rnd.choice(words) for _ in range(8)) + ";\n" for _ in range(lines))
def make(name, files, out):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        def add(path, data, mode=0o644, kind=tarfile.REGTYPE):
            ti = tarfile.TarInfo(path); ti.mtime = 1700000000; ti.mode = mode; ti.type = kind
            ti.size = len(data) if kind == tarfile.REGTYPE else 0
            t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        add(name + "/", b"", 0o755, tarfile.DIRTYPE)
        for p, d in files.items():
            add(f"{name}/{p}", d.encode())
    with open(out, "wb") as f:
        f.write(gzip.compress(buf.getvalue(), 9, mtime=0))
os.makedirs(f"{w}/in", exist_ok=True); os.makedirs(f"{w}/batch", exist_ok=True)
files = {f"lib/Big/M{i}.pm": perl_file(120) for i in range(n)}
target = "package Big::Target;\n" + "\n".join(f"sub f{i} {{ return {i}; }}" for i in range(200)) + "\n1;\n"
files["lib/Big/Target.pm"] = target
files["META.json"] = '{\n   "name" : "Big-Dist",\n   "version" : "1.00"\n}\n'
make("Big-Dist-1.00", files, f"{w}/in/Big-Dist-1.00.tar.gz")
for i in range(batch):
    make(f"Small-Dist-1.{i:03d}", {"lib/Small.pm": target, "README": "x\n"}, f"{w}/batch/Small-Dist-1.{i:03d}.tar.gz")
os.makedirs(f"{w}/patches/Big-Dist", exist_ok=True); os.makedirs(f"{w}/patches/Small-Dist", exist_ok=True)
old = target.splitlines(True); new = list(old); new[101] = "sub f100 { return -1; }\n"
import difflib
for dist, path, pid in (("Big-Dist", "lib/Big/Target.pm", "PK-BENCH-1"), ("Small-Dist", "lib/Small.pm", "PK-BENCH-2")):
    diff = "".join(difflib.unified_diff(old, new, f"a/{path}", f"b/{path}"))
    open(f"{w}/patches/{dist}/{pid}.patch", "w").write(diff)
    open(f"{w}/patches/{dist}/{pid}.toml", "w").write(
        f'id = "{pid}"\ndist = "{dist}"\nversions = "0"\npatch = "{pid}.patch"\ntitle = "bench"\n')
PY

ms() { python3 -c 'import sys,time; print(round((time.time()-float(sys.argv[1]))*1000))' "$1"; }
now() { python3 -c 'import time; print(time.time())'; }
best() { # best of 5 runs of "$@", in ms
  local b=999999 t s
  for _ in 1 2 3 4 5; do s=$(now); "$@" >/dev/null 2>&1; t=$(ms "$s"); [ "$t" -lt "$b" ] && b=$t; done; echo "$b"
}
BIG="$W/in/Big-Dist-1.00.tar.gz"
# One checked run of each first: a benchmark of a failing command measures
# nothing.
"$BIN" --home "$W/home" apply --source "$W/patches" -o "$W/check" "$BIG" 2>/dev/null | grep -q "1 patch applied"
"$BIN" --home "$W/home" apply --source "$W/patches" -o "$W/check2" "$W"/batch/*.tar.gz 2>/dev/null \
  | grep -c "1 patch applied" | grep -qx "$BATCH"
echo "big dist: $(du -k "$BIG" | cut -f1) KiB compressed, $(gzip -dc "$BIG" | wc -c | awk '{printf "%d KiB", $1/1024}') unpacked, $((N_FILES+2)) files"
t_gz=$(best sh -c "gzip -dc '$BIG' | gzip -9 > '$W/regz.tar.gz'")
t_gz6=$(best sh -c "gzip -dc '$BIG' | gzip -6 > '$W/regz6.tar.gz'")
t_apply=$(best "$BIN" --home "$W/home" apply --source "$W/patches" -o "$W/out" "$BIG")
t_debian=$(best sh -c "rm -rf '$W/x' && mkdir '$W/x' && tar -xzf '$BIG' -C '$W/x' && patch -s -d '$W/x/Big-Dist-1.00' -p1 < '$W/patches/Big-Dist/PK-BENCH-1.patch' && tar -czf '$W/deb.tar.gz' -C '$W/x' Big-Dist-1.00")
echo "gzip -dc | gzip -9 (the floor):          ${t_gz} ms"
echo "gzip -dc | gzip -6:                       ${t_gz6} ms"
echo "patchkit apply (one patch):              ${t_apply} ms"
echo "tar x + GNU patch + tar cz (extracting): ${t_debian} ms"
t_batch=$(best "$BIN" --home "$W/home" apply --source "$W/patches" -o "$W/out2" "$W"/batch/*.tar.gz)
echo "patchkit apply, $BATCH small dists in one call: ${t_batch} ms ($(python3 -c "print(round($BATCH*1000/max($t_batch,1)))") dists/s)"
