#!/usr/bin/env bash
# The GPU path on the software adapter (Mesa's llvmpipe through wgpu's GL backend), as CI runs it:
#
#   scripts/gl-check.sh [path/to/rankdistil]
#
# 1. parity: the same batch and weights on wgpu (GL) and flex, loss to 1e-4, gradients to 1e-3;
# 2. a one-epoch list teacher (`train`) and a coupled-RankDistil student of it (`distill`);
# 3. a one-epoch catalog run (teacher and a sampled-RankDistil student);
# 4. `bench --suite launches`: launches, read-backs, submits and compiles per step;
# 5. the quickstart's pipeline at widths llvmpipe can run, with the kernels it launched.
# Every step runs under `timeout` (GL_TIMEOUT seconds, default 900): llvmpipe's GL driver can
# stall, and CI must fail rather than hang. Needs Debian's libegl1 libegl-mesa0 libgl1-mesa-dri.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-${CARGO_TARGET_DIR:-target}/release/rankdistil}
[ -x "$bin" ] || { echo "gl-check: no rankdistil binary at $bin (cargo build --release)" >&2; exit 2; }
limit=${GL_TIMEOUT:-900}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export RANKDISTIL_SOFTWARE_GPU=1
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/rankdistil-xdg}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

step() {
  local name=$1; shift
  local t0=$SECONDS
  if ! timeout --kill-after=10 "$limit" "$@" > "$work/$name.log" 2>&1; then
    echo "gl-check: $name failed or ran past ${limit}s; its output:" >&2
    tail -n 40 "$work/$name.log" >&2
    exit 1
  fi
  echo "gl-check: $name passed in $((SECONDS - t0)) s"
}

step parity "$bin" parity --backend wgpu --against flex
grep -E 'PASS|FAIL' "$work/parity.log"
step train "$bin" train --backend wgpu --config configs/ci/gl-teacher.toml --out "$work/teacher"
step distill "$bin" distill --backend wgpu --teacher "$work/teacher" \
  --config configs/ci/gl-distill.toml --out "$work/student"
step catalog "$bin" catalog --backend wgpu --config configs/ci/gl-catalog.toml --out "$work/catalog"
step launches "$bin" bench --suite launches --backend wgpu --warmup 2 --steps 3
grep '^|' "$work/launches.log"
step quickstart "$bin" quickstart --backend wgpu --config configs/ci/gl-quickstart.toml \
  --out "$work/quickstart"
grep 'distinct kernels' "$work/quickstart.log"
