#!/usr/bin/env bash
# Installs a software Vulkan driver (Mesa lavapipe from <codename>-backports) when no Vulkan ICD is present.
# Dawn rejects Debian 12's own Mesa 22.3, so the backports suite is added, derived from the machine's
# existing apt entries: no registry host is named here.
set -euo pipefail

have_icd() {
  local f
  for f in /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json; do [ -e "$f" ] && return 0; done
  return 1
}
mesa_ok() {
  # lavapipe from Mesa >= 23 is what Dawn accepts.
  local v; v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 23
}

if have_icd && { mesa_ok || ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; }; then
  echo "setup-vulkan: a Vulkan driver is already installed"; exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "setup-vulkan: no Vulkan driver found and no apt-get; install Mesa >= 23 (lavapipe) or a GPU driver" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
. /etc/os-release
codename=${VERSION_CODENAME:?}
list=/etc/apt/sources.list.d/rnnc-backports.sources
if ! grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  # Take the URIs and keyring of the entry that carries the main suite and reuse them for -backports.
  uris=""; keyring=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    block=$(awk -v s="$codename" 'BEGIN{RS="";FS="\n"} $0 ~ ("Suites:[^\n]*[ ]" s "([ \n]|$)") {print; exit}' "$f")
    [ -n "$block" ] || continue
    uris=$(printf '%s\n' "$block" | sed -n 's/^URIs:[ ]*//p' | head -1)
    keyring=$(printf '%s\n' "$block" | sed -n 's/^Signed-By:[ ]*//p' | head -1)
    break
  done
  if [ -z "$uris" ] && [ -f /etc/apt/sources.list ]; then
    uris=$(awk -v s="$codename" '$1=="deb" && $3==s {print $2; exit}' /etc/apt/sources.list)
  fi
  [ -n "$uris" ] || { echo "setup-vulkan: could not find the apt entry for $codename" >&2; exit 1; }
  {
    echo "Types: deb"; echo "URIs: $uris"; echo "Suites: ${codename}-backports"; echo "Components: main"
    [ -n "$keyring" ] && echo "Signed-By: $keyring"
  } | $SUDO tee "$list" >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq -t "${codename}-backports" mesa-vulkan-drivers libvulkan1 >/dev/null
echo "setup-vulkan: installed $(dpkg-query -W -f='mesa-vulkan-drivers ${Version}' mesa-vulkan-drivers)"
