#!/usr/bin/env bash
# Benchmark: latency of a cached patched tarball from `patchkit serve`
# against the same bytes from a static file server (Python's
# http.server, threading), one keep-alive client, sequential requests.
# The target (issue 12) is within 1.2x of the static server.
#
#   bash bench/serve.sh        # builds --release, prints figures
#
# It builds its own fixtures: an upstream CPAN mirror directory with one
# typical distribution (SMALL_FILES files) and one large one (BIG_FILES
# files), each with one patch (unsigned source tree: the signature check
# happens once at start and is not what is measured). Each tarball is
# fetched once to fill the cache, then REQUESTS times from each server.
# Nothing here asserts a time; it prints figures to compare across commits.
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL_FILES=${SMALL_FILES:-60}
BIG_FILES=${BIG_FILES:-3000}
REQUESTS=${REQUESTS:-200}
cargo build --release --quiet -p patchkit
BIN="$PWD/target/release/patchkit"
W=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT

python3 - "$W" "$SMALL_FILES" "$BIG_FILES" <<'PY'
import io, os, random, sys, tarfile, gzip, difflib
w, small, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)
words = "my our sub return if else unless while for foreach package use strict warnings local die eval".split()
def perl_file(lines):
    return "".join(" ".join(rnd.choice(words) for _ in range(8)) + ";\n" for _ in range(lines))
target = "package T;\n" + "\n".join(f"sub f{i} {{ return {i}; }}" for i in range(200)) + "\n1;\n"
author = f"{w}/upstream/authors/id/B/BE/BENCH"
os.makedirs(author); os.makedirs(f"{w}/upstream/modules")
for dist, n in (("Small-Dist", small), ("Big-Dist", big)):
    name = f"{dist}-1.00"
    files = {f"lib/M{i}.pm": perl_file(120) for i in range(n)}
    files["lib/Target.pm"] = target
    files["META.json"] = '{\n   "name" : "%s",\n   "version" : "1.00"\n}\n' % dist
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        ti = tarfile.TarInfo(name + "/"); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; ti.mtime = 1700000000
        t.addfile(ti)
        for p, d in files.items():
            ti = tarfile.TarInfo(f"{name}/{p}"); ti.size = len(d); ti.mtime = 1700000000; ti.mode = 0o644
            t.addfile(ti, io.BytesIO(d.encode()))
    open(f"{author}/{name}.tar.gz", "wb").write(gzip.compress(buf.getvalue(), 9, mtime=0))
    os.makedirs(f"{w}/patches/{dist}")
    old = target.splitlines(True); new = list(old); new[101] = "sub f100 { return -1; }\n"
    pid = f"PK-BENCH-{dist}"
    open(f"{w}/patches/{dist}/{pid}.patch", "w").write(
        "".join(difflib.unified_diff(old, new, "a/lib/Target.pm", "b/lib/Target.pm")))
    open(f"{w}/patches/{dist}/{pid}.toml", "w").write(
        f'id = "{pid}"\ndist = "{dist}"\nversions = "0"\npatch = "{pid}.patch"\ntitle = "bench"\n')
PY

# patchkit serve (its stdout's first line names the port).
"$BIN" --home "$W/home" serve --source "$W/patches" --upstream "$W/upstream" \
    --listen 127.0.0.1:0 --refresh 0 >"$W/serve.out" 2>"$W/serve.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q http:// "$W/serve.out" 2>/dev/null && break; sleep 0.1; done
SERVE=$(grep -o 'http://[0-9.:]*' "$W/serve.out" | head -1)

# The same bytes as static files: a copy of what serve sends.
mkdir -p "$W/static/authors/id/B/BE/BENCH"
for d in Small-Dist Big-Dist; do
  curl -sf "$SERVE/authors/id/B/BE/BENCH/$d-1.00.tar.gz" -o "$W/static/authors/id/B/BE/BENCH/$d-1.00.tar.gz"
done
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$W/static" && exec python3 -m http.server --bind 127.0.0.1 "$PORT" >/dev/null 2>&1) &
PIDS+=($!)
STATIC="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$STATIC/" >/dev/null 2>&1 && break; sleep 0.1; done

python3 - "$SERVE" "$STATIC" "$REQUESTS" "$W" <<'PY'
import http.client, statistics, sys, time, urllib.parse
serve, static, n, w = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def bench(base, path):
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port)
    times, size = [], 0
    for i in range(n + 5):
        t = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse(); body = r.read()
        assert r.status == 200, (base, path, r.status)
        if i >= 5:   # warm-up
            times.append((time.perf_counter() - t) * 1000)
        size = len(body)
    c.close()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)], size
print(f"{n} sequential keep-alive GETs of a cached patched tarball (ms; median / p90)")
print(f"{'tarball':<22} {'bytes':>9} {'static':>15} {'patchkit serve':>17} {'ratio':>6}")
for d in ("Small-Dist", "Big-Dist"):
    path = f"/authors/id/B/BE/BENCH/{d}-1.00.tar.gz"
    sm, sp, size = bench(static, path)
    pm, pp, size2 = bench(serve, path)
    assert size == size2
    print(f"{d + '-1.00.tar.gz':<22} {size:>9} {sm:>7.2f} / {sp:>5.2f} {pm:>9.2f} / {pp:>5.2f} {pm / sm:>6.2f}")
log = open(f"{w}/serve.log").read()
print(f"builds during the run: {log.count(' patched ')} (the first fetch of each), cached answers: {log.count(' cached ')}")
for d in ("Small-Dist", "Big-Dist"):
    t = sorted(float(l.split()[-1].rstrip("ms")) for l in log.splitlines() if f"/{d}-" in l and " cached " in l)
    print(f"{d}: median time to build the answer (access log, before sending): {statistics.median(t):.2f} ms")
PY
