#!/usr/bin/env python3
"""Time `patchkit apply` on a generated corpus against the shell pipeline
and the bare gzip round trip, from one run. Called by bench/apply.sh.

    python3 bench/apply_corpus.py BIN CORPUS [--runs N]

For each tarball of CORPUS/tarballs (made by bench/gen_corpus.py), in turn,
round-robin over RUNS rounds so that a machine whose speed drifts slows all
four alike:

  apply   patchkit apply --source CORPUS/patches (all cores)
  apply1  the same on one core (taskset -c 0, RAYON_NUM_THREADS=1)
  shell   tar xzf; patch -p1 --fuzz=0 < each patch; tar czf
  gzip    gzip -dc | gzip -c   (the bare round trip, GNU gzip -6)

and prints the medians of wall time and of CPU time (user + sys: on a
shared machine the wall time measures the other jobs too), the ratios (median of the per-round ratios), the
output size against `gzip -6` of the same tar, the totals, and the peak
memory (/usr/bin/time -v) of apply on the largest tarball and on
CORPUS/big/* if present. Only standard tools: python3, GNU tar, gzip,
patch, taskset (util-linux), /usr/bin/time (package `time`).
"""
import argparse
import glob
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


CPU = {}


def run(cmd, env=None, key=None):
    """Wall seconds of `cmd`; its CPU seconds (user + sys of every process
    it waited for) are added to CPU[key]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, shell=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (r.returncode, cmd, r.stderr.decode(errors="replace")[-2000:]))
    if key:
        CPU.setdefault(key, []).append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return dt


def peak_kib(cmd):
    r = subprocess.run("/usr/bin/time -v " + cmd, shell=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    if r.returncode != 0 or not m:
        sys.exit("failed: %s\n%s" % (cmd, r.stderr[-2000:]))
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("corpus")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    corpus = os.path.abspath(args.corpus)
    tarballs = sorted(glob.glob(os.path.join(corpus, "tarballs", "*.tar.gz")), key=os.path.getsize)
    work = tempfile.mkdtemp(prefix="patchkit-bench-")
    home = os.path.join(work, "home")
    env1 = dict(os.environ, RAYON_NUM_THREADS="1")
    one_core = "taskset -c 0 " if shutil.which("taskset") else ""
    rows = []
    try:
        for tb in tarballs:
            name = os.path.basename(tb)
            top = name[: -len(".tar.gz")]
            series = [os.path.join(corpus, p) for p in
                      open(os.path.join(corpus, "series", top + ".list")).read().split()]
            out = {k: os.path.join(work, k) for k in ("a", "a1", "x", "s", "g")}
            for d in out.values():
                os.makedirs(d, exist_ok=True)
            cmds = {
                "apply": "%s --home %s apply --source %s/patches -o %s %s" % (args.bin, home, corpus, out["a"], tb),
                "apply1": "%s%s --home %s apply --source %s/patches -o %s %s"
                % (one_core, args.bin, home, corpus, out["a1"], tb),
                "shell": "rm -rf {x} && mkdir {x} && tar xzf {tb} -C {x} && {patches}"
                " tar czf {s}/{n} -C {x} {top}".format(
                    x=out["x"], tb=tb, s=out["s"], n=name, top=top,
                    patches="".join("patch -s -p1 --fuzz=0 -d %s/%s < %s && " % (out["x"], top, p) for p in series)),
                "gzip": "gzip -dc %s | gzip -c > %s/%s" % (tb, out["g"], name),
            }
            times = {k: [] for k in cmds}
            for k, c in cmds.items():  # warm-up, and a check that each works
                run(c, env1 if k == "apply1" else None)
            CPU.clear()
            for _ in range(args.runs):
                for k, c in cmds.items():
                    times[k].append(run(c, env1 if k == "apply1" else None, k))
            cpu = {k: statistics.median(v) for k, v in CPU.items()}
            produced = os.path.join(out["a"], name)
            size = os.path.getsize(produced)
            gz6 = int(subprocess.run("gzip -dc %s | gzip -6 | wc -c" % produced, shell=True,
                                     capture_output=True, text=True, check=True).stdout)
            same = open(produced, "rb").read() == open(os.path.join(out["a1"], name), "rb").read()
            ratio = lambda a, b: statistics.median(x / y for x, y in zip(times[a], times[b]))
            rows.append(dict(
                name=name, kb=os.path.getsize(tb) / 1000, patches=len(series),
                med={k: statistics.median(v) for k, v in times.items()},
                vs_gzip=ratio("apply", "gzip"), vs_shell=ratio("apply", "shell"),
                speedup=ratio("apply1", "apply"), size=size, gz6=gz6, same=same, cpu=cpu))
            r = rows[-1]
            print("%-24s %8.0f KB %d  apply %7.1f ms  1 core %7.1f  shell %7.1f  gzip %7.1f  "
                  "x gzip %.2f  x shell %.2f  cores %.2fx  size/gzip-6 %.3f%s" % (
                      name, r["kb"], r["patches"], r["med"]["apply"] * 1e3, r["med"]["apply1"] * 1e3,
                      r["med"]["shell"] * 1e3, r["med"]["gzip"] * 1e3, r["vs_gzip"], r["vs_shell"],
                      r["speedup"], size / gz6, "" if same else "  OUTPUT DIFFERS 1 vs all cores"),
                  flush=True)
            print("%-24s cpu s: apply %.3f  1 core %.3f  shell %.3f  gzip %.3f  apply cpu/gzip cpu %.2f" % (
                "", cpu["apply"], cpu["apply1"], cpu["shell"], cpu["gzip"], cpu["apply"] / cpu["gzip"]),
                flush=True)
        tot = {k: sum(r["med"][k] for r in rows) for k in ("apply", "apply1", "shell", "gzip")}
        print()
        print("total (%d tarballs, %.1f MB): apply %.0f ms, 1 core %.0f ms, shell %.0f ms, gzip %.0f ms" % (
            len(rows), sum(r["kb"] for r in rows) / 1000, tot["apply"] * 1e3, tot["apply1"] * 1e3,
            tot["shell"] * 1e3, tot["gzip"] * 1e3))
        print("total ratios: apply/gzip round trip %.2f, apply/shell %.2f, 1 core/all cores %.2f, "
              "size/gzip-6 %.3f, worst single: x gzip %.2f, x shell %.2f, size %.3f" % (
                  tot["apply"] / tot["gzip"], tot["apply"] / tot["shell"], tot["apply1"] / tot["apply"],
                  sum(r["size"] for r in rows) / sum(r["gz6"] for r in rows),
                  max(r["vs_gzip"] for r in rows), max(r["vs_shell"] for r in rows),
                  max(r["size"] / r["gz6"] for r in rows)))
        ctot = {k: sum(r["cpu"][k] for r in rows) for k in ("apply", "apply1", "shell", "gzip")}
        print("total cpu s: apply %.2f, 1 core %.2f, shell %.2f, gzip %.2f; apply/gzip %.2f, apply/shell %.2f" % (
            ctot["apply"], ctot["apply1"], ctot["shell"], ctot["gzip"], ctot["apply"] / ctot["gzip"],
            ctot["apply"] / ctot["shell"]))
        print("outputs identical on 1 core and all cores: %s" % all(r["same"] for r in rows))
        # Throughput: every tarball in one `apply` call, which spreads the
        # targets over the cores, on one core against all (median of RUNS,
        # alternating), and the outputs compared byte for byte.
        batch = {k: os.path.join(work, "batch-" + k) for k in ("1", "all")}
        all_tb = " ".join(tarballs)
        bcmd = {k: "%s%s --home %s apply --source %s/patches -o %s %s" % (
            one_core if k == "1" else "", args.bin, home, corpus, d, all_tb) for k, d in batch.items()}
        btimes = {k: [] for k in bcmd}
        for _ in range(max(args.runs, 3)):
            for k, c in bcmd.items():
                shutil.rmtree(batch[k], ignore_errors=True)
                os.makedirs(batch[k])
                btimes[k].append(run(c, env1 if k == "1" else None))
        bsame = all(open(os.path.join(batch["1"], n), "rb").read() == open(os.path.join(batch["all"], n), "rb").read()
                    for n in os.listdir(batch["all"]))
        b1, ball = statistics.median(btimes["1"]), statistics.median(btimes["all"])
        print("batch (%d tarballs in one call): 1 core %.0f ms, all %d cores %.0f ms: throughput %.2fx; "
              "outputs identical: %s" % (len(tarballs), b1 * 1e3, os.cpu_count(), ball * 1e3, b1 / ball, bsame))
        big = sorted(glob.glob(os.path.join(corpus, "big", "*.tar.gz")))
        for tb in [tarballs[-1]] + big:
            unpacked = int(subprocess.run("gzip -dc %s | wc -c" % tb, shell=True, capture_output=True,
                                          text=True, check=True).stdout)
            cmd = "%s --home %s apply --source %s/patches -o %s/m %s" % (args.bin, home, corpus, work, tb)
            kib = peak_kib(cmd)
            print("peak memory, apply %s (%.1f MB, %.1f MB unpacked): %.1f MB" % (
                os.path.basename(tb), os.path.getsize(tb) / 1e6, unpacked / 1e6, kib * 1024 / 1e6))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
