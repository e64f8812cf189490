#!/usr/bin/env python3
"""Generate a cpanm-style library tree of N installed dists for the audit
benchmark, and a patch source tree whose records match some of them.

    gen_library.py OUT [N]

OUT/local/lib/perl5/<Dist>/Mod.pm                       the installed modules
OUT/local/lib/perl5/x86_64-linux/.meta/<Dist>-<V>/      install.json, MYMETA.json
OUT/patches/<Dist>/<ID>.{toml,patch}                    the records

Every 10th dist carries a patch in MYMETA.json's x_patchkit (genuine: same
sha256 as the source); every 10th after that by 5 is in range of a record
it does not carry (missing); one in 100 of the patched has its module
edited (tampered). Deterministic: the same N gives the same tree.
"""

import hashlib
import json
import os
import sys

ARCH = "x86_64-linux"


def main() -> None:
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    lib = os.path.join(out, "local", "lib", "perl5")
    meta_root = os.path.join(lib, ARCH, ".meta")
    patches = os.path.join(out, "patches")
    os.makedirs(meta_root, exist_ok=True)
    os.makedirs(patches, exist_ok=True)
    counts = {"dists": 0, "patched": 0, "missing": 0, "tampered": 0, "records": 0}
    for i in range(n):
        name = f"Bench-Dist{i:05d}"
        version = "1.0"
        pkg = f"Bench::Dist{i:05d}"
        original = f"package {pkg};\nsub f {{ return 1 }}\n1;\n"
        fixed = f"package {pkg};\nsub f {{ return 2 }}\n1;\n"
        rel = f"lib/Bench/Dist{i:05d}.pm"
        patched = i % 10 == 0
        missing = i % 10 == 5
        content = fixed if patched else original
        mod_path = os.path.join(lib, "Bench", f"Dist{i:05d}.pm")
        os.makedirs(os.path.dirname(mod_path), exist_ok=True)
        mymeta = {
            "abstract": "benchmark dist",
            "author": ["Bench"],
            "dynamic_config": 0,
            "generated_by": "gen_library.py",
            "license": ["perl_5"],
            "meta-spec": {"version": 2},
            "name": name,
            "prereqs": {"runtime": {"requires": {"perl": "5.008"}}},
            "release_status": "stable",
            "version": version,
        }
        if patched or missing:
            pid = f"BENCH-{i:05d}"
            diff = (
                f"--- a/{rel}\n+++ b/{rel}\n@@ -1,3 +1,3 @@\n package {pkg};\n"
                f"-sub f {{ return 1 }}\n+sub f {{ return 2 }}\n 1;\n"
            ).encode()
            d = os.path.join(patches, name)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, f"{pid}.patch"), "wb") as f:
                f.write(diff)
            with open(os.path.join(d, f"{pid}.toml"), "w") as f:
                f.write(
                    f'id = "{pid}"\ndist = "{name}"\nversions = "<= 1.0"\n'
                    f'patch = "{pid}.patch"\ntitle = "Benchmark fix {i}"\n'
                    f'aliases = ["CVE-2025-{10000 + i}"]\n'
                )
            counts["records"] += 1
            if patched:
                mymeta["x_patchkit"] = {
                    "record": ".patchkit/applied.json",
                    "tool": "patchkit 0.1.0",
                    "applied": [
                        {
                            "id": pid,
                            "aliases": [f"CVE-2025-{10000 + i}"],
                            "patch_sha256": hashlib.sha256(diff).hexdigest(),
                            "repository": {"kind": "unsigned"},
                            "files": [
                                {
                                    "path": rel,
                                    "sha256": hashlib.sha256(fixed.encode()).hexdigest(),
                                }
                            ],
                        }
                    ],
                }
                counts["patched"] += 1
                if i % 1000 == 0:
                    content = original  # edited after install: tampered
                    counts["tampered"] += 1
            else:
                counts["missing"] += 1
        with open(mod_path, "w") as f:
            f.write(content)
        m = os.path.join(meta_root, f"{name}-{version}")
        os.makedirs(m, exist_ok=True)
        install = {
            "name": pkg,
            "target": pkg,
            "version": version,
            "dist": f"{name}-{version}",
            "pathname": f"B/BE/BENCHER/{name}-{version}.tar.gz",
            "provides": {pkg: {"file": rel, "version": version}},
        }
        with open(os.path.join(m, "install.json"), "w") as f:
            json.dump(install, f)
        with open(os.path.join(m, "MYMETA.json"), "w") as f:
            json.dump(mymeta, f, indent=3, sort_keys=True)
        counts["dists"] += 1
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
