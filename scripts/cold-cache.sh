#!/usr/bin/env bash
# Runs a command with a fresh, private Mesa shader cache, removed afterwards: every shader the driver
# (lavapipe) compiles is compiled cold, as on a fresh machine, and the user's own cache is left alone.
# The Dawn host processes the command starts inherit it. Usage: bash scripts/cold-cache.sh CMD [ARGS...]
set -euo pipefail
cache=$(mktemp -d "${TMPDIR:-/tmp}/rnnc-mesa-cache.XXXXXX")
trap 'rm -rf "$cache"' EXIT
MESA_SHADER_CACHE_DIR="$cache" "$@"
