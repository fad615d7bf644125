#!/usr/bin/env python3
"""Score a LETOR file with a `rankdistil export --format onnx` directory, with onnxruntime only.

    python3 scripts/score_with_onnxruntime.py EXPORT_DIR DATA.txt [--out run.trec] [--compare run.trec]

The ONNX graph takes the raw feature values [N, F] (its normalisation is inside) and returns
scores [N]. The script writes `qid Q0 docid rank score tag`; with --compare it checks every
score against a `rankdistil score` run of a safetensors export of the same run to 1e-5 and exits
non-zero on any difference, so CI can prove the graph serves what Rust trained.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_files import missing, one_line_errors, read_config, read_verified  # noqa: E402

try:
    import numpy as np
    import onnxruntime as ort
except ImportError as e:
    missing(__file__, e)

from score_with_numpy import arguments, read_letor, write_run  # noqa: E402  (the same reading and run)


def main():
    args = arguments(__doc__, "onnxruntime")

    cfg = read_config(args.export_dir)
    if cfg["format"] != "onnx":
        sys.exit("score_with_onnxruntime.py reads ONNX exports (rankdistil export --format onnx)")
    model = read_verified(args.export_dir, cfg, cfg["weights"])
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])

    def scored():
        for qid, x, ids in read_letor(args.data, cfg["input_dim"]):
            yield qid, ids, session.run(["scores"], {"features": x.astype(np.float32)})[0]

    write_run(args, scored(), "onnxruntime")

if __name__ == "__main__":
    one_line_errors(__file__, main)
