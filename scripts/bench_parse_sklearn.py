#!/usr/bin/env python3
"""Parse throughput of scikit-learn's load_svmlight_file on a LETOR file, for comparison with
`rankdistil bench --suite parse --data FILE`.  Needs: pip install scikit-learn.

    python3 scripts/bench_parse_sklearn.py FILE
"""
import os
import sys
import time

from sklearn.datasets import load_svmlight_file

path = sys.argv[1]
mb = os.path.getsize(path) / 1e6
t = time.perf_counter()
x, y, qid = load_svmlight_file(path, query_id=True)
dt = time.perf_counter() - t
print(f"sklearn load_svmlight_file: {mb:.1f} MB, {x.shape[0]} rows, {x.shape[1]} features in {dt:.2f}s = {mb / dt:.1f} MB/s")
