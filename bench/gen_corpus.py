#!/usr/bin/env python3
"""Generate a corpus of CPAN-sized distribution tarballs with patches.

    python3 bench/gen_corpus.py OUT [--count N] [--big-mb M] [--seed S]

Writes OUT/tarballs/<Dist>-<ver>.tar.gz (sizes spread evenly on a log scale
from 10 KB to 5 MB compressed, made like `tar czf` with GNU gzip -9 as
MakeMaker's `make dist` does), OUT/patches/<Dist>/<ID>.{toml,patch} (1 to 5
patches per tarball, each changing a different file, in `--source` layout),
OUT/series/<Dist>-<ver>.list (the patch files in order, relative to OUT,
for the shell pipeline) and, with --big-mb, one more tarball of about M MB unpacked in
OUT/big/ for the peak-memory figure. Deterministic for a given seed.

Content is Perl-like text drawn from a vocabulary with per-file variation,
so it compresses about 3.5 times, like real CPAN source.
"""
import argparse
import difflib
import io
import math
import os
import random
import shutil
import subprocess
import tarfile

WORDS = (
    "my our sub return if else elsif unless while for foreach package use "
    "strict warnings local die eval croak carp shift scalar ref bless defined "
    "exists delete keys values push pop join split map grep sort wantarray "
    "$self $class $args $opt $fh $data $i $n @_ @list %hash %args => -> :: "
    "undef 1; 0; q{} qq{} __PACKAGE__ new DESTROY AUTOLOAD"
).split()


def perl_file(rnd, name, lines):
    idents = ["%s_%d" % (rnd.choice(["get", "set", "is", "has", "do", "make"]), rnd.randrange(1000))
              for _ in range(40)]
    out = ["package %s;\n" % name, "use strict;\nuse warnings;\n\n"]
    for n in range(lines):
        if n % 12 == 0:
            out.append("sub %s {\n" % rnd.choice(idents))
        elif n % 12 == 11:
            out.append("}\n\n")
        else:
            k = rnd.randrange(4, 11)
            words = [rnd.choice(WORDS) if rnd.random() < 0.8 else rnd.choice(idents) for _ in range(k)]
            out.append("    " + " ".join(words) + ";  # %x\n" % rnd.randrange(1 << 16))
    out.append("1;\n")
    return "".join(out)


def make_dist(rnd, out_dir, dist, version, target_bytes, n_patches, pdir, sdir):
    top = "%s-%s" % (dist, version)
    files = {}
    files["META.json"] = (
        '{\n   "abstract" : "generated",\n   "name" : "%s",\n   "version" : "%s",\n'
        '   "meta-spec" : { "version" : "2" }\n}\n' % (dist, version)
    )
    files["Makefile.PL"] = "use ExtUtils::MakeMaker;\nWriteMakefile(NAME => '%s');\n" % dist.replace("-", "::")
    files["Changes"] = "".join("%s %d\n  - change %d\n" % (version, i, i) for i in range(20))
    # This text compresses about 3.5 times at gzip -9.
    unpacked = target_bytes * 7 // 2
    i = 0
    while sum(len(v) for v in files.values()) < unpacked:
        lines = rnd.randrange(40, 900)
        mod = "%s::M%d" % (dist.replace("-", "::"), i)
        files["lib/%s/M%d.pm" % (dist.replace("-", "/"), i)] = perl_file(rnd, mod, lines)
        if i % 7 == 3:
            files["t/%02d-m%d.t" % (i % 100, i)] = perl_file(rnd, "main", rnd.randrange(20, 200))
        i += 1
    files["MANIFEST"] = "".join(p + "\n" for p in sorted(files)) + "MANIFEST\n"
    stage = os.path.join(out_dir, "stage")
    shutil.rmtree(stage, ignore_errors=True)
    for path, text in files.items():
        full = os.path.join(stage, top, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    for root, dirs, names in os.walk(stage):
        for n in dirs + names:
            os.utime(os.path.join(root, n), (1700000000, 1700000000))
    tarball = os.path.join(out_dir, "tarballs", top + ".tar.gz")
    # GNU tar + gzip -9, like `make dist` (COMPRESS = gzip --best).
    subprocess.run(
        "tar --sort=name --owner=0 --group=0 --numeric-owner -cf - -C %s %s | gzip -9n > %s"
        % (stage, top, tarball), shell=True, check=True)
    # Patches: each changes a different module, 1 to 3 hunks.
    mods = sorted(p for p in files if p.startswith("lib/"))
    chosen = rnd.sample(mods, min(n_patches, len(mods)))
    os.makedirs(os.path.join(pdir, dist), exist_ok=True)
    series = []
    for k, path in enumerate(chosen):
        old = files[path].splitlines(True)
        new = list(old)
        for _ in range(rnd.randrange(1, 4)):
            at = rnd.randrange(3, max(4, len(new) - 3))
            new[at] = "    die 'patched %d' if $_[0] eq q{evil};  # CPANSEC fix\n" % k
        pid = "BENCH-%s-%d" % (dist, k)
        diff = "".join(difflib.unified_diff(old, new, "a/" + path, "b/" + path))
        with open(os.path.join(pdir, dist, pid + ".patch"), "w") as f:
            f.write(diff)
        with open(os.path.join(pdir, dist, pid + ".toml"), "w") as f:
            f.write('id = "%s"\ndist = "%s"\nversions = ">= 0"\npatch = "%s.patch"\n'
                    'title = "bench patch %d"\norder = %d\n' % (pid, dist, pid, k, k))
        series.append(os.path.join("patches", dist, pid + ".patch"))
    with open(os.path.join(sdir, top + ".list"), "w") as f:
        f.write("".join(s + "\n" for s in series))
    shutil.rmtree(stage, ignore_errors=True)
    return tarball


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--big-mb", type=int, default=0)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    for d in ("tarballs", "patches", "series", "big"):
        os.makedirs(os.path.join(args.out, d), exist_ok=True)
    pdir = os.path.join(args.out, "patches")
    sdir = os.path.join(args.out, "series")
    lo, hi = math.log(10_000), math.log(5_000_000)
    for i in range(args.count):
        size = int(math.exp(lo + (hi - lo) * i / max(1, args.count - 1)))
        dist = "Bench-D%02d" % i
        make_dist(rnd, args.out, dist, "1.%02d" % i, size, 1 + i % 5, pdir, sdir)
    if args.big_mb:
        t = make_dist(rnd, args.out, "Bench-Big", "2.00", args.big_mb * 1_000_000 * 2 // 7, 3, pdir, sdir)
        shutil.move(t, os.path.join(args.out, "big", os.path.basename(t)))


if __name__ == "__main__":
    main()
