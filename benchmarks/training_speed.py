"""Speed and memory of the training path: stock Taxometer against taxometer-kd, same inputs.

For each size (contigs) the script generates synthetic TNF, abundances (``--samples``),
lengths and labels over a taxonomy of ``--species`` species (7 ranks) and, for the KD
runs, a teacher's cached per-contig features. Then, each in a fresh child process so
that its peak RSS is its own, it trains for ``--epochs`` epochs:

- ``stock``: exactly what ``vamb taxometer`` runs (``VAMB2Label``,
  ``make_dataloader_concat_hloss``, ``trainmodel``);
- ``kd-head``: ``taxometer_kd.training.trainer.train_jointly`` with the same student and the
  GenomeOcean teacher's head (the paper's: one MLP, hidden 512,512) over cached
  embeddings of ``--embedding-dim`` (1536: GenomeOcean-500M, the paper's teacher);
- ``kd-crossfit``: the same with the default (k-mer) teacher's 10 cross-fitted heads
  (hidden 256) over ``--kmer-dim`` features (136 canonical 4-mers + coverage), as the
  ``kmer`` teacher builds them: a row goes through its own head and one that learns from it
  (``train-heads=1``), and the learning heads train on half of each batch (``learn-share=0.5``);
- ``kd-crossfit-dense``: the same heads with every row through all ten
  (``train-heads=9``, the form before ``train-heads``);
- ``student``: the student side of our path alone (no teacher), for its memory.

It prints wall time, time per epoch (the first epoch is reported apart: it includes the
one-off set-up), peak RSS and the kd/stock ratios, and writes JSON to
``benchmarks/results/training_speed_<device>.json``. ``--cuda`` runs everything on the
GPU; ``--precision`` is taxometer-kd's ``--kd-precision`` (``auto``: bfloat16 autocast on
AMX CPUs and bf16-capable GPUs).

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
    lineages = [f"d_B;p_{phylum[s]};c_{klass[s]};o_{order[s]};f_{family[s]};g_{genus[s]};s_{s}" for s in range(species)]
    true_sp = rng.integers(0, species, n)
    centers = rng.normal(0, 1, (species, 103)).astype(np.float32)
    tnf = (centers[true_sp] + rng.normal(0, 0.5, (n, 103))).astype(np.float32)
    ab_centers = rng.lognormal(0, 1, (species, samples)).astype(np.float32)
    abundance = (ab_centers[true_sp] * rng.lognormal(0, 0.2, (n, samples))).astype(np.float32)
    lengths = rng.integers(2000, 50000, n)
    depth = rng.random(n)
    labels: list[list[str] | None] = []
    for i in range(n):
        if depth[i] < 0.1:
            labels.append(None)
        else:
            ranks = lineages[true_sp[i]].split(";")
            labels.append(ranks[: 7 if depth[i] > 0.25 else 6])
    emb_centers = rng.normal(0, 1, (species, dim)).astype(np.float32)
    emb = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 65536):  # in float32 chunks: 1M x 1536 is 5.7 GiB already
        stop = min(n, start + 65536)
        emb[start:stop] = rng.standard_normal((stop - start, dim), dtype=np.float32)
        emb[start:stop] += emb_centers[true_sp[start:stop]]
    return tnf, abundance, lengths, labels, emb


def graph(labels):
    import numpy as np
    import vamb

    taxes = [None if lab is None else vamb.taxonomy.ContigTaxonomy(lab) for lab in labels]
    nodes, ind, parents = vamb.taxvamb_encode.make_graph(taxes)
    targets = np.array([0 if lab is None else ind[lab[-1]] for lab in labels])
    return nodes, parents, targets


def _no_teacher(n_outputs: int):
    import torch

    from taxometer_kd import TeacherModel

    class NoTeacher(TeacherModel):
        """Zero logits and no parameters: with alpha=1 the student trains alone."""

        def forward(self, indices):
            return torch.zeros(len(indices), n_outputs, device=indices.device)

    return NoTeacher()


def child(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    import vamb

    t0 = time.time()
    # the features come last from the generator: stock and student make a 1-column matrix
    # (same TNF, abundances and labels) so that their peak RSS is not the teacher's
    dim = {"kd-crossfit": args.kmer_dim, "kd-crossfit-dense": args.kmer_dim, "kd-head": args.embedding_dim}.get(
        args.which, 1
    )
    tnf, abundance, lengths, labels, emb = make_inputs(args.n, args.samples, args.species, dim, 0)
    nodes, parents, targets = graph(labels)
    if args.which in ("stock", "student"):
        emb = None
    t_inputs = time.time() - t0
    cuda = args.cuda
    epoch_times: list[float] = []
    t0 = time.time()
    model = vamb.taxvamb_encode.VAMB2Label(
        abundance.shape[1], len(nodes), nodes, parents, nhiddens=[512, 512, 512, 512], cuda=cuda
    )
    precision = None
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

        from taxometer_kd import CrossFitHeadTeacher, EmbeddingHeadTeacher, TeacherModel, registry
        from taxometer_kd.training.data import make_train_data
        from taxometer_kd.training.device import resolve_precision
        from taxometer_kd.training.trainer import train_jointly

        logger.remove()
        device = torch.device("cuda" if cuda else "cpu")
        precision = resolve_precision(args.precision, device)
        data = make_train_data(abundance, tnf, lengths, targets, len(nodes), device)
        teacher: TeacherModel
        if args.which.startswith("kd-crossfit"):  # the kmer teacher's defaults
            dense = args.which == "kd-crossfit-dense"
            teacher = CrossFitHeadTeacher(
                emb,
                model.nlabels,
                hidden=(256,),
                folds=10,
                train_heads=9 if dense else 1,
                learn_share=1.0 if dense else 0.5,
            )
        elif args.which == "kd-head":
            teacher = EmbeddingHeadTeacher(emb, model.nlabels, hidden=(512, 512))  # GenomeOcean's default
        else:
            teacher = _no_teacher(model.nlabels)
        emb = None  # the teacher holds what it needs
        teacher.to(device)
        kd = registry.get_loss("kl").factory(4.0)
        alpha = 1.0 if args.which == "student" else 0.3
        hist = train_jointly(model, teacher, data, kd, alpha, args.epochs, 1024, seed=1, precision=precision)
        epoch_times = [h["seconds"] for h in hist]
        train_heads = getattr(teacher, "train_heads", None)
        learn_share = getattr(teacher, "learn_share", None)
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
        "precision": precision or "float32",
    }
    if args.which.startswith("kd-crossfit"):
        out["train_heads"] = train_heads
        out["learn_share"] = learn_share
    if cuda:
        out["peak_cuda_gib"] = torch.cuda.max_memory_allocated() / 1024**3
    return out


METHODS = ("stock", "kd-head", "kd-crossfit", "kd-crossfit-dense", "student")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="20000,100000,500000")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--species", type=int, default=600)
    p.add_argument("--embedding-dim", type=int, default=1536, help="kd-head features [1536: GenomeOcean-500M]")
    p.add_argument("--kmer-dim", type=int, default=141, help="kd-crossfit features [141: 4-mers + coverage]")
    p.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1))
    p.add_argument(
        "--precision",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="taxometer-kd's --kd-precision [auto]",
    )
    p.add_argument("--cuda", action="store_true")
    p.add_argument(
        "--methods",
        default="stock,kd-head,kd-crossfit",
        help=f"which to run, of {','.join(METHODS)} [stock,kd-head,kd-crossfit]",
    )
    p.add_argument("--which", choices=METHODS, help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if args.which:  # child process
        print(json.dumps(child(args)))
        return 0
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        p.error(f"--methods: unknown {unknown[0]!r} (known: {', '.join(METHODS)})")
    rows = []
    failed = 0
    import torch

    from taxometer_kd.io import atomic_write_bytes

    device = torch.cuda.get_device_name() if args.cuda else f"cpu{args.threads}"
    out = args.out or RESULTS / f"training_speed_{'cuda' if args.cuda else 'cpu'}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: v for k, v in vars(args).items() if k not in ("which", "n", "out")}
    for n in [int(x) for x in args.sizes.split(",")]:
        row: dict = {}
        for which in [m for m in METHODS if m in methods]:
            cmd = [
                sys.executable,
                __file__,
                "--which",
                which,
                "--n",
                str(n),
                "--epochs",
                str(args.epochs),
                "--samples",
                str(args.samples),
                "--species",
                str(args.species),
                "--embedding-dim",
                str(args.embedding_dim),
                "--kmer-dim",
                str(args.kmer_dim),
                "--threads",
                str(args.threads),
                "--precision",
                args.precision,
            ] + (["--cuda"] if args.cuda else [])
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                row[which] = {"which": which, "n": n, "error": proc.stderr[-500:]}
                failed += 1
                continue
            row[which] = json.loads(proc.stdout.strip().splitlines()[-1])
            r = row[which]
            print(
                f"{n:>8} {which:17s} wall {r['train_wall_s']:8.1f} s  epoch {r['epoch_s']:7.2f} s "
                f"(first {r['first_epoch_s']:.2f} s)  peak RSS {r['peak_rss_gib']:.2f} GiB"
                + (f"  [{r['precision']}]" if which != "stock" else ""),
                flush=True,
            )
        stock = row.get("stock", {})
        for which in ("kd-head", "kd-crossfit", "kd-crossfit-dense", "student"):
            r = row.get(which, {})
            if "epoch_s" in stock and "epoch_s" in r:
                ratio = r["epoch_s"] / stock["epoch_s"]
                wall = r["train_wall_s"] / stock["train_wall_s"]
                print(f"{n:>8} ratio {which}/stock: epoch {ratio:.2f}, training wall {wall:.2f}", flush=True)
                row[f"ratio_epoch_{which}"] = ratio
                row[f"ratio_wall_{which}"] = wall
        rows.append(row)
        # after every size: a run stopped by a time limit keeps the sizes it finished
        atomic_write_bytes(out, json.dumps({"device": device, "args": meta, "rows": rows}, indent=1).encode())
    print(f"wrote {out}")
    if failed:
        print(f"{failed} run(s) failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
