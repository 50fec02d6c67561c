"""Hook specs, the plugin manager and the teacher / loss registries."""

import inspect
import textwrap
import warnings

import pytest
from conftest import run_cmd

import taxometer_kd
from taxometer_kd import PluginError, TeacherOption, TeacherSpec, UnknownNameError, hookspecs, plugins, registry


def _spec(name, **kw):
    return TeacherSpec(name=name, description=f"{name} teacher", build=lambda ctx: None, **kw)


class _Plugin:
    def __init__(self, teachers=(), losses=()):
        self._teachers = teachers
        self._losses = losses

    @taxometer_kd.hookimpl
    def register_teachers(self, register):
        for spec, aliases in self._teachers:
            register(spec, aliases=aliases)

    @taxometer_kd.hookimpl
    def register_distillation_losses(self, register):
        for name, aliases in self._losses:
            register(name, lambda tau: lambda s, t: s.sum(), aliases=aliases, description=name)


def test_hookspecs_are_typed_and_documented():
    for name in ("register_teachers", "register_distillation_losses"):
        fn = getattr(hookspecs, name)
        assert fn.__doc__ and len(fn.__doc__) > 50
        assert list(inspect.signature(fn).parameters) == ["register"]
        assert "register" in fn.__annotations__
    # the module holds only hook specs (and their marker)
    public = {n for n, v in vars(hookspecs).items() if inspect.isfunction(v)}
    assert public == {"register_teachers", "register_distillation_losses"}


def test_builtins_come_through_entry_points():
    pm = plugins.get_plugin_manager()
    names = {plugins.plugin_name(p) for p in pm.get_plugins()}
    assert {"builtin_losses", "dna_cnn"} <= names
    assert "dna-cnn" in registry.teachers().names()
    assert registry.get_teacher("cnn").name == "dna-cnn"  # alias
    assert registry.get_teacher("DNA-CNN").name == "dna-cnn"  # case-insensitive lookup
    assert registry.get_loss("hinton").name == "kl"


def test_unknown_teacher_lists_known_ones():
    with pytest.raises(UnknownNameError) as info:
        registry.get_teacher("genomeocean-9000b")
    msg = str(info.value)
    assert "genomeocean-9000b" in msg and "dna-cnn" in msg


def test_third_party_plugin_and_aliases():
    plugins.register_plugin(_Plugin(teachers=[(_spec("toy"), ("toy-alias",))]), name="toyplugin")
    reg = registry.teachers()
    assert reg.get("toy-alias").name == "toy"
    assert reg.aliases_of("toy") == ["toy-alias"]
    assert reg.origin_of("toy") == "toyplugin"


def test_duplicate_names_are_refused_naming_both_plugins():
    plugins.register_plugin(_Plugin(teachers=[(_spec("dna-cnn"), ())]), name="impostor")
    with pytest.raises(PluginError) as info:
        registry.teachers()
    assert "dna-cnn" in str(info.value) and "impostor" in str(info.value) and "dna_cnn" in str(info.value)


def test_alias_colliding_with_a_name_is_refused():
    plugins.register_plugin(_Plugin(teachers=[(_spec("other"), ("cnn",))]), name="p2")
    with pytest.raises(PluginError, match="'cnn'"):
        registry.teachers()


def test_duplicate_loss_refused():
    plugins.register_plugin(_Plugin(losses=[("kl", ())]), name="p3")
    with pytest.raises(PluginError, match="'kl'"):
        registry.losses()


@pytest.mark.parametrize("bad", ["Upper", "with space", "", "-lead"])
def test_invalid_names(bad):
    plugins.register_plugin(_Plugin(teachers=[(_spec(bad), ())]), name="p4")
    with pytest.raises(PluginError, match="invalid"):
        registry.teachers()


def test_teacher_options_are_validated():
    spec = _spec("t", options=(TeacherOption("window", int, 5), TeacherOption("mode", str, "a", choices=("a", "b"))))
    assert spec.validate_options({}) == {"window": 5, "mode": "a"}
    assert spec.validate_options({"window": "7", "mode": "b"}) == {"window": 7, "mode": "b"}
    with pytest.raises(ValueError, match=r"no option 'size'.*mode, window"):
        spec.validate_options({"size": "1"})
    with pytest.raises(ValueError, match="window='x' is invalid"):
        spec.validate_options({"window": "x"})
    with pytest.raises(ValueError, match="must be one of a, b"):
        spec.validate_options({"mode": "c"})


def _fake_distribution(root, name, entry_points):
    dist = root / f"{name}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[taxometer_kd]\n" + entry_points)


def test_broken_plugin_warns_and_is_skipped(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, "broken_plugin", "broken = no_such_module_for_taxometer_kd\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = registry.teachers().names()
    assert "dna-cnn" in names  # the others still load
    msgs = [str(w.message) for w in caught if issubclass(w.category, plugins.PluginLoadWarning)]
    assert len(msgs) == 1 and "'broken'" in msgs[0] and "no_such_module_for_taxometer_kd" in msgs[0]


def test_broken_plugin_does_not_break_the_commands(tmp_path):
    _fake_distribution(tmp_path, "broken_plugin", "broken = no_such_module_for_taxometer_kd\n")
    (tmp_path / "raising_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    _fake_distribution(tmp_path, "raising", "raising = raising_plugin\n")
    env = {"PYTHONPATH": str(tmp_path)}
    proc = run_cmd(["taxometer-kd", "teachers"], env=env)
    assert proc.returncode == 0, proc.stderr
    assert "dna-cnn" in proc.stdout
    assert "'broken'" in proc.stderr and "'raising'" in proc.stderr and "boom at import" in proc.stderr
    proc = run_cmd(["vamb", "taxometer", "--help"], env=env)
    assert proc.returncode == 0 and "--teacher" in proc.stdout


def test_taxometer_kd_teachers_lists_teachers():
    proc = run_cmd(["taxometer-kd", "teachers", "-v"], check=True)
    assert "dna-cnn (aliases: cnn)" in proc.stdout
    assert "kmer (aliases: default, kmer-profile)" in proc.stdout
    assert "--teacher-option window=" in proc.stdout


def test_plugin_written_as_a_module(tmp_path, monkeypatch):
    """A third-party plugin exactly as a user would write it, found through an entry point."""
    (tmp_path / "my_kd_plugin.py").write_text(
        textwrap.dedent(
            """
            import taxometer_kd
            from taxometer_kd import TeacherSpec

            @taxometer_kd.hookimpl
            def register_teachers(register):
                register(TeacherSpec(name="mine", description="d", build=lambda ctx: None), aliases=("my",))
            """
        )
    )
    _fake_distribution(tmp_path, "my_kd_plugin", "mine = my_kd_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registry.get_teacher("my").name == "mine"


def test_parse_widths():
    from taxometer_kd.registry import parse_widths

    assert parse_widths("512,256") == (512, 256)
    assert parse_widths(" 64 ") == (64,)
    assert parse_widths("0") == () and parse_widths("") == ()
    with pytest.raises(ValueError):
        parse_widths("-3")
    with pytest.raises(ValueError):
        parse_widths("wide")
