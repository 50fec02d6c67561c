"""taxometer-kd: knowledge distillation (TaxDistill) for Vamb's Taxometer.

This package is imported at every interpreter start-up by the vamb hook (see
``_autohook``), so it imports nothing here; ``hookimpl`` is loaded on first use.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "hookimpl":  # `@taxometer_kd.hookimpl` in plugins
        from taxometer_kd.registry import hookimpl

        return hookimpl
    raise AttributeError(f"module 'taxometer_kd' has no attribute {name!r}")
