"""Benchmark: stock Taxometer against taxometer-kd, per initial labeller, over several seeds.

    python -m benchmarks.run --mode quick|full [--data DIR|synthetic[:SIZE]] [--labellers a,b]
                             [--teachers a,b] [--seeds 1,2,3] [--name NAME] [--out DIR]

For every labeller (``labels/<labeller>.tsv`` of the data dir) and seed it runs stock
``vamb taxometer`` (the real stock code path: ``TAXOMETER_KD_DISABLE=1``, through a tiny
wrapper that seeds torch, which stock Taxometer does not do itself), ``vamb taxometer
--teacher T`` for each teacher, and the Taxometer_G variant (``--student-input embedding
--alpha 1``) where the teacher has embeddings; with ``--ablations`` also the alpha and
temperature sweeps. Every run keeps its output directory under the work dir and is skipped
when its result file exists, so an interrupted benchmark resumes. Then it scores everything
(:mod:`benchmarks.metrics`) and writes JSON, CSV, figures and ``report.md``
(:mod:`benchmarks.report`) to ``benchmarks/results/<name>/``. Exit status 1 when a run failed.
``--report-only`` scores the finished runs without starting the others (the report lists
them as not run): a partial report of a benchmark too long for one sitting.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import numpy as np

from benchmarks import metrics
from taxometer_kd import evaluate
from taxometer_kd.io import atomic_write_bytes

ROOT = Path(__file__).resolve().parents[1]
MOCK64 = ROOT.parent / "shared" / "data" / "mock64"

#: defaults of each mode; every one can be overridden on the command line
MODES: dict[str, dict[str, Any]] = {
    # a smoke test: a few hundred real contigs, two labellers, few epochs, one teacher, no ablations
    "quick": dict(data=str(MOCK64), subset=500, seeds="1,2", epochs=10, batch_size=128, threads=1,
                  default_labellers=("mmseqs2", "kraken2"), all_teachers=False, ablations=False),
    # the benchmark: all contigs and labellers, Taxometer's 100 epochs and batch size, seeds 1,2,3, ablations
    "full": dict(data=str(MOCK64), subset=0, seeds="1,2,3", epochs=100, batch_size=None, threads=2,
                 default_labellers=None, all_teachers=True, ablations=True),
}
MAIN_ALPHA, MAIN_TEMPERATURE = 0.3, 4.0
ALPHAS, TEMPERATURES = "0.3,0.5,0.8", "1,2,4,6"
# settings a work dir's finished runs depend on: a resumed benchmark must use the same ones
RUN_SETTINGS = ("data", "subset", "epochs", "batch_size", "threads", "cuda", "min_length")

STOCK_WRAPPER = (
    "import sys, torch; torch.manual_seed({seed}); sys.argv = {argv}; "
    "from vamb.__main__ import main; main()"
)


def rel(path: Path | str) -> str:
    """``path`` relative to the repository root where it is below its parent (``../shared/...``)."""
    p = Path(path).resolve()
    try:
        return os.path.relpath(p, ROOT) if p.is_relative_to(ROOT.parent) else str(p)
    except ValueError:
        return str(p)


def say(message: str) -> None:
    print(message, flush=True)


def _fmt_num(x: float) -> str:
    return f"{x:g}"


# ----------------------------------------------------------------------------- data


@dataclass
class Dataset:
    name: str
    source: str
    fasta: Path
    abundance: Path
    truth: Path
    labels: dict[str, Path]
    min_length: int = 2000
    n_contigs: int = 0


def _labels_of(directory: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted((directory / "labels").glob("*.tsv"))}


def _truth_lengths(path: Path) -> list[int]:
    truth = evaluate.load_truth(path)
    return list(truth.length.values())


def _build_fasta(data: Path, work_root: Path) -> Path:
    """The data dir's ``contigs.fna[.gz]``, else one built once by its ``build_contigs.py``."""
    for name in ("contigs.fna", "contigs.fna.gz", "contigs.fasta", "contigs.fasta.gz"):
        if (data / name).is_file():
            return data / name
    script = data / "build_contigs.py"
    if not script.is_file():
        raise SystemExit(f"{rel(data)}: no contigs.fna and no build_contigs.py to build it")
    tag = hashlib.sha1(str(data.resolve()).encode()).hexdigest()[:8]
    out = work_root / "fasta" / f"{data.name}-{tag}" / "contigs.fna"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        say(f"building {rel(out)} with {rel(script)} ...")
        t0 = time.time()
        subprocess.run([sys.executable, str(script), str(out)], check=True)
        say(f"  built in {time.time() - t0:.1f} s")
    return out


def _subset(full: Dataset, n: int, outdir: Path, seed: int = 0) -> Dataset:
    """``n`` contigs drawn at random (``seed``), in their original order, written to ``outdir``."""
    done = outdir / ".complete"
    with open(full.truth) as fh:
        contigs = [line.split("\t", 1)[0] for line in fh][1:]
    if n >= len(contigs):
        return full
    keep = set(np.array(contigs)[np.sort(np.random.default_rng(seed).choice(len(contigs), n, replace=False))].tolist())
    paths = {"truth": outdir / "truth.tsv", "abundance": outdir / "abundance.tsv", "fasta": outdir / "contigs.fna"}
    labels = {name: outdir / "labels" / f"{name}.tsv" for name in full.labels}
    if not done.is_file():
        (outdir / "labels").mkdir(parents=True, exist_ok=True)

        def filter_table(src: Path, dst: Path) -> None:
            with open(src) as fi, open(dst, "w") as fo:
                fo.write(fi.readline())
                for line in fi:
                    if line.split("\t", 1)[0].rstrip("\n") in keep:
                        fo.write(line)

        filter_table(full.truth, paths["truth"])
        filter_table(full.abundance, paths["abundance"])
        for name, src in full.labels.items():
            filter_table(src, labels[name])
        opener = gzip.open if str(full.fasta).endswith(".gz") else open
        with opener(full.fasta, "rt") as fi, open(paths["fasta"], "w") as fo:
            write = False
            for line in fi:
                if line.startswith(">"):
                    write = line[1:].split()[0] in keep
                if write:
                    fo.write(line)
        done.write_text(f"{n} contigs of {full.source}, seed {seed}\n")
    return Dataset(
        name=full.name, source=f"{full.source} (random subset of {n} contigs, seed {seed})",
        fasta=paths["fasta"], abundance=paths["abundance"], truth=paths["truth"], labels=labels,
    )


def prepare_dataset(spec: str, subset: int, work_root: Path, work: Path) -> Dataset:
    """A data dir (``abundance.tsv``, ``truth.tsv``, ``labels/*.tsv``, a FASTA or
    ``build_contigs.py``) or ``synthetic[:tiny|small|demo]`` (the project's own generator)."""
    if spec.startswith("synthetic"):
        from taxometer_kd import synthetic

        size = spec.partition(":")[2] or "small"
        out = work / "data"
        if not (out / "labels" / "synthetic.tsv").is_file():
            paths = synthetic.make_metagenome(out, seed=1, size=size)
            (out / "labels").mkdir(exist_ok=True)
            os.replace(paths["taxonomy"], out / "labels" / "synthetic.tsv")
        ds = Dataset(
            name=f"synthetic-{size}", source=f"taxometer_kd.synthetic.make_metagenome(size={size!r}, seed=1)",
            fasta=out / "contigs.fna", abundance=out / "abundance.tsv", truth=out / "truth.tsv",
            labels=_labels_of(out),
        )
    else:
        data = Path(spec)
        missing = [f for f in ("abundance.tsv", "truth.tsv", "labels") if not (data / f).exists()]
        if missing:
            raise SystemExit(f"--data {spec}: missing {', '.join(missing)} (see benchmarks/README.md for the layout)")
        ds = Dataset(
            name=data.resolve().name, source=rel(data), fasta=_build_fasta(data, work_root),
            abundance=data / "abundance.tsv", truth=data / "truth.tsv", labels=_labels_of(data),
        )
    if subset:
        ds = _subset(ds, subset, work / "subset")
    if not ds.labels:
        raise SystemExit(f"{ds.source}: no labels/<labeller>.tsv")
    lengths = _truth_lengths(ds.truth)
    ds.n_contigs = len(lengths)
    # Taxometer's -m is 2000; below that only when the data has shorter contigs (so that
    # every contig of the truth is classified and the 1-2 kb bins mean something)
    ds.min_length = max(250, min(2000, min(lengths)))
    return ds


# ----------------------------------------------------------------------------- methods and runs


@dataclass(frozen=True)
class Method:
    key: str
    label: str
    kind: str  # initial | stock | kd | teacher | kdG
    teacher: Optional[str] = None
    alpha: Optional[float] = None
    temperature: Optional[float] = None
    ablation: bool = False


def kd_method(teacher: str, alpha: float, temperature: float, main: bool) -> Method:
    if main:
        return Method(f"kd:{teacher}", f"taxometer-kd ({teacher})", "kd", teacher, alpha, temperature)
    return Method(
        f"kd:{teacher}:a{_fmt_num(alpha)}:T{_fmt_num(temperature)}",
        f"taxometer-kd ({teacher}) α={_fmt_num(alpha)} T={_fmt_num(temperature)}",
        "kd", teacher, alpha, temperature, ablation=True,
    )


INITIAL = Method("initial", "initial labels", "initial")
STOCK = Method("stock", "Taxometer (stock)", "stock")


def teacher_method(teacher: str) -> Method:
    return Method(f"teacher:{teacher}", f"teacher {teacher}", "teacher", teacher)


def g_method(teacher: str) -> Method:
    return Method(f"kdG:{teacher}", f"Taxometer_G ({teacher})", "kdG", teacher, 1.0)


@dataclass
class RunSpec:
    labeller: str
    run_id: str
    seed: int
    kind: str  # stock | kd | kdG
    outputs: tuple[tuple[str, str], ...]  # (method key, results file in the run's outdir)
    teacher: Optional[str] = None
    alpha: Optional[float] = None
    temperature: Optional[float] = None

    def directory(self, work: Path) -> Path:
        return work / "runs" / self.labeller / self.run_id / f"seed{self.seed}"

    def result(self, work: Path) -> Path:
        """The run's main results file: it exists once the run has finished."""
        return self.directory(work) / "out" / self.outputs[0][1]


def plan(labellers, teachers, seeds, ablations, alphas, temperatures, ablation_labeller, main_alpha, main_temperature,
         with_g=True):
    """The methods (in report order) and the runs, seed by seed."""
    main_teacher = teachers[0] if teachers else None
    methods = [INITIAL, STOCK]
    for t in teachers:
        methods += [kd_method(t, main_alpha, main_temperature, True), teacher_method(t)]
        if with_g:
            methods.append(g_method(t))
    sweep: list[tuple[float, float]] = []
    if ablations and main_teacher:
        sweep = [(a, main_temperature) for a in alphas if a != main_alpha]
        sweep += [(main_alpha, t) for t in temperatures if t != main_temperature]
        methods += [kd_method(main_teacher, a, t, False) for a, t in sweep]
    runs: list[RunSpec] = []
    for seed in seeds:
        for lab in labellers:
            runs.append(RunSpec(lab, "stock", seed, "stock", (("stock", "results_taxometer.tsv"),)))
            for t in teachers:
                runs.append(RunSpec(
                    lab, f"kd-{t}-a{_fmt_num(main_alpha)}-T{_fmt_num(main_temperature)}", seed, "kd",
                    ((f"kd:{t}", "results_taxometer.tsv"), (f"teacher:{t}", "results_teacher.tsv")),
                    t, main_alpha, main_temperature,
                ))
                if with_g:
                    runs.append(RunSpec(lab, f"kdG-{t}", seed, "kdG", ((f"kdG:{t}", "results_taxometer.tsv"),), t, 1.0))
            if lab == ablation_labeller:
                for a, temp in sweep:
                    m = kd_method(main_teacher, a, temp, False)
                    runs.append(RunSpec(
                        lab, f"kd-{main_teacher}-a{_fmt_num(a)}-T{_fmt_num(temp)}", seed, "kd",
                        ((m.key, "results_taxometer.tsv"),), main_teacher, a, temp,
                    ))
    return methods, runs


def default_ablation_labeller(labellers: list[str]) -> str:
    """The labeller of the alpha and temperature sweeps: MMseqs2 (the TaxDistill paper's) where present."""
    return "mmseqs2" if "mmseqs2" in labellers else labellers[0]


def build_command(spec: RunSpec, ds: Dataset, cfg: dict[str, Any], outdir: Path) -> tuple[list[str], dict[str, str]]:
    args = [
        "taxometer", "--outdir", str(outdir), "--fasta", str(ds.fasta.resolve()),
        "--abundance_tsv", str(ds.abundance.resolve()), "--taxonomy", str(ds.labels[spec.labeller].resolve()),
        "-pe", str(cfg["epochs"]), "-p", str(cfg["threads"]), "-m", str(ds.min_length), "--seed", str(spec.seed),
    ]
    if cfg["batch_size"]:
        args += ["-pt", str(cfg["batch_size"])]
    if cfg["cuda"]:
        args.append("--cuda")
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(cfg["threads"])
    env.pop("TAXOMETER_KD_DISABLE", None)
    if spec.kind == "stock":
        # stock Taxometer does not seed torch (its --seed is for clustering): seed it here
        env["TAXOMETER_KD_DISABLE"] = "1"
        code = STOCK_WRAPPER.format(seed=spec.seed, argv=json.dumps(["vamb", *args]))  # a JSON list is Python too
        return [sys.executable, "-c", code], env
    vamb = Path(sys.executable).parent / "vamb"
    exe = str(vamb) if vamb.exists() else (shutil.which("vamb") or "vamb")
    args += ["--teacher", spec.teacher]
    if spec.kind == "kdG":
        args += ["--student-input", "embedding", "--alpha", "1"]
    else:
        args += ["--alpha", _fmt_num(spec.alpha), "--temperature", _fmt_num(spec.temperature)]
    return [exe, *args], env


# ----------------------------------------------------------------------------- logs

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)")
_PATTERNS = {
    "tnf_s": r"Processed TNF in ([\d.]+) seconds",
    "abundance_s": r"Processed abundance in ([\d.]+) seconds",
    "sequences_s": r"\tRead \d+ sequences in ([\d.]+) s",
    "teacher_s": r"Teacher ready in ([\d.]+) s",
    "training_s": r"(?:Finished joint training|Finished training the taxonomy predictor) in ([\d.]+) seconds",
    "vamb_s": r"Completed Vamb in ([\d.]+) seconds",
}


def parse_log_timings(text: str) -> dict[str, Optional[float]]:
    """Stage times of a ``vamb taxometer`` log (stock or distillation).

    ``load_s`` = TNF + abundance (+ reading the DNA for a teacher); ``teacher_s`` = teacher
    preparation / embedding ('Teacher ready in X s'); ``training_s`` ('Finished joint
    training in X seconds.' or stock's 'Finished training the taxonomy predictor in X
    seconds.'); ``prediction_s`` = from that line to 'Completed taxonomy predictions'
    (prediction and writing; both log lines' timestamps); ``vamb_s`` = Vamb's own total.
    """
    out: dict[str, Optional[float]] = {k: None for k in ("load_s", "teacher_s", "training_s", "prediction_s", "vamb_s")}
    found: dict[str, float] = {}
    t_trained = t_done = None
    for line in text.splitlines():
        for key, pat in _PATTERNS.items():
            m = re.search(pat, line)
            if m:
                found[key] = float(m.group(1))
        stamp = _STAMP.match(line)
        if stamp and re.search(_PATTERNS["training_s"], line):
            t_trained = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f")
        if stamp and "Completed taxonomy predictions in" in line:
            t_done = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f")
    if "tnf_s" in found or "abundance_s" in found:
        out["load_s"] = sum(found.get(k, 0.0) for k in ("tnf_s", "abundance_s", "sequences_s"))
    for key in ("teacher_s", "training_s", "vamb_s"):
        out[key] = found.get(key)
    if t_trained is not None and t_done is not None:
        out["prediction_s"] = round((t_done - t_trained).total_seconds(), 3)
    return out


# ----------------------------------------------------------------------------- running


def _run_child(cmd: list[str], env: dict[str, str], stdout: Path, stderr: Path) -> tuple[int, float, float]:
    """Run ``cmd``; return (exit status, wall seconds, peak RSS of the child in MiB)."""
    t0 = time.perf_counter()
    with open(stdout, "w") as fo, open(stderr, "w") as fe:
        proc = subprocess.Popen(cmd, env=env, stdout=fo, stderr=fe, cwd=ROOT)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - t0, usage.ru_maxrss / 1024.0  # Linux: KiB


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, default=str) + "\n").encode())


def _tail(path: Path, n: int = 12) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _record(spec: RunSpec, work: Path) -> dict[str, Any]:
    return {
        "labeller": spec.labeller, "run": spec.run_id, "seed": spec.seed, "kind": spec.kind,
        "teacher": spec.teacher, "alpha": spec.alpha, "temperature": spec.temperature,
        "outputs": [m for m, _ in spec.outputs], "dir": rel(spec.directory(work)),
    }


def not_applicable_record(spec: RunSpec, work: Path, not_applicable: dict[str, str]) -> Optional[dict[str, Any]]:
    """The record of a Taxometer_G run whose teacher is known to have no embeddings, else None."""
    if spec.kind == "kdG" and spec.teacher in not_applicable:
        return _record(spec, work) | {"status": "not_applicable", "reused": False, "error": not_applicable[spec.teacher]}
    return None


def not_run_record(spec: RunSpec, work: Path, not_applicable: dict[str, str]) -> dict[str, Any]:
    """The record of a run that ``--report-only`` did not start (nothing is written): not run,
    or not applicable where its teacher is known to have no embeddings (Taxometer_G)."""
    return not_applicable_record(spec, work, not_applicable) or _record(spec, work) | {"status": "not_run", "reused": False}


def known_not_applicable(runs: list[RunSpec], work: Path) -> dict[str, str]:
    """Teachers whose Taxometer_G run an earlier invocation found not applicable (their
    ``run.json``), so that no later invocation tries or lists them as missing again."""
    found: dict[str, str] = {}
    for spec in runs:
        path = spec.directory(work) / "run.json"
        if spec.kind == "kdG" and spec.teacher not in found and path.is_file():
            old = json.loads(path.read_text())
            if old.get("status") == "not_applicable":
                found[spec.teacher] = old.get("error") or "the teacher has no embeddings"
    return found


def run_state(spec: RunSpec, work: Path, not_applicable: dict[str, str]) -> str:
    """What ``--dry-run`` says of a run: done, not applicable (known from the work dir) or to run."""
    if spec.result(work).is_file():
        return "done"
    return "not applicable" if not_applicable_record(spec, work, not_applicable) is not None else "to run"


def execute(spec: RunSpec, ds: Dataset, cfg: dict[str, Any], work: Path, not_applicable: dict[str, str]) -> dict[str, Any]:
    """Run one ``vamb taxometer`` unless its result exists; returns the run's record."""
    rdir = spec.directory(work)
    out = rdir / "out"
    result = spec.result(work)
    record = _record(spec, work)
    if result.is_file():
        old = json.loads((rdir / "run.json").read_text()) if (rdir / "run.json").is_file() else {}
        record.update({k: old.get(k) for k in ("code", "command", "returncode", "wall_s", "peak_rss_mb")})
        record.update(status="ok", reused=True, timings=parse_log_timings(_read(out / "log.txt")))
        return record
    known = not_applicable_record(spec, work, not_applicable)
    if known is not None:
        rdir.mkdir(parents=True, exist_ok=True)
        _write_json(rdir / "run.json", known)
        return known
    if out.exists():  # a crashed or interrupted earlier attempt: keep it aside, run again
        failed = rdir / "out.failed"
        shutil.rmtree(failed, ignore_errors=True)
        os.replace(out, failed)
    rdir.mkdir(parents=True, exist_ok=True)
    cmd, env = build_command(spec, ds, cfg, out)
    shown = ("TAXOMETER_KD_DISABLE=1 " if spec.kind == "stock" else "") + f"OMP_NUM_THREADS={cfg['threads']} " + shlex.join(cmd)
    (rdir / "command.sh").write_text(shown + "\n")
    rc, wall, rss = _run_child(cmd, env, rdir / "stdout.txt", rdir / "stderr.txt")
    stderr = _read(rdir / "stderr.txt")
    if rc == 0 and all((out / f).is_file() for _, f in spec.outputs):
        status = "ok"
    elif spec.kind == "kdG" and "has none" in stderr:
        status = "not_applicable"
        reason = next((ln.split("| ", 2)[-1] for ln in stderr.splitlines() if "has none" in ln), "teacher has no embeddings")
        not_applicable[spec.teacher] = f"{reason} (tried in {rel(rdir)})"
    else:
        status = "failed"
    record.update(
        status=status, reused=False, code=cfg.get("code"), command=shown, returncode=rc, wall_s=round(wall, 3), peak_rss_mb=round(rss, 1),
        timings=parse_log_timings(_read(out / "log.txt") or stderr),
    )
    if status == "not_applicable":
        record["error"] = not_applicable[spec.teacher]
    elif status == "failed":
        record["error"] = f"exit status {rc}; last lines of {rel(rdir / 'stderr.txt')}:\n{_tail(rdir / 'stderr.txt')}"
    _write_json(rdir / "run.json", record)
    return record


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# ----------------------------------------------------------------------------- scoring


def collect(ds: Dataset, labellers: list[str], methods: list[Method], runs: list[RunSpec], records: list[dict], work: Path, sankey_pairs) -> dict[str, Any]:
    """Score the initial labels and every finished run; PR curves and transitions too."""
    truth = evaluate.load_truth(ds.truth)
    masks = metrics.subset_masks(truth)
    ok = {(r["labeller"], r["run"], r["seed"]) for r in records if r["status"] == "ok"}
    rows: list[dict[str, Any]] = []
    curves: dict[tuple, list] = {}
    species_codes: dict[tuple, dict[float, np.ndarray]] = {}  # (labeller, method, seed) -> cut -> codes
    wanted = {m for pair in sankey_pairs for m in pair}

    def add(labeller: str, method: str, seed: Optional[int], path: Path) -> None:
        labels = evaluate.load_labels(path)
        run_rows, outcomes = metrics.score_labels(labels, truth, masks)
        rows.extend({"labeller": labeller, "method": method, "seed": seed, **r} for r in run_rows)
        for rank, (codes, gates) in outcomes.items():
            curves.setdefault((labeller, method, rank), []).append(metrics.pr_on_grid(codes, gates))
        if method in wanted:
            codes, gates = outcomes["species"]
            species_codes[(labeller, method, seed)] = {c: evaluate.codes_at(codes, gates, c) for c in metrics.CUTS}

    for lab in labellers:
        add(lab, INITIAL.key, None, ds.labels[lab])
        for spec in runs:
            if spec.labeller == lab and (lab, spec.run_id, spec.seed) in ok:
                for method, fname in spec.outputs:
                    add(lab, method, spec.seed, spec.directory(work) / "out" / fname)

    transitions = []
    seeds = sorted({s.seed for s in runs})
    for lab in labellers:
        for before, after in sankey_pairs:
            for seed in seeds:
                a = species_codes.get((lab, before, None if before == INITIAL.key else seed))
                b = species_codes.get((lab, after, seed))
                if a is None or b is None:
                    continue
                for cut in metrics.CUTS:
                    m = metrics.transition_matrix(a[cut], b[cut])
                    transitions.append({"labeller": lab, "before": before, "after": after, "cut": cut, "seed": seed, "matrix": m.tolist()})

    summary = metrics.aggregate(rows, ("labeller", "method", "rank", "cut", "subset"), ("n", *metrics.METRIC_FIELDS))
    pr = [
        {"labeller": lab, "method": m, "rank": rank, "n_seeds": len(cs), **metrics.mean_curve(cs)}
        for (lab, m, rank), cs in curves.items()
    ]
    trans_mean = []
    groups: dict[tuple, list] = {}
    for t in transitions:
        groups.setdefault((t["labeller"], t["before"], t["after"], t["cut"]), []).append(np.array(t["matrix"], dtype=float))
    for (lab, before, after, cut), ms in groups.items():
        trans_mean.append({"labeller": lab, "before": before, "after": after, "cut": cut, "n_seeds": len(ms), "matrix": np.mean(ms, axis=0).tolist()})

    timing_rows = []
    for r in records:
        if r["status"] == "ok":
            method = r["outputs"][0]
            timing_rows.append({"labeller": r["labeller"], "method": method, **(r.get("timings") or {}),
                                "wall_s": r.get("wall_s"), "peak_rss_mb": r.get("peak_rss_mb")})
    timing_fields = ("load_s", "teacher_s", "training_s", "prediction_s", "vamb_s", "wall_s", "peak_rss_mb")
    timings = metrics.aggregate(timing_rows, ("method",), timing_fields)
    timings_by_labeller = metrics.aggregate(timing_rows, ("labeller", "method"), timing_fields)
    dataset_info = {
        "name": ds.name, "source": ds.source, "fasta": rel(ds.fasta), "truth": rel(ds.truth),
        "labels": {k: rel(v) for k, v in ds.labels.items()}, "n_contigs": ds.n_contigs, "min_length": ds.min_length,
        "subsets": {k: int(v.sum()) for k, v in masks.items()},
    }
    return {
        "dataset": dataset_info, "metrics": rows, "summary": summary, "pr_curves": pr,
        "transitions": transitions, "transitions_mean": trans_mean, "timings": timings,
        "timings_by_labeller": timings_by_labeller,
    }


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})


def write_outputs(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "results.json", results)
    write_csv(out / "metrics.csv", results["metrics"])
    write_csv(out / "summary.csv", results["summary"])
    runs = [{k: v for k, v in r.items() if k not in ("timings", "outputs")} | (r.get("timings") or {}) for r in results["runs"]]
    write_csv(out / "runs.csv", runs)
    write_csv(out / "timings.csv", results["timings_by_labeller"])
    pr_rows = [
        {"labeller": c["labeller"], "method": c["method"], "rank": c["rank"], "n_seeds": c["n_seeds"],
         "threshold": t, "precision": p, "recall": r}
        for c in results["pr_curves"] for t, p, r in zip(c["threshold"], c["precision"], c["recall"])
    ]
    write_csv(out / "pr_curves.csv", pr_rows)
    tr_rows = []
    for t in results["transitions"]:
        for i, b in enumerate(metrics.OUTCOMES):
            for j, a in enumerate(metrics.OUTCOMES):
                tr_rows.append({k: t[k] for k in ("labeller", "before", "after", "cut", "seed")} | {"from": b, "to": a, "count": t["matrix"][i][j]})
    write_csv(out / "transitions.csv", tr_rows)


# ----------------------------------------------------------------------------- command line


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _names(text: Optional[str]) -> Optional[list[str]]:
    return None if text is None else [x.strip() for x in text.split(",") if x.strip()]


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=sorted(MODES), default="quick", help="defaults for the options below [quick]")
    p.add_argument("--data", help="data dir (labels/<labeller>.tsv, abundance.tsv, truth.tsv, FASTA or build_contigs.py) "
                   "or synthetic[:tiny|small|demo] [../shared/data/mock64]")
    p.add_argument("--subset", type=int, help="use N random contigs of the data (0 = all) [quick: 500, full: 0]")
    p.add_argument("--labellers", help="comma-separated labellers [quick: mmseqs2,kraken2 where present, else the "
                   "first two; full: every labels/*.tsv]")
    p.add_argument("--teachers", help="comma-separated teachers; the first is the main one (Sankey, ablations) "
                   "[quick: the first teacher needing no download; full: every teacher needing no download]")
    p.add_argument("--seeds", help="comma-separated seeds [quick: 1,2; full: 1,2,3]")
    p.add_argument("--epochs", type=int, help="-pe of every run [quick: 10; full: 100, Taxometer's default]")
    p.add_argument("--batch-size", type=int, help="-pt of every run [quick: 128; full: Vamb's default, 1024]")
    p.add_argument("--threads", type=int, help="-p and OMP_NUM_THREADS of every run [quick: 1; full: 2, Vamb's default]")
    p.add_argument("--cuda", action="store_true", help="pass --cuda to every run")
    p.add_argument("--alpha", type=float, default=MAIN_ALPHA, help=f"alpha of the main runs [{MAIN_ALPHA}]")
    p.add_argument("--temperature", type=float, default=MAIN_TEMPERATURE, help=f"temperature of the main runs [{MAIN_TEMPERATURE:g}]")
    p.add_argument("--ablations", action=argparse.BooleanOptionalAction, help="alpha and temperature sweeps [quick: no; full: yes]")
    p.add_argument("--alphas", default=ALPHAS, help=f"alpha sweep (temperature fixed at --temperature) [{ALPHAS}]")
    p.add_argument("--temperatures", default=TEMPERATURES, help=f"temperature sweep (alpha fixed at --alpha) [{TEMPERATURES}]")
    p.add_argument("--ablation-labeller", help="labeller of the sweeps [mmseqs2 where present (the paper's), else the first]")
    p.add_argument("--sankey-cut", type=float, default=0.5, choices=metrics.CUTS, help="score cut of the Sankey figures [0.5]")
    p.add_argument("--taxometer-g", action=argparse.BooleanOptionalAction, default=True,
                   help="also run the Taxometer_G variant of each teacher with embeddings [yes]")
    p.add_argument("--dry-run", action="store_true", help="print the runs (and which are done) and stop")
    p.add_argument("--report-only", action="store_true",
                   help="score the finished runs and write the report without starting the others (listed as not run)")
    p.add_argument("--name", help="benchmark name [MODE-DATANAME]")
    p.add_argument("--out", type=Path, help="results dir [benchmarks/results/NAME]")
    p.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work", help="work dir root; runs go to WORK/NAME [benchmarks/work]")
    args = p.parse_args(argv)
    for key, value in MODES[args.mode].items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return args


def main(argv: Optional[list[str]] = None) -> int:
    began = time.time()
    args = parse_args(argv)
    from taxometer_kd import registry

    reg = registry.teachers()
    if args.teachers:
        try:
            teachers = [reg.resolve(t) for t in _names(args.teachers)]
        except registry.UnknownNameError as exc:
            raise SystemExit(f"--teachers: {exc}") from None
    else:
        free = [n for n in reg.names() if not reg.get(n).needs_download]
        if not free:
            raise SystemExit("no registered teacher works without a download; name one with --teachers")
        try:
            default = reg.resolve("default")
        except registry.UnknownNameError:
            default = None
        if default in free:  # the teacher `--teacher default` names comes first (the main one)
            free = [default] + [n for n in free if n != default]
        teachers = free if args.all_teachers else free[:1]
    seeds = [int(s) for s in _names(args.seeds)]
    dataname = args.data.replace(":", "-") if args.data.startswith("synthetic") else Path(args.data).resolve().name
    name = args.name or f"{args.mode}-{dataname}"
    work = (args.work / name).resolve()
    out = (args.out or ROOT / "benchmarks" / "results" / name).resolve()
    work.mkdir(parents=True, exist_ok=True)

    ds = prepare_dataset(args.data, args.subset, args.work.resolve(), work)
    if args.labellers:
        labellers = _names(args.labellers)
    elif args.default_labellers:
        labellers = [lab for lab in args.default_labellers if lab in ds.labels] or list(ds.labels)[:2]
    else:
        labellers = list(ds.labels)
    unknown = [lab for lab in labellers if lab not in ds.labels]
    if unknown:
        raise SystemExit(f"no labels/{unknown[0]}.tsv in {ds.source} (labellers there: {', '.join(ds.labels)})")
    ablation_labeller = args.ablation_labeller or default_ablation_labeller(labellers)
    if ablation_labeller not in labellers:
        raise SystemExit(f"--ablation-labeller {ablation_labeller}: not among the labellers ({', '.join(labellers)})")
    cfg = {
        "data": str(Path(args.data).resolve()) if not args.data.startswith("synthetic") else args.data,
        "subset": args.subset, "epochs": args.epochs, "batch_size": args.batch_size, "threads": args.threads,
        "cuda": args.cuda, "min_length": ds.min_length,
    }
    cfg_path = work / "settings.json"
    if cfg_path.is_file():
        old = json.loads(cfg_path.read_text())
        diff = [k for k in RUN_SETTINGS if old.get(k) != cfg.get(k)]
        if diff:
            raise SystemExit(
                f"{rel(work)} holds runs made with other settings ({', '.join(f'{k}={old.get(k)!r}' for k in diff)}); "
                "use another --name or delete that dir"
            )

    methods, runs = plan(labellers, teachers, seeds, args.ablations, _floats(args.alphas), _floats(args.temperatures),
                         ablation_labeller, args.alpha, args.temperature, args.taxometer_g)
    say(f"benchmark {name}: {ds.source}, {ds.n_contigs} contigs; labellers {', '.join(labellers)}; "
        f"teachers {', '.join(teachers)}; seeds {', '.join(map(str, seeds))}; {args.epochs} epochs; {len(runs)} runs")
    say(f"  work dir {rel(work)}, results {rel(out)}")
    if args.dry_run:
        not_applicable = known_not_applicable(runs, work)
        for i, spec in enumerate(runs, 1):
            say(f"[{i}/{len(runs)}] {spec.labeller} {spec.run_id} seed {spec.seed}: {run_state(spec, work, not_applicable)}")
        return 0
    _write_json(cfg_path, cfg)

    records: list[dict[str, Any]] = []
    not_applicable = known_not_applicable(runs, work)
    run_cfg = cfg | {"code": code_version()}
    for i, spec in enumerate(runs, 1):
        what = f"[{i}/{len(runs)}] {spec.labeller} {spec.run_id} seed {spec.seed}"
        if args.report_only and not spec.result(work).is_file():
            rec = not_run_record(spec, work, not_applicable)
            records.append(rec)
            say(f"{what}: " + ("not run (--report-only)" if rec["status"] == "not_run" else f"not applicable ({rec['error']})"))
            continue
        rec = execute(spec, ds, run_cfg, work, not_applicable)
        records.append(rec)
        if rec.get("reused"):
            say(f"{what}: result exists, skipped")
        elif rec["status"] == "ok":
            say(f"{what}: ok in {rec['wall_s']:.1f} s, peak RSS {rec['peak_rss_mb']:.0f} MiB")
        elif rec["status"] == "not_applicable":
            say(f"{what}: not applicable ({rec['error']})")
        else:
            say(f"{what}: FAILED ({rec['error'].splitlines()[0]}); see {rec['dir']}/stderr.txt")

    main_teacher = teachers[0] if teachers else None
    sankey_pairs = [(INITIAL.key, STOCK.key)]
    if main_teacher:
        sankey_pairs = [(INITIAL.key, f"kd:{main_teacher}"), (STOCK.key, f"kd:{main_teacher}"), (INITIAL.key, STOCK.key)]
    say("scoring ...")
    scored = collect(ds, labellers, methods, runs, records, work, sankey_pairs)
    results = {
        "name": name, "mode": args.mode,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + shlex.join(sys.argv[1:] if argv is None else argv),
        "config": cfg | {
            "seeds": seeds, "labellers": labellers, "teachers": teachers, "main_teacher": main_teacher,
            "alpha": args.alpha, "temperature": args.temperature, "ablations": args.ablations,
            "alphas": _floats(args.alphas), "temperatures": _floats(args.temperatures),
            "ablation_labeller": ablation_labeller if args.ablations else None, "cuts": list(metrics.CUTS),
            "sankey_cut": args.sankey_cut, "work": rel(work), "out": rel(out),
            "stock_wrapper": STOCK_WRAPPER,
        },
        "environment": _environment(),
        "methods": [asdict(m) for m in methods],
        "runs": records,
        **scored,
    }
    results["elapsed_s"] = round(time.time() - began, 1)
    write_outputs(results, out)
    from benchmarks import report

    report.write_report(results, out)
    say("")
    say(report.console_table(results))
    failed = [r for r in records if r["status"] == "failed"]
    not_run = sum(r["status"] == "not_run" for r in records)
    if not_run:
        say(f"\n{not_run} of {len(records)} runs not run (--report-only): the tables hold fewer seeds or methods than planned")
    say(f"\nwrote {rel(out)}/report.md (+ results.json, *.csv, figures/) in {results['elapsed_s']:.0f} s")
    if failed:
        say(f"{len(failed)} run(s) FAILED: " + ", ".join(f"{r['dir']}" for r in failed))
        return 1
    return 0


def code_version() -> str:
    """A hash of taxometer-kd's sources (``taxometer_kd/``, ``plugins/``): tells whether runs of a
    resumed benchmark were made by the same code."""
    h = hashlib.sha1()
    for path in sorted([*ROOT.glob("taxometer_kd/**/*.py"), *ROOT.glob("plugins/**/*.py")]):
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def _environment() -> dict[str, Any]:
    env: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                           "code": code_version()}
    try:
        env["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip() or None
    except OSError:
        env["git"] = None
    from importlib.metadata import PackageNotFoundError, version

    for pkg in ("torch", "vamb", "taxometer-kd", "numpy"):
        try:
            env[pkg] = version(pkg)
        except PackageNotFoundError:
            env[pkg] = None
    return env


if __name__ == "__main__":
    sys.exit(main())
