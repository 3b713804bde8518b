#!/usr/bin/env bash
# Runs the GPU tests N times and counts what went wrong: proof that the Dawn mitigation holds.
#   bash scripts/gpu-stress.sh [N] [test paths...]     (default N=10)
# GPU tests: test/dawn/ and every test/**/*.gpu.test.ts. A run is "pass" (exit 0), "fail" (tests
# failed), "crash" (a process died by a signal, or a test saw GpuError host-crashed/device-lost) or
# "hang" (over the time limit). Logs of runs that did not pass are kept in tmp/gpu-stress/.
set -uo pipefail
cd "$(dirname "$0")/.."
LIMIT=${GPU_STRESS_TIMEOUT:-300}
LOGS=tmp/gpu-stress
mkdir -p "$LOGS"
N=${1:-10}; shift || true
if (($#)); then FILES=("$@"); else mapfile -t FILES < <(echo test/dawn; find test -name '*.gpu.test.ts' | sort); fi
echo "gpu-stress: $N runs of vitest on ${FILES[*]}, ${LIMIT}s limit each"

pass=0 fail=0 crash=0 hang=0 total_s=0
for ((i = 1; i <= N; i++)); do
  log="$LOGS/run-$i.log"
  t0=$(date +%s)
  timeout -k 10 "$LIMIT" npx vitest run "${FILES[@]}" >"$log" 2>&1
  rc=$?
  dt=$(($(date +%s) - t0)); total_s=$((total_s + dt))
  tests=$(sed -n 's/\x1b\[[0-9;]*m//g; s/^ *Tests *//p' "$log" | tail -1)
  if ((rc == 0)); then pass=$((pass + 1)); what=pass; rm -f "$log"
  elif ((rc == 124 || rc == 137)); then hang=$((hang + 1)); what=hang
  elif ((rc > 128)) || grep -qE "the Dawn host process died|the GPU device was lost|Segmentation fault|Aborted|exited unexpectedly" "$log"; then crash=$((crash + 1)); what="crash (rc $rc)"
  else fail=$((fail + 1)); what="fail (rc $rc)"; fi
  printf 'run %3d: %-14s %4ss  %s\n' "$i" "$what" "$dt" "$tests"
done
echo "gpu-stress summary: $N runs: $pass passed, $fail failed, $crash crashed, $hang hung; ${total_s}s in all"
((pass == N))
