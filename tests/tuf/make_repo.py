#!/usr/bin/env python3
"""Interop check: python-tuf's Metadata API writes and signs a repository
that patchkit's client must verify.

Usage: make_repo.py OUT_DIR [--bins]

With --bins, the top-level targets role lists no target itself but
delegates to four succinct hash bins (TAP 15, python-tuf's SuccinctRoles,
prefix "bin", signed by a key of their own), written as 1.bin-N.json and
listed in the snapshot.

Writes OUT_DIR/metadata/{1,2}.root.json (root v2 rotates the root key and
is signed by the old and the new key), 1.targets.json (signed 2-of-2),
1.snapshot.json, timestamp.json, and OUT_DIR/targets/<dirs>/<sha256>.<name>
(consistent snapshots), all with keys made on the spot by securesystemslib's
CryptoSigner. Prints a JSON document {target name: sha256 hex}.
Run by patchkit/src/repo/tuf/interop_tests.rs.
"""

import hashlib
import json
import os
import sys
from datetime import datetime, timedelta, timezone

try:
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import (
        Delegations,
        MetaFile,
        Metadata,
        SuccinctRoles,
        Root,
        Snapshot,
        TargetFile,
        Targets,
        Timestamp,
    )
    from tuf.api.serialization.json import JSONSerializer
except ImportError:
    sys.stderr.write("python-tuf is not installed: run `pip install tuf`\n")
    sys.exit(2)

TARGETS = {
    "Some-Dist/CPANSEC-2025-0001.patch": b"--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
    "Some-Dist/CPANSEC-2025-0001.toml": 'id = "CPANSEC-2025-0001"\ntitle = "caf\u00e9 \\"quoted\\""\n'.encode(),
    "README.txt": b"python-tuf wrote this\n",
}


def main() -> int:
    out = sys.argv[1]
    bins = "--bins" in sys.argv[2:]
    meta_dir = os.path.join(out, "metadata")
    os.makedirs(meta_dir, exist_ok=True)
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
    ser = JSONSerializer(compact=False)

    root_key = CryptoSigner.generate_ed25519()
    new_root_key = CryptoSigner.generate_ed25519()
    targets_keys = [CryptoSigner.generate_ed25519(), CryptoSigner.generate_ed25519()]
    snapshot_key = CryptoSigner.generate_ed25519()
    timestamp_key = CryptoSigner.generate_ed25519()

    root = Root(expires=expires, consistent_snapshot=True)
    root.add_key(root_key.public_key, "root")
    for key in targets_keys:
        root.add_key(key.public_key, "targets")
    root.roles["targets"].threshold = 2
    root.add_key(snapshot_key.public_key, "snapshot")
    root.add_key(timestamp_key.public_key, "timestamp")
    md = Metadata(root)
    md.sign(root_key)
    md.to_file(os.path.join(meta_dir, "1.root.json"), ser)

    # Root rotation: v2 replaces the root key, signed by old and new.
    root.version = 2
    root.revoke_key(root_key.public_key.keyid, "root")
    root.add_key(new_root_key.public_key, "root")
    md = Metadata(root)
    md.sign(root_key, append=True)
    md.sign(new_root_key, append=True)
    md.to_file(os.path.join(meta_dir, "2.root.json"), ser)

    targets = Targets(expires=expires)
    digests = {}
    for name, data in TARGETS.items():
        info = TargetFile.from_data(name, data, ["sha256"])
        targets.targets[name] = info
        digest = info.hashes["sha256"]
        digests[name] = digest
        dirname, sep, base = name.rpartition("/")
        path = os.path.join(out, "targets", dirname, f"{digest}.{base}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    # An application field, signed with the rest: must survive verification.
    targets.targets["README.txt"].unrecognized_fields["custom"] = {"x": [1, "é"]}
    bin_files = {}
    if bins:
        bin_key = CryptoSigner.generate_ed25519()
        succinct = SuccinctRoles([bin_key.public_key.keyid], 1, 2, "bin")
        targets.delegations = Delegations(
            keys={bin_key.public_key.keyid: bin_key.public_key},
            succinct_roles=succinct,
        )
        listed = dict(targets.targets)
        targets.targets = {}
        for name in succinct.get_roles():
            role = Targets(expires=expires)
            role.targets = {
                p: info
                for p, info in listed.items()
                if succinct.get_role_for_target(p) == name
            }
            bmd = Metadata(role)
            bmd.sign(bin_key)
            bmd.to_file(os.path.join(meta_dir, f"1.{name}.json"), ser)
            bin_files[f"{name}.json"] = MetaFile(version=1)
    md = Metadata(targets)
    for key in targets_keys:
        md.sign(key, append=True)
    targets_bytes = md.to_bytes(ser)
    with open(os.path.join(meta_dir, "1.targets.json"), "wb") as f:
        f.write(targets_bytes)

    snapshot = Snapshot(expires=expires)
    snapshot.meta["targets.json"] = MetaFile(version=1)
    snapshot.meta.update(bin_files)
    md = Metadata(snapshot)
    md.sign(snapshot_key)
    snapshot_bytes = md.to_bytes(ser)
    with open(os.path.join(meta_dir, "1.snapshot.json"), "wb") as f:
        f.write(snapshot_bytes)

    timestamp = Timestamp(expires=expires)
    timestamp.snapshot_meta = MetaFile(
        version=1,
        length=len(snapshot_bytes),
        hashes={"sha256": hashlib.sha256(snapshot_bytes).hexdigest()},
    )
    md = Metadata(timestamp)
    md.sign(timestamp_key)
    md.to_file(os.path.join(meta_dir, "timestamp.json"), ser)

    json.dump(digests, sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
