"""End-to-end `vamb taxometer --teacher` runs on the project's own synthetic data, and bad inputs."""

import gzip
import shutil
from itertools import pairwise

import pytest
from conftest import run_cmd, vamb_inputs

EPOCHS = ["-pe", "2", "-pt", "128", "-p", "1", "--seed", "5"]


def taxometer(data, outdir, *extra, cmd=("vamb", "taxometer"), inputs=None):
    inputs = inputs if inputs is not None else vamb_inputs(data)
    return run_cmd([*cmd, "--outdir", str(outdir), *inputs, *EPOCHS, *extra])


def read_results(path):
    lines = path.read_text().splitlines()
    return lines[0], [line.split("\t") for line in lines[1:]]


def fasta_names(path):
    return [line[1:].strip() for line in open(path) if line.startswith(">")]


def check_results_file(path, names):
    header, rows = read_results(path)
    assert header == "contigs\tpredictions\tscores"
    assert [r[0] for r in rows] == names  # every contig, in composition order
    n_labelled = 0
    for _contig, lineage, scores in rows:
        ranks = lineage.split(";") if lineage else []
        probs = [float(s) for s in scores.split(";")] if scores else []
        assert len(ranks) == len(probs)
        assert all(0.5 < p <= 1.0 for p in probs)
        assert all(a >= b - 1e-4 for a, b in pairwise(probs))  # a child is never more likely than its parent
        n_labelled += bool(ranks)
    return n_labelled


@pytest.fixture(scope="module")
def kd_run(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("kd") / "out"
    proc = taxometer(
        tiny_data,
        out,
        "--teacher",
        "dna-cnn",
        "--alpha",
        "0.3",
        "--temperature",
        "4",
        "--teacher-option",
        "predict-windows=2",
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_teacher_run_writes_vamb_outputs(tiny_data, kd_run):
    out, _proc = kd_run
    names = fasta_names(tiny_data["fasta"])  # all tiny contigs are >= 2000 bp
    assert check_results_file(out / "results_taxometer.tsv", names) > 0
    assert check_results_file(out / "results_teacher.tsv", names) > 0
    for f in ("predictor_model.pt", "teacher_model.pt", "log.txt", "composition.npz", "abundance.npz"):
        assert (out / f).is_file(), f
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


def test_log_names_teacher_alpha_temperature_device(kd_run):
    out, _proc = kd_run
    log = (out / "log.txt").read_text()
    for needle in ("Teacher: dna-cnn", "Alpha (hierarchical-loss weight): 0.3", "Temperature: 4.0", "Device: cpu"):
        assert needle in log, needle
    assert log.count("Teacher CE:") == 2  # one line per epoch
    assert "Training precision: " in log and "(auto)" in log


def test_explicit_command_and_soft_margin(tiny_data, tmp_path):
    proc = taxometer(
        tiny_data,
        tmp_path / "o",
        "--teacher",
        "cnn",
        "-ploss",
        "soft_margin",
        "--teacher-option",
        "predict-windows=1",
        cmd=("taxometer-kd", "taxometer"),
    )
    assert proc.returncode == 0, proc.stderr
    check_results_file(tmp_path / "o" / "results_taxometer.tsv", fasta_names(tiny_data["fasta"]))


def test_cond_softmax_is_refused_clearly(tiny_data, tmp_path):
    proc = taxometer(tiny_data, tmp_path / "o", "--teacher", "cnn", "-ploss", "cond_softmax")
    assert proc.returncode == 2
    assert "cond_softmax" in proc.stderr and "flat_softmax" in proc.stderr


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--teacher", "nosuchteacher"], "unknown teacher 'nosuchteacher'; known teachers: "),
        (["--teacher", "cnn", "--alpha", "1.5"], "--alpha must be between 0 and 1"),
        (["--teacher", "cnn", "--temperature", "0"], "--temperature must be a positive number"),
        (["--teacher", "cnn", "--teacher-option", "bogus=1"], "teacher 'dna-cnn' has no option 'bogus'"),
        (["--teacher", "cnn", "--teacher-option", "window"], "--teacher-option expects KEY=VALUE"),
        (["--teacher", "cnn", "--teacher-option", "window=big"], "option window='big' is invalid"),
        (["--alpha", "0.5"], "--alpha applies only together with --teacher NAME"),
        (["--teacher", "cnn", "--kd-loss", "nope"], "unknown distillation loss 'nope'"),
        (["--teacher", "cnn", "--kd-precision", "fp8"], "invalid choice: 'fp8'"),
        (["--kd-precision", "float32"], "--kd-precision applies only together with --teacher NAME"),
    ],
)
def test_bad_options_fail_before_anything_is_written(tiny_data, tmp_path, extra, needle):
    proc = taxometer(tiny_data, tmp_path / "o", *extra)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
    assert not (tmp_path / "o").exists()  # refused before vamb made the output directory
    assert "Traceback" not in proc.stderr


def test_composition_only_needs_fasta(tiny_data, kd_run, tmp_path):
    out, _ = kd_run
    inputs = vamb_inputs(tiny_data, composition=out / "composition.npz")
    proc = taxometer(tiny_data, tmp_path / "o", "--teacher", "cnn", inputs=inputs)
    assert proc.returncode == 2
    assert "composition.npz" in proc.stderr and "--teacher-fasta" in proc.stderr and "--fasta" in proc.stderr
    assert not (tmp_path / "o" / "results_taxometer.tsv").exists()
    # with --teacher-fasta (gzipped here) it runs
    gz = tmp_path / "contigs.fna.gz"
    with open(tiny_data["fasta"], "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    proc = taxometer(
        tiny_data,
        tmp_path / "o2",
        "--teacher",
        "cnn",
        "--teacher-fasta",
        str(gz),
        "--teacher-option",
        "predict-windows=1",
        inputs=inputs,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o2" / "results_taxometer.tsv").is_file()


def test_teacher_fasta_missing_a_contig(tiny_data, kd_run, tmp_path):
    out, _ = kd_run
    lines = open(tiny_data["fasta"]).read().split(">")[1:]
    dropped = lines[5].split("\n")[0]
    short = tmp_path / "short.fna"
    short.write_text("".join(">" + r for i, r in enumerate(lines) if i != 5))
    inputs = vamb_inputs(tiny_data, composition=out / "composition.npz")
    proc = taxometer(tiny_data, tmp_path / "o", "--teacher", "cnn", "--teacher-fasta", str(short), inputs=inputs)
    assert proc.returncode == 2
    assert f"1 contig(s) of the composition are missing from {short}: '{dropped}'" in proc.stderr
    assert not (tmp_path / "o" / "results_taxometer.tsv").exists()


def test_contig_sequences_stream_in_composition_rows(tmp_path):
    from taxometer_kd.errors import KDError
    from taxometer_kd.io import ContigSequences

    f = tmp_path / "x.fna"
    f.write_text(">a\nACGT\nAC\n>b desc\nggtt\n>short\nA\n>c\nTTTT\n")
    contigs = ContigSequences(f, ["c", "a", "b"], [4, 6, 4])
    assert sorted(contigs) == [(0, b"TTTT"), (1, b"ACGTAC"), (2, b"GGTT")]  # rows of the composition
    assert contigs.to_list() == [b"TTTT", b"ACGTAC", b"GGTT"]
    with pytest.raises(KDError, match=r"missing from .*'zz'"):
        list(ContigSequences(f, ["a", "zz"], [6, 4]))
    with pytest.raises(KDError, match="'a' is 6 bp long, but the composition says 7 bp"):
        list(ContigSequences(f, ["a"], [7]))
    bad = tmp_path / "bad.fna"
    bad.write_text("ACGT\n")
    with pytest.raises(KDError, match=r"bad\.fna"):
        list(ContigSequences(bad, ["a"], [4]))


@pytest.mark.parametrize(
    "body, needle",
    [
        ("contig\tlabel\nS0C1\tx\n", "line 1: expected the header 'contigs\\tpredictions'"),
        ("contigs\tpredictions\nS0C1\td_Bacteria\nS0C2\n", "line 3: expected 2 tab-separated columns, found 1"),
        (
            "contigs\tpredictions\nS0C1\td_B;p_X\nS0C2\td_A;p_X\n",
            "line 3: 'p_X' has the parent 'd_A' here but 'd_B' on line 2",
        ),
        (
            "contigs\tpredictions\nS0C1\td_B;p_X\nS0C2\tp_X\n",
            "line 3: 'p_X' is rank 1 of its lineage here but rank 2 on line 2",
        ),
        ("contigs\tpredictions\nS0C1\td_Bacteria\nS0C1\td_Bacteria\n", "line 3: contig 'S0C1' already given on line 2"),
        ("contigs\tpredictions\nS0C1\td_Bacteria;;s_x\n", "line 2: empty rank"),
        ("contigs\tpredictions\nS0C1\td_Bacteria\n", "contig(s) of the composition have no line: 'S0C2'"),
    ],
)
def test_malformed_taxonomy_names_file_and_line(tiny_data, tmp_path, body, needle):
    from taxometer_kd.errors import KDError
    from taxometer_kd.inputs import check_taxonomy_file

    bad = tmp_path / "tax.tsv"
    bad.write_text(body)
    with pytest.raises(KDError) as info:
        check_taxonomy_file(bad, ["S0C1", "S0C2"])
    assert str(bad) in str(info.value) and needle in str(info.value)


def test_malformed_taxonomy_on_the_command_line(tiny_data, tmp_path):
    bad = tmp_path / "tax.tsv"
    rows = open(tiny_data["taxonomy"]).read().splitlines()
    rows[4] = rows[3]
    bad.write_text("\n".join(rows) + "\n")
    inputs = vamb_inputs(tiny_data, taxonomy=bad)
    proc = taxometer(tiny_data, tmp_path / "o", "--teacher", "cnn", inputs=inputs)
    assert proc.returncode == 2
    assert f"{bad}, line 5: contig {rows[3].split(chr(9))[0]!r} already given on line 4" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_label_lines_of_unknown_contigs_are_skipped(tmp_path):
    from taxometer_kd.inputs import check_taxonomy_file

    path = tmp_path / "tax.tsv"
    path.write_text("contigs\tpredictions\nS0C1\td_Bacteria\nNOPE\td_Bacteria\nS0C2\t\n")
    assert check_taxonomy_file(path, ["S0C1", "S0C2"]) == 1


def test_taxometer_g_and_abstain_modes(tiny_data, tmp_path):
    """The Taxometer_G ablation (teacher embeddings replace TNF) and the abstain-leaf modes run."""
    proc = taxometer(
        tiny_data,
        tmp_path / "g",
        "--teacher",
        "kmer",
        "--student-input",
        "embedding",
        "--alpha",
        "1",
        "--abstain",
        "none",
    )
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "g" / "log.txt").read_text()
    assert "teacher embeddings (Taxometer_G)" in log
    names = fasta_names(tiny_data["fasta"])
    check_results_file(tmp_path / "g" / "results_taxometer.tsv", names)
    proc = taxometer(tiny_data, tmp_path / "b", "--teacher", "kmer", "--abstain", "both", "--abstain-weight", "3")
    assert proc.returncode == 0, proc.stderr
    assert "abstentions for the teacher and student (weight 3.0)" in (tmp_path / "b" / "log.txt").read_text()
    text = (tmp_path / "b" / "results_taxometer.tsv").read_text()
    assert "[unassigned]" not in text  # abstain leaves never reach the output
    check_results_file(tmp_path / "b" / "results_taxometer.tsv", names)


def test_taxometer_g_with_embeddings_narrower_than_tnf(tiny_data, tmp_path):
    """The genes teacher's features (83 columns) are narrower than TNF's 103."""
    proc = taxometer(tiny_data, tmp_path / "g", "--teacher", "genes", "--student-input", "embedding", "--alpha", "1")
    assert proc.returncode == 0, proc.stderr
    assert "teacher embeddings (Taxometer_G)" in (tmp_path / "g" / "log.txt").read_text()
    check_results_file(tmp_path / "g" / "results_taxometer.tsv", fasta_names(tiny_data["fasta"]))


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_kd_precision_flag(tiny_data, tmp_path, precision):
    proc = taxometer(tiny_data, tmp_path / "o", "--teacher", "kmer", "--kd-precision", precision)
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "o" / "log.txt").read_text()
    assert f"Training precision: {precision}\n" in log
    check_results_file(tmp_path / "o" / "results_taxometer.tsv", fasta_names(tiny_data["fasta"]))


def test_taxometer_g_needs_a_teacher_with_embeddings(tiny_data, tmp_path):
    proc = taxometer(tiny_data, tmp_path / "o", "--teacher", "dna-cnn", "--student-input", "embedding")
    assert proc.returncode == 2
    assert "dna-cnn has none" in proc.stderr


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("teacher", ["kmer", "dna-cnn"])
def test_cuda_run(tiny_data, tmp_path, teacher):
    proc = taxometer(tiny_data, tmp_path / "o", "--teacher", teacher, "--cuda")
    assert proc.returncode == 0, proc.stderr
    assert "Device: cuda" in (tmp_path / "o" / "log.txt").read_text()
    check_results_file(tmp_path / "o" / "results_taxometer.tsv", fasta_names(tiny_data["fasta"]))
