#!/usr/bin/env bash
# The quick start: patch a distribution tarball from this project's signed
# repository and show what was applied.
#
#   bash examples/quickstart.sh
#
# 1. builds patchkit;
# 2. in a scratch home, pins the root of the signed repository published
#    from patches/ (repository/metadata/1.root.json) and verifies the
#    repository (root chain, timestamp, snapshot, targets, every patch);
# 3. builds a stand-in tarball for the distribution the first fix is for
#    (third-party tarballs are never committed; see examples/standin.py);
# 4. applies the verified patches to it and prints the report and the
#    record left inside the patched tarball.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== building patchkit"
cargo build --quiet --locked -p patchkit
PK="$PWD/target/debug/patchkit"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
HOME_DIR="$W/home"

echo "== pinning and verifying the signed repository in repository/"
"$PK" --home "$HOME_DIR" repo add cpansec "$PWD/repository" --root repository/metadata/1.root.json
"$PK" --home "$HOME_DIR" update

# The first distribution with a single record (a stand-in holds only what
# one diff shows), and a version inside its range: the tarball it was
# reviewed on.
RECORD=""
for d in patches/*/; do
    set -- "$d"*.toml
    if [ $# -eq 1 ] && [ -e "$1" ]; then RECORD=$1; break; fi
done
[ -n "$RECORD" ] || { echo "no distribution with a single record in patches/" >&2; exit 1; }
DIST=$(basename "$(dirname "$RECORD")")
ID=$(basename "$RECORD" .toml)
VERSION=$(python3 - "$RECORD" "$DIST" <<'PY'
import sys, tomllib
rec = tomllib.load(open(sys.argv[1], "rb"))
for t in rec.get("tested", []):
    name = t.get("tarball", "")
    if name.startswith(sys.argv[2] + "-"):
        print(name[len(sys.argv[2]) + 1:].removesuffix(".tar.gz")); break
else:
    sys.exit(f"{sys.argv[1]} lists no tested tarball to name a version")
PY
)
echo "== building a stand-in $DIST-$VERSION.tar.gz for $ID"
TARBALL=$(python3 examples/standin.py "patches/$DIST/$ID.patch" "$DIST" "$VERSION" "$W/in")

echo "== patchkit apply"
"$PK" --home "$HOME_DIR" apply -o "$W/out" "$TARBALL"

echo "== the record inside the patched tarball ($DIST-$VERSION/.patchkit/applied.json)"
tar -xzOf "$W/out/$DIST-$VERSION.tar.gz" "$DIST-$VERSION/.patchkit/applied.json"
