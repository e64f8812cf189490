#!/usr/bin/env bash
# Republish the project's signed repository (repository/) from patches/
# with the maintainers' keys, after any change to patches/:
#
#   bash scripts/publish-repository.sh
#
# repository/keys.toml names the keys by path; they live outside the
# project (never copy a private key into it). The lifetimes are the
# deliberate exception docs/security.md ("Lifetimes") explains: this copy
# is served from a git checkout, where no online key re-signs a timestamp
# every day, so its timestamp and snapshot last a year (the defaults, 1 and
# 7 days, would make every clone fail verification a day later).
# tests/e2e/project_repository.rs refuses a repository/ whose metadata
# expires within 90 days.
set -euo pipefail
cd "$(dirname "$0")/.."
PK=$(cargo build --locked -q -p patchkit --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "patchkit":
        print(m["executable"])
')
"$PK" lint --source patches
"$PK" publish --source patches --out repository --keys repository/keys.toml \
    --expires-root 730d --expires-targets 365d --expires-snapshot 365d --expires-timestamp 365d "$@"
