"""Test vectors for the baseline losses, from their authors' reference implementations.

Writes crates/rankdistil-loss/tests/vectors/baselines.json: for each case the student and
teacher scores, the loss, and its gradient with respect to the student scores (torch autograd).

- Margin-MSE: sentence-transformers' MarginMSELoss.compute_loss_from_embeddings, with one-wide
  embeddings (query 1, document s) so that its dot-product similarity is the student score.
- ADR-MSE: Lightning IR's ApproxRankMSE.compute_loss.
- RRD: relaxed_ranking_loss from the DE-RRD authors' Utils/loss.py (postech-di-lab/METIS), read
  from a checkout given as --metis, with the sampled items fixed in the case.
- CD: CD.get_loss from woriazzc/KDs (modeling/KD/cf/baseline.py), read from a checkout given as
  --kds, with its drawn items fixed and the models' scores given. Its package imports mlflow
  and torch_cluster, which CD does not use; they are stubbed.

Run in a venv with the pinned versions (docs/LOSSES.md, "Reference implementations"):
    python -m venv ref && ref/bin/pip install torch==2.15.0 sentence-transformers==6.2.0 lightning-ir==0.0.6
    ref/bin/python scripts/baseline_references.py --metis <METIS checkout> --kds <KDs checkout>
"""

import argparse
import importlib.util
import json
import pathlib
import types

import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/rankdistil-loss/tests/vectors/baselines.json"


def scores(gen, b, n, scale=2.0):
    return (torch.randn(b, n, generator=gen, dtype=torch.float64) * scale).tolist()


def margin_mse_case(gen, b, n):
    from sentence_transformers.sentence_transformer.losses import MarginMSELoss

    loss_fn = MarginMSELoss(model=None)
    s0, t0 = scores(gen, b, n), scores(gen, b, n)
    s = torch.tensor(s0, dtype=torch.float32, requires_grad=True)
    t = torch.tensor(t0, dtype=torch.float32)
    per_list = []
    for list_ in range(b):
        # Every ordered pair: each item is once the positive, against the others as negatives.
        others = [[j for j in range(n) if j != i] for i in range(n)]
        query = torch.ones(n, 1)
        positive = s[list_].unsqueeze(1)
        negatives = [s[list_][[o[k] for o in others]].unsqueeze(1) for k in range(n - 1)]
        labels = torch.stack([t[list_][i] - t[list_][others[i]] for i in range(n)])
        per_list.append(loss_fn.compute_loss_from_embeddings([query, positive, *negatives], labels))
    loss = torch.stack(per_list).mean()
    loss.backward()
    return {"student": s0, "teacher": t0, "loss": loss.item(), "grad": s.grad.tolist()}


def margin_mse_negatives_case(gen, b, m):
    """One positive against m negatives per row, as the catalog mode uses the loss."""
    from sentence_transformers.sentence_transformer.losses import MarginMSELoss

    s0, t0 = scores(gen, b, 1 + m), scores(gen, b, 1 + m)
    s = torch.tensor(s0, dtype=torch.float32, requires_grad=True)
    t = torch.tensor(t0, dtype=torch.float32)
    embeddings = [torch.ones(b, 1)] + [s[:, j : j + 1] for j in range(1 + m)]
    # Labels as the positive's and the negatives' teacher scores, which the loss turns into margins.
    loss = MarginMSELoss(model=None).compute_loss_from_embeddings(embeddings, t)
    loss.backward()
    return {"student": s0, "teacher": t0, "loss": loss.item(), "grad": s.grad.tolist()}


def adr_mse_case(gen, b, n, temperature):
    from lightning_ir.loss.approximate import ApproxRankMSE

    loss_fn = ApproxRankMSE(temperature=temperature, discount="log2")
    s0, t0 = scores(gen, b, n), scores(gen, b, n)
    s = torch.tensor(s0, dtype=torch.float32, requires_grad=True)
    t = torch.tensor(t0, dtype=torch.float32)
    loss = loss_fn.compute_loss(types.SimpleNamespace(scores=s), types.SimpleNamespace(targets=t))
    loss.backward()
    return {
        "student": s0,
        "teacher": t0,
        "temperature": temperature,
        "loss": loss.item(),
        "grad": s.grad.tolist(),
    }


def rrd_case(gen, relaxed_ranking_loss, b, n, k, l):
    s0 = scores(gen, b, n)
    interesting, uninteresting = [], []
    for _ in range(b):
        perm = torch.randperm(n, generator=gen).tolist()
        interesting.append(perm[:k])
        uninteresting.append(perm[k : k + l])
    s = torch.tensor(s0, dtype=torch.float32, requires_grad=True)
    s1 = torch.gather(s, 1, torch.tensor(interesting))
    s2 = torch.gather(s, 1, torch.tensor(uninteresting))
    loss = relaxed_ranking_loss(s1, s2)  # summed over the lists
    loss.backward()
    return {
        "student": s0,
        "interesting": interesting,
        "uninteresting": uninteresting,
        "loss_sum": loss.item(),
        "grad_sum": s.grad.tolist(),
    }


class Scores:
    """A model whose forward_multi_items reads fixed scores, as KDs' losses call it."""

    def __init__(self, scores):
        self.scores = scores

    def forward_multi_items(self, users, items):
        return torch.gather(self.scores[users], 1, items)


def cd_case(gen, cd_class, b, n, t1, t2):
    s0, t0 = scores(gen, b, n), scores(gen, b, n)
    s = torch.tensor(s0, dtype=torch.float32, requires_grad=True)
    loss_fn = cd_class.__new__(cd_class)
    torch.nn.Module.__init__(loss_fn)
    loss_fn.t1, loss_fn.t2 = t1, t2
    loss_fn.rank_samples = torch.arange(n).repeat(b, 1)
    loss_fn.teacher = Scores(torch.tensor(t0, dtype=torch.float32))
    loss_fn.student = Scores(s)
    loss = loss_fn.get_loss(torch.arange(b), None, None)  # summed over the users
    loss.backward()
    return {
        "student": s0,
        "teacher": t0,
        "t1": t1,
        "t2": t2,
        "loss_sum": loss.item(),
        "grad_sum": s.grad.tolist(),
    }


def load_cd(kds):
    import sys
    import types

    sys.path.insert(0, str(pathlib.Path(kds)))
    for unused in ["mlflow", "torch_cluster"]:
        stub = types.ModuleType(unused)
        stub.__getattr__ = lambda name: None  # any name it imports
        sys.modules.setdefault(unused, stub)
    from modeling.KD.cf.baseline import CD

    return CD


def load_rrd(metis):
    path = pathlib.Path(metis) / "model-layer/knowledge-distillation-module/DE-RRD/Utils/loss.py"
    spec = importlib.util.spec_from_file_location("derrd_loss", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.relaxed_ranking_loss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--metis", required=True, help="a checkout of postech-di-lab/METIS")
    parser.add_argument("--kds", required=True, help="a checkout of woriazzc/KDs")
    args = parser.parse_args()
    import lightning_ir
    import sentence_transformers

    gen = torch.Generator().manual_seed(2026)
    rrd = load_rrd(args.metis)
    cd = load_cd(args.kds)
    out = {
        "generated_by": "scripts/baseline_references.py",
        "versions": {
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "lightning_ir": getattr(lightning_ir, "__version__", "0.0.6"),
        },
        "margin_mse": [margin_mse_case(gen, b, n) for b, n in [(1, 2), (2, 5), (3, 8), (4, 16)]],
        "margin_mse_negatives": [margin_mse_negatives_case(gen, b, m) for b, m in [(1, 1), (3, 4), (5, 20)]],
        "adr_mse": [
            adr_mse_case(gen, b, n, temp)
            for b, n, temp in [(1, 3, 1.0), (2, 6, 1.0), (3, 10, 0.5), (2, 20, 2.0)]
        ],
        "cd": [cd_case(gen, cd, b, n, t1, t2) for b, n, t1, t2 in [(1, 2, 2.0, 0.0), (2, 5, 2.0, 0.0), (3, 10, 1.0, 0.5), (2, 40, 4.0, -1.0)]],
        "rrd": [rrd_case(gen, rrd, b, n, k, l) for b, n, k, l in [(1, 4, 2, 1), (2, 10, 3, 4), (3, 30, 10, 12), (2, 60, 40, 20)]],
    }
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
