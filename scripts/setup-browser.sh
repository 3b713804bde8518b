#!/usr/bin/env bash
# The browser the playground test drives (test/playground/playground.gpu.test.ts): Debian's
# `chromium`, which also ships the SwiftShader Vulkan driver its WebGPU runs on headless. Installed
# with apt-get only when /usr/bin/chromium is absent (RNNC_CHROMIUM names another binary to use).
set -euo pipefail

chromium=${RNNC_CHROMIUM:-/usr/bin/chromium}
if [ -x "$chromium" ]; then
  echo "setup-browser: $chromium is already installed"; exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "setup-browser: no Chromium at $chromium and no apt-get; install Chromium and set RNNC_CHROMIUM to its binary" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
# The package lists may be stale on a fresh machine; Chromium's security updates replace old versions.
$SUDO apt-get update -qq
# Without the recommends (a desktop session's daemons, ~100 packages): headless needs none of them; fonts-liberation keeps text legible in screenshots.
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
echo "setup-browser: installed $(dpkg-query -W -f='chromium ${Version}' chromium) in $(( $(date +%s) - start )) s"
