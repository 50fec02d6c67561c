"""Speed and memory of the training path: stock Taxometer against taxometer-kd, same inputs.

For each size (contigs) the script generates synthetic TNF, abundances (``--samples``),
lengths and labels over a taxonomy of ``--species`` species (7 ranks), and, for the KD
path, cached teacher embeddings (``--embedding-dim``, as a GenomeOcean cache would hold).
Then, each in a fresh child process so that its peak RSS is its own:

- ``stock``: exactly what ``vamb taxometer`` runs (``VAMB2Label``,
  ``make_dataloader_concat_hloss``, ``trainmodel``) for ``--epochs`` epochs;
- ``kd``: ``taxometer_kd.distill.train_jointly`` with the same student and a teacher head
  over the cached embeddings (``--teacher-kind crossfit`` for the k-mer teacher's
  cross-fitted heads, ``head`` for the paper's single head).

It prints wall time, time per epoch (the first epoch is reported apart: it includes the
one-off set-up), peak RSS and the kd/stock ratios, and writes JSON to
``benchmarks/results/training_speed_<device>.json``. ``--cuda`` runs both on the GPU.

    python benchmarks/training_speed.py --sizes 20000,100000,500000 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def make_inputs(n: int, samples: int, species: int, dim: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    # a 7-rank taxonomy: 4 species per genus, 3 genera per family, ... (names unique per rank)
    per = [1, 4, 3, 3, 3, 3, 4]  # children per node from domain to species
    sp = np.arange(species)
    genus = sp // per[6]
    family = genus // per[5]
    order = family // per[4]
    klass = order // per[3]
    phylum = klass // per[2]
    lineages = [
        f"d_B;p_{phylum[s]};c_{klass[s]};o_{order[s]};f_{family[s]};g_{genus[s]};s_{s}" for s in range(species)
    ]
    true_sp = rng.integers(0, species, n)
    centers = rng.normal(0, 1, (species, 103)).astype(np.float32)
    tnf = (centers[true_sp] + rng.normal(0, 0.5, (n, 103))).astype(np.float32)
    ab_centers = rng.lognormal(0, 1, (species, samples)).astype(np.float32)
    abundance = (ab_centers[true_sp] * rng.lognormal(0, 0.2, (n, samples))).astype(np.float32)
    lengths = rng.integers(2000, 50000, n)
    depth = rng.random(n)
    labels = []
    for i in range(n):
        if depth[i] < 0.1:
            labels.append(None)
        else:
            ranks = lineages[true_sp[i]].split(";")
            labels.append(ranks[: 7 if depth[i] > 0.25 else 6])
    emb_centers = rng.normal(0, 1, (species, dim)).astype(np.float32)
    emb = (emb_centers[true_sp] + rng.normal(0, 1.0, (n, dim))).astype(np.float32)
    return tnf, abundance, lengths, labels, emb


def graph(labels):
    import numpy as np
    import vamb

    taxes = [None if lab is None else vamb.taxonomy.ContigTaxonomy(lab) for lab in labels]
    nodes, ind, parents = vamb.taxvamb_encode.make_graph(taxes)
    targets = np.array([0 if lab is None else ind[lab[-1]] for lab in labels])
    return nodes, parents, targets


def child(args) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    import vamb

    t0 = time.time()
    tnf, abundance, lengths, labels, emb = make_inputs(args.n, args.samples, args.species, args.embedding_dim, 0)
    nodes, parents, targets = graph(labels)
    if args.which == "stock":
        del emb
    t_inputs = time.time() - t0
    cuda = args.cuda
    epoch_times: list[float] = []
    t0 = time.time()
    model = vamb.taxvamb_encode.VAMB2Label(
        abundance.shape[1], len(nodes), nodes, parents, nhiddens=[512, 512, 512, 512], cuda=cuda
    )
    if args.which == "stock":
        loader = vamb.taxvamb_encode.make_dataloader_concat_hloss(
            abundance, tnf, lengths, targets, len(nodes), parents, batchsize=1024
        )
        original = model.trainepoch

        def timed(*a, **k):
            s = time.time()
            out = original(*a, **k)
            if cuda:
                torch.cuda.synchronize()
            epoch_times.append(time.time() - s)
            return out

        model.trainepoch = timed
        model.trainmodel(loader, nepochs=args.epochs, batchsteps=[])
    else:
        from loguru import logger

        from taxometer_kd import distill, registry
        from taxometer_kd.teacher import CrossFitHeadTeacher, EmbeddingHeadTeacher

        logger.remove()
        device = torch.device("cuda" if cuda else "cpu")
        data = distill.make_train_data(abundance, tnf, lengths, targets, len(nodes), device)
        if args.teacher_kind == "crossfit":
            teacher = CrossFitHeadTeacher(emb, model.nlabels, hidden=(256,), folds=10)  # the kmer default
        else:
            teacher = EmbeddingHeadTeacher(emb, model.nlabels, hidden=(512, 512))  # GenomeOcean's default
        del emb
        teacher.to(device)
        kd = registry.get_loss("kl").factory(4.0)
        hist = distill.train_jointly(model, teacher, data, kd, 0.3, args.epochs, 1024, seed=1)
        epoch_times = [h["seconds"] for h in hist]
    total = time.time() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # GiB (ru_maxrss is KiB)
    out = {
        "which": args.which,
        "n": args.n,
        "epochs": args.epochs,
        "inputs_s": t_inputs,
        "train_wall_s": total,
        "first_epoch_s": epoch_times[0],
        "epoch_s": sum(epoch_times[1:]) / max(1, len(epoch_times) - 1) if len(epoch_times) > 1 else epoch_times[0],
        "peak_rss_gib": peak,
        "nodes": len(nodes),
    }
    if cuda:
        out["peak_cuda_gib"] = torch.cuda.max_memory_allocated() / 1024**3
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="20000,100000,500000")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--species", type=int, default=600)
    p.add_argument("--embedding-dim", type=int, default=768)
    p.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1))
    p.add_argument("--teacher-kind", choices=("crossfit", "head"), default="crossfit")
    p.add_argument("--cuda", action="store_true")
    p.add_argument("--methods", default="stock,kd", help="which to run (e.g. kd alone for a memory check)")
    p.add_argument("--which", choices=("stock", "kd"), help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if args.which:  # child process
        print(json.dumps(child(args)))
        return 0
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        pair = {}
        for which in [m for m in ("stock", "kd") if m in args.methods.split(",")]:
            cmd = [sys.executable, __file__, "--which", which, "--n", str(n), "--epochs", str(args.epochs),
                   "--samples", str(args.samples), "--species", str(args.species),
                   "--embedding-dim", str(args.embedding_dim), "--threads", str(args.threads),
                   "--teacher-kind", args.teacher_kind] + (["--cuda"] if args.cuda else [])
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                pair[which] = {"which": which, "n": n, "error": proc.stderr[-500:]}
                continue
            pair[which] = json.loads(proc.stdout.strip().splitlines()[-1])
            r = pair[which]
            print(f"{n:>8} {which:5s} wall {r['train_wall_s']:8.1f} s  epoch {r['epoch_s']:7.2f} s "
                  f"(first {r['first_epoch_s']:.2f} s)  peak RSS {r['peak_rss_gib']:.2f} GiB", flush=True)
        if "error" not in pair.get("stock", {"error": 1}) and "error" not in pair.get("kd", {"error": 1}):
            ratio = pair["kd"]["epoch_s"] / pair["stock"]["epoch_s"]
            wall = pair["kd"]["train_wall_s"] / pair["stock"]["train_wall_s"]
            print(f"{n:>8} ratio kd/stock: epoch {ratio:.2f}, training wall {wall:.2f}", flush=True)
            pair["ratio_epoch"] = ratio
            pair["ratio_wall"] = wall
        rows.append(pair)
    import torch

    device = torch.cuda.get_device_name() if args.cuda else f"cpu{args.threads}"
    out = args.out or RESULTS / f"training_speed_{'cuda' if args.cuda else 'cpu'}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: v for k, v in vars(args).items() if k not in ("which", "n", "out")}
    out.write_text(json.dumps({"device": device, "args": meta, "rows": rows}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
