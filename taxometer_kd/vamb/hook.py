"""Start-up hook that adds the knowledge-distillation flags to ``vamb taxometer``.

``taxometer_kd_hook.pth`` (installed into site-packages next to vamb) imports this
module at interpreter start-up unless ``TAXOMETER_KD_DISABLE=1`` is set. It must cost
nothing noticeable: it imports no third-party module and only puts a small finder on
``sys.meta_path``. That finder reacts to exactly one module, ``vamb.__main__``:

- imported (the ``vamb`` console script): once vamb's own loader has executed the module,
  :func:`taxometer_kd.vamb.patch.install` wraps the three functions involved in
  ``vamb taxometer``;
- run by ``python -m vamb``: :mod:`runpy` asks the loader for the module's code and runs
  it as ``__main__``, so the loader hands it a two-line shim that runs vamb's code under
  its own name, installs the wrappers, and then calls vamb's ``main()``.

Nothing in vamb's files changes, so reinstalling vamb keeps the flags, and no other
subcommand is touched.
"""

import sys

_TARGET = "vamb.__main__"
_SHIM = "from taxometer_kd.vamb.hook import run_as_main\nrun_as_main(globals())\n"


class _PatchingLoader:
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        try:
            from taxometer_kd.vamb.patch import install
        except Exception as exc:  # never break vamb because of us
            print(f"taxometer-kd: could not load the vamb integration: {exc!r}", file=sys.stderr)
            return
        install(vars(module))

    def get_code(self, fullname):
        """What :mod:`runpy` runs for ``python -m vamb``: the shim (see the module docstring)."""
        return compile(_SHIM, self._loader.get_filename(fullname), "exec")

    def __getattr__(self, name):
        return getattr(self._loader, name)


class VambMainFinder:
    """A meta-path finder that only ever answers for ``vamb.__main__``."""

    _busy = False

    @classmethod
    def _real_spec(cls):
        cls._busy = True
        try:
            import importlib.util

            return importlib.util.find_spec(_TARGET)
        finally:
            cls._busy = False

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname != _TARGET or cls._busy:
            return None
        spec = cls._real_spec()
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader)
        return spec


def run_as_main(namespace: dict) -> None:
    """Run vamb's ``__main__`` code in ``namespace`` with the flags installed (``python -m vamb``)."""
    spec = VambMainFinder._real_spec()
    code = spec.loader.get_code(_TARGET)
    name = namespace["__name__"]
    namespace["__name__"] = _TARGET  # so that vamb's `if __name__ == "__main__": main()` waits
    exec(code, namespace)
    namespace["__name__"] = name
    try:
        from taxometer_kd.vamb.patch import install

        install(namespace)
    except Exception as exc:  # never break vamb because of us
        print(f"taxometer-kd: could not load the vamb integration: {exc!r}", file=sys.stderr)
    if name == "__main__":
        namespace["main"]()


if not any(f is VambMainFinder or getattr(f, "__name__", "") == "VambMainFinder" for f in sys.meta_path):
    sys.meta_path.insert(0, VambMainFinder)
