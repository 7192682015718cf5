"""Building the plugin manager: built-in plugins, then third-party ones by entry point.

There is no module-level manager: every Appliance (and every test) builds its own with
:func:`build_plugin_manager`. Environment switches, as in pytest and tox:

- ``ROADCAM_PLUGINS=module,module`` imports and registers more plugin modules (each exposing
  ``plugin``, like the built-ins), for a bench or a test without installing a package;
- ``ROADCAM_DISABLE_PLUGINS=name,name`` blocks plugins on top of the config's ``plugins.disabled``;
- ``ROADCAM_TRACE_PLUGINS=1`` prints every hook call and result to stderr.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy

from roadcam.common.errors import ConfigError

from . import hookspecs
from .config import CoreConfig, build_config_model

#: Built-in plugins as (name, module). Each module exposes a ``plugin`` object with hook impls.
BUILTIN_PLUGINS = (
    ("detection", "roadcam.plugins.detection"),
    ("diagnostics", "roadcam.plugins.diagnostics"),
    ("fences", "roadcam.plugins.fences"),
    ("plate_capture", "roadcam.plugins.plate_capture"),
    ("speed", "roadcam.plugins.speed"),
    ("uplink", "roadcam.plugins.uplink"),
)

#: Plugins that only add commands to the ``roadcam`` command line (``roadcam_register_commands``),
#: as (name, module). They are loaded when the command line is built (``commands=True``), never
#: into a running appliance: the simulator has no place in a site's firmware.
COMMAND_PLUGINS = (
    ("sim", "roadcam.sim.commands"),
    ("provisioning", "roadcam.provisioning.commands"),
)

ENTRY_POINT_GROUP = "roadcam.plugins"


def build_plugin_manager(*, disabled: Iterable[str] = (), environ: Mapping[str, str] = os.environ,
                         load_entry_points: bool = True, commands: bool = False) -> pluggy.PluginManager:
    """A manager with the hook specs, the built-in plugins and the entry-point plugins, minus
    the disabled ones; with ``commands``, the command-line-only plugins (COMMAND_PLUGINS) too,
    for building the ``roadcam`` command line. Raises ConfigError for a disabled name no plugin
    has."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    blocked = list(disabled) + _names(environ.get("ROADCAM_DISABLE_PLUGINS", ""))
    extra = [(name, name) for name in _names(environ.get("ROADCAM_PLUGINS", ""))]
    command_plugins = tuple(plugin for plugin in COMMAND_PLUGINS if plugin[0] not in blocked) if commands else ()
    for name, module_name in BUILTIN_PLUGINS + command_plugins + tuple(extra):
        manager.register(_import_plugin(module_name), name=name)
    if load_entry_points:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    known = sorted({name for name, _ in manager.list_name_plugin()} | {name for name, _ in COMMAND_PLUGINS})
    for name in blocked:
        if name not in known:
            raise ConfigError(f"plugins.disabled: no plugin is named {name!r}; known plugins: {', '.join(known)}")
        manager.set_blocked(name)
    manager.check_pending()
    if environ.get("ROADCAM_TRACE_PLUGINS"):
        manager.trace.root.setwriter(sys.stderr.write)
        manager.enable_tracing()
    return manager


def _names(comma_separated: str) -> list[str]:
    return [name.strip() for name in comma_separated.split(",") if name.strip()]


def _import_plugin(module_name: str):
    """The ``plugin`` object of a plugin module; ConfigError naming the module if it is missing."""
    try:
        return importlib.import_module(module_name).plugin
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"plugin module {module_name!r} cannot be loaded: {exc}") from exc


def config_model(manager: pluggy.PluginManager) -> type[CoreConfig]:
    """The site-config model for the plugins this manager holds."""
    sections: dict[str, type] = {}
    for answer in manager.hook.roadcam_config_section():
        if answer is None:
            continue
        name, model = answer
        if name in sections:
            raise ConfigError(f"two plugins claim the config section {name!r}")
        sections[name] = model
    return build_config_model(sections)


@dataclass(frozen=True)
class PluginAnswer:
    """What one plugin's implementation of a hook gave: its ``answer`` (None when it had none)
    or the exception it raised (``error``). ``plugin`` names the plugin (see :func:`_plugin_label`)."""

    plugin: str
    answer: Any = None
    error: Exception | None = None


def call_each_plugin(manager: pluggy.PluginManager, hook_name: str, kwargs: Mapping[str, Any]) -> list[PluginAnswer]:
    """Call each plugin's implementation of a hook on its own, in pluggy's call order.

    pluggy runs all implementations in one call, so one that raises loses every other
    plugin's answer. Here each plugin gets its own call (through ``subset_hook_caller``, so
    tracing, argument selection and call order stay pluggy's), an exception is kept as that
    plugin's outcome, and the next plugin still runs. A ``firstresult`` hook stops at the first
    plugin that answers (not None); one that raised does not settle it. A hook wrapper wraps
    only its own plugin's implementation (roadcam ships none).
    """
    hook = getattr(manager.hook, hook_name)
    firstresult = bool(hook.spec and hook.spec.opts.get("firstresult"))
    impls = hook.get_hookimpls()  # a copy: a plugin registered during the call is not called
    implementers = {impl.plugin for impl in impls}
    outcomes = []
    for impl in reversed(impls):
        if impl.hookwrapper or impl.wrapper:
            continue
        label = _plugin_label(impl.plugin_name, impl.plugin)
        own = manager.subset_hook_caller(hook_name, remove_plugins=implementers - {impl.plugin})
        try:
            answer = own(**kwargs)
        except Exception as exc:  # the plugin's failure is its outcome, not the caller's
            outcomes.append(PluginAnswer(label, error=exc))
            continue
        if not firstresult:
            answer = answer[0] if answer else None  # pluggy drops a None answer from the list
        outcomes.append(PluginAnswer(label, answer=answer))
        if firstresult and answer is not None:
            break
    return outcomes


def _plugin_label(name: str, plugin: object) -> str:
    """How faults and logs name a plugin: its registered name, or, for an object registered
    without one (pluggy then names it by ``id()``), its class name."""
    return type(plugin).__name__ if name == str(id(plugin)) else name
