#!/usr/bin/env python3
"""Build a stand-in tarball for the quick start.

Third-party tarballs are never committed to this project, so the quick
start cannot ship the real upstream release a fix is for. This script
rebuilds, from the fix's own diff, a stand-in distribution
`DIST-VERSION.tar.gz`: every file the diff modifies, holding the diff's
"before" lines (context and removed lines) at the line numbers the diff
names, with filler comment lines where upstream has code the diff does not
show. The patch therefore applies to it exactly as it does to the real
release. A META.json names the distribution.

    python3 examples/standin.py PATCH DIST VERSION OUTDIR
"""
import gzip
import io
import json
import os
import re
import sys
import tarfile

HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@")


def preimages(patch: bytes) -> dict:
    files, created, current, lines = {}, set(), None, None
    for raw in patch.splitlines(keepends=True):
        if raw.startswith(b"--- "):
            name = raw[4:].split(b"\t")[0].strip()
            current = None if name == b"/dev/null" else name.split(b"/", 1)[1].decode()
        elif raw.startswith(b"+++ "):
            if current is not None:
                lines = files.setdefault(current, [])
        elif m := HUNK.match(raw):
            start = int(m.group(1))
            if current is not None and start == 0 and m.group(2) == b"0":
                created.add(current)  # `diff -N` creating a file: no "before"
            elif current is not None:
                while len(lines) < start - 1:
                    lines.append(b"# (stand-in: upstream line %d not shown by the fix)\n" % (len(lines) + 1))
        elif current is not None and lines is not None and raw[:1] in (b" ", b"-"):
            lines.append(raw[1:])
    return {path: b"".join(body) for path, body in files.items() if path not in created}


def main() -> None:
    patch_path, dist, version, outdir = sys.argv[1:5]
    top = f"{dist}-{version}"
    files = preimages(open(patch_path, "rb").read())
    meta = {"abstract": "stand-in built by examples/standin.py", "name": dist,
            "version": version, "meta-spec": {"version": 2}}
    files["META.json"] = (json.dumps(meta, indent=3, sort_keys=True) + "\n").encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        def add(name, data=None):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid = 1700000000, 1000, 1000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        add(top + "/")
        for path in sorted(files):
            add(f"{top}/{path}", files[path])
    os.makedirs(outdir, exist_ok=True)
    out = os.path.join(outdir, top + ".tar.gz")
    with open(out, "wb") as f:
        f.write(gzip.compress(buf.getvalue(), 9, mtime=0))
    print(out)


if __name__ == "__main__":
    main()
