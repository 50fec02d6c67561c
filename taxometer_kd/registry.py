"""Plugin manager and the registries of teachers and distillation losses.

One :class:`pluggy.PluginManager` per process, built on first use. Plugins come from
the entry-point group ``taxometer_kd``; the built-in ones in ``plugins/`` are registered
through that same group. A plugin that fails to import is reported with a warning
naming it and skipped: it never brings ``vamb`` down.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, Iterable, Optional, TypeVar

import pluggy

from taxometer_kd import hookspecs

ENTRY_POINT_GROUP = "taxometer_kd"
hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT_NAME)

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class PluginError(Exception):
    """A plugin registered something invalid (bad name, duplicate, ...)."""


class UnknownNameError(KeyError):
    """An unknown teacher or loss name; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class PluginLoadWarning(UserWarning):
    """A plugin named in the ``taxometer_kd`` entry-point group failed to load."""


@dataclass(frozen=True)
class TeacherOption:
    """One ``--teacher-option KEY=VALUE`` a teacher accepts."""

    name: str
    type: Callable[[str], Any]
    default: Any
    help: str = ""
    choices: Optional[tuple[Any, ...]] = None


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


@dataclass(frozen=True)
class TeacherSpec:
    """What a plugin registers for one teacher."""

    name: str
    description: str
    build: Callable[..., Any]
    options: tuple[TeacherOption, ...] = ()
    needs_download: bool = False

    def validate_options(self, raw: dict[str, str]) -> dict[str, Any]:
        """Turn ``KEY=VALUE`` strings into typed options; unknown keys are errors."""
        known = {o.name: o for o in self.options}
        out = {o.name: o.default for o in self.options}
        for key, value in raw.items():
            if key not in known:
                listing = ", ".join(sorted(known)) or "none"
                raise ValueError(
                    f"teacher {self.name!r} has no option {key!r} (its options: {listing})"
                )
            opt = known[key]
            try:
                converted = opt.type(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"teacher {self.name!r}: option {key}={value!r} is invalid: {exc}"
                ) from None
            if opt.choices is not None and converted not in opt.choices:
                raise ValueError(
                    f"teacher {self.name!r}: option {key} must be one of "
                    f"{', '.join(map(str, opt.choices))}, not {value!r}"
                )
            out[key] = converted
        return out


@dataclass(frozen=True)
class LossSpec:
    name: str
    factory: Callable[[float], Callable[..., Any]]
    description: str = ""


T = TypeVar("T")


@dataclass
class Registry(Generic[T]):
    """Names -> objects, with aliases. Names are lower case and unique across aliases."""

    kind: str
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
                    f"{self.kind} name {n!r} is registered twice: by plugin {first!r} "
                    f"and by plugin {origin!r}"
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
        raise UnknownNameError(f"unknown {self.kind} {name!r}; known {self.kind}s: {known}")

    def get(self, name: str) -> T:
        return self._items[self.resolve(name)]

    def names(self) -> list[str]:
        return sorted(self._items)

    def aliases_of(self, name: str) -> list[str]:
        return sorted(a for a, n in self._aliases.items() if n == name)

    def origin_of(self, name: str) -> str:
        return self._origin[name]


def _plugin_name(pm: pluggy.PluginManager, plugin: object) -> str:
    return pm.get_name(plugin) or getattr(plugin, "__name__", repr(plugin))


class _State:
    pm: Optional[pluggy.PluginManager] = None
    teachers: Optional[Registry[TeacherSpec]] = None
    losses: Optional[Registry[LossSpec]] = None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, with every loadable entry-point plugin added."""
    if _State.pm is None:
        pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        pm.add_hookspecs(hookspecs)
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not break vamb
                warnings.warn(
                    f"taxometer-kd: plugin {ep.name!r} ({ep.value}) failed to load and is "
                    f"skipped: {type(exc).__name__}: {exc}",
                    PluginLoadWarning,
                    stacklevel=2,
                )
                continue
            pm.register(plugin, name=ep.name)
        _State.pm = pm
    return _State.pm


def register_plugin(plugin: object, name: Optional[str] = None) -> None:
    """Register a plugin object at run time (used by tests and by embedding programs)."""
    get_plugin_manager().register(plugin, name=name)
    _State.teachers = None
    _State.losses = None


def unregister_plugin(name: str) -> None:
    get_plugin_manager().unregister(name=name)
    _State.teachers = None
    _State.losses = None


def reset() -> None:
    """Forget the plugin manager and registries (they are rebuilt on next use)."""
    _State.pm = None
    _State.teachers = None
    _State.losses = None


def _collect(hook_name: str, kind: str, make: Callable[..., tuple[str, Any, Iterable[str]]]):
    pm = get_plugin_manager()
    reg: Registry[Any] = Registry(kind)
    hook = getattr(pm.hook, hook_name)
    for impl in hook.get_hookimpls():
        origin = _plugin_name(pm, impl.plugin)

        def register(*args: Any, aliases: Iterable[str] = (), **kwargs: Any) -> None:
            name, item, extra_aliases = make(*args, **kwargs)
            reg.add(name, item, tuple(aliases) + tuple(extra_aliases), origin=origin)

        impl.function(register=register)
    return reg


def teachers() -> Registry[TeacherSpec]:
    if _State.teachers is None:

        def make(spec: TeacherSpec) -> tuple[str, TeacherSpec, tuple[str, ...]]:
            if not isinstance(spec, TeacherSpec):
                raise PluginError(f"register_teachers expects a TeacherSpec, got {spec!r}")
            return spec.name, spec, ()

        _State.teachers = _collect("register_teachers", "teacher", make)
    return _State.teachers


def losses() -> Registry[LossSpec]:
    if _State.losses is None:

        def make(name: str, factory: Callable[[float], Any], description: str = ""):
            return name, LossSpec(name, factory, description), ()

        _State.losses = _collect("register_distillation_losses", "distillation loss", make)
    return _State.losses


def get_teacher(name: str) -> TeacherSpec:
    return teachers().get(name)


def get_loss(name: str) -> LossSpec:
    return losses().get(name)
