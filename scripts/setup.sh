#!/usr/bin/env bash
# Everything a fresh machine needs: a Vulkan driver for Dawn (software lavapipe when there is no GPU
# driver), the npm dependencies from the lockfile, and the compiled CLI in dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-vulkan.sh
bash scripts/setup-browser.sh  # Debian's chromium, for the playground's browser test
# Reinstall only when the lockfile changed since the last install.
stamp=node_modules/.rnnc-lock-hash
hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$hash" > "$stamp"
fi
npx tsc -p tsconfig.json
