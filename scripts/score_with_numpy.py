#!/usr/bin/env python3
"""Score a LETOR file with a `rankdistil export` directory using only numpy and safetensors.

    python3 scripts/score_with_numpy.py EXPORT_DIR DATA.txt [--out run.trec] [--compare run.trec]

It re-implements what `rankdistil score` does from the export's config.json alone: parse the
LETOR lines, normalise the features, run the MLP (with its layer norms, if it has them), and
write `qid Q0 docid rank score tag`.
With --compare it checks every score against a `rankdistil score` run file to 1e-5 and exits
non-zero on any difference, so CI can prove an export is usable outside Rust.
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_files import missing, one_line_errors, read_config, read_verified  # noqa: E402

try:
    import numpy as np
    from safetensors.numpy import load
except ImportError as e:
    missing(__file__, e)


def read_letor(path, num_features):
    """Yields (qid, features [n, F], doc_ids) per query, in file order."""
    qid, rows, ids = None, [], []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            data, _, comment = line.partition("#")
            tokens = data.split()
            if not tokens:
                continue
            if len(tokens) < 2 or not tokens[1].startswith("qid:"):
                sys.exit(f"{path}:{line_no}: expected 'rel qid:Q idx:val ...'")
            q = tokens[1][4:]
            x = np.zeros(num_features, dtype=np.float32)
            for tok in tokens[2:]:
                idx, val = tok.split(":", 1)
                x[int(idx) - 1] = np.float32(val)
            doc = str(line_no)
            if "docid" in comment:
                rest = comment.split("docid", 1)[1].strip()
                if rest.startswith("="):
                    parts = rest[1:].split()
                    if parts:
                        doc = parts[0]
            if q != qid and qid is not None:
                yield qid, np.stack(rows), ids
                rows, ids = [], []
            qid = q
            rows.append(x)
            ids.append(doc)
    if qid is not None:
        yield qid, np.stack(rows), ids


def normalize(x, norm):
    mean = np.asarray(norm["mean"], dtype=np.float32)
    std = np.asarray(norm["std"], dtype=np.float32)
    if norm["kind"] == "none":
        return x
    if norm["kind"] == "log1p_zscore":
        x = np.sign(x) * np.log1p(np.abs(x))
    return (x - mean) / std


def layer_norm(z, gamma, beta, eps):
    """Over the last axis, with the biased variance, as Burn's LayerNorm."""
    mean = z.mean(axis=-1, keepdims=True)
    var = ((z - mean) ** 2).mean(axis=-1, keepdims=True)
    return ((z - mean) / np.sqrt(var + np.float32(eps)) * gamma + beta).astype(np.float32)


ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "gelu": np.vectorize(lambda z: 0.5 * z * (1.0 + math.erf(z / math.sqrt(2.0))), otypes=[np.float32]),
}


def arguments(doc, tag):
    """The scoring scripts' command line; `tag` is the run's last column."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("export_dir")
    ap.add_argument("data")
    ap.add_argument("--out", help="TREC run file to write (default: stdout)")
    ap.add_argument("--compare", help="a `rankdistil score` run file to check against (1e-5)")
    ap.add_argument("--tag", default=tag)
    return ap.parse_args()


def main():
    args = arguments(__doc__, "numpy")

    cfg = read_config(args.export_dir)
    if cfg["format"] != "safetensors":
        sys.exit("score_with_numpy.py reads safetensors exports (rankdistil export --format safetensors)")
    weights = load(read_verified(args.export_dir, cfg, cfg["weights"]))
    write_run(args, score_queries(cfg, weights, args.data), "numpy")


def score_queries(cfg, weights, data):
    """Yields (qid, doc ids, scores) per query of `data`, as the export's MLP scores them."""
    hidden = cfg["architecture"]["hidden"]
    act = ACTIVATIONS[cfg["architecture"]["activation"]]
    eps = cfg.get("layer_norm_epsilon") if cfg["architecture"].get("layer_norm") else None
    for qid, x, ids in read_letor(data, cfg["input_dim"]):
        h = normalize(x, cfg["normalization"])
        for i in range(len(hidden)):
            z = h @ weights[f"hidden.{i}.weight"] + weights[f"hidden.{i}.bias"]
            if eps is not None:
                z = layer_norm(z, weights[f"norms.{i}.gamma"], weights[f"norms.{i}.beta"], eps)
            h = act(z)
        s = (h @ weights["output.weight"] + weights["output.bias"])[:, 0]
        yield qid, ids, s


def write_run(args, scored, engine):
    """Writes the TREC run of `scored`, (qid, doc ids, scores) per query, to --out or stdout;
    with --compare, checks every score against a `rankdistil score` run to 1e-5."""
    lines, scores = [], {}
    for qid, ids, s in scored:
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
                sys.exit(f"{args.compare}: ({qid}, {doc}) was not scored by {engine}")
            worst = max(worst, abs(mine - float(score)) / max(1.0, abs(float(score))))
            n += 1
        if n != len(scores):
            sys.exit(f"{args.compare}: {n} scores, {engine} produced {len(scores)}")
        print(f"{engine} vs rankdistil score: {n} scores, worst difference {worst:.2e} (limit 1e-5)")
        if worst > 1e-5:
            sys.exit(1)

if __name__ == "__main__":
    one_line_errors(__file__, main)
