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
from typing import Iterable, Mapping

import pluggy

from . import hookspecs
from .config import CoreConfig, build_config_model
from .errors import ConfigError

#: Built-in plugins as (name, module). Each module exposes a ``plugin`` object with hook impls.
BUILTIN_PLUGINS = (
    ("detection", "plugins.detection"),
    ("diagnostics", "plugins.diagnostics"),
    ("plate_capture", "plugins.plate_capture"),
    ("uplink", "plugins.uplink"),
)

ENTRY_POINT_GROUP = "roadcam.plugins"


def build_plugin_manager(*, disabled: Iterable[str] = (), environ: Mapping[str, str] = os.environ,
                         load_entry_points: bool = True) -> pluggy.PluginManager:
    """A manager with the hook specs, the built-in plugins and the entry-point plugins, minus
    the disabled ones. Raises ConfigError for a disabled name no plugin has."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    extra = [(name, name) for name in _names(environ.get("ROADCAM_PLUGINS", ""))]
    for name, module_name in BUILTIN_PLUGINS + tuple(extra):
        manager.register(_import_plugin(module_name), name=name)
    if load_entry_points:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    blocked = list(disabled) + _names(environ.get("ROADCAM_DISABLE_PLUGINS", ""))
    known = sorted(name for name, _ in manager.list_name_plugin())
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
