#!/usr/bin/env python3
"""Recommend with a catalog scorer's `rankdistil export --format onnx` directory, with onnxruntime.

    python3 scripts/recommend_with_onnxruntime.py EXPORT_DIR DATA.inter [--top 20] [--out recs.tsv] [--compare recs.tsv]

`model.onnx` is the query tower: `history` int64 [B, H] catalog indices and `mask` float [B, H]
in, `query` [B, D] out. `items.safetensors` holds the item table, `items.weight` [L, D] and
`bias.weight` [L, 1], which scores every item: query @ items.weight.T + bias. The script feeds
every user's positives as one padded batch, drops the items each user already has, and writes
`user_id<TAB>rank<TAB>item_id<TAB>score`; --compare checks a `rankdistil recommend` output.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_files import missing, one_line_errors, read_config, read_verified  # noqa: E402

try:
    import numpy as np
    import onnxruntime as ort
    from safetensors.numpy import load
except ImportError as e:
    missing(__file__, e)

from recommend_with_numpy import arguments, histories, top_items, write_and_compare  # noqa: E402


def main():
    args = arguments(__doc__)
    config = read_config(args.export_dir)
    if config.get("kind") != "catalog" or config["format"] != "onnx":
        sys.exit(f"{args.export_dir}/config.json: not an ONNX catalog export (rankdistil export --format onnx)")
    model = read_verified(args.export_dir, config, config["weights"])
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    table = load(read_verified(args.export_dir, config, config["item_table"]))
    ids = read_verified(args.export_dir, config, config["items"]).decode("utf-8").splitlines()
    users, history, seen = histories(config, ids, args.data)

    width = max([len(history[u]) for u in users] + [1])
    batch = np.zeros((len(users), width), dtype=np.int64)
    mask = np.zeros((len(users), width), dtype=np.float32)
    for row, user in enumerate(users):
        batch[row, : len(history[user])] = history[user]
        mask[row, : len(history[user])] = 1.0
    queries = session.run(["query"], {"history": batch, "mask": mask})[0]
    scores = queries @ table["items.weight"].T + table["bias.weight"][:, 0]

    lines = []
    for row, user in enumerate(users):
        lines += top_items(user, scores[row], seen[user], ids, args.top)
    write_and_compare(lines, args, "onnxruntime")


if __name__ == "__main__":
    one_line_errors(__file__, main)
