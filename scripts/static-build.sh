#!/usr/bin/env bash
# Build a fully static patchkit for x86_64 Linux (musl) and smoke-test it:
# one binary that runs on any x86_64 Linux, old glibc (RHEL 8, Ubuntu 20.04)
# or none (Alpine, scratch containers). libgit2, liblzma and ring (TLS) are
# compiled from source into it; certificates are read from the system at
# run time (rustls-platform-verifier).
#
#   bash scripts/static-build.sh            # → target/x86_64-unknown-linux-musl/release/patchkit
#
# Needs: rustup (the script adds the musl target), a C compiler for musl
# (Debian/Ubuntu: apt-get install musl-tools), file. Slow (a release build
# from scratch: minutes), so it is not part of tests/run; run it before a
# release. Prints the binary's size and the build time.
set -euo pipefail

cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-musl

if ! rustup target list --installed | grep -qx "$TARGET"; then
    rustup target add "$TARGET"
fi
if ! command -v musl-gcc >/dev/null; then
    echo "static-build: musl-gcc not found (Debian/Ubuntu: apt-get install musl-tools)" >&2
    exit 2
fi

# C dependencies (libgit2, liblzma, ring) are built with musl-gcc, and
# everything is linked statically (the musl target's default; said again
# so that no crate opts out).
export CC_x86_64_unknown_linux_musl=musl-gcc
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=+crt-static"

start=$(date +%s)
cargo build --locked --release --target "$TARGET" -p patchkit
took=$(( $(date +%s) - start ))

dir="${CARGO_TARGET_DIR:-target}/$TARGET/release"
bin="$(cd "$dir" && pwd)/patchkit"

echo "== checks"
file "$bin"
ldd "$bin" 2>&1 || true
if ! file "$bin" | grep -Eq 'statically linked|static-pie linked'; then
    echo "static-build: $bin is not statically linked" >&2
    exit 1
fi
# ldd says "not a dynamic executable" (or "statically linked") for a static
# binary; anything it lists would be a shared library it needs.
if ldd "$bin" 2>&1 | grep -q '=>'; then
    ldd "$bin" >&2
    echo "static-build: $bin needs shared libraries" >&2
    exit 1
fi

echo "== smoke test"
"$bin" --version
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# A small distribution and an unsigned source tree with one record for it,
# then `check` (the apply path: read the tarball, identify it, match, try
# the patch) and `apply`, whose output must carry the fix.
mkdir -p "$scratch/Foo-Bar-1.0/lib" "$scratch/patches/Foo-Bar"
printf 'package Foo;\nsub f { 1 }\n1;\n' >"$scratch/Foo-Bar-1.0/lib/Foo.pm"
printf '{"name":"Foo-Bar","version":"1.0","meta-spec":{"version":2}}\n' \
    >"$scratch/Foo-Bar-1.0/META.json"
tar -C "$scratch" -czf "$scratch/Foo-Bar-1.0.tar.gz" Foo-Bar-1.0
cat >"$scratch/patches/Foo-Bar/PK-2026-9999.toml" <<'TOML'
id = "PK-2026-9999"
dist = "Foo-Bar"
versions = ">= 1.0"
patch = "PK-2026-9999.patch"
title = "Static build smoke test"
aliases = ["CVE-2025-0001"]
TOML
cat >"$scratch/patches/Foo-Bar/PK-2026-9999.patch" <<'PATCH'
--- a/lib/Foo.pm
+++ b/lib/Foo.pm
@@ -1,3 +1,3 @@
 package Foo;
-sub f { 1 }
+sub f { 2 }
 1;
PATCH
(
    cd "$scratch"
    "$bin" --home home check --source patches Foo-Bar-1.0.tar.gz
    "$bin" --home home -q apply --source patches -o out Foo-Bar-1.0.tar.gz
    tar -xzOf out/Foo-Bar-1.0.tar.gz Foo-Bar-1.0/lib/Foo.pm | grep -q 'sub f { 2 }'
)

size=$(stat -c %s "$bin")
echo "== $bin: $size bytes ($(( size / 1024 / 1024 )) MiB), built in ${took}s"
