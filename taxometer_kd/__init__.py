"""taxometer-kd: knowledge distillation (TaxDistill) for Vamb's Taxometer.

The public API for plugin authors lives in this one namespace::

    import taxometer_kd
    from taxometer_kd import hookimpl, TeacherSpec, TeacherOption, TeacherContext, CrossFitHeadTeacher

Every module of the package is imported at every interpreter start-up by the vamb hook
(see :mod:`taxometer_kd.vamb.hook`) only as far as this file, so nothing is imported here:
each name of :data:`__all__` is loaded from its module on first use.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not `from typing import ...`: this file must cost nothing at start-up
__version__ = "0.1.0"

_SOURCES = {
    # plugins: markers, registration
    "hookimpl": "taxometer_kd.hookspecs",
    "register_plugin": "taxometer_kd.plugins",
    "unregister_plugin": "taxometer_kd.plugins",
    "PluginError": "taxometer_kd.plugins",
    # what a plugin registers
    "TeacherSpec": "taxometer_kd.registry",
    "TeacherOption": "taxometer_kd.registry",
    "LossFactory": "taxometer_kd.registry",
    "UnknownNameError": "taxometer_kd.registry",
    "parse_bool": "taxometer_kd.registry",
    "parse_widths": "taxometer_kd.registry",
    "get_teacher": "taxometer_kd.registry",
    "get_loss": "taxometer_kd.registry",
    # the teacher contract and building blocks
    "TeacherContext": "taxometer_kd.teachers.base",
    "TeacherModel": "taxometer_kd.teachers.base",
    "TeacherOutput": "taxometer_kd.teachers.base",
    "FrozenFeatures": "taxometer_kd.teachers.heads",
    "EmbeddingHeadTeacher": "taxometer_kd.teachers.heads",
    "CrossFitHeadTeacher": "taxometer_kd.teachers.heads",
    "encode_dna": "taxometer_kd.teachers.dna",
    "CachedFeatureBuilder": "taxometer_kd.cache",
    "KDError": "taxometer_kd.errors",
}

__all__ = ["__version__", *_SOURCES]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from typing import Any

    from taxometer_kd.cache import CachedFeatureBuilder as CachedFeatureBuilder
    from taxometer_kd.errors import KDError as KDError
    from taxometer_kd.hookspecs import hookimpl as hookimpl
    from taxometer_kd.plugins import (
        PluginError as PluginError,
        register_plugin as register_plugin,
        unregister_plugin as unregister_plugin,
    )
    from taxometer_kd.registry import (
        LossFactory as LossFactory,
        TeacherOption as TeacherOption,
        TeacherSpec as TeacherSpec,
        UnknownNameError as UnknownNameError,
        get_loss as get_loss,
        get_teacher as get_teacher,
        parse_bool as parse_bool,
        parse_widths as parse_widths,
    )
    from taxometer_kd.teachers.base import (
        TeacherContext as TeacherContext,
        TeacherModel as TeacherModel,
        TeacherOutput as TeacherOutput,
    )
    from taxometer_kd.teachers.dna import encode_dna as encode_dna
    from taxometer_kd.teachers.heads import (
        CrossFitHeadTeacher as CrossFitHeadTeacher,
        EmbeddingHeadTeacher as EmbeddingHeadTeacher,
        FrozenFeatures as FrozenFeatures,
    )


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module 'taxometer_kd' has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
