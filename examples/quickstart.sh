#!/usr/bin/env bash
# The quick start: patch a real CPAN release from this project's signed
# repository and show what was applied.
#
#   bash examples/quickstart.sh
#
# 1. builds patchkit (wherever cargo puts it: CARGO_TARGET_DIR is honoured);
# 2. in a fresh home (examples/out/home), pins the root of the signed
#    repository published from patches/ (repository/metadata/1.root.json)
#    and verifies the repository: root, timestamp, snapshot and targets
#    signatures, then the sha256 of every record and patch;
# 3. applies the verified fixes to examples/HTML-StripScripts-1.06.tar.gz,
#    the genuine CPAN release (see examples/README.md). Its record binds that
#    tarball's sha256 to the digest of the tree its reviewers saw, so apply
#    checks that the output is exactly that tree;
# 4. prints the record left inside the patched tarball, and the commands to
#    try next.
#
# Everything it makes goes into examples/out/ (ignored by git; replaced on
# each run): the patched tarball, and the home with the trusted root, the
# verified metadata and the application log (home/log.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RELEASE=examples/HTML-StripScripts-1.06.tar.gz
TOP=$(basename "$RELEASE" .tar.gz)
OUT=examples/out
HOME_DIR=$OUT/home

echo "== building patchkit (cargo build --locked -p patchkit)"
# cargo reports each artifact as JSON on stdout (its progress stays on
# stderr); the patchkit binary's "executable" is its real path, under
# CARGO_TARGET_DIR when that is set.
PK=$(cargo build --locked -p patchkit --message-format=json-render-diagnostics |
    python3 -c '
import json, sys
exe = None
for line in sys.stdin:
    msg = json.loads(line)
    target = msg.get("target") or {}
    if (msg.get("reason") == "compiler-artifact" and target.get("name") == "patchkit"
            and "bin" in target.get("kind", []) and msg.get("executable")):
        exe = msg["executable"]
if exe is None:
    sys.exit("quickstart: cargo reported no patchkit binary")
print(exe)
')
# Shown relative to the clone when it lies inside it (target/debug/patchkit).
PK_SHOWN=${PK#"$ROOT/"}
echo "patchkit: $PK_SHOWN"
pk() { "$PK" --home "$HOME_DIR" "$@"; }

rm -rf "$OUT"
mkdir -p "$OUT"

echo
echo "== pinning the project's signed repository (repository/, root repository/metadata/1.root.json)"
pk repo add cpansec "$ROOT/repository" --root repository/metadata/1.root.json
echo
echo "== verifying it: signatures of its root, timestamp, snapshot and targets metadata, then"
echo "   the sha256 of every target (each fix is two targets: its record and its patch)"
pk update

echo
echo "== applying the verified fixes to the real CPAN release $RELEASE"
echo "   its sha256, the one its record binds ([[tested]] in patches/HTML-StripScripts/PK-2026-0004.toml):"
echo "   $( (sha256sum "$RELEASE" 2>/dev/null || shasum -a 256 "$RELEASE") | cut -d' ' -f1)"
pk apply -o "$OUT" "$RELEASE"

echo
echo "== the record inside the patched tarball ($TOP/.patchkit/applied.json)"
tar -xzOf "$OUT/$TOP.tar.gz" "$TOP/.patchkit/applied.json"

echo
echo "== left in $OUT/"
printf '%-44s %s\n' "$OUT/$TOP.tar.gz" "the patched release" \
    "$HOME_DIR/log.jsonl" "the application log (\`patchkit log\` prints it)" \
    "$HOME_DIR/" "the pinned root and the verified metadata"

echo
echo "== next, from $ROOT:"
echo "# check the record in the output against the verified patches and the files' content"
echo "$PK_SHOWN --home $HOME_DIR audit $OUT/$TOP.tar.gz"
echo "# a CycloneDX SBOM of the output, with the fix as pedigree"
echo "$PK_SHOWN --home $HOME_DIR sbom $OUT/$TOP.tar.gz"
echo "# which verified fixes a tarball of your own needs (changes nothing)"
echo "$PK_SHOWN --home $HOME_DIR check path/to/Your-Dist-1.23.tar.gz"
