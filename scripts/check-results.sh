#!/usr/bin/env bash
# Reruns a study of docs/RESULTS.md with the command printed beside its table, and checks that
# every figure of the table comes out the same to the last digit (wall times aside).
#   scripts/check-results.sh [mslr|synthetic|ml100k|ml1m] [path/to/rankdistil]
# mslr takes about a minute on 2 cores, ml100k 7, synthetic 12, ml1m an hour.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
study=${1:-mslr}
bin=${2:-${CARGO_TARGET_DIR:-$root/target}/release/rankdistil}
case "$study" in
  mslr) section="## MSLR-WEB10K Fold1 slices"; data=mslr ;;
  synthetic) section="## Synthetic lists"; data= ;;
  ml100k) section="## MovieLens-100k"; data=movielens ;;
  ml1m) section="## MovieLens-1M"; data=movielens-1m ;;
  *) echo "check-results: unknown study \"$study\", expected mslr, synthetic, ml100k or ml1m" >&2; exit 2 ;;
esac
[ -x "$bin" ] || { echo "check-results: $bin is not a built rankdistil (cargo build --release)" >&2; exit 2; }
cd "$root"
[ -z "$data" ] || scripts/fetch-datasets.sh "$data" >&2
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
started=$(date +%s)
"$bin" study --config "configs/study/$study.toml" --backend flex --out "$out/study" 2>"$out/log" >/dev/null \
  || { tail -5 "$out/log" >&2; exit 1; }
echo "check-results: $study study ran in $(( $(date +%s) - started )) s" >&2
python3 - "$out/study/study.md" docs/RESULTS.md "$section" <<'PY'
import re, sys
study, results, section = sys.argv[1:]

def figures(text):
    """The teacher line, the table rows without their time column, and the interval lines."""
    kept = []
    for line in text.splitlines():
        if line.startswith("Teacher:"):
            kept.append(re.sub(r", trained in [0-9.]+ s\.$", ".", line))
        elif line.startswith("| ") and "time |" not in line:
            cells = line.split(" | ")
            if re.search(r"\| [0-9]+ s \+ [0-9]+ s \|$", line):
                cells = cells[:-1]
            kept.append(" | ".join(cells))
        elif line.startswith("- ") and "95% interval" in line:
            kept.append(line)
    return kept

page = open(results).read()
start = page.index(section + "\n")
end = page.find("\n## ", start + len(section))
documented = figures(page[start : end if end >= 0 else None])
rerun = figures(open(study).read())
if documented != rerun:
    for a, b in zip(documented + [""] * len(rerun), rerun + [""] * len(documented)):
        if a != b:
            print(f"check-results: docs/RESULTS.md says\n  {a}\nthe rerun gives\n  {b}", file=sys.stderr)
            break
    sys.exit(1)
print(f"check-results: {section[3:]}: {len(rerun)} lines of figures reproduce to the last digit")
PY
