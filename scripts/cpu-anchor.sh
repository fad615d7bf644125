#!/usr/bin/env bash
# The CPU step beside its anchors, in one sitting: rankdistil (flex with its hand-written MLP
# kernel, flex through Burn's autodiff, ndarray), PyTorch, TF with
# the same loss in TF ops, and TF-Ranking's CoupledRankDistilLoss. Runs alternate, ROUNDS times,
# so drift on a noisy machine hits every column alike; the table gives each one's best round and
# its ratio to TF-Ranking.
#
#   scripts/cpu-anchor.sh [ROUNDS] [STEPS]        # defaults: 3 rounds of 20 timed steps
#
# The anchors live in a virtualenv ($ANCHOR_VENV, default ~/.cache/rankdistil-anchor-venv) with
# tensorflow-cpu 2.15.1, tensorflow-ranking 0.5.5 and torch from PyPI, created on first use.
# rankdistil is the release binary in $CARGO_TARGET_DIR (or target/).
set -euo pipefail

rounds=${1:-3}
steps=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
venv=${ANCHOR_VENV:-$HOME/.cache/rankdistil-anchor-venv}
bin=${RANKDISTIL:-${CARGO_TARGET_DIR:-$here/../target}/release/rankdistil}
configs=("32 128 256" "64 2000 256")

[[ -x $bin ]] || { echo "cpu-anchor: $bin: not built; run cargo build --release" >&2; exit 1; }
if ! "$venv/bin/python" -c "import tensorflow_ranking, torch" 2>/dev/null; then
    echo "cpu-anchor: creating $venv (tensorflow-cpu 2.15.1, tensorflow-ranking 0.5.5, torch)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q tensorflow-cpu==2.15.1 tensorflow-ranking==0.5.5 torch
fi
py=$venv/bin/python

results=$(mktemp)
trap 'rm -f "$results"' EXIT

# One measurement: prints "<column> <B>x<N>,<H> <steps/s>".
measure() {
    local column=$1 b=$2 n=$3 h=$4 line
    case $column in
        flex | flex-autodiff | ndarray)
            local args=(--backend "${column%-autodiff}")
            [[ $column == flex-autodiff ]] && args+=(--autodiff)
            # Its table row: | B | N | H | micro-batches | steps/s | ...
            line=$("$bin" bench "${args[@]}" --configs "$b,$n,$h" --steps "$steps" 2>/dev/null |
                awk -F'|' -v b="$b" -v n="$n" -v h="$h" \
                    '$2 + 0 == b && $3 + 0 == n && $4 + 0 == h { print $6 + 0 " steps/s" }') ;;
        torch) line=$("$py" "$here/torch_reference.py" cpu "$b" "$n" "$h" "$steps" | grep -Eo '[0-9.]+ steps/s') ;;
        tf | tfr) line=$("$py" "$here/tfr_reference.py" "$column" "$b" "$n" "$h" "$steps" 2>/dev/null |
            grep -Eo '[0-9.]+ steps/s') ;;
    esac
    [[ -n $line ]] || { echo "cpu-anchor: $column at $b x $n, $h printed no steps/s" >&2; exit 1; }
    echo "$column ${b}x$n,$h ${line%% *}"
}

for round in $(seq "$rounds"); do
    for config in "${configs[@]}"; do
        for column in tfr flex torch tf flex-autodiff ndarray; do
            read -r b n h <<<"$config"
            measure "$column" "$b" "$n" "$h" | tee -a "$results" >&2
        done
    done
    echo "cpu-anchor: round $round of $rounds done" >&2
done

echo
echo "$(date -u +%F), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), commit $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "steps/s, best of $rounds rounds of $steps steps (ratio to TF-Ranking)"
echo
echo "| B×N, H | rankdistil flex | flex, Burn autodiff | rankdistil ndarray | PyTorch CPU | TF, same loss | TF-Ranking CoupledRankDistilLoss |"
echo "|---|---|---|---|---|---|---|"
for config in "${configs[@]}"; do
    read -r b n h <<<"$config"
    key="${b}x$n,$h"
    best() { awk -v c="$1" -v k="$key" '$1 == c && $2 == k && $3 > m { m = $3 } END { print m + 0 }' "$results"; }
    tfr=$(best tfr)
    cell() { awk -v v="$1" -v r="$tfr" 'BEGIN { printf "%.2f (%.2f×)", v, (r > 0 ? v / r : 0) }'; }
    echo "| $b×$n, $h | $(cell "$(best flex)") | $(cell "$(best flex-autodiff)") | $(cell "$(best ndarray)") | $(cell "$(best torch)") | $(cell "$(best tf)") | $(cell "$tfr") |"
done
