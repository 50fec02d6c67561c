"""The public plugin API: one namespace, pluggy's call order, no import cycles, and a
third-party teacher (the README's example) installed through an entry point and run."""

import ast
import re
import types
from pathlib import Path

import pytest
from conftest import ROOT, run_cmd, vamb_inputs
from test_e2e import check_results_file, fasta_names

import taxometer_kd
from taxometer_kd import PluginError, plugins, registry


def test_public_names_load_lazily_from_one_namespace():
    assert set(taxometer_kd.__all__) >= {
        "hookimpl",
        "TeacherSpec",
        "TeacherOption",
        "TeacherContext",
        "TeacherModel",
        "TeacherOutput",
        "CrossFitHeadTeacher",
        "EmbeddingHeadTeacher",
        "CachedFeatureBuilder",
        "KDError",
    }
    for name in taxometer_kd.__all__:
        assert getattr(taxometer_kd, name) is not None, name
    with pytest.raises(AttributeError):
        taxometer_kd.no_such_name
    # importing the package itself imports nothing else (it is imported at every start-up)
    code = "import sys, taxometer_kd; print(sorted(m for m in sys.modules if m.startswith('taxometer_kd')))"
    out = run_cmd([str(Path(__import__("sys").executable)), "-c", code], env={"TAXOMETER_KD_DISABLE": "1"}, check=True)
    assert out.stdout.strip() == "['taxometer_kd']"


def _module_imports(path: Path, package_root: Path) -> set[str]:
    """taxometer_kd modules imported at module level (not inside functions) by ``path``."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks do not run
            continue
        for sub in ast.walk(node) if isinstance(node, (ast.Import, ast.ImportFrom, ast.Try)) else []:
            if isinstance(sub, ast.ImportFrom) and sub.module and sub.module.startswith("taxometer_kd"):
                for alias in sub.names:
                    full = f"{sub.module}.{alias.name}"
                    candidate = package_root.parent / (full.replace(".", "/") + ".py")
                    found.add(full if candidate.exists() else sub.module)
            elif isinstance(sub, ast.Import):
                found |= {a.name for a in sub.names if a.name.startswith("taxometer_kd")}
    return found


def test_no_import_cycles():
    pkg = ROOT / "taxometer_kd"
    modules = {}
    for path in pkg.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph = {m: {i for i in _module_imports(p, pkg) if i in modules and i != m} for m, p in modules.items()}
    assert graph["taxometer_kd.run"]  # the graph is not trivially empty
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for n in graph[m]:
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack, m, n]))
            if n not in state:
                visit(n, [*stack, m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])


def _recorder(name, calls, **marks):
    """A plugin object whose register_teachers records its name in ``calls[0]``."""

    def register_teachers(register):
        calls[0].append(name)

    return types.SimpleNamespace(register_teachers=taxometer_kd.hookimpl(**marks)(register_teachers))


def test_hooks_are_called_in_pluggys_order():
    ours: list[str] = []
    calls = [ours]
    for name, marks in [("plain1", {}), ("first", {"tryfirst": True}), ("last", {"trylast": True}), ("plain2", {})]:
        plugins.register_plugin(_recorder(name, calls, **marks), name=name)
    registry.teachers()
    pluggys: list[str] = []
    calls[0] = pluggys
    plugins.get_plugin_manager().hook.register_teachers(register=lambda *a, **k: None)
    assert ours == pluggys == ["first", "plain2", "plain1", "last"]


def test_hook_wrappers_are_refused_naming_the_plugin():
    class Wrapping:
        @taxometer_kd.hookimpl(wrapper=True)
        def register_teachers(self, register):
            return (yield)

    plugins.register_plugin(Wrapping(), name="wrapping-plugin")
    with pytest.raises(PluginError, match=r"'wrapping-plugin'.*hook wrapper"):
        registry.teachers()


def readme_plugin_example() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    example = [b for b in blocks if "register_teachers" in b]
    assert len(example) == 1, "the README has one plugin example"
    return example[0]


def test_readme_plugin_example_uses_a_cross_fitted_head():
    code = readme_plugin_example()
    assert "CrossFitHeadTeacher" in code and "from taxometer_kd import" in code
    assert "taxometer_kd.registry" not in code and "taxometer_kd.teacher" not in code


def test_third_party_teacher_through_an_entry_point_runs(tiny_data, tmp_path):
    """The README's plugin example, installed as a distribution with an entry point, trains."""
    (tmp_path / "readme_teacher.py").write_text(readme_plugin_example())
    dist = tmp_path / "readme_teacher-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: readme-teacher\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[taxometer_kd]\ngc = readme_teacher\n")
    env = {"PYTHONPATH": str(tmp_path)}
    listing = run_cmd(["taxometer-kd", "teachers", "-v"], env=env, check=True).stdout
    name = re.search(r'name="([a-z0-9-]+)"', readme_plugin_example()).group(1)
    assert f"{name} " in listing and "plugin: gc" in listing
    out = tmp_path / "o"
    proc = run_cmd(
        [
            "vamb",
            "taxometer",
            "--outdir",
            str(out),
            *vamb_inputs(tiny_data),
            "-pe",
            "2",
            "-pt",
            "128",
            "-p",
            "1",
            "--teacher",
            name,
        ],
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"Teacher: {name}" in (out / "log.txt").read_text()
    assert check_results_file(out / "results_teacher.tsv", fasta_names(tiny_data["fasta"])) >= 0
    check_results_file(out / "results_taxometer.tsv", fasta_names(tiny_data["fasta"]))
