#!/usr/bin/env python3
"""A LightGBM LambdaMART teacher for rankdistil.

Trains `lambdarank` on a LETOR training file (early stopping on NDCG@10 of a validation file,
or of a seeded share of the training queries), then writes its scores of every file as TREC
runs (`qid Q0 docid rank score tag`) that `rankdistil distill --teacher-scores` reads:

    scripts/teacher_lightgbm.py --train datasets/mslr/train.txt --test datasets/mslr/test.txt --out runs/lgbm
    rankdistil distill --teacher-scores runs/lgbm/train.trec --teacher-test-scores runs/lgbm/test.trec \\
        --config configs/distill-mslr-lightgbm.toml --out runs/mslr-lgbm-coupled

Documents are named as rankdistil names them: a line's `# docid = X`, else its line number.
Needs numpy and lightgbm (pip install -r scripts/requirements.txt); not scikit-learn.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_files import missing, one_line_errors  # noqa: E402

try:
    import numpy as np
except ImportError as e:
    missing(__file__, e)


def read_letor(path):
    """(labels, qids, docids, features [rows, F]) of a LETOR file."""
    labels, qids, docids, rows = [], [], [], []
    width = 0
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            data, _, comment = line.partition("#")
            tokens = data.split()
            if not tokens:
                continue
            labels.append(float(tokens[0]))
            qids.append(tokens[1][len("qid:"):])
            values = {}
            for token in tokens[2:]:
                index, value = token.split(":")
                values[int(index) - 1] = float(value)
                width = max(width, int(index))
            rows.append(values)
            doc = comment.split("docid", 1)[1].lstrip(" =").split()[0] if "docid" in comment else None
            docids.append(doc if doc else str(line_no))
    features = np.zeros((len(rows), width), dtype=np.float32)
    for r, values in enumerate(rows):
        for index, value in values.items():
            features[r, index] = value
    return np.array(labels), qids, docids, features


def groups(qids):
    """The sizes of the runs of equal qids, in order."""
    sizes = []
    for i, q in enumerate(qids):
        if i == 0 or q != qids[i - 1]:
            sizes.append(0)
        sizes[-1] += 1
    return sizes


def split_queries(data, fraction, seed):
    """The rows of a seeded `fraction` of the queries, and the rest."""
    labels, qids, docids, features = data
    distinct = list(dict.fromkeys(qids))
    rng = np.random.default_rng(seed)
    held = set(rng.choice(distinct, size=max(1, int(len(distinct) * fraction)), replace=False))
    mask = np.array([q in held for q in qids])
    pick = lambda m: (labels[m], [q for q, k in zip(qids, m) if k], features[m])
    return pick(~mask), pick(mask)


def write_run(path, qids, docids, scores, tag):
    order = {}
    for i, q in enumerate(qids):
        order.setdefault(q, []).append(i)
    with open(path + ".tmp", "w") as out:
        for q, rows in order.items():
            ranked = sorted(rows, key=lambda i: -scores[i])
            for rank, i in enumerate(ranked, 1):
                out.write(f"{q} Q0 {docids[i]} {rank} {scores[i]:.9g} {tag}\n")
    os.replace(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True)
    p.add_argument("--valid")
    p.add_argument("--test")
    p.add_argument("--out", required=True)
    p.add_argument("--valid-fraction", type=float, default=0.25,
                   help="share of training queries for early stopping when there is no --valid")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rounds", type=int, default=500)
    p.add_argument("--early-stopping", type=int, default=50)
    p.add_argument("--leaves", type=int, default=31)
    p.add_argument("--learning-rate", type=float, default=0.05)
    args = p.parse_args()
    try:
        import lightgbm as lgb
    except ImportError as e:
        missing(__file__, e)

    train = read_letor(args.train)
    if args.valid:
        valid = read_letor(args.valid)
        fit, stop = (train[0], train[1], train[3]), (valid[0], valid[1], valid[3])
    else:
        fit, stop = split_queries(train, args.valid_fraction, args.seed)
    width = max(train[3].shape[1], stop[2].shape[1])
    pad = lambda x: np.pad(x, ((0, 0), (0, width - x.shape[1])))[:, :width]
    params = {
        "objective": "lambdarank", "metric": "ndcg", "eval_at": [10],
        "learning_rate": args.learning_rate, "num_leaves": args.leaves, "min_data_in_leaf": 5,
        "seed": args.seed, "deterministic": True, "force_row_wise": True, "num_threads": 2,
        "verbose": -1,
    }
    fit_set = lgb.Dataset(pad(fit[2]), fit[0].astype(int), group=groups(fit[1]))
    stop_set = lgb.Dataset(pad(stop[2]), stop[0].astype(int), group=groups(stop[1]), reference=fit_set)
    booster = lgb.train(
        params, fit_set, num_boost_round=args.rounds, valid_sets=[stop_set],
        callbacks=[lgb.early_stopping(args.early_stopping, verbose=False)],
    )
    os.makedirs(args.out, exist_ok=True)
    booster.save_model(os.path.join(args.out, "model.txt"))
    for name, path in [("train", args.train), ("valid", args.valid), ("test", args.test)]:
        if not path:
            continue
        labels, qids, docids, features = train if path == args.train else read_letor(path)
        scores = booster.predict(pad(features), num_iteration=booster.best_iteration)
        write_run(os.path.join(args.out, f"{name}.trec"), qids, docids, scores, "lightgbm")
    print(f"lightgbm teacher: {booster.best_iteration or args.rounds} trees, runs in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    one_line_errors(__file__, main)
