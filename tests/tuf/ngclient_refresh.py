#!/usr/bin/env python3
"""Interop check: python-tuf's ngclient verifies a repository patchkit wrote.

Usage: ngclient_refresh.py ROOT_JSON BASE_URL WORK_DIR NAME=SHA256 ...
       ngclient_refresh.py ROOT_JSON BASE_URL WORK_DIR @LIST [EVERY]

Copies ROOT_JSON into WORK_DIR/metadata/root.json as the trusted root,
runs Updater.refresh() against BASE_URL/metadata/, then looks every NAME
up (through the delegated hash bins, each fetched and verified once) and
checks that the signed metadata gives it that sha256, and downloads it
from BASE_URL/targets/ and checks its sha256 again. With @LIST the
NAME=SHA256 pairs come one a line from the file LIST (a repository of
10,000 records has more than a command line holds), and with EVERY only
every EVERY-th name (in sorted order) is downloaded; all are looked up.
Prints one JSON document describing what was verified ("downloaded": the
names downloaded; "looked_up": how many names were looked up); exits
non-zero on any failure.
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
    pairs = sys.argv[4:]
    every = 1
    if pairs and pairs[0].startswith("@"):
        with open(pairs[0][1:], encoding="utf-8") as f:
            lines = f.read().split()
        every = int(pairs[1]) if len(pairs) > 1 else 1
        pairs = lines
    expected = dict(arg.split("=", 1) for arg in pairs)
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
    for n, (name, sha256) in enumerate(sorted(expected.items())):
        info = updater.get_targetinfo(name)
        if info is None:
            sys.stderr.write(f"{name}: not in targets metadata\n")
            return 1
        if info.hashes.get("sha256") != sha256:
            sys.stderr.write(f"{name}: the metadata lists another sha256\n")
            return 1
        if n % every:
            continue
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
            "looked_up": len(expected),
        },
        sys.stdout,
        sort_keys=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
