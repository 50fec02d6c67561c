"""The registries of teachers and distillation losses, and what plugins register in them.

A teacher plugin registers a :class:`TeacherSpec` (name, description, options with their
ranges, ``build``); a loss plugin a :data:`LossFactory` under a name. The registries are
built from the hook implementations of :mod:`taxometer_kd.plugins`, in pluggy's call order,
and rebuilt when plugins change.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from taxometer_kd import plugins
from taxometer_kd.plugins import PluginError

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

#: ``factory(tau) -> loss(student_logits, teacher_logits) -> scalar Tensor``
LossFactory = Callable[[float], Callable[..., Any]]


class UnknownNameError(KeyError):
    """An unknown teacher or loss name; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def parse_bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected a boolean (true/false), not {value!r}")


def parse_widths(value: str) -> tuple[int, ...]:
    """``"512"`` / ``"512,256"`` -> hidden-layer widths of a head; ``"0"`` or ``""``: none (linear)."""
    parts = [p for p in str(value).replace(" ", "").split(",") if p]
    widths = tuple(int(p) for p in parts)
    if any(w < 0 for w in widths):
        raise ValueError("widths must be positive")
    return tuple(w for w in widths if w > 0)


def _num(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class TeacherOption:
    """One ``--teacher-option KEY=VALUE`` a teacher accepts, with its allowed range.

    ``low``/``high`` bound a numeric value (or each element of a tuple value), inclusive
    unless ``low_open``/``high_open``; ``choices`` lists the allowed values. Floats must be
    finite. :meth:`convert` turns the string into the typed value or raises ``ValueError``
    with the allowed range in the message.
    """

    name: str
    type: Callable[[str], Any]
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe_range(self) -> str:
        """The allowed values in words: ``one of a, b``, ``[0, 1)``, ``> 0``, ``>= 1``, ``any``."""
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        if self.low is not None and self.high is not None:
            return f"{'(' if self.low_open else '['}{_num(self.low)}, {_num(self.high)}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_num(self.high)}"
        return "any"

    def _in_range(self, v: Any) -> bool:
        if isinstance(v, float) and not math.isfinite(v):
            return False
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if self.low is not None and (v <= self.low if self.low_open else v < self.low):
                return False
            if self.high is not None and (v >= self.high if self.high_open else v > self.high):
                return False
        return True

    def convert(self, value: str, teacher: str = "?") -> Any:
        try:
            converted = self.type(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"teacher {teacher!r}: option {self.name}={value!r} is invalid: {exc}") from None
        if self.choices is not None and converted not in self.choices:
            raise ValueError(
                f"teacher {teacher!r}: option {self.name} must be one of "
                f"{', '.join(map(str, self.choices))}, not {value!r}"
            )
        items = converted if isinstance(converted, tuple) else (converted,)
        if not all(self._in_range(v) for v in items):
            raise ValueError(
                f"teacher {teacher!r}: option {self.name}={value} is out of range: allowed {self.describe_range()}"
            )
        return converted


@dataclass(frozen=True)
class TeacherSpec:
    """What a plugin registers for one teacher.

    ``build(ctx: TeacherContext) -> TeacherModel`` makes the teacher for one run.
    ``preflight(options) -> None``, if given, runs before Vamb reads any input (checks that
    need no data: a checkpoint can be found, a library imports) and raises ``ValueError``,
    ``ImportError`` or ``OSError`` with a message for the user.
    """

    name: str
    description: str
    build: Callable[..., Any]
    options: tuple[TeacherOption, ...] = ()
    needs_download: bool = False
    preflight: Callable[[dict[str, Any]], None] | None = None

    def validate_options(self, raw: dict[str, str]) -> dict[str, Any]:
        """Turn ``KEY=VALUE`` strings into typed options; unknown keys and values out of
        range are errors (``ValueError``)."""
        known = {o.name: o for o in self.options}
        out = {o.name: o.default for o in self.options}
        for key, value in raw.items():
            if key not in known:
                listing = ", ".join(sorted(known)) or "none"
                raise ValueError(f"teacher {self.name!r} has no option {key!r} (its options: {listing})")
            out[key] = known[key].convert(value, self.name)
        return out


@dataclass(frozen=True)
class LossSpec:
    name: str
    factory: LossFactory
    description: str = ""


T = TypeVar("T")


@dataclass
class Registry(Generic[T]):
    """Names -> objects, with aliases. Names are lower case and unique across aliases."""

    kind: str
    plural: str = ""
    _items: dict[str, T] = field(default_factory=dict)
    _aliases: dict[str, str] = field(default_factory=dict)
    _origin: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, item: T, aliases: Iterable[str] = (), origin: str = "?") -> None:
        aliases = tuple(aliases)
        for n in (name, *aliases):
            if not isinstance(n, str) or not _NAME_RE.match(n):
                raise PluginError(
                    f"{self.kind} name {n!r} from plugin {origin!r} is invalid: names are "
                    "lower case letters, digits, '.', '_' or '-'"
                )
            if n in self._items or n in self._aliases:
                first = self._origin.get(n) or self._origin.get(self._aliases.get(n, ""), "?")
                raise PluginError(
                    f"{self.kind} name {n!r} is registered twice: by plugin {first!r} and by plugin {origin!r}"
                )
        if len(set(aliases) | {name}) != len(aliases) + 1:
            raise PluginError(f"{self.kind} {name!r} from plugin {origin!r} repeats an alias")
        self._items[name] = item
        self._origin[name] = origin
        for a in aliases:
            self._aliases[a] = name
            self._origin[a] = origin

    def resolve(self, name: str) -> str:
        key = name.strip().lower()
        if key in self._items:
            return key
        if key in self._aliases:
            return self._aliases[key]
        known = ", ".join(self.names()) or "(none registered)"
        raise UnknownNameError(f"unknown {self.kind} {name!r}; known {self.plural or self.kind + 's'}: {known}")

    def get(self, name: str) -> T:
        return self._items[self.resolve(name)]

    def names(self) -> list[str]:
        return sorted(self._items)

    def aliases_of(self, name: str) -> list[str]:
        return sorted(a for a, n in self._aliases.items() if n == name)

    def origin_of(self, name: str) -> str:
        return self._origin[name]


def _registrar(reg: Registry[Any], make: Callable[..., tuple[str, Any]], origin: str) -> Callable[..., None]:
    """The ``register`` callback handed to one plugin's hook: what it registers is marked as its."""

    def register(*args: Any, aliases: Iterable[str] = (), **kwargs: Any) -> None:
        name, item = make(*args, **kwargs)
        reg.add(name, item, aliases, origin=origin)

    return register


def _collect(hook_name: str, reg: Registry[Any], make: Callable[..., tuple[str, Any]]) -> Registry[Any]:
    for impl in plugins.hook_implementations(hook_name):
        impl.function(register=_registrar(reg, make, impl.plugin_name))
    return reg


class _Cache:
    generation = -1
    teachers: Registry[TeacherSpec] | None = None
    losses: Registry[LossSpec] | None = None


def _fresh() -> type[_Cache]:
    if _Cache.generation != plugins.generation():
        _Cache.generation = plugins.generation()
        _Cache.teachers = _Cache.losses = None
    return _Cache


def _make_teacher(spec: TeacherSpec) -> tuple[str, TeacherSpec]:
    if not isinstance(spec, TeacherSpec):
        raise PluginError(f"register_teachers expects a TeacherSpec, got {spec!r}")
    return spec.name, spec


def _make_loss(name: str, factory: LossFactory, description: str = "") -> tuple[str, LossSpec]:
    return name, LossSpec(name, factory, description)


def teachers() -> Registry[TeacherSpec]:
    cache = _fresh()
    if cache.teachers is None:
        cache.teachers = _collect("register_teachers", Registry("teacher"), _make_teacher)
    return cache.teachers


def losses() -> Registry[LossSpec]:
    cache = _fresh()
    if cache.losses is None:
        cache.losses = _collect(
            "register_distillation_losses", Registry("distillation loss", "distillation losses"), _make_loss
        )
    return cache.losses


def get_teacher(name: str) -> TeacherSpec:
    return teachers().get(name)


def get_loss(name: str) -> LossSpec:
    return losses().get(name)
