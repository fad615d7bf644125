#!/usr/bin/env bash
# GPU check for a headless NVIDIA machine with PyTorch but no Rust toolchain.
#
#   scripts/gpu-check.sh [path/to/rankdistil or rankdistil.xz]
#
# Build the release binary elsewhere (cargo build --release), copy it (xz-compressed is fine)
# together with Debian's libvulkan1 .deb in .gl/ (see docs/GUIDE.md, "Backends"), then run this once. It:
#   1. runs the quickstart on the GPU with empty kernel and autotune caches,
#   2. checks backend parity (same batch and weights: loss to 1e-4, gradients to 1e-3),
#   3. runs `rankdistil bench` (once per MLP layout in LAYOUTS) and the PyTorch reference step
#      on the same GPU,
#   4. profiles the step (`bench --suite profile`: ms per phase, the matmuls alone in GFLOP/s),
#   4b. counts each step's launches, read-backs and uploaded bytes (`bench --suite launches`),
# and, right after the parity check (so that a short budget keeps them), two epochs of a teacher
# and a student on an MSLR-WEB30K-sized set (`bench --suite epoch`) beside the same epochs in
# PyTorch (`torch_reference.py --epoch`: a DataLoader feeding the GPU, and the data resident),
# and prints a summary table with the Burn/PyTorch ratio per configuration.
#
#   5. with KERNELS=1, times every GPU kernel of the 256 × 128, 512 step (CubeCL's profiler)
#      and prints the per-kernel summary,
#   6. runs the quickstart on the GPU again, with the caches the first run filled,
#   7. and on the CPU (flex), so the summary shows cold, warm and CPU times side by side.
#
# Environment: BACKEND (wgpu), STEPS (20), LAYOUTS ("lists rows": `bench --layout`, [B, N, F] as the
# trainer runs it or flattened to [B·N, F] as PyTorch does), SKIP_QUICKSTART=1, SKIP_PROFILE=1,
# KERNELS=1, and the timeouts QS_TIMEOUT (300), BENCH_TIMEOUT (240, per layout),
# PROFILE_TIMEOUT (150), EPOCH_TIMEOUT (180, each of the two epoch runs) in seconds;
# EPOCH_QUERIES (31531) sizes the epoch set, SKIP_EPOCH=1 leaves it out. BUDGET_S (540) bounds the whole run: a device call is
# killed at 600 s, which would lose the summary, so each step gets at most what is left of the
# budget (less 30 s kept for the summary) and a step with under 30 s left is skipped. The
# PyTorch reference runs right after the parity check, so the ratios survive a short budget.
# CUBECL_AUTOTUNE_LEVEL=extensive (or full) passes through to try more matmul kernels.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-check}       # logs and the summary
runs=${RUNS:-/tmp/gpu-check-runs} # the quickstart's run directories
mkdir -p "$out" "$runs"

bin=${1:-}
if [ -z "$bin" ]; then
  for c in .carry/rankdistil.xz .carry/rankdistil target/release/rankdistil; do
    [ -e "$c" ] && { bin=$c; break; }
  done
fi
[ -n "$bin" ] && [ -e "$bin" ] || { echo "gpu-check: no rankdistil binary (pass its path)" >&2; exit 2; }
if [[ "$bin" == *.xz ]]; then
  xz -dc "$bin" > /tmp/rankdistil && chmod +x /tmp/rankdistil && bin=/tmp/rankdistil
fi

# The Vulkan loader and glvnd: NVIDIA's driver ships the ICD (libGLX_nvidia, which needs
# libGLdispatch from glvnd) but not libvulkan.so.1. Bring Debian's packages in .gl/.
for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
ldconfig
icd=""
for c in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  [ -e "$c" ] && { icd=$c; break; }
done
[ -n "$icd" ] || icd=$(find / -xdev -name 'nvidia_icd*.json' 2>/dev/null | head -1)
if [ -n "$icd" ]; then
  export VK_DRIVER_FILES=$icd
  echo "vulkan: ICD $icd"
else
  echo "vulkan: no nvidia_icd.json found; wgpu will see no GPU" >&2
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/xdg}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'

t0=$(date +%s)
budget=${BUDGET_S:-540}
# Seconds a step may take: its own timeout, capped by what is left of the budget (30 s kept
# for the summary). Prints 0 when under 30 s would remain.
allot() {
  local left=$(( budget - ($(date +%s) - t0) - 30 ))
  if [ "$left" -lt 30 ]; then echo 0; elif [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}
over_budget() { echo "skipped: the ${budget}s budget (BUDGET_S) is spent"; }

backend=${BACKEND:-wgpu}
steps=${STEPS:-20}
layouts=${LAYOUTS:-lists rows}

echo "== 1. quickstart on the GPU ($backend)"
start=$(date +%s)
if [ "${SKIP_QUICKSTART:-0}" = 1 ]; then
  echo "skipped (SKIP_QUICKSTART=1)"; qs_rc=-1
elif t=$(allot "${QS_TIMEOUT:-300}"); [ "$t" = 0 ]; then
  over_budget; qs_rc=-1
else
  # A fresh kernel and autotune cache, so this run is the cold one.
  rm -rf "$runs/kernel-cache"
  RANKDISTIL_CACHE_DIR="$runs/kernel-cache" timeout "$t" "$bin" quickstart --backend "$backend" --out "$runs/quickstart-$(date +%s)" > "$out/quickstart.txt" 2> "$out/quickstart.err"
  qs_rc=$?
  tail -22 "$out/quickstart.txt"; [ $qs_rc -eq 0 ] || tail -5 "$out/quickstart.err"
fi
qs_s=$(( $(date +%s) - start ))

echo "== 2. parity ($backend vs ndarray)"
: > "$out/parity.txt"
if t=$(allot 120); [ "$t" = 0 ]; then over_budget; parity_rc=-1; else
  timeout "$t" "$bin" parity --backend "$backend" --against ndarray 2>&1 | tee "$out/parity.txt"
  parity_rc=${PIPESTATUS[0]}
fi

echo "== 2b. two epochs at MSLR-WEB30K's size: PyTorch, then Burn ($backend)"
: > "$out/epoch-torch.txt"; : > "$out/epoch-burn.txt"
if [ "${SKIP_EPOCH:-0}" = 1 ]; then
  echo "skipped (SKIP_EPOCH=1)"
else
  if t=$(allot "${EPOCH_TIMEOUT:-180}"); [ "$t" = 0 ]; then over_budget; else
    PYTHONUNBUFFERED=1 timeout "$t" python3 scripts/torch_reference.py --epoch cuda "${EPOCH_QUERIES:-31531}" 2>&1 | tee "$out/epoch-torch.txt"
  fi
  if t=$(allot "${EPOCH_TIMEOUT:-180}"); [ "$t" = 0 ]; then over_budget; else
    timeout "$t" "$bin" bench --suite epoch --backend "$backend" --queries "${EPOCH_QUERIES:-31531}" 2>&1 | tee "$out/epoch-burn.txt"
  fi
fi

echo "== 3. bench: PyTorch and Burn ($backend) on the same GPU"
: > "$out/bench-torch.txt"
for cfg in "32 128 256" "256 128 512" "64 2000 256" "1024 200 1024"; do
  t=$(allot 60); if [ "$t" = 0 ]; then over_budget; break; fi
  timeout "$t" python3 scripts/torch_reference.py cuda $cfg "$steps" 2>&1 | tee -a "$out/bench-torch.txt"
done
for layout in $layouts; do
  : > "$out/bench-burn-$layout.txt"
  t=$(allot "${BENCH_TIMEOUT:-240}"); if [ "$t" = 0 ]; then over_budget; continue; fi
  timeout "$t" "$bin" bench --suite reference --backend "$backend" --steps "$steps" \
    --layout "$layout" 2>&1 | tee "$out/bench-burn-$layout.txt"
done

echo "== 4. profile: the step by phase, and its matmuls alone"
if [ "${SKIP_PROFILE:-0}" = 1 ]; then
  echo "skipped (SKIP_PROFILE=1)"
elif t=$(allot "${PROFILE_TIMEOUT:-150}"); [ "$t" = 0 ]; then
  over_budget
else
  timeout "$t" "$bin" bench --suite profile --backend "$backend" --steps 10 --max-warmup-s 20 2>&1 | tee "$out/profile.txt"
fi

echo "== 4b. counts per step: launches, read-backs, uploaded bytes"
if t=$(allot 90); [ "$t" = 0 ]; then over_budget; else
  timeout "$t" "$bin" bench --suite launches --backend "$backend" --warmup 2 --steps 3 2>&1 | tee "$out/launches.txt"
fi

if [ "${KERNELS:-0}" = 1 ]; then
  echo "== 5. kernels of the 256 x 128, 512 step"
  t=$(allot "${PROFILE_TIMEOUT:-150}")
  if [ "$t" = 0 ]; then over_budget; else
    CUBECL_DEBUG_LOG="$out/cubecl.log" CUBECL_DEBUG_OPTION=profile timeout "$t" \
      "$bin" bench --suite reference --backend "$backend" --steps 5 --configs "256,128,512" > "$out/kernels-bench.txt" 2>&1
    # The log ends with the summary of the timed steps: the kernels by total time.
    if [ -s "$out/cubecl.log" ]; then tail -60 "$out/cubecl.log"; else echo "no kernel log (a CPU backend, or the run failed):"; tail -5 "$out/kernels-bench.txt"; fi
  fi
fi

# The same quickstart again: kernels and autotune results now come from the cache.
quickstart_again() { # name, backend, cache dir
  local start=$(date +%s) t
  if [ "${SKIP_QUICKSTART:-0}" = 1 ] || [ "$qs_rc" != 0 ]; then echo "skipped"; echo -1 > "$out/$1.s"; return; fi
  if t=$(allot "${QS_TIMEOUT:-300}"); [ "$t" = 0 ]; then over_budget; echo -1 > "$out/$1.s"; return; fi
  if RANKDISTIL_CACHE_DIR="$3" timeout "$t" "$bin" quickstart --backend "$2" --out "$runs/$1-$(date +%s)" > "$out/$1.txt" 2> "$out/$1.err"; then
    echo $(( $(date +%s) - start )) > "$out/$1.s"; tail -3 "$out/$1.txt"
  else echo -1 > "$out/$1.s"; tail -5 "$out/$1.err"; fi
}
echo "== 6. quickstart on the GPU again (warm kernel and autotune caches)"
quickstart_again quickstart-warm "$backend" "$runs/kernel-cache"
echo "== 7. quickstart on the CPU (flex), for comparison"
quickstart_again quickstart-cpu flex "$runs/kernel-cache"

echo "== summary"
python3 - "$out" "$qs_rc" "$qs_s" "$parity_rc" $layouts <<'PY'
import re, sys
out, qs_rc, qs_s, parity_rc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
layouts = sys.argv[5:]
burn = {}  # (layout, B, N, H) -> (steps/s, micro-batches)
for layout in layouts:
    try:
        lines = open(f"{out}/bench-burn-{layout}.txt").read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        m = re.match(r"\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*([\d.]+)\s*\|", line)
        if m:
            burn[(layout, *map(int, m.groups()[:3]))] = (float(m.group(5)), int(m.group(4)))
torch = {}
for line in open(f"{out}/bench-torch.txt"):
    m = re.search(r"B=(\d+) N=(\d+) F=\d+ H=(\d+): ([\d.]+) steps/s", line)
    if m:
        torch[tuple(map(int, m.groups()[:3]))] = float(m.group(4))
parity = [l for l in open(f"{out}/parity.txt").read().splitlines() if l.startswith("parity")]
qs = "skipped" if qs_rc == -1 else ("ok" if qs_rc == 0 else "FAILED")
print(f"quickstart on the GPU: {qs} in {qs_s}s (cold caches)")
for name, what in [("quickstart-warm", "on the GPU again (warm caches)"), ("quickstart-cpu", "on the CPU (flex)")]:
    try:
        s = int(open(f"{out}/{name}.s").read())
    except (OSError, ValueError):
        s = -1
    print(f"quickstart {what}: " + (f"{s}s" if s >= 0 else "skipped or failed"))
if parity_rc == -1:
    print("parity: skipped (budget)")
for line in parity or ["parity: no output"]:
    print(line)
head = "".join(f" Burn {l} steps/s | {l} / PyTorch |" for l in layouts)
print(f"| B | N | H | micro-batches | PyTorch steps/s |{head}")
print("|---|---|---|---|---|" + "---|---|" * len(layouts))
nan = float("nan")
for key in [(32, 128, 256), (256, 128, 512), (64, 2000, 256), (1024, 200, 1024)]:
    t = torch.get(key, nan)
    mb = max((burn.get((l, *key), (nan, 0))[1] for l in layouts), default=0)
    cells = "".join(
        f" {burn.get((l, *key), (nan, 0))[0]:.2f} | {burn.get((l, *key), (nan, 0))[0] / t:.2f} |"
        for l in layouts
    )
    print(f"| {key[0]} | {key[1]} | {key[2]} | {mb} | {t:.2f} |{cells}")
epoch = {}
for name, who in [("epoch-torch.txt", None), ("epoch-burn.txt", "burn")]:
    try:
        text = open(f"{out}/{name}").read().splitlines()
    except OSError:
        text = []
    for line in text:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if who is None and len(cells) == 6 and cells[0].startswith("torch "):
            epoch[(cells[0], cells[1])] = float(cells[4])
        elif who and len(cells) == 6 and cells[0] in ("teacher", "student"):
            epoch[("burn", cells[0])] = float(cells[3])
if epoch:
    print("| steady epoch s | burn | torch loader | torch resident | burn / loader speed | burn / resident speed |")
    print("|---|---|---|---|---|---|")
    for model in ("teacher", "student"):
        b, l, r = (epoch.get((w, model), nan) for w in ("burn", "torch loader", "torch resident"))
        print(f"| {model} | {b:.2f} | {l:.2f} | {r:.2f} | {l / b:.2f} | {r / b:.2f} |")
else:
    print("epoch: no figures (skipped, or a run failed)")
for line in open(f"{out}/launches.txt") if __import__("os").path.exists(f"{out}/launches.txt") else []:
    if line.startswith("| reference") or line.startswith("| trainer") or line.startswith("| step"):
        print("launches: " + line.rstrip())
PY
