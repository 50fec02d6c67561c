"""benchmarks/catalogue.py (the streaming catalogue generator) and benchmarks/scale.py (stages
from RSS samples and log timestamps, the dry run); the benchmark's numbers are measured by hand."""

import json
import os
import re
import sys
import tracemalloc
from datetime import datetime

import pytest
import vamb
from conftest import ROOT, run_cmd

from benchmarks import catalogue, scale_measure, scale_runs


def _fasta(path):
    names, seqs = [], []
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            names.append(line[1:])
            seqs.append([])
        else:
            seqs[-1].append(line)
    return names, ["".join(s) for s in seqs]


def _rows(path):
    lines = path.read_text().splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("catalogue")
    info = catalogue.make_catalogue(out / "a", 300, n_samples=3, seed=5, genome_kbp=(60, 120))
    return out, info


def test_catalogue_is_deterministic(tiny):
    out, info = tiny
    again = catalogue.make_catalogue(out / "b", 300, n_samples=3, seed=5, genome_kbp=(60, 120))
    for name in catalogue.FILES.values():
        assert (out / "a" / name).read_bytes() == (out / "b" / name).read_bytes(), name
    catalogue.make_catalogue(out / "c", 300, n_samples=3, seed=6, genome_kbp=(60, 120))
    assert (out / "a" / "contigs.fna").read_bytes() != (out / "c" / "contigs.fna").read_bytes()
    assert {k: v for k, v in again.items() if "seconds" not in k and k != "peak_rss_mib"} == {
        k: v for k, v in info.items() if "seconds" not in k and k != "peak_rss_mib"
    }
    assert not list((out / "a").glob(".*"))  # no temporary file (genome store, .tmp) left
    assert catalogue.read_info(out / "a")["contigs"] == 300


def test_catalogue_files_agree(tiny):
    out, info = tiny
    d = out / "a"
    names, seqs = _fasta(d / "contigs.fna")
    assert len(names) == 300 == len(set(names))
    assert all(set(s) <= set("ACGT") for s in seqs)
    assert all(len(line) <= 80 for line in (d / "contigs.fna").read_text().splitlines())
    lengths = [len(s) for s in seqs]
    assert min(lengths) >= 2000 and info["bases"] == sum(lengths)
    # per-sample assemblies S{sample}C{n}, numbered 1..n within each sample, samples in order
    parsed = [tuple(map(int, re.fullmatch(r"S(\d+)C(\d+)", n).groups())) for n in names]
    assert [s for s, _ in parsed] == sorted(s for s, _ in parsed) and {s for s, _ in parsed} <= {0, 1, 2}
    for sample in {s for s, _ in parsed}:
        assert [c for s, c in parsed if s == sample] == list(range(1, 1 + sum(s == sample for s, _ in parsed)))

    header, abundance = _rows(d / "abundance.tsv")
    assert header == ["contigname", "S0", "S1", "S2"]
    assert [r[0] for r in abundance] == names and all(len(r) == 4 for r in abundance)
    assert all(float(x) >= 0 for r in abundance for x in r[1:])
    header, truth = _rows(d / "truth.tsv")
    assert header == ["contig", "genome_id", "length", "reference_status", "lineage"]  # as taxometer_kd.synthetic
    assert [r[0] for r in truth] == names and [int(r[2]) for r in truth] == lengths
    assert {r[3] for r in truth} <= {"in_reference", "novel_strain", "species_held_out"}
    assert len({r[1] for r in truth}) > 3

    # the labels are Vamb's taxonomy format, in the same order
    assert (d / "labels.tsv").read_text().startswith("contigs\tpredictions\n")
    parsed_labels = vamb.taxonomy.Taxonomy.parse_tax_file(d / "labels.tsv", False)
    assert [name for name, _ in parsed_labels] == names
    labels = [tax.ranks for _, tax in parsed_labels]
    # a label is the truth, the truth cut to genus or family, none, or another (reference) species
    reference = {r[4] for r in truth if r[3] != "species_held_out"}
    counts = dict.fromkeys(("correct", "truncated", "unlabelled", "wrong"), 0)
    for lab, row in zip(labels, truth):
        true = row[4].split(";")
        if lab == true:
            assert row[3] != "species_held_out"
            counts["correct"] += 1
        elif not lab:
            counts["unlabelled"] += 1
        elif lab == true[: len(lab)]:
            assert len(lab) <= 6
            counts["truncated"] += 1
        else:
            assert len(lab) == 7 and ";".join(lab) in reference
            counts["wrong"] += 1
    assert counts == info["labels"] and min(counts.values()) > 0
    assert sum(info["reference_status"].values()) == 300


def test_catalogue_memory_does_not_grow_with_contigs(tmp_path):
    peaks = {}
    for n in (1000, 4000):
        tracemalloc.start()
        catalogue.make_catalogue(tmp_path / str(n), n, n_samples=3, seed=1, n_genomes=20, genome_kbp=(1000, 1400))
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # 4x the contigs, the same genomes: the same chunks of 256 contigs
    assert peaks[4000] < 1.3 * peaks[1000], peaks
    names, _ = _fasta(tmp_path / "4000" / "contigs.fna")
    assert len(names) == 4000


def test_catalogue_refuses_what_cannot_fit(tmp_path):
    with pytest.raises(ValueError, match="do not fit"):
        catalogue.make_catalogue(tmp_path, 5000, n_samples=1, n_genomes=3, genome_kbp=(60, 60))


# ----------------------------------------------------------------------------- scale.py

_T0 = datetime(2026, 1, 1, 12, 0, 0).timestamp()
_KD_LOG = """\
2026-01-01 12:00:01.000 | INFO    | Starting Vamb version 5.0.4
2026-01-01 12:00:01.500 | INFO    | Knowledge distillation (taxometer-kd)
2026-01-01 12:00:01.600 | INFO    | \tTraining precision: float32 (auto)
2026-01-01 12:00:02.000 | INFO    | Loading TNF
2026-01-01 12:00:02.000 | INFO    | \tMinimum sequence length: 2000
2026-01-01 12:00:05.000 | INFO    | \tProcessed TNF in 3.0 seconds.

2026-01-01 12:00:05.000 | INFO    | Loading depths
2026-01-01 12:00:06.000 | INFO    | \tProcessed abundance in 1.0 seconds.

2026-01-01 12:00:07.000 | INFO    | \t21 nodes in the graph
2026-01-01 12:00:08.000 | INFO    | \tPreparing teacher kmer (300 contigs from x.fna)
2026-01-01 12:00:12.000 | INFO    | \tTeacher ready in 4.00 s (10 trainable parameters)
2026-01-01 12:00:13.000 | INFO    | Starting joint training of student and teacher
2026-01-01 12:00:13.001 | INFO    | \tN epochs: 3\tBatch size: 1024
2026-01-01 12:00:20.000 | INFO    | \tEpoch: 1\tCE: 2.7\tKD: 0.19\tTeacher CE: 3.0\tBatchsize: 1024\t3.14 s
2026-01-01 12:00:25.000 | INFO    | \tEpoch: 2\tCE: 2.6\tKD: 0.19\tTeacher CE: 2.8\tBatchsize: 1024\t5.00 s
2026-01-01 12:00:30.000 | INFO    | \tEpoch: 3\tCE: 2.5\tKD: 0.18\tTeacher CE: 2.7\tBatchsize: 1024\t5.00 s
2026-01-01 12:00:30.500 | INFO    | Finished joint training in 17.50 seconds.
2026-01-01 12:00:30.600 | INFO    | Writing the taxonomy predictions
2026-01-01 12:00:33.000 | INFO    | Completed taxonomy predictions in 31.5 seconds.
2026-01-01 12:00:33.100 | INFO    | Completed Vamb in 32.1 seconds.
"""
# (seconds after _T0, RSS MiB); the process runs from 0 to 34 s
_KD_SAMPLES = [
    (0.5, 50),
    (1.5, 300),  # startup      0 - 2
    (2.0, 310),
    (4.5, 400),  # composition  2 - 5
    (5.2, 390),  # depths       5 - 6
    (6.0, 410),
    (7.5, 405),  # labels       6 - 8
    (8.5, 500),
    (11.9, 650),  # teacher      8 - 12
    (12.0, 600),
    (20.0, 900),
    (29.0, 950),  # training    12 - 30.5
    (31.0, 700),
    (32.9, 980),  # prediction  30.5 - 33
    (33.5, 960),  # exit        33 - 34
]
_STOCK_LOG = """\
2026-01-01 12:00:01.000 | INFO    | Starting Vamb version 5.0.4
2026-01-01 12:00:02.000 | INFO    | Loading TNF
2026-01-01 12:00:03.000 | INFO    | Loading depths
2026-01-01 12:00:03.100 | INFO    | \tProcessed abundance in 0.1 seconds.

2026-01-01 12:00:03.200 | INFO    | Predicting taxonomy with Taxometer
2026-01-01 12:00:04.000 | INFO    | Starting training the taxonomy predictor
2026-01-01 12:00:08.000 | INFO    | \tEpoch: 1\tCE: 1.59\tBatchsize: 1024
2026-01-01 12:00:11.000 | INFO    | \tEpoch: 2\tCE: 1.58\tBatchsize: 1024
2026-01-01 12:00:11.500 | INFO    | Finished training the taxonomy predictor in 7.5 seconds.
2026-01-01 12:00:11.600 | INFO    | Writing the taxonomy predictions
2026-01-01 12:00:14.000 | INFO    | Completed taxonomy predictions in 12.0 seconds.
"""
_STOCK_SAMPLES = [(1.0, 200), (2.5, 380), (3.5, 385), (5.0, 700), (9.0, 1000), (12.0, 1100), (14.2, 1050)]


def _measured(samples, end):
    return {
        "t_start": _T0,
        "t_end": _T0 + end,
        "wall_s": end,
        "ru_maxrss_mib": 990.0,
        "samples": [(_T0 + t, float(r)) for t, r in samples],
    }


def _same_stages(got, expected):
    assert list(got) == list(expected)
    for stage, (seconds, peak, n) in expected.items():
        assert got[stage]["s"] == pytest.approx(seconds, abs=1e-3), stage
        assert (got[stage]["peak_rss_mib"], got[stage]["samples"]) == (peak, n), stage


def test_stages_of_a_kd_run_from_log_and_samples():
    rec = scale_measure.summarise("kd", _KD_LOG, _measured(_KD_SAMPLES, 34.0), epochs=3)
    expected = {  # stage: (seconds, peak MiB, samples), by hand from the log and the samples above
        "startup": (2.0, 300, 2),
        "composition": (3.0, 400, 2),
        "depths": (1.0, 390, 1),
        "labels": (2.0, 410, 2),
        "teacher": (4.0, 650, 2),
        "training": (18.5, 950, 3),
        "prediction": (2.5, 980, 2),
        "exit": (1.0, 960, 1),
    }
    _same_stages(rec["stages"], expected)
    assert list(rec["stages"]) == list(scale_measure.STAGES)
    assert rec["epoch_times_s"] == pytest.approx([7.0, 5.0, 5.0])  # from 'Starting joint training'
    assert rec["first_epoch_s"] == pytest.approx(7.0) and rec["epoch_s"] == pytest.approx(5.0)
    assert rec["non_epoch_s"] == pytest.approx(34 - 3 * 5.0)
    assert rec["extrapolated_100_s"] == pytest.approx(34 + 97 * 5.0)
    assert rec["peak_rss_mib"] == 980 and rec["ru_maxrss_mib"] == 990 and rec["precision"] == "float32 (auto)"


def test_stages_of_a_stock_run_and_a_stage_without_samples():
    rec = scale_measure.summarise("stock", _STOCK_LOG, _measured(_STOCK_SAMPLES, 14.5), epochs=2)
    expected = {
        "startup": (2.0, 200, 1),
        "composition": (1.0, 380, 1),
        "depths": (0.1, None, 0),  # 3.0 - 3.1: no sample
        "labels": (0.9, 385, 1),
        "training": (7.5, 1000, 2),
        "prediction": (2.5, 1100, 1),
        "exit": (0.5, 1050, 1),
    }
    _same_stages(rec["stages"], expected)
    assert rec["epoch_times_s"] == pytest.approx([4.0, 3.0]) and rec["epoch_s"] == pytest.approx(3.0)
    assert rec["extrapolated_100_s"] == pytest.approx(14.5 + 98 * 3.0)
    # a failed run's log stops early: the stages it reached, no epoch figures
    early = scale_measure.summarise(
        "stock", "\n".join(_STOCK_LOG.splitlines()[:3]), _measured(_STOCK_SAMPLES[:3], 3.5), 2
    )
    assert list(early["stages"]) == ["startup", "composition", "depths"] and "epoch_s" not in early


def test_rss_of_a_process_tree_is_sampled(tmp_path):
    child = "import time; x = b'x' * (80 << 20); time.sleep(0.8)"
    cmd = [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"]
    got = scale_measure.run_sampled(cmd, {}, tmp_path / "out", tmp_path / "err", interval=0.05)
    assert got["returncode"] == 0 and got["wall_s"] >= 0.8
    assert max(r for _, r in got["samples"]) >= 80  # the child's memory counts
    assert all(got["t_start"] <= t <= got["t_end"] for t, _ in got["samples"])


def test_memory_shared_with_a_forked_child_counts_once(tmp_path):
    # like stock Vamb's DataLoader worker: a forked child sees its parent's 100 MiB
    code = (
        "import os, time; x = b'x' * (100 << 20); pid = os.fork(); time.sleep(1.0); "
        "os._exit(0) if pid == 0 else os.waitpid(pid, 0)"
    )
    got = scale_measure.run_sampled([sys.executable, "-c", code], {}, tmp_path / "out", tmp_path / "err", interval=0.05)
    both = [(r, r_sum) for (_, r), (r_sum, n) in zip(got["samples"], got["details"]) if n == 2]
    assert both, got["details"]
    assert max(r_sum for _, r_sum in both) >= 200  # VmRSS: both processes hold the 100 MiB
    assert 100 <= max(r for r, _ in both) < 170  # PSS: the 100 MiB once (plus two interpreters)


def test_sizes():
    assert [scale_runs.parse_size(s) for s in ("250k", "1M", "1.5M", "20000")] == [
        250_000,
        1_000_000,
        1_500_000,
        20_000,
    ]
    assert [scale_runs.size_label(n) for n in (250_000, 1_000_000, 2_000_000, 1_500_000, 300)] == [
        "250k",
        "1M",
        "2M",
        "1500k",
        "300",
    ]


def test_dry_run_lists_and_writes_nothing(tmp_path):
    work, out = tmp_path / "work", tmp_path / "scale.json"
    args = [
        sys.executable,
        "-m",
        "benchmarks.scale",
        "--sizes",
        "300,1k",
        "--samples",
        "3",
        "--work",
        str(work),
        "--out",
        str(out),
        "--dry-run",
    ]
    proc = run_cmd(args, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "300: catalogue" in proc.stdout and "1k: catalogue" in proc.stdout and "to make" in proc.stdout
    stock = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("stock: to run")]
    kd = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("kd: to run")]
    assert len(stock) == len(kd) == 2
    assert "TAXOMETER_KD_DISABLE=1 OMP_NUM_THREADS=2" in stock[0] and "torch.manual_seed(1)" in stock[0]
    assert "--teacher default --alpha 0.3 --temperature 4" in kd[0] and "-pe 2 -p 2" in kd[0]
    assert not work.exists() and not out.exists()

    # a finished run (an ok record with the same settings) is listed as done, and redone with --force
    class A:
        epochs, threads, samples, seed, data_seed = 2, 2, 3, 1, 1

    out.write_text(
        json.dumps({"runs": {"300/kd": {"status": "ok", "label": "300", "config": scale_runs.run_config(A, "kd")}}})
    )
    proc = run_cmd(args, cwd=ROOT)
    assert "kd: done" in proc.stdout and proc.stdout.count("to run") == 3
    assert run_cmd([*args, "--force"], cwd=ROOT).stdout.count("to run") == 4
    assert run_cmd([*args, "--epochs", "3"], cwd=ROOT).stdout.count("to run") == 4  # other settings: not done

    bad = run_cmd([sys.executable, "-m", "benchmarks.scale", "--methods", "stock,fast", "--dry-run"], cwd=ROOT)
    assert bad.returncode == 2 and "fast" in bad.stderr
    # --repeat: interleaved A B, B A, and the repeats beyond the first are runs of their own
    proc = run_cmd([*args, "--sizes", "300", "--repeat", "3"], cwd=ROOT)
    order = [ln.strip().split(":")[0] for ln in proc.stdout.splitlines() if ln.strip().startswith(("stock", "kd"))]
    assert order == ["stock", "kd", "kd (repeat 2)", "stock (repeat 2)", "stock (repeat 3)", "kd (repeat 3)"]
    assert "kd: done" in proc.stdout and proc.stdout.count("to run") == 5
    assert "runs/kd-r2/out" in proc.stdout and "runs/stock-r3/out" in proc.stdout


def test_ratios_are_paired_per_repeat_and_their_median():
    from benchmarks import scale

    def rec(method, rep, epoch, rss=100.0, status="ok"):
        r = {"label": "1M", "method": method, "status": status, "epoch_s": epoch, "peak_rss_mib": rss}
        return r | ({"repeat": rep} if rep > 1 else {})  # records of before --repeat have no "repeat"

    runs = {
        "1M/stock": rec("stock", 1, 100.0),
        "1M/kd": rec("kd", 1, 90.0, 70.0),
        "1M/stock/r2": rec("stock", 2, 120.0),
        "1M/kd/r2": rec("kd", 2, 84.0, 72.0),
        "1M/stock/r3": rec("stock", 3, 110.0),
        "1M/kd/r3": rec("kd", 3, 88.0, status="failed"),
    }
    r = scale.ratios(runs, "1M")
    # pair 1: 0.9, pair 2: 0.7 (pair 3 has a failed kd run: left out); the median of two is their mean
    assert [p["epoch"] for p in r["pairs"]] == [0.9, 0.7]
    assert r["epoch"] == 0.8 and r["peak_rss"] == 0.71 and r["wall"] is None
    single = scale.ratios({k: v for k, v in runs.items() if "/r" not in k}, "1M")
    assert single["epoch"] == 0.9 and "pairs" not in single
    assert scale.ratios({"1M/stock": runs["1M/stock"]}, "1M") is None


def test_busy_cores_from_proc_stat():
    # user nice system idle iowait irq softirq steal: 100 jiffies pass, 30 of them busy
    texts = iter(["cpu  100 0 50 800 50 0 0 0 0 0\n", "cpu  125 0 55 860 60 0 0 0 0 0\n"])
    got = scale_runs.busy_cores(0.0, read=lambda: next(texts))
    cores = os.cpu_count()
    assert got == pytest.approx(0.30 * cores)
    assert scale_runs.busy_cores(0.0, read=lambda: "") is None
    real = scale_runs.busy_cores(0.2)
    assert real is None or 0.0 <= real <= cores
