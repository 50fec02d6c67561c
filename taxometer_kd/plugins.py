"""The plugin manager: one :class:`pluggy.PluginManager` per process, built on first use.

Plugins come from the entry-point group ``taxometer_kd``; the built-in ones in ``plugins/``
are registered through that same group. A plugin that fails to import is reported with a
warning naming it and skipped: it never brings ``vamb`` down.

:func:`hook_implementations` gives a hook's implementations in the order pluggy itself
calls them (the plugin registered last first; ``tryfirst`` ones before, ``trylast`` ones
after the rest), so that the registries can tell each registration's plugin apart. Hook
wrappers (``hookwrapper=True`` or ``wrapper=True``) cannot be honoured that way and are
refused with a :class:`PluginError` naming the plugin.
"""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points

import pluggy

from taxometer_kd import hookspecs

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME


class PluginError(Exception):
    """A plugin registered something invalid (bad name, duplicate, a hook wrapper, ...)."""


class PluginLoadWarning(UserWarning):
    """A plugin named in the ``taxometer_kd`` entry-point group failed to load."""


class _State:
    pm: pluggy.PluginManager | None = None
    generation = 0  # bumped whenever the set of plugins changes (registries rebuild)


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


def plugin_name(plugin: object) -> str:
    name = get_plugin_manager().get_name(plugin)
    if name:
        return name
    fallback: str = getattr(plugin, "__name__", repr(plugin))
    return fallback


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a plugin object at run time (used by tests and by embedding programs)."""
    get_plugin_manager().register(plugin, name=name)
    _State.generation += 1


def unregister_plugin(name: str) -> None:
    get_plugin_manager().unregister(name=name)
    _State.generation += 1


def reset() -> None:
    """Forget the plugin manager (rebuilt, and the registries with it, on next use)."""
    _State.pm = None
    _State.generation += 1


def generation() -> int:
    """A counter that changes whenever plugins are added, removed or reset."""
    return _State.generation


def hook_implementations(hook_name: str) -> list[pluggy.HookImpl]:
    """The implementations of ``hook_name`` in pluggy's call order; wrappers are refused."""
    hook = getattr(get_plugin_manager().hook, hook_name)
    impls = hook.get_hookimpls()
    for impl in impls:
        if impl.hookwrapper or impl.wrapper:
            raise PluginError(
                f"plugin {impl.plugin_name!r}: {hook_name} is a hook wrapper, which taxometer-kd "
                "does not support for registration hooks; implement it as a plain hookimpl"
            )
    return list(reversed(impls))  # pluggy's _multicall runs the list from its end
