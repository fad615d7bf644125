#!/usr/bin/env python3
"""Recommend with a catalog scorer's `rankdistil export` directory, using only numpy and safetensors.

    python3 scripts/recommend_with_numpy.py EXPORT_DIR DATA.inter [--top 20] [--out recs.tsv] [--compare recs.tsv]

It re-implements what `rankdistil recommend` does from the export's config.json and items.txt
alone: read the RecBole .inter file, take each user's positives (rating >= positives_min_rating)
as the history, embed it, score the whole catalog, drop every item the user already has, and
write `user_id<TAB>rank<TAB>item_id<TAB>score`. With --compare it checks a `rankdistil recommend`
output line by line (the same items in the same order, scores to 1e-4) and exits non-zero on
any difference, so CI can prove a catalog export is usable outside Rust.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_files import missing, one_line_errors, read_config, read_verified  # noqa: E402

try:
    import numpy as np
    from safetensors.numpy import load
except ImportError as e:
    missing(__file__, e)


def read_inter(path):
    """(users in first-seen order, [(user, item, rating)]) from a RecBole atomic .inter file."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n").split("\t")
        names = [c.split(":")[0] for c in header]
        if "user_id" not in names or "item_id" not in names:
            sys.exit(f"{path}:1: the header needs user_id and item_id columns, found {header}")
        u, i = names.index("user_id"), names.index("item_id")
        r = names.index("rating") if "rating" in names else None
        users, events = [], []
        known = set()
        for line_no, line in enumerate(f, 2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != len(header):
                sys.exit(f"{path}:{line_no}: {len(fields)} fields, expected {len(header)}")
            if fields[u] not in known:
                known.add(fields[u])
                users.append(fields[u])
            events.append((fields[u], fields[i], float(fields[r]) if r is not None else 1.0))
    return users, events


def histories(config, ids, data):
    """(users, each user's history indices (positives), each user's known indices) of `data`,
    over the catalog `ids`; items the catalog does not know are skipped."""
    index = {item: j for j, item in enumerate(ids)}
    users, events = read_inter(data)
    history = {user: set() for user in users}
    seen = {user: set() for user in users}
    for user, item, rating in events:
        if item not in index:
            continue
        seen[user].add(index[item])
        if rating >= config["positives_min_rating"]:
            history[user].add(index[item])
    return users, {u: sorted(h) for u, h in history.items()}, seen


def top_items(user, scores, seen, ids, top):
    """The `top` lines of `user`'s list, never an item they have."""
    scores = scores.astype(np.float32)
    scores[sorted(seen)] = -np.inf
    order = sorted(range(len(ids)), key=lambda j: (-scores[j], j))[:top]
    return [f"{user}\t{rank}\t{ids[j]}\t{scores[j]}" for rank, j in enumerate(order, 1) if np.isfinite(scores[j])]


def write_and_compare(lines, args, engine):
    """Writes the lists to --out (or stdout without --compare); with --compare, checks a
    `rankdistil recommend` output line by line: the same items in order, scores to 1e-4."""
    lines = ["user_id\trank\titem_id\tscore"] + lines
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    if args.compare:
        theirs = open(args.compare, encoding="utf-8").read().splitlines()
        if len(theirs) != len(lines):
            sys.exit(f"{args.compare}: {len(theirs)} lines, {engine} made {len(lines)}")
        worst = 0.0
        for n, (a, b) in enumerate(zip(lines[1:], theirs[1:]), 2):
            ua, ra, ia, sa = a.split("\t")
            ub, rb, ib, sb = b.split("\t")
            diff = abs(float(sa) - float(sb))
            worst = max(worst, diff)
            if (ua, ra) != (ub, rb) or diff > 1e-4 or (ia != ib and diff > 1e-6):
                sys.exit(f"{args.compare}:{n}: {engine} has {a!r}, rankdistil {b!r}")
        print(f"{len(lines) - 1} recommendations match; worst score difference {worst:.2e}")
    elif not args.out:
        sys.stdout.write("\n".join(lines) + "\n")


def arguments(doc):
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("export_dir")
    ap.add_argument("data")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--out")
    ap.add_argument("--compare")
    return ap.parse_args()


def main():
    args = arguments(__doc__)
    config = read_config(args.export_dir)
    if config.get("kind") != "catalog" or config["format"] != "safetensors":
        sys.exit(f"{args.export_dir}/config.json: not a safetensors catalog export")
    w = load(read_verified(args.export_dir, config, config["weights"]))
    ids = read_verified(args.export_dir, config, config["items"]).decode("utf-8").splitlines()
    tower = sum(1 for k in w if k.startswith("tower.") and k.endswith(".weight"))
    users, history, seen = histories(config, ids, args.data)
    table, bias = w["items.weight"], w["bias.weight"][:, 0]
    lines = []
    for user in users:
        h = history[user]
        q = w["history.weight"][h].mean(axis=0) if h else np.zeros(w["history.weight"].shape[1], np.float32)
        for layer in range(tower):
            q = q @ w[f"tower.{layer}.weight"] + w[f"tower.{layer}.bias"]
            if layer + 1 < tower:
                q = np.maximum(q, 0.0)
        lines += top_items(user, table @ q + bias, seen[user], ids, args.top)
    write_and_compare(lines, args, "numpy")

if __name__ == "__main__":
    one_line_errors(__file__, main)
