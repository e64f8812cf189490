#!/usr/bin/env python3
"""Writes a patch source tree of N records for bench/repository.sh:
SRC/<Dist>/<ID>.toml and <ID>.patch, two records per dist (N/2 dists),
records of CPAN-like size (about 1.2 KB of TOML and 0.6 KB of diff, as the
project's own records), and the tarball Dist-0-1.0.tar.gz that the two
records of Dist-0 apply to.

Usage: gen_repository.py SRC N TARBALL_DIR [FIRST_ID]
"""

import io
import os
import sys
import tarfile
import gzip

src, n, tb_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
DESC = ("The module trusts a length field from the input and copies that many "
        "bytes into a fixed buffer; a crafted document overflows it. ") * 8


def write(dist, i):
    rid = f"GEN-2026-{i:05d}"
    d = os.path.join(src, dist)
    os.makedirs(d, exist_ok=True)
    before = "".join(f"line {k} of file {i}\n" for k in range(12))
    after = before.replace("line 6 ", "LINE 6 ")
    ctx = before.splitlines(keepends=True)
    patch = (f"--- a/lib/R{i}.pm\n+++ b/lib/R{i}.pm\n@@ -1,12 +1,12 @@\n"
             + "".join(" " + l if l != ctx[6] else "-" + l + "+" + l.replace("line 6 ", "LINE 6 ")
                       for l in ctx))
    with open(os.path.join(d, rid + ".patch"), "w") as f:
        f.write(patch)
    with open(os.path.join(d, rid + ".toml"), "w") as f:
        f.write(f'id = "{rid}"\ndist = "{dist}"\nversions = ">= 1.0, < 2"\n'
                f'patch = "{rid}.patch"\ntitle = "Buffer overflow in {dist} record {i}"\n'
                f'aliases = ["CVE-2026-{10000 + i}"]\nstrip = 1\n'
                f'description = """\n{DESC}"""\nseverity = "high"\n'
                f'published = "2026-11-01"\nkind = "unofficial"\n')
    return before


def main():
    files = {}
    for i in range(first, first + n):
        dist = f"Dist-{i // 2}"
        before = write(dist, i)
        if dist == "Dist-0":
            files[f"lib/R{i}.pm"] = before
    if first == 0:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
            top = tarfile.TarInfo("Dist-0-1.0")
            top.type, top.mode, top.mtime = tarfile.DIRTYPE, 0o755, 1700000000
            t.addfile(top)
            files["META.json"] = '{"name":"Dist-0","version":"1.0","meta-spec":{"version":2}}\n'
            for p, data in sorted(files.items()):
                ti = tarfile.TarInfo(f"Dist-0-1.0/{p}")
                ti.size, ti.mode, ti.mtime = len(data.encode()), 0o644, 1700000000
                t.addfile(ti, io.BytesIO(data.encode()))
        os.makedirs(tb_dir, exist_ok=True)
        with open(os.path.join(tb_dir, "Dist-0-1.0.tar.gz"), "wb") as f:
            f.write(gzip.compress(buf.getvalue(), 6, mtime=0))


main()
