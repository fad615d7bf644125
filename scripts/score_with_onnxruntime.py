#!/usr/bin/env python3
"""Score a LETOR file with a `rankdistil export --format onnx` directory, with onnxruntime only.

    python3 scripts/score_with_onnxruntime.py EXPORT_DIR DATA.txt [--out run.trec] [--compare run.trec]

The ONNX graph takes the raw feature values [N, F] (its normalisation is inside) and returns
scores [N]. The script writes `qid Q0 docid rank score tag`; with --compare it checks every
score against a `rankdistil score` run of a safetensors export of the same run to 1e-5 and exits
non-zero on any difference, so CI can prove the graph serves what Rust trained.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from score_with_numpy import read_letor  # noqa: E402  (the same LETOR reading)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export_dir")
    ap.add_argument("data")
    ap.add_argument("--out", help="TREC run file to write (default: stdout)")
    ap.add_argument("--compare", help="a `rankdistil score` run file to check against (1e-5)")
    ap.add_argument("--tag", default="onnxruntime")
    args = ap.parse_args()

    cfg = json.load(open(f"{args.export_dir}/config.json"))
    if cfg["format"] != "onnx":
        sys.exit("score_with_onnxruntime.py reads ONNX exports (rankdistil export --format onnx)")
    session = ort.InferenceSession(f"{args.export_dir}/{cfg['weights']}", providers=["CPUExecutionProvider"])

    lines, scores = [], {}
    for qid, x, ids in read_letor(args.data, cfg["input_dim"]):
        s = session.run(["scores"], {"features": x.astype(np.float32)})[0]
        order = sorted(range(len(s)), key=lambda j: (-s[j], j))
        for rank, j in enumerate(order, 1):
            lines.append(f"{qid} Q0 {ids[j]} {rank} {s[j]:.7g} {args.tag}")
            scores[(qid, ids[j])] = float(s[j])

    text = "\n".join(lines) + "\n"
    if args.out:
        open(args.out, "w").write(text)
    elif not args.compare:
        sys.stdout.write(text)

    if args.compare:
        worst, n = 0.0, 0
        for line in open(args.compare):
            qid, _, doc, _, score, _ = line.split()
            mine = scores.get((qid, doc))
            if mine is None:
                sys.exit(f"{args.compare}: ({qid}, {doc}) was not scored by onnxruntime")
            worst = max(worst, abs(mine - float(score)) / max(1.0, abs(float(score))))
            n += 1
        if n != len(scores):
            sys.exit(f"{args.compare}: {n} scores, onnxruntime produced {len(scores)}")
        print(f"onnxruntime vs rankdistil score: {n} scores, worst difference {worst:.2e} (limit 1e-5)")
        if worst > 1e-5:
            sys.exit(1)


if __name__ == "__main__":
    main()
