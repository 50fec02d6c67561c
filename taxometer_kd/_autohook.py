"""Start-up hook that adds the knowledge-distillation flags to ``vamb taxometer``.

``taxometer_kd_hook.pth`` (installed into site-packages next to vamb) imports this
module at interpreter start-up unless ``TAXOMETER_KD_DISABLE=1`` is set. It must cost
nothing noticeable: it imports no third-party module and only puts a small finder on
``sys.meta_path``. That finder reacts to exactly one module, ``vamb.__main__`` (what the
``vamb`` console script imports); when vamb's own loader has executed that module, the
finder calls :func:`taxometer_kd.vamb_integration.install` on it, which wraps the three
module-level functions involved in ``vamb taxometer``. Nothing in vamb's files changes,
so reinstalling vamb keeps the flags, and no other subcommand is touched.
"""

import sys

_TARGET = "vamb.__main__"


class _PatchingLoader:
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        try:
            from taxometer_kd.vamb_integration import install
        except Exception as exc:  # never break vamb because of us
            print(f"taxometer-kd: could not load the vamb integration: {exc!r}", file=sys.stderr)
            return
        install(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class VambMainFinder:
    """A meta-path finder that only ever answers for ``vamb.__main__``."""

    _busy = False

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname != _TARGET or cls._busy:
            return None
        cls._busy = True
        try:
            import importlib.util

            spec = importlib.util.find_spec(fullname)
        finally:
            cls._busy = False
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader)
        return spec


if not any(f is VambMainFinder or getattr(f, "__name__", "") == "VambMainFinder" for f in sys.meta_path):
    sys.meta_path.insert(0, VambMainFinder)
