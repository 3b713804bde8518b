#!/usr/bin/env bash
# Checks npm `webgpu` against our reproduction of the Dawn crash (docs/dawn-crash.md).
#   bash scripts/dawn-crash-check.sh [N]     (default N=6)
# Runs N times each: the hot-loop repro under plain node, the same under --no-opt (our mitigation
# for the Dawn host), the cold control, and the whole runtime (hot loops in the parent, Dawn in the
# --no-opt child). Prints, per configuration, how many runs survived and how each death ended.
# After a `webgpu` upgrade: if "plain hot" survives N of N, the crash may be fixed upstream.
set -uo pipefail
cd "$(dirname "$0")/.."
N=${1:-6}
LIMIT=${DAWN_CHECK_TIMEOUT:-60}
echo "webgpu $(node -p "require('./node_modules/webgpu/package.json').version"), node $(node --version), $N runs each, ${LIMIT}s limit"

check() { # label, command...
  local label=$1; shift
  local ok=0; declare -A deaths=()
  for ((i = 0; i < N; i++)); do
    # The inner shell's "Segmentation fault" job notices go to /dev/null with the run's output.
    local rc; rc=$(bash -c '"$@" >/dev/null 2>&1; echo $?' _ timeout -k 5 "$LIMIT" "$@" 2>/dev/null)
    if ((rc == 0)); then ok=$((ok + 1))
    elif ((rc == 124 || rc == 137)); then deaths[hang]=$((${deaths[hang]:-0} + 1))
    elif ((rc > 128)); then local sig; sig=SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128))); deaths[$sig]=$((${deaths[$sig]:-0} + 1))
    else deaths["exit $rc"]=$((${deaths["exit $rc"]:-0} + 1)); fi
  done
  local died=$((N - ok)) how=""
  for k in "${!deaths[@]}"; do how+="${how:+, }$k x${deaths[$k]}"; done
  printf '%-34s survived %2d/%d   died %2d%s\n' "$label" "$ok" "$N" "$died" "${how:+   ($how)}"
}

check 'plain node, hot loop' node test/dawn/crash-repro.mjs hot
check 'node --no-opt, hot loop' node --no-opt test/dawn/crash-repro.mjs hot
check 'plain node, cold (control)' node test/dawn/crash-repro.mjs cold
check 'runtime: hot parent, --no-opt host' node --import tsx test/dawn/fixtures/hot-parent.ts
