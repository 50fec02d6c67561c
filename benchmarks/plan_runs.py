"""The methods and runs of a benchmark: :class:`Method` (a column of the report) and
:class:`RunSpec` (one ``vamb taxometer`` process; one run may give several methods, e.g. the
student and its teacher), and :func:`make_plan`: the methods in report order and the runs, seed
by seed. Part of :mod:`benchmarks.plan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks import confidence

MAIN_ALPHA, MAIN_TEMPERATURE = 0.3, 4.0
ALPHAS, TEMPERATURES = "0.3,0.5,0.8", "1,2,4,6"


def _fmt_num(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Method:
    key: str
    label: str
    kind: str  # initial | stock | kd | teacher | kdG | kdconf (kd + label confidence) | initialconf (filtered labels)
    teacher: str | None = None
    alpha: float | None = None
    temperature: float | None = None
    ablation: bool = False  # True: not in the main tables (the alpha/temperature and confidence sweeps)


def kd_method(teacher: str, alpha: float, temperature: float, main: bool) -> Method:
    if main:
        return Method(f"kd:{teacher}", f"taxometer-kd ({teacher})", "kd", teacher, alpha, temperature)
    return Method(
        f"kd:{teacher}:a{_fmt_num(alpha)}:T{_fmt_num(temperature)}",
        f"taxometer-kd ({teacher}) α={_fmt_num(alpha)} T={_fmt_num(temperature)}",
        "kd",
        teacher,
        alpha,
        temperature,
        ablation=True,
    )


INITIAL = Method("initial", "initial labels", "initial")
STOCK = Method("stock", "Taxometer (stock)", "stock")


def teacher_method(teacher: str) -> Method:
    return Method(f"teacher:{teacher}", f"teacher {teacher}", "teacher", teacher)


def g_method(teacher: str) -> Method:
    return Method(f"kdG:{teacher}", f"Taxometer_G ({teacher})", "kdG", teacher, 1.0)


def kdconf_method(teacher: str, alpha: float, temperature: float) -> Method:
    return Method(f"kdconf:{teacher}", f"taxometer-kd ({teacher}) + confidence", "kdconf", teacher, alpha, temperature)


def confidence_methods(cuts) -> list[Method]:
    """The confidence-filtered initial labels: the best cut (a main method) and the sweep."""
    return [Method(confidence.BEST, confidence.BEST_LABEL, "initialconf")] + [
        Method(confidence.method_key(c), confidence.method_label(c), "initialconf", ablation=True) for c in cuts
    ]


@dataclass
class RunSpec:
    labeller: str
    run_id: str
    seed: int
    kind: str  # stock | kd | kdG | kdconf
    outputs: tuple[tuple[str, str], ...]  # (method key, results file in the run's outdir)
    teacher: str | None = None
    alpha: float | None = None
    temperature: float | None = None

    def directory(self, work: Path) -> Path:
        return work / "runs" / self.labeller / self.run_id / f"seed{self.seed}"

    def result(self, work: Path) -> Path:
        """The run's main results file: it exists once the run has finished."""
        return self.directory(work) / "out" / self.outputs[0][1]


def make_plan(
    labellers,
    teachers,
    seeds,
    ablations,
    alphas,
    temperatures,
    ablation_labeller,
    main_alpha,
    main_temperature,
    with_g=True,
    confident=(),
    confidence_cuts=confidence.CUTS,
):
    """The methods (in report order) and the runs, seed by seed.

    ``confident``: the labellers with a confidence file; for them the main kd run of each
    teacher is also made with ``--label-confidence`` (run kind ``kdconf``), and the methods
    include the confidence-filtered initial labels (``confidence_cuts``; no run).
    """
    main_teacher = teachers[0] if teachers else None
    confident = [lab for lab in labellers if lab in confident]
    conf_methods = confidence_methods(confidence_cuts) if confident else []
    methods = [INITIAL, *conf_methods[:1], STOCK]
    for t in teachers:
        methods.append(kd_method(t, main_alpha, main_temperature, True))
        if confident:
            methods.append(kdconf_method(t, main_alpha, main_temperature))
        methods.append(teacher_method(t))
        if with_g:
            methods.append(g_method(t))
    sweep: list[tuple[float, float]] = []
    if ablations and main_teacher:
        sweep = [(a, main_temperature) for a in alphas if a != main_alpha]
        sweep += [(main_alpha, t) for t in temperatures if t != main_temperature]
        methods += [kd_method(main_teacher, a, t, False) for a, t in sweep]
    methods += conf_methods[1:]
    runs: list[RunSpec] = []
    for seed in seeds:
        for lab in labellers:
            runs.append(RunSpec(lab, "stock", seed, "stock", (("stock", "results_taxometer.tsv"),)))
            for t in teachers:
                runs.append(
                    RunSpec(
                        lab,
                        f"kd-{t}-a{_fmt_num(main_alpha)}-T{_fmt_num(main_temperature)}",
                        seed,
                        "kd",
                        ((f"kd:{t}", "results_taxometer.tsv"), (f"teacher:{t}", "results_teacher.tsv")),
                        t,
                        main_alpha,
                        main_temperature,
                    )
                )
                if lab in confident:
                    runs.append(
                        RunSpec(
                            lab,
                            f"kd-{t}-a{_fmt_num(main_alpha)}-T{_fmt_num(main_temperature)}-confidence",
                            seed,
                            "kdconf",
                            ((f"kdconf:{t}", "results_taxometer.tsv"),),
                            t,
                            main_alpha,
                            main_temperature,
                        )
                    )
                if with_g:
                    runs.append(RunSpec(lab, f"kdG-{t}", seed, "kdG", ((f"kdG:{t}", "results_taxometer.tsv"),), t, 1.0))
            if lab == ablation_labeller:
                for a, temp in sweep:
                    assert main_teacher is not None  # the sweep is empty without a teacher
                    m = kd_method(main_teacher, a, temp, False)
                    runs.append(
                        RunSpec(
                            lab,
                            f"kd-{main_teacher}-a{_fmt_num(a)}-T{_fmt_num(temp)}",
                            seed,
                            "kd",
                            ((m.key, "results_taxometer.tsv"),),
                            main_teacher,
                            a,
                            temp,
                        )
                    )
    return methods, runs


def default_ablation_labeller(labellers: list[str]) -> str:
    """The labeller of the alpha and temperature sweeps: MMseqs2 (the TaxDistill paper's) where present."""
    return "mmseqs2" if "mmseqs2" in labellers else labellers[0]
