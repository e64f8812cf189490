#!/usr/bin/env python3
"""Interop check: python-tuf's ngclient verifies a repository patchkit wrote.

Usage: ngclient_refresh.py ROOT_JSON BASE_URL WORK_DIR NAME=SHA256 ...

Copies ROOT_JSON into WORK_DIR/metadata/root.json as the trusted root,
runs Updater.refresh() against BASE_URL/metadata/, then downloads every
NAME from BASE_URL/targets/ and checks its sha256. Prints one JSON
document describing what was verified; exits non-zero on any failure.
Run by patchkit/src/repo/tuf/interop_tests.rs.
"""

import hashlib
import inspect
import json
import os
import shutil
import sys

try:
    from tuf.ngclient import Updater
except ImportError:
    sys.stderr.write("python-tuf is not installed: run `pip install tuf`\n")
    sys.exit(2)


def main() -> int:
    root_json, base_url, work = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3]
    expected = dict(arg.split("=", 1) for arg in sys.argv[4:])
    metadata_dir = os.path.join(work, "metadata")
    target_dir = os.path.join(work, "targets")
    os.makedirs(metadata_dir, exist_ok=True)
    os.makedirs(target_dir, exist_ok=True)
    shutil.copy(root_json, os.path.join(metadata_dir, "root.json"))

    kwargs = {}
    if "bootstrap" in inspect.signature(Updater.__init__).parameters:
        # python-tuf >= 6 takes the trusted root as bytes (and still
        # reads/writes metadata_dir/root.json as its cache).
        with open(root_json, "rb") as f:
            kwargs["bootstrap"] = f.read()
    updater = Updater(
        metadata_dir=metadata_dir,
        metadata_base_url=f"{base_url}/metadata/",
        target_dir=target_dir,
        target_base_url=f"{base_url}/targets/",
        **kwargs,
    )
    updater.refresh()

    downloaded = {}
    for name, sha256 in sorted(expected.items()):
        info = updater.get_targetinfo(name)
        if info is None:
            sys.stderr.write(f"{name}: not in targets metadata\n")
            return 1
        # A fresh file name per target: download_target verifies length and
        # hashes against the signed targets metadata before writing.
        path = updater.download_target(
            info, os.path.join(target_dir, name.replace("/", "__"))
        )
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != sha256:
            sys.stderr.write(f"{name}: sha256 {digest} != {sha256}\n")
            return 1
        downloaded[name] = digest

    with open(os.path.join(metadata_dir, "root.json"), "rb") as f:
        root = json.load(f)["signed"]
    with open(os.path.join(metadata_dir, "timestamp.json"), "rb") as f:
        timestamp = json.load(f)["signed"]
    json.dump(
        {
            "root_version": root["version"],
            "timestamp_version": timestamp["version"],
            "downloaded": downloaded,
        },
        sys.stdout,
        sort_keys=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
