"""Hook specifications of taxometer-kd, and the markers plugins use.

A plugin is a module (or object) with functions named like the specs below, marked with
:data:`hookimpl`, and announced in its distribution's metadata::

    [project.entry-points.taxometer_kd]
    my_teacher = "my_package.my_module"

Implementations are called in pluggy's order (the plugin registered last first, ``tryfirst``
before and ``trylast`` after the others); hook wrappers are refused (see
:mod:`taxometer_kd.plugins`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover - typing only
    from taxometer_kd.registry import LossFactory, TeacherSpec  # noqa: F401

PROJECT_NAME = "taxometer_kd"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_teachers(register: Callable[..., None]) -> None:
    """Register teacher models.

    Call ``register(spec, aliases=("other-name", ...))`` once per teacher, where ``spec`` is a
    :class:`taxometer_kd.TeacherSpec`: a lower-case unique ``name``, a one-line
    ``description``, the ``options`` the teacher accepts through ``--teacher-option KEY=VALUE``
    (each a :class:`taxometer_kd.TeacherOption`, with its range) and a ``build`` callable that
    turns a :class:`taxometer_kd.TeacherContext` into a :class:`taxometer_kd.TeacherModel`.
    """


@hookspec
def register_distillation_losses(register: Callable[..., None]) -> None:
    """Register distillation losses.

    Call ``register(name, factory, aliases=(...), description="...")`` once per loss.
    ``factory`` (a :data:`taxometer_kd.registry.LossFactory`) takes the temperature ``tau``
    and returns a callable ``loss(student_logits, teacher_logits) -> Tensor`` (a scalar, mean
    over the batch), with ``teacher_logits`` already detached.
    """
